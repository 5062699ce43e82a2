// The package's own behaviour: error mapping for every code, defaults, inputs, helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as regprune from 'regprune';
import * as wasm from '../wasm/regprune.js';

const example = readFileSync(new URL('../../examples/registry.json', import.meta.url), 'utf8');
const now = '2026-11-27T00:00:00Z';

test('every core error code has its own RegpruneError subclass', () => {
  assert.deepEqual([...regprune.ERROR_CODES].sort(), Object.keys(regprune.ERROR_CLASSES).sort());
  for (const code of regprune.ERROR_CODES) {
    const Class = regprune.ERROR_CLASSES[code];
    const e = new Class('m', { code, path: 'p' });
    assert.ok(e instanceof regprune.RegpruneError && e instanceof Error, code);
    assert.equal(e.name, Class.name);
    assert.match(Class.name, /Error$/);
  }
  const names = new Set(Object.values(regprune.ERROR_CLASSES).map((c) => c.name));
  assert.equal(names.size, regprune.ERROR_CODES.length, 'one class per code');
});

// One real failure per code, raised by the core and mapped by the wrapper.
const failures = {
  invalid_digest: () => regprune.plan({ repositories: [{ name: 'a', tags: [{ name: 't', digest: 'sha256:xyz' }] }] }, { op: 'deleteUntagged' }),
  invalid_repository_name: () => regprune.plan({ repositories: [{ name: 'A' }] }, { op: 'deleteUntagged' }),
  invalid_tag: () => regprune.plan({ repositories: [{ name: 'a', tags: [{ name: '-bad', digest: `sha256:${'0'.repeat(64)}` }] }] }, { op: 'deleteUntagged' }),
  invalid_reference: () => regprune.plan(example, { op: 'deleteImage', image: 'acr-helloworld' }),
  invalid_timestamp: () => regprune.plan(example, { op: 'deleteUntagged' }, { now: 'yesterday' }),
  invalid_json: () => regprune.plan('{not json', { op: 'deleteUntagged' }),
  dangling_tag: () => regprune.plan({ repositories: [{ name: 'a', tags: [{ name: 't', digest: `sha256:${'0'.repeat(64)}` }] }] }, { op: 'deleteUntagged' }),
  duplicate: () => regprune.plan({ repositories: [{ name: 'a' }, { name: 'a' }] }, { op: 'deleteUntagged' }),
  digest_mismatch: () => regprune.parseManifest(new TextEncoder().encode('{"manifests":[]}'), { digest: `sha256:${'0'.repeat(64)}` }),
  unsupported_manifest: () => regprune.parseManifest(new TextEncoder().encode('{"schemaVersion":1}')),
  repository_not_found: () => regprune.plan(example, { op: 'deleteRepository', repository: 'nope' }),
  image_not_found: () => regprune.plan(example, { op: 'deleteImage', image: 'acr-helloworld:v9' }),
  invalid_operation: () => regprune.plan(example, { op: 'untag', image: `acr-helloworld@sha256:${'0'.repeat(64)}` }),
  invalid_pattern: () => regprune.plan(example, { op: 'purge', filter: ['a:('], ago: '1d' }),
  pattern_too_complex: () => regprune.plan({ repositories: [{ name: 'a', manifests: [{ digest: `sha256:${'1'.repeat(64)}` }], tags: [{ name: 'a'.repeat(60), digest: `sha256:${'1'.repeat(64)}`, lastUpdateTime: '2020-01-01T00:00:00Z' }] }] }, { op: 'acrPurge', command: "acr purge --filter 'a:(a+)+(?=b)' --ago 1d" }),
  invalid_duration: () => regprune.plan(example, { op: 'purge', filter: ['a:.*'], ago: '2h3d' }),
  invalid_purge_command: () => regprune.plan(example, { op: 'acrPurge', command: 'acr purge --force' }),
  limit_exceeded: () => regprune.plan(example, { op: 'policy', policy: { rules: [{ name: 'all', action: 'delete' }], limits: { maxDeletions: 1 } } }, { now }),
  registry_unreachable: registryAnswers(0, { failure: 'ENOTFOUND' }),
  credentials_missing: registryAnswers(401),
  authentication_failed: registryAnswers(401, { credentials: true }),
  forbidden: registryAnswers(403),
  not_found: registryAnswers(404),
  unsupported_by_registry: registryAnswers(405),
  rate_limited: registryAnswers(429),
  server_error: registryAnswers(503),
  protocol_violation: registryAnswers(200, { body: 'not json' }),
  invalid_arguments: () => {
    try {
      return wasm.cliParse(['plan', '--concurrency', 'abc']);
    } catch (e) {
      throw regprune.toRegpruneError(e);
    }
  },
};

