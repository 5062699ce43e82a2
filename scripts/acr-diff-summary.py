"""Sums up a differential run of `acrPurge` against the real `acr purge`
(`../shared/tools/acr-oracle/acr_diff.py`, which writes one JSON line per case and a file per
case that differs):

    .venv/bin/python scripts/acr-diff-summary.py $TMPDIR/acr-oracle [more run directories...]

For each case it asks what the preview says acr will do (the plan's deletions, plus every item
an `acrDeletes*` warning says acr would also delete) and compares that with what acr did:

- tags: the plan's tag deletions equal acr's (strict, no warning excuses a tag);
- manifests: the preview's manifest deletions equal acr's (the plan's own, plus the items named
  by "acr purge would also delete" warnings, which must all be deleted by acr);
- unwarned: a difference of any kind (a tag, a manifest acr deletes, a manifest the plan
  deletes, or the end state after the server's own cascade) that no warning names.

Exit status 1 when a tag differs, a difference is unwarned, or manifests agree in fewer than
99.5% of cases.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ACR_ALSO = (
    "acrDeletesLockedIndexChildren",
    "acrDeletesKeptIndexChildren",
    "acrDeletesReferrerIndex",
)


def short(item: str) -> str:
    """`repo@sha256:<64 hex>` as the runner prints it (`repo@sha256:<12 hex>`)."""
    repo, _, digest = item.partition("@")
    return f"{repo}@{digest[:19]}" if digest else item


def judge(rec: dict, failure: dict | None) -> dict:
    out = {"tags": rec["tags_ok"], "manifests": rec["mans_ok"], "unwarned": []}
    codes = rec.get("warnings", [])
    if failure is None:
        # Identical deletions; a warning claiming acr deletes more would be a false preview.
        if any(c in ACR_ALSO for c in codes):
            out["manifests"] = False
            out["unwarned"].append(
                "an acrDeletes* warning on a case where acr deleted nothing more"
            )
        return out
    plan = failure["regprune_plan"]
    warnings = plan.get("warnings", [])
    named = {short(i) for w in warnings for i in w.get("items", [])}
    also = {
        short(i) for w in warnings if w["code"] in ACR_ALSO for i in w.get("items", [])
    }
    uncertain = {
        short(i)
        for w in warnings
        if w["code"] == "acrResultUncertain"
        for i in w.get("items", [])
    }
    diff = failure["diff"]
    acr_only = set(diff["acr_only_mans"])
    rp_only = set(diff["rp_only_mans"])
    # The preview: the plan's deletions and what it says acr also deletes.
    out["manifests"] = not rp_only and acr_only == also
    for m in sorted(acr_only - named):
        out["unwarned"].append(f"acr deletes {m}; no warning names it")
    for m in sorted(rp_only - uncertain):
        out["unwarned"].append(f"the plan deletes {m}, which acr keeps")
    for m in sorted(also - acr_only):
        out["unwarned"].append(f"a warning says acr deletes {m}; it does not")
    for t in diff["acr_only_tags"] + diff["rp_only_tags"]:
        if t not in named:
            out["unwarned"].append(f"tag {t} differs; no warning names it")
    # The server's cascade follows chains (a referrer of a referrer): an item gone with a
    # subject whose difference is named is explained by that name.
    cascade = {
        short(f"{d['repo']}@{d['digest']}"): short(f"{d['repo']}@{d['cascadeOf']}")
        for d in failure["acr_deletes"]
        if d["kind"] == "cascadeDelete"
    }
    cascade.update(
        {
            short(f"{a['repository']}@{a['digest']}"): short(
                f"{a['repository']}@{a['cascadeOf']}"
            )
            for a in plan.get("actions", [])
            if a.get("cascadeOf")
        }
    )
    explained = named | acr_only | rp_only
    for m in diff["acr_only_gone"] + diff["rp_only_gone"]:
        seen, at = set(), m
        while at not in explained and at in cascade and at not in seen:
            seen.add(at)
            at = cascade[at]
        if at not in explained:
            out["unwarned"].append(
                f"end state: {m} differs (server cascade); no warning names it"
            )
    if plan.get("error") and failure.get("acr_rc") == 0:
        out["unwarned"].append(f"regprune refuses what acr runs: {plan['error']}")
    return out


def main() -> int:
    cases = tags = manifests = 0
    unwarned: list[str] = []
    by_profile: dict[str, int] = {}
    for run in map(Path, sys.argv[1:]):
        failures = run.parent / (run.name + "-failures")
        for line in (run / "results.jsonl").read_text().splitlines():
            rec = json.loads(line)
            f = failures / f"seed-{rec['seed']}.json"
            failure = json.loads(f.read_text()) if f.exists() else None
            if failure and failure["command"] != rec["cmd"]:
                failure = None  # a file from another run with the same seed
            j = judge(rec, failure)
            cases += 1
            by_profile[rec["profile"]] = by_profile.get(rec["profile"], 0) + 1
            tags += j["tags"]
            manifests += j["manifests"]
            unwarned += [
                f"{run.name} seed {rec['seed']} ({rec['cmd']}): {u}"
                for u in j["unwarned"]
            ]
    pct = 100.0 * manifests / max(cases, 1)
    print(f"cases: {cases} {by_profile}")
    print(f"tag deletions agree: {tags}/{cases}")
    print(
        f"manifest deletions agree (plan + 'acr would also delete'): {manifests}/{cases} ({pct:.2f}%)"
    )
    print(f"differences no warning names: {len(unwarned)}")
    for u in unwarned[:50]:
        print("  " + u)
    return 0 if tags == cases and not unwarned and pct >= 99.5 else 1


if __name__ == "__main__":
    sys.exit(main())
