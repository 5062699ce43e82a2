"""Records a test vector whose expected result comes from the real `acr purge`, not from
regprune: the case's registry is served by the ACR API emulator of `../shared/tools/acr-oracle`
(a development tool, not a dependency: the vectors it writes are self-contained), the real
`acr` binary purges it, and what acr deleted becomes `expected.acr`:

    .venv/bin/python scripts/record-acr-vector.py CASE.json OUT.json [--port 5592]

A case is `{snapshot, command, note}` (the oracle's `cases/` format). The vector's harnesses
(Rust, Python, Node) plan the command at the time acr started and check the plan against acr:
the same tags removed, no manifest deleted that acr kept, and every manifest acr deleted that
the plan keeps named in one of the plan's warnings.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

ORACLE = Path(__file__).resolve().parents[2] / "shared" / "tools" / "acr-oracle"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "case", help="a case file, or seed:N for the runner's random case N"
    )
    ap.add_argument("out")
    ap.add_argument(
        "--profile", default="mixed", help="the runner's profile for seed:N"
    )
    ap.add_argument("--port", type=int, default=5592)
    ap.add_argument(
        "--must-warn",
        action="append",
        default=[],
        metavar="CODE",
        help="a warning code the plan must carry (a requirement, e.g. acrResultUncertain)",
    )
    ap.add_argument(
        "--stored",
        action="store_true",
        help="take acr's result from the output stored in the case (acr_stdout, acr_start) "
        "instead of running it: for a run whose timing cannot be replayed (kind M)",
    )
    args = ap.parse_args()
    sys.path.insert(0, str(ORACLE))
    import acr_diff  # the oracle's runner and its reading of the emulator's log

    commit = (ORACLE / "ACR_CLI_COMMIT").read_text().split()[0]
    if args.case.startswith("seed:"):
        case = generated(acr_diff, int(args.case[5:]), args.profile)
    else:
        case = json.loads(Path(args.case).read_text())
    snapshot = case["snapshot"]
    if args.stored:
        start, rc, tags, manifests, patched = stored(case)
        how = "stored with the case by tools/acr-oracle when acr ran against its ACR API emulator"
    else:
        snapshot["registry"] = f"127.0.0.1:{args.port}"
        argv = shlex.split(case["command"])
        (acr_diff.SCRATCH / "home").mkdir(parents=True, exist_ok=True)
        runner = acr_diff.Runner(args.port)
        try:
            res = runner.run(
                snapshot,
                argv[2:] + case.get("argv_extra", []),
                case.get("page_cap", 100),
            )
        finally:
            runner.stop()
        tags, manifests, _cascade, patched = acr_diff.acr_truth(res)
        start, rc = acr_diff.rfc(res["start"]), res["rc"]
        how = "recorded against the ACR API emulator of tools/acr-oracle"
    snapshot["registry"] = "acr-oracle.example"
    expected = {
        "recordedWith": f"Azure/acr-cli {commit}",
        "exit": rc,
        "deletedTags": sorted(f"{r}:{t}" for r, t in tags),
        "deletedManifests": sorted(f"{r}@{d}" for r, d in manifests),
        # What acr PATCHed to unlock before deleting (tags by name, manifests by digest).
        "unlocked": sorted(
            f"{r}@{x}" if x.startswith("sha256:") else f"{r}:{x}" for r, x in patched
        ),
    }
    if args.must_warn:
        expected["mustWarn"] = args.must_warn
    vector = {
        "description": f"{case.get('note', '')} Expected result from the real acr purge "
        f"(Azure/acr-cli {commit[:12]}), {how}.".strip(),
        "snapshot": snapshot,
        "operation": {"op": "acrPurge", "command": case["command"]},
        "now": start,
        "expected": {"acr": expected},
    }
    Path(args.out).write_text(json.dumps(vector, indent=1) + "\n")
    print(f"{args.out}: acr exit {rc}, {len(tags)} tags, {len(manifests)} manifests")


def generated(acr_diff, seed: int, profile: str) -> dict:
    """The differential runner's random case `seed` (registry times relative to now)."""
    import time

    acr_diff.PROFILE = profile
    snapshot, argv, meta = acr_diff.gen_case(seed, time.time())
    return {
        "snapshot": snapshot,
        "command": shlex.join(["acr", "purge", *argv]),
        "note": f"Random case {seed} of tools/acr-oracle/acr_diff.py ({profile} profile).",
        "page_cap": meta["pageCap"],
        "argv_extra": ["--repository-page-size", str(meta["repoPageSize"])],
    }


def stored(case: dict) -> tuple[str, int, set, set, set]:
    """acr's result from the output a case stored: its `Deleted <registry>/<repo>:<tag>` and
    `<repo>@<digest>` lines (no unlocks: such a case has no locks)."""
    tags, manifests = set(), set()
    for line in case["acr_stdout"].splitlines():
        if not line.startswith("Deleted "):
            continue
        ref = line.split(" ", 1)[1].split("/", 1)[1]
        if "@" in ref:
            manifests.add(tuple(ref.split("@", 1)))
        else:
            tags.add(tuple(ref.rsplit(":", 1)))
    return case["acr_start"], case.get("acr_rc", 0), tags, manifests, set()


if __name__ == "__main__":
    main()
