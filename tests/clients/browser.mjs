// Visits test pages in one headless Chromium and reports what each page sent to the gateway.
//
//   node browser.mjs CONFIG   ->   {"<page>": {"requests": [...], "console": [...]}} on stdout
//
// CONFIG (JSON): {chromium, gateway, userAgent, hostRules, timeoutMs,
//                 pages: [{name, url, referer, leaveTo}]}.
// Requests come from the DevTools protocol's Network events, which (unlike puppeteer's request
// events) include CORS preflights and beacons, and say why a request failed (corsErrorStatus).
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
  cdp.on("Network.requestWillBeSent", ({ requestId, request, type }) => {
    // A redirect reuses the id: keep the first hop, it is what the tracker asked for.
    if (requests.has(requestId)) return requests.get(requestId).redirected = true;
    requests.set(requestId, {
      url: request.url, method: request.method, type, headers: request.headers,
      postData: request.postData ?? null, status: null, failure: null, redirected: false,
      leaving: state.leaving,
    });
    if (request.hasPostData && request.postData === undefined) {
      // A beacon's body (a Blob) is not inlined: ask for it while the request is in flight.
      cdp.send("Network.getRequestPostData", { requestId }).then(
        ({ postData }) => (requests.get(requestId).postData = postData),
        () => {},
      );
    }
  });
  cdp.on("Network.responseReceived", ({ requestId, response }) => {
    const entry = requests.get(requestId);
    if (entry) Object.assign(entry, { status: response.status, responseHeaders: response.headers });
  });
  // Straight from the network service: also sent for beacons, whose responseReceived may not be.
  cdp.on("Network.responseReceivedExtraInfo", ({ requestId, statusCode, headers }) => {
    const entry = requests.get(requestId);
    if (entry && entry.status === null) {
      Object.assign(entry, { status: statusCode, responseHeaders: headers });
    }
  });
  cdp.on("Network.loadingFailed", ({ requestId, errorText, corsErrorStatus, blockedReason }) => {
    const entry = requests.get(requestId);
    if (entry) entry.failure = { errorText, corsErrorStatus, blockedReason };
  });
  await cdp.send("Network.enable");
  return requests;
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
