"""What the hosted-registry emulators (`ghcr_emulator.py`, `dockerhub_emulator.py`) share: the
real docker-registry behind them, JSON replies, and the way a test suite starts one (a JSON line
on stdout, served until stdin closes)."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Backend:
    """A filesystem-backed docker-registry (deletes enabled) on a free loopback port."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        config = root / "config.yml"
        config.write_text(
            "version: 0.1\nlog: {level: error}\n"
            f"storage:\n  filesystem: {{rootdirectory: {root / 'storage'}}}\n  delete: {{enabled: true}}\n"
            f"http:\n  addr: {self.address}\n"
        )
        self.proc = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.request("GET", "/v2/")[0] == 200:
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.address, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def blob(self, repo: str, data: bytes) -> dict[str, Any]:
        s, h, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert s == 202, s
        loc = urllib.parse.urlsplit(h["location"])
        q = urllib.parse.parse_qs(loc.query)
        q["digest"] = [sha(data)]
        s, _, body = self.request(
            "PUT",
            f"{loc.path}?{urllib.parse.urlencode(q, doseq=True)}",
            data,
            {"Content-Type": "application/octet-stream"},
        )
        assert s == 201, (s, body)
        return {"digest": sha(data), "size": len(data)}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class JsonHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 with JSON (or raw) replies; every method goes to `route`."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def reply(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        data = (
            raw
            if raw is not None
            else (b"" if body is None else json.dumps(body).encode())
        )
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if raw is None and body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def route(self) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.route()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_GET


def serve(
    handler: type[JsonHandler], state: Any, start: Callable[[int], dict[str, Any]]
) -> None:
    """Serves `handler` (with `state` as its `st`) on a free loopback port; `start(port)` seeds
    the state and returns the JSON line to print. Serves until stdin closes."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (handler,), {"st": state}))
    port = server.server_address[1]
    info = start(port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps(info), flush=True)
    sys.stdin.read()
    server.shutdown()
