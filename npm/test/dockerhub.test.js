// Docker Hub end to end, from the Node adapter, against the project's Docker Hub emulator
// (tests/dockerhub_emulator.py, shared with the Python suite).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { plan } from 'regprune';
import { Transport, crawl } from 'regprune/registry';

const EMULATOR = new URL('../../tests/dockerhub_emulator.py', import.meta.url).pathname;
let emulator;
let info;

before(async () => {
  emulator = spawn('python3', [EMULATOR, mkdtempSync(join(tmpdir(), 'regprune-hub-')), '--page-cap', '2'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await createInterface({ input: emulator.stdout })[Symbol.asyncIterator]().next();
  info = JSON.parse(first.value);
});
after(() => emulator.stdin.end());

test('a namespace makes the snapshot: every page, private repositories with the login, tag times', async () => {
  const t = new Transport(info.registry, { username: info.username, password: info.token });
  const snap = await crawl(t, { flavour: 'dockerhub', hubApi: info.hub, owner: 'hubuser' });
  assert.equal(snap.api, 'dockerHub');
  assert.equal(snap.untaggedListed, false);
  assert.deepEqual(snap.repositories.map((r) => r.name).sort(), ['hubuser/app', 'hubuser/tools', 'hubuser/web', 'hubuser/zz-last']);
  const app = snap.repositories.find((r) => r.name === 'hubuser/app');
  const img = info.images.app;
  assert.deepEqual(new Set(app.manifests.map((m) => m.digest)), new Set([img.index, img.amd64, img.arm64, img['0.9']]));
  const p = plan(snap, { op: 'purge', filter: ['hubuser/app:0\\.9'], ago: '30d' }, { now: '2026-12-07T00:00:00Z' });
  assert.deepEqual(p.actions.map((a) => a.digest), [img['0.9']]);
  assert.equal(p.reclaim.exact, false);
});

test('anonymous reads only the public repositories', async () => {
  const snap = await crawl(new Transport(info.registry), { flavour: 'dockerhub', hubApi: info.hub, owner: 'hubuser' });
  assert.ok(!snap.repositories.some((r) => r.name === 'hubuser/app'));
  assert.ok(snap.repositories.some((r) => r.name === 'hubuser/web'));
});

test('execute deletes the tags through Hub, then the manifest by digest', async () => {
  const { execute } = await import('regprune/registry');
  const t = () => new Transport(info.registry, { username: info.username, password: info.token });
  const snap = await crawl(t(), { flavour: 'dockerhub', hubApi: info.hub, repositories: ['hubuser/web'] });
  const p = plan(snap, { op: 'purge', filter: ['hubuser/web:old'], ago: '30d' }, { now: '2026-12-07T00:00:00Z' });
  assert.deepEqual(p.actions.map((a) => a.digest), [info.images.web.old]);
  const report = await execute(p, t(), { flavour: 'dockerhub', hubApi: info.hub });
  assert.deepEqual(report.outcomes.map((o) => o.outcome), ['done'], JSON.stringify(report));
  const st = await (await fetch(`${info.registry}/_emulator/state`)).json();
  assert.ok(st.deleted.includes(`hubuser/web@${info.images.web.old}`));
  assert.equal(st.tags['hubuser/web:old'], undefined);
  assert.equal(st.tags['hubuser/web:stable'], info.images.web.stable);
});
