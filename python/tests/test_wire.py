"""The Python adapter's HTTP/1.1 over its own sockets (the core's request bytes and response
reader), against a scripted server that answers each request with raw bytes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from regprune import registry

# request bytes -> (raw answer, close the connection after it)
Answer = Callable[[bytes], tuple[bytes, bool]]


class Scripted:
    """A loopback server: reads each request's head (and a Content-Length body), answers
    with what ``answer`` gives, and counts connections."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    buf += conn.recv(65536)
                request, buf = head + b"\r\n\r\n" + buf[:length], buf[length:]
                self.requests.append(request)
                out, close = self.answer(request)
                conn.sendall(out)
                if close:
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], Scripted]]:
    servers: list[Scripted] = []

    def start(answer: Answer) -> Scripted:
        servers.append(Scripted(answer))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def ok(body: bytes = b"{}", extra: bytes = b"") -> tuple[bytes, bool]:
    return b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body, False


Serve = Callable[[Answer], Scripted]


def test_requests_share_one_keep_alive_connection_and_say_what_they_carry(serve: Serve) -> None:
    s = serve(lambda req: ok(b'{"n": 1}', b"Docker-Content-Digest: sha256:x\r\n"))
    t = registry.Transport(s.url)
    for _ in range(5):
        status, headers, body, failed = t.send("GET", f"{s.url}/v2/?a=1", [("Accept", "*/*")], None)
        assert (status, body, failed) == (200, b'{"n": 1}', None)
        assert ("Docker-Content-Digest", "sha256:x") in headers
    assert t.send("PUT", f"{s.url}/v2/x/manifests/v1", [], b"{}")[0] == 200
    assert s.connections == 1, "one connection for every request"
    first = s.requests[0].decode()
    port = s.url.rsplit(":", 1)[1]
    assert first.startswith(f"GET /v2/?a=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"), first
    assert "Accept-Encoding: identity\r\n" in first and "Accept: */*\r\n" in first
    assert s.requests[-1].endswith(b"Content-Length: 2\r\n\r\n{}")
    t.close()


CHUNKED = (
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
    b"\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n"
)


def test_chunked_interim_and_until_close_answers_are_read_whole(serve: Serve) -> None:
    answers = iter(
        [
            (CHUNKED, False),
            (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end", True),
            ok(b"again"),
        ]
    )
    s = serve(lambda req: next(answers))
    t = registry.Transport(s.url)
    assert t.send("GET", f"{s.url}/a", [], None)[1:] == (
        [("Transfer-Encoding", "chunked")],
        b"abcde",
        None,
    )
    assert t.send("GET", f"{s.url}/b", [], None)[2:] == (b"to the end", None)
    # That body ended with its connection: the next request opens another.
    assert t.send("GET", f"{s.url}/c", [], None)[2:] == (b"again", None)
    assert s.connections == 2


def test_connection_close_is_honoured_and_a_stale_connection_is_a_reset(serve: Serve) -> None:
    answers = iter(
        [
            ok(b"1", b"Connection: close\r\n")[0],  # the client must not reuse it
            ok(b"2")[0],
            ok(b"3")[0],
        ]
    )
    closes = iter([True, True, False])
    s = serve(lambda req: (next(answers), next(closes)))
    t = registry.Transport(s.url)
    assert t.send("GET", f"{s.url}/1", [], None)[2] == b"1"
    assert t.send("GET", f"{s.url}/2", [], None)[2] == b"2"
    # The server closed after "2" without saying so: the kept connection is stale. The request
    # fails as a reset (the core decides whether to resend), and the next one reconnects.
    assert t.send("GET", f"{s.url}/3", [], None)[3] in (
        "reset",
        "BrokenPipeError",
        "ConnectionResetError",
    )
    assert t.send("GET", f"{s.url}/3", [], None)[2] == b"3"
    assert s.connections == 3


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
            "bad_response",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing", "bad_response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % ((64 << 20) + 1), "too_large"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "reset"),
        (b"not http at all\r\n\r\n", "bad_response"),
    ],
)
def test_every_doubtful_answer_is_a_failure_with_its_code(
    serve: Serve, raw: bytes, code: str
) -> None:
    s = serve(lambda req: (raw, True))
    t = registry.Transport(s.url)
    assert t.send("GET", f"{s.url}/x", [], None) == (0, [], b"", code)


def test_a_header_that_would_smuggle_a_line_is_refused_before_anything_is_sent(
    serve: Serve,
) -> None:
    s = serve(lambda req: ok())
    t = registry.Transport(s.url)
    with pytest.raises(ValueError, match="bad header"):
        t.send("GET", f"{s.url}/x", [("X-Evil", "a\r\nAuthorization: stolen")], None)
    assert s.requests == []


def test_the_reader_raises_a_typed_error_carrying_the_failure_code() -> None:
    from regprune import _native

    reader = _native.ResponseReader("GET", 4)
    with pytest.raises(_native.ResponseError) as info:
        reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
    assert info.value.args[0] == "too_large"
    assert not isinstance(info.value, ValueError), "not mistaken for a caller's bad value"
