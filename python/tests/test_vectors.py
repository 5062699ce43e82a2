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
    the same tags must go; no manifest may go that acr kept; a manifest acr deleted that the
    plan keeps must be named by one of the plan's warnings."""
    tags, manifests = set(), set()
    for a in plan["actions"]:
        if a["type"] == "untag":
            tags.add(f"{a['repository']}:{a['tag']}")
        elif a["type"] == "deleteManifest" and not a.get("cascadeOf"):
            manifests.add(f"{a['repository']}@{a['digest']}")
            tags.update(f"{a['repository']}:{t}" for t in a.get("tags", []))
    named = " ".join(i for w in plan["warnings"] for i in w.get("items", []))
    problems = []
    if tags != set(acr["deletedTags"]):
        problems.append(f"tags: acr {sorted(acr['deletedTags'])}, plan {sorted(tags)}")
    for m in sorted(manifests - set(acr["deletedManifests"])):
        problems.append(f"the plan deletes {m}, which acr keeps")
    for m in sorted(set(acr["deletedManifests"]) - manifests):
        if m.split("@")[1] not in named:
            problems.append(f"acr deletes {m}; the plan keeps it and no warning names it")
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
        with pytest.raises(regprune.RegpruneError) as info:
            run(v)
        assert info.value.code == expected["error"]["code"]
        assert isinstance(info.value, regprune.ERROR_CLASSES[expected["error"]["code"]])
        if "message" in expected["error"]:
            assert str(info.value) == expected["error"]["message"]
