// Planning from WebAssembly in Node: node bench/plan-wasm.mjs SNAPSHOT REQUEST RUNS
// Each run: snapshot bytes (already in memory) -> parsed in wasm -> plan -> plan JSON string.
// Prints {"ns": [...]} or {"error": "..."} when wasm32's 4 GiB memory cannot hold the work.
import { readFileSync } from 'node:fs';
import { LoadedSnapshot } from '../npm/index.js';

const [snapshotPath, requestPath, runs] = process.argv.slice(2);
const bytes = readFileSync(snapshotPath);
const { operation, now } = JSON.parse(readFileSync(requestPath, 'utf8'));
const ns = [];
let planBytes = 0;
try {
  for (let i = 0; i < Number(runs); i++) {
    const started = process.hrtime.bigint();
    const snapshot = new LoadedSnapshot(bytes);
    const json = snapshot.planJson(operation, { now });
    ns.push(Number(process.hrtime.bigint() - started));
    planBytes = json.length;
    snapshot.free();
  }
  console.log(JSON.stringify({ ns, planBytes }));
} catch (e) {
  console.log(JSON.stringify({ ns, error: String(e?.message ?? e).slice(0, 300) }));
}