/** A crawl whose every request gets one answer (as the Python suite's `registry_answers`). */
function registryAnswers(status, { failure, body = '{}', credentials = false } = {}) {
  return () => {
    const access = { origin: 'https://reg.example', looked: ['nowhere'], ...(credentials ? { credentials: { username: 'u', password: 'p', source: 'a test' } } : {}) };
    const s = wasm.Session.crawl({ registry: 'reg.example', flavour: 'oci', maxAttempts: 2 }, access);
    try {
      let now = 0;
      while (!s.isDone()) {
        const req = s.nextRequest(now);
        if (!req) {
          now = s.nextWakeup() ?? now + 1;
          continue;
        }
        s.handleResponse(req.id, status, [], new TextEncoder().encode(body), now, failure);
      }
      return s.result();
    } catch (e) {
      throw regprune.toRegpruneError(e);
    } finally {
      s.free();
    }
  };
}

test('every error code is raised as its class, with the fields of the core variant', () => {
  assert.deepEqual(Object.keys(failures).sort(), [...regprune.ERROR_CODES].sort());
  for (const [code, fail] of Object.entries(failures)) {
    assert.throws(fail, (e) => {
      assert.ok(e instanceof regprune.ERROR_CLASSES[code], `${code}: got ${e?.name} ${e?.message}`);
      assert.ok(e instanceof regprune.RegpruneError);
      assert.equal(e.code, code);
      assert.equal(typeof e.path, 'string');
      assert.ok(e.message.length > 0 && e.message.includes(e.path), `${code}: ${e.message}`);
      assert.ok(typeof e.stack === 'string');
      const registryError = e instanceof regprune.RegistryError;
      assert.equal(registryError, [3, 4, 5].includes(e.exitCode), `${code}: exit ${e.exitCode}`);
      assert.equal(registryError, !(e instanceof regprune.InvalidInputError) && code !== 'limit_exceeded', code);
      return true;
    }, code);
  }
  const e = (() => { try { failures.invalid_reference(); } catch (err) { return err; } })();
  assert.ok(e instanceof regprune.InvalidInputError);
  assert.equal(e.value, 'acr-helloworld');
  assert.equal(e.path, 'operation.image');
});

test('snapshots are accepted as objects, JSON text and bytes, with the same plan', () => {
  const op = { op: 'deleteImage', image: 'acr-helloworld:latest' };
  const fromText = regprune.planJson(example, op, { now });
  assert.equal(regprune.planJson(JSON.parse(example), op, { now }), fromText);
  assert.equal(regprune.planJson(new TextEncoder().encode(example), op, { now }), fromText);
  const loaded = regprune.loadSnapshot(example);
  assert.equal(loaded.manifestCount, 4);
  assert.equal(loaded.planJson(op, { now: new Date(now) }), fromText);
  assert.deepEqual(loaded.reclaim(JSON.parse(fromText)), JSON.parse(fromText).reclaim);
  loaded.free();
});

test('now defaults to the current time', () => {
  const before = Date.now();
  const p = regprune.plan(example, { op: 'deleteUntagged' });
  const at = Date.parse(p.now);
  assert.ok(at >= before - 1000 && at <= Date.now() + 1000, p.now);
});

