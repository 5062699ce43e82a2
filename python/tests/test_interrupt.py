"""Issue 24: Ctrl-C during an execution, in both CLIs against the real registry. Nothing more
is sent, what was in flight is answered, and the run ends with a report (done, not started)
and exit code 1 (partial) instead of a traceback; the registry holds exactly what the report
says."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from registry_fixture import Pool, RegistryServer, push

import regprune
from regprune import registry

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from faultproxy import FaultProxy

CLIS = {
    "python": [str(ROOT / ".venv" / "bin" / "regprune")],
    "node": ["node", str(ROOT / "npm" / "cli.js")],
}
PLANNED = 200


@pytest.mark.parametrize("cli", sorted(CLIS))
def test_ctrl_c_ends_with_a_report_of_what_was_done(tmp_path: Path, cli: str) -> None:
    (tmp_path / "registry").mkdir()
    server = RegistryServer(tmp_path / "registry")
    server.start()
    deletes = threading.Event()

    def slow_deletes(method: str, path: str) -> None:
        if method == "DELETE":
            deletes.set()
            time.sleep(0.02)  # slow enough that Ctrl-C lands mid-run

    proxy = FaultProxy(server.url, 0.0, 1, hook=slow_deletes).start()
    try:
        pool = Pool(server.url.split("://")[1])
        push(pool, 1, PLANNED, f"int{cli}")
        snapshot = registry.read_storage(server.storage, proxy.url)
        plan = regprune.plan(snapshot, {"op": "deleteUntagged", "repository": f"bench/int{cli}-0"})
        assert len(plan.actions) == PLANNED
        plan_file = tmp_path / "plan.json"
        plan_file.write_text(plan.to_json())
        args = ["execute", str(plan_file), "--registry", proxy.url, "--yes", "--output", "json"]
        args += ["--journal", str(tmp_path / "journal.jsonl"), "--concurrency", "2"]
        proc = subprocess.Popen(
            [*CLIS[cli], *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("REGPRUNE_")},
        )
        assert deletes.wait(60), "the run started deleting"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, (proc.returncode, out[-2000:], err[-2000:])
        assert "Traceback" not in err, err
        report = json.loads(out)
        counts = report["counts"]
        assert report["interrupted"] and not report["complete"]
        assert counts.get("done", 0) >= 1 and counts.get("notStarted", 0) >= 1, counts
        assert sum(counts.values()) == PLANNED
        assert set(counts) <= {"done", "notStarted"}, counts
        left = {
            m["digest"]
            for r in registry.read_storage(server.storage)["repositories"]
            for m in r["manifests"]
        }
        gone = {a.digest for a in plan.actions} - left
        done = {o["target"].split("@")[1] for o in report["outcomes"] if o["outcome"] == "done"}
        assert gone == done, "the registry holds exactly what the report says"
    finally:
        proxy.stop()
        server.stop()
