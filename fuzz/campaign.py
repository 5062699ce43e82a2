"""`make fuzz`: runs every fuzz target for FUZZ_SECONDS each (default 600) with libFuzzer,
seeded with the saved inputs in fuzz/regressions/, and prints a table of executions and
results for docs/RELIABILITY.md. A crash stops nothing: it is reported, and its input (in
fuzz/artifacts/<target>/) belongs in fuzz/regressions/<target>/ once fixed."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Per-target libFuzzer options. Filters: a catastrophic regex needs only a few characters, and
# every long input costs up to the backtracking limit per tag, so inputs stay short.
OPTIONS = {"filters_durations": ["-max_len=64"]}
TARGETS = ["snapshot", "import", "manifest", "operation", "acr_command", "filters_durations",
           "headers", "registry_bodies"]


def main() -> None:
    seconds = int(os.environ.get("FUZZ_SECONDS", "600"))
    only = sys.argv[1:] or TARGETS
    rows = []
    for t in only:
        corpus = HERE / "corpus" / t
        corpus.mkdir(parents=True, exist_ok=True)
        for f in (HERE / "regressions" / t).glob("*"):
            shutil.copy(f, corpus / f.name)
        # `-s none`: the core forbids unsafe code, so AddressSanitizer has nothing of ours to
        # check; without it libFuzzer runs 2-3x more inputs. Panics, hangs and OOM still count.
        cmd = ["cargo", "+nightly", "fuzz", "run", "-O", "-s", "none", t, str(corpus), "--",
               f"-max_total_time={seconds}", "-rss_limit_mb=2048", "-timeout=10", "-print_final_stats=1",
               *OPTIONS.get(t, [])]
        print("$", " ".join(cmd), flush=True)
        p = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True)
        log = p.stdout + p.stderr
        runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
        crash = re.search(r"(==\d+==ERROR.*|panicked at .*|ERROR: libFuzzer: .*)", log)
        rows.append({"target": t, "seconds": seconds, "executions": int(runs[-1]) if runs else 0,
                     "corpus": len(list(corpus.iterdir())),
                     "result": crash.group(1)[:200] if crash else ("ok" if p.returncode == 0 else f"exit {p.returncode}")})
        print(json.dumps(rows[-1]), flush=True)
    out = HERE.parent / "artifacts" / "fuzz"
    out.mkdir(parents=True, exist_ok=True)
    (out / os.environ.get("FUZZ_RESULTS", "results.json")).write_text(json.dumps(rows, indent=1))
    print("| target | seconds | executions | corpus | result |\n|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['target']} | {r['seconds']} | {r['executions']:,} | {r['corpus']} | {r['result']} |")


if __name__ == "__main__":
    main()