test('plans are sealed, verifiable and rendered for people', () => {
  const p = regprune.plan(example, { op: 'deleteImage', image: 'acr-helloworld:latest' }, { now });
  assert.equal(regprune.planDigest(p), p.digest);
  assert.ok(regprune.verifyPlan(p));
  const edited = structuredClone(p);
  edited.actions[0].digest = edited.actions[0].digest.replace(/.$/, '0');
  assert.equal(regprune.verifyPlan(edited), false, 'an edited plan no longer verifies');
  assert.match(regprune.renderText(p), /This operation will delete the manifest 'sha256:0a2e0185/);
  // The same plan as JSON text (what a reviewed file holds): the same answers.
  const text = JSON.stringify(p);
  assert.equal(regprune.planDigest(text), p.digest);
  assert.ok(regprune.verifyPlan(text));
  assert.equal(regprune.verifyPlan(JSON.stringify(edited)), false);
  assert.equal(regprune.renderText(text), regprune.renderText(p));
  // And as UTF-8 bytes (a plan file read without decoding it).
  const bytes = new TextEncoder().encode(text);
  assert.equal(regprune.planDigest(bytes), p.digest);
  assert.ok(regprune.verifyPlan(bytes));
  assert.equal(regprune.verifyPlan(new TextEncoder().encode(JSON.stringify(edited))), false);
  assert.equal(regprune.renderText(bytes), regprune.renderText(p));
  assert.throws(() => regprune.verifyPlan('{"version": 1,'), (e) => e instanceof regprune.RegpruneError && e.code === 'invalid_json', 'bad text is a typed error');
});

test("a host sha256 (Node's crypto, installed by the package) hashes seals; one that fails falls back to the module's own", async () => {
  const wasm = await import('../wasm/regprune.js');
  const { createHash } = await import('node:crypto');
  const node = (bytes) => createHash('sha256').update(bytes).digest();
  const p = regprune.plan(example, { op: 'deleteImage', image: 'acr-helloworld:latest' }, { now });
  let calls = 0;
  try {
    wasm.useSha256((bytes) => {
      calls += 1;
      return node(bytes);
    });
    assert.ok(regprune.verifyPlan(p));
    assert.equal(regprune.plan(example, { op: 'deleteImage', image: 'acr-helloworld:latest' }, { now }).digest, p.digest);
    assert.ok(calls >= 2, `the host function hashed the seals (${calls} calls)`);
    // One that swaps itself out while hashing (the module must not be holding it then).
    let after = 0;
    const swapping = (bytes) => {
      wasm.useSha256((b) => {
        after += 1;
        return node(b);
      });
      return node(bytes);
    };
    wasm.useSha256(swapping);
    assert.ok(regprune.verifyPlan(p));
    assert.ok(regprune.verifyPlan(p));
    assert.ok(after >= 1, 'the function it swapped in hashes the next seal');
    // Answers that are not a digest, and throws, fall back: the seal is still sha256.
    for (const bad of [() => new Uint8Array(5), () => 'sha256', () => { throw new Error('no'); }]) {
      wasm.useSha256(bad);
      assert.equal(regprune.planDigest(p), p.digest);
      assert.ok(regprune.verifyPlan(p));
    }
    wasm.useSha256(undefined);
    assert.equal(regprune.planDigest(p), p.digest);
  } finally {
    wasm.useSha256(node);
  }
});

test('a preview keeps the plan in WebAssembly: its summary, pages of items, and the sealed bytes of the plan', () => {
  const snapshot = regprune.loadSnapshot(regprune.generateJson({ seed: 4, manifests: 400 }));
  try {
    const op = { op: 'acrPurge', filter: ['.*:.*'], ago: '30d', untagged: true };
    const preview = snapshot.preview(op, { now });
    const full = JSON.parse(snapshot.planJson(op, { now }));
    const bytes = preview.sealedJson();
    assert.ok(bytes instanceof Uint8Array);
    assert.equal(new TextDecoder().decode(bytes), snapshot.planJson(op, { now }), 'the same bytes as planJson');
    const summary = preview.summary();
    assert.equal(summary.actions, full.actions.length);
    assert.equal(summary.retained, full.retained.length);
    assert.equal(summary.totalBytes, full.reclaim.totalBytes);
    assert.deepEqual(summary.byRepository, full.reclaim.byRepository);
    const rows = full.actions.length + full.retained.length;
    const first = preview.items();
    assert.equal(first.total, rows);
    assert.equal(first.items.length, Math.min(200, rows));
    // Sorted by repository, then target; a page further on continues it.
    const all = preview.items({ limit: rows }).items;
    assert.deepEqual(preview.items({ offset: 10, limit: 5 }).items, all.slice(10, 15));
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].repository <= all[i].repository, `row ${i}`);
    // Filtered ignoring case, in every cell.
    const kinds = preview.items({ matching: 'UNTAG', sort: 'kind', limit: rows });
    assert.ok(kinds.total > 0 && kinds.total < rows);
    assert.ok(kinds.items.every((i) => Object.values(i).some((v) => v.toLowerCase().includes('untag'))));
    assert.throws(() => preview.items({ sort: 'size' }), (e) => e instanceof regprune.InvalidJsonError && /query\.sort/.test(e.path));
    preview.free();
  } finally {
    snapshot.free();
  }
});

