// GitHub Container Registry end to end, from the Node adapter, against the project's GHCR
// emulator (tests/ghcr_emulator.py, shared with the Python suite: the GitHub Packages REST API
// and ghcr.io's registry API in front of a real docker-registry, enforcing GHCR's rules).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { plan, AuthenticationFailedError } from 'regprune';
import { Transport, crawl } from 'regprune/registry';

const EMULATOR = new URL('../../tests/ghcr_emulator.py', import.meta.url).pathname;
const NOW = '2026-12-07T00:00:00Z';
let emulator;
let info;

before(async () => {
  emulator = spawn('python3', [EMULATOR, mkdtempSync(join(tmpdir(), 'regprune-ghcr-'))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await createInterface({ input: emulator.stdout })[Symbol.asyncIterator]().next();
  info = JSON.parse(first.value);
});
after(() => emulator.stdin.end());

const state = async () => (await fetch(`${info.registry}/_emulator/state`)).json();
const transport = (password = info.token) => new Transport(info.registry, { username: 'token', password });
const snapshot = (options) => crawl(transport(), { flavour: 'ghcr', githubApi: info.api, ...options });

test('the packages of an organisation make the snapshot, one manifest GET per version', async () => {
  const before_ = await state();
  const snap = await snapshot({ owner: info.org });
  assert.equal(snap.api, 'ghcr');
  assert.equal(snap.untaggedListed, true);
  const repos = Object.fromEntries(snap.repositories.map((r) => [r.name, r]));
  assert.deepEqual(Object.keys(repos).sort(), ['octo-org/app', 'octo-org/filler-0', 'octo-org/filler-1', 'octo-org/filler-2', 'octo-org/solo', 'octo-org/team/tool']);
  const ids = Object.fromEntries(before_.versions.filter((v) => v.package === 'octo-org/app').map((v) => [v.digest, v.id]));
  assert.deepEqual(Object.fromEntries(repos['octo-org/app'].manifests.map((m) => [m.digest, m.versionId])), ids);
  assert.equal(repos['octo-org/team/tool'].visibility, 'public');
  const after_ = await state();
  for (const v of after_.versions.filter((x) => x.package.startsWith('octo-org/'))) {
    assert.equal(v.downloads, before_.versions.find((o) => o.id === v.id).downloads + 1, JSON.stringify(v));
  }
});

test('delete untagged keeps the platforms, attestation and signature of a tagged index', async () => {
  const snap = await snapshot({ owner: info.org, repositories: ['octo-org/app'] });
  const p = plan(snap, { op: 'deleteUntagged' }, { now: NOW });
  const img = info.images.app;
  assert.deepEqual(p.actions.map((a) => a.digest), [img.dangling]);
  assert.deepEqual(Object.fromEntries(p.retained.map((r) => [r.digest, r.reason.code])), {
    [img.amd64]: 'childOfSurvivingIndex',
    [img.arm64]: 'childOfSurvivingIndex',
    [img.attestation]: 'childOfSurvivingIndex',
    [img.signature]: 'referrerOfSurvivingSubject',
  });
});

test('the last tagged version of a package stays, as GHCR requires', async () => {
  const snap = await snapshot({ owner: info.org, repositories: ['octo-org/solo'] });
  const p = plan(snap, { op: 'purge', filter: ['.*:.*'], ago: '1d' }, { now: NOW });
  assert.deepEqual(p.actions, []);
  assert.equal(p.retained.find((r) => r.digest === info.images.solo.only).reason.code, 'registryRefuses');
});

test('a token GitHub refuses is named, never shown', async () => {
  await assert.rejects(crawl(transport('ghp_wrong'), { flavour: 'ghcr', githubApi: info.api, owner: info.org }), (e) => {
    assert.ok(e instanceof AuthenticationFailedError, `${e}`);
    assert.match(e.message, /read:packages/);
    assert.doesNotMatch(e.message, /ghp_wrong/);
    return true;
  });
});

test('execute deletes versions by id, keeps the multi-arch image whole, and undo restores them', async () => {
  const { execute, undo } = await import('regprune/registry');
  const snap = await snapshot({ owner: info.org, repositories: ['octo-org/app'] });
  const p = plan(snap, { op: 'deleteUntagged' }, { now: NOW });
  const journalPath = join(mkdtempSync(join(tmpdir(), 'regprune-ghcr-j-')), 'journal.jsonl');
  const report = await execute(p, transport(), { journalPath, flavour: 'ghcr', githubApi: info.api });
  assert.deepEqual(report.outcomes.map((o) => o.outcome), ['done'], JSON.stringify(report));
  const img = info.images.app;
  const version = async (d) => (await state()).versions.find((v) => v.digest === d);
  assert.equal((await version(img.dangling)).deleted, true);
  for (const k of ['index', 'amd64', 'arm64', 'attestation', 'signature']) assert.equal((await version(img[k])).deleted, false, k);
  const back = await undo(journalPath, transport());
  assert.deepEqual(back.results.map((r) => r.outcome), ['restored'], JSON.stringify(back));
  assert.equal((await version(img.dangling)).deleted, false);
});

test('untag moves the tag to a placeholder version and deletes that version', async () => {
  const { execute } = await import('regprune/registry');
  const snap = await snapshot({ owner: info.org, repositories: ['octo-org/app'] });
  const tags = (await state()).versions.find((v) => v.digest === info.images.app.index).tags;
  const tag = tags.includes('latest') ? 'latest' : tags[0];
  const p = plan(snap, { op: 'untag', image: `octo-org/app:${tag}` }, { now: NOW });
  assert.equal(p.warnings.find((w) => w.code === 'untagPlaceholder').message.startsWith('GHCR deletes versions'), true);
  const report = await execute(p, transport(), { flavour: 'ghcr', githubApi: info.api });
  assert.equal(report.outcomes[0].outcome, 'done', JSON.stringify(report));
  const index = (await state()).versions.find((v) => v.digest === info.images.app.index);
  assert.deepEqual(index.tags, tags.filter((t) => t !== tag));
});

test('a second crawl handed the saved manifests downloads nothing', async () => {
  const store = join(mkdtempSync(join(tmpdir(), 'regprune-ghcr-m-')), 'manifests');
  const first = await snapshot({ owner: info.org, repositories: ['octo-org/app'], saveManifests: store });
  const downloads = async () => Object.fromEntries((await state()).versions.map((v) => [v.id, v.downloads]));
  const before = await downloads();
  const again = await snapshot({ owner: info.org, repositories: ['octo-org/app'], manifests: store });
  assert.deepEqual(await downloads(), before);
  assert.deepEqual(again, first);
});
