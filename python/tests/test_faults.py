"""Fault injection against the real registry: a plan of 500 deletions executed by each adapter
through tests/faultproxy.py (429 with Retry-After, 500/502/503, resets before and after the
registry acted, truncated bodies, slow answers, expired tokens).

After each run, the registry's own storage is the judge: nothing outside the plan is gone,
every action is done, already gone or reported failed, the journal replays with `undo`, a
second `execute` of the same plan finishes the rest, and no token the proxy issued appears in
the report, the journal or the output.

`make test` runs one seed at a 10% fault rate for each adapter. The campaign (10% and 30%,
several seeds; `make reliability`) runs with REGPRUNE_FAULT_CAMPAIGN=1 and appends its figures
to artifacts/reliability/faults.jsonl for docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from registry_fixture import Pool, RegistryServer, push

import regprune
from regprune import registry

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from faultproxy import SECRET_TOKEN_PREFIX, FaultProxy

CAMPAIGN = os.environ.get("REGPRUNE_FAULT_CAMPAIGN") == "1"
CASES = (
    [(a, r, s) for a in ("python", "node") for r in (0.1, 0.3) for s in (1, 2, 3)]
    if CAMPAIGN
    else [("python", 0.1, 1), ("node", 0.1, 1)]
)
PLANNED = 500


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    s = RegistryServer(tmp_path_factory.mktemp("faults"))
    s.start()
    try:
        yield s
    finally:
        s.stop()


def manifests(server: RegistryServer) -> set[tuple[str, str]]:
    snap = registry.read_storage(server.storage)
    return {(r["name"], m["digest"]) for r in snap["repositories"] for m in r["manifests"]}


def execute(
    adapter: str, plan: regprune.Plan, url: str, journal: Path, tmp: Path
) -> tuple[dict[str, Any], str]:
    """Runs the adapter; returns its report and everything it printed."""
    if adapter == "python":
        # The plan names the registry, the proxy in front of it is another address.
        report = registry.execute(
            plan.to_json(), registry.Transport(url), journal_path=str(journal), retarget=True
        )
        return report, ""
    plan_path = tmp / "plan.json"
    plan_path.write_text(plan.to_json())
    out = subprocess.run(
        [
            "node",
            str(ROOT / "bench" / "registry-node.mjs"),
            "execute",
            url,
            str(plan_path),
            str(journal),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "REGPRUNE_RETARGET": "1"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)["report"], out.stdout + out.stderr


@pytest.mark.parametrize(("adapter", "rate", "seed"), CASES)
def test_faults_lose_nothing_and_delete_nothing_outside_the_plan(
    server: RegistryServer, tmp_path: Path, adapter: str, rate: float, seed: int
) -> None:
    pool = Pool(server.url.split("://")[1])
    salt = f"f{adapter[0]}{int(rate * 100)}s{seed}"
    push(pool, 1, PLANNED, salt)  # the plan's targets: untagged, in bench/<salt>-0
    push(pool, 1, 20, salt + "k", tags_per_manifest=1)  # tagged, another repository
    push(pool, 1, 20, salt + "u")  # untagged, another repository: not in the plan
    snapshot = registry.read_storage(server.storage, server.url)
    plan = regprune.plan(snapshot, {"op": "deleteUntagged", "repository": f"bench/{salt}-0"})
    planned = {(a.repository, a.digest) for a in plan.actions}
    assert len(planned) == PLANNED
    before = manifests(server)

    proxy = FaultProxy(server.url, rate, seed).start()
    journal = tmp_path / "journal.jsonl"
    try:
        report, printed = execute(adapter, plan, proxy.url, journal, tmp_path)
    finally:
        proxy.stop()
    counts = report["counts"]
    assert set(counts) <= {"done", "alreadyGone", "failed"}, counts
    assert sum(counts.values()) == PLANNED
    after = manifests(server)
    # Zero deletions outside the plan, by the registry's own state.
    assert (before - after) <= planned
    assert (before - planned) <= after
    # Every action reported done or already gone really is gone.
    finished = {
        (o["repository"], o["target"].split("@", 1)[1])
        for o in report["outcomes"]
        if o["outcome"] in ("done", "alreadyGone")
    }
    assert not (finished & after)
    retries = sum(o["retries"] for o in report["outcomes"])
    injected = sum(v for k, v in proxy.counts.items() if k != "requests")
    assert injected > 0 and retries > 0

    # No credential the proxy handed out leaks into the report, the journal or the output.
    text = json.dumps(report) + journal.read_text() + printed
    assert SECRET_TOKEN_PREFIX not in text
    assert "Bearer" not in text and "Authorization" not in text

    # A second execute of the same plan, still through faults, finishes the rest.
    proxy2 = FaultProxy(server.url, rate / 2, seed + 100).start()
    try:
        again, _ = execute(adapter, plan, proxy2.url, tmp_path / "journal2.jsonl", tmp_path)
    finally:
        proxy2.stop()
    left = planned & manifests(server)
    assert not left or again["counts"].get("failed", 0) >= len(left)
    final = manifests(server)
    assert (before - planned) <= final

    # The journal replays: undo pushes the recorded manifests back.
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert len(lines) >= counts.get("done", 0)
    # The first run went through the proxy, another address of the same registry.
    restored = registry.undo(
        str(journal), registry.Transport(server.url), run=lines[0]["run"], retarget=True
    )
    assert restored["results"] and not restored["skippedLines"]
    back = manifests(server)
    assert {(e["repository"], e["digest"]) for e in lines} <= back | (planned - back)
    sample = {(e["repository"], e["digest"]) for e in lines[:20]}
    assert sample <= back, "undo restored the journaled manifests"

    if CAMPAIGN:
        out = ROOT / "artifacts" / "reliability"
        out.mkdir(parents=True, exist_ok=True)
        row = {
            "adapter": adapter,
            "rate": rate,
            "seed": seed,
            "actions": PLANNED,
            "requests": proxy.counts["requests"],
            "faults": {k: v for k, v in proxy.counts.items() if k != "requests"},
            "retries": retries,
            "outcomes": counts,
            "rerun": again["counts"],
            "leftAfterRerun": len(left),
        }
        with (out / "faults.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
