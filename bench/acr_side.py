"""regprune and the real `acr purge`, side by side on the ACR API emulator (issue 30).

    python bench/acr_side.py [--sizes 20x500,50x1000] [--runs 3] [--json FILE]

Needs `../shared/tools/acr-oracle/` (the real `acr` binary and `acr_emulator.py`); without it
the benchmark says it skipped. For each size (repositories x tags) one registry state is
generated (seeded; real sha256 digests over the emulator's manifest bytes), and each run
starts a fresh emulator process on it for:

- acr's dry run: `acr purge --filter '.*:.*' --ago 30d --untagged --dry-run`;
- regprune's first preview: `regprune plan acr-purge '<same>' --registry ...`, crawling with an
  empty manifest store (`--cache DIR`), so every manifest is fetched once and saved;
- regprune's second preview: the same command on the unchanged registry, with the store;
- `acr purge` for real, and `regprune execute` of the first preview's plan (with the store).

The registry's images carry no lock on a multi-arch index: acr deletes the children of a
locked index (a known acr bug, docs/ACR_PURGE.md case D) where regprune keeps them.

The emulator logs every request (what each client really sent) and its own CPU. Each client
runs as a child process, its CPU read from the kernel's rusage when it exits. Both sides'
deletions are compared: the tags and manifests acr's dry run names against the plan's, and
what the emulator saw deleted by each execution.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ORACLE = Path(
    os.environ.get("ACR_ORACLE", ROOT.parent / "shared" / "tools" / "acr-oracle")
)
REGPRUNE = ROOT / ".venv" / "bin" / "regprune"
PURGE = "acr purge --filter '.*:.*' --ago 30d --untagged"
DAY = 86400.0

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def available() -> str | None:
    """Why the side-by-side cannot run here, or None."""
    if not (ORACLE / "acr").exists() or not (ORACLE / "acr_emulator.py").exists():
        return f"{ORACLE} (the real acr and its emulator) is not here"
    if shutil.which("openssl") is None:
        return "openssl is not installed (the emulator's certificate)"
    if not REGPRUNE.exists():
        return f"{REGPRUNE} is missing (make python)"
    return None


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def generate(repos: int, tags: int, now: float, seed: int = 30) -> dict[str, Any]:
    """A registry like a CI's: per repository `tags` tagged images over 90 days (a fifth of
    them multi-arch indexes of two children, Docker and OCI types alike), untagged leftovers
    (a fifth as many), signatures on a tenth of the OCI images, shared base layers, a few
    locks. Times are kept two days clear of the 30-day cut."""
    sys.path.insert(0, str(ORACLE))
    import acr_emulator as emu

    rng = random.Random(seed)

    def blob(size: int) -> dict[str, Any]:
        return {"digest": f"sha256:{rng.getrandbits(256):064x}", "size": size}

    def when() -> float:
        age = rng.uniform(0, 90)
        if 28 <= age <= 32:
            age += 5
        return now - age * DAY - rng.uniform(0, 3600)

    def finish(
        m: dict[str, Any], child_types: dict[str, str] | None = None
    ) -> dict[str, Any]:
        m["digest"] = (
            "sha256:" + hashlib.sha256(emu.manifest_bytes(m, child_types)).hexdigest()
        )
        return m

    def image(
        t: float, mt: str, base: list[dict[str, Any]], **extra: Any
    ) -> dict[str, Any]:
        layers = base + [
            blob(rng.randint(1_000, 50_000_000)) for _ in range(rng.randint(1, 3))
        ]
        m = {
            "mediaType": mt,
            "config": blob(rng.randint(500, 5000)),
            "layers": layers,
            "createdTime": iso(t),
            "lastUpdateTime": iso(t),
            "imageSize": sum(x["size"] for x in layers),
            **extra,
        }
        return finish(m)

    out = []
    for r in range(repos):
        name = f"team{r % 7}/service-{r:03d}"
        base = [blob(rng.randint(10_000_000, 80_000_000)) for _ in range(3)]
        manifests: list[dict[str, Any]] = []
        tag_list: list[dict[str, Any]] = []
        for i in range(tags):
            t = when()
            oci = rng.random() < 0.5
            if rng.random() < 0.2:
                kids = [
                    image(t, OCI_MANIFEST if oci else DOCKER_MANIFEST, base)
                    for _ in range(2)
                ]
                for k, arch in zip(kids, ("amd64", "arm64")):
                    k["platform"] = {"architecture": arch, "os": "linux"}
                manifests.extend(kids)
                child_types = {k["digest"]: k["mediaType"] for k in kids}
                top = {
                    "mediaType": OCI_INDEX if oci else DOCKER_LIST,
                    "manifests": [
                        {
                            "digest": k["digest"],
                            "mediaType": k["mediaType"],
                            "size": 500,
                            "platform": k["platform"],
                        }
                        for k in kids
                    ],
                    "createdTime": iso(t),
                    "lastUpdateTime": iso(t),
                }
                finish(top, child_types)
            else:
                top = image(t, OCI_MANIFEST if oci else DOCKER_MANIFEST, base)
            # Locks on single images only: the children of a locked index are a known
            # difference (acr deletes them, docs/ACR_PURGE.md case D), measured apart.
            if rng.random() < 0.02 and "manifests" not in top:
                top["changeableAttributes"] = {
                    "deleteEnabled": False,
                    "writeEnabled": False,
                }
            manifests.append(top)
            tag_list.append(
                {
                    "name": f"build-{i:05d}",
                    "digest": top["digest"],
                    "createdTime": iso(t),
                    "lastUpdateTime": iso(t),
                }
            )
            if oci and top["mediaType"] == OCI_MANIFEST and rng.random() < 0.1:
                sig = {
                    "mediaType": OCI_MANIFEST,
                    "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
                    "config": {
                        "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
                        "size": 2,
                    },
                    "layers": [blob(rng.randint(200, 900))],
                    "subject": {
                        "digest": top["digest"],
                        "mediaType": OCI_MANIFEST,
                        "size": 500,
                    },
                    "createdTime": iso(t),
                    "lastUpdateTime": iso(t),
                }
                manifests.append(finish(sig))
        for _ in range(tags // 5):
            t = when()
            manifests.append(
                image(t, OCI_MANIFEST if rng.random() < 0.5 else DOCKER_MANIFEST, base)
            )
        seen: set[str] = set()
        unique = [
            m for m in manifests if not (m["digest"] in seen or seen.add(m["digest"]))
        ]
        out.append({"name": name, "manifests": unique, "tags": tag_list})
    out.sort(key=lambda r: r["name"])
    return {"registry": "127.0.0.1", "complete": True, "repositories": out}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """One emulator process serving a fresh copy of the state; its log on exit."""

    def __init__(self, snapshot: Path, scratch: Path, port: int) -> None:
        self.port = port
        self.log = scratch / f"emulator-{self.port}.json"
        self.certdir = scratch / "cert"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ORACLE / "acr_emulator.py"),
                str(snapshot),
                "--port",
                str(self.port),
                "--certdir",
                str(self.certdir),
                "--log",
                str(self.log),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "listening" not in line:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.cert = str(self.certdir / "cert.pem")

    def stop(self) -> dict[str, Any]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        return json.loads(self.log.read_text())


def timed(
    argv: list[str], env: dict[str, str], stdin: str | None = None
) -> dict[str, Any]:
    """Runs a client to the end; its CPU from the kernel's rusage of reaped children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run(
        argv,
        check=False,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"{argv[0]} exited {p.returncode}: {p.stderr[-2000:]}")
    return {
        "wall": wall,
        "cpu": cpu,
        "stdout": p.stdout,
        "stderr": p.stderr,
        "rc": p.returncode,
    }


