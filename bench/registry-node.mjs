// The Node side of the registry benchmarks (bench/registry.py drives it):
//   node bench/registry-node.mjs execute <url> <plan.json> [journal.jsonl|-] [manifests-dir]
//     (REGPRUNE_RETARGET=1: the plan was made for another address of the same registry,
//     such as the tests' fault proxy in front of it)
//   node bench/registry-node.mjs crawl <url>
//   node bench/registry-node.mjs raw-delete <url> <plan.json>
// Prints one JSON line: seconds spent in the adapter (module loading excluded), requests by
// method, and the report's outcome counts or the snapshot's size.
import { readFileSync } from 'node:fs';
import { DEFAULT_CONCURRENCY, Transport, crawl, execute } from '../npm/registry.js';
import { Agent, request } from '../npm/node_modules/undici/index.js';

const [mode, url, planPath, journalArg, manifests] = process.argv.slice(2);
const journalPath = journalArg === '-' ? undefined : journalArg;
const requests = {};
// Counted at the transport, so the adapter's default HTTP client (undici) is the one timed.
const transport = new Transport(url);
const send = transport.send.bind(transport);
transport.send = (req) => {
  requests[req.method] = (requests[req.method] ?? 0) + 1;
  return send(req);
};
const started = performance.now();
let result;
if (mode === 'execute') {
  // The plan file's text, as the CLI hands it over.
  const retarget = process.env.REGPRUNE_RETARGET === '1';
  const report = await execute(readFileSync(planPath, 'utf8'), transport, { journalPath, manifests: manifests || undefined, retarget });
  const seconds = (performance.now() - started) / 1000;
  result = { seconds, requests, outcomes: report.counts, report };
} else if (mode === 'crawl') {
  const snapshot = await crawl(transport);
  const seconds = (performance.now() - started) / 1000;
  const manifests = snapshot.repositories.reduce((n, r) => n + r.manifests.length, 0);
  const tags = snapshot.repositories.reduce((n, r) => n + r.tags.length, 0);
  result = { seconds, requests, manifests, tags };
} else if (mode === 'raw-delete') {
  // Node's own ceiling: one DELETE per planned manifest through the adapter's HTTP library
  // (undici, keep-alive), at the adapter's concurrency, and nothing else (no regprune).
  const plan = JSON.parse(readFileSync(planPath, 'utf8'));
  const targets = plan.actions.filter((a) => a.digest).map((a) => `${url}/v2/${a.repository}/manifests/${a.digest}`);
  const dispatcher = new Agent({ connections: DEFAULT_CONCURRENCY });
  const begun = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < targets.length) {
      const res = await request(targets[next++], { method: 'DELETE', dispatcher });
      await res.body.dump();
      if (res.statusCode !== 202) throw new Error(`DELETE answered ${res.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: DEFAULT_CONCURRENCY }, lane));
  result = { seconds: (performance.now() - begun) / 1000, requests: { DELETE: targets.length } };
} else {
  console.error('usage: registry-node.mjs execute URL PLAN | crawl URL | raw-delete URL PLAN');
  process.exit(2);
}
console.log(JSON.stringify(result));
