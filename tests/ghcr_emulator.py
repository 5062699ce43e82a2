"""An emulator of GitHub Container Registry, written from `../shared/reference/ghcr-github-packages.md`:
the GitHub Packages REST API (owners, container packages, package versions with ids, tags and
times, soft delete and restore) and ghcr.io's registry API in front of a real CNCF distribution
registry (Debian's docker-registry), which holds the manifests and blobs.

    python3 tests/ghcr_emulator.py DIR

starts the backend registry (storage in DIR), seeds the scenario below, prints one JSON line
``{"registry": "http://127.0.0.1:P", "api": "http://127.0.0.1:P/api", "token": ..., ...}`` and
serves until stdin closes. Both test suites (Python, Node) start it.

The documented rules are enforced, so a client that breaks one fails:
- REST requests need ``Authorization: Bearer <token>`` with the scopes each endpoint needs
  (``read:packages``; ``delete:packages`` to delete; ``write:packages`` to restore or push),
  ``package_type=container`` on package listings, and percent-encoded package names; pages are
  ``page``/``per_page`` (default 30, at most 100) and, like GitHub's, the packages listing may
  leave the ``Link`` header out although more pages exist (``linkless``);
- deleting a version is soft (restorable for 30 days); 404 for an unknown or deleted one; 400
  for the package's last tagged version; 400 for a public version downloaded more than 5,000
  times; every ``GET`` of a manifest on the registry side counts as a download;
- each REST ``DELETE`` costs 5 of the 900 points a minute allows (at most 180 a minute); past
  the budget the answer is 403 "secondary rate limit" with ``retry-after``;
- the registry side uses Docker token auth (``/token``, any user name with the token as the
  password; anonymous pull of public packages), has no catalog, answers ``DELETE`` of a manifest
  with 405 ``UNSUPPORTED``, and a ``PUT`` under an existing tag moves the tag to a new version.

``GET /_emulator/state`` answers every version (deleted ones included), downloads and the REST
request log; ``POST /_emulator/config`` changes ``points_per_minute``, ``window`` (seconds) and
``linkless``, and ``POST /_emulator/downloads`` sets a version's download count.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator_common import Backend, JsonHandler, iso, serve, sha

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = f"{OCI_MANIFEST}, {OCI_INDEX}, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"
SERVICE = "ghcr.emu"
TOKEN = "ghp_emulatorclassictoken0000000000000000"
READ_ONLY_TOKEN = "ghp_emulatorreadonlytoken000000000000000"
SCOPES = {
    TOKEN: ["read:packages", "write:packages", "delete:packages"],
    READ_ONLY_TOKEN: ["read:packages"],
}
LOGIN = "octocat"
ORG = "octo-org"
OWNERS = {LOGIN: "User", ORG: "Organization"}
RESTORE_DAYS = 30


@dataclass
class Version:
    id: int
    owner: str
    package: str
    digest: str
    tags: list[str]
    created: float
    updated: float
    bytes: bytes
    media_type: str
    deleted: float | None = None
    downloads: int = 0


@dataclass
class Package:
    owner: str
    name: str
    visibility: str = "private"


@dataclass
class State:
    backend: Backend
    port: int = 0
    packages: dict[tuple[str, str], Package] = field(default_factory=dict)
    versions: dict[int, Version] = field(default_factory=dict)
    next_id: int = 1000
    points_per_minute: int = 900
    window: float = 60.0
    spent: list[tuple[float, int]] = field(default_factory=list)
    linkless: bool = True
    log: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the backend registry -------------------------------------------------------------
    def active(self, owner: str, package: str) -> list[Version]:
        return [
            v
            for v in self.versions.values()
            if v.owner == owner and v.package == package and v.deleted is None
        ]

    def put_manifest(
        self,
        owner: str,
        package: str,
        ref: str,
        data: bytes,
        media_type: str,
        when: float,
    ) -> Version:
        """Stores a manifest under a tag or its digest: a new version for a new digest; a tag
        moves from whichever version held it."""
        repo = f"{owner}/{package}"
        s, _, body = self.backend.request(
            "PUT", f"/v2/{repo}/manifests/{ref}", data, {"Content-Type": media_type}
        )
        assert s == 201, (s, body)
        digest = sha(data)
        self.packages.setdefault((owner, package), Package(owner, package))
        mine = next(
            (v for v in self.active(owner, package) if v.digest == digest), None
        )
        if mine is None:
            self.next_id += 1
            mine = Version(
                self.next_id, owner, package, digest, [], when, when, data, media_type
            )
            self.versions[mine.id] = mine
        if not ref.startswith("sha256:"):
            for v in self.active(owner, package):
                if ref in v.tags and v is not mine:
                    v.tags.remove(ref)
                    v.updated = when
            if ref not in mine.tags:
                mine.tags.append(ref)
                mine.updated = when
        return mine

    def spend(self, points: int) -> float | None:
        """Charges a write; the seconds to wait when the minute's budget is spent."""
        now = time.monotonic()
        self.spent = [(t, p) for t, p in self.spent if now - t < self.window]
        used = sum(p for _, p in self.spent)
        if used + points > self.points_per_minute:
            return max(1.0, self.window - (now - self.spent[0][0]))
        self.spent.append((now, points))
        return None