def kind(r: dict[str, Any]) -> str:
    """A request's kind, for the table: what was asked, and 401s apart."""
    if r.get("status") == 401:
        return "401 challenge"
    path = r["path"].split("?")[0]
    m = r["method"]
    if path.endswith("/_catalog"):
        return "catalog"
    if path.endswith("/_tags"):
        return "tag listing"
    if path.endswith("/_manifests"):
        return "manifest listing"
    if "/_tags/" in path:
        return {
            "GET": "tag attributes GET",
            "DELETE": "tag DELETE",
            "PATCH": "PATCH",
        }.get(m, m)
    if "/_manifests/" in path:
        return {"GET": "manifest attributes GET", "PATCH": "PATCH"}.get(m, m)
    if "/manifests/" in path:
        return {
            "GET": "manifest GET",
            "HEAD": "manifest HEAD",
            "DELETE": "manifest DELETE",
        }.get(m, m)
    return f"{m} other"


def summarise(log: dict[str, Any], client: dict[str, Any]) -> dict[str, Any]:
    kinds = Counter(kind(r) for r in log["requests"])
    n = len(log["requests"])
    return {
        "requests": n,
        "kinds": dict(kinds),
        "clientCpu": client["cpu"],
        "wall": client["wall"],
        "emulatorCpu": log["rusage"]["utime"] + log["rusage"]["stime"],
        "cpuPerRequest": client["cpu"] / n if n else 0.0,
        "connections": log.get("connections", 0),
    }


