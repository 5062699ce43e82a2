"""The shared command-line cases (``tests/cli/cases.json``) against both CLIs: each must end
with the case's exit code and print what it names, and the Python and Node CLIs must print
exactly the same (they are one grammar, in the core)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = json.loads((ROOT / "tests" / "cli" / "cases.json").read_text())["cases"]
CLIS = {
    "python": [sys.executable, "-m", "regprune"],
    "node": ["node", str(ROOT / "npm" / "cli.js")],
}


def run(cli: str, case: dict[str, Any], tmp: Path) -> subprocess.CompletedProcess[str]:
    def fill(text: str) -> str:
        return text.replace("{examples}", str(ROOT / "examples")).replace("{tmp}", str(tmp))

    env = {k: v for k, v in os.environ.items() if not k.startswith("REGPRUNE_")}
    env["DOCKER_CONFIG"] = str(tmp / "no-docker-config")
    return subprocess.run(
        CLIS[cli] + [fill(a) for a in case["argv"]],
        capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


def check(case: dict[str, Any], done: subprocess.CompletedProcess[str], tmp: Path) -> None:
    what = f"{case['name']}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert done.returncode == case["exit"], what
    for part in case.get("stdout", []):
        assert part in done.stdout, what
    for part in case.get("stderr", []):
        assert part in done.stderr, what
    if "stdoutJson" in case:
        doc = json.loads(done.stdout)
        assert all(k in doc for k in case["stdoutJson"]), what
    for path, part in case.get("files", {}).items():
        assert part in Path(path.replace("{tmp}", str(tmp))).read_text(), what
    assert "Traceback" not in done.stderr and "    at " not in done.stderr, what


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_both_clis_pass_each_case_identically(case: dict[str, Any], tmp_path: Path) -> None:
    outputs = {}
    for cli in CLIS:
        tmp = tmp_path / "run"
        tmp.mkdir()
        done = run(cli, case, tmp)
        check(case, done, tmp)
        outputs[cli] = (done.returncode, done.stdout, done.stderr.replace(str(tmp), "{tmp}"))
        os.rename(tmp, tmp_path / cli)
    assert outputs["python"] == outputs["node"], case["name"]
    for path in case.get("files", {}):
        name = path.replace("{tmp}/", "")
        written = {cli: (tmp_path / cli / name).read_bytes() for cli in CLIS}
        assert written["python"] == written["node"], f"{case['name']}: {name} differs"


def test_execute_refuses_a_plan_other_than_the_approved_one(tmp_path: Path) -> None:
    """--expect-digest and --max-deletions are checked before any request (the registry here
    is a closed port: reaching it would be exit 3, not 2)."""
    plan = {"argv": ["plan", "--snapshot", "{examples}/registry.json", "--now",
                     "2026-12-01T00:00:00Z", "delete-untagged", "--out", "{tmp}/plan.json"],
            "exit": 0, "name": "plan"}  # fmt: skip
    outputs = {}
    for cli in CLIS:
        tmp = tmp_path / cli
        tmp.mkdir()
        check(plan, run(cli, plan, tmp), tmp)
        digest = json.loads((tmp / "plan.json").read_text())["digest"]
        other = "sha256:" + "0" * 64
        base = ["execute", "{tmp}/plan.json", "--registry", "http://127.0.0.1:9", "--yes"]
        for extra, words in [
            (
                ["--expect-digest", other],
                [f"the plan's digest is {digest}, not the approved {other}"],
            ),
            (["--expect-digest", digest, "--max-deletions", "0"], ["more than --max-deletions 0"]),
        ]:
            case = {"name": " ".join(extra), "argv": base + extra, "exit": 2, "stderr": words}
            done = run(cli, case, tmp)
            check(case, done, tmp)
            outputs.setdefault(case["name"], {})[cli] = done.stderr
    for name, by_cli in outputs.items():
        assert by_cli["python"] == by_cli["node"], name
