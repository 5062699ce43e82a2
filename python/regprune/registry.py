"""Talking to a live registry: sockets and files around the core's conversations.

The core decides everything (``regprune._native.Session``: which request, which credentials and
tokens, what a failure means, what is retried) and speaks HTTP/1.1 itself (the bytes of each
request, the reading of each response: ``regprune_core::http::wire``); this module moves those
bytes over keep-alive sockets, several requests at a time (through ``HTTPS_PROXY``/
``HTTP_PROXY`` by a CONNECT tunnel unless ``NO_PROXY`` says otherwise, with the standard
library's ``ssl``, trusting ``SSL_CERT_FILE`` when set), reads the files and runs the credential
helpers the core asks for, and writes journals. ``http.client`` is not used: it read every
response's headers through the e-mail parser, the largest single cost of a request.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import logging
import os
import queue
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec

from regprune import _native
from regprune._types import Plan, Report, UndoReport
from regprune.storage import ManifestStore, read_storage

#: Requests are logged here at DEBUG (method, URL without its query, status, time; never a
#: header or a body): ``logging.basicConfig(level=logging.DEBUG)`` or the CLIs' ``--verbose``.
log = logging.getLogger("regprune")

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "ACR_REFRESH_USER", "DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "Credentials", "Transport",
    "crawl", "drive", "execute", "new_run_id", "read_storage", "undo",
]  # fmt: skip

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 32
#: The username that marks the password as an ACR refresh token (``az acr login --expose-token``).
ACR_REFRESH_USER = "00000000-0000-0000-0000-000000000000"
#: The largest response body read (a larger one is a failure, not buffered).
MAX_BODY = 64 << 20
Response = tuple[int, list[tuple[str, str]], bytes, "str | None"]
P = ParamSpec("P")


@dataclass
class Credentials:
    """A username and password (or token) given in code; never printed. Without them the core
    looks in ``REGPRUNE_USERNAME``/``REGPRUNE_PASSWORD`` and Docker's ``config.json``."""

    username: str = ""
    password: str = field(default="", repr=False)


def _lookup(
    registry: str, url: dict[str, Any], given: Credentials | None, github: bool = False
) -> dict[str, Any]:
    """Runs the core's credential lookup: reads the file and runs the helper it names."""
    query = {
        "registry": registry,
        "github": github,
        "username": given.username if given else None,
        "password": given.password if given else None,
        "urlUsername": url.get("username"),
        "urlPassword": url.get("password"),
        "env": {k: os.environ[k] for k in _native.credential_env() if k in os.environ},
    }
    lookup = _native.CredentialLookup(json.dumps(query).encode())
    while True:
        step = json.loads(lookup.step_json())
        if step["step"] == "readFile":
            try:
                with open(step["path"], "rb") as f:
                    lookup.file(f.read())
            except OSError:
                lookup.file(None)
        elif step["step"] == "runHelper":
            try:
                done = subprocess.run(
                    [step["program"], "get"], input=step["input"].encode(),
                    capture_output=True, timeout=30, check=False,
                )  # fmt: skip
                lookup.helper(done.returncode == 0, done.stdout)
            except (OSError, subprocess.TimeoutExpired):
                lookup.helper(False, b"")
        else:
            return step  # type: ignore[no-any-return]


