"""Drift while `execute` runs, against the real registry: when the first DELETE arrives, a
second client pushes a new tag onto a planned manifest, attaches a signature to another by
the `sha256-<hex>.sig` tag convention, and moves a planned tag to a manifest that stays. Each
such item must be skipped and reported, never deleted, by both adapters. (Locks exist on ACR
only; the in-memory ACR registry of core/tests/http.rs covers new locks.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from registry_fixture import OCI_MANIFEST, Pool, RegistryServer, sha, upload

import regprune
from regprune import registry

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from faultproxy import FaultProxy


def image(pool: Pool, repo: str, n: str) -> tuple[bytes, str]:
    config = upload(pool, repo, json.dumps({"os": "linux"}).encode())
    layer = upload(pool, repo, b"layer")
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {**config, "mediaType": "application/vnd.oci.image.config.v1+json"},
        "layers": [{**layer, "mediaType": "application/octet-stream"}],
        "annotations": {"n": n},
    }
    data = json.dumps(doc, separators=(",", ":")).encode()
    return data, sha(data)


def put(pool: Pool, repo: str, ref: str, data: bytes) -> None:
    status, _, body = pool.request(
        "PUT", f"/v2/{repo}/manifests/{ref}", data, {"Content-Type": OCI_MANIFEST}
    )
    assert status == 201, (status, body)


def run(adapter: str, plan: regprune.Plan, url: str, tmp: Path) -> dict[str, Any]:
    if adapter == "python":
        # The plan names the registry; the proxy in front of it is another address.
        return registry.execute(plan.to_json(), registry.Transport(url), retarget=True)
    path = tmp / "plan.json"
    path.write_text(plan.to_json())
    out = subprocess.run(
        ["node", str(ROOT / "bench" / "registry-node.mjs"), "execute", url, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "REGPRUNE_RETARGET": "1"},
    )
    return json.loads(out.stdout)["report"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("adapter", ["python", "node"])
def test_changes_made_while_executing_are_skipped_not_deleted(tmp_path: Path, adapter: str) -> None:
    (tmp_path / "registry").mkdir()
    server = RegistryServer(tmp_path / "registry")
    server.start()
    try:
        pool = Pool(server.url.split("://")[1])
        a, b = f"race/{adapter}-a", f"race/{adapter}-b"
        for i in range(60):
            data, digest = image(pool, a, f"a{i}")
            put(pool, a, digest, data)
        b1, b1d = image(pool, b, "b1")
        b2, b2d = image(pool, b, "b2")
        c1, c1d = image(pool, b, "c1")
        k, kd = image(pool, b, "k")
        sig, sigd = image(pool, b, "signature")
        put(pool, b, b1d, b1)
        put(pool, b, b2d, b2)
        put(pool, b, "old-1", c1)
        put(pool, b, "keep", k)
        snapshot = registry.read_storage(server.storage, server.url)
        plan = regprune.plan(
            snapshot, {"op": "purge", "filter": ["race/.*:^old-.*"], "ago": "0d", "untagged": True}
        )
        planned = {a.digest for a in plan.actions}
        assert {b1d, b2d, c1d} <= planned and kd not in planned

        fired = []

        def second_client(method: str, path: str) -> None:
            if method == "DELETE" and not fired:
                fired.append(path)
                put(pool, b, "new", b1)  # a new tag on a planned manifest
                put(pool, b, f"sha256-{b2d.split(':')[1]}.sig", sig)  # a signature by tag
                put(pool, b, "old-1", k)  # the planned tag moves to a manifest that stays

        proxy = FaultProxy(server.url, 0.0, 1, hook=second_client).start()
        try:
            report = run(adapter, plan, proxy.url, tmp_path)
        finally:
            proxy.stop()
        assert fired and f"/v2/{a}/" in fired[0], "the race happened during the execution"
        outcome = {o["target"].split("@")[-1]: o for o in report["outcomes"]}
        for d in (b1d, b2d, c1d):
            assert outcome[d]["outcome"] == "skipped", outcome[d]
            assert "drift" in outcome[d]["detail"]
        present = {
            m["digest"]
            for r in registry.read_storage(server.storage)["repositories"]
            for m in r["manifests"]
        }
        assert {b1d, b2d, c1d, kd, sigd} <= present, "nothing a second client changed is deleted"
        assert not (planned - {b1d, b2d, c1d}) & present, "everything else planned is gone"
    finally:
        server.stop()


OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@pytest.mark.parametrize("adapter", ["python", "node"])
def test_a_repository_deletion_keeps_what_was_tagged_after_review(
    tmp_path: Path, adapter: str
) -> None:
    """Issue 24, findings 2 and 15, on the real registry: a tag added after review to a
    manifest of a planned repository deletion keeps that manifest; a multi-arch index tagged
    after review keeps its platform manifests, although the plan deletes them too (they were
    planned with the repository, not as the index's children)."""
    (tmp_path / "registry").mkdir()
    server = RegistryServer(tmp_path / "registry")
    server.start()
    try:
        pool = Pool(server.url.split("://")[1])
        repo = f"whole/{adapter}"
        digests = {}
        for n in ("one", "two", "amd64", "arm64"):
            data, digests[n] = image(pool, repo, n)
            put(pool, repo, digests[n], data)
        put(pool, repo, "one", image(pool, repo, "one")[0])
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": digests[p], "size": 1}
                for p in ("amd64", "arm64")
            ],
        }
        data = json.dumps(index, separators=(",", ":")).encode()
        digests["index"] = sha(data)
        status, _, body = pool.request(
            "PUT", f"/v2/{repo}/manifests/multi", data, {"Content-Type": OCI_INDEX}
        )
        assert status == 201, (status, body)
        snapshot = registry.read_storage(server.storage, server.url)
        plan = regprune.plan(snapshot, {"op": "deleteRepository", "repository": repo})
        assert {a.type for a in plan.actions} == {"deleteRepository"}
        # After review: a tag on "two", and the index pinned by a new tag.
        put(pool, repo, "hotfix", image(pool, repo, "two")[0])
        status, _, _ = pool.request(
            "PUT", f"/v2/{repo}/manifests/pinned", data, {"Content-Type": OCI_INDEX}
        )
        assert status == 201
        report = run(adapter, plan, server.url, tmp_path)
        outcome = {o["target"].split("@")[-1]: o for o in report["outcomes"]}
        assert outcome[digests["two"]]["outcome"] == "skipped", outcome[digests["two"]]
        assert "hotfix" in outcome[digests["two"]]["detail"]
        assert outcome[digests["index"]]["outcome"] == "skipped"
        for p in ("amd64", "arm64"):
            assert outcome[digests[p]]["outcome"] == "skipped", outcome[digests[p]]
        assert outcome[digests["one"]]["outcome"] == "done"
        present = {
            m["digest"]
            for r in registry.read_storage(server.storage)["repositories"]
            for m in r["manifests"]
        }
        assert {digests[n] for n in ("two", "index", "amd64", "arm64")} <= present
        assert digests["one"] not in present
    finally:
        server.stop()


