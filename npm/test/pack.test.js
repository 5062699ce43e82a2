// The package as users get it: `npm pack`, installed into a fresh project, imported by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('npm pack output installs and works in a clean project', { timeout: 120_000 }, () => {
  const root = new URL('..', import.meta.url).pathname;
  const work = mkdtempSync(join(tmpdir(), 'regprune-pack-'));
  try {
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' });
    const [info] = JSON.parse(out);
    const files = info.files.map((f) => f.path).sort();
    assert.deepEqual(files, ['README.md', 'cli.js', 'index.d.ts', 'index.js', 'package.json', 'registry.d.ts', 'registry.js', 'storage.js', 'wasm/regprune.js', 'wasm/regprune_bg.wasm', 'widget-worker.js', 'widget.d.ts', 'widget.js']);
    const project = join(work, 'project');
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', join(work, info.filename)], { cwd: project, stdio: 'pipe' });
    const script = `
      import { plan, RegpruneError } from 'regprune';
      const p = plan({ repositories: [{ name: 'a', manifests: [{ digest: 'sha256:${'1'.repeat(64)}', size: 10 }] }] },
        { op: 'deleteUntagged' }, { now: '2026-01-01T00:00:00Z' });
      let code;
      try { plan('{', { op: 'deleteUntagged' }); } catch (e) { code = e instanceof RegpruneError && e.code; }
      console.log(JSON.stringify({ actions: p.actions.length, code }));
    `;
    const result = execFileSync('node', ['--input-type=module', '-e', script], { cwd: project, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(result), { actions: 1, code: 'invalid_json' });
    assert.ok(readdirSync(join(project, 'node_modules', 'regprune', 'wasm')).includes('regprune_bg.wasm'));
    const version = execFileSync(join(project, 'node_modules', '.bin', 'regprune'), ['--version'], { encoding: 'utf8' });
    assert.match(version, /^regprune \d+\.\d+\.\d+/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
