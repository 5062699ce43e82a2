// The package as users get it: the tarball `make dist` packed (dist/regprune-<version>.tgz),
// installed into a fresh project with no Rust toolchain on PATH, imported by name, its CLI run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('the npm tarball installs and works in a clean project without Rust', { timeout: 120_000 }, () => {
  const root = new URL('..', import.meta.url).pathname;
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const tarball = join(root, '..', 'dist', `regprune-${version}.tgz`);
  assert.ok(existsSync(tarball), `${tarball}: run \`make dist\``);
  const work = mkdtempSync(join(tmpdir(), 'regprune-pack-'));
  // Node and npm, nothing from ~/.cargo: the package must not need a Rust toolchain.
  const env = { ...process.env, PATH: [join(process.execPath, '..'), '/usr/bin', '/bin'].join(':') };
  try {
    const listed = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, '')).sort();
    assert.deepEqual(listed, ['README.md', 'action.js', 'cli.js', 'commands.js', 'index.d.ts', 'index.js', 'package.json', 'registry.d.ts', 'registry.js', 'storage.js', 'wasm/regprune.js', 'wasm/regprune_bg.wasm', 'widget-worker.js', 'widget.d.ts', 'widget.js']);
    for (const tool of ['cargo', 'rustc']) assert.throws(() => execFileSync('sh', ['-c', `command -v ${tool}`], { env, stdio: 'pipe' }), `${tool} is not on PATH`);
    const project = join(work, 'project');
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], { cwd: project, stdio: 'pipe', env });
    const script = `
      import { plan, RegpruneError } from 'regprune';
      const p = plan({ repositories: [{ name: 'a', manifests: [{ digest: 'sha256:${'1'.repeat(64)}', size: 10 }] }] },
        { op: 'deleteUntagged' }, { now: '2026-01-01T00:00:00Z' });
      let code;
      try { plan('{', { op: 'deleteUntagged' }); } catch (e) { code = e instanceof RegpruneError && e.code; }
      console.log(JSON.stringify({ actions: p.actions.length, code }));
    `;
    const result = execFileSync('node', ['--input-type=module', '-e', script], { cwd: project, encoding: 'utf8', env });
    assert.deepEqual(JSON.parse(result), { actions: 1, code: 'invalid_json' });
    assert.ok(readdirSync(join(project, 'node_modules', 'regprune', 'wasm')).includes('regprune_bg.wasm'));
    const bin = join(project, 'node_modules', '.bin', 'regprune');
    assert.equal(execFileSync(bin, ['--version'], { encoding: 'utf8', env }).trim(), `regprune ${version}`);
    const example = join(root, '..', 'examples', 'registry.json');
    const planned = JSON.parse(execFileSync(bin, ['plan', '--snapshot', example, '--now', '2026-12-01T00:00:00Z', 'purge', '--filter', '.*:.*', '--ago', '30d', '--output', 'json'], { encoding: 'utf8', env, cwd: project }));
    assert.equal(planned.actions.length, 3);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
