"""Talking to a live registry: a thin HTTP adapter around the core's conversations.

The core decides every request (``regprune._native.Crawl`` and ``Execute``); this module only
sends them, several at a time, over keep-alive connections of the standard library, handles
authentication (anonymous, basic, and the bearer-token challenge with tokens cached per
scope), and feeds the answers back. Secrets never appear in output, errors or journals.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from regprune import _native
from regprune.errors import InvalidOperationError

DEFAULT_CONCURRENCY = 8
#: The username that marks the password as an ACR refresh token (``az acr login --expose-token``).
ACR_REFRESH_USER = "00000000-0000-0000-0000-000000000000"
MAX_CONCURRENCY = 32
#: The largest response body read (larger ones are refused, not buffered).
# RFC 6750's `b64token`: the only form a bearer token takes in an Authorization header.
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_BODY = 64 << 20

Request = tuple[int, str, str, list[tuple[str, str]], str, str | None]
Response = tuple[int, list[tuple[str, str]], bytes]


class Machine(Protocol):
    def next_request(self, now: float) -> Request | None: ...
    def handle_response(
        self, id: int, status: int, headers: list[tuple[str, str]], body: bytes, now: float
    ) -> None: ...
    def next_wakeup(self) -> float | None: ...
    def is_done(self) -> bool: ...


@dataclass
class Credentials:
    """A username and password (or token) for basic auth and token requests. Never printed."""

    username: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def from_env(
        cls, username: str | None = None, password: str | None = None, registry: str | None = None
    ) -> Credentials:
        """Flags first, then ``REGPRUNE_USERNAME`` / ``REGPRUNE_PASSWORD``, then the registry's
        entry in ``~/.docker/config.json`` (``auth``, or the ``identitytoken`` that ``az acr
        login`` stores, used as an ACR refresh token)."""
        user = username or os.environ.get("REGPRUNE_USERNAME", "")
        secret = password or os.environ.get("REGPRUNE_PASSWORD", "")
        if not user and not secret and registry:
            return cls.from_docker_config(registry)
        return cls(user, secret)

    @classmethod
    def from_docker_config(cls, registry: str, path: str | None = None) -> Credentials:
        """The credentials ``docker login`` saved for ``registry`` (host[:port]), if any."""
        config = path or os.path.join(
            os.environ.get("DOCKER_CONFIG", os.path.join(os.path.expanduser("~"), ".docker")),
            "config.json",
        )
        try:
            with open(config, encoding="utf-8") as f:
                auths = json.load(f).get("auths", {})
        except (OSError, ValueError):
            return cls()
        for key in (registry, f"https://{registry}", f"http://{registry}"):
            entry = auths.get(key)
            if not isinstance(entry, dict):
                continue
            if entry.get("identitytoken"):
                return cls(ACR_REFRESH_USER, str(entry["identitytoken"]))
            if entry.get("auth"):
                try:
                    user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
                except ValueError:
                    return cls()
                return cls(user, secret)
        return cls()

    def basic(self) -> str | None:
        if not self.username and not self.password:
            return None
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


class _Deadlines:
    """Ends requests past their deadline: one daemon thread for every request in flight, which
    shuts a late request's socket down so its blocked read fails at once. (A timer thread per
    request cost about 190 us each, a third of a DELETE's own time in the adapter.)"""

    TICK = 0.05

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._due: dict[int, tuple[float, http.client.HTTPConnection]] = {}
        self._cut: set[int] = set()
        self._next = 0
        self._thread: threading.Thread | None = None

    def watch(self, conn: http.client.HTTPConnection, seconds: float) -> int:
        with self._lock:
            self._next += 1
            self._due[self._next] = (time.monotonic() + seconds, conn)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="regprune-deadlines", daemon=True
                )
                self._thread.start()
            return self._next

    def done(self, token: int) -> bool:
        """Stops watching; True when the request was cut at its deadline."""
        with self._lock:
            self._due.pop(token, None)
            if token in self._cut:
                self._cut.discard(token)
                return True
            return False

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:
                late = [(t, c) for t, (due, c) in self._due.items() if due <= now]
                for token, _ in late:
                    del self._due[token]
                    self._cut.add(token)
            for _, conn in late:
                sock = conn.sock
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass


