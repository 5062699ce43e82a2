"""Every JSON example in the README is valid and means what the text says it means, and the
Python script in "Using it from Python" runs as it is, against a real registry."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from registry_fixture import Client, RegistryServer

import regprune

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
EXAMPLE = ROOT / "examples" / "registry.json"
NOW = "2026-12-01T00:00:00Z"


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", README, re.MULTILINE | re.DOTALL)


def documents(block: str) -> list[Any]:
    """A block is one JSON document, or one per line (JSON lines)."""
    try:
        return [json.loads(block)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in block.splitlines() if line.strip()]


def test_every_json_example_is_valid_and_does_what_it_says() -> None:
    found = blocks("json")
    assert len(found) >= 5
    kinds = set()
    for block in found:
        docs = documents(block)
        if "actions" in docs[0]:  # a plan: exactly what planning its operation gives
            kinds.add("plan")
            [shown] = docs
            assert regprune.verify_plan(shown)
            made = regprune.plan(EXAMPLE, shown["operation"], now=shown["now"]).to_dict()
            assert made == shown
        elif "repositories" in docs[0]:  # a snapshot: it loads and plans
            kinds.add("snapshot")
            [snapshot] = docs
            p = regprune.plan(snapshot, {"op": "deleteUntagged"}, now=NOW)
            assert p.verify()
        else:  # operations: each plans on the example registry; several on one block agree
            kinds.add("operation")
            plans = [regprune.plan(EXAMPLE, op, now=NOW).to_dict()["actions"] for op in docs]
            assert all(p == plans[0] for p in plans), "the block's forms plan the same"
    assert kinds == {"plan", "snapshot", "operation"}


@pytest.mark.skipif(
    shutil.which("docker-registry") is None and not os.environ.get("CI"),
    reason="needs Debian's docker-registry",
)
def test_the_python_script_runs_as_written(tmp_path: Path) -> None:
    [script] = [b for b in blocks("python") if "execute(plan, transport" in b]
    (tmp_path / "registry").mkdir()
    server = RegistryServer(tmp_path / "registry")
    server.start()
    try:
        c = Client(server.url)
        old = c.image("app", ["build-1"], [b"old build" * 100], "2025-01-01T00:00:00Z")
        new = c.image("app", ["build-2"], [b"new build" * 100], "2099-01-01T00:00:00Z")
        kept = c.image("app", ["v1.0"], [b"release" * 100], "2025-01-01T00:00:00Z")
        env = {**os.environ, "REGISTRY": server.url}
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "complete" in done.stdout and "{'done': 1}" in done.stdout, done.stdout
        assert not c.exists("app", old), "build-1, older than 30 days, is deleted"
        assert c.exists("app", new) and c.exists("app", kept)
        assert (tmp_path / "regprune-journal.jsonl").exists()
        assert "GET http://127.0.0.1" not in done.stderr, "INFO logging shows no requests"
    finally:
        server.stop()
