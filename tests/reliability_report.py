"""Tables for docs/RELIABILITY.md from the last campaign: artifacts/fuzz/results.json (make
fuzz) and artifacts/reliability/faults.jsonl (the fault-injection campaign). Prints Markdown;
with --write, also replaces the tables between the markers in docs/RELIABILITY.md."""

import contextlib
import io
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    fuzz = ROOT / "artifacts" / "fuzz" / "results.json"
    if fuzz.exists():
        print("| fuzz target | seconds | executions | corpus | result |\n|---|---:|---:|---:|---|")
        for r in json.loads(fuzz.read_text()):
            print(f"| {r['target']} | {r['seconds']} | {r['executions']:,} | {r['corpus']:,} | {r['result']} |")
        print()
    faults = ROOT / "artifacts" / "reliability" / "faults.jsonl"
    if faults.exists():
        print("| adapter | rate | seed | actions | requests | faults injected | retries | outcomes | rerun | left after rerun |")
        print("|---|---:|---:|---:|---:|---|---:|---|---|---:|")
        totals: dict[str, int] = defaultdict(int)
        for line in faults.read_text().splitlines():
            r = json.loads(line)
            injected = sum(r["faults"].values())
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["faults"].items()) if v)
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))
            rerun = ", ".join(f"{k} {v}" for k, v in sorted(r["rerun"].items()))
            print(f"| {r['adapter']} | {r['rate']:.0%} | {r['seed']} | {r['actions']} | {r['requests']:,} | "
                  f"{injected} ({kinds}) | {r['retries']} | {outcomes} | {rerun} | {r['leftAfterRerun']} |")
            for k, v in r["faults"].items():
                totals[k] += v
        print()
        print("Faults injected in all: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())) + ".")


if __name__ == "__main__":
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main()
    print(out.getvalue(), end="")
    if "--write" in sys.argv:
        doc = ROOT / "docs" / "RELIABILITY.md"
        text = doc.read_text()
        start, end = "<!-- campaign tables: tests/reliability_report.py -->", "<!-- end of campaign tables -->"
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        doc.write_text(f"{head}{start}\n{out.getvalue()}{end}{tail}")
