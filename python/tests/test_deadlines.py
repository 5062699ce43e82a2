"""Issue 24, finding 9: nothing hangs. A server that answers a byte at a time (never idle for
long, so the per-read timeout never trips), or with endless ``100 Continue``, is cut off at
the request's deadline: status 0, which the core retries a bounded number of times."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import regprune
from regprune import registry


@contextmanager
def trickling(
    piece: bytes, head: bytes, every: float, times: int
) -> Iterator[tuple[str, list[int]]]:
    """A raw server on 127.0.0.1 that reads a request, writes ``head``, then ``piece`` every
    ``every`` seconds, ``times`` times at most or until the client hangs up. Yields its URL and
    a one-item list counting the pieces written."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    sent = [0]
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                try:
                    conn.sendall(head)
                    while sent[0] < times and not stop.is_set():
                        conn.sendall(piece)
                        sent[0] += 1
                        time.sleep(every)
                except OSError:
                    pass  # the client hung up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", sent
    finally:
        stop.set()
        thread.join(5)
        server.close()


def get(url: str) -> tuple[int, str | None]:
    status, _, _, failure = registry.Transport(url, timeout=1.0, deadline=0.3).send(
        "GET", f"{url}/v2/", [], None
    )
    return status, failure


def test_an_answer_that_trickles_in_ends_at_the_deadline() -> None:
    with trickling(b"x", b"HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n", 0.01, 400) as (
        url,
        sent,
    ):
        # The failure is named for the core: a timeout, not a reset.
        assert get(url) == (0, "timeout")
        assert sent[0] < 400, f"the client hung up before the answer ended ({sent[0]} of 400)"


def test_endless_interim_answers_end_at_the_deadline() -> None:
    with trickling(b"HTTP/1.1 100 Continue\r\n\r\n", b"", 0.005, 2000) as (url, sent):
        assert get(url) == (0, "timeout")
        assert sent[0] < 2000


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan")])
def test_timeouts_must_be_positive_seconds(bad: float) -> None:
    with pytest.raises(regprune.InvalidOperationError, match="timeout|deadline"):
        registry.Transport("http://127.0.0.1:1", deadline=bad)
    with pytest.raises(regprune.InvalidOperationError, match="timeout"):
        registry.Transport("http://127.0.0.1:1", timeout=bad)


def test_a_tls_handshake_that_trickles_ends_at_the_deadline() -> None:
    """The deadline covers the connection's setup too: a server that answers the TLS hello
    with a record header announcing 16 KiB and then one byte every 10 ms never lets a read
    time out, and is cut at the request's deadline."""
    with trickling(b"\x00", b"\x16\x03\x03\x40\x00", 0.01, 400) as (url, sent):
        tls = url.replace("http://", "https://")
        transport = registry.Transport(tls, timeout=10.0, deadline=0.3)
        started = time.monotonic()
        status, _, _, failure = transport.send("GET", f"{tls}/v2/", [], None)
        # ssl bounds a handshake by the read timeout (10 s here); the deadline is shorter.
        assert (status, failure) == (0, "timeout")
        assert time.monotonic() - started < 2.0
        assert sent[0] < 400
