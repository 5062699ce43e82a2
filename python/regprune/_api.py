"""The functions of the package: thin adapters between Python values and the native core."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from regprune import _native
from regprune._types import Plan, Reclaim
from regprune.errors import InvalidTimestampError
from regprune.types import Operation

#: A document: a dict (or list), JSON text, JSON bytes, or a path to a JSON file.
Document = Mapping[str, Any] | list[Any] | str | bytes | os.PathLike[str]
#: A time: an aware ``datetime`` or an RFC 3339 string.
Time = datetime | str


def _json_bytes(doc: Any) -> bytes:
    if isinstance(doc, bytes):
        return doc
    if isinstance(doc, (bytearray, memoryview)):
        return bytes(doc)
    if isinstance(doc, os.PathLike):
        with open(doc, "rb") as f:
            return f.read()
    if isinstance(doc, str):
        if doc.lstrip()[:1] in ("{", "["):
            return doc.encode()
        with open(doc, "rb") as f:
            return f.read()
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=_json_value).encode()


def _time(value: datetime, path: str) -> str:
    """An aware ``datetime`` as RFC 3339; a naive one is refused (its zone is a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTimestampError(
            f"{path}: {value.isoformat()!r} has no time zone; pass an aware datetime",
            {"path": path, "value": value.isoformat()},
        )
    return value.isoformat().replace("+00:00", "Z")


def _json_value(value: Any) -> Any:
    """What ``json`` cannot write itself: a ``datetime`` anywhere a time goes."""
    if isinstance(value, datetime):
        return _time(value, "time")
    raise TypeError(f"{type(value).__name__} is not JSON: {value!r}")


def _now(now: Time | None) -> str:
    if now is None:
        return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(now, datetime):
        return _time(now, "now")
    return str(now)


def _options(now: Time | None, pinned: Iterable[str] | None) -> bytes:
    return json.dumps({"now": _now(now), "pinned": list(pinned or [])}).encode()


class Snapshot:
    """A snapshot parsed once and kept in native memory, to plan against it many times."""

    def __init__(self, source: Document) -> None:
        self._native = _native.ParsedSnapshot(_json_bytes(source))

    @property
    def manifest_count(self) -> int:
        """Number of manifests."""
        return self._native.manifest_count

    def plan(
        self,
        operation: Operation | Document,
        *,
        now: Time | None = None,
        pinned: Iterable[str] | None = None,
    ) -> Plan:
        """Plans ``operation`` at ``now`` (default: the current UTC time)."""
        text = self._native.plan_json(_json_bytes(operation), _options(now, pinned))
        return Plan.from_json(text)

    def reclaim(self, plan: Plan | Document) -> Reclaim:
        """What ``plan``'s actions give back against this snapshot."""
        data = plan.to_json().encode() if isinstance(plan, Plan) else _json_bytes(plan)
        return Reclaim.from_dict(json.loads(self._native.reclaim_json(data)))

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as the JSON contract's dict."""
        return json.loads(self._native.to_json())  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """The snapshot as JSON."""
        return self._native.to_json()


def load_snapshot(source: Document | Snapshot) -> Snapshot:
    """Parses a snapshot (dict, JSON text or bytes, or a path) once, for repeated planning."""
    return source if isinstance(source, Snapshot) else Snapshot(source)


def plan(
    snapshot: Document | Snapshot,
    operation: Operation | Document,
    *,
    now: Time | None = None,
    pinned: Iterable[str] | None = None,
) -> Plan:
    """Plans ``operation`` against ``snapshot`` at ``now`` (default: the current UTC time)."""
    return load_snapshot(snapshot).plan(operation, now=now, pinned=pinned)


def reclaim(snapshot: Document | Snapshot, plan: Plan | Document) -> Reclaim:
    """What ``plan``'s actions give back against ``snapshot``."""
    return load_snapshot(snapshot).reclaim(plan)


def import_snapshot(document: Document) -> dict[str, Any]:
    """A snapshot from an importer document: ``{"format": "acrListMetadata" | "acrApi", ...}``."""
    return json.loads(_native.import_snapshot_json(_json_bytes(document)))  # type: ignore[no-any-return]


def parse_manifest(
    data: bytes, *, digest: str | None = None, content_type: str | None = None
) -> dict[str, Any]:
    """Reads manifest bytes as a registry serves them; ``digest``, if given, must match."""
    text = _native.parse_manifest_json(data, digest, content_type)
    return json.loads(text)  # type: ignore[no-any-return]


def render_text(plan: Plan | Document, *, limit: int | None = None) -> str:
    """The human preview of a plan: totals, bytes per repository, the actions grouped by
    repository (the first ``limit``, all for None), retained items, grouped warnings."""
    data = plan.to_json().encode() if isinstance(plan, Plan) else _json_bytes(plan)
    return _native.render_text(data, limit)


def render_markdown(
    plan: Plan | Document, report: Document | None = None, *, limit: int = 20
) -> str:
    """The plan (and an execution's report, when given) as a GitHub-flavoured Markdown job
    summary: totals, bytes per repository, the first ``limit`` actions with their reasons,
    retained items, warnings grouped by code. The same bytes as the Node package's."""
    data = plan.to_json().encode() if isinstance(plan, Plan) else _json_bytes(plan)
    rep = None if report is None else _json_bytes(report)
    return _native.render_markdown(data, rep, limit)


def plan_digest(plan: Plan | Document) -> str:
    """The digest a plan must carry: sha256 of its canonical JSON without ``digest``."""
    data = plan.to_json().encode() if isinstance(plan, Plan) else _json_bytes(plan)
    return _native.plan_digest(data)


def verify_plan(plan: Plan | Document) -> bool:
    """Whether a plan's ``digest`` matches its content."""
    data = plan.to_json().encode() if isinstance(plan, Plan) else _json_bytes(plan)
    return _native.verify_plan(data)


def check_evidence(plan: Plan | Document, snapshot: Document) -> None:
    """Refuses (``InvalidOperationError``) a plan that is not exactly what its own operation,
    time and pins give against ``snapshot``: edited and sealed again, or made from other
    evidence. A seal alone proves no edit was accidental; this proves none was deliberate."""
    data = plan.to_json().encode() if isinstance(plan, Plan) else _json_bytes(plan)
    _native.check_evidence(data, _json_bytes(snapshot))


def generate(*, manifests: int, seed: int = 0, repositories: int | None = None) -> str:
    """A deterministic synthetic registry, as snapshot JSON."""
    options: dict[str, Any] = {"seed": seed, "manifests": manifests}
    if repositories is not None:
        options["repositories"] = repositories
    return _native.generate_json(json.dumps(options).encode())
