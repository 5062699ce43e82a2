"""The ``regprune`` command: a shell around the core's command line.

The grammar, validation, help, rendering and exit codes are the core's (``regprune._native
.cli_*``), shared with the Node CLI; this module reads and writes the files an invocation
names, talks to the registry, asks for confirmation, and prints what the core rendered.
"""

from __future__ import annotations

import errno
import json
import logging
import sys
import time
from datetime import datetime, timezone
from typing import Any

import regprune
from regprune import _native, registry
from regprune.errors import RegpruneError

INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class _FileError(Exception):
    def __init__(self, path: str, e: OSError) -> None:
        code = errno.errorcode.get(e.errno or 0, "EIO")
        super().__init__(f"{path}: {code}")


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise _FileError(path, e) from e


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise _FileError(path, e) from e


def _emit(rendered: dict[str, Any], o: dict[str, Any] | None = None) -> int:
    o = o or {}
    if rendered.get("file") is not None and o.get("out"):
        _write(o["out"], rendered["file"])
    if rendered.get("summary") is not None and o.get("summaryMd"):
        _write(o["summaryMd"], rendered["summary"])
    sys.stdout.write(rendered["stdout"])
    sys.stdout.flush()
    sys.stderr.write(rendered["stderr"])
    return int(rendered["exit"])


def _render(kind: str, document: str, o: dict[str, Any], plan: str | None = None) -> int:
    return _emit(json.loads(_native.cli_render(kind, document, json.dumps(o), plan)), o)


