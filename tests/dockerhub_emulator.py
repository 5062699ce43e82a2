"""An emulator of Docker Hub, written from `../shared/reference/docker-hub-api.md`: Hub's API
(login, a namespace's repositories, a repository's tags with digests and push times, tag
deletion) and the registry with Docker token auth, in front of a real CNCF distribution registry
(Debian's docker-registry) that holds the manifests and blobs; the tags live here, as on Hub.

    python3 tests/dockerhub_emulator.py DIR [--page-cap N]

prints one JSON line ``{"registry": "http://127.0.0.1:P", "hub": "http://127.0.0.1:P/hub",
"username": ..., "token": ..., "images": {...}}`` and serves until stdin closes.

Enforced as documented: the Hub API takes a JWT from ``POST /v2/auth/token``
(``{"identifier", "secret"}``, 10 minutes), private repositories are invisible without it, pages
are ``page``/``page_size`` (at most 100; ``--page-cap`` makes them smaller to exercise paging)
with an absolute ``next`` and 404 past the last page; the registry wants a token from ``/token``
(``service=registry.docker.io``; anonymous pulls of public repositories), counts every manifest
``GET`` as a pull (``ratelimit-remaining``) but not a ``HEAD``, has no catalog, deletes manifests
only by digest and answers 403 while a tag or an index still references one.
``GET /_emulator/state`` answers the tags, the manifests deleted and the pulls.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from emulator_common import Backend, JsonHandler, iso, serve, sha

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SERVICE = "registry.docker.io"
USERNAME = "hubuser"
PAT = "dckr_pat_emulator000000000000000"
PRIVATE = {"hubuser/app"}


class State:
    def __init__(self, backend: Backend, page_cap: int) -> None:
        self.backend = backend
        self.page_cap = page_cap
        self.port = 0
        self.lock = threading.Lock()
        self.tags: dict[
            tuple[str, str], tuple[str, float]
        ] = {}  # (repo, tag) -> (digest, pushed)
        self.manifests: dict[tuple[str, str], bytes] = {}  # (repo, digest) -> bytes
        self.deleted: list[str] = []
        self.pulls = 0
        self.jwts: dict[str, float] = {}
        self.tokens: dict[str, tuple[bool, str]] = {}

    def put(
        self, repo: str, data: bytes, media_type: str, tags: list[str], when: float
    ) -> str:
        digest = sha(data)
        s, _, body = self.backend.request(
            "PUT", f"/v2/{repo}/manifests/{digest}", data, {"Content-Type": media_type}
        )
        assert s == 201, (s, body)
        self.manifests[(repo, digest)] = data
        for t in tags:
            self.tags[(repo, t)] = (digest, when)
        return digest

    def referenced(self, repo: str, digest: str) -> bool:
        if any(d == digest for (r, _), (d, _) in self.tags.items() if r == repo):
            return True
        for (r, _), data in self.manifests.items():
            if r == repo and any(
                c.get("digest") == digest for c in json.loads(data).get("manifests", [])
            ):
                return True
        return False


def seed(st: State) -> dict[str, Any]:
    """``hubuser/app`` (private): a multi-arch index tagged ``1.0`` and ``latest``, its two
    platform images (untagged), and an older image tagged ``0.9``. ``hubuser/web`` (public):
    ``stable`` and an older ``old``. Two more public repositories span the listing's pages."""
    now = time.time()
    day = 86400.0

    def image(repo: str, salt: str, tags: list[str], when: float) -> str:
        cfg = st.backend.blob(
            repo, json.dumps({"created": iso(when), "salt": salt}).encode()
        )
        layer = st.backend.blob(repo, f"layer {salt} ".encode() * 40)
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}]}  # fmt: skip
        return st.put(
            repo,
            json.dumps(doc, separators=(",", ":")).encode(),
            OCI_MANIFEST,
            tags,
            when,
        )

    amd = image("hubuser/app", "amd64", [], now - 3 * day)
    arm = image("hubuser/app", "arm64", [], now - 3 * day)
    entries = [{"mediaType": OCI_MANIFEST, "digest": d, "size": len(st.manifests[("hubuser/app", d)]),
                "platform": {"architecture": a, "os": "linux"}} for d, a in ((amd, "amd64"), (arm, "arm64"))]  # fmt: skip
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
        separators=(",", ":"),
    ).encode()
    idx = st.put("hubuser/app", index, OCI_INDEX, ["1.0", "latest"], now - 3 * day)
    old = image("hubuser/app", "0.9", ["0.9"], now - 60 * day)
    stable = image("hubuser/web", "stable", ["stable"], now - day)
    web_old = image("hubuser/web", "old", ["old"], now - 90 * day)
    for name in ("tools", "zz-last"):
        image(f"hubuser/{name}", name, ["latest"], now - day)
    return {"app": {"index": idx, "amd64": amd, "arm64": arm, "0.9": old},
            "web": {"stable": stable, "old": web_old}}  # fmt: skip