def acr_deleted(log: dict[str, Any]) -> tuple[set, set]:
    """What is gone from the emulator after a client's run: (repo, tag) and (repo, digest),
    whether the client deleted it or the server did (referrers go with their subject)."""
    tags, mans = set(), set()
    for d in log["deletes"]:
        if d["kind"] == "deleteTag":
            tags.add((d["repo"], d["tag"]))
        elif d["kind"] in ("deleteManifest", "cascadeDelete"):
            mans.add((d["repo"], d["digest"]))
            tags.update((d["repo"], t) for t in d["tags"])
    return tags, mans


def dry_run_named(stdout: str, port: int) -> tuple[set, set]:
    tags, mans = set(), set()
    prefix = f"Would delete: 127.0.0.1:{port}/"
    for line in stdout.splitlines():
        if line.startswith(prefix):
            ref = line[len(prefix) :]
            if "@" in ref:
                mans.add(tuple(ref.split("@", 1)))
            else:
                tags.add(tuple(ref.rsplit(":", 1)))
    return tags, mans


def plan_named(plan: dict[str, Any]) -> tuple[set, set]:
    tags, mans = set(), set()
    for a in plan["actions"]:
        if a["type"] == "untag":
            tags.add((a["repository"], a["tag"]))
        elif a["type"] == "deleteManifest" and not a.get("cascadeOf"):
            mans.add((a["repository"], a["digest"]))
            tags.update((a["repository"], t) for t in a.get("tags", []))
    return tags, mans


def differences(state: dict[str, Any], ours: set, theirs: set) -> dict[str, int]:
    """What each manifest only one side deletes is, by kind: a child of a locked index,
    a locked one, a referrer, a child of an index, a manifest (by media type)."""
    info: dict[tuple[str, str], str] = {}
    for r in state["repositories"]:
        locked = {
            m["digest"]
            for m in r["manifests"]
            if (m.get("changeableAttributes") or {}).get("deleteEnabled") is False
        }
        for m in r["manifests"]:
            for c in m.get("manifests") or []:
                kind = (
                    "child of a locked index"
                    if m["digest"] in locked
                    else "child of an index"
                )
                info[(r["name"], c["digest"])] = kind
        for m in r["manifests"]:
            key = (r["name"], m["digest"])
            if m["digest"] in locked:
                info[key] = "locked"
            elif m.get("subject"):
                info[key] = "referrer"
            else:
                info.setdefault(key, m.get("mediaType", "?").rsplit(".", 2)[-2])
    out: Counter = Counter()
    for side, items in (("only regprune", ours - theirs), ("only acr", theirs - ours)):
        for key in items:
            out[f"{side}: {info.get(key, 'unknown')}"] += 1
    return dict(out)


def replay(requests_file: Path, port: int, cafile: str, threads: int = 8) -> None:
    """A raw client, no regprune: sends the listed requests (method and path) with
    `http.client` on keep-alive TLS connections, `threads` at a time, Basic credentials up
    front, and reads each answer whole: what any Python client pays per request here."""
    import base64
    import http.client
    import ssl
    import threading

    todo = json.loads(requests_file.read_text())
    auth = "Basic " + base64.b64encode(b"u:p").decode()
    tls = ssl.create_default_context(cafile=cafile)
    lock, state = threading.Lock(), {"next": 0}

    def worker() -> None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls)
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= len(todo):
                conn.close()
                return
            method, path = todo[i]
            conn.request(method, path, headers={"Authorization": auth})
            conn.getresponse().read()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def raw_floor(
    snapshot: Path,
    scratch: Path,
    port: int,
    log: dict[str, Any],
    base_env: dict[str, str],
) -> dict[str, Any]:
    """The requests a regprune run sent (its emulator log), sent again by the raw client to a
    fresh emulator: the same work without regprune."""
    todo = scratch / "replay.json"
    sent = [(r["method"], r["path"]) for r in log["requests"] if r.get("status") != 401]
    todo.write_text(json.dumps(sent))
    emu = Emulator(snapshot, scratch, port)
    argv = [sys.executable, str(Path(__file__).resolve()), "--replay", str(todo)]
    argv += ["--port", str(port), "--cafile", emu.cert]
    client = timed(argv, base_env)
    return summarise(emu.stop(), client)