_DEADLINES = _Deadlines()


def _is_loopback(host: str) -> bool:
    """The core's decision, on the parsed address (``127.anything.example`` is a name)."""
    return _native.is_loopback_host(f"[{host}]" if ":" in host else host)


class Transport:
    """Sends requests to one registry over keep-alive connections (one per worker thread)."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None = None,
        *,
        insecure: bool = False,
        timeout: float = 60.0,
        deadline: float = 300.0,
    ) -> None:
        """``timeout``: seconds without a byte before a request fails; ``deadline``: seconds a
        whole request may take, however its bytes trickle in. A failed request is retried by
        the core."""
        for name, value in (("timeout", timeout), ("deadline", deadline)):
            if not (isinstance(value, (int, float)) and 0 < value < float("inf")):
                raise InvalidOperationError(
                    f"registry: {name} must be a positive number of seconds, not {value!r}",
                    {"path": "registry"},
                )
        # The core reads the address: scheme, host, loopback on the parsed address, and
        # credentials written into the URL (taken as credentials, never echoed).
        url: dict[str, Any] = json.loads(_native.parse_registry_url(base_url, insecure))
        if url.get("username") is not None:
            if credentials is not None and (credentials.username or credentials.password):
                raise InvalidOperationError(
                    "registry: credentials are given both in the URL and separately; give them once",
                    {"path": "registry"},
                )
            credentials = Credentials(url["username"], url["password"])
        self.scheme: str = url["scheme"]
        self.netloc: str = url["registry"]
        self.host: str = url["host"]
        self.port: int | None = url.get("port")
        self.credentials = credentials or Credentials()
        self.insecure = insecure
        self.timeout = timeout
        self.deadline = deadline
        self._local = threading.local()
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def registry(self) -> str:
        """``host[:port]`` as the core names the registry."""
        return self.netloc

    def _conn(self, netloc: str, scheme: str) -> http.client.HTTPConnection:
        conns: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "conns", {}
        )
        key = (scheme, netloc)
        if key not in conns:
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conns[key] = cls(netloc, timeout=self.timeout)
        return conns[key]

    def _raw(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None = None
    ) -> Response:
        parts = urllib.parse.urlsplit(url)
        netloc, scheme = (
            (parts.netloc, parts.scheme) if parts.netloc else (self.netloc, self.scheme)
        )
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):
            conn = self._conn(netloc, scheme)
            # The socket timeout bounds each read; the deadline bounds the whole request (a
            # byte or a 100 Continue every few seconds never trips the socket timeout).
            token = _DEADLINES.watch(conn, self.deadline)
            cut = False
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                # Always read (a HEAD reads nothing): an unread response would make the
                # next request on this keep-alive connection fail after it was sent.
                data = resp.read(MAX_BODY + 1)
                if len(data) > MAX_BODY:
                    conn.close()
                    raise InvalidOperationError(
                        f"{path}: the registry sent more than {MAX_BODY} bytes", {"path": path}
                    )
                length = resp.getheader("Content-Length")
                if (
                    method != "HEAD"
                    and length is not None
                    and length.isdigit()
                    and int(length) != len(data)
                ):
                    # The connection closed mid-body: a truncated answer is a failed one.
                    raise http.client.IncompleteRead(data, int(length) - len(data))
                return resp.status, list(resp.getheaders()), data
            except (http.client.HTTPException, OSError):
                cut = _DEADLINES.done(token)
                conn.close()
                # A request cut at its deadline is not sent again here: the core retries it.
                if attempt == 2 or cut:
                    return 0, [], b""
            finally:
                if not cut:
                    _DEADLINES.done(token)
        return 0, [], b""

    def send(self, request: Request, body: bytes | None = None) -> Response:
        """Sends one request of the core, authenticating as the registry asks."""
        _, method, path, headers, scope, own_body = request
        if body is None and own_body is not None:
            body = own_body.encode()
        hdrs = dict(headers)
        token = self._tokens.get(scope)
        if token:
            hdrs["Authorization"] = token
        status, rheaders, data = self._raw(method, path, hdrs, body)
        # A token can expire between the challenge and its use: authenticate at most twice.
        for _ in range(2):
            if status != 401:
                break
            challenge = next((v for k, v in rheaders if k.lower() == "www-authenticate"), "")
            auth = self._authenticate(challenge, scope)
            if not auth:
                break
            hdrs["Authorization"] = auth
            status, rheaders, data = self._raw(method, path, hdrs, body)
        return status, rheaders, data

    def _authenticate(self, challenge: str, scope: str) -> str | None:
        parsed = _native.parse_challenge(challenge)
        if parsed is None:
            return None
        if parsed["scheme"] == "basic":
            auth = self.credentials.basic()
        elif parsed["scheme"] == "bearer":
            auth = self._bearer(parsed, scope)
        else:
            return None
        if auth:
            with self._lock:
                self._tokens[scope] = auth
        return auth

    def _bearer(self, params: dict[str, str], scope: str) -> str | None:
        realm = params.get("realm")
        if not realm:
            return None
        # Credentials go to the token service only over HTTPS (or to loopback, or --insecure).
        realm_url = urllib.parse.urlsplit(realm)
        if (
            realm_url.scheme != "https"
            and not self.insecure
            and not _is_loopback(realm_url.hostname or "")
        ):
            return None
        # The registry's own scope in the challenge says exactly what it needs.
        wanted = params.get("scope") or scope
        service = params.get("service", "")
        if self.credentials.username == ACR_REFRESH_USER:
            form = {"grant_type": "refresh_token", "service": service, "scope": wanted}
            form["refresh_token"] = self.credentials.password
            body_bytes = urllib.parse.urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            status, _, body = self._raw("POST", realm, headers, body_bytes)
        else:
            url = (
                realm
                + ("&" if "?" in realm else "?")
                + urllib.parse.urlencode({"service": service, "scope": wanted})
            )
            headers = {}
            basic = self.credentials.basic()
            if basic:
                headers["Authorization"] = basic
            status, _, body = self._raw("GET", url, headers)
        if status != 200:
            return None
        try:
            doc = json.loads(body)
        except ValueError:
            return None
        token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        # A bearer token is a b64token (RFC 6750 s2.1); anything else (a line break, a space,
        # not a string) came from a broken or hostile token service and is not sent anywhere.
        return f"Bearer {token}" if isinstance(token, str) and B64TOKEN.fullmatch(token) else None


def run(
    machine: Machine,
    transport: Transport,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    before_send: Callable[[], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    after_response: Callable[[], None] | None = None,
) -> None:
    """Drives a conversation to its end: up to ``concurrency`` requests in flight;
    ``on_progress`` gets the number of responses handled; ``after_response`` runs after each
    response is handled.

    Each of ``concurrency`` threads takes the next request, sends it and hands the response
    to the machine itself (the machine and the callbacks run under one lock, one at a time),
    so no response waits for a dispatcher thread to wake up and pass it on. The first error
    stops every thread and is raised here."""
    concurrency = max(1, min(concurrency, MAX_CONCURRENCY))
    start = time.monotonic()
    turn = threading.Condition()
    in_flight = 0
    handled = 0
    failure: list[BaseException] = []

    def take() -> Request | None:
        """The next request to send, waiting while none is ready; None when done or failed."""
        nonlocal in_flight
        while not failure:
            now = time.monotonic() - start
            req = machine.next_request(now)
            if req is not None:
                if before_send is not None:
                    before_send()
                in_flight += 1
                return req
            if in_flight == 0 and machine.is_done():
                turn.notify_all()
                return None
            # Woken by a response (which may make requests ready) or at the next retry time.
            wake = machine.next_wakeup()
            turn.wait(min(max(0.0, (wake or now + 0.05) - now), 5.0))
        return None

    def worker() -> None:
        nonlocal in_flight, handled
        try:
            while True:
                with turn:
                    req = take()
                if req is None:
                    return
                status, headers, body = transport.send(req)
                with turn:
                    in_flight -= 1
                    turn.notify_all()
                    if failure:
                        return
                    machine.handle_response(req[0], status, headers, body, time.monotonic() - start)
                    if after_response is not None:
                        after_response()
                    handled += 1
                    if on_progress is not None:
                        on_progress(handled)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread below
            with turn:
                failure.append(e)
                turn.notify_all()

    threads = [
        threading.Thread(target=worker, name=f"regprune-{i}", daemon=True)
        for i in range(concurrency)
    ]
    for t in threads:
        t.start()
    cancel = getattr(machine, "cancel", None)
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    except KeyboardInterrupt:
        if cancel is None:
            # Ctrl-C in a crawl: no new request goes out; those in flight finish, dropped.
            with turn:
                failure.append(KeyboardInterrupt())
                turn.notify_all()
            raise
        # Ctrl-C in an execution: nothing more is sent; the requests in flight are answered
        # and handled, so the report says exactly what was done and what never started.
        with turn:
            cancel()
            turn.notify_all()
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    except BaseException as e:
        with turn:
            failure.append(e)
            turn.notify_all()
        raise
    if failure:
        raise failure[0]


def _manifest_path(directory: str | os.PathLike[str], digest: str) -> Path:
    """Where a manifest lives in a manifests directory: ``blobs/<algorithm>/<hex>``, the
    blob layout of an OCI image layout (digests are validated by the core: no ``/``)."""
    algorithm, _, encoded = digest.partition(":")
    return Path(directory) / "blobs" / algorithm / encoded


def _save_manifest(directory: str | os.PathLike[str], digest: str, data: bytes) -> None:
    path = _manifest_path(directory, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def crawl(
    transport: Transport,
    *,
    flavour: str = "auto",
    repositories: list[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: Callable[[int], None] | None = None,
    save_manifests: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Builds the snapshot of a live registry. With ``save_manifests``, every manifest's
    exact bytes are saved in that directory, so that ``execute(manifests=...)`` can journal
    them without fetching each one again."""
    options = {
        "registry": transport.registry,
        "repositories": repositories or [],
        "flavour": flavour,
        "keepManifests": save_manifests is not None,
    }
    machine = _native.Crawl(json.dumps(options).encode())

    def save() -> None:
        for digest, _media_type, data in machine.take_manifests():
            _save_manifest(save_manifests, digest, data)  # type: ignore[arg-type]

    run(
        machine,
        transport,
        concurrency=concurrency,
        on_progress=on_progress,
        after_response=save if save_manifests is not None else None,
    )
    return json.loads(machine.snapshot_json())  # type: ignore[no-any-return]


