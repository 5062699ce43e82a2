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
    ap.add_argument("case")
    ap.add_argument("out")
    ap.add_argument("--port", type=int, default=5592)
    args = ap.parse_args()
    sys.path.insert(0, str(ORACLE))
    import acr_diff  # the oracle's runner and its reading of the emulator's log

    commit = (ORACLE / "ACR_CLI_COMMIT").read_text().split()[0]
    case = json.loads(Path(args.case).read_text())
    snapshot = case["snapshot"]
    snapshot["registry"] = f"127.0.0.1:{args.port}"
    argv = shlex.split(case["command"])
    (acr_diff.SCRATCH / "home").mkdir(parents=True, exist_ok=True)
    runner = acr_diff.Runner(args.port)
    try:
        res = runner.run(snapshot, argv[2:] + case.get("argv_extra", []), case.get("page_cap", 100))
    finally:
        runner.stop()
    tags, manifests, _cascade, _patched = acr_diff.acr_truth(res)
    snapshot["registry"] = "acr-oracle.example"
    vector = {
        "description": f"{case.get('note', '')} Expected result recorded from the real acr purge "
        f"(Azure/acr-cli {commit[:12]}) against the ACR API emulator of tools/acr-oracle.".strip(),
        "snapshot": snapshot,
        "operation": {"op": "acrPurge", "command": case["command"]},
        "now": acr_diff.rfc(res["start"]),
        "expected": {
            "acr": {
                "recordedWith": f"Azure/acr-cli {commit}",
                "exit": res["rc"],
                "deletedTags": sorted(f"{r}:{t}" for r, t in tags),
                "deletedManifests": sorted(f"{r}@{d}" for r, d in manifests),
            }
        },
    }
    Path(args.out).write_text(json.dumps(vector, indent=1) + "\n")
    print(f"{args.out}: acr exit {res['rc']}, {len(tags)} tags, {len(manifests)} manifests")


if __name__ == "__main__":
    main()