# -- the scenario ------------------------------------------------------------------------------
def seed(st: State) -> dict[str, Any]:
    """The multi-arch case the peers broke, and GHCR's own rules:
    - ``octo-org/app`` (private): an index tagged ``v1`` and ``latest`` with two platform images
      and an attestation (all untagged versions), a signature referrer of the index (untagged,
      with ``subject``), an old tagged image ``v0``, and an old dangling image;
    - ``octo-org/team/tool`` (public): ``1.0`` and an old dangling image;
    - ``octo-org/solo`` (private): one tagged version only;
    - ``octocat/hello`` (the token's own user, private): ``main`` and an old dangling image.
    Also a filler package per page of the packages listing (``octo-org/filler-N``), so that the
    listing spans pages."""
    day = 86400.0
    now = time.time()
    out: dict[str, Any] = {}

    def image(
        owner: str,
        pkg: str,
        salt: str,
        tag: str | None,
        when: float,
        subject: dict[str, Any] | None = None,
        layer_type: str = "application/vnd.oci.image.layer.v1.tar+gzip",
    ) -> str:
        repo = f"{owner}/{pkg}"
        cfg = st.backend.blob(
            repo,
            json.dumps(
                {
                    "created": iso(when),
                    "architecture": "amd64",
                    "os": "linux",
                    "salt": salt,
                }
            ).encode(),
        )
        layer = st.backend.blob(repo, f"layer {salt} ".encode() * 50)
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
            "layers": [{"mediaType": layer_type, **layer}],
        }
        if subject:
            doc["subject"] = subject
            doc["artifactType"] = "application/vnd.dev.sigstore.bundle.v0.3+json"
        data = json.dumps(doc, separators=(",", ":")).encode()
        v = st.put_manifest(owner, pkg, tag or sha(data), data, OCI_MANIFEST, when)
        return v.digest

    app_old = now - 90 * day
    amd = image(ORG, "app", "amd64", None, now - 10 * day)
    arm = image(ORG, "app", "arm64", None, now - 10 * day)
    att = image(
        ORG,
        "app",
        "attestation",
        None,
        now - 10 * day,
        layer_type="application/vnd.in-toto+json",
    )

    def size(digest: str) -> int:
        return next(len(v.bytes) for v in st.versions.values() if v.digest == digest)

    entries = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": amd,
            "size": size(amd),
            "platform": {"architecture": "amd64", "os": "linux"},
        },
        {
            "mediaType": OCI_MANIFEST,
            "digest": arm,
            "size": size(arm),
            "platform": {"architecture": "arm64", "os": "linux"},
        },
        {
            "mediaType": OCI_MANIFEST,
            "digest": att,
            "size": size(att),
            "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": amd,
            },
        },
    ]
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
        separators=(",", ":"),
    ).encode()
    st.put_manifest(ORG, "app", "v1", index, OCI_INDEX, now - 10 * day)
    st.put_manifest(ORG, "app", "latest", index, OCI_INDEX, now - 10 * day)
    sig = image(
        ORG,
        "app",
        "signature",
        None,
        now - 9 * day,
        subject={"mediaType": OCI_INDEX, "digest": sha(index), "size": len(index)},
    )
    v0 = image(ORG, "app", "v0", "v0", app_old)
    dangling = image(ORG, "app", "dangling", None, app_old)
    out["app"] = {
        "index": sha(index),
        "amd64": amd,
        "arm64": arm,
        "attestation": att,
        "signature": sig,
        "v0": v0,
        "dangling": dangling,
    }

    st.packages[(ORG, "team/tool")] = Package(ORG, "team/tool", "public")
    tool = image(ORG, "team/tool", "tool", "1.0", now - 5 * day)
    tool_old = image(ORG, "team/tool", "tool-old", None, app_old)
    out["team/tool"] = {"1.0": tool, "dangling": tool_old}

    out["solo"] = {"only": image(ORG, "solo", "solo", "only", app_old)}
    hello = image(LOGIN, "hello", "hello", "main", now - day)
    hello_old = image(LOGIN, "hello", "hello-old", None, app_old)
    out["hello"] = {"main": hello, "dangling": hello_old}
    for i in range(3):
        image(ORG, f"filler-{i}", f"filler{i}", "latest", now - day)
    return out


