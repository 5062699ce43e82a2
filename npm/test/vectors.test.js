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

/**
 * How a plan departs from what the real acr did (`expected.acr`, see tests/vectors/README): the
 * same tags must go; no manifest may go that acr kept; a manifest acr deleted that the plan
 * keeps must be named by one of the plan's warnings.
 */
function acrDifferences(plan, acr) {
  const tags = new Set();
  const manifests = new Set();
  for (const a of plan.actions) {
    if (a.type === 'untag') tags.add(`${a.repository}:${a.tag}`);
    else if (a.type === 'deleteManifest' && !a.cascadeOf) {
      manifests.add(`${a.repository}@${a.digest}`);
      for (const t of a.tags ?? []) tags.add(`${a.repository}:${t}`);
    }
  }
  const named = plan.warnings.flatMap((w) => w.items ?? []).join(' ');
  const problems = [];
  const sorted = (xs) => [...xs].sort();
  if (JSON.stringify(sorted(tags)) !== JSON.stringify(sorted(acr.deletedTags))) problems.push(`tags: acr ${sorted(acr.deletedTags)}, plan ${sorted(tags)}`);
  for (const m of manifests) if (!acr.deletedManifests.includes(m)) problems.push(`the plan deletes ${m}, which acr keeps`);
  for (const m of acr.deletedManifests) {
    if (!manifests.has(m) && !named.includes(m.split('@')[1])) problems.push(`acr deletes ${m}; the plan keeps it and no warning names it`);
  }
  return problems;
}

test('there are vectors', () => assert.ok(files.length >= 60, `${files.length} vectors`));

for (const file of files) {
  test(file, { todo: EXPECTED_FAILURES.has(file) }, () => {
    const v = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    if (v.expected.acr) {
      assert.deepEqual(acrDifferences(JSON.parse(run(v)), v.expected.acr), []);
    } else if (v.expected.plan) {
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
