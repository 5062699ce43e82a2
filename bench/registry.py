"""Execution and crawl benchmarks against a real CNCF distribution registry on 127.0.0.1.

Run by bench/run.py with the project's virtualenv (it needs the regprune package):

    python bench/registry.py --deletions 2000 --rounds 5 --skopeo 100 --out result.json

Execution: each round pushes fresh, distinct, untagged manifests, plans their deletion from the
storage directory (a ``purge`` of the round's repositories) and deletes them with one client: a
minimal raw HTTP client (one DELETE per manifest, keep-alive, same concurrency: the ceiling),
the Python adapter, the Node adapter, the same raw client in Node (on the adapter's own HTTP
library, undici: Node's own ceiling), and the seed's approach of one CLI process per
deletion (``skopeo delete`` started by ``xargs``, as the ACR guide's script starts ``az acr
repository delete``) on a sample. Every client must leave every planned manifest gone; the run fails
otherwise.

Crawl: 50 repositories x 200 tags (two tags per manifest) crawled by both adapters, counting
requests by method; the raw ceiling replays the very same request list with the same
concurrency.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python" / "tests"))

import regprune
from registry_fixture import ACCEPT, Pool, RegistryServer, push
from regprune import registry

CONCURRENCY = registry.DEFAULT_CONCURRENCY


def plan_deletion(server: RegistryServer, netloc: str, prefix: str) -> regprune.Plan:
    snapshot = registry.read_storage(server.storage, netloc)
    op = {"op": "purge", "filter": [f"{prefix}.*:.*"], "ago": "0d", "untagged": True}
    return regprune.plan(snapshot, op)


def fresh(
    server: RegistryServer,
    pool: Pool,
    netloc: str,
    repos: int,
    per_repo: int,
    salt: str,
) -> tuple[regprune.Plan, list[tuple[str, str]]]:
    """Pushes ``per_repo`` new manifests into each of ``repos`` repositories and plans their
    deletion; returns the plan and its (repository, digest) targets, one per manifest."""
    push(pool, repos, per_repo, salt)
    plan = plan_deletion(server, netloc, f"bench/{salt}-")
    targets = [(a.repository, a.digest) for a in plan.actions if a.digest]
    assert len(targets) == repos * per_repo, (len(targets), repos * per_repo)
    return plan, targets


def raw_delete(
    pool: Pool,
    targets: list[tuple[str, str]],
    fetch_first: bool = False,
    concurrency: int = CONCURRENCY,
) -> float:
    """DELETE each target; with ``fetch_first``, GET its manifest first, as the adapters do
    to journal its bytes for undo (the same work, without regprune)."""

    def one(t: tuple[str, str]) -> int:
        if fetch_first:
            status = pool.request(
                "GET", f"/v2/{t[0]}/manifests/{t[1]}", headers={"Accept": ACCEPT}
            )[0]
            assert status == 200, status
        return pool.request("DELETE", f"/v2/{t[0]}/manifests/{t[1]}")[0]

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as ex:
        statuses = list(ex.map(one, targets))
    seconds = time.perf_counter() - started
    assert all(s == 202 for s in statuses), sorted(set(statuses))
    return seconds


def skopeo_delete(port: int, targets: list[tuple[str, str]]) -> float:
    """The seed's approach, literally: references piped to ``xargs``, which starts one
    ``skopeo delete`` per reference, one after the other."""
    refs = "".join(f"127.0.0.1:{port}/{repo}@{digest}\n" for repo, digest in targets)
    started = time.perf_counter()
    subprocess.run(
        ["xargs", "-I%", "skopeo", "delete", "--tls-verify=false", "docker://%"],
        input=refs.encode(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def registry_cpu_seconds(server: RegistryServer) -> float:
    """The CPU time (user + system) the registry process has used so far (Linux)."""
    assert server.proc is not None
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gone(pool: Pool, targets: list[tuple[str, str]]) -> bool:
    def one(t: tuple[str, str]) -> int:
        return pool.request(
            "HEAD", f"/v2/{t[0]}/manifests/{t[1]}", headers={"Accept": ACCEPT}
        )[0]

    with ThreadPoolExecutor(CONCURRENCY) as ex:
        return all(s == 404 for s in ex.map(one, targets))


class CountingTransport(registry.Transport):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.sent: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def send(self, method: str, url: str, headers: Any, body: bytes | None) -> Any:
        with self.lock:
            u = urllib.parse.urlsplit(url)
            self.sent.append((method, u.path + (f"?{u.query}" if u.query else "")))
        return super().send(method, url, headers, body)


def node(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        ["node", str(ROOT / "bench" / "registry-node.mjs"), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


CLIENTS = ("raw", "rawGetDelete", "rawNode", "python", "node", "skopeo")


def execution(
    server: RegistryServer,
    pool: Pool,
    n: int,
    rounds: int,
    sample: int,
    tmp: Path,
    clients: tuple[str, ...] = CLIENTS,
) -> dict[str, Any]:
    netloc = server.url.split("://")[1]
    repos = max(1, n // 200)
    per_repo = n // repos
    rows: dict[str, list[float]] = {k: [] for k in clients}
    cpu_ms: dict[str, list[float]] = {k: [] for k in rows}
    requests: dict[str, Any] = {}
    for rnd in range(rounds):
        # Each round starts with a different client, so none always runs first or last.
        for client in clients[rnd % len(clients) :] + clients[: rnd % len(clients)]:
            rates = rows[client]
            count = sample if client == "skopeo" else n
            reps, per = (1, count) if client == "skopeo" else (repos, per_repo)
            plan, targets = fresh(
                server, pool, netloc, reps, per, f"x{rnd}{client.lower()}"
            )
            cpu_before = registry_cpu_seconds(server)
            if client in ("raw", "rawGetDelete"):
                seconds = raw_delete(
                    pool, targets, fetch_first=client == "rawGetDelete"
                )
            elif client == "skopeo":
                seconds = skopeo_delete(server.port, targets)
            elif client == "rawNode":
                path = plan_file(plan, tmp)
                seconds = node("raw-delete", server.url, path)["seconds"]
            elif client == "python":
                t = CountingTransport(server.url)
                saved = save_manifests(server, tmp)
                started = time.perf_counter()
                report = registry.execute(plan.to_json(), t, manifests=saved)
                seconds = time.perf_counter() - started
                assert report["counts"] == {"done": len(targets)}, report["counts"]
                requests["python"] = count_methods(t.sent)
            else:
                path = plan_file(plan, tmp)
                saved = save_manifests(server, tmp)
                result = node("execute", server.url, path, "-", str(saved))
                assert result["outcomes"] == {"done": len(targets)}, result["outcomes"]
                seconds = result["seconds"]
                requests["node"] = result["requests"]
            cpu_ms[client].append(
                (registry_cpu_seconds(server) - cpu_before) * 1000 / len(targets)
            )
            assert gone(pool, targets), f"{client} left planned manifests behind"
            rates.append(len(targets) / seconds)
    return {
        "deletions": n,
        "rawByConcurrency": raw_sweep(server, pool, n, netloc),
        "skopeoSample": sample,
        "concurrency": CONCURRENCY,
        "deletesPerSecond": rows,
        "registryCpuMsPerDeletion": cpu_ms,
        "requests": requests,
    }


def raw_sweep(
    server: RegistryServer, pool: Pool, n: int, netloc: str
) -> list[dict[str, float]]:
    """The raw client at other concurrencies, once each: whether the registry, not the
    number of requests in flight, bounds the rate."""
    out = []
    for concurrency in (4, 16, 32):
        _, targets = fresh(
            server, pool, netloc, max(1, n // 200), min(n, 200), f"sweep{concurrency}"
        )
        before = registry_cpu_seconds(server)
        seconds = raw_delete(pool, targets, concurrency=concurrency)
        out.append(
            {
                "concurrency": concurrency,
                "deletesPerSecond": len(targets) / seconds,
                "registryCores": (registry_cpu_seconds(server) - before) / seconds,
            }
        )
    return out


def plan_file(plan: regprune.Plan, tmp: Path) -> str:
    """The plan's JSON in a file of its own under ``tmp`` (removed with it), for Node."""
    fd, path = tempfile.mkstemp(suffix=".json", dir=tmp)
    with os.fdopen(fd, "w") as f:
        f.write(plan.to_json())
    return path