def one_run(snapshot: Path, scratch: Path, now: str) -> dict[str, Any]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("REGPRUNE_")}
    state = json.loads(snapshot.read_text())
    port = (
        free_port()
    )  # one port for the run: a plan is bound to its registry's host:port
    store = scratch / "store"
    shutil.rmtree(store, ignore_errors=True)
    out: dict[str, Any] = {}

    def acr(extra: list[str]) -> tuple[dict[str, Any], dict[str, Any], int]:
        emu = Emulator(snapshot, scratch, port)
        home = scratch / "home"
        home.mkdir(exist_ok=True)
        env = {**base_env, "SSL_CERT_FILE": emu.cert, "HOME": str(home)}
        argv = [str(ORACLE / "acr"), "purge", "--registry", f"127.0.0.1:{emu.port}"]
        argv += [
            "--username",
            "u",
            "--password",
            "p",
            "--filter",
            ".*:.*",
            "--ago",
            "30d",
            "--untagged",
        ]
        client = timed(argv + extra, env)
        return client, emu.stop(), emu.port

    def regprune(args: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        emu = Emulator(snapshot, scratch, port)
        env = {
            **base_env,
            "SSL_CERT_FILE": emu.cert,
            "REGPRUNE_USERNAME": "u",
            "REGPRUNE_PASSWORD": "p",
        }
        client = timed(
            [str(REGPRUNE), *args, "--registry", f"https://127.0.0.1:{emu.port}"], env
        )
        return client, emu.stop()

    client, log, port = acr(["--dry-run"])
    out["acrDryRun"] = summarise(log, client)
    dry_tags, dry_mans = dry_run_named(client["stdout"], port)

    # --decisions-only: only what decides the plan is read (its own store, its own execution,
    # whose journal then fetches what the preview did not read).
    lazy_store, lazy_plan = scratch / "lazy-store", scratch / "plan-lazy.json"
    shutil.rmtree(lazy_store, ignore_errors=True)
    # The same preview as acr's dry run, for the same `now`.
    purge_plan = ["plan", "acr-purge", PURGE, "--now", now, "--flavour", "acr"]
    lazy = [*purge_plan, "--decisions-only"]
    client, log = regprune([*lazy, "--cache", str(lazy_store), "-o", str(lazy_plan)])
    out["regpruneDecisions"] = summarise(log, client)
    lazy_tags, lazy_mans = plan_named(json.loads(lazy_plan.read_text()))
    lazy_journal = scratch / "journal-lazy.jsonl"
    lazy_journal.unlink(missing_ok=True)
    client, log = regprune(
        ["execute", str(lazy_plan), "--yes", "--cache", str(lazy_store),
         "--journal", str(lazy_journal), "--output", "json"]
    )  # fmt: skip
    out["regpruneDecisionsExecute"] = summarise(log, client)
    lazy_done = acr_deleted(log)

    plan_file = scratch / "plan.json"
    preview = [*purge_plan, "--cache", str(store)]
    client, log = regprune([*preview, "-o", str(plan_file)])
    out["regpruneFirst"] = summarise(log, client)
    out["rawFirst"] = raw_floor(snapshot, scratch, port, log, base_env)
    plan = json.loads(plan_file.read_text())
    plan_tags, plan_mans = plan_named(plan)

    client, log = regprune([*preview, "-o", str(scratch / "plan2.json")])
    out["regpruneSecond"] = summarise(log, client)
    same_plan = (
        json.loads((scratch / "plan2.json").read_text())["digest"] == plan["digest"]
    )

    client, log, _ = acr([])
    out["acrPurge"] = summarise(log, client)
    acr_tags, acr_mans = acr_deleted(log)

    journal = scratch / "journal.jsonl"
    journal.unlink(missing_ok=True)
    execute = [
        "execute",
        str(plan_file),
        "--yes",
        "--cache",
        str(store),
        "--journal",
        str(journal),
    ]
    client, log = regprune([*execute, "--output", "json"])
    out["regpruneExecute"] = summarise(log, client)
    out["rawExecute"] = raw_floor(snapshot, scratch, port, log, base_env)
    rp_tags, rp_mans = acr_deleted(log)
    report = json.loads(client["stdout"])

    out["same"] = {
        "previewTags": dry_tags == plan_tags,
        "previewManifests": dry_mans == plan_mans,
        "executedTags": acr_tags == rp_tags,
        "executedManifests": acr_mans == rp_mans,
        "secondPlanSame": same_plan,
        "decisionsTags": lazy_tags == dry_tags,
        "decisionsManifests": lazy_mans == dry_mans,
        "decisionsExecuted": lazy_done == (acr_tags, acr_mans),
        "counts": {
            "acrDryRun": [len(dry_tags), len(dry_mans)],
            "plan": [len(plan_tags), len(plan_mans)],
            "acrPurge": [len(acr_tags), len(acr_mans)],
            "regpruneExecute": [len(rp_tags), len(rp_mans)],
        },
        "failed": sum(
            1 for o in report.get("outcomes", []) if o.get("outcome") == "failed"
        ),
        "previewDifferences": differences(state, plan_mans, dry_mans),
        "executedDifferences": differences(state, rp_mans, acr_mans),
    }
    return out


def median_of(runs: list[dict[str, Any]], side: str, key: str) -> dict[str, float]:
    xs = [r[side][key] for r in runs]
    return {
        "median": statistics.median(xs),
        "min": min(xs),
        "max": max(xs),
        "n": len(xs),
    }


def measure(sizes: list[tuple[int, int]], runs: int, scratch: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    now_t = time.time()
    for repos, tags in sizes:
        label = f"{repos}x{tags}"
        state = generate(repos, tags, now_t)
        snap = scratch / f"registry-{label}.json"
        snap.write_text(json.dumps(state))
        manifests = sum(len(r["manifests"]) for r in state["repositories"])
        rounds = []
        for i in range(runs):
            print(
                f"acr side by side {label}: run {i + 1} of {runs}",
                file=sys.stderr,
                flush=True,
            )
            rounds.append(one_run(snap, scratch, iso(now_t)))
        results[label] = {
            "repositories": repos,
            "tags": repos * tags,
            "manifests": manifests,
            "runs": rounds,
        }
    return results


SIDES = [
    ("acrDryRun", "acr purge --dry-run"),
    ("regpruneFirst", "regprune preview, empty store"),
    ("rawFirst", "raw Python client, the same requests"),
    ("regpruneSecond", "regprune preview, unchanged registry"),
    ("regpruneDecisions", "regprune preview --decisions-only, empty store"),
    ("acrPurge", "acr purge"),
    ("regpruneExecute", "regprune execute (store)"),
    ("rawExecute", "raw Python client, the same requests"),
    ("regpruneDecisionsExecute", "regprune execute after --decisions-only"),
]
KINDS = [
    "401 challenge",
    "catalog",
    "tag listing",
    "manifest listing",
    "manifest GET",
    "tag attributes GET",
    "manifest attributes GET",
    "tag DELETE",
    "manifest DELETE",
    "PATCH",
]
START, END = "<!-- acr-side:start -->", "<!-- acr-side:end -->"


def section(
    results: dict[str, Any], skipped: str | None = None, measured: str = ""
) -> str:
    """The Markdown section of docs/BENCHMARKS.md (between its markers)."""
    out = [START, "## 8. Side by side with the real `acr purge`", ""]
    if measured:
        out += [
            f"Measured {measured}, {os.cpu_count()} cores, Python {platform.python_version()}.",
            "",
        ]

    def med(
        runs: list[dict[str, Any]], side: str, f: Any
    ) -> tuple[float, float, float]:
        xs = [f(r[side]) for r in runs]
        return statistics.median(xs), min(xs), max(xs)

    verdicts: list[str] = []
    for label, res in results.items():
        runs = res["runs"]
        out += [
            (
                f"### {label}: {res['repositories']} repositories, {res['tags']:,} tags, "
                f"{res['manifests']:,} manifests ({len(runs)} runs)"
            ),
            "",
            "| side | requests | client CPU | CPU per request | wall | emulator CPU |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for side, name in SIDES:
            n = med(runs, side, lambda x: x["requests"])
            cpu = med(runs, side, lambda x: x["clientCpu"])
            per = med(runs, side, lambda x: x["cpuPerRequest"] * 1000)
            wall = med(runs, side, lambda x: x["wall"])
            emu = med(runs, side, lambda x: x["emulatorCpu"])
            out.append(
                f"| {name} | {n[0]:,.0f} ({n[1]:,.0f}–{n[2]:,.0f}) | {cpu[0]:.2f} s ({cpu[1]:.2f}–{cpu[2]:.2f}) "
                f"| {per[0]:.3f} ms | {wall[0]:.2f} s ({wall[1]:.2f}–{wall[2]:.2f}) | {emu[0]:.2f} s |"
            )
        out += [
            "",
            "Requests by kind (medians):",
            "",
            "| kind | " + " | ".join(n for _, n in SIDES) + " |",
        ]
        out.append("|---|" + "---:|" * len(SIDES))
        for kind in KINDS:
            row = [
                med(runs, side, lambda x, k=kind: x["kinds"].get(k, 0))[0]
                for side, _ in SIDES
            ]
            if any(row):
                out.append(f"| {kind} | " + " | ".join(f"{v:,.0f}" for v in row) + " |")

        def ratio(a: str, b: str, runs: list[dict[str, Any]] = runs) -> float:
            requests = lambda x: x["requests"]
            return med(runs, a, requests)[0] / med(runs, b, requests)[0]

        def per_req(side: str, runs: list[dict[str, Any]] = runs) -> float:
            return med(runs, side, lambda x: x["cpuPerRequest"])[0]

        same = all(
            all(v for k, v in r["same"].items() if isinstance(v, bool)) for r in runs
        )
        a, b, c = (
            ratio("regpruneFirst", "acrDryRun"),
            ratio("regpruneSecond", "acrDryRun"),
            ratio("regpruneExecute", "acrPurge"),
        )
        d1 = per_req("regpruneFirst") / per_req("acrDryRun")
        d2 = per_req("regpruneExecute") / per_req("acrPurge")
        f1 = per_req("rawFirst") / per_req("acrDryRun")
        f2 = per_req("rawExecute") / per_req("acrPurge")
        counts = runs[0]["same"]["counts"]

        def n(side: str, runs: list[dict[str, Any]] = runs) -> float:
            return med(runs, side, lambda x: x["requests"])[0]

        gets = med(runs, "regpruneFirst", lambda x: x["kinds"].get("manifest GET", 0))[
            0
        ]
        # Any preview that gives exact bytes reads every manifest that goes (their layers), on
        # top of the listings every preview makes.
        floor = n("regpruneFirst") - gets + counts["acrPurge"][1]
        first_night = (n("regpruneFirst") + n("regpruneExecute")) / (
            n("acrDryRun") + n("acrPurge")
        )
        later = (n("regpruneSecond") + n("regpruneExecute")) / (
            n("acrDryRun") + n("acrPurge")
        )
        lazy_night = (n("regpruneDecisions") + n("regpruneDecisionsExecute")) / (
            n("acrDryRun") + n("acrPurge")
        )
        out += [
            "",
            (
                f"- (a) first preview: {a:.2f}× acr's dry-run requests (target ≤ 1.2: "
                f"{'met' if a <= 1.2 else '**missed**'}). A floor for any preview that gives "
                f"exact bytes: its listings and one `GET` of each manifest that goes (its "
                f"layers), {floor:,.0f} requests, {floor / n('acrDryRun'):.2f}× acr's dry run; "
                f"acr reads only what decides its deletions and reports no bytes."
            ),
            (
                f"- (a) with `--decisions-only` (ACR: indexes, and what the plan deletes that may "
                f"be a referrer, are read; reclaimable bytes an upper bound): "
                f"{ratio('regpruneDecisions', 'acrDryRun'):.2f}× acr's dry-run requests (target "
                f"≤ 1.2: {'met' if ratio('regpruneDecisions', 'acrDryRun') <= 1.2 else '**missed**'}); "
                f"its execution, which fetches for the journal what the preview did not read: "
                f"{ratio('regpruneDecisionsExecute', 'acrPurge'):.2f}× `acr purge`'s; that first "
                f"night in all: {lazy_night:.2f}×. Client CPU per request: preview "
                f"{per_req('regpruneDecisions') / per_req('acrDryRun'):.2f}× acr's dry run's (it "
                f"plans once more for each round of reading), execution "
                f"{per_req('regpruneDecisionsExecute') / per_req('acrPurge'):.2f}× acr purge's."
            ),
            (
                f"- The first night in all, preview then execution: {first_night:.2f}× acr's "
                f"dry run then `acr purge` ({n('regpruneFirst') + n('regpruneExecute'):,.0f} "
                f"against {n('acrDryRun') + n('acrPurge'):,.0f} requests; the execution fetches "
                f"nothing the preview read); every later night, with the store: {later:.2f}×."
            ),
            f"- (b) second preview, unchanged registry: {b:.3f}× (target ≤ 0.1: {'met' if b <= 0.1 else '**missed**'}).",
            f"- (c) execution: {c:.2f}× `acr purge`'s requests (target ≤ 1.2: {'met' if c <= 1.2 else '**missed**'}).",
            (
                f"- (d) client CPU per request against acr's: preview {d1:.2f}×, execution {d2:.2f}× "
                f"(target ≤ 1: {'met' if max(d1, d2) <= 1 else '**missed**'}); a raw Python "
                f"client sending the same requests, without regprune: {f1:.2f}× and {f2:.2f}×."
            ),
            (
                f"- (e) the same deletions in every run: {'yes' if same else '**no**'} "
                f"(dry run and plan: {counts['acrDryRun'][0]:,} tags, {counts['acrDryRun'][1]:,} "
                f"manifests; after each execution the same {counts['acrPurge'][0]:,} tags and "
                f"{counts['acrPurge'][1]:,} manifests are gone, referrers included)."
            ),
            "",
        ]
        verdicts.append(label)
    out.append(END)
    return "\n".join(out) + "\n"


def update_doc(text: str, doc: Path) -> None:
    """Replaces the section between the markers in `doc` (or appends it)."""
    current = doc.read_text() if doc.exists() else ""
    if START in current and END in current:
        before, rest = current.split(START, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        doc.write_text(before + text + after)
    else:
        doc.write_text(current.rstrip("\n") + "\n\n" + text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="20x500,50x1000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--json", type=Path, default=ROOT / "artifacts" / "bench" / "acr-side.json"
    )
    ap.add_argument(
        "--update-doc",
        action="store_true",
        help="write the section into docs/BENCHMARKS.md",
    )
    ap.add_argument("--replay", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--cafile", help=argparse.SUPPRESS)
    ap.add_argument(
        "--from-json",
        action="store_true",
        help="write the section from --json, measuring nothing",
    )
    a = ap.parse_args()
    if a.from_json:
        results = json.loads(a.json.read_text())
        stamp = dt.datetime.fromtimestamp(a.json.stat().st_mtime, dt.UTC)
        text = section(results, measured=stamp.strftime("%Y-%m-%d %H:%M UTC"))
        if a.update_doc:
            update_doc(text, ROOT / "docs" / "BENCHMARKS.md")
        print(text)
        return
    if a.replay:
        replay(a.replay, a.port, a.cafile)
        return
    why = available()
    if why:
        print(f"acr side by side: skipped: {why}")
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"skipped": why}))
        if a.update_doc:
            update_doc(section({}, why), ROOT / "docs" / "BENCHMARKS.md")
        return
    sizes = [tuple(int(x) for x in s.split("x")) for s in a.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="acr-side-") as tmp:
        results = measure(sizes, a.runs, Path(tmp))  # type: ignore[arg-type]
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(results, indent=1))
    text = section(
        results,
        measured=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    if a.update_doc:
        update_doc(text, ROOT / "docs" / "BENCHMARKS.md")
    print(text)


if __name__ == "__main__":
    main()
