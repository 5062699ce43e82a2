"""The ``regprune`` command: snapshot, plan, execute, undo.

Exit codes: 0 success; 1 some actions failed (partial); 2 refused (bad input, an edited plan,
confirmation declined); 3 the registry could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import regprune
from regprune import registry
from regprune.errors import RegpruneError

OK, PARTIAL, REFUSED, UNREACHABLE = 0, 1, 2, 3
INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def _transport(args: argparse.Namespace) -> registry.Transport:
    given = args.username or args.password
    creds = registry.Credentials(args.username or "", args.password or "") if given else None
    return registry.Transport(
        args.registry,
        creds,
        insecure=args.insecure,
        timeout=args.timeout,
        deadline=args.deadline,
    )


def _progress(label: str) -> Any:
    """A request counter on a terminal (a crawl's total is unknown until it ends)."""
    if not sys.stderr.isatty():
        return None

    def show(n: int) -> None:
        if n % 10 == 0:
            sys.stderr.write(f"\r{label}: {n} requests")
            sys.stderr.flush()

    return show


def _bar(label: str) -> Any:
    """A progress bar on a terminal, for work whose total is known."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _operation(args: argparse.Namespace) -> dict[str, Any]:
    op = args.op
    if op == "delete-repo":
        return {"op": "deleteRepository", "repository": args.target}
    if op == "delete":
        return {"op": "deleteImage", "image": args.target}
    if op == "untag":
        return {"op": "untag", "image": args.target}
    if op == "delete-older-than":
        return {
            "op": "deleteOlderThan",
            "repository": args.target,
            "before": args.before,
            "field": args.field,
        }
    if op == "delete-untagged":
        return {"op": "deleteUntagged", **({"repository": args.target} if args.target else {})}
    if op == "retention":
        return {"op": "retention", "days": args.days, "enabledAt": args.enabled_at}
    if op == "purge":
        d: dict[str, Any] = {
            "op": "purge",
            "filter": args.filter,
            "keep": args.keep,
            "untagged": args.untagged,
        }
        d.update({"ago": args.ago} if args.ago else {"before": args.before})
        return d
    if op == "acr-purge":
        return {"op": "acrPurge", "command": args.command}
    with open(args.file, encoding="utf-8") as f:
        return {"op": "policy", "policy": json.load(f)}


def _crawl(args: argparse.Namespace, repositories: list[str] | None = None) -> dict[str, Any]:
    return registry.crawl(
        _transport(args),
        flavour=args.flavour,
        repositories=repositories,
        concurrency=args.concurrency,
        on_progress=_progress("crawl"),
        save_manifests=args.save_manifests,
    )


def cmd_snapshot(args: argparse.Namespace) -> int:
    if args.storage:
        snap = registry.read_storage(
            args.storage, args.registry, save_manifests=args.save_manifests
        )
    else:
        snap = _crawl(args, args.repository)
    text = json.dumps(snap, indent=None if args.output == "json" else 2)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        n = sum(len(r["manifests"]) for r in snap["repositories"])
        print(
            f"{len(snap['repositories'])} repositories, {n} manifests -> {args.out}",
            file=sys.stderr,
        )
    else:
        print(text)
    return OK


def cmd_plan(args: argparse.Namespace) -> int:
    snapshot: Any = args.snapshot if args.snapshot else _crawl(args)
    plan = regprune.plan(snapshot, _operation(args), now=args.now, pinned=args.pin)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(plan.to_json() + "\n")
    print(plan.to_json() if args.output == "json" else plan.render_text())
    return OK


def cmd_execute(args: argparse.Namespace) -> int:
    with open(args.plan, encoding="utf-8") as f:
        text = f.read().strip()
    plan = regprune.Plan.from_json(text)
    if not plan.verify():
        print(
            "refused: the plan's digest does not match its content (edited after review?)",
            file=sys.stderr,
        )
        return REFUSED
    if args.snapshot:
        # The plan must be exactly what its operation gives against its evidence.
        regprune.check_evidence(text, args.snapshot)
    if args.output != "json":
        print(plan.render_text())
    if not args.yes:
        if not sys.stdin.isatty():
            print("refused: not confirmed (pass --yes to run without a terminal)", file=sys.stderr)
            return REFUSED
        if input("Are you sure you want to continue? (y/n): ").strip().lower() not in ("y", "yes"):
            return REFUSED
    report = registry.execute(
        text,
        _transport(args),
        journal_path=args.journal,
        flavour=args.flavour,
        concurrency=args.concurrency,
        on_progress=_bar("execute"),
        manifests=args.manifests,
        retarget=args.retarget_registry,
    )
    if args.output == "json":
        print(json.dumps(report))
    else:
        if report.get("retargeted"):
            print(f"retargeted: the plan was made for {_safe(report['retargeted'])}")
        if report.get("interrupted"):
            print("interrupted: nothing more was sent; what had not started is listed below")
        for o in report["outcomes"]:
            print(f"{o['outcome']:<12} {_safe(o['target'])}  {_safe(o['detail'])}")
        print(" ".join(f"{k}={v}" for k, v in sorted(report["counts"].items())))
    return OK if report["complete"] else PARTIAL


def cmd_undo(args: argparse.Namespace) -> int:
    report = registry.undo(
        args.journal,
        _transport(args),
        run=args.run,
        dry_run=args.dry_run,
        retarget=args.retarget_registry,
        concurrency=args.concurrency,
    )
    if args.output == "json":
        print(json.dumps(report))
    else:
        print(f"run {_safe(report['run'] or '(no run id)')} of plan {report['plan'] or '(none)'}")
        for s in report["skippedLines"]:
            print(f"skipped      line {s['line']}: {_safe(s['reason'])}")
        for r in report["results"]:
            tags = " ".join(r["tags"])
            print(
                f"{r['outcome']:<12} {r['repository']}@{r['digest']} {tags}  {_safe(r['detail'])}"
            )
        print(" ".join(f"{k}={v}" for k, v in sorted(report["counts"].items())))
    if args.dry_run:
        return OK
    return OK if report["complete"] else PARTIAL


def _safe(text: str) -> str:
    """Text from data, safe for a terminal (control characters escaped, as the core does)."""
    return regprune.escape_controls(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="regprune", description="Plan, preview and run container registry deletions."
    )
    p.add_argument("--version", action="version", version=f"regprune {regprune.__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser, needs_registry: bool) -> None:
        sp.add_argument(
            "--registry",
            required=needs_registry,
            help="registry URL (https://host, or http://127.0.0.1:5000)",
        )
        sp.add_argument("--username", help="or REGPRUNE_USERNAME")
        sp.add_argument("--password", help="or REGPRUNE_PASSWORD (prefer the environment)")
        sp.add_argument(
            "--insecure", action="store_true", help="allow plain HTTP to a non-loopback host"
        )
        sp.add_argument(
            "--concurrency",
            type=int,
            default=registry.DEFAULT_CONCURRENCY,
            help=f"requests in flight (max {registry.MAX_CONCURRENCY})",
        )
        sp.add_argument(
            "--timeout",
            type=float,
            default=60.0,
            help="seconds without a byte before a request fails and is retried (default 60)",
        )
        sp.add_argument(
            "--deadline",
            type=float,
            default=300.0,
            help="seconds one request may take in all, however slowly it answers (default 300)",
        )
        sp.add_argument("--output", choices=["text", "json"], default="text")
        sp.add_argument(
            "--flavour",
            choices=["auto", "oci", "acr"],
            default="auto",
            help="the registry's API (detected by default)",
        )

    s = sub.add_parser(
        "snapshot", help="read a live registry, or its storage directory, into a snapshot file"
    )
    common(s, False)
    s.add_argument(
        "--storage",
        help="a distribution registry's storage directory: sees untagged manifests, exact sizes",
    )
    s.add_argument("--repository", action="append", default=[], help="only these repositories")
    s.add_argument("-o", "--out", help="write the snapshot here")
    s.add_argument(
        "--save-manifests",
        metavar="DIR",
        help="save each crawled manifest's bytes (blobs/<alg>/<hex>) for `execute --manifests`",
    )
    s.set_defaults(func=cmd_snapshot)

    pl = sub.add_parser("plan", help="plan an operation against a snapshot file or a live registry")
    common(pl, False)
    pl.add_argument("--snapshot", help="snapshot file (else --registry is crawled)")
    pl.add_argument("--now", help="RFC 3339 time to plan for (default: now)")
    pl.add_argument("--pin", action="append", default=[], help="digest that must survive")
    pl.add_argument("-o", "--out", help="write the plan JSON here, for `regprune execute`")
    pl.add_argument(
        "--save-manifests",
        metavar="DIR",
        help="save each crawled manifest's bytes (blobs/<alg>/<hex>) for `execute --manifests`",
    )
    ops = pl.add_subparsers(dest="op", required=True)
    for name in ("delete-repo", "delete", "untag"):
        ops.add_parser(name).add_argument("target")
    o = ops.add_parser("delete-older-than")
    o.add_argument("target")
    o.add_argument("before")
    o.add_argument("--field", default="lastUpdateTime", choices=["lastUpdateTime", "createdTime"])
    ops.add_parser("delete-untagged").add_argument("target", nargs="?")
    r = ops.add_parser("retention")
    r.add_argument("days", type=int)
    r.add_argument("enabled_at")
    pu = ops.add_parser("purge")
    pu.add_argument("--filter", action="append", default=[])
    pu.add_argument("--ago")
    pu.add_argument("--before")
    pu.add_argument("--keep", type=int, default=0)
    pu.add_argument("--untagged", action="store_true")
    ops.add_parser("acr-purge").add_argument("command", help="the acr purge command line, quoted")
    ops.add_parser("policy").add_argument("file")
    pl.set_defaults(func=cmd_plan)

    e = sub.add_parser("execute", help="carry out a reviewed plan exactly")
    common(e, True)
    e.add_argument("plan")
    e.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    e.add_argument(
        "--journal",
        default="regprune-journal.jsonl",
        help="where to record what is deleted, for undo",
    )
    e.add_argument(
        "--manifests",
        metavar="DIR",
        help="manifests saved by --save-manifests: journaled without fetching each again",
    )
    e.add_argument(
        "--retarget-registry",
        action="store_true",
        help="run a plan made for another registry against --registry (a mirror, a proxy)",
    )
    e.add_argument(
        "--snapshot",
        metavar="FILE",
        help="the snapshot the plan was made from: refuse a plan that does not follow from it",
    )
    e.set_defaults(func=cmd_execute)

    u = sub.add_parser("undo", help="push back what a journal recorded")
    common(u, True)
    u.add_argument("journal")
    u.add_argument("--run", help="the run to undo (default: the journal's last)")
    u.add_argument("--dry-run", action="store_true", help="list what would be restored")
    u.add_argument(
        "--retarget-registry",
        action="store_true",
        help="restore into another registry than the journal's",
    )
    u.set_defaults(func=cmd_undo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except RegpruneError as e:
        print(f"error: {_safe(str(e))}", file=sys.stderr)
        return REFUSED
    except OSError as e:
        print(f"error: {_safe(str(e))}", file=sys.stderr)
        return UNREACHABLE
    except KeyboardInterrupt:
        # A second Ctrl-C while an execution winds down, or one outside an execution.
        print("interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