HOSTILE = {
    # A re-check the credentials may not make.
    "403 on a tag HEAD": lambda repo: (
        lambda m, p: (403, {}, b"") if m == "HEAD" and p.endswith("/manifests/hotfix") else None
    ),
    # A tag that does not say which manifest it points at.
    "no Docker-Content-Digest": lambda repo: (
        lambda m, p: (
            (200, {"Content-Type": OCI_MANIFEST}, b"")
            if m == "HEAD" and p.endswith("/manifests/hotfix")
            else None
        )
    ),
    # A tag list whose Link points at itself.
    "a Link to itself": lambda repo: (
        lambda m, p: (
            (
                200,
                {
                    "Content-Type": "application/json",
                    "Link": f'</v2/{repo}/tags/list>; rel="next"',
                },
                json.dumps({"name": repo, "tags": ["v1", "hotfix"]}).encode(),
            )
            if m == "GET" and p.startswith(f"/v2/{repo}/tags/list")
            else None
        )
    ),
    # A bare 404 on the tag list (no NAME_UNKNOWN): it says nothing about the tags.
    "a bare 404 on the tag list": lambda repo: (
        lambda m, p: (
            (404, {"Content-Type": "text/plain"}, b"404 page not found")
            if m == "GET" and p.startswith(f"/v2/{repo}/tags/list")
            else None
        )
    ),
}


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
@pytest.mark.parametrize("adapter", ["python", "node"])
def test_a_recheck_that_cannot_be_made_skips_instead_of_deleting(
    tmp_path: Path, adapter: str, hostile: str
) -> None:
    """Issue 24, findings 1, 10 and 13, on the real registry behind a hostile proxy: a tag
    pushed after review onto a planned manifest, and a re-check answered in a way the
    executor does not expect. Failing open would delete the new tag with its manifest; both
    adapters skip it, report why, and the registry still holds it."""
    (tmp_path / "registry").mkdir()
    server = RegistryServer(tmp_path / "registry")
    server.start()
    repo = f"hostile/{adapter}"
    proxy = FaultProxy(server.url, 0.0, 1, hook=HOSTILE[hostile](repo))
    try:
        pool = Pool(server.url.split("://")[1])
        data, digest = image(pool, repo, "v1")
        put(pool, repo, "v1", data)
        snapshot = registry.read_storage(server.storage, server.url)
        plan = regprune.plan(snapshot, {"op": "deleteImage", "image": f"{repo}:v1"})
        put(pool, repo, "hotfix", data)  # after review
        proxy.start()
        report = run(adapter, plan, proxy.url, tmp_path)
        [outcome] = report["outcomes"]
        assert outcome["outcome"] == "skipped", outcome
        assert "re-checked" in outcome["detail"], outcome
        status, headers, _ = pool.request(
            "HEAD", f"/v2/{repo}/manifests/hotfix", None, {"Accept": OCI_MANIFEST}
        )
        assert status == 200 and dict(headers).get("docker-content-digest") == digest
    finally:
        proxy.stop()
        server.stop()
