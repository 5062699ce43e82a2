"""Every shared vector in tests/vectors/ gives, byte for byte, the expected plan or error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import regprune

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"
FILES = sorted(VECTORS.glob("*.json"))
# Vectors this harness is expected to fail, with the reason. None today.
EXPECTED_FAILURES: dict[str, str] = {}


def run(v: dict[str, Any]) -> regprune.Plan:
    snapshot = regprune.import_snapshot(v["import"]) if "import" in v else v["snapshot"]
    return regprune.plan(snapshot, v["operation"], now=v["now"], pinned=v.get("pinned", []))


def acr_differences(plan: dict[str, Any], acr: dict[str, Any]) -> list[str]:
    """How a plan departs from what the real acr did (`expected.acr`, see tests/vectors/README):
    a tag or manifest acr deletes that the plan keeps is named by a warning; one the plan
    deletes that acr keeps is named by an `acrResultUncertain` warning; the items the plan
    unlocks are those acr unlocks (among what the plan deletes); a run acr ends with an error
    has an `acrWouldFail` warning; every code of `mustWarn` is among the plan's warnings."""
    tags, manifests, unlocked = set(), set(), set()
    for a in plan["actions"]:
        if a["type"] == "untag":
            item = f"{a['repository']}:{a['tag']}"
            tags.add(item)
        elif a["type"] == "deleteManifest" and not a.get("cascadeOf"):
            item = f"{a['repository']}@{a['digest']}"
            manifests.add(item)
            tags.update(f"{a['repository']}:{t}" for t in a.get("tags", []))
        else:
            continue
        if a.get("unlock"):
            unlocked.add(item)
    warnings = plan["warnings"]
    named = {i for w in warnings for i in w.get("items", [])}
    uncertain = {
        i for w in warnings if w["code"] == "acrResultUncertain" for i in w.get("items", [])
    }
    problems = []
    for what, acr_set, plan_set in (
        ("tag", set(acr["deletedTags"]), tags),
        ("manifest", set(acr["deletedManifests"]), manifests),
    ):
        for x in sorted(acr_set - plan_set - named):
            problems.append(
                f"acr deletes the {what} {x}; the plan keeps it and no warning names it"
            )
        for x in sorted(plan_set - acr_set - uncertain):
            problems.append(
                f"the plan deletes the {what} {x}, which acr keeps, and no acrResultUncertain warning names it"
            )
    if "unlocked" in acr:
        want = set(acr["unlocked"]) & (tags | manifests)
        if want != unlocked:
            problems.append(f"unlocks: acr {sorted(want)}, plan {sorted(unlocked)}")
    codes = {w["code"] for w in warnings}
    if acr["exit"] != 0 and "acrWouldFail" not in codes:
        problems.append(f"acr exits {acr['exit']}; no acrWouldFail warning")
    problems += [f"no {c} warning" for c in acr.get("mustWarn", []) if c not in codes]
    return problems


def test_there_are_vectors() -> None:
    assert len(FILES) >= 60


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_vector(path: Path) -> None:
    if path.name in EXPECTED_FAILURES:
        pytest.xfail(EXPECTED_FAILURES[path.name])
    v = json.loads(path.read_text())
    expected = v["expected"]
    if "acr" in expected:
        problems = acr_differences(json.loads(run(v).to_json()), expected["acr"])
        assert not problems, "\n".join(problems)
    elif "plan" in expected:
        plan = run(v)
        want = json.dumps(expected["plan"], separators=(",", ":"), ensure_ascii=False)
        assert plan.to_json() == want
        assert plan.verify()
        assert plan.to_dict() == expected["plan"]
    else:
        with pytest.raises(regprune.ERROR_CLASSES[expected["error"]["code"]]) as info:
            run(v)
        assert info.value.code == expected["error"]["code"]
        assert isinstance(info.value, regprune.ERROR_CLASSES[expected["error"]["code"]])
        if "message" in expected["error"]:
            assert str(info.value) == expected["error"]["message"]
