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
    runs = sorted(
        (ROOT / "artifacts" / "fuzz").glob("results*.json"),
        key=lambda f: f.stat().st_mtime,
    )
    if runs:
        print("Every campaign run, in order (`fuzz/campaign.py`; one core each):\n")
        print(
            "| run | fuzz target | seconds | executions | corpus | result |\n|---|---|---:|---:|---:|---|"
        )
        total: dict[str, list[int]] = {}
        for f in runs:
            for r in json.loads(f.read_text()):
                print(
                    f"| {f.stem} | {r['target']} | {r['seconds']} | {r['executions']:,} | {r['corpus']:,} | {r['result']} |"
                )
                t = total.setdefault(r["target"], [0, 0])
                t[0] += r["seconds"]
                t[1] += r["executions"]
        print(
            "\nCumulative per parser family (the corpus carries over between runs):\n"
        )
        print(
            "| fuzz target | seconds | executions | 10 million |\n|---|---:|---:|---|"
        )
        for name, (secs, execs) in total.items():
            print(
                f"| {name} | {secs:,} | {execs:,} | {'met' if execs >= 10_000_000 else '**not yet**'} |"
            )
        print()
    faults = ROOT / "artifacts" / "reliability" / "faults.jsonl"
    if faults.exists():
        print(
            "| adapter | rate | seed | actions | requests | faults injected | retries | outcomes | rerun | left after rerun |"
        )
        print("|---|---:|---:|---:|---:|---|---:|---|---|---:|")
        totals: dict[str, int] = defaultdict(int)
        for line in faults.read_text().splitlines():
            r = json.loads(line)
            injected = sum(r["faults"].values())
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["faults"].items()) if v)
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))
            rerun = ", ".join(f"{k} {v}" for k, v in sorted(r["rerun"].items()))
            print(
                f"| {r['adapter']} | {r['rate']:.0%} | {r['seed']} | {r['actions']} | {r['requests']:,} | "
                f"{injected} ({kinds}) | {r['retries']} | {outcomes} | {rerun} | {r['leftAfterRerun']} |"
            )
            for k, v in r["faults"].items():
                totals[k] += v
        print()
        print(
            "Faults injected in all: "
            + ", ".join(f"{k} {v}" for k, v in sorted(totals.items()))
            + "."
        )


if __name__ == "__main__":
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main()
    print(out.getvalue(), end="")
    if "--write" in sys.argv:
        doc = ROOT / "docs" / "RELIABILITY.md"
        text = doc.read_text()
        start, end = (
            "<!-- campaign tables: tests/reliability_report.py -->",
            "<!-- end of campaign tables -->",
        )
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        doc.write_text(f"{head}{start}\n{out.getvalue()}{end}{tail}")
