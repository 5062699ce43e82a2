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
// How a plan departs from what the real acr did (`expected.acr`, see tests/vectors/README): a
// tag or manifest acr deletes that the plan keeps is named by a warning; one the plan deletes
// that acr keeps is named by an `acrResultUncertain` warning; the items the plan unlocks are
// those acr unlocks (among what the plan deletes); a run acr ends with an error has an
// `acrWouldFail` warning; every code of `mustWarn` is among the plan's warnings.
function acrDifferences(plan, acr) {
  const tags = new Set();
  const manifests = new Set();
  const unlocked = new Set();
  for (const a of plan.actions) {
    let item;
    if (a.type === 'untag') {
      item = `${a.repository}:${a.tag}`;
      tags.add(item);
    } else if (a.type === 'deleteManifest' && !a.cascadeOf) {
      item = `${a.repository}@${a.digest}`;
      manifests.add(item);
      for (const t of a.tags ?? []) tags.add(`${a.repository}:${t}`);
    } else continue;
    if (a.unlock) unlocked.add(item);
  }
  const named = new Set(plan.warnings.flatMap((w) => w.items ?? []));
  const uncertain = new Set(plan.warnings.filter((w) => w.code === 'acrResultUncertain').flatMap((w) => w.items ?? []));
  const problems = [];
  for (const [what, acrSet, planSet] of [['tag', new Set(acr.deletedTags), tags], ['manifest', new Set(acr.deletedManifests), manifests]]) {
    for (const x of acrSet) {
      if (!planSet.has(x) && !named.has(x)) problems.push(`acr deletes the ${what} ${x}; the plan keeps it and no warning names it`);
    }
    for (const x of planSet) {
      if (!acrSet.has(x) && !uncertain.has(x)) problems.push(`the plan deletes the ${what} ${x}, which acr keeps, and no acrResultUncertain warning names it`);
    }
  }
  if (acr.unlocked) {
    const want = acr.unlocked.filter((u) => tags.has(u) || manifests.has(u)).sort();
    const got = [...unlocked].sort();
    if (JSON.stringify(want) !== JSON.stringify(got)) problems.push(`unlocks: acr ${want}, plan ${got}`);
  }
  const codes = new Set(plan.warnings.map((w) => w.code));
  if (acr.exit !== 0 && !codes.has('acrWouldFail')) problems.push(`acr exits ${acr.exit}; no acrWouldFail warning`);
  for (const c of acr.mustWarn ?? []) if (!codes.has(c)) problems.push(`no ${c} warning`);
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
