// Every shared vector in tests/vectors/ gives, byte for byte, the expected plan or error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as regprune from 'regprune';

const dir = new URL('../../tests/vectors/', import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

// Vectors this harness is expected to fail, with the reason. None today.
const EXPECTED_FAILURES = new Set([]);

function run(v) {
  const snapshot = v.import ? regprune.importSnapshot(v.import) : v.snapshot;
  const loaded = regprune.loadSnapshot(snapshot);
  try {
    return loaded.planJson(v.operation, { now: v.now, pinned: v.pinned ?? [] });
  } finally {
    loaded.free();
  }
}

test('there are vectors', () => assert.ok(files.length >= 60, `${files.length} vectors`));

for (const file of files) {
  test(file, { todo: EXPECTED_FAILURES.has(file) }, () => {
    const v = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    if (v.expected.plan) {
      const got = run(v);
      assert.equal(got, JSON.stringify(v.expected.plan));
      const asObject = regprune.plan(v.import ? regprune.importSnapshot(v.import) : v.snapshot,
        v.operation, { now: v.now, pinned: v.pinned ?? [] });
      assert.equal(JSON.stringify(asObject), got, 'the object form serializes to the same bytes');
      assert.ok(regprune.verifyPlan(asObject));
    } else {
      assert.throws(() => run(v), (e) => {
        assert.ok(e instanceof regprune.RegpruneError, `${e} is a RegpruneError`);
        assert.ok(e instanceof Error);
        assert.equal(e.code, v.expected.error.code);
        if (v.expected.error.message) assert.equal(e.message, v.expected.error.message);
        return true;
      });
    }
  });
}
