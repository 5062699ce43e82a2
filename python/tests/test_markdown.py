"""The job summary (``render_markdown``) and annotations: the same bytes from Python and Node
for every shared vector's plan, and what a CI reader relies on: the totals, bytes per
repository, the first actions, warnings grouped by code, data that cannot write Markdown."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import regprune

ROOT = Path(__file__).resolve().parents[2]
VECTORS = sorted((ROOT / "tests" / "vectors").glob("*.json"))

NODE = """
import { renderMarkdown, renderAnnotations, renderText } from 'regprune';
import { readFileSync } from 'node:fs';
const cases = JSON.parse(readFileSync(0, 'utf8'));
console.log(JSON.stringify(cases.map(([plan, report, limit]) => [
  renderMarkdown(plan, report, { limit }), renderAnnotations(plan, report), renderText(plan)])));
"""


def escape(text: str) -> str:
    """Markdown's active characters backslash-escaped (CommonMark's backslash escapes)."""
    return re.sub(r"([\\`*_\[\]|#~!@])", r"\\\1", text)


def plans() -> list[tuple[str, regprune.Plan]]:
    out = []
    for path in VECTORS:
        v = json.loads(path.read_text())
        if "error" in v.get("expected", {}):
            continue
        snapshot = regprune.import_snapshot(v["import"]) if "import" in v else v["snapshot"]
        made = regprune.plan(snapshot, v["operation"], now=v["now"], pinned=v.get("pinned", []))
        out.append((path.stem, made))
    return out


def node(cases: list[tuple[str, dict[str, Any] | None, int]]) -> list[list[str]]:
    done = subprocess.run(
        ["node", "--input-type=module", "-e", NODE], input=json.dumps(cases),
        capture_output=True, text=True, timeout=120, cwd=ROOT / "npm", check=True,
    )  # fmt: skip
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def report_for(plan: regprune.Plan) -> dict[str, Any]:
    """A report as an execution gives one: the first action failed, the second skipped."""
    outcomes = []
    for i, a in enumerate(plan.to_dict()["actions"]):
        kind = ["failed", "skipped"][i] if i < 2 else "done"
        target = (
            f"{a['repository']}:{a['tag']}"
            if a.get("tag")
            else f"{a['repository']}@{a.get('digest')}"
        )
        outcomes.append({"action": i, "repository": a["repository"], "target": target,
                         "outcome": kind, "detail": f"why | {kind} <b>", "retries": 0})  # fmt: skip
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o["outcome"]] = counts.get(o["outcome"], 0) + 1
    return {"plan": plan.digest, "outcomes": outcomes, "counts": counts, "complete": False}


def test_every_vector_renders_the_same_bytes_in_python_and_node() -> None:
    made = plans()
    assert len(made) > 60
    cases: list[tuple[str, dict[str, Any] | None, int]] = []
    for _, p in made:
        cases.append((p.to_json(), None, 20))
        cases.append((p.to_json(), report_for(p), 3))
    from_node = node(cases)
    for (plan_json, report, limit), (md, notes, text) in zip(cases, from_node, strict=True):
        rep = None if report is None else json.dumps(report)
        assert (
            regprune.render_markdown(json.loads(plan_json), rep and json.loads(rep), limit=limit)
            == md
        )
        assert (
            regprune._native.render_annotations(plan_json.encode(), rep and rep.encode()) == notes
        )
        assert regprune.render_text(json.loads(plan_json)) == text


def test_the_summary_shows_totals_repositories_first_actions_and_grouped_warnings() -> None:
    for name, p in plans():
        d = p.to_dict()
        md = p.render_markdown(limit=2)
        assert md.startswith(f"## regprune plan: {len(d['actions'])} action(s), "), name
        assert "| Reclaimable | " in md and f"({d['reclaim']['totalBytes']} bytes)" in md, name
        for row in d["reclaim"]["byRepository"][:2]:
            assert f"| {escape(row['repository'])} | {row['manifests']} |" in md, name
        rows = re.findall(
            r"^\| (\d+) \| (untag|delete manifest|delete repository) \|", md, re.MULTILINE
        )
        assert [int(n) for n, _ in rows] == list(range(1, min(2, len(d["actions"])) + 1)), name
        if len(d["actions"]) > 2:
            assert f"… and {len(d['actions']) - 2} more actions" in md, name
        codes = list(dict.fromkeys(w["code"] for w in d["warnings"]))
        assert re.findall(r"^- \*\*(\w+)\*\* ×(\d+)", md, re.MULTILINE) == [
            (c, str(sum(w["code"] == c for w in d["warnings"]))) for c in codes
        ], name
        assert ("not exact" in md.split("\n")[0]) == (not d["reclaim"]["exact"]), name


def test_annotations_group_warnings_and_stay_within_githubs_ten_per_kind() -> None:
    for name, p in plans():
        d = p.to_dict()
        report = report_for(p)
        lines = regprune._native.render_annotations(
            p.to_json().encode(), json.dumps(report).encode()
        ).splitlines()
        codes = list(dict.fromkeys(w["code"] for w in d["warnings"]))
        warnings = [line for line in lines if line.startswith("::warning ")]
        errors = [line for line in lines if line.startswith("::error ")]
        skipped = 1 if len(d["actions"]) > 1 else 0
        assert len(warnings) == min(len(codes) + skipped, 10), name
        assert len(errors) == (1 if d["actions"] else 0), name
        for line in lines:
            assert re.match(r"^::(warning|error) title=[^:,]*::", line), line
        for line in errors:
            assert line.endswith("why | failed <b>"), line


def test_data_cannot_write_the_summary() -> None:
    snapshot = {
        "repositories": [
            {
                "name": "app",
                "manifests": [{"digest": "sha256:" + "1" * 64, "size": 10}],
                "tags": [],
            }
        ]
    }
    p = regprune.plan(snapshot, {"op": "deleteUntagged"}, now="2026-01-01T00:00:00Z")
    report = report_for(p)
    report["outcomes"][0]["detail"] = "| injected | row |\n## heading @here <img src=x>"
    md = regprune.render_markdown(p, report)
    assert "\n## heading" not in md and "<img" not in md and " @here" not in md
    assert "\\| injected \\| row \\|" in md


def test_the_text_preview_leads_with_totals_groups_by_repository_and_limits() -> None:
    for name, p in plans():
        d = p.to_dict()
        full = p.render_text()
        lines = full.splitlines()
        assert lines[0].startswith("Plan "), name
        assert lines[2].startswith("! ") == any(
            w["code"] == "requestNotEvaluated" for w in d["warnings"]
        ), name
        head = next(line for line in lines[2:] if re.match(r"^\d", line))
        assert lines.index(head) == lines.index("") + 1, name  # first after the top lines
        assert head.startswith(f"{len(d['actions'])} action(s): "), (name, head)
        reclaim_line = full.split("Reclaimable:", 1)[1].splitlines()[0]
        assert reclaim_line.endswith(", exact") == d["reclaim"]["exact"], name
        repos = list(dict.fromkeys(a["repository"] for a in d["actions"]))
        headers = [line for line in lines if re.match(r"^\S+ \(\d+ action\(s\)\)$", line)]
        assert [h.rsplit(" (", 1)[0] for h in headers] == repos, name
        limited = p.render_text(limit=1)
        if len(d["actions"]) > 1:
            assert f"… and {len(d['actions']) - 1} more action(s)" in limited, name
        for w in d["warnings"]:
            if len(w.get("items", [])) > 5 and w["code"] != "requestNotEvaluated":
                assert f"… and {len(w['items']) - 5} more" in full, name


def test_repeated_warnings_are_one_warning_with_every_item() -> None:
    """An acr purge on a snapshot without tag times: one warning for the request that could
    not be evaluated (every tag named once), never a warning per tag; and not exact."""
    digest = "sha256:" + "2" * 64
    tags = [{"name": f"v{i}", "digest": digest} for i in range(30)]
    snapshot = {
        "repositories": [
            {"name": "app", "manifests": [{"digest": digest, "size": 10}], "tags": tags}
        ]
    }
    p = regprune.plan(
        snapshot,
        {"op": "acrPurge", "command": "acr purge --filter 'app:.*' --ago 1d"},
        now="2026-01-01T00:00:00Z",
    ).to_dict()
    codes = [w["code"] for w in p["warnings"]]
    assert len(codes) == len({(w["code"], w["message"]) for w in p["warnings"]})
    assert codes[0] == "requestNotEvaluated"
    assert sorted(p["warnings"][0]["items"]) == sorted(f"app:v{i}" for i in range(30))
    assert p["reclaim"]["exact"] is False
    text = regprune.render_text(p)
    assert text.splitlines()[2].startswith("! the request could not be evaluated for 30 item(s)")
    assert text.count("the request could not be evaluated for 30") == 1  # said once, at the top
    assert "not exact:" in text
    md = regprune.render_markdown(p)
    assert md.splitlines()[0].endswith("(not exact)")
    assert md.splitlines()[2].startswith("> **the request could not be evaluated for 30 item(s)")
