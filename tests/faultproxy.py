"""A fault-injecting HTTP proxy for end-to-end reliability tests: it sits on 127.0.0.1 in
front of a real registry and, at a configured rate and seed, answers a request with a fault
instead of (or after) forwarding it.

Faults, chosen uniformly among those enabled:
  throttle      429 with Retry-After (not forwarded)
  error500/502/503  a server error (not forwarded)
  reset         the connection is closed without an answer (not forwarded)
  reset-after   forwarded, then the connection is closed without an answer: the registry did
                it, the client cannot know (a DELETE then looks failed and must be re-checked)
  truncated     forwarded; the answer's body is cut short and the connection closed
  slow          forwarded after a delay
  expired       401 with a Bearer challenge whose realm is this proxy's /token, as when a
                token expires; the client must fetch a token and retry

Use as a library (``FaultProxy(upstream, rate, seed).start()``) or from the command line:
``python tests/faultproxy.py UPSTREAM_URL --rate 0.1 --seed 1 --port 0``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import random
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = (
    "throttle",
    "error500",
    "error502",
    "error503",
    "reset",
    "reset-after",
    "truncated",
    "slow",
    "expired",
)
HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authenticate",
}
SECRET_TOKEN_PREFIX = "proxy-token-"


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        rate: float,
        seed: int,
        faults: tuple[str, ...] = FAULTS,
        slow: float = 0.2,
        hook: Callable[[str, str], tuple[int, dict[str, str], bytes] | None]
        | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        # With ``credentials``, the proxy is a token-protected registry: every request needs a
        # Bearer token from its /token endpoint, which takes those Basic credentials and
        # records the scope each token was asked for.
        self.credentials = credentials
        self.scopes: list[str] = []
        # ``hook(method, path)`` runs before each request is handled: a second client can act
        # at a chosen moment of the conversation (tests of races). When it returns
        # ``(status, headers, body)``, that is the answer and nothing is forwarded: a hostile
        # or broken registry.
        self.hook = hook
        self.upstream = urllib.parse.urlsplit(upstream).netloc
        self.rate = rate
        self.rng = random.Random(seed)
        self.faults = faults
        self.slow = slow
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {"requests": 0, **{f: 0 for f in faults}}
        self.tokens_issued: list[str] = []
        self.authorizations: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FaultProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def pick(self, path: str) -> str | None:
        with self.lock:
            if path.startswith("/token"):
                return None
            self.counts["requests"] += 1
            if self.rng.random() >= self.rate:
                return None
            fault = self.rng.choice(self.faults)
            self.counts[fault] += 1
            return fault

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(
                self, status: int, headers: dict[str, str], body: bytes
            ) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _reset(self) -> None:
                self.close_connection = True
                try:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET,
                        socket.SO_LINGER,
                        b"\x01\x00\x00\x00\x00\x00\x00\x00",
                    )
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            def _forward(
                self, body: bytes | None
            ) -> tuple[int, list[tuple[str, str]], bytes]:
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in HOP
                    }
                    headers.pop("Authorization", None)
                    conn.request(self.command, self.path, body=body, headers=headers)
                    r = conn.getresponse()
                    data = r.read() if self.command != "HEAD" else b""
                    return r.status, r.getheaders(), data
                finally:
                    conn.close()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.path.startswith("/token") and proxy.credentials is not None:
                    user, password = proxy.credentials
                    basic = (
                        "Basic "
                        + base64.b64encode(f"{user}:{password}".encode()).decode()
                    )
                    if self.headers.get("Authorization") != basic:
                        self._answer(401, {}, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
                        return
                    query = dict(
                        urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)
                    )
                    with proxy.lock:
                        proxy.scopes.append(query.get("scope", ""))
                if self.path.startswith("/token"):
                    with proxy.lock:
                        token = f"{SECRET_TOKEN_PREFIX}{len(proxy.tokens_issued)}"
                        proxy.tokens_issued.append(token)
                    self._answer(
                        200,
                        {"Content-Type": "application/json"},
                        json.dumps({"token": token}).encode(),
                    )
                    return
                if proxy.hook is not None:
                    forged = proxy.hook(self.command, self.path)
                    if forged is not None:
                        self._answer(*forged)
                        return
                auth = self.headers.get("Authorization")
                if proxy.credentials is not None and (
                    not auth or auth.removeprefix("Bearer ") not in proxy.tokens_issued
                ):
                    realm = f"http://127.0.0.1:{proxy.server.server_address[1]}/token"
                    self._answer(
                        401,
                        {
                            "WWW-Authenticate": f'Bearer realm="{realm}",service="faultproxy"'
                        },
                        b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                    )
                    return
                if auth:
                    with proxy.lock:
                        proxy.authorizations.append(auth)
                fault = proxy.pick(self.path)
                if fault == "throttle":
                    self._answer(
                        429,
                        {"Retry-After": "0", "Content-Type": "application/json"},
                        b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
                    )
                elif fault in ("error500", "error502", "error503"):
                    self._answer(
                        int(fault[-3:]),
                        {"Content-Type": "application/json"},
                        b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}',
                    )
                elif fault == "reset":
                    self._reset()
                elif fault == "expired":
                    realm = f"http://127.0.0.1:{proxy.server.server_address[1]}/token"
                    self._answer(
                        401,
                        {
                            "WWW-Authenticate": f'Bearer realm="{realm}",service="faultproxy"',
                            "Content-Type": "application/json",
                        },
                        b'{"errors":[{"code":"UNAUTHORIZED","message":"token expired"}]}',
                    )
                else:
                    if fault == "slow":
                        time.sleep(proxy.slow)
                    status, headers, data = self._forward(body)
                    if fault == "reset-after":
                        self._reset()
                        return
                    self.send_response(status)
                    for k, v in headers:
                        if k.lower() not in HOP and k.lower() != "content-length":
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if fault == "truncated" and len(data) > 1:
                        self.wfile.write(data[: len(data) // 2])
                        self._reset()
                    else:
                        self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        return Handler


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("upstream")
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    p = FaultProxy(args.upstream, args.rate, args.seed).start()
    print(p.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        p.stop()


if __name__ == "__main__":
    main()
