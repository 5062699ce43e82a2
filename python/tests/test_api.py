"""The package's own behaviour: inputs, defaults, typed results, helpers."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import regprune

NOW = "2026-11-27T00:00:00Z"
OP = {"op": "deleteImage", "image": "acr-helloworld:latest"}


def test_inputs_as_path_dict_text_and_bytes_give_one_plan(example: Path) -> None:
    text = example.read_text()
    want = regprune.plan(example, OP, now=NOW).to_json()
    assert regprune.plan(str(example), OP, now=NOW).to_json() == want
    assert regprune.plan(json.loads(text), OP, now=NOW).to_json() == want
    assert regprune.plan(text, OP, now=NOW).to_json() == want
    assert regprune.plan(text.encode(), json.dumps(OP), now=NOW).to_json() == want


def test_results_are_typed(example: Path) -> None:
    plan = regprune.plan(example, OP, now=datetime(2026, 11, 27, tzinfo=timezone.utc))
    action = plan.actions[0]
    assert action.type == "deleteManifest"
    assert action.tags == ["latest", "v3"]
    assert action.reason.code == "imageNamed"
    assert plan.reclaim.total_bytes == 19_780_697
    assert plan.reclaim.by_repository[0].blob_count == 2
    assert plan.reclaim.shared.with_[1].repository == "hello-api"
    assert plan.warnings[0].code == "otherTagsDeleted"
    assert plan.to_dict()["reclaim"]["totalBytes"] == plan.reclaim.total_bytes
    assert plan.verify() and regprune.verify_plan(plan)
    assert regprune.plan_digest(plan) == plan.digest
    assert "This operation will delete the manifest" in plan.render_text()


def test_edited_plans_fail_verification(example: Path) -> None:
    d = regprune.plan(example, OP, now=NOW).to_dict()
    d["actions"][0]["tags"] = ["latest"]
    assert not regprune.verify_plan(d)


def test_now_defaults_to_current_utc_time(example: Path) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=2)
    at = datetime.fromisoformat(
        regprune.plan(example, {"op": "deleteUntagged"}).now.replace("Z", "+00:00")
    )
    assert before <= at <= datetime.now(timezone.utc) + timedelta(seconds=2)


def test_snapshot_is_parsed_once_and_reused(example: Path) -> None:
    snap = regprune.load_snapshot(example)
    assert snap.manifest_count == 4
    p1 = snap.plan(OP, now=NOW)
    assert snap.reclaim(p1) == p1.reclaim
    assert snap.to_dict()["registry"] == "myregistry.azurecr.io"


def test_importers_manifests_and_generator() -> None:
    s = regprune.import_snapshot(
        {
            "format": "acrListMetadata",
            "repository": "r",
            "body": [{"digest": "sha256:" + "a" * 64, "tags": ["x"]}],
        }
    )
    assert s["repositories"][0]["tags"][0]["name"] == "x"
    m = regprune.parse_manifest(b'{"schemaVersion":2,"manifests":[]}')
    assert m["mediaType"] == "application/vnd.oci.image.index.v1+json"
    g = regprune.generate(manifests=200, seed=3)
    assert g == regprune.generate(manifests=200, seed=3)
    assert sum(len(r["manifests"]) for r in json.loads(g)["repositories"]) == 200


def _ticks_per_second_during(work: Callable[[], object]) -> float:
    """How fast another Python thread counts while ``work`` runs in this one."""
    ticks = [0]
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        time.sleep(0.05)
        before, start = ticks[0], time.perf_counter()
        work()
        elapsed, after = time.perf_counter() - start, ticks[0]
    finally:
        stop.set()
        t.join()
    return (after - before) / elapsed


def test_planning_releases_the_gil() -> None:
    """While the core plans, another thread runs Python at a good fraction of its speed; while
    a C call that keeps the GIL runs (the control: ``sorted`` on a large list), it all but
    stops. Without the release, planning would look like the control."""
    snap = regprune.load_snapshot(regprune.generate(manifests=60_000, seed=1))
    rng = random.Random(7)
    data = [rng.random() for _ in range(1_500_000)]
    free = _ticks_per_second_during(lambda: time.sleep(0.3))
    control = _ticks_per_second_during(lambda: sorted(data))
    planning = _ticks_per_second_during(
        lambda: [snap.plan({"op": "deleteUntagged"}, now=NOW) for _ in range(3)]
    )
    assert control < free / 8, (control, free)  # the control does hold the GIL
    assert planning > 5 * control, (planning, control)
    assert planning > free / 4, (planning, free)


def test_version_follows_cargo() -> None:
    cargo = (Path(__file__).resolve().parents[2] / "Cargo.toml").read_text()
    assert f'version = "{regprune.__version__}"' in cargo
