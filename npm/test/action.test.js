// The GitHub Action as a runner starts it: action.yml and its built files copied to a
// directory of their own (as the runner checks out `uses: owner/regprune@v1`), `node <main>`
// with the environment a runner sets (INPUT_* with the defaults of action.yml, GITHUB_OUTPUT,
// GITHUB_STEP_SUMMARY, GITHUB_WORKSPACE as the working directory) and nothing else: no
// node_modules, no Rust. Against a real distribution registry on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wasm from '../wasm/regprune.js';
import { RegistryServer, Client, pushFixture } from './registry-server.js';
import 'regprune'; // initializes the WebAssembly module used for actionInputs

const ROOT = new URL('../..', import.meta.url).pathname;
const NOW = '2026-11-27T00:00:00Z';

/** The inputs, outputs and runs of action.yml (a restricted reading of our own file). */
function actionYml(text) {
  const inputs = {};
  const outputs = [];
  let section;
  let current;
  const runs = {};
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) {
      section = line.replace(/:.*/, '');
      continue;
    }
    const key = line.match(/^ {2}([\w-]+):\s*(.*)$/);
    if (key) {
      current = key[1];
      if (section === 'inputs') inputs[current] = {};
      if (section === 'outputs') outputs.push(current);
      if (section === 'runs') runs[current] = key[2].replace(/^'(.*)'$/, '$1');
      continue;
    }
    const def = line.match(/^ {4}default:\s*'(.*)'$/);
    if (def && section === 'inputs') inputs[current].default = def[1].replace(/''/g, "'");
  }
  return { inputs, outputs, runs };
}

const yml = actionYml(readFileSync(join(ROOT, 'action.yml'), 'utf8'));

/** Reads a GITHUB_OUTPUT file (`name<<DELIM` heredocs, as the toolkit writes them). */
function readOutputs(text) {
  const out = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/^([\w-]+)<<(.+)$/);
    if (!m) continue;
    const value = [];
    for (i++; lines[i] !== m[2]; i++) value.push(lines[i]);
    out[m[1]] = value.join('\n');
  }
  return out;
}

