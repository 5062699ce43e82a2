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


def test_there_are_vectors() -> None:
    assert len(FILES) >= 60


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_vector(path: Path) -> None:
    if path.name in EXPECTED_FAILURES:
        pytest.xfail(EXPECTED_FAILURES[path.name])
    v = json.loads(path.read_text())
    expected = v["expected"]
    if "plan" in expected:
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
