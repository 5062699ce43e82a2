// The Node side of the registry benchmarks (bench/registry.py drives it):
//   node bench/registry-node.mjs execute <url> <plan.json> [journal.jsonl|-] [manifests-dir]
//   node bench/registry-node.mjs crawl <url>
// Prints one JSON line: seconds spent in the adapter (module loading excluded), requests by
// method, and the report's outcome counts or the snapshot's size.
import { readFileSync } from 'node:fs';
import { Transport, crawl, execute } from '../npm/registry.js';

const [mode, url, planPath, journalArg, manifests] = process.argv.slice(2);
const journalPath = journalArg === '-' ? undefined : journalArg;
const requests = {};
// Counted at the transport, so the adapter's default HTTP client (node:http) is the one timed.
const transport = new Transport(url);
const send = transport.send.bind(transport);
transport.send = (req, body) => {
  requests[req.method] = (requests[req.method] ?? 0) + 1;
  return send(req, body);
};
const started = performance.now();
let result;
if (mode === 'execute') {
  // The plan file's text, as the CLI hands it over.
  const report = await execute(readFileSync(planPath, 'utf8'), transport, { journalPath, manifests });
  const seconds = (performance.now() - started) / 1000;
  result = { seconds, requests, outcomes: report.counts, report };
} else if (mode === 'crawl') {
  const snapshot = await crawl(transport);
  const seconds = (performance.now() - started) / 1000;
  const manifests = snapshot.repositories.reduce((n, r) => n + r.manifests.length, 0);
  const tags = snapshot.repositories.reduce((n, r) => n + r.tags.length, 0);
  result = { seconds, requests, manifests, tags };
} else {
  console.error('usage: registry-node.mjs execute URL PLAN | crawl URL');
  process.exit(2);
}
console.log(JSON.stringify(result));
