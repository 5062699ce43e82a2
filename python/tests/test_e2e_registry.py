"""End to end against a real CNCF distribution registry on 127.0.0.1: crawl, plan, execute,
read the state back through the plain API, garbage-collect, drift, undo."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from registry_fixture import Client, Pool, RegistryServer, push, push_fixture
from store_util import damage, records, stored

import regprune
from regprune import registry
from regprune.cli import main

NOW = "2026-11-27T00:00:00Z"

# Skipped only off CI: in CI (CI=true) a missing registry binary fails these tests, so an
# end-to-end suite can never pass by not running.
pytestmark = pytest.mark.skipif(
    shutil.which("docker-registry") is None and not os.environ.get("CI"),
    reason="needs Debian's docker-registry (make setup-registry installs it)",
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RegistryServer]:
    s = RegistryServer(tmp_path)
    s.start()
    try:
        yield s
    finally:
        s.stop()


def test_crawl_sees_the_fixture(server: RegistryServer) -> None:
    d = push_fixture(Client(server.url))
    snap = registry.crawl(registry.Transport(server.url))
    repos = {r["name"]: r for r in snap["repositories"]}
    assert set(repos) == {"app", "web", "multi", "dlist", "many"}
    app_tags = {t["name"]: t["digest"] for t in repos["app"]["tags"]}
    assert app_tags["v1"] == app_tags["stable"] == d["app_v1"]
    assert app_tags["latest"] == d["app_v2"], "the re-pushed tag points at the new image"
    assert all(m["digest"] != d["app_old_latest"] for m in repos["app"]["manifests"]), (
        "dangling: invisible to the API"
    )
    assert len(repos["many"]["tags"]) == 300
    multi = {m["digest"] for m in repos["multi"]["manifests"]}
    assert d["multi_amd64"] in multi and d["multi_index"] in multi
    assert snap["untaggedListed"] is False


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "deleteImage", "image": "app:v1"},
        {"op": "deleteImage", "image": "multi:1.0"},
        {"op": "deleteImage", "image": "web@DIGEST"},
        {"op": "purge", "filter": ["web:.*", "dlist:.*"], "ago": "30d"},
        {
            "op": "policy",
            "policy": {
                "rules": [
                    {
                        "name": "old-many",
                        "action": "delete",
                        "repositories": ["many"],
                        "olderThan": "90d",
                        "keepMostRecent": 10,
                    }
                ]
            },
        },
    ],
    ids=["by-tag-with-signature", "index", "by-digest", "purge", "policy"],
)
def test_execute_leaves_the_predicted_state_and_gc_frees_at_most_the_plan(
    server: RegistryServer, operation: dict
) -> None:
    client = Client(server.url)
    d = push_fixture(client)
    if operation.get("image") == "web@DIGEST":
        operation = {"op": "deleteImage", "image": f"web@{d['web_v1']}"}
    transport = registry.Transport(server.url)
    snap = registry.crawl(transport)
    plan = regprune.plan(snap, operation, now=NOW)
    assert plan.actions, "the case deletes something"
    deleted = {
        (a.repository, m) for a in plan.actions for m in ([a.digest] if a.digest else a.manifests)
    }
    report = registry.execute(plan.to_json(), transport)
    assert all(o["outcome"] == "done" for o in report["outcomes"]), report
    # The registry's own state equals the prediction: planned manifests and their tags gone,
    # everything else untouched.
    for repo in snap["repositories"]:
        name = repo["name"]
        now_tags = client.tags(name)
        for m in repo["manifests"]:
            assert client.exists(name, m["digest"]) == ((name, m["digest"]) not in deleted), (
                name,
                m["digest"],
            )
        for t in repo["tags"]:
            expect = (name, t["digest"]) not in deleted
            assert (t["name"] in now_tags) == expect, (name, t["name"])
    freed = server.garbage_collect()
    assert 0 < freed <= plan.reclaim.total_bytes, (freed, plan.reclaim.total_bytes)


def test_drift_is_skipped(server: RegistryServer) -> None:
    client = Client(server.url)
    d = push_fixture(client)
    transport = registry.Transport(server.url)
    plan = regprune.plan(
        registry.crawl(transport), {"op": "deleteImage", "image": "web:v1"}, now=NOW
    )
    # Someone tags the planned image again before execution.
    _, _, body = client.request(
        "GET",
        f"/v2/web/manifests/{d['web_v1']}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    client.request(
        "PUT",
        "/v2/web/manifests/hotfix",
        body,
        {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    report = registry.execute(plan.to_json(), transport)
    assert [o["outcome"] for o in report["outcomes"]] == ["skipped"]
    assert client.exists("web", d["web_v1"]) and client.tags("web")["hotfix"] == d["web_v1"]


def test_cli_plan_execute_undo(
    server: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = Client(server.url)
    d = push_fixture(client)
    snap_file, plan_file, journal = (
        tmp_path / "snap.json",
        tmp_path / "plan.json",
        tmp_path / "journal.jsonl",
    )
    assert main(["snapshot", "--registry", server.url, "-o", str(snap_file)]) == 0
    started = datetime.now(timezone.utc)
    assert (
        main(
            [
                "plan",
                "--snapshot",
                str(snap_file),
                "--now",
                NOW,
                "-o",
                str(plan_file),
                "delete",
                "app:v1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "This operation will delete the manifest" in out
    assert (
        main(
            [
                "execute",
                str(plan_file),
                "--registry",
                server.url,
                "--yes",
                "--journal",
                str(journal),
                "--output",
                "json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["counts"] == {"done": 2}
    assert not client.exists("app", d["app_v1"])
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    entries = [x for x in lines if "manifest" in x]
    ended = [x for x in lines if "outcome" in x]
    assert {x["digest"] for x in entries} == {d["app_v1"], d["app_v1_sig"]}
    assert sorted(next(x for x in entries if x["digest"] == d["app_v1"])["tags"]) == [
        "stable",
        "v1",
    ]
    # Each entry says when the deletion was attempted; a later line says how and when it ended.
    assert sorted((x["digest"], x["outcome"]) for x in ended) == sorted(
        (x["digest"], "done") for x in entries
    )
    for x in entries:
        [end] = [e for e in ended if e["digest"] == x["digest"]]
        assert lines.index(end) > lines.index(x)
        attempted = datetime.fromisoformat(x["attempted"].replace("Z", "+00:00"))
        finished = datetime.fromisoformat(end["ended"].replace("Z", "+00:00"))
        assert started - timedelta(seconds=2) <= attempted <= finished
        assert finished <= datetime.now(timezone.utc) + timedelta(seconds=2)
    # Before garbage collection, undo puts the images and their tags back.
    assert main(["undo", str(journal), "--registry", server.url]) == 0
    assert client.exists("app", d["app_v1"])
    assert client.tags("app")["stable"] == d["app_v1"]
    capsys.readouterr()

    # Another address is another registry: refused, unless retargeted on purpose.
    other = server.url.replace("127.0.0.1", "localhost")
    again = ["execute", str(plan_file), "--yes", "--journal", str(journal), "--output", "json"]
    assert main([*again, "--registry", other]) == 2
    assert "made for the registry" in capsys.readouterr().err
    assert client.exists("app", d["app_v1"])
    assert main([*again, "--registry", other, "--retarget-registry"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["retargeted"] == server.url.split("://")[1]
    assert not client.exists("app", d["app_v1"])

    # The journal now holds two runs; undo takes back the last, and only bytes that match.
    runs = [json.loads(x)["run"] for x in journal.read_text().splitlines()]
    assert len(set(runs)) == 2 and runs[0] != runs[-1]
    tampered = tmp_path / "tampered.jsonl"
    lines = [x for x in journal.read_text().splitlines() if '"manifest"' in x]
    edited = json.loads(lines[-1])
    edited["manifest"] = edited["manifest"].replace("}", " }", 1)
    tampered.write_text("\n".join([*lines[:-1], json.dumps(edited)]) + "\n" + lines[-1][:30])
    undo = ["undo", "--registry", other, "--output", "json"]
    assert main([*undo, str(tampered)]) == 1
    result = json.loads(capsys.readouterr().out)
    assert [s["torn"] for s in result["skippedLines"]] == [False, True], result
    assert "do not hash" in result["skippedLines"][0]["reason"]
    assert main([*undo, "--dry-run", str(journal)]) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"notStarted": 2}
    assert not client.exists("app", d["app_v1"]), "a dry run sends nothing"
    assert main(["undo", str(journal), "--registry", server.url]) == 2, "the run was elsewhere"
    assert main([*undo, str(journal)]) == 0
    assert client.exists("app", d["app_v1"])
    assert client.tags("app")["stable"] == d["app_v1"]
    # A plan edited on purpose and sealed again is caught by its evidence (--snapshot): here
    # a repository deletion the operation never selected.
    capsys.readouterr()
    p = json.loads(plan_file.read_text())
    extra = {**p["actions"][0], "type": "deleteRepository", "repository": "web"}
    extra.pop("digest", None)
    p["actions"].append({**extra, "manifests": [d["web_v1"]], "tags": ["v1"]})
    del p["digest"]
    p["digest"] = regprune.plan_digest(p)
    plan_file.write_text(json.dumps(p))
    evidence = ["execute", str(plan_file), "--registry", server.url, "--yes"]
    assert main([*evidence, "--snapshot", str(snap_file)]) == 2
    assert "does not follow from the snapshot" in capsys.readouterr().err
    assert client.exists("web", d["web_v1"]), "nothing was deleted"
    # An edited plan is refused.
    p = json.loads(plan_file.read_text())
    p["actions"][0]["tags"] = []
    plan_file.write_text(json.dumps(p))
    assert main(["execute", str(plan_file), "--registry", server.url, "--yes"]) == 2


def test_plain_http_is_refused_off_loopback() -> None:
    with pytest.raises(regprune.InvalidOperationError):
        registry.Transport("http://registry.example.com")
    registry.Transport("http://127.0.0.1:5000")
    registry.Transport("http://registry.example.com", insecure=True)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "deleteUntagged"},
        {"op": "deleteImage", "image": "app:v1"},
        {"op": "purge", "filter": ["app:.*", "many:.*"], "ago": "30d", "keep": 5, "untagged": True},
        {"op": "deleteImage", "image": "dlist:2.0"},
        {"op": "acrPurge", "command": "acr purge --filter 'app:.*' --ago 30d --untagged"},
        {"op": "acrPurge", "command": "acr purge --filter 'many:.*' --ago 30d --keep 3"},
        {"op": "deleteRepository", "repository": "app"},
    ],
    ids=[
        "untagged",
        "by-tag",
        "purge-untagged",
        "manifest-list",
        "acr-purge-untagged",
        "acr-purge-keep",
        "repository",
    ],
)
def test_storage_snapshot_predicts_gc_to_the_byte(server: RegistryServer, operation: dict) -> None:
    client = Client(server.url)
    d = push_fixture(client)
    server.stop()  # read the storage directory while nothing writes to it
    snap = registry.read_storage(server.storage, f"127.0.0.1:{server.port}")
    blobs = server.blob_files()
    server.start()
    repos = {r["name"]: r for r in snap["repositories"]}
    assert any(m["digest"] == d["app_old_latest"] for m in repos["app"]["manifests"]), (
        "dangling manifests are visible"
    )
    # Storage times are the pushes, moments ago: plan two months ahead so ages count.
    later = datetime.now(timezone.utc) + timedelta(days=60)
    plan = regprune.plan(snap, operation, now=later)
    assert plan.reclaim.exact, plan.reclaim.inexact_reasons
    assert plan.actions
    report = registry.execute(plan.to_json(), registry.Transport(server.url))
    assert report["complete"], [o for o in report["outcomes"] if o["outcome"] != "done"]
    assert server.garbage_collect(since=blobs) == plan.reclaim.total_bytes
    # One run did it all: planned again, nothing is left to delete.
    server.stop()
    again = registry.read_storage(server.storage, f"127.0.0.1:{server.port}")
    server.start()
    assert_nothing_left(again, operation, later)


def assert_nothing_left(snapshot: dict, operation: dict, now: datetime) -> None:
    """Planning `operation` again deletes nothing (a named image is gone; a repository stays
    in Distribution's catalog with nothing in it)."""
    try:
        again = regprune.plan(snapshot, operation, now=now)
    except regprune.ImageNotFoundError:
        return
    left = [a for a in again.actions if a.type != "deleteRepository" or a.manifests or a.tags]
    assert not left, left


@pytest.mark.parametrize("scale", [1, 4, 12])
def test_acr_purge_untagged_runs_completely_in_one_pass_at_every_scale(
    tmp_path: Path, scale: int
) -> None:
    """Issue 24, finding 14: `acr purge --untagged` untags what its filter matches and then
    deletes the manifests left untagged; the plan's own untags are not drift, so one execution
    does all of it, garbage collection frees exactly the plan's bytes, and planning again finds
    nothing."""
    server = RegistryServer(tmp_path)
    server.start()
    try:
        pool = Pool(server.url.split("://")[1])
        push(pool, scale, 10 * scale, f"s{scale}", tags_per_manifest=2)
        push(pool, scale, 3 * scale, f"u{scale}")  # untagged from the start
        server.stop()
        snap = registry.read_storage(server.storage, server.url)
        blobs = server.blob_files()
        server.start()
        command = "acr purge --filter 'bench/.*:^t[0-9]*[02468]-.*' --ago 0d --untagged"
        operation = {"op": "acrPurge", "command": command}
        later = datetime.now(timezone.utc) + timedelta(days=1)
        plan = regprune.plan(snap, operation, now=later)
        kinds = {a.type for a in plan.actions}
        assert kinds == {"untag", "deleteManifest"}, kinds
        assert plan.reclaim.exact, plan.reclaim.inexact_reasons
        report = registry.execute(plan.to_json(), registry.Transport(server.url))
        assert report["complete"], [o for o in report["outcomes"] if o["outcome"] != "done"][:5]
        assert server.garbage_collect(since=blobs) == plan.reclaim.total_bytes
        server.stop()
        again = registry.read_storage(server.storage, server.url)
        server.start()
        assert_nothing_left(again, operation, later)
    finally:
        server.stop()


def test_untag_on_distribution_moves_the_tag_to_a_placeholder_and_deletes_that(
    server: RegistryServer,
) -> None:
    client = Client(server.url)
    d = push_fixture(client)
    transport = registry.Transport(server.url)
    plan = regprune.plan(registry.crawl(transport), {"op": "untag", "image": "app:stable"}, now=NOW)
    assert any(w.code == "untagPlaceholder" for w in plan.warnings), (
        "the side effect is shown before anything runs"
    )
    report = registry.execute(plan.to_json(), transport)
    assert [o["outcome"] for o in report["outcomes"]] == ["done"], report
    tags = client.tags("app")
    assert "stable" not in tags
    assert tags["v1"] == d["app_v1"], "the other tag and the image stay"
    assert client.exists("app", d["app_v1"])
    assert plan.reclaim.total_bytes == 0


class _Counting(registry.Transport):
    """Counts `GET /v2/<repo>/manifests/<digest>` requests (the journal's fetches)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.digest_gets = 0

    def send(self, method, url, headers, body):  # type: ignore[no-untyped-def]
        if method == "GET" and "/manifests/sha256:" in url:
            self.digest_gets += 1
        return super().send(method, url, headers, body)


def test_saved_manifests_spare_a_fetch_per_deletion_and_journal_the_same_bytes(
    server: RegistryServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = Client(server.url)
    d = push_fixture(client)
    saved, plan_file, journal = tmp_path / "manifests", tmp_path / "plan.json", tmp_path / "j.jsonl"
    args = ["plan", "--registry", server.url, "--save-manifests", str(saved), "--now", NOW]
    assert main([*args, "-o", str(plan_file), "delete", "app:v1"]) == 0
    capsys.readouterr()
    saved_bytes = stored(saved)
    files = {d.split(":")[1] for d in saved_bytes}
    snap = registry.crawl(registry.Transport(server.url))
    manifests = {m["digest"].split(":")[1] for r in snap["repositories"] for m in r["manifests"]}
    configs = {
        m["config"]["digest"].split(":")[1]
        for r in snap["repositories"]
        for m in r["manifests"]
        if m.get("config")
    }
    assert manifests <= files <= manifests | configs, "every manifest (and config) saved"
    assert all(hashlib.sha256(b).hexdigest() == d.split(":")[1] for d, b in saved_bytes.items())
    assert len(list((saved / "packs").iterdir())) == 1, "one pack for the crawl"
    plan_text = plan_file.read_text().strip()

    # A saved manifest that does not hash to its digest (a damaged store) is not used: that one
    # manifest is fetched, and the journal holds the registry's bytes.
    good = saved_bytes[d["app_v1"]]
    undamage = damage(saved, d["app_v1"])
    counting = _Counting(server.url)
    journal.unlink(missing_ok=True)
    report = registry.execute(plan_text, counting, manifests=saved, journal_path=str(journal))
    assert report["counts"] == {"done": 2} and counting.digest_gets == 1
    entries = [x for x in map(json.loads, journal.read_text().splitlines()) if "manifest" in x]
    assert {x["digest"]: x for x in entries}[d["app_v1"]]["manifest"].encode() == good
    assert main(["undo", str(journal), "--registry", server.url]) == 0
    assert client.exists("app", d["app_v1"])
    undamage()
    journal.unlink()
    counting = _Counting(server.url)

    report = registry.execute(plan_text, counting, manifests=saved, journal_path=str(journal))
    assert report["counts"] == {"done": 2}
    assert counting.digest_gets == 0, "no manifest fetched for the journal"
    assert not client.exists("app", d["app_v1"]) and not client.exists("app", d["app_v1_sig"])
    entries = [x for x in map(json.loads, journal.read_text().splitlines()) if "manifest" in x]
    lines = {x["digest"]: x for x in entries}
    assert lines[d["app_v1"]]["manifest"].encode() == good
    assert sorted(lines[d["app_v1"]]["tags"]) == ["stable", "v1"]
    assert main(["undo", str(journal), "--registry", server.url]) == 0
    assert client.exists("app", d["app_v1"]) and client.tags("app")["v1"] == d["app_v1"]


def test_a_storage_snapshot_has_both_clocks_and_the_user_chooses(server: RegistryServer) -> None:
    """Storage: createdTime is the build (the image config's created), lastUpdateTime the push
    (the link files); a crawl has only the build. `field` chooses which one a rule compares."""
    c = Client(server.url)
    c.image("clock", ["old-build"], [b"built in 2020" * 50], "2020-01-01T00:00:00Z")
    snap = registry.read_storage(server.storage, f"127.0.0.1:{server.port}")
    [m] = [m for r in snap["repositories"] if r["name"] == "clock" for m in r["manifests"]]
    assert m["createdTime"] == "2020-01-01T00:00:00Z"
    pushed = datetime.fromisoformat(m["lastUpdateTime"].replace("Z", "+00:00"))
    assert abs(pushed - datetime.now(timezone.utc)) < timedelta(minutes=5)
    crawled = registry.crawl(registry.Transport(server.url))
    [cm] = [m for r in crawled["repositories"] if r["name"] == "clock" for m in r["manifests"]]
    assert cm["createdTime"] == cm["lastUpdateTime"] == "2020-01-01T00:00:00Z"

    def old(snapshot: dict[str, Any], field: str) -> int:
        op = {"op": "purge", "filter": ["clock:.*"], "before": "2021-01-01T00:00:00Z",
              "timestamp": field}  # fmt: skip
        return len(regprune.plan(snapshot, op, now=NOW).actions)

    assert (old(snap, "createdTime"), old(snap, "lastUpdateTime")) == (1, 0)
    assert (old(crawled, "createdTime"), old(crawled, "lastUpdateTime")) == (1, 1)


@pytest.mark.parametrize("cli", ["python", "node"])
def test_verbose_logs_each_request_without_secrets(
    server: RegistryServer, cli: str, tmp_path: Path
) -> None:
    push_fixture(Client(server.url))
    program = {
        "python": [sys.executable, "-m", "regprune"],
        "node": ["node", str(Path(__file__).resolve().parents[2] / "npm" / "cli.js")],
    }[cli]
    env = {**os.environ, "REGPRUNE_PASSWORD": "s3cret-pw", "REGPRUNE_USERNAME": "someone"}
    done = subprocess.run(
        [*program, "snapshot", "--registry", server.url, "--verbose", "-o", str(tmp_path / "s.json")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    logged = [line for line in done.stderr.splitlines() if " -> " in line and " ms" in line]
    assert len(logged) > 20, done.stderr
    pattern = re.compile(r"^(GET|HEAD) http://127\.0\.0\.1:\d+/(v2|acr/v1)/\S* -> \d{3} in \d+ ms$")
    assert all(pattern.match(line) for line in logged), logged[:5]
    assert not any("?" in line for line in logged), "no query (paging cursors, upload state)"
    assert "s3cret-pw" not in done.stderr and "Authorization" not in done.stderr
    quiet = subprocess.run(
        [*program, "snapshot", "--registry", server.url, "-o", str(tmp_path / "t.json")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert " ms" not in quiet.stderr


class _Kinds(registry.Transport):
    """Counts requests by kind: manifest GETs by digest, blob (config) GETs, the rest."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.kinds: dict[str, int] = {}

    def send(self, method, url, headers, body):  # type: ignore[no-untyped-def]
        if method == "GET" and "/manifests/sha256:" in url:
            kind = "manifest"
        elif method == "GET" and "/blobs/" in url:
            kind = "config"
        else:
            kind = "listing"
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        return super().send(method, url, headers, body)


def test_a_nightly_recrawl_with_the_store_fetches_only_what_is_new(
    server: RegistryServer, tmp_path: Path
) -> None:
    """Issue 30: the manifest store as a cache. An unchanged registry is crawled with listing
    requests only; after two pushes, two manifests (and their configs) are fetched; the
    progress lines say what was fetched and reused against the known total."""
    client = Client(server.url)
    push_fixture(client)
    store = tmp_path / "store"

    def crawl() -> tuple[dict[str, Any], dict[str, int], list[str]]:
        t, lines = _Kinds(server.url), []
        snap = registry.crawl(t, manifests=store, save_manifests=store, on_status=lines.append)
        return snap, t.kinds, lines

    first, k1, lines1 = crawl()
    manifests = sum(len(r["manifests"]) for r in first["repositories"])
    assert k1["manifest"] >= manifests - 5, k1  # some are read by tag (ManifestByTag) or in index
    assert any(x.startswith("crawl: listing") for x in lines1), lines1[:3]
    assert re.fullmatch(
        r"crawl: manifests (\d+)/\1 \(\1 fetched, 0 reused, 0 to fetch\)", lines1[-1]
    )

    second, k2, lines2 = crawl()
    assert second == first
    assert "manifest" not in k2 and "config" not in k2, k2
    # Listings are always fresh: the same ones, give or take the referrers questions sent
    # before the registry's first answer says it has no referrers API (requests in flight).
    assert abs(k2["listing"] - k1["listing"]) <= 8, (k1, k2)
    total = re.fullmatch(
        r"crawl: manifests (\d+)/(\d+) \(0 fetched, (\d+) reused, 0 to fetch\)", lines2[-1]
    )
    assert total and total[1] == total[2] == total[3], lines2[-1]

    c = Client(server.url)
    c.image("app", ["nightly-1"], [b"new layer one" * 40], "2026-12-01T00:00:00Z")
    c.image("web", ["nightly-2"], [b"new layer two" * 40], "2026-12-02T00:00:00Z")
    third, k3, _ = crawl()
    assert (k3.get("manifest"), k3.get("config")) == (2, 2), k3
    assert sum(len(r["manifests"]) for r in third["repositories"]) == manifests + 2
    # One pack per crawl that fetched something: the unchanged registry's crawl added none.
    assert len(list((store / "packs").glob("*.pack"))) == 2


def test_a_pack_cut_short_by_a_crash_costs_only_what_was_cut(
    server: RegistryServer, tmp_path: Path
) -> None:
    """A crawl killed while it wrote its pack leaves a pack cut in a record: the next crawl
    uses every whole record before the cut, fetches the rest, and the snapshot is the same."""
    push_fixture(Client(server.url))
    store = tmp_path / "store"
    first = registry.crawl(registry.Transport(server.url), save_manifests=store)
    [pack] = (store / "packs").glob("*.pack")
    whole = records(pack)
    cut = whole[len(whole) // 2]
    with open(pack, "r+b") as f:
        f.truncate(cut[1] + cut[2] // 2)  # in the middle of a record's bytes
    lost = {d for d, _, _ in whole[len(whole) // 2 :]} - {d for d, _, _ in whole[: len(whole) // 2]}
    t = _Kinds(server.url)
    again = registry.crawl(t, manifests=store, save_manifests=store)
    assert again == first
    assert t.kinds.get("manifest", 0) + t.kinds.get("config", 0) == len(lost), (t.kinds, lost)
    # The records fetched again went to a pack of their own; the cut pack is left as it is.
    assert len(list((store / "packs").glob("*.pack"))) == 2
    t = _Kinds(server.url)
    assert registry.crawl(t, manifests=store) == first
    assert "manifest" not in t.kinds and "config" not in t.kinds, t.kinds


@pytest.mark.parametrize("cli", ["python", "node"])
def test_the_cli_shows_crawl_progress_on_a_terminal(
    server: RegistryServer, cli: str, tmp_path: Path
) -> None:
    """Both CLIs print the core's status line on a terminal: the listing, then the manifests
    fetched and reused against the known total; --cache reuses the store on a second run."""
    import pty

    push_fixture(Client(server.url))
    program = {
        "python": [sys.executable, "-m", "regprune"],
        "node": ["node", str(Path(__file__).resolve().parents[2] / "npm" / "cli.js")],
    }[cli]
    store = tmp_path / "store"

    def run() -> str:
        argv = [*program, "snapshot", "--registry", server.url, "--cache", str(store)]
        argv += ["-o", str(tmp_path / "s.json")]
        pid, fd = pty.fork()
        if pid == 0:  # the child: stderr is the terminal
            os.execvp(argv[0], argv)
        out = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, out
        return out.decode()

    def last_status(out: str) -> str:
        lines = [x.strip() for x in out.replace("\r", "\n").splitlines()]
        return [x for x in lines if x.startswith("crawl: ")][-1]

    first = run()
    last = last_status(first)
    m = re.fullmatch(r"crawl: manifests (\d+)/\1 \((\d+) fetched, 0 reused, 0 to fetch\)", last)
    assert m and int(m[1]) > 10, first[-300:]
    second = run()
    last = last_status(second)
    assert last == f"crawl: manifests {m[1]}/{m[1]} (0 fetched, {m[1]} reused, 0 to fetch)", last


class _Witness(registry.Transport):
    """Reads the journal's synced part at each `DELETE`: what a crash then would leave."""

    def __init__(self, url: str, journal: Path, synced: list[int]) -> None:
        super().__init__(url)
        self.journal, self.synced = journal, synced
        self.unjournaled: list[str] = []
        self.deletes = 0

    def send(self, method, url, headers, body):  # type: ignore[no-untyped-def]
        if method == "DELETE":
            self.deletes += 1
            digest = url.rsplit("/", 1)[1]
            on_disk = self.journal.read_bytes()[: self.synced[-1]] if self.synced else b""
            if f'"digest":"{digest}"'.encode() not in on_disk:
                self.unjournaled.append(digest)
        return super().send(method, url, headers, body)


def test_each_deletion_is_synced_before_it_is_sent_and_one_fsync_covers_several(
    server: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: journal entries that come while an `fsync` is under way share the next
    one, and no `DELETE` leaves before its own entry is synced (the file read back at the
    moment it is sent, up to the bytes the last `fsync` covered)."""
    c = Client(server.url)
    for i in range(24):
        c.image("many", [f"t{i}"], [f"layer {i}".encode() * 40], "2020-01-01T00:00:00Z")
    snap = registry.crawl(registry.Transport(server.url))
    plan = regprune.plan(snap, {"op": "purge", "filter": ["many:.*"], "ago": "1d"}, now=NOW)
    journal = tmp_path / "j.jsonl"
    synced: list[int] = []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        time.sleep(0.02)  # a slow disk: the deletions that come meanwhile wait for the next
        real_fsync(fd)
        synced.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    witness = _Witness(server.url, journal, synced)
    report = registry.execute(plan, witness, journal_path=str(journal), concurrency=8)
    assert report["counts"] == {"done": 24}, report
    assert witness.deletes == 24 and witness.unjournaled == []
    assert len(synced) < 24, f"{len(synced)} fsyncs for 24 deletions: no group commit"
    data = journal.read_bytes()
    assert synced[-1] == len(data), "the whole journal is synced at the end"
    # Outcome lines alone never wait for a sync: every sync but the last covers an entry.
    for before, after in zip([0, *synced[:-2]], synced[:-1]):
        assert b'"manifest"' in data[before:after], data[before:after]
    entries = [json.loads(x) for x in data.decode().splitlines()]
    assert len({e["digest"] for e in entries if "manifest" in e}) == 24
    assert sum(1 for e in entries if e.get("outcome") == "done") == 24


class _Slow(registry.Transport):
    """A registry that takes `delay` seconds to answer each request."""

    def __init__(self, url: str, delay: float) -> None:
        super().__init__(url)
        self.delay = delay

    def send(self, method, url, headers, body):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        return super().send(method, url, headers, body)


@pytest.mark.parametrize(("concurrency", "delay"), [(1, 0.05), (2, 0.05)])
def test_waiting_for_a_slow_registry_costs_no_cpu(
    server: RegistryServer, concurrency: int, delay: float
) -> None:
    """While every slot waits on the registry, no thread polls: the driver's CPU stays a
    small part of the wall time (a busy loop would take a whole core)."""
    c = Client(server.url)
    for i in range(6):
        c.image("slow", [f"t{i}"], [f"slow {i}".encode() * 40], "2020-01-01T00:00:00Z")
    snap = registry.crawl(registry.Transport(server.url))
    plan = regprune.plan(snap, {"op": "purge", "filter": ["slow:.*"], "ago": "1d"}, now=NOW)
    wall, cpu = time.monotonic(), time.process_time()
    report = registry.execute(plan, _Slow(server.url, delay), concurrency=concurrency)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    assert report["counts"] == {"done": 6}, report
    assert wall > 6 * delay / concurrency
    assert cpu < 0.3 * wall, f"{cpu:.2f} s of CPU in {wall:.2f} s waiting on the registry"


@pytest.mark.parametrize("cli", ["python", "node"])
def test_decisions_only_plans_the_same_and_reads_everything_where_the_api_lists_no_types(
    server: RegistryServer, cli: str, tmp_path: Path
) -> None:
    """`plan --decisions-only` reads only what decides the plan on ACR (core/tests/http.rs and
    the bench against the real acr's emulator); the OCI API lists no media types or untagged
    manifests, so there every manifest is read and the plan is the one a full crawl gives."""
    push_fixture(Client(server.url))
    program = {
        "python": [sys.executable, "-m", "regprune"],
        "node": ["node", str(Path(__file__).resolve().parents[2] / "npm" / "cli.js")],
    }[cli]

    def plan(*extra: str) -> dict[str, Any]:
        out = tmp_path / f"plan{len(extra)}.json"
        argv = [*program, "plan", "--registry", server.url, "--now", NOW, "-o", str(out)]
        r = subprocess.run(
            [*argv, *extra, "delete", "app:v1"], check=False, capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr
        return json.loads(out.read_text())  # type: ignore[no-any-return]

    full, lazy = plan(), plan("--decisions-only")
    assert lazy["actions"] == full["actions"] and lazy["reclaim"] == full["reclaim"]


def test_a_decide_that_is_not_a_plan_is_refused_before_any_request(server: RegistryServer) -> None:
    t = _Kinds(server.url)
    with pytest.raises(regprune.InvalidInputError) as info:
        registry.crawl(t, decide={"operation": {"op": "nope"}, "now": NOW})
    assert "decide" in str(info.value), info.value
    assert t.kinds == {}, "nothing was sent"


def test_the_cli_plans_on_the_crawls_own_snapshot_the_plan_its_json_gives(
    server: RegistryServer,
) -> None:
    """`plan --registry` plans in the core on the crawl's snapshot, with no JSON in between:
    the plan is byte for byte the one planned from that snapshot's JSON."""
    push_fixture(Client(server.url))
    session = registry._crawl_session(registry.Transport(server.url))
    for op in ({"op": "deleteUntagged"}, {"op": "deleteImage", "image": "app:v1"}):
        direct = session.plan_json(json.dumps(op).encode(), json.dumps({"now": NOW}).encode())
        via_json = regprune.plan(session.result_json(), op, now=NOW).to_json()
        assert direct == via_json