class Transport:
    """Sends requests to one registry over keep-alive connections (one set per thread)."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None = None,
        *,
        insecure: bool = False,
        timeout: float = 60.0,
        deadline: float = 300.0,
        github: bool = False,
    ) -> None:
        """``timeout``: seconds without a byte before a request fails; ``deadline``: seconds a
        whole request may take, however its bytes trickle in. The core retries failures.
        ``github``: the registry is GitHub's (GitHub Enterprise Server; ghcr.io always is):
        ``GITHUB_TOKEN`` and ``GH_TOKEN`` then count as credentials."""
        _native.check_timeouts(timeout, deadline)
        url: dict[str, Any] = json.loads(_native.parse_registry_url(base_url, insecure))
        self.registry: str = url["registry"]
        found = _lookup(self.registry, url, credentials, github)
        # The core's view of the registry; it holds the secret, so it is never shown.
        self._access = {
            "origin": url["origin"],
            "insecure": insecure,
            "credentials": found.get("credentials"),
            "looked": found.get("looked", []),
        }
        self.timeout, self.deadline = timeout, deadline
        cafile = os.environ.get("SSL_CERT_FILE") or None
        self._tls = ssl.create_default_context(cafile=cafile)
        self._proxies = urllib.request.getproxies_environment()
        self._local = threading.local()
        self._opened: list[_Link] = []
        self._opened_lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes every keep-alive connection this transport opened (on any thread). It can
        still be used afterwards: connections are opened again as needed."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()

    @property
    def credential_source(self) -> str | None:
        """Where the credentials came from (``--username/--password``, a file, a helper), or
        None when none were found: then ``looked`` says where the core looked."""
        found = self._access["credentials"]
        return None if found is None else str(found["source"])

    @property
    def looked(self) -> list[str]:
        """Where the credential lookup looked, when it found nothing."""
        return list(self._access["looked"])

    def __repr__(self) -> str:
        return f"Transport({self._access['origin']!r}, credentials from {self.credential_source})"

    def _link(self, scheme: str, host: str, port: int) -> _Link:
        links = self._local.__dict__.setdefault("links", {})
        key = (scheme, host, port)
        link = links.get(key)
        if link is None:
            proxy = self._proxies.get(scheme)
            bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
            if proxy and bypass(host, self._proxies):
                proxy = None
            link = links[key] = _Link(scheme, host, port, proxy)
            with self._opened_lock:
                self._opened.append(link)
        return link  # type: ignore[no-any-return]

    def _connect(self, link: _Link) -> None:
        """Opens ``link``'s socket: through a CONNECT tunnel when a proxy is set (for plain
        HTTP too, as undici's proxy agent does, so both adapters cross a proxy alike), then TLS
        for https, checked against the host name."""
        p = link.proxy
        to = (p.hostname or "", p.port or 80) if p else (link.host, link.port)
        sock = socket.create_connection(to, timeout=self.timeout)
        # Seen by the deadline thread from now on: a tunnel or a handshake that trickles is
        # cut at the request's deadline too.
        link.sock = sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if p:
                auth = []
                if p.username is not None:
                    raw = f"{urllib.parse.unquote(p.username)}:{urllib.parse.unquote(p.password or '')}"
                    auth.append(
                        ("Proxy-Authorization", "Basic " + base64.b64encode(raw.encode()).decode())
                    )
                target = _authority(link.host, link.port, None)
                sock.sendall(_native.encode_request("CONNECT", target, target, auth))
                reader = _native.ResponseReader("CONNECT", 1 << 20)
                _receive(sock, reader)
                status = reader.take()[0]
                if not 200 <= status < 300:
                    raise OSError(f"the proxy refused the tunnel: {status}")
            if link.scheme == "https":
                # Handshake after the wrapped socket is the one the deadline thread sees (the
                # wrap takes the plain socket's descriptor over).
                sock = self._tls.wrap_socket(
                    sock, server_hostname=link.host, do_handshake_on_connect=False
                )
                link.sock = sock
                sock.do_handshake()
        except BaseException:
            link.sock = None
            sock.close()
            raise
        link.sock = sock

    def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes | None
    ) -> Response:
        """One request: ``(status, headers, body, None)``, or ``(0, [], b"", code)`` with the
        code of what failed, for the core to read. Nothing is resent here. The request's bytes
        and the reading of the response are the core's (``regprune_core::http::wire``); this
        moves them over keep-alive sockets."""
        u = urllib.parse.urlsplit(url)
        port = u.port or (443 if u.scheme == "https" else 80)
        link = self._link(u.scheme, u.hostname or "", port)
        target = u.path + (f"?{u.query}" if u.query else "")
        request = _native.encode_request(method, target or "/", link.authority, headers, body)
        token = _DEADLINES.watch(link, self.deadline)
        try:
            if link.sock is None:
                self._connect(link)
            sock = link.sock
            assert sock is not None
            sock.sendall(request)
            reader = _native.ResponseReader(method, MAX_BODY)
            _receive(sock, reader)
            status, rheaders, data, keep_alive = reader.take()
            if not keep_alive:
                link.close()
            return status, rheaders, data, None
        except (OSError, _native.ResponseError) as e:
            link.close()
            if _DEADLINES.done(token):
                return 0, [], b"", "timeout"
            wire = isinstance(e, _native.ResponseError)
            return 0, [], b"", str(e.args[0]) if wire else type(e).__name__
        finally:
            _DEADLINES.done(token)


def _authority(host: str, port: int, default: int | None) -> str:
    """``host[:port]`` as a ``Host`` header or CONNECT target writes it (IPv6 in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port == default else f"{shown}:{port}"


def _receive(sock: socket.socket, reader: Any) -> None:
    """Feeds the reader what the socket gives until the response is whole (or the connection
    closes: the reader says whether that ends it)."""
    while True:
        data = sock.recv(65536)
        if not data:
            reader.end()
            return
        if reader.feed(data):
            return


class _Link:
    """One keep-alive connection of one thread to one origin: its socket, opened when first
    used and again after the server or a failure closed it."""

    __slots__ = ("authority", "host", "port", "proxy", "scheme", "sock")

    def __init__(self, scheme: str, host: str, port: int, proxy: str | None) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.authority = _authority(host, port, 443 if scheme == "https" else 80)
        self.proxy = (
            urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}") if proxy else None
        )
        self.sock: socket.socket | None = None

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


