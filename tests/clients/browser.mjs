// Visits test pages in one headless Chromium and reports what each page sent to the gateway.
//
//   node browser.mjs CONFIG   ->   {"<page>": {"requests": [...], "console": [...]}} on stdout
//
// CONFIG (JSON): {chromium, gateway, userAgent, hostRules, timeoutMs,
//                 pages: [{name, url, referer, leaveTo}]}.
// Requests come from the DevTools protocol: the Network events (unlike puppeteer's request
// events) include CORS preflights and beacons, and say why a request failed (corsErrorStatus);
// every request to the gateway is also paused for a moment in the browser (the Fetch domain),
// which is where a beacon's body can be read: the page's Network events inline no Blob body, a
// body asked for later may be gone, and a beacon sent as the page unloads may have no Network
// event from the page at all (both seen on a busy machine).
// Each page gets a fresh browser context (no cookies or storage shared between pages); after the
// page sets `window.headwaterDone`, the driver navigates to `leaveTo` (page-leave calls fire) and
// waits until no request to the gateway is pending. Requests sent while leaving are marked
// `leaving`: Chromium sends their beacons after the page is gone and reports no answer for them
// (their preflight's answer, and the event in ClickHouse, show how they fared).

import puppeteer from "puppeteer-core";

const config = JSON.parse(process.argv[2]);
// A browser the trackers will talk from: they stay silent when navigator.webdriver is set, and
// the gateway files "HeadlessChrome" under bots, so neither shows (the trackers are unchanged).
const browser = await puppeteer.launch({
  executablePath: config.chromium,
  headless: true,
  ignoreDefaultArgs: ["--enable-automation"],
  args: [
    "--no-sandbox", // CI runs as root
    "--disable-blink-features=AutomationControlled",
    `--user-agent=${config.userAgent}`,
    `--host-resolver-rules=${config.hostRules}`,
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
try {
  const report = {};
  for (const page of config.pages) report[page.name] = await visit(page);
  process.stdout.write(JSON.stringify(report));
} finally {
  await browser.close();
}

async function visit({ url, referer, leaveTo }) {
  const started = Date.now();
  const context = await browser.createBrowserContext();
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(config.timeoutMs);
    const state = { leaving: false };
    const requests = await recordRequests(page, state);
    const messages = [];
    page.on("console", (m) => messages.push({ type: m.type(), text: m.text() }));
    page.on("pageerror", (e) => messages.push({ type: "pageerror", text: String(e) }));
    await page.goto(url, { referer }); // arriving from elsewhere, as visitors do
    await page.waitForFunction("window.headwaterDone === true");
    state.leaving = true;
    await page.goto(leaveTo);
    await settled(requests);
    const sent = [...requests.values()].filter((r) => r.url.startsWith(config.gateway));
    return { requests: sent, console: messages, ms: Date.now() - started };
  } finally {
    await context.close();
  }
}

async function recordRequests(page, state) {
  const requests = new Map();
  const cdp = await page.createCDPSession();
  // One entry per request (the Network id), made by whichever of its events comes first.
  const entry = (id, request, type) => {
    if (!requests.has(id)) {
      requests.set(id, {
        url: request.url, method: request.method, type, headers: request.headers,
        postData: null, status: null, failure: null, redirected: false, leaving: state.leaving,
      });
    }
    return requests.get(id);
  };
  cdp.on("Network.requestWillBeSent", ({ requestId, request, type, redirectResponse }) => {
    const found = entry(requestId, request, type);
    found.postData ??= request.postData ?? null;
    if (redirectResponse) found.redirected = true; // the entry keeps the first hop's URL
  });
  cdp.on("Fetch.requestPaused", ({ requestId, networkId, request, resourceType }) => {
    entry(networkId ?? requestId, request, resourceType).postData ??= body(request);
    cdp.send("Fetch.continueRequest", { requestId }).catch(() => {}); // gone with its page
  });
  cdp.on("Network.responseReceived", ({ requestId, response }) => {
    const found = requests.get(requestId);
    if (found) Object.assign(found, { status: response.status, responseHeaders: response.headers });
  });
  // Straight from the network service: also sent for beacons, whose responseReceived may not be.
  cdp.on("Network.responseReceivedExtraInfo", ({ requestId, statusCode, headers }) => {
    const found = requests.get(requestId);
    if (found && found.status === null) {
      Object.assign(found, { status: statusCode, responseHeaders: headers });
    }
  });
  cdp.on("Network.loadingFailed", ({ requestId, errorText, corsErrorStatus, blockedReason }) => {
    const found = requests.get(requestId);
    if (found) found.failure = { errorText, corsErrorStatus, blockedReason };
  });
  await cdp.send("Network.enable");
  await cdp.send("Fetch.enable", { patterns: [{ urlPattern: `${config.gateway}/*` }] });
  return requests;
}

// A paused request's body as text: inlined, or in its parts (base64).
function body(request) {
  if (request.postData !== undefined) return request.postData;
  if (!request.postDataEntries) return null;
  const parts = request.postDataEntries.map((part) => Buffer.from(part.bytes ?? "", "base64"));
  return Buffer.concat(parts).toString("utf8");
}

// Until every request to the gateway (but those sent while leaving) has an answer or a failure,
// and no new one came for a while.
async function settled(requests) {
  const deadline = Date.now() + config.timeoutMs;
  let seen = -1;
  while (Date.now() < deadline) {
    const mine = [...requests.values()].filter((r) => r.url.startsWith(config.gateway));
    const pending = mine.some((r) => r.status === null && r.failure === null && !r.leaving);
    if (!pending && mine.length === seen) return;
    seen = mine.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
