"""Reading a distribution registry's storage directory (the filesystem driver) into a
snapshot: file IO only; the core builds the snapshot."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from regprune import _native
from regprune.errors import InvalidOperationError


def manifest_path(directory: str | os.PathLike[str], digest: str) -> Path:
    """Where a manifest lives in a manifests directory: ``blobs/<algorithm>/<hex>``, the
    blob layout of an OCI image layout (digests are validated by the core: no ``/``)."""
    algorithm, _, encoded = digest.partition(":")
    return Path(directory) / "blobs" / algorithm / encoded


def save_manifest(directory: str | os.PathLike[str], digest: str, data: bytes) -> None:
    """Saves bytes under their digest. Written in place, not renamed into place (a rename into
    a directory of tens of thousands of files cost ~0.4 ms of CPU each, more than the write):
    a file cut short by a crash does not hash to its name, so the core refuses it and the
    manifest is fetched and saved again. The folder is made when the first write misses it."""
    path = manifest_path(directory, digest)
    try:
        f = open(path, "wb")  # noqa: SIM115
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "wb")  # noqa: SIM115
    with f:
        f.write(data)


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
                    save_manifest(save_manifests, digest, raw)
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