class _Deadlines:
    """Ends requests past their deadline: one daemon thread for every request in flight shuts
    a late request's socket down, so its blocked read fails at once."""

    TICK = 0.05

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._due: dict[int, tuple[float, _Link]] = {}
        self._cut: set[int] = set()
        self._next = 0
        self._thread: threading.Thread | None = None

    def watch(self, conn: _Link, seconds: float) -> int:
        with self._lock:
            self._next += 1
            self._due[self._next] = (time.monotonic() + seconds, conn)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="regprune-deadlines")
                self._thread.daemon = True
                self._thread.start()
            return self._next

    def done(self, token: int) -> bool:
        """Stops watching; True (once) when the request was cut at its deadline."""
        with self._lock:
            self._due.pop(token, None)
            cut = token in self._cut
            self._cut.discard(token)
            return cut

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:
                late = [(t, c) for t, (due, c) in self._due.items() if due <= now]
                for t, _ in late:
                    del self._due[t]
                    self._cut.add(t)
            for _, conn in late:
                if conn.sock is not None:
                    try:
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass


_DEADLINES = _Deadlines()


def drive(
    machine: Any,
    transport: Transport,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    journal: Callable[[list[str], bool], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    after_response: Callable[[], Callable[[], None] | None] | None = None,
) -> None:
    """Drives a session to its end with up to ``concurrency`` requests in flight. Whoever
    hands a response to the session (under one lock) takes every request it then has ready
    and queues them for the sending threads, each woken alone. ``journal(lines, sync)`` writes
    the session's journal lines, syncing them to disk when ``sync``: requests taken with new
    entries wait until those are synced (group commit: entries that come while one write is
    under way go in the next, so one ``fsync`` covers several deletions, and none is sent
    before its own entry is on disk); outcome lines alone hold nothing back and are synced with
    the next entries. ``after_response`` runs under the lock after each response; what it
    returns (file writes, say) runs after the lock is let go, so that other responses are
    handled meanwhile. A timer thread takes what a delay (a retry's backoff) held back. The
    first error stops every thread and is raised here. Ctrl-C stops an execution cleanly
    (nothing more is sent, what is in flight is handled); anything else it interrupts."""
    start = time.monotonic()
    n = max(1, min(concurrency, MAX_CONCURRENCY))
    lock = threading.Lock()
    timer = threading.Condition(lock)
    ready: queue.SimpleQueue[Any] = queue.SimpleQueue()
    # out: taken from the session and not yet answered (queued, sending, or held back).
    st = {"out": 0, "handled": 0, "committing": False, "finished": False, "sync": False}
    held: list[Any] = []
    unwritten: list[str] = []
    failure: list[BaseException] = []

    def finish() -> None:  # under the lock
        if not st["finished"]:
            st["finished"] = True
            for _ in range(n):
                ready.put(None)
            timer.notify_all()

    def pump() -> bool:
        """Under the lock: queues what the session has ready; True when the caller must now
        write the journal (outside the lock, with ``commit``)."""
        if failure or st["finished"]:
            return False
        now = time.monotonic() - start
        got = []
        while st["out"] < n:
            req = machine.next_request(now)
            if req is None:
                break
            st["out"] += 1
            got.append(req)
        # Lines are taken even without a journal to write (they would pile up in the core).
        lines, sync = machine.take_journal()
        must = False
        if lines and journal is not None:
            unwritten.extend(lines)
            st["sync"] = st["sync"] or sync
            if not st["committing"]:
                st["committing"] = must = True
        if st["committing"]:
            # Entries taken earlier (an entry is made when its deletion is queued, which may
            # be handed out in a later pump) may be on their way to disk: everything taken now
            # waits for the commit.
            held.extend(got)
            got = []
        for req in got:
            ready.put(req)
        if not got and not held:
            if st["out"] == 0 and not st["committing"] and machine.is_done():
                finish()
            elif st["out"] < n and machine.next_wakeup() is not None:
                timer.notify()  # a delayed request may be next: the timer looks again
        return must

    def commit() -> None:
        """Writes the journal lines gathered so far, then lets the requests taken with or
        after them go; again while more lines gathered during the write."""
        assert journal is not None
        while True:
            with lock:
                if not unwritten or failure:
                    st["committing"] = False
                    if failure:
                        return
                    # Taken during the last write, with no line of their own: every line
                    # taken before them is on disk now.
                    for req in held:
                        ready.put(req)
                    held.clear()
                    if st["out"] == 0 and machine.is_done():
                        finish()
                    return
                lines, reqs, sync = unwritten[:], held[:], bool(st["sync"])
                unwritten.clear()
                held.clear()
                st["sync"] = False
            journal(lines, sync)
            for req in reqs:
                ready.put(req)

    def fail(e: BaseException) -> None:
        with lock:
            failure.append(e)
            finish()

    def worker() -> None:
        try:
            while True:
                req = ready.get()
                if req is None or failure:
                    return
                rid, method, url, headers, body = req
                sent = time.monotonic()
                status, rheaders, data, failed = transport.send(method, url, headers, body)
                if log.isEnabledFor(logging.DEBUG):
                    ms = (time.monotonic() - sent) * 1000
                    log.debug(_native.log_line(method, url, status, failed, ms))
                with lock:
                    st["out"] -= 1
                    if failure:
                        return
                    machine.handle_response(
                        rid, status, rheaders, data, time.monotonic() - start, failed
                    )
                    post = after_response() if after_response is not None else None
                    st["handled"] += 1
                    if on_progress is not None:
                        on_progress(st["handled"])
                    must = pump()
                if post is not None:
                    post()
                if must:
                    commit()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread below
            fail(e)

    def timing() -> None:
        """Takes requests at the start and whenever a delay may have ended."""
        try:
            while True:
                with lock:
                    if st["finished"]:
                        return
                    must = pump()
                    if not must and not st["finished"]:
                        # With every slot taken, a response frees one and takes what is due.
                        # A wakeup already past (the session waits on a response, e.g. for a
                        # token) is looked at again shortly, not in a busy loop.
                        wake = machine.next_wakeup() if st["out"] < n else None
                        now = time.monotonic() - start
                        timer.wait(0.5 if wake is None else min(max(0.01, wake - now), 0.5))
                if must:
                    commit()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread below
            fail(e)

    threads = [threading.Thread(target=worker, name=f"regprune-{i}") for i in range(n)]
    threads.append(threading.Thread(target=timing, name="regprune-timer"))
    for t in threads:
        t.daemon = True
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    except KeyboardInterrupt:
        with lock:
            cancelled = machine.cancel()
            if not cancelled:
                failure.append(KeyboardInterrupt())
                finish()
            timer.notify_all()
        if not cancelled:
            raise
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    if failure:
        raise failure[0]


def _with_status(
    session: Any, on_progress: Callable[[int], None] | None, on_status: Callable[[str], None] | None
) -> Callable[[int], None] | None:
    if on_status is None:
        return on_progress

    def both(n: int) -> None:
        if on_progress is not None:
            on_progress(n)
        on_status(session.status_line())

    return both


def _access(transport: Transport) -> bytes:
    return json.dumps(transport._access).encode()


def _hand_over(session: Any, store: ManifestStore) -> None:
    """Hands the manifests the session wants that a manifest store holds to the core, which
    checks each against its digest (damaged bytes are refused and fetched). An index handed
    over wants its children in turn: asked again until nothing new is wanted."""
    wanted = session.wanted_manifests()
    while wanted:
        for digest in wanted:
            data = store.get(digest)
            if data is not None:
                session.known_manifest(digest, data)
        wanted = session.wanted_manifests()


def _crawl_session(
    transport: Transport,
    *,
    flavour: str = "auto",
    repositories: list[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: Callable[[int], None] | None = None,
    save_manifests: str | os.PathLike[str] | None = None,
    owner: str | None = None,
    github_api: str | None = None,
    hub_api: str | None = None,
    manifests: str | os.PathLike[str] | None = None,
    on_status: Callable[[str], None] | None = None,
    decide: dict[str, Any] | None = None,
) -> Any:
    """Builds the snapshot of a live registry. With ``save_manifests``, every manifest's exact
    bytes are saved in that directory, so ``execute(manifests=...)`` need not fetch them.
    GHCR (``flavour="ghcr"``, chosen for ghcr.io): ``owner`` is the user or organisation whose
    packages are read, ``github_api`` the REST API's base URL (GitHub Enterprise Server).
    Docker Hub (``flavour="dockerhub"``, chosen for registry-1.docker.io): ``owner`` is the
    namespace, ``hub_api`` Hub's API (``https://hub.docker.com``). ``manifests``: a directory
    an earlier crawl saved (``save_manifests``): a manifest found there (checked against its
    digest) is not fetched again; it may be the same directory as ``save_manifests`` (the
    CLI's ``--cache``). ``on_status`` gets a line after each response: the listing, then the
    manifests fetched and reused against the known total. ``decide``: ``{"operation": ...,
    "now": ..., "pinned": [...]}``, read only the manifests that decide that plan (ACR; the
    CLI's ``--decisions-only``): indexes, and what the plan deletes that may be a referrer; the
    others stay unread, so reclaimable bytes become an upper bound.

    ``_crawl_session`` ends with the finished session instead of the snapshot: its JSON text
    (``result_json()``), or a plan made on it in the core (``plan_json(operation, options)``),
    as the CLI does, with no round trip of the snapshot through Python objects or JSON."""
    options = {
        "registry": transport.registry,
        "repositories": repositories or [],
        "flavour": flavour,
        "keepManifests": save_manifests is not None,
        "owner": owner,
        "githubApi": github_api,
        "hubApi": hub_api,
    }
    if decide is not None:
        options["decide"] = decide
    session = _native.Session.crawl(json.dumps(options).encode(), _access(transport))
    same = manifests is not None and save_manifests is not None
    same = same and os.path.abspath(manifests) == os.path.abspath(save_manifests)  # type: ignore[arg-type]
    writer = None if save_manifests is None else ManifestStore(save_manifests)
    reader = writer if same else None if manifests is None else ManifestStore(manifests)

    def after() -> Callable[[], None] | None:
        if reader is not None:
            # Manifests are immutable by digest: saved bytes stand in for a GET (on GHCR a
            # download, on Docker Hub a pull).
            _hand_over(session, reader)
        if writer is None:
            return None
        records = session.take_pack_records()
        if not records:
            return None
        # Appended after the lock is let go; the store was read before this crawl's first
        # record was written, so none of them is read back by it.
        return lambda: writer.append(records)

    try:
        drive(
            session,
            transport,
            concurrency=concurrency,
            after_response=after,
            on_progress=_with_status(session, on_progress, on_status),
        )
    finally:
        if writer is not None:
            writer.close()
    return session


def _snapshot_of(session_of: Callable[P, Any]) -> Callable[P, dict[str, Any]]:
    """The function that runs ``session_of`` and returns its snapshot as the JSON contract's
    dict: ``crawl`` from ``_crawl_session``, one signature for both."""

    @functools.wraps(session_of)
    def crawl(*args: P.args, **kwargs: P.kwargs) -> dict[str, Any]:
        return json.loads(session_of(*args, **kwargs).result_json())  # type: ignore[no-any-return]

    crawl.__name__ = crawl.__qualname__ = "crawl"
    signature = inspect.signature(session_of).replace(return_annotation="dict[str, Any]")
    crawl.__signature__ = signature  # type: ignore[attr-defined]
    crawl.__doc__ = (session_of.__doc__ or "").split("\n\n    ``_crawl_session``")[0]
    return crawl


crawl = _snapshot_of(_crawl_session)


def execute(
    plan: Plan | str | bytes | dict[str, Any],
    transport: Transport,
    *,
    journal_path: str | None = None,
    flavour: str = "auto",
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: Callable[[int, int], None] | None = None,
    manifests: str | os.PathLike[str] | None = None,
    retarget: bool = False,
    github_api: str | None = None,
    hub_api: str | None = None,
) -> Report:
    """Carries out exactly the sealed plan (a ``Plan``, or its JSON text, bytes or dict);
    returns the typed ``Report`` (also the JSON contract's mapping). Journal lines are written and
    flushed to disk before the deletions they describe are sent. ``on_progress`` gets
    ``(finished, total)``. ``manifests``: a directory saved by ``crawl(save_manifests=...)``
    (manifests found there, checked against their digests, are journaled without a ``GET``).
    A plan made for another registry is refused unless ``retarget``."""
    options = {
        "registry": transport.registry,
        "flavour": flavour,
        "retarget": retarget,
        "githubApi": github_api,
        "hubApi": hub_api,
    }
    options["runId"] = new_run_id()
    # The core has no clock: the run's start, so that journal lines say when things happened.
    options["startedAt"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"
    if isinstance(plan, Plan):
        plan_bytes = plan.to_json().encode()
    elif isinstance(plan, str):
        plan_bytes = plan.encode()
    elif isinstance(plan, bytes):
        plan_bytes = plan
    else:
        plan_bytes = json.dumps(plan, ensure_ascii=False).encode()
    session = _native.Session.execute(plan_bytes, json.dumps(options).encode(), _access(transport))
    if manifests is not None:
        _hand_over(session, ManifestStore(manifests))
    journal = open(journal_path, "a", encoding="utf-8") if journal_path else None  # noqa: SIM115

    def write(lines: list[str], sync: bool) -> None:
        assert journal is not None
        if lines:
            journal.write("".join(line + "\n" for line in lines))
            journal.flush()
        if sync:
            os.fsync(journal.fileno())

    progress = None if on_progress is None else (lambda _: on_progress(*session.progress()))
    try:
        drive(session, transport, concurrency=concurrency,
              journal=None if journal is None else write, on_progress=progress)  # fmt: skip
    finally:
        if journal is not None:
            write(session.take_journal()[0], True)  # how the last deletions ended
            journal.close()
    return Report(json.loads(session.result_json()))


def new_run_id() -> str:
    """A run id for journal lines: the UTC time and 48 random bits."""
    import secrets
    from datetime import datetime, timezone

    return f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(6)}"


def undo(
    journal_path: str | os.PathLike[str] | bytes,
    transport: Transport,
    *,
    run: str | None = None,
    dry_run: bool = False,
    retarget: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> UndoReport:
    """Pushes back what one run of a journal deleted (until garbage collection removes the
    blobs): the last run unless ``run`` names another. ``journal_path``: the journal's path, or
    its bytes. Returns the core's report."""
    if isinstance(journal_path, bytes):
        journal = journal_path
    else:
        with open(journal_path, "rb") as f:
            journal = f.read()
    options = {"registry": transport.registry, "run": run, "dryRun": dry_run, "retarget": retarget}
    session = _native.Session.undo(journal, json.dumps(options).encode(), _access(transport))
    drive(session, transport, concurrency=concurrency)
    return UndoReport(json.loads(session.result_json()))