def execute(
    plan_json: str,
    transport: Transport,
    *,
    journal_path: str | None = None,
    flavour: str = "auto",
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: Callable[[int, int], None] | None = None,
    manifests: str | os.PathLike[str] | None = None,
    retarget: bool = False,
) -> dict[str, Any]:
    """Carries out exactly the sealed plan; returns the report. Journal lines are written and
    flushed to disk before the deletions they describe are sent. ``on_progress`` gets
    ``(finished, total)`` deletions. ``manifests``: a directory saved by
    ``crawl(save_manifests=...)``; the manifests found there (checked against their digests)
    are journaled without a ``GET`` each, the others are fetched. A plan made for another
    registry is refused unless ``retarget``; each run's journal lines carry a new run id."""
    options = {
        "registry": transport.registry,
        "flavour": flavour,
        "retarget": retarget,
        "runId": new_run_id(),
    }
    machine = _native.Execute(plan_json.encode(), json.dumps(options).encode())
    if manifests is not None:
        for digest in machine.wanted_manifests():
            try:
                data = _manifest_path(manifests, digest).read_bytes()
            except FileNotFoundError:
                continue
            machine.known_manifest(digest, data)
    journal = open(journal_path, "a", encoding="utf-8") if journal_path else None  # noqa: SIM115

    def write_journal() -> None:
        lines = machine.take_journal()
        if journal is not None and lines:
            journal.write("".join(line + "\n" for line in lines))
            journal.flush()
            os.fsync(journal.fileno())

    try:
        run(
            machine,
            transport,
            concurrency=concurrency,
            before_send=write_journal,
            on_progress=None if on_progress is None else lambda _: on_progress(*machine.progress()),
        )
    finally:
        if journal is not None:
            journal.close()
    return json.loads(machine.report_json())  # type: ignore[no-any-return]


