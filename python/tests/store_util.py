"""Reading and damaging a manifest store in tests, with a reader of the pack format written
here from its description (README, core/src/store.rs), not with the code under test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

HEADER = b"regprune-pack 1\n"


def records(pack: Path) -> list[tuple[str, int, int]]:
    """``(digest, offset, length)`` of every record of a whole pack."""
    data = pack.read_bytes()
    assert data.startswith(HEADER), pack
    out, at = [], len(HEADER)
    while at < len(data):
        end = data.index(b"\n", at)
        digest, length = data[at:end].decode().split(" ")
        start = end + 1
        out.append((digest, start, int(length)))
        at = start + int(length)
        assert data[at : at + 1] == b"\n", (pack, digest)
        at += 1
    return out


def stored(directory: Path) -> dict[str, bytes]:
    """Every manifest a store's packs hold."""
    out: dict[str, bytes] = {}
    for pack in sorted((directory / "packs").glob("*.pack")):
        data = pack.read_bytes()
        for digest, offset, length in records(pack):
            out.setdefault(digest, data[offset : offset + length])
    return out


def damage(directory: Path, digest: str) -> Callable[[], None]:
    """Changes one byte of the saved bytes of ``digest`` (the length stays, so the pack still
    reads whole); returns what puts it back."""
    for pack in sorted((directory / "packs").glob("*.pack")):
        for d, offset, length in records(pack):
            if d == digest and length:
                data = bytearray(pack.read_bytes())
                before = bytes(data)
                data[offset] = ord(" ") if data[offset] != ord(" ") else ord("\t")
                pack.write_bytes(bytes(data))
                return lambda: pack.write_bytes(before)
    raise AssertionError(f"{digest} is not in the store")