# -- HTTP ----------------------------------------------------------------------------------------
class Handler(JsonHandler):
    st: State

    def route(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/_emulator/"):
            return self.control(path)
        if path.startswith("/api/"):
            return self.rest(path[4:])
        if path == "/token":
            return self.token()
        if path.startswith("/v2"):
            return self.registry(path)
        self.reply(404, {"message": "Not Found"})

    # control
    def control(self, path: str) -> None:
        st = self.st
        if path == "/_emulator/state":
            with st.lock:
                versions = [
                    {
                        "id": v.id,
                        "package": f"{v.owner}/{v.package}",
                        "digest": v.digest,
                        "tags": v.tags,
                        "deleted": v.deleted is not None,
                        "downloads": v.downloads,
                    }
                    for v in st.versions.values()
                ]
                return self.reply(200, {"versions": versions, "log": st.log})
        if path == "/_emulator/config":
            cfg = json.loads(self.body())
            with st.lock:
                for k in ("points_per_minute", "window", "linkless"):
                    if k in cfg:
                        setattr(st, k, cfg[k])
                st.spent.clear()
            return self.reply(204)
        if path == "/_emulator/downloads":
            cfg = json.loads(self.body())
            with st.lock:
                for v in st.versions.values():
                    if v.digest == cfg["digest"]:
                        v.downloads = cfg["downloads"]
            return self.reply(204)
        self.reply(404)

    # REST API
    def rest_headers(self, token: str | None) -> dict[str, str]:
        return {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4999",
            "x-ratelimit-used": "1",
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-resource": "core",
            "x-oauth-scopes": ", ".join(SCOPES.get(token or "", [])),
            "x-github-api-version-selected": "2022-11-28",
        }

    def rest(self, path: str) -> None:
        st = self.st
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        auth = self.headers.get("Authorization") or ""
        m = re.fullmatch(r"(?:Bearer|token) (\S+)", auth)
        token = m.group(1) if m else None
        with st.lock:
            st.log.append(
                {"method": self.command, "path": self.path, "auth": bool(token)}
            )
        h = self.rest_headers(token)
        if token is not None and token not in SCOPES:
            return self.reply(401, {"message": "Bad credentials"}, h)
        if self.headers.get("X-GitHub-Api-Version") not in (
            None,
            "2022-11-28",
            "2026-03-10",
        ):
            return self.reply(400, {"message": "Unsupported API version"}, h)
        scopes = SCOPES.get(token or "", [])

        def need(scope: str) -> bool:
            if token is None:
                self.reply(401, {"message": "Requires authentication"}, h)
                return False
            if scope not in scopes:
                self.reply(
                    403,
                    {"message": f"Resource not accessible: needs {scope}"},
                    {**h, "x-accepted-oauth-scopes": scope},
                )
                return False
            return True

        if path == "/user" and self.command == "GET":
            if token is None:
                return self.reply(401, {"message": "Requires authentication"}, h)
            return self.reply(200, {"login": LOGIN, "id": 1, "type": "User"}, h)
        m = re.fullmatch(r"/users/([^/]+)", path)
        if m and self.command == "GET":
            name = urllib.parse.unquote(m.group(1))
            if name not in OWNERS:
                return self.reply(404, {"message": "Not Found"}, h)
            return self.reply(200, {"login": name, "id": 7, "type": OWNERS[name]}, h)
        m = re.fullmatch(r"/(orgs|users)/([^/]+)(/.*)|/user(/.*)", path)
        if not m:
            return self.reply(404, {"message": "Not Found"}, h)
        if m.group(4) is not None:
            owner, rest, own = LOGIN, m.group(4), True
        else:
            kind, owner, rest = m.group(1), urllib.parse.unquote(m.group(2)), m.group(3)
            if OWNERS.get(owner) != ("Organization" if kind == "orgs" else "User"):
                return self.reply(404, {"message": "Not Found"}, h)
            own = False
        if rest == "/packages" and self.command == "GET":
            if query.get("package_type") != ["container"]:
                return self.reply(
                    400,
                    {
                        "message": "package_type is required and must be one of npm, maven, rubygems, docker, nuget, container"
                    },
                    h,
                )
            if not need("read:packages"):
                return
            with st.lock:
                pkgs = sorted(
                    (
                        p
                        for (o, _), p in st.packages.items()
                        if o == owner
                        and st.active(o, p.name)
                        and (own or kind == "orgs" or p.visibility == "public")
                    ),
                    key=lambda p: p.name,
                )
                items = [self.package_json(p) for p in pkgs]
            return self.paged(items, query, h, links=not st.linkless)
        m2 = re.fullmatch(
            r"/packages/container/([^/]+)(/versions(?:/(\d+)(/restore)?)?)?", rest
        )
        if not m2:
            return self.reply(404, {"message": "Not Found"}, h)
        raw_name = m2.group(1)
        name = urllib.parse.unquote(raw_name)
        with st.lock:
            pkg = st.packages.get((owner, name))
        if pkg is None or (
            not own and OWNERS[owner] == "User" and pkg.visibility != "public"
        ):
            return self.reply(404, {"message": "Package not found."}, h)
        if m2.group(2) is None:
            if self.command != "GET" or not need("read:packages"):
                return (
                    None
                    if self.command == "GET"
                    else self.reply(404, {"message": "Not Found"}, h)
                )
            return self.reply(200, self.package_json(pkg), h)
        vid = m2.group(3)
        if vid is None:
            if self.command != "GET":
                return self.reply(404, {"message": "Not Found"}, h)
            if not need("read:packages"):
                return
            state = (query.get("state") or ["active"])[0]
            with st.lock:
                vs = [
                    v
                    for v in st.versions.values()
                    if v.owner == owner
                    and v.package == name
                    and ((v.deleted is None) == (state == "active"))
                ]
                vs.sort(key=lambda v: (-v.created, -v.id))
                items = [self.version_json(v, raw_name) for v in vs]
            return self.paged(items, query, h, links=True)
        with st.lock:
            v = st.versions.get(int(vid))
            if v is None or v.owner != owner or v.package != name:
                return self.reply(404, {"message": "Package not found."}, h)
            if m2.group(4):  # restore
                if self.command != "POST" or not need("write:packages"):
                    return (
                        None
                        if self.command == "POST"
                        else self.reply(404, {"message": "Not Found"}, h)
                    )
                if v.deleted is None or time.time() - v.deleted > RESTORE_DAYS * 86400:
                    return self.reply(404, {"message": "Package not found."}, h)
                v.deleted = None
                tags = [
                    t
                    for t in v.tags
                    if not any(t in o.tags for o in st.active(owner, name))
                ]
                v.tags = []
                st.backend.request(
                    "PUT",
                    f"/v2/{owner}/{name}/manifests/{v.digest}",
                    v.bytes,
                    {"Content-Type": v.media_type},
                )
                for t in tags:
                    st.put_manifest(owner, name, t, v.bytes, v.media_type, time.time())
                return self.reply(204, None, h)
            if self.command == "GET":
                if not need("read:packages"):
                    return
                if v.deleted is not None:
                    return self.reply(404, {"message": "Package not found."}, h)
                return self.reply(200, self.version_json(v, raw_name), h)
            if self.command != "DELETE":
                return self.reply(404, {"message": "Not Found"}, h)
            if not need("delete:packages"):
                return
            wait = st.spend(5)
            if wait is not None:
                return self.reply(
                    403,
                    {
                        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
                    },
                    {**h, "retry-after": str(int(wait + 0.999))},
                )
            if v.deleted is not None:
                return self.reply(404, {"message": "Package not found."}, h)
            active = st.active(owner, name)
            if v.tags and not any(o.tags for o in active if o is not v):
                return self.reply(
                    400,
                    {
                        "message": "You cannot delete the last tagged version of a package. You must delete the package instead."
                    },
                    h,
                )
            if pkg.visibility == "public" and v.downloads > 5000:
                return self.reply(
                    400,
                    {
                        "message": "Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance."
                    },
                    h,
                )
            s, _, body = st.backend.request(
                "DELETE", f"/v2/{owner}/{name}/manifests/{v.digest}"
            )
            assert s == 202, (s, body)
            v.deleted = time.time()
            return self.reply(204, None, h)

    def package_json(self, p: Package) -> dict[str, Any]:
        base = f"http://127.0.0.1:{self.st.port}/api"
        return {
            "id": abs(hash(p.name)) % 10**6,
            "name": p.name,
            "package_type": "container",
            "owner": {"login": p.owner, "type": OWNERS[p.owner]},
            "version_count": len(self.st.active(p.owner, p.name)),
            "visibility": p.visibility,
            "url": f"{base}/orgs/{p.owner}/packages/container/{urllib.parse.quote(p.name, safe='')}",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-02T00:00:00Z",
        }

    def version_json(self, v: Version, raw_name: str) -> dict[str, Any]:
        out = {
            "id": v.id,
            "name": v.digest,
            "url": f"http://127.0.0.1:{self.st.port}/api/orgs/{v.owner}/packages/container/{raw_name}/versions/{v.id}",
            "package_html_url": f"https://github.com/orgs/{v.owner}/packages/container/package/{raw_name}",
            "created_at": iso(v.created),
            "updated_at": iso(v.updated),
            "metadata": {
                "package_type": "container",
                "container": {"tags": list(v.tags)},
            },
        }
        if v.deleted is not None:
            out["deleted_at"] = iso(v.deleted)
        return out

    def paged(
        self,
        items: list[Any],
        query: dict[str, list[str]],
        h: dict[str, str],
        links: bool,
    ) -> None:
        page = max(1, int((query.get("page") or ["1"])[0]))
        per = min(100, max(1, int((query.get("per_page") or ["30"])[0])))
        chunk = items[(page - 1) * per : page * per]
        headers = dict(h)
        last = max(1, -(-len(items) // per))
        if links and page < last:
            u = urllib.parse.urlsplit(self.path)
            q = {k: v[0] for k, v in query.items()}
            nxt = {**q, "page": str(page + 1)}
            lst = {**q, "page": str(last)}
            base = f"http://127.0.0.1:{self.st.port}{u.path}"
            headers["Link"] = (
                f'<{base}?{urllib.parse.urlencode(nxt)}>; rel="next", <{base}?{urllib.parse.urlencode(lst)}>; rel="last"'
            )
        self.reply(200, chunk, headers)

    # the registry side
    def challenge(self, scope: str) -> None:
        realm = f"http://127.0.0.1:{self.st.port}/token"
        self.reply(
            401,
            {
                "errors": [
                    {"code": "UNAUTHORIZED", "message": "authentication required"}
                ]
            },
            {
                "WWW-Authenticate": f'Bearer realm="{realm}",service="{SERVICE}",scope="{scope}"'
            },
        )

    def token(self) -> None:
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        scope = (q.get("scope") or [""])[0]
        auth = self.headers.get("Authorization") or ""
        pat = None
        if auth.startswith("Basic "):
            _user, _, pat = base64.b64decode(auth[6:]).decode().partition(":")
            if pat not in SCOPES:
                return self.reply(
                    401,
                    {
                        "errors": [
                            {"code": "UNAUTHORIZED", "message": "bad credentials"}
                        ]
                    },
                )
        if q.get("service") != [SERVICE]:
            return self.reply(
                400, {"errors": [{"code": "UNSUPPORTED", "message": "unknown service"}]}
            )
        if scope.startswith("registry:catalog"):
            return self.reply(
                403,
                {
                    "errors": [
                        {
                            "code": "DENIED",
                            "message": "requested access to the resource is denied",
                        }
                    ]
                },
            )
        tok = secrets.token_hex(16)
        with self.st.lock:
            self.st.tokens[tok] = (pat, scope)
        self.reply(200, {"token": tok, "expires_in": 300})

    def registry(self, path: str) -> None:
        st = self.st
        if path in ("/v2", "/v2/"):
            return (
                self.reply(200, {})
                if self.authorized(None, "pull")
                else self.challenge("")
            )
        if path.startswith("/v2/_catalog"):
            return self.challenge("registry:catalog:*")
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs|tags)/(.+)", path)
        if not m:
            return self.reply(
                404, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]}
            )
        repo, kind, ref = m.groups()
        action = "push" if self.command in ("PUT", "POST", "PATCH") else "pull"
        if not self.authorized(repo, action):
            return self.challenge(f"repository:{repo}:{action}")
        if kind == "manifests" and self.command == "DELETE":
            return self.reply(
                405,
                {
                    "errors": [
                        {
                            "code": "UNSUPPORTED",
                            "message": "The operation is unsupported.",
                        }
                    ]
                },
            )
        owner, _, package = repo.partition("/")
        if kind == "manifests" and self.command == "PUT":
            data = self.body()
            with st.lock:
                v = st.put_manifest(
                    owner,
                    package,
                    ref,
                    data,
                    self.headers.get("Content-Type") or OCI_MANIFEST,
                    time.time(),
                )
            return self.reply(
                201,
                None,
                {
                    "Docker-Content-Digest": v.digest,
                    "Location": f"/v2/{repo}/manifests/{v.digest}",
                },
            )
        if kind == "blobs" and self.command in ("POST", "PATCH", "PUT"):
            # Blob uploads pass through to the backend; its upload locations are rewritten
            # onto this host.
            headers = {
                "Content-Type": self.headers.get("Content-Type")
                or "application/octet-stream"
            }
            s_, h, body = st.backend.request(
                self.command, self.path, self.body(), headers
            )
            out = {
                k: v
                for k, v in h.items()
                if k in ("docker-content-digest", "range", "docker-upload-uuid")
            }
            if "location" in h:
                loc = urllib.parse.urlsplit(h["location"])
                out["Location"] = f"http://127.0.0.1:{st.port}{loc.path}" + (
                    f"?{loc.query}" if loc.query else ""
                )
            return self.reply(s_, raw=body, headers=out)
        if self.command not in ("GET", "HEAD"):
            return self.reply(
                405,
                {
                    "errors": [
                        {
                            "code": "UNSUPPORTED",
                            "message": "The operation is unsupported.",
                        }
                    ]
                },
            )
        headers = {"Accept": self.headers.get("Accept") or ACCEPT}
        s, h, body = st.backend.request(self.command, self.path, None, headers)
        if kind == "manifests" and self.command == "GET" and s == 200:
            digest = h.get("docker-content-digest")
            with st.lock:
                for v in st.versions.values():
                    if (
                        v.owner == owner
                        and v.package == package
                        and v.digest == digest
                        and v.deleted is None
                    ):
                        v.downloads += 1
        out = {
            k: v for k, v in h.items() if k in ("content-type", "docker-content-digest")
        }
        self.reply(s, raw=body, headers=out)

    def authorized(self, repo: str | None, action: str) -> bool:
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return False
        with self.st.lock:
            grant = self.st.tokens.get(auth[7:])
        if grant is None:
            return False
        pat, scope = grant
        if repo is None:
            return True
        m = re.fullmatch(r"repository:(.+):([a-z,]+)", scope)
        if not m or m.group(1) != repo or action not in m.group(2).split(","):
            return False
        owner, _, package = repo.partition("/")
        with self.st.lock:
            pkg = self.st.packages.get((owner, package))
        if pat is None:
            return pkg is not None and pkg.visibility == "public" and action == "pull"
        return action == "pull" or "write:packages" in SCOPES[pat]


def main() -> None:
    root = Path(sys.argv[1])
    root.mkdir(parents=True, exist_ok=True)
    backend = Backend(root)
    try:
        st = State(backend=backend)

        def start(port: int) -> dict[str, Any]:
            st.port = port
            images = seed(st)
            return {
                "registry": f"http://127.0.0.1:{port}", "api": f"http://127.0.0.1:{port}/api",
                "token": TOKEN, "readOnlyToken": READ_ONLY_TOKEN, "org": ORG, "user": LOGIN,
                "images": images,
            }  # fmt: skip

        serve(Handler, st, start)
    finally:
        backend.stop()


if __name__ == "__main__":
    main()