/** Runs the action as the runner would: a fresh step (its own output and summary files). */
function runAction(actionDir, workspace, inputs) {
  const step = mkdtempSync(join(tmpdir(), 'regprune-step-'));
  const env = {
    PATH: '/usr/bin:/bin', // no cargo, no rustc, no npm tools
    HOME: step,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: workspace,
    GITHUB_OUTPUT: join(step, 'output'),
    GITHUB_STEP_SUMMARY: join(step, 'summary'),
    RUNNER_TEMP: step,
  };
  writeFileSync(env.GITHUB_OUTPUT, '');
  writeFileSync(env.GITHUB_STEP_SUMMARY, '');
  const given = { ...Object.fromEntries(Object.entries(yml.inputs).filter(([, v]) => v.default !== undefined).map(([k, v]) => [k, v.default])), ...inputs };
  given['github-token'] = given['github-token'].replace('${{ github.token }}', 'ghs_fakeJobToken');
  for (const [name, value] of Object.entries(given)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  const main = join(actionDir, yml.runs.main);
  const r = spawnSync(process.execPath, [main], { cwd: workspace, env, encoding: 'utf8', timeout: 120_000 });
  const result = {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    outputs: readOutputs(readFileSync(env.GITHUB_OUTPUT, 'utf8')),
    summary: readFileSync(env.GITHUB_STEP_SUMMARY, 'utf8'),
    annotations: r.stdout.split('\n').filter((l) => /^::(error|warning|notice)[ :]/.test(l)),
  };
  rmSync(step, { recursive: true, force: true });
  return result;
}

async function withSetup(fn) {
  const server = await RegistryServer.create();
  const actionDir = mkdtempSync(join(tmpdir(), 'regprune-action-'));
  const workspace = mkdtempSync(join(tmpdir(), 'regprune-workspace-'));
  try {
    cpSync(join(ROOT, 'action.yml'), join(actionDir, 'action.yml'));
    cpSync(join(ROOT, 'action', 'dist'), join(actionDir, 'action', 'dist'), { recursive: true });
    const client = new Client(server.url);
    const d = await pushFixture(client);
    await fn({ server, client, d, actionDir, workspace });
  } finally {
    await server.close();
    rmSync(actionDir, { recursive: true, force: true });
    rmSync(workspace, { recursive: true, force: true });
  }
}

test('action.yml declares exactly the inputs the core reads, runs on node24 from built files', () => {
  assert.deepEqual(Object.keys(yml.inputs), wasm.actionInputs());
  assert.deepEqual(yml.outputs, ['deletions', 'bytes', 'plan-digest', 'plan-path', 'done', 'failed', 'skipped']);
  assert.equal(yml.runs.using, 'node24');
  assert.ok(existsSync(join(ROOT, yml.runs.main)), `${yml.runs.main} is built (make action)`);
});

test('plan, a refused execute, then the approved plan executed: outputs, summary, annotations', { timeout: 180_000 }, () => withSetup(async ({ server, client, d, actionDir, workspace }) => {
  const request = { registry: server.url, filter: 'web:.*\napp:^v1$', 'older-than': '30d', now: NOW, 'plan-file': 'plan.json' };
  const planned = runAction(actionDir, workspace, { ...request, mode: 'plan' });
  assert.equal(planned.status, 0, planned.stdout + planned.stderr);
  const planFile = join(workspace, 'plan.json');
  const plan = JSON.parse(readFileSync(planFile, 'utf8'));
  assert.ok(plan.actions.length >= 2, 'web:v1 and app:v1 are planned');
  assert.equal(planned.outputs.deletions, String(plan.actions.length));
  assert.equal(planned.outputs.bytes, String(plan.reclaim.totalBytes));
  assert.equal(planned.outputs['plan-digest'], plan.digest);
  assert.equal(planned.outputs['plan-path'], 'plan.json');
  assert.equal(planned.outputs.done, '0');
  assert.match(planned.summary, new RegExp(`^## regprune plan: ${plan.actions.length} action\\(s\\)`));
  assert.ok(planned.summary.includes(`Plan \`${plan.digest}\``));
  for (const row of plan.reclaim.byRepository) assert.ok(planned.summary.includes(`| ${row.repository} | ${row.manifests} |`), row.repository);
  const codes = new Set(plan.warnings.map((w) => w.code));
  assert.equal(planned.annotations.filter((l) => l.startsWith('::warning')).length, Math.min(codes.size, 10));
  assert.ok(await client.exists('web', d.webV1), 'mode plan deletes nothing');

  // The plan as the approval saw it, but another digest given: refused before any request.
  const wrong = `sha256:${'0'.repeat(64)}`;
  const refused = runAction(actionDir, workspace, { registry: server.url, mode: 'execute', 'plan-file': 'plan.json', 'plan-digest': wrong });
  assert.equal(refused.status, 1);
  assert.ok(refused.annotations.some((l) => l.startsWith('::error') && l.includes(wrong)), refused.stdout);
  assert.ok(await client.exists('web', d.webV1), 'a refused plan deletes nothing');

  // An edited plan file is refused even with its claimed digest.
  const edited = { ...plan, actions: plan.actions.slice(0, 1) };
  writeFileSync(join(workspace, 'edited.json'), JSON.stringify(edited));
  const tampered = runAction(actionDir, workspace, { registry: server.url, mode: 'execute', 'plan-file': 'edited.json', 'plan-digest': plan.digest });
  assert.equal(tampered.status, 1);
  assert.ok(tampered.annotations.some((l) => l.startsWith('::error') && /edited/.test(l)), tampered.stdout);

  const executed = runAction(actionDir, workspace, { registry: server.url, mode: 'execute', 'plan-file': 'plan.json', 'plan-digest': plan.digest });
  assert.equal(executed.status, 0, executed.stdout + executed.stderr);
  assert.equal(executed.outputs.done, String(plan.actions.length));
  assert.equal(executed.outputs.failed, '0');
  assert.match(executed.summary, /^## regprune execution/);
  assert.ok(executed.summary.includes('Complete: every action is done'));
  assert.equal(await client.exists('web', d.webV1), false, 'web:v1 deleted');
  assert.equal(await client.exists('app', d.appV2), true, 'app:v2 stays');
  assert.ok(existsSync(join(workspace, 'regprune-journal.jsonl')), 'the journal is written in the workspace');

  // Run again: everything is gone already; the drift is reported, nothing fails.
  const again = runAction(actionDir, workspace, { registry: server.url, mode: 'execute', 'plan-file': 'plan.json', 'plan-digest': plan.digest });
  assert.equal(again.outputs.failed, '0', again.stdout);
}));

test('prune refuses a plan over max-deletions; dry-run deletes nothing; bad inputs are named', { timeout: 120_000 }, () => withSetup(async ({ server, client, d, actionDir, workspace }) => {
  const request = { registry: server.url, filter: 'web:.*', 'older-than': '30d', now: NOW, mode: 'prune' };
  const over = runAction(actionDir, workspace, { ...request, 'max-deletions': '0' });
  assert.equal(over.status, 1);
  assert.ok(over.annotations.some((l) => l.startsWith('::error') && l.includes('max-deletions')), over.stdout);
  assert.ok(existsSync(join(workspace, 'regprune-plan.json')), 'the refused plan is written for review');
  assert.equal(over.outputs.deletions, '1');
  assert.ok(await client.exists('web', d.webV1));

  const dry = runAction(actionDir, workspace, { ...request, 'dry-run': 'true' });
  assert.equal(dry.status, 0, dry.stdout);
  assert.equal(dry.outputs.done, '0');
  assert.ok(await client.exists('web', d.webV1), 'dry-run deletes nothing');

  for (const [inputs, name] of [[{ keep: 'x' }, 'keep'], [{ 'dry-run': 'yes' }, 'dry-run'], [{ 'older-than': 'soon' }, 'older-than'], [{ mode: 'delete' }, 'mode']]) {
    const bad = runAction(actionDir, workspace, { ...request, ...inputs });
    assert.equal(bad.status, 1, name);
    assert.ok(bad.annotations.some((l) => l.startsWith('::error') && l.includes(`\`${name}\``)), `${name}: ${bad.stdout}`);
  }

  // A password given as a plain input is masked before anything else is printed.
  const masked = runAction(actionDir, workspace, { ...request, 'dry-run': 'true', username: 'u', password: 's3cret-value' });
  assert.equal(masked.stdout.split('\n')[0], '::add-mask::s3cret-value');
  assert.equal(masked.stdout.split('s3cret-value').length, 2, 'the secret appears only in the mask command');

  const pruned = runAction(actionDir, workspace, request);
  assert.equal(pruned.status, 0, pruned.stdout);
  assert.equal(pruned.outputs.done, '1');
  assert.equal(await client.exists('web', d.webV1), false);
}));