def save_manifests(server: RegistryServer, tmp: Path) -> Path:
    """The storage snapshot that made the plan, read again saving each manifest's bytes (not
    timed), as `snapshot --storage DIR --save-manifests OUT` does: execution then journals
    them without a GET each."""
    out = Path(tempfile.mkdtemp(dir=tmp))
    registry.read_storage(server.storage, save_manifests=out)
    return out


def count_methods(sent: list[tuple[str, str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for method, _ in sent:
        out[method] = out.get(method, 0) + 1
    return out


def crawl(
    server: RegistryServer, pool: Pool, repos: int, tags: int, rounds: int
) -> dict[str, Any]:
    per_repo = tags // 2
    push(pool, repos, per_repo, "crawl", tags_per_manifest=2)
    rows: dict[str, list[float]] = {"raw": [], "python": [], "node": []}
    result: dict[str, Any] = {
        "repositories": repos,
        "tagsPerRepository": tags,
        "distinctManifests": repos * per_repo,
    }
    for _ in range(rounds):
        t = CountingTransport(server.url)
        started = time.perf_counter()
        snapshot = registry.crawl(t)
        seconds = time.perf_counter() - started
        got = sum(
            len(r["manifests"])
            for r in snapshot["repositories"]
            if r["name"].startswith("bench/crawl")
        )
        assert got == repos * per_repo, got
        gets = [p for m, p in t.sent if m == "GET" and "/manifests/" in p]
        result["python"] = {
            "requests": count_methods(t.sent),
            "manifestGets": len(gets),
            "distinctManifestGets": len(set(gets)),
        }
        rows["python"].append(len(t.sent) / seconds)
        n = node("crawl", server.url)
        result["node"] = {"requests": n["requests"]}
        rows["node"].append(sum(n["requests"].values()) / n["seconds"])

        def replay(req: tuple[str, str]) -> int:
            headers = {"Accept": ACCEPT} if "/manifests/" in req[1] else {}
            return pool.request(req[0], req[1], headers=headers)[0]

        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as ex:
            statuses = list(ex.map(replay, t.sent))
        seconds = time.perf_counter() - started
        assert all(s < 500 for s in statuses)
        rows["raw"].append(len(t.sent) / seconds)
    result["requestsPerSecond"] = rows
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deletions", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--skopeo", type=int, default=100, help="deletions sampled for skopeo"
    )
    ap.add_argument("--repos", type=int, default=50)
    ap.add_argument("--tags", type=int, default=200)
    ap.add_argument(
        "--gogc",
        help="the registry's GOGC (Go's garbage collector target; unset: as Debian runs it)",
    )
    ap.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help=f"execution clients, comma-separated (default: all of {','.join(CLIENTS)})",
    )
    ap.add_argument(
        "--no-crawl", action="store_true", help="only the execution benchmark"
    )
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    clients = tuple(args.clients.split(","))
    unknown = sorted(set(clients) - set(CLIENTS))
    if unknown or "raw" not in clients:
        ap.error(
            f"--clients: unknown {unknown}" if unknown else "--clients must include raw"
        )
    with tempfile.TemporaryDirectory() as tmp:
        server = RegistryServer(Path(tmp), {"GOGC": args.gogc} if args.gogc else None)
        server.start()
        try:
            pool = Pool(server.url.split("://")[1])
            out: dict[str, Any] = {
                "gogc": args.gogc,
                "execution": execution(
                    server,
                    pool,
                    args.deletions,
                    args.rounds,
                    args.skopeo,
                    Path(tmp),
                    clients,
                ),
            }
            if not args.no_crawl:
                out["crawl"] = crawl(server, pool, args.repos, args.tags, args.rounds)
        finally:
            server.stop()
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