test('importers, manifest bytes and the generator', () => {
  const s = regprune.importSnapshot({ format: 'acrListMetadata', repository: 'r', body: [{ digest: `sha256:${'a'.repeat(64)}`, tags: ['x'] }] });
  assert.equal(s.repositories[0].tags[0].name, 'x');
  const bytes = new TextEncoder().encode('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}');
  const m = regprune.parseManifest(bytes, { contentType: 'application/vnd.oci.image.index.v1+json' });
  assert.equal(m.size, bytes.length);
  assert.deepEqual(m.manifests, []);
  const a = regprune.generateJson({ seed: 4, manifests: 300 });
  assert.equal(a, regprune.generateJson({ seed: 4, manifests: 300 }));
  const g = regprune.generate({ seed: 4, manifests: 300 });
  assert.equal(g.repositories.reduce((n, r) => n + r.manifests.length, 0), 300);
});

test('the package version follows the Rust workspace', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const cargo = readFileSync(new URL('../../Cargo.toml', import.meta.url), 'utf8');
  assert.equal(pkg.version, cargo.match(/^version = "(.+)"/m)[1]);
  assert.equal(regprune.VERSION, pkg.version);
});

test('deeply nested documents are typed errors, not crashes', () => {
  for (const doc of ['['.repeat(200_000), `{"repositories":${'['.repeat(100_000)}`]) {
    assert.throws(() => regprune.plan(doc, { op: 'deleteUntagged' }), regprune.InvalidJsonError);
  }
  assert.throws(() => regprune.importSnapshot(`{"format":"acrApi","bodies":[${'['.repeat(100_000)}]`), regprune.InvalidJsonError);
});

test('a snapshot beyond what wasm32 can hold is a typed limit error, not a trap', () => {
  // Zero-filled and never touched: the size is refused before anything is copied.
  const huge = new Uint8Array(1_600_000_001);
  assert.throws(() => new regprune.LoadedSnapshot(huge), (e) => e instanceof regprune.LimitExceededError && /maxSnapshotBytes/.test(e.message));
});

test('response headers reach the core as pairs or as one block of lines, alike; a bad line is a typed error', async () => {
  const wasm = await import('../wasm/regprune.js');
  const link = '</v2/_catalog?last=b&n=2>; rel="next"';
  const page = new TextEncoder().encode('{"repositories":["a","b"]}');
  const after = (headers) => {
    const c = wasm.Session.crawl({ registry: 'r.example', pageSize: 2 }, { origin: 'https://r.example' });
    const detect = c.nextRequest(0);
    c.handleResponse(detect.id, 404, [], new Uint8Array(), 0);
    const catalog = c.nextRequest(0);
    try {
      c.handleResponse(catalog.id, 200, headers, page, 0);
    } catch (e) {
      return regprune.toRegpruneError(e);
    }
    const paths = [];
    for (let r = c.nextRequest(0); r; r = c.nextRequest(0)) paths.push(r.url.slice('https://r.example'.length));
    return paths;
  };
  const expected = ['/v2/a/tags/list', '/v2/b/tags/list', '/v2/_catalog?last=b&n=2'];
  assert.deepEqual(after([['Link', link], ['Content-Type', 'application/json']]), expected);
  assert.deepEqual(after(`Content-Type: application/json\nLink:  ${link} \n`), expected);
  assert.deepEqual(after(`link: ${link}\r\n`), expected);
  const bad = after(`Link ${link}\n`);
  assert.ok(bad instanceof regprune.InvalidJsonError, String(bad));
  assert.equal(bad.path, 'headers');
  assert.match(bad.message, /Link </);
});

test('sizes never wrap a total: an impossible size is a typed error, a saturated sum is not exact', () => {
  const blob = (i) => `sha256:${(i + 1).toString(16).padStart(64, '0')}`;
  const snapshot = (size, n) => `{"registry":"r","repositories":[{"name":"app","manifests":[{"digest":"sha256:${'abc'.padStart(64, '0')}","mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"layers":[${Array.from({ length: n }, (_, i) => `{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"${blob(i)}","size":${size}}`).join(',')}]}],"tags":[]}]}`;
  const op = { op: 'deleteRepository', repository: 'app' };
  assert.throws(() => regprune.plan(snapshot('18446744073709551610', 1), op), (e) => e instanceof regprune.InvalidJsonError && /impossible size 18446744073709551610/.test(e.message) && e.path === 'repositories[0].manifests[0].layers[0].size');
  // Past 2^53 a JS number is not exact: the object form refuses, the JSON text is exact.
  const big = snapshot('9007199254740991', 3000);
  assert.throws(() => regprune.plan(big, op), (e) => e instanceof regprune.InvalidJsonError && /planJson/.test(e.message));
  const text = regprune.planJson(big, op);
  assert.match(text, /"totalBytes":18446744073709551615/);
  assert.match(text, /"exact":false/);
  assert.match(text, /2\^64/);
});
