"""The manifest store (``--cache DIR``): packs written by crawls, read back, merged; the
older one-file-per-manifest layout still read."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from store_util import records, stored

from regprune import _native
from regprune.storage import ManifestStore


def manifest(i: int) -> tuple[str, bytes]:
    data = b'{"schemaVersion":2,"n":%d}' % i
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def test_what_one_writer_appends_another_reads(tmp_path: Path) -> None:
    items = [manifest(i) for i in range(50)]
    with ManifestStore(tmp_path) as store:
        store.append(_native.pack_records(items[:20]))
        store.append(_native.pack_records(items[20:]))
    [pack] = (tmp_path / "packs").glob("*.pack")
    assert [d for d, _, _ in records(pack)] == [d for d, _ in items]
    reader = ManifestStore(tmp_path)
    assert all(reader.get(d) == b for d, b in items)
    assert reader.get(manifest(99)[0]) is None and manifest(99)[0] not in reader
    assert reader.damaged == []


def test_nothing_to_save_makes_no_pack(tmp_path: Path) -> None:
    with ManifestStore(tmp_path) as store:
        store.append(b"")
    assert not (tmp_path / "packs").exists()


def test_a_pack_cut_short_gives_its_whole_records_and_says_where_it_stopped(
    tmp_path: Path,
) -> None:
    items = [manifest(i) for i in range(10)]
    with ManifestStore(tmp_path) as store:
        store.append(_native.pack_records(items))
    [pack] = (tmp_path / "packs").glob("*.pack")
    _, offset, length = records(pack)[6]
    with open(pack, "r+b") as f:
        f.truncate(offset + length - 1)
    reader = ManifestStore(tmp_path)
    assert [reader.get(d) for d, _ in items] == [b for _, b in items[:6]] + [None] * 4
    assert len(reader.damaged) == 1 and "ends inside the record" in reader.damaged[0]


def test_the_older_layout_of_one_file_per_manifest_is_still_read(tmp_path: Path) -> None:
    digest, data = manifest(1)
    loose = tmp_path / "blobs" / "sha256" / digest.split(":")[1]
    loose.parent.mkdir(parents=True)
    loose.write_bytes(data)
    other, more = manifest(2)
    with ManifestStore(tmp_path) as store:
        store.append(_native.pack_records([(other, more)]))
    reader = ManifestStore(tmp_path)
    assert reader.get(digest) == data and reader.get(other) == more


def test_many_packs_are_merged_into_one_holding_each_manifest_once(tmp_path: Path) -> None:
    items = [manifest(i) for i in range(40)]
    n = _native.PACKS_BEFORE_MERGE
    for k in range(n):
        with ManifestStore(tmp_path) as store:
            # Each crawl saves two new manifests and one an earlier crawl saved too.
            store.append(_native.pack_records([items[2 * k], items[2 * k + 1], items[0]]))
    assert len(list((tmp_path / "packs").glob("*.pack"))) == n, "not merged yet"
    with ManifestStore(tmp_path) as store:
        store.append(_native.pack_records([items[39]]))
    [pack] = (tmp_path / "packs").glob("*.pack")
    digests = [d for d, _, _ in records(pack)]
    wanted = {d for d, _ in items[: 2 * n]} | {items[39][0]}
    assert sorted(digests) == sorted(wanted), "every manifest once"
    assert stored(tmp_path) == {d: b for d, b in items if d in wanted}
    assert not list((tmp_path / "packs").glob("*.part"))


def test_appends_from_many_threads_leave_a_whole_pack(tmp_path: Path) -> None:
    items = [manifest(i) for i in range(800)]
    store = ManifestStore(tmp_path)

    def write(part: list[tuple[str, bytes]]) -> None:
        for i in range(0, len(part), 3):
            store.append(_native.pack_records(part[i : i + 3]))

    threads = [threading.Thread(target=write, args=(items[k::8],)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert stored(tmp_path) == dict(items)


def test_a_bad_digest_is_refused_by_name() -> None:
    import pytest

    import regprune

    with pytest.raises(regprune.errors.InvalidDigestError) as info:
        _native.pack_records([("sha256:nothex", b"{}")])
    assert "sha256:nothex" in str(info.value) and "manifests[0].digest" in str(info.value)