def _verbose() -> None:
    """``--verbose``: the request log (``regprune`` logger, DEBUG) on stderr, one line each."""
    if not any(getattr(h, "regprune_verbose", False) for h in registry.log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.regprune_verbose = True  # type: ignore[attr-defined]
        registry.log.addHandler(handler)
    registry.log.setLevel(logging.DEBUG)


def _transport(o: dict[str, Any]) -> registry.Transport:
    given = o.get("username") or o.get("password")
    creds = registry.Credentials(o.get("username") or "", o.get("password") or "")
    return registry.Transport(
        o["registry"], creds if given else None,
        insecure=o["insecure"], timeout=o["timeout"], deadline=o["deadline"],
        github=bool(o.get("github")),
    )  # fmt: skip


def _status() -> Any:
    """The core's status line on a terminal (a crawl: its listing, then the manifests fetched
    and reused against the known total), redrawn when it changes, at most ten times a second."""
    if not sys.stderr.isatty():
        return None
    shown, last, at = [""], [""], [0.0]

    def show(line: str | None = None, end: bool = False) -> None:
        now = time.monotonic()
        line = last[0] if line is None else line
        last[0] = line
        if line and (end or (line != shown[0] and now - at[0] >= 0.1)):
            pad = " " * max(0, len(shown[0]) - len(line))
            print(f"\r{line}{pad}", end="\n" if end else "", file=sys.stderr, flush=True)
            shown[0], at[0] = line, now

    return show


def _bar(label: str) -> Any:
    """A progress bar on a terminal, for work whose total is known."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        filled = 30 * done // max(total, 1)
        end = "\n" if done == total else ""
        bar = "#" * filled + "." * (30 - filled)
        print(f"\r{label} [{bar}] {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show


def _crawl(
    o: dict[str, Any], repositories: list[str] | None = None, decide: dict[str, Any] | None = None
) -> Any:
    """A finished crawl of a live registry: its snapshot (``result_json()``), or a plan made
    on it in the core (``plan_json``), with no round trip through Python objects."""
    status = _status()
    snap = registry._crawl_session(
        _transport(o), flavour=o["flavour"], repositories=repositories,
        concurrency=o["concurrency"], on_status=status,
        save_manifests=o.get("saveManifests"), owner=o.get("owner"), github_api=o.get("githubApi"),
        hub_api=o.get("hubApi"), manifests=o.get("manifests"), decide=decide,
    )  # fmt: skip
    if status is not None:
        status(end=True)
    return snap


def snapshot(inv: dict[str, Any], o: dict[str, Any]) -> int:
    if o.get("storage"):
        snap = json.dumps(
            registry.read_storage(
                o["storage"], o.get("registry"), save_manifests=o.get("saveManifests")
            )
        )
    else:
        snap = _crawl(o, o["repository"]).result_json()
    return _render("snapshot", snap, o)


def plan(inv: dict[str, Any], o: dict[str, Any]) -> int:
    operation = inv["operation"]
    if "policyFile" in operation:
        try:
            policy = json.loads(_read(operation["policyFile"]))
        except ValueError as e:
            raise regprune.InvalidJsonError(
                f"{operation['policyFile']}: {e}", {"path": operation["policyFile"]}
            ) from e
        operation = {"op": "policy", "policy": policy}
    # One time for the crawl that reads for the plan and for the plan itself.
    now = o.get("now") or datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    decide = {"operation": operation, "now": now, "pinned": o["pin"]}
    if o.get("snapshot"):
        made = regprune.plan(_read(o["snapshot"]), operation, now=now, pinned=o["pin"])
    else:
        # Planned on the crawl's own snapshot, in the core: the same plan as from its JSON.
        session = _crawl(o, decide=decide if o["decisionsOnly"] else None)
        options = json.dumps({"now": now, "pinned": o["pin"]}).encode()
        made = regprune.Plan.from_json(session.plan_json(json.dumps(operation).encode(), options))
    return _render("plan", made.to_json(), o)


def execute(inv: dict[str, Any], o: dict[str, Any]) -> int:
    text = _read(inv["file"]).decode("utf-8", "replace").strip()
    _native.cli_check_plan(text, _read(o["snapshot"]) if o.get("snapshot") else None, json.dumps(o))
    transport = _transport(o)
    if o["output"] != "json":
        print(_native.cli_preview(text, json.dumps(o)))
    if not o["yes"]:
        prompt, not_confirmed, declined = _native.cli_confirmation()
        if not sys.stdin.isatty():
            print(not_confirmed, file=sys.stderr)
            return 2
        if not _native.cli_confirmed(input(prompt)):
            print(declined, file=sys.stderr)
            return 2
    report = registry.execute(
        text, transport, journal_path=o["journal"], flavour=o["flavour"], github_api=o.get("githubApi"),
        hub_api=o.get("hubApi"),
        concurrency=o["concurrency"], on_progress=_bar("execute"),
        manifests=o.get("manifests"), retarget=o["retargetRegistry"],
    )  # fmt: skip
    return _render("execute", report.to_json(), o, plan=text)


def undo(inv: dict[str, Any], o: dict[str, Any]) -> int:
    report = registry.undo(
        _read(inv["file"]), _transport(o), run=o.get("run"), dry_run=o["dryRun"],
        retarget=o["retargetRegistry"], concurrency=o["concurrency"],
    )  # fmt: skip
    return _render("undo", report.to_json(), o)


COMMANDS = {"snapshot": snapshot, "plan": plan, "execute": execute, "undo": undo}


def main(argv: list[str] | None = None) -> int:
    try:
        inv = json.loads(_native.cli_parse(sys.argv[1:] if argv is None else argv))
        if inv["options"].get("verbose"):
            _verbose()
        if inv["command"] in ("help", "version"):
            print(inv["text"], file=sys.stdout if inv["exit"] == 0 else sys.stderr)
            return int(inv["exit"])
        return COMMANDS[inv["command"]](inv, inv["options"])
    except RegpruneError as e:
        return _emit(json.loads(_native.cli_render_error(e.code, str(e))))
    except _FileError as e:
        return _emit(json.loads(_native.cli_render_error("file", str(e))))
    except KeyboardInterrupt:
        # A second Ctrl-C while an execution winds down, or one outside an execution.
        print("interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
