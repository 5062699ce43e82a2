// End to end against a real CNCF distribution registry on 127.0.0.1, from the Node adapter and
// CLI: crawl, plan, execute, the state read back through the plain API, garbage collection,
// drift, undo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plan, planDigest, InvalidOperationError } from 'regprune';
import { Transport, crawl, execute, readStorage } from 'regprune/registry';
import { RegistryServer, Client, pushFixture, ACCEPT } from './registry-server.js';
import { damage, packs, stored } from './store-util.js';

const NOW = '2026-11-27T00:00:00Z';
const cli = new URL('../cli.js', import.meta.url).pathname;

async function withRegistry(fn) {
  const server = await RegistryServer.create();
  try {
    const client = new Client(server.url);
    const d = await pushFixture(client);
    await fn(server, client, d);
  } finally {
    await server.close();
  }
}

const cases = {
  'by tag, with its signature': { op: 'deleteImage', image: 'app:v1' },
  'an index': { op: 'deleteImage', image: 'multi:1.0' },
  purge: { op: 'purge', filter: ['web:.*'], ago: '30d' },
};

for (const [name, operation] of Object.entries(cases)) {
  test(`execute leaves the predicted state (${name}); GC frees at most the plan`, { timeout: 60_000 }, () => withRegistry(async (server, client) => {
    const transport = new Transport(server.url);
    const snap = await crawl(transport);
    assert.equal(snap.untaggedListed, false);
    const p = plan(snap, operation, { now: NOW });
    assert.ok(p.actions.length > 0);
    const deleted = new Set(p.actions.flatMap((a) => (a.digest ? [a.digest] : a.manifests)).map((d) => d));
    const report = await execute(p, transport);
    assert.ok(report.outcomes.every((o) => o.outcome === 'done'), JSON.stringify(report));
    for (const repo of snap.repositories) {
      const now = await client.tags(repo.name);
      for (const m of repo.manifests) assert.equal(await client.exists(repo.name, m.digest), !deleted.has(m.digest), m.digest);
      for (const t of repo.tags) assert.equal(t.name in now, !deleted.has(t.digest), `${repo.name}:${t.name}`);
    }
    const freed = await server.garbageCollect();
    assert.ok(freed > 0 && freed <= p.reclaim.totalBytes, `${freed} <= ${p.reclaim.totalBytes}`);
  }));
}

test('a storage snapshot predicts garbage collection to the byte', { timeout: 60_000 }, () => withRegistry(async (server, client, d) => {
  await server.stop();
  const snap = await readStorage(server.storage, `127.0.0.1:${server.port}`);
  await server.start();
  assert.ok(snap.repositories.find((r) => r.name === 'app').manifests.some((m) => m.digest === d.appOld), 'the dangling manifest is visible');
  const p = plan(snap, { op: 'deleteUntagged' }, { now: NOW });
  assert.ok(p.reclaim.exact && p.actions.length === 1);
  const report = await execute(p, new Transport(server.url));
  assert.deepEqual(report.counts, { done: 1 });
  assert.equal(await server.garbageCollect(), p.reclaim.totalBytes);
  // Both clocks: the build (the config's created) and the push (the link files).
  const appV1 = snap.repositories.find((r) => r.name === 'app').manifests.find((m) => m.digest === d.appV1);
  assert.equal(appV1.createdTime, '2025-01-01T00:00:00Z');
  assert.ok(Math.abs(Date.parse(appV1.lastUpdateTime) - Date.now()) < 5 * 60_000, appV1.lastUpdateTime);
}));

test('drift is skipped, not deleted', { timeout: 60_000 }, () => withRegistry(async (server, client, d) => {
  const transport = new Transport(server.url);
  const p = plan(await crawl(transport), { op: 'deleteImage', image: 'web:v1' }, { now: NOW });
  const body = await (await fetch(`${server.url}/v2/web/manifests/${d.webV1}`, { headers: { Accept: ACCEPT } })).text();
  await fetch(`${server.url}/v2/web/manifests/hotfix`, { method: 'PUT', body, headers: { 'Content-Type': JSON.parse(body).mediaType } });
  const report = await execute(p, transport);
  assert.deepEqual(report.outcomes.map((o) => o.outcome), ['skipped']);
  assert.match(report.outcomes[0].detail, /hotfix/);
  assert.ok(await client.exists('web', d.webV1));
}));

