"""Reading a distribution registry's storage directory (the filesystem driver) into a
snapshot: file IO only; the core builds the snapshot."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from regprune import _native
from regprune.errors import InvalidOperationError

if TYPE_CHECKING:
    from typing_extensions import Self

log = logging.getLogger("regprune")


class ManifestStore:
    """A manifest store (the CLI's ``--cache DIR``): manifests and image configs saved under
    their digests, so that a later crawl or execution need not fetch them again. A crawl appends
    what it fetched to a pack of its own (``DIR/packs/<time>-<random>.pack``, the core's format:
    one file per crawl, not one per manifest, whose creation cost more CPU than the request);
    a store of more than ``PACKS_BEFORE_MERGE`` packs is merged into one when a writer closes.
    Files of the older layout (``DIR/blobs/<alg>/<hex>``) are still read. Nothing here is
    trusted: the core checks every saved manifest against its digest before using it."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._index: dict[str, tuple[bytes | Path, int, int]] | None = None
        self._lock = threading.Lock()
        self._pack: BinaryIO | None = None
        self._written: Path | None = None
        self.damaged: list[str] = []

    def _load(self) -> dict[str, tuple[bytes | Path, int, int]]:
        """Reads every pack (and lists the older loose files) once, at the first lookup."""
        if self._index is None:
            index: dict[str, tuple[bytes | Path, int, int]] = {}
            for pack in _packs(self.directory):
                if pack == self._written:
                    continue
                try:
                    data = pack.read_bytes()
                except OSError:  # merged and removed by another run meanwhile
                    continue
                entries, damaged = _native.index_pack(data)
                if damaged is not None:
                    # A pack cut short (a crash while it was written): its whole records
                    # are used, the rest is fetched again.
                    self.damaged.append(f"{pack.name}: {damaged}")
                    log.debug("manifest store: %s", self.damaged[-1])
                for digest, offset, length in entries:
                    index.setdefault(digest, (data, offset, length))
            blobs = self.directory / "blobs"
            for algorithm in _listdir(blobs):
                for encoded in _listdir(blobs / algorithm):
                    index.setdefault(f"{algorithm}:{encoded}", (blobs / algorithm / encoded, 0, -1))
            self._index = index
        return self._index

    def __contains__(self, digest: str) -> bool:
        return digest in self._load()

    def get(self, digest: str) -> bytes | None:
        """The bytes saved under ``digest`` (unchecked: the core checks them), or None."""
        found = self._load().get(digest)
        if found is None:
            return None
        where, offset, length = found
        if isinstance(where, bytes):
            return where[offset : offset + length]
        try:
            return where.read_bytes()
        except OSError:
            return None

    def append(self, records: bytes) -> None:
        """Appends pack records (``_native.pack_records``, a crawl's ``take_pack_records``) to
        this writer's pack, made at the first call. Safe from several threads."""
        if not records:
            return
        with self._lock:
            if self._pack is None:
                packs = self.directory / "packs"
                packs.mkdir(parents=True, exist_ok=True)
                self._written = packs / f"{_stamp()}.pack"
                self._pack = open(self._written, "xb")  # noqa: SIM115
                self._pack.write(_native.PACK_HEADER)
            self._pack.write(records)

    def close(self) -> None:
        """Ends this writer's pack, then merges the store's packs into one when there are more
        than ``PACKS_BEFORE_MERGE``."""
        with self._lock:
            pack, self._pack = self._pack, None
        if pack is None:
            return
        pack.close()
        packs = _packs(self.directory)
        if len(packs) > _native.PACKS_BEFORE_MERGE:
            merge_packs(self.directory, packs)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def merge_packs(directory: str | os.PathLike[str], packs: list[Path]) -> Path:
    """Writes the records of ``packs`` (each digest once) into one new pack of ``directory``,
    then removes them. The new pack is written aside and renamed into place, so a reader sees
    either the old packs or the new one whole; a pack another run adds meanwhile is not
    touched."""
    out = Path(directory) / "packs" / f"{_stamp()}.pack"
    part = out.with_suffix(".part")
    seen: set[str] = set()
    with open(part, "wb") as f:
        f.write(_native.PACK_HEADER)
        for pack in packs:
            try:
                data = pack.read_bytes()
            except OSError:
                continue
            entries, _ = _native.index_pack(data)
            fresh = [(d, o, n) for d, o, n in entries if d not in seen]
            seen.update(d for d, _, _ in fresh)
            f.write(_native.pack_records([(d, data[o : o + n]) for d, o, n in fresh]))
    os.replace(part, out)
    for pack in packs:
        try:
            pack.unlink()
        except OSError:
            pass
    return out


def _packs(directory: Path) -> list[Path]:
    return sorted(
        directory / "packs" / name
        for name in _listdir(directory / "packs")
        if name.endswith(".pack")
    )


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _stamp() -> str:
    """A pack's name: the UTC time (packs sort by age) and 48 random bits."""
    import secrets

    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(6)


def read_storage(
    root: str | os.PathLike[str],
    registry_name: str | None = None,
    *,
    save_manifests: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Reads a distribution registry's storage directory (filesystem driver) into a snapshot:
    every revision, tagged or not, exact blob sizes; ``lastUpdateTime`` is the push (the link
    files), ``createdTime`` the image config's ``created`` (the build). Read it with
    the registry stopped or read-only, so it does not change underfoot. ``save_manifests``:
    as for ``crawl``, a directory for ``execute(manifests=...)``."""
    from datetime import datetime, timezone

    base = os.path.join(os.fspath(root), "docker", "registry", "v2")
    repos_dir = os.path.join(base, "repositories")
    blobs_dir = os.path.join(base, "blobs", "sha256")
    if not os.path.isdir(repos_dir):
        raise InvalidOperationError(
            f"storage: {repos_dir} is not a registry storage directory", {"path": "storage"}
        )

    def when(path: str) -> str:
        t = datetime.fromtimestamp(os.stat(path).st_mtime, tz=timezone.utc)
        return t.isoformat().replace("+00:00", "Z")

    def link(path: str) -> str:
        with open(path, encoding="ascii") as f:
            return f.read().strip()

    repositories = []
    saved: list[tuple[str, bytes]] = []
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
                    saved.append((digest, raw))
    if save_manifests is not None:
        with ManifestStore(save_manifests) as store:
            store.append(_native.pack_records(saved))
    listing: dict[str, Any] = {"repositories": repositories, "blobSizes": sizes, "manifests": texts}
    if registry_name:
        listing["registry"] = registry_name
    # The image configs the core names: a manifest's createdTime is when it was built.
    configs = {}
    for digest in _native.storage_wanted_configs(json.dumps(listing).encode()):
        hexd = digest.split(":", 1)[1]
        with open(os.path.join(blobs_dir, hexd[:2], hexd, "data"), "rb") as f:
            configs[digest] = f.read().decode("utf-8", "replace")
    listing["configs"] = configs
    document = json.dumps({"format": "distributionStorage", "listing": listing}).encode()
    snapshot: dict[str, Any] = json.loads(_native.import_snapshot_json(document))
    return snapshot
