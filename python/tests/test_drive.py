"""The driver's own contract, with a scripted session and transport (no registry): a request
is sent only once every journal line that had to be synced before it is on disk, whatever the
order in which the session hands out entries and requests."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from regprune import registry


class _Scripted:
    """A session of `n` deletions whose journal entries come `batch` at a time, each batch
    taken in a pump before the one that hands out its requests (as the core does when an
    entry is made while every slot is busy)."""

    def __init__(self, n: int, batch: int) -> None:
        self.n, self.batch = n, batch
        self.taken = 0  # entries taken (their requests may be handed out)
        self.handed = 0
        self.answered = 0
        self.lock = threading.Lock()

    def next_request(self, now: float) -> Any:
        if self.handed < self.taken:
            i = self.handed
            self.handed += 1
            return (i, "DELETE", f"http://127.0.0.1:1/v2/r/manifests/{i}", [], None)
        return None

    def take_journal(self) -> tuple[list[str], bool]:
        if self.handed < self.taken or self.taken >= self.n:
            return ([f"outcome {self.answered}"] if self.answered else []), False
        first, self.taken = self.taken, min(self.n, self.taken + self.batch)
        return [f"entry {i}" for i in range(first, self.taken)], True

    def handle_response(self, rid: int, *rest: Any) -> None:
        self.answered += 1

    def next_wakeup(self) -> float | None:
        return 0.0 if self.handed < self.taken or self.taken < self.n else None

    def is_done(self) -> bool:
        return self.answered == self.n

    def cancel(self) -> bool:
        return False


class _Witness:
    """Records, for each request sent, whether its entry was synced by then."""

    def __init__(self, synced: set[str], delay: float) -> None:
        self.synced, self.delay = synced, delay
        self.early: list[int] = []
        self.sent = 0

    def send(self, method: str, url: str, headers: Any, body: Any) -> Any:
        i = int(url.rsplit("/", 1)[1])
        if f"entry {i}" not in self.synced:
            self.early.append(i)
        self.sent += 1
        time.sleep(self.delay)
        return 202, [], b"", None


@pytest.mark.parametrize(("concurrency", "batch", "fsync", "delay"), [
    (2, 2, 0.005, 0.002), (4, 3, 0.005, 0.001), (8, 4, 0.003, 0.001),
])  # fmt: skip
def test_no_request_leaves_before_the_entries_synced_ahead_of_it(
    concurrency: int, batch: int, fsync: float, delay: float
) -> None:
    synced: set[str] = set()
    written: list[str] = []

    def journal(lines: list[str], sync: bool) -> None:
        written.extend(lines)
        if sync:
            time.sleep(fsync)  # a disk: the lines are on it once this returns
            synced.update(written)

    session = _Scripted(n=40, batch=batch)
    witness = _Witness(synced, delay)
    registry.drive(session, witness, concurrency=concurrency, journal=journal)  # type: ignore[arg-type]
    assert witness.sent == 40 and session.answered == 40
    assert witness.early == [], f"sent before their entries were synced: {witness.early}"
