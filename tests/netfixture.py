"""A registry behind TLS with its own CA, and an HTTP CONNECT proxy, on 127.0.0.1: the network
the adapters' proxy and CA support is tested against (the Python and the Node suites both
start this script).

    python3 tests/netfixture.py DIR

writes ``DIR/ca.pem`` (a self-signed certificate for 127.0.0.1), prints one JSON line
``{"registry": "https://127.0.0.1:P", "plain": "http://127.0.0.1:R", "proxy":
"http://127.0.0.1:Q", "ca": "DIR/ca.pem"}`` (``plain``: the same registry over plain HTTP) and
serves until stdin closes. The registry answers an empty catalog (and 404 to ACR's API); the
proxy tunnels CONNECT requests and answers ``GET /connects`` on itself with the targets it
tunnelled to, so a test can tell whether its requests went through the proxy.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Registry(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/v2/_catalog"):
            status, body = 200, b'{"repositories": []}'
        elif self.path == "/v2/":
            status, body = 200, b"{}"
        else:
            status, body = 404, b'{"errors": [{"code": "NOT_FOUND"}]}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


CONNECTS: list[str] = []


class Proxy(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_CONNECT(self) -> None:
        CONNECTS.append(self.path)
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            self.send_error(502)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        sockets = [self.connection, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 30)
                if not readable:
                    break
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.connection else self.connection).sendall(
                        data
                    )
        except OSError:
            pass
        finally:
            upstream.close()

    def do_GET(self) -> None:
        body = json.dumps(CONNECTS).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    directory = Path(sys.argv[1])
    cert, key = directory / "ca.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    registry = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    registry.socket = context.wrap_socket(registry.socket, server_side=True)
    plain = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    for server in (registry, plain, proxy):
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    info = {
        "registry": f"https://127.0.0.1:{registry.server_address[1]}",
        "plain": f"http://127.0.0.1:{plain.server_address[1]}",
        "proxy": f"http://127.0.0.1:{proxy.server_address[1]}",
        "ca": str(cert),
    }
    print(json.dumps(info), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