class Handler(JsonHandler):
    st: State

    def route(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_emulator/state":
            with self.st.lock:
                return self.reply(200, {
                    "tags": {f"{r}:{t}": d for (r, t), (d, _) in self.st.tags.items()},
                    "deleted": self.st.deleted, "pulls": self.st.pulls,
                })  # fmt: skip
        if path.startswith("/hub/"):
            return self.hub(path[4:])
        if path == "/token":
            return self.token()
        if path.startswith("/v2"):
            return self.registry(path)
        self.reply(404, {"detail": "Not found"})

    # Hub's API
    def jwt_ok(self) -> bool:
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return False
        with self.st.lock:
            exp = self.st.jwts.get(auth[7:])
        return exp is not None and exp > time.time()

    def hub(self, path: str) -> None:
        st = self.st
        limits = {
            "X-RateLimit-Limit": "180",
            "X-RateLimit-Remaining": "179",
            "X-RateLimit-Reset": str(int(time.time()) + 60),
        }
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if path == "/v2/auth/token" and self.command == "POST":
            try:
                cred = json.loads(self.body())
            except ValueError:
                return self.reply(400, {"detail": "bad JSON"}, limits)
            if cred.get("identifier") != USERNAME or cred.get("secret") != PAT:
                return self.reply(
                    401, {"detail": "Incorrect authentication credentials"}, limits
                )
            jwt = secrets.token_urlsafe(24)
            with st.lock:
                st.jwts[jwt] = time.time() + 600
            return self.reply(200, {"access_token": jwt}, limits)
        authed = self.jwt_ok()

        def visible(repo: str) -> bool:
            return repo not in PRIVATE or authed

        def paged(items: list[Any]) -> None:
            size = min(100, max(1, int((q.get("page_size") or ["10"])[0])), st.page_cap)
            page = max(1, int((q.get("page") or ["1"])[0]))
            chunk = items[(page - 1) * size : page * size]
            if page > 1 and not chunk:
                return self.reply(404, {"detail": "Not found"}, limits)
            nxt = None
            if page * size < len(items):
                u = urllib.parse.urlsplit(self.path)
                qq = {k: v[0] for k, v in q.items()}
                qq["page"] = str(page + 1)
                nxt = f"http://127.0.0.1:{st.port}{u.path}?{urllib.parse.urlencode(qq)}"
            self.reply(
                200,
                {"count": len(items), "next": nxt, "previous": None, "results": chunk},
                limits,
            )

        m = re.fullmatch(r"/v2/namespaces/([^/]+)/repositories", path)
        if m and self.command == "GET":
            ns = m.group(1)
            with st.lock:
                names = sorted(
                    {r for (r, _) in st.tags} | {r for (r, _) in st.manifests}
                )
            items = [{"name": r.split("/", 1)[1], "namespace": ns, "repository_type": "image",
                      "is_private": r in PRIVATE} for r in names if r.startswith(ns + "/") and visible(r)]  # fmt: skip
            return paged(items)
        m = re.fullmatch(r"/v2/namespaces/([^/]+)/repositories/([^/]+)/tags", path)
        if m and self.command == "GET":
            repo = f"{m.group(1)}/{m.group(2)}"
            with st.lock:
                known = any(r == repo for (r, _) in st.manifests)
                tags = sorted(
                    ((t, d, w) for (r, t), (d, w) in st.tags.items() if r == repo),
                    key=lambda x: -x[2],
                )
                items = []
                for t, d, w in tags:
                    doc = json.loads(st.manifests[(repo, d)])
                    images = [{"digest": c["digest"], "architecture": c.get("platform", {}).get("architecture")}
                              for c in doc.get("manifests", [])] or [{"digest": d, "architecture": "amd64"}]  # fmt: skip
                    items.append({"name": t, "digest": d, "last_updated": iso(w), "tag_last_pushed": iso(w),
                                  "tag_status": "active", "images": images})  # fmt: skip
            if not known or not visible(repo):
                return self.reply(404, {"detail": "Object not found"}, limits)
            return paged(items)
        m = re.fullmatch(r"/v2/repositories/([^/]+)/([^/]+)/tags/([^/]+)/", path)
        if m and self.command == "DELETE":
            if not authed:
                return self.reply(
                    401,
                    {"detail": "Authentication credentials were not provided."},
                    limits,
                )
            key = (f"{m.group(1)}/{m.group(2)}", m.group(3))
            with st.lock:
                if key not in st.tags:
                    return self.reply(404, {"detail": "Object not found"}, limits)
                del st.tags[key]
            return self.reply(204, None, limits)
        self.reply(404, {"detail": "Not found"}, limits)

    # the registry
    def challenge(self, scope: str) -> None:
        realm = f"http://127.0.0.1:{self.st.port}/token"
        self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                   {"WWW-Authenticate": f'Bearer realm="{realm}",service="{SERVICE}",scope="{scope}"'})  # fmt: skip

    def token(self) -> None:
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        auth = self.headers.get("Authorization") or ""
        user = False
        if auth.startswith("Basic "):
            u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            if (u, p) != (USERNAME, PAT):
                return self.reply(401, {"details": "incorrect username or password"})
            user = True
        if q.get("service") != [SERVICE]:
            return self.reply(400, {"details": "unknown service"})
        tok = secrets.token_hex(16)
        with self.st.lock:
            self.st.tokens[tok] = (user, (q.get("scope") or [""])[0])
        self.reply(200, {"token": tok, "access_token": tok, "expires_in": 300})

    def authorized(self, repo: str, action: str) -> bool:
        auth = self.headers.get("Authorization") or ""
        with self.st.lock:
            grant = self.st.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if grant is None:
            return False
        user, scope = grant
        m = re.fullmatch(r"repository:(.+):([a-z,]+)", scope)
        if not m or m.group(1) != repo or action not in m.group(2).split(","):
            return False
        return user or (repo not in PRIVATE and action == "pull")

    def registry(self, path: str) -> None:
        st = self.st
        if path.startswith("/v2/_catalog") or path in ("/v2", "/v2/"):
            return self.challenge("registry:catalog:*")
        m = re.fullmatch(r"/v2/(.+)/(manifests|tags)/(.+)", path)
        if not m:
            return self.reply(
                404, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]}
            )
        repo, kind, ref = m.groups()
        action = {"DELETE": "delete", "PUT": "push"}.get(self.command, "pull")
        if not self.authorized(repo, action):
            return self.challenge(f"repository:{repo}:{action}")
        if kind == "tags":
            with st.lock:
                tags = sorted(t for (r, t) in st.tags if r == repo)
            return self.reply(200, {"name": repo, "tags": tags})
        if self.command == "DELETE":
            if not ref.startswith("sha256:"):
                return self.reply(
                    405,
                    {
                        "errors": [
                            {
                                "code": "UNSUPPORTED",
                                "message": "only digest-based deletion is allowed",
                            }
                        ]
                    },
                )
            with st.lock:
                if (repo, ref) not in st.manifests:
                    return self.reply(
                        404,
                        {
                            "errors": [
                                {
                                    "code": "MANIFEST_UNKNOWN",
                                    "message": "manifest unknown",
                                }
                            ]
                        },
                    )
                if st.referenced(repo, ref):
                    return self.reply(
                        403,
                        {
                            "errors": [
                                {
                                    "code": "DENIED",
                                    "message": "manifest is still referenced by a tag or another image",
                                }
                            ]
                        },
                    )
                del st.manifests[(repo, ref)]
                st.deleted.append(f"{repo}@{ref}")
            st.backend.request("DELETE", f"/v2/{repo}/manifests/{ref}")
            return self.reply(202)
        if self.command == "PUT":
            # A push by digest or by tag (the blobs are already there: an undo's push).
            data = self.body()
            digest = sha(data)
            mt = self.headers.get("Content-Type") or OCI_MANIFEST
            s_, _, body = st.backend.request(
                "PUT", f"/v2/{repo}/manifests/{digest}", data, {"Content-Type": mt}
            )
            if s_ != 201:
                return self.reply(s_, raw=body)
            with st.lock:
                st.manifests[(repo, digest)] = data
                if not ref.startswith("sha256:"):
                    st.tags[(repo, ref)] = (digest, time.time())
            return self.reply(
                201,
                None,
                {
                    "Docker-Content-Digest": digest,
                    "Location": f"/v2/{repo}/manifests/{digest}",
                },
            )
        if self.command not in ("GET", "HEAD"):
            return self.reply(
                405, {"errors": [{"code": "UNSUPPORTED", "message": "unsupported"}]}
            )
        with st.lock:
            digest = (
                ref
                if ref.startswith("sha256:")
                else (st.tags.get((repo, ref)) or ("", 0))[0]
            )
            data = st.manifests.get((repo, digest))
            if data is not None and self.command == "GET":
                st.pulls += 1
            remaining = 200 - st.pulls
        if data is None:
            return self.reply(
                404,
                {
                    "errors": [
                        {"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}
                    ]
                },
            )
        mt = json.loads(data).get("mediaType", OCI_MANIFEST)
        self.reply(200, raw=data, headers={"Content-Type": mt, "Docker-Content-Digest": digest,
                                           "ratelimit-limit": "200;w=21600", "ratelimit-remaining": f"{remaining};w=21600"})  # fmt: skip


def main() -> None:
    root = Path(sys.argv[1])
    page_cap = (
        int(sys.argv[sys.argv.index("--page-cap") + 1])
        if "--page-cap" in sys.argv
        else 100
    )
    root.mkdir(parents=True, exist_ok=True)
    backend = Backend(root)
    try:
        st = State(backend, page_cap)

        def start(port: int) -> dict[str, Any]:
            st.port = port
            images = seed(st)
            return {
                "registry": f"http://127.0.0.1:{port}", "hub": f"http://127.0.0.1:{port}/hub",
                "username": USERNAME, "token": PAT, "images": images,
            }  # fmt: skip

        serve(Handler, st, start)
    finally:
        backend.stop()


if __name__ == "__main__":
    main()