test('the CLI snapshots, plans, executes and undoes', { timeout: 60_000 }, () => withRegistry(async (server, client, d) => {
  const dir = mkdtempSync(join(tmpdir(), 'regprune-cli-'));
  const snapFile = join(dir, 'snap.json'), planFile = join(dir, 'plan.json'), journal = join(dir, 'journal.jsonl');
  const run = (...args) => spawnSync('node', [cli, ...args], { encoding: 'utf8' });
  // The CLI runs the core in another process: run it there, and wait for it.
  let r = run('snapshot', '--registry', server.url, '-o', snapFile);
  assert.equal(r.status, 0, r.stderr);
  r = run('plan', '--snapshot', snapFile, '--now', NOW, '-o', planFile, 'delete', 'app:v1');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /This operation will delete the manifest/);
  r = run('execute', planFile, '--registry', server.url, '--yes', '--journal', journal, '--output', 'json');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).counts, { done: 2 });
  assert.equal(await client.exists('app', d.appV1), false);
  const lines = readFileSync(journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const entries = lines.filter((l) => 'manifest' in l);
  assert.deepEqual(new Set(entries.map((l) => l.digest)), new Set([d.appV1, d.appV1Sig]));
  // Each entry says when it was attempted; a later line says how and when it ended.
  for (const e of entries) {
    const end = lines.find((l) => l.outcome && l.digest === e.digest);
    assert.equal(end?.outcome, 'done', JSON.stringify(lines));
    assert.ok(lines.indexOf(end) > lines.indexOf(e));
    assert.ok(Date.parse(e.attempted) <= Date.parse(end.ended) && Date.parse(end.ended) <= Date.now() + 2000);
  }
  r = run('undo', journal, '--registry', server.url);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.ok(await client.exists('app', d.appV1));
  assert.equal((await client.tags('app')).stable, d.appV1);

  // Another address is another registry: refused, unless retargeted on purpose.
  const other = server.url.replace('127.0.0.1', 'localhost');
  const again = ['execute', planFile, '--yes', '--journal', journal, '--output', 'json', '--registry', other];
  r = run(...again);
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /made for the registry/);
  assert.ok(await client.exists('app', d.appV1));
  r = run(...again, '--retarget-registry');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).retargeted, server.url.split('://')[1]);
  assert.equal(await client.exists('app', d.appV1), false);

  // The journal now holds two runs; undo takes back the last, and only bytes that match.
  const all = readFileSync(journal, 'utf8').trim().split('\n').filter((l) => l.includes('"manifest"'));
  const runs = all.map((l) => JSON.parse(l).run);
  assert.equal(new Set(runs).size, 2);
  const edited1 = JSON.parse(all.at(-1));
  edited1.manifest = edited1.manifest.replace('}', ' }');
  const tampered = join(dir, 'tampered.jsonl');
  writeFileSync(tampered, [...all.slice(0, -1), JSON.stringify(edited1)].join('\n') + '\n' + all.at(-1).slice(0, 30));
  const undo = ['undo', '--registry', other, '--output', 'json'];
  r = run(...undo, tampered);
  assert.equal(r.status, 1, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.deepEqual(result.skippedLines.map((s) => s.torn), [false, true]);
  assert.match(result.skippedLines[0].reason, /do not hash/);
  r = run(...undo, '--dry-run', journal);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).counts, { notStarted: 2 });
  assert.equal(await client.exists('app', d.appV1), false, 'a dry run sends nothing');
  r = run('undo', journal, '--registry', server.url);
  assert.equal(r.status, 2, 'the run was elsewhere');
  r = run(...undo, journal);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.ok(await client.exists('app', d.appV1));
  assert.equal((await client.tags('app')).stable, d.appV1);
  // A plan edited on purpose and sealed again is caught by its evidence (--snapshot).
  const resealed = JSON.parse(readFileSync(planFile, 'utf8'));
  const { digest: _, ...first } = resealed.actions[0];
  resealed.actions.push({ ...first, type: 'deleteRepository', repository: 'web', manifests: [d.webV1], tags: ['v1'] });
  delete resealed.digest;
  resealed.digest = planDigest(resealed);
  writeFileSync(planFile, JSON.stringify(resealed));
  r = run('execute', planFile, '--registry', server.url, '--yes', '--snapshot', snapFile);
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /does not follow from the snapshot/);
  assert.ok(await client.exists('web', d.webV1), 'nothing was deleted');
  const edited = JSON.parse(readFileSync(planFile, 'utf8'));
  edited.actions[0].tags = [];
  writeFileSync(planFile, JSON.stringify(edited));
  r = run('execute', planFile, '--registry', server.url, '--yes');
  assert.equal(r.status, 2);
  r = run('plan', '--snapshot', snapFile, 'delete', 'app');
  assert.equal(r.status, 2, 'bad input is a refusal');
  assert.match(r.stderr, /not a valid image reference/);
}));

