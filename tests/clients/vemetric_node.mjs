// Runs @vemetric/node, unchanged but for its host, through the calls it is given:
//
//   node vemetric_node.mjs '{"host": ..., "token": ..., "calls": [["trackEvent", name, options], ...]}'
//
// The SDK reports a failed call with console.error and carries on: any such report makes this
// script exit 1, with the SDK's own message on stderr.
import { Vemetric } from "@vemetric/node";

const { host, token, calls } = JSON.parse(process.argv[2]);
const reports = [];
const report = console.error;
console.error = (...args) => {
  reports.push(args);
  report(...args);
};
const vemetric = new Vemetric({ token, host });
for (const [method, ...args] of calls) await vemetric[method](...args);
process.exit(reports.length ? 1 : 0); // not waiting for the kept-alive connection to close
