// Type-checked with `tsc --noEmit` (make lint-npm): the README's examples must compile.
import { plan, loadSnapshot, renderText, RegpruneError, type Operation, type Plan } from 'regprune';
import { Transport, crawl, execute } from 'regprune/registry';

const op: Operation = { op: 'acrPurge', command: "acr purge --filter 'app:.*' --ago 2d" };
const snapshot = loadSnapshot('{"repositories": []}');
const p: Plan = plan(snapshot, op, { now: new Date('2026-11-27T00:00:00Z'), pinned: [] });
const bytes: number = p.reclaim.totalBytes;
const text: string = renderText(p);
try {
  snapshot.plan({ op: 'deleteImage', image: 'web' });
} catch (e) {
  if (e instanceof RegpruneError) {
    const code: string = e.code;
    console.log(code, e.path, bytes, text);
  }
}
snapshot.free();

async function workflow(): Promise<number> {
  const transport = new Transport('http://127.0.0.1:5000');
  const snap = await crawl(transport, { concurrency: 8 });
  const report = await execute(plan(snap, { op: 'deleteUntagged' }), transport, { journalPath: 'journal.jsonl' });
  return report.counts.done ?? 0;
}
void workflow;
