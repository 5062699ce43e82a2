// The shared command-line cases (tests/cli/cases.json) against the Node CLI. The Python suite
// runs the same cases against both CLIs and checks that they print exactly the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const { cases } = JSON.parse(readFileSync(join(root, 'tests', 'cli', 'cases.json'), 'utf8'));

for (const c of cases) {
  test(c.name, () => {
    const tmp = mkdtempSync(join(tmpdir(), 'regprune-cli-'));
    const fill = (s) => s.replaceAll('{examples}', join(root, 'examples')).replaceAll('{tmp}', tmp);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGPRUNE_')));
    env.DOCKER_CONFIG = join(tmp, 'no-docker-config');
    const done = spawnSync('node', [join(root, 'npm', 'cli.js'), ...c.argv.map(fill)], { encoding: 'utf8', env, timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const what = `${c.name}: exit ${done.status}\n${done.stdout}\n${done.stderr}`;
    assert.equal(done.status, c.exit, what);
    for (const part of c.stdout ?? []) assert.ok(done.stdout.includes(part), what);
    for (const part of c.stderr ?? []) assert.ok(done.stderr.includes(part), what);
    if (c.stdoutJson) {
      const doc = JSON.parse(done.stdout);
      for (const k of c.stdoutJson) assert.ok(k in doc, what);
    }
    for (const [path, part] of Object.entries(c.files ?? {})) assert.ok(readFileSync(fill(path), 'utf8').includes(part), what);
    assert.doesNotMatch(done.stderr, /^\s+at /m, what);
  });
}