_drive = run  # undo's ``run`` parameter names a journal run


def new_run_id() -> str:
    """A run id for journal lines: the UTC time and 48 random bits."""
    import secrets
    from datetime import datetime, timezone

    return f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(6)}"


def undo(
    journal_path: str | os.PathLike[str],
    transport: Transport,
    *,
    run: str | None = None,
    dry_run: bool = False,
    retarget: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> dict[str, Any]:
    """Pushes back what one run of a journal deleted (until garbage collection removes the
    blobs): the last run unless ``run`` names another. Only manifest bytes that hash to their
    journalled digest are pushed, tags only after their manifest is back by digest, children
    before their indexes; a torn last line is skipped and reported. Returns the report."""
    with open(journal_path, "rb") as f:
        journal = f.read()
    options = {
        "registry": transport.registry,
        "run": run,
        "dryRun": dry_run,
        "retarget": retarget,
    }
    machine = _native.Undo(journal, json.dumps(options).encode())
    _drive(machine, transport, concurrency=concurrency)
    return json.loads(machine.report_json())  # type: ignore[no-any-return]


def read_storage(
    root: str | os.PathLike[str],
    registry_name: str | None = None,
    *,
    save_manifests: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Reads a distribution registry's storage directory (filesystem driver) into a snapshot:
    every revision, tagged or not, exact blob sizes, times from the link files. Read it with
    the registry stopped or read-only, so it does not change underfoot. ``save_manifests``:
    as for ``crawl``, a directory for ``execute(manifests=...)``."""
    from datetime import datetime, timezone

    base = os.path.join(os.fspath(root), "docker", "registry", "v2")
    repos_dir = os.path.join(base, "repositories")
    blobs_dir = os.path.join(base, "blobs", "sha256")
    if not os.path.isdir(repos_dir):
        raise InvalidOperationError(
            f"storage: {repos_dir!r} is not a registry storage directory", {"path": "storage"}
        )

    def when(path: str) -> str:
        t = datetime.fromtimestamp(os.stat(path).st_mtime, tz=timezone.utc)
        return t.isoformat().replace("+00:00", "Z")

    def link(path: str) -> str:
        with open(path, encoding="ascii") as f:
            return f.read().strip()

    repositories = []
    wanted: set[str] = set()
    for dirpath, dirnames, _ in os.walk(repos_dir):
        if "_manifests" not in dirnames:
            continue
        name = os.path.relpath(dirpath, repos_dir).replace(os.sep, "/")
        manifests = os.path.join(dirpath, "_manifests")
        revisions = []
        rev_dir = os.path.join(manifests, "revisions", "sha256")
        for hexd in sorted(os.listdir(rev_dir)) if os.path.isdir(rev_dir) else []:
            path = os.path.join(rev_dir, hexd, "link")
            if os.path.exists(path):
                digest = link(path)
                revisions.append({"digest": digest, "time": when(path)})
                wanted.add(digest)
        tags = []
        tag_dir = os.path.join(manifests, "tags")
        for tag in sorted(os.listdir(tag_dir)) if os.path.isdir(tag_dir) else []:
            path = os.path.join(tag_dir, tag, "current", "link")
            if os.path.exists(path):
                tags.append({"name": tag, "digest": link(path), "time": when(path)})
        repositories.append({"name": name, "revisions": revisions, "tags": tags})
        dirnames[:] = [d for d in dirnames if not d.startswith("_")]
    sizes: dict[str, int] = {}
    texts: dict[str, str] = {}
    for prefix in os.listdir(blobs_dir) if os.path.isdir(blobs_dir) else []:
        for hexd in os.listdir(os.path.join(blobs_dir, prefix)):
            data = os.path.join(blobs_dir, prefix, hexd, "data")
            if not os.path.exists(data):
                continue
            digest = f"sha256:{hexd}"
            sizes[digest] = os.stat(data).st_size
            if digest in wanted:
                with open(data, "rb") as f:
                    raw = f.read()
                texts[digest] = raw.decode("utf-8")
                if save_manifests is not None:
                    _save_manifest(save_manifests, digest, raw)
    listing = {"repositories": repositories, "blobSizes": sizes, "manifests": texts}
    if registry_name:
        listing["registry"] = registry_name
    document = json.dumps({"format": "distributionStorage", "listing": listing}).encode()
    snapshot: dict[str, Any] = json.loads(_native.import_snapshot_json(document))
    return snapshot