test('saved manifests spare a fetch per deletion and journal the same bytes', { timeout: 60_000 }, () => withRegistry(async (server, client, d) => {
  const dir = mkdtempSync(join(tmpdir(), 'regprune-saved-'));
  const saved = join(dir, 'manifests'), planFile = join(dir, 'plan.json'), journal = join(dir, 'j.jsonl');
  const r = spawnSync('node', [cli, 'plan', '--registry', server.url, '--save-manifests', saved, '--now', NOW, '-o', planFile, 'delete', 'app:v1'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const saves = stored(saved);
  const files = new Set([...saves.keys()].map((k) => k.split(':')[1]));
  assert.equal(packs(saved).length, 1, 'one pack for the crawl');
  const snap = await crawl(new Transport(server.url));
  const manifests = snap.repositories.flatMap((repo) => repo.manifests);
  const configs = new Set(manifests.filter((m) => m.config).map((m) => m.config.digest.split(':')[1]));
  assert.ok(manifests.every((m) => files.has(m.digest.split(':')[1])), 'every crawled manifest is saved');
  assert.ok([...files].every((f) => configs.has(f) || manifests.some((m) => m.digest.endsWith(f))), 'and image configs, nothing else');
  for (const [digest, bytes] of saves) assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, digest);
  const p = JSON.parse(readFileSync(planFile, 'utf8'));
  let digestGets = 0;
  const counting = (input, init) => {
    if ((init?.method ?? 'GET') === 'GET' && String(input).includes('/manifests/sha256:')) digestGets += 1;
    return fetch(input, init);
  };
  const transport = new Transport(server.url, { fetch: counting });
  // Saved bytes that do not hash to their digest (a damaged store) are not used: that one
  // manifest is fetched, and journalled with the registry's bytes.
  const good = Buffer.from(saves.get(d.appV1));
  const undamage = damage(saved, d.appV1);
  const damaged = join(dir, 'damaged.jsonl');
  const first = await execute(p, transport, { manifests: saved, journalPath: damaged });
  assert.deepEqual(first.counts, { done: 2 });
  assert.equal(digestGets, 1);
  assert.equal(readFileSync(damaged, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.digest === d.appV1 && l.manifest).manifest, good.toString('utf8'));
  assert.equal(spawnSync('node', [cli, 'undo', damaged, '--registry', server.url], { encoding: 'utf8' }).status, 0);
  undamage();
  digestGets = 0;
  const report = await execute(p, transport, { manifests: saved, journalPath: journal });
  assert.deepEqual(report.counts, { done: 2 });
  assert.equal(digestGets, 0, 'no manifest fetched for the journal');
  assert.equal(await client.exists('app', d.appV1), false);
  const lines = readFileSync(journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const v1 = lines.find((l) => l.digest === d.appV1 && l.manifest);
  assert.equal(v1.manifest, good.toString('utf8'));
  assert.deepEqual(v1.tags.sort(), ['stable', 'v1']);
}));

test('plain HTTP is refused off loopback', () => {
  assert.throws(() => new Transport('http://registry.example.com'), InvalidOperationError);
  assert.ok(new Transport('http://127.0.0.1:5000'));
  assert.ok(new Transport('http://registry.example.com', { insecure: true }));
});

test('a nightly re-crawl with the store fetches only what is new (issue 30)', { timeout: 60_000 }, () => withRegistry(async (server, client) => {
  const store = join(mkdtempSync(join(tmpdir(), 'regprune-store-')), 'store');
  const crawlCounting = async () => {
    const kinds = {};
    const lines = [];
    const counting = (input, init) => {
      const method = init?.method ?? 'GET';
      const url = String(input);
      const kind = method === 'GET' && url.includes('/manifests/sha256:') ? 'manifest' : method === 'GET' && url.includes('/blobs/') ? 'config' : 'listing';
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      return fetch(input, init);
    };
    const snap = await crawl(new Transport(server.url, { fetch: counting }), { manifests: store, saveManifests: store, onStatus: (l) => lines.push(l) });
    return { snap, kinds, lines };
  };
  const first = await crawlCounting();
  assert.ok(first.lines.some((l) => l.startsWith('crawl: listing')), first.lines.slice(0, 3).join('\n'));
  assert.match(first.lines.at(-1), /^crawl: manifests (\d+)\/\1 \(\1 fetched, 0 reused, 0 to fetch\)$/);
  const second = await crawlCounting();
  assert.deepEqual(second.snap, first.snap);
  assert.equal(second.kinds.manifest, undefined, JSON.stringify(second.kinds));
  assert.equal(second.kinds.config, undefined, JSON.stringify(second.kinds));
  // Listings are always fresh: the same ones, give or take the referrers questions sent before
  // the registry's first answer says it has no referrers API (requests in flight).
  assert.ok(Math.abs(second.kinds.listing - first.kinds.listing) <= 8, JSON.stringify([first.kinds, second.kinds]));
  assert.match(second.lines.at(-1), /^crawl: manifests (\d+)\/\1 \(0 fetched, \1 reused, 0 to fetch\)$/);
  await client.image('app', ['nightly'], ['a new layer'.repeat(40)], '2026-12-01T00:00:00Z');
  const third = await crawlCounting();
  assert.deepEqual([third.kinds.manifest, third.kinds.config], [1, 1], JSON.stringify(third.kinds));
}));

test('each deletion is synced to the journal before it is sent; outcome lines wait for the next sync', { timeout: 60_000 }, () => withRegistry(async (server, client) => {
  for (let i = 0; i < 12; i += 1) await client.image('many', [`t${i}`], [`layer ${i}`.repeat(40)], '2020-01-01T00:00:00Z');
  const p = plan(await crawl(new Transport(server.url)), { op: 'purge', filter: ['many:.*'], ago: '1d' }, { now: NOW });
  const journal = join(mkdtempSync(join(tmpdir(), 'regprune-sync-')), 'j.jsonl');
  const fs = process.getBuiltinModule('node:fs');
  const realSync = fs.fsyncSync;
  const synced = [];
  const unjournaled = [];
  let deletes = 0;
  const witness = (input, init) => {
    if (init?.method === 'DELETE') {
      deletes += 1;
      const digest = String(input).split('/').pop();
      // What a crash at this moment would leave: the file up to the last fsync.
      const onDisk = synced.length ? readFileSync(journal).subarray(0, synced.at(-1)).toString() : '';
      if (!onDisk.includes(`"digest":"${digest}"`)) unjournaled.push(digest);
    }
    return fetch(input, init);
  };
  fs.fsyncSync = (fd) => {
    realSync(fd);
    synced.push(fs.fstatSync(fd).size);
  };
  let report;
  try {
    report = await execute(p, new Transport(server.url, { fetch: witness }), { journalPath: journal });
  } finally {
    fs.fsyncSync = realSync;
  }
  assert.deepEqual(report.counts, { done: 12 });
  assert.equal(deletes, 12);
  assert.deepEqual(unjournaled, []);
  // One sync per batch of entries and one at the end: outcome lines alone never sync.
  assert.ok(synced.length <= deletes + 1, `${synced.length} fsyncs for ${deletes} deletions`);
  const lines = readFileSync(journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(synced.at(-1), readFileSync(journal).length, 'the whole journal synced at the end');
  assert.equal(lines.filter((l) => l.outcome === 'done').length, 12);
}));
