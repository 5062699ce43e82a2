"""A real CNCF distribution registry (Debian's docker-registry) on 127.0.0.1 for end-to-end
tests, and a small client that pushes the test fixture through the plain API."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = f"{OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST}, {DOCKER_LIST}"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RegistryServer:
    """Starts, stops and garbage-collects a filesystem-backed registry with deletes enabled."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.env = env or {}
        self.storage = root / "storage"
        self.port = free_port()
        self.config = root / "config.yml"
        self.config.write_text(
            "version: 0.1\n"
            "log: {level: error}\n"
            f"storage:\n  filesystem: {{rootdirectory: {self.storage}}}\n  delete: {{enabled: true}}\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["docker-registry", "serve", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **self.env},
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if Client(self.url).request("GET", "/v2/")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def blob_files(self) -> dict[str, int]:
        """Every blob data file in storage, with its size."""
        base = self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256"
        return {p.parent.name: p.stat().st_size for p in base.glob("*/*/data")}

    def garbage_collect(self, since: dict[str, int] | None = None) -> int:
        """Runs GC with the registry stopped; returns the bytes of the blob files it removed.
        With ``since`` (``blob_files()`` taken when the snapshot was read), only blobs that were
        there then count: an untag's placeholder is made and freed by the execution itself."""
        self.stop()
        before = self.blob_files() if since is None else since
        subprocess.run(
            ["docker-registry", "garbage-collect", str(self.config)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        after = self.blob_files()
        self.start()
        return sum(size for digest, size in before.items() if digest not in after)


class Client:
    """The plain Distribution API, to push fixtures and to read the state back."""

    def __init__(self, url: str) -> None:
        self.netloc = urllib.parse.urlsplit(url).netloc

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.netloc, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def blob(self, repo: str, data: bytes) -> dict[str, Any]:
        return upload(self, repo, data)

    def manifest(self, repo: str, ref: str, doc: dict[str, Any]) -> str:
        data = json.dumps(doc, separators=(",", ":")).encode()
        status, _headers, body = self.request(
            "PUT", f"/v2/{repo}/manifests/{ref}", data, {"Content-Type": doc["mediaType"]}
        )
        assert status == 201, (status, body)
        return sha(data)

    def image(
        self, repo: str, tags: list[str], layers: list[bytes], created: str, docker: bool = False
    ) -> str:
        config = self.blob(
            repo, json.dumps({"created": created, "architecture": "amd64", "os": "linux"}).encode()
        )
        ls = [self.blob(repo, layer) for layer in layers]
        mt = DOCKER_MANIFEST if docker else OCI_MANIFEST
        cfg_mt = (
            "application/vnd.docker.container.image.v1+json"
            if docker
            else "application/vnd.oci.image.config.v1+json"
        )
        layer_mt = (
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
            if docker
            else "application/vnd.oci.image.layer.v1.tar+gzip"
        )
        doc = {
            "schemaVersion": 2,
            "mediaType": mt,
            "config": {"mediaType": cfg_mt, **config},
            "layers": [{"mediaType": layer_mt, **b} for b in ls],
        }
        digest = sha(json.dumps(doc, separators=(",", ":")).encode())
        refs = tags or [digest]
        for t in refs:
            self.manifest(repo, t, doc)
        return digest

    def tags(self, repo: str) -> dict[str, str]:
        status, _, body = self.request("GET", f"/v2/{repo}/tags/list")
        names = (json.loads(body).get("tags") or []) if status == 200 else []
        out = {}
        for t in names:
            s, h, _ = self.request("HEAD", f"/v2/{repo}/manifests/{t}", headers={"Accept": ACCEPT})
            if s == 200:
                out[t] = h["docker-content-digest"]
        return out

    def exists(self, repo: str, digest: str) -> bool:
        return (
            self.request("HEAD", f"/v2/{repo}/manifests/{digest}", headers={"Accept": ACCEPT})[0]
            == 200
        )


def push_fixture(c: Client) -> dict[str, str]:
    """Several repositories, layers shared across them, several tags on one manifest, a
    re-pushed tag leaving a dangling manifest, an OCI index and a Docker manifest list with
    platform children, a signature with `subject`, and a repository with hundreds of tags."""
    base = b"base-layer" * 2000
    d: dict[str, str] = {}
    d["app_v1"] = c.image("app", ["v1", "stable"], [base, b"app-v1" * 500], "2025-01-01T00:00:00Z")
    d["app_old_latest"] = c.image(
        "app", ["latest"], [base, b"app-v1.5" * 500], "2025-03-01T00:00:00Z"
    )
    d["app_v2"] = c.image("app", ["v2", "latest"], [base, b"app-v2" * 500], "2026-06-01T00:00:00Z")
    d["web_v1"] = c.image(
        "web", ["v1"], [base, b"web-v1" * 700], "2025-02-01T00:00:00Z", docker=True
    )
    children = []
    for arch in ("amd64", "arm64"):
        digest = c.image(
            "multi", [], [base, f"multi-{arch}".encode() * 300], "2025-04-01T00:00:00Z"
        )
        children.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": 1,
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    for ch in children:  # sizes must be exact for a valid index
        _, _, body = c.request(
            "GET", f"/v2/multi/manifests/{ch['digest']}", headers={"Accept": ACCEPT}
        )
        ch["size"] = len(body)
    d["multi_index"] = c.manifest(
        "multi", "1.0", {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
    )
    d["multi_amd64"] = children[0]["digest"]
    dchildren = []
    for arch in ("amd64", "s390x"):
        digest = c.image(
            "dlist", [], [base, f"dlist-{arch}".encode() * 300], "2025-05-01T00:00:00Z", docker=True
        )
        _, _, body = c.request("GET", f"/v2/dlist/manifests/{digest}", headers={"Accept": ACCEPT})
        dchildren.append(
            {
                "mediaType": DOCKER_MANIFEST,
                "digest": digest,
                "size": len(body),
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    d["dlist"] = c.manifest(
        "dlist", "2.0", {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": dchildren}
    )
    empty = c.blob("app", b"{}")
    payload = c.blob("app", b"signature-payload")
    _, _, body = c.request("GET", f"/v2/app/manifests/{d['app_v1']}", headers={"Accept": ACCEPT})
    d["app_v1_sig"] = c.manifest(
        "app",
        "sha256-" + d["app_v1"].split(":")[1],
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
            "layers": [{"mediaType": "application/octet-stream", **payload}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": d["app_v1"], "size": len(body)},
        },
    )
    layer = c.blob("many", b"many-base" * 100)
    cfg = c.blob("many", json.dumps({"created": "2024-01-01T00:00:00Z"}).encode())
    for i in range(300):
        c.manifest(
            "many",
            f"t{i}",
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
                "annotations": {"n": str(i // 3)},
            },
        )
    return d


class Pool:
    """Keep-alive connections, one per worker thread: the raw client."""

    def __init__(self, netloc: str) -> None:
        self.netloc = netloc
        self.local = threading.local()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.netloc, timeout=60)
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def upload(client: Client | Pool, repo: str, data: bytes) -> dict[str, Any]:
    """Uploads a blob (monolithic POST then PUT); returns its descriptor's digest and size."""
    digest = sha(data)
    status, headers, _ = client.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert status == 202, status
    loc = urllib.parse.urlsplit(headers["location"])
    query = f"{loc.query}&" if loc.query else ""
    status, _, _ = client.request(
        "PUT",
        f"{loc.path}?{query}digest={digest}",
        data,
        {"Content-Type": "application/octet-stream"},
    )
    assert status == 201, status
    return {"digest": digest, "size": len(data)}


def push(pool: Pool, repos: int, per_repo: int, salt: str, tags_per_manifest: int = 0) -> int:
    """Pushes ``per_repo`` distinct manifests into each of ``repos`` repositories (sharing one
    config and one layer per repository), untagged or with tags; returns the count."""

    def one_repo(r: int) -> None:
        repo = f"bench/{salt}-{r}"
        config = upload(
            pool,
            repo,
            json.dumps({"os": "linux", "salt": salt, "created": "2025-01-01T00:00:00Z"}).encode(),
        )
        layer = upload(pool, repo, f"layer {salt} {r}".encode())
        for i in range(per_repo):
            doc = {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    **config,
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                },
                "layers": [{**layer, "mediaType": "application/octet-stream"}],
                "annotations": {"n": f"{salt}-{r}-{i}"},
            }
            data = json.dumps(doc, separators=(",", ":")).encode()
            refs = [f"t{i}-{k}" for k in range(tags_per_manifest)] or [sha(data)]
            for ref in refs:
                status, _, body = pool.request(
                    "PUT",
                    f"/v2/{repo}/manifests/{ref}",
                    data,
                    {"Content-Type": OCI_MANIFEST},
                )
                assert status == 201, (status, body)

    with ThreadPoolExecutor(16) as ex:
        list(ex.map(one_repo, range(repos)))
    return repos * per_repo


@contextlib.contextmanager
def emulator(script: str, directory: Path, *args: str) -> Iterator[dict[str, Any]]:
    """Runs one of the project's hosted-registry emulators (`tests/<script>`) and yields the
    JSON line it prints (its URLs, credentials and seeded images) until the block ends."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, str(root / "tests" / script), str(directory), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        yield json.loads(proc.stdout.readline())
    finally:
        proc.stdin.close()
        proc.wait(timeout=20)
