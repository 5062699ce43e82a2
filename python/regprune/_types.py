"""Typed views of regprune's documents.

The JSON shape is the contract; these frozen dataclasses give it typed, snake_case
attributes. ``to_dict()`` returns exactly the JSON contract and ``Plan.to_json()`` exactly
the core's bytes, which the plan's digest seals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal


def _opt(d: dict[str, Any], key: str) -> Any:
    return d.get(key)


@dataclass(frozen=True)
class Reason:
    """Why an item is deleted or kept."""

    code: str
    message: str
    rule: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reason:
        return cls(code=d["code"], message=d["message"], rule=_opt(d, "rule"))


@dataclass(frozen=True)
class Action:
    """One step of a plan."""

    type: str
    repository: str
    tags: list[str]
    reason: Reason
    digest: str | None = None
    tag: str | None = None
    media_type: str | None = None
    manifests: list[str] = field(default_factory=list)
    cascade_of: str | None = None
    unlock: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Action:
        return cls(
            type=d["type"],
            repository=d["repository"],
            tags=list(d["tags"]),
            reason=Reason.from_dict(d["reason"]),
            digest=_opt(d, "digest"),
            tag=_opt(d, "tag"),
            media_type=_opt(d, "mediaType"),
            manifests=list(d.get("manifests", [])),
            cascade_of=_opt(d, "cascadeOf"),
            unlock=bool(d.get("unlock", False)),
        )


@dataclass(frozen=True)
class Retained:
    """Something that stays although a user might expect it to go."""

    repository: str
    reason: Reason
    digest: str | None = None
    tag: str | None = None
    tags: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Retained:
        return cls(
            repository=d["repository"],
            reason=Reason.from_dict(d["reason"]),
            digest=_opt(d, "digest"),
            tag=_opt(d, "tag"),
            tags=list(d.get("tags", [])),
        )


@dataclass(frozen=True)
class Warning:
    """A warning attached to a plan."""

    code: str
    message: str
    items: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Warning:
        return cls(code=d["code"], message=d["message"], items=list(d.get("items", [])))


@dataclass(frozen=True)
class RepositoryReclaim:
    """Reclaim of one repository."""

    repository: str
    manifests: int
    tags: int
    blob_bytes: int
    blob_count: int
    manifest_bytes: int

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RepositoryReclaim:
        return cls(
            repository=d["repository"],
            manifests=d["manifests"],
            tags=d["tags"],
            blob_bytes=d["blobBytes"],
            blob_count=d["blobCount"],
            manifest_bytes=d["manifestBytes"],
        )


@dataclass(frozen=True)
class SharedWith:
    """Bytes one repository keeps alive."""

    repository: str
    bytes: int
    blob_count: int


@dataclass(frozen=True)
class Shared:
    """Bytes that deleted manifests referenced but that stay."""

    bytes: int
    blob_count: int
    with_: list[SharedWith]


@dataclass(frozen=True)
class Reclaim:
    """The storage a plan gives back."""

    exact: bool
    manifests: int
    tags: int
    total_bytes: int
    blob_bytes: int
    blob_count: int
    manifest_bytes: int
    by_repository: list[RepositoryReclaim]
    shared: Shared
    inexact_reasons: list[str] = field(default_factory=list)
    shallow_image_bytes: int = 0
    _dict: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reclaim:
        s = d["shared"]
        return cls(
            exact=d["exact"],
            manifests=d["manifests"],
            tags=d["tags"],
            total_bytes=d["totalBytes"],
            blob_bytes=d["blobBytes"],
            blob_count=d["blobCount"],
            manifest_bytes=d["manifestBytes"],
            by_repository=[RepositoryReclaim.from_dict(r) for r in d["byRepository"]],
            shared=Shared(
                bytes=s["bytes"],
                blob_count=s["blobCount"],
                with_=[SharedWith(w["repository"], w["bytes"], w["blobCount"]) for w in s["with"]],
            ),
            inexact_reasons=list(d.get("inexactReasons", [])),
            shallow_image_bytes=int(d.get("shallowImageBytes", 0)),
            _dict=d,
        )

    def to_dict(self) -> dict[str, Any]:
        """The reclaim as the JSON contract's dict."""
        return json.loads(json.dumps(self._dict))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Plan:
    """What a request would do, and why; ``digest`` seals it for exact execution."""

    version: int
    operation: dict[str, Any]
    now: str
    actions: list[Action]
    retained: list[Retained]
    reclaim: Reclaim
    warnings: list[Warning]
    digest: str | None
    registry: str | None = None
    pinned: list[str] = field(default_factory=list)
    _json: str = field(default="", repr=False, compare=False)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Reads a plan from the core's JSON. The fields are built from the text when one is
        first read: a plan of a large registry holds hundreds of thousands of actions, and a
        caller that only saves, executes or renders it never pays for their Python objects."""
        plan = object.__new__(cls)
        object.__setattr__(plan, "_json", text)
        return plan

    def __getattr__(self, name: str) -> Any:
        # Called only for fields not set yet: a plan from `from_json`, before first use.
        if name.startswith("__") or "_json" not in self.__dict__ or name not in _PLAN_FIELDS:
            raise AttributeError(name)
        d = json.loads(self._json)
        fields = {
            "version": d["version"],
            "operation": d["operation"],
            "now": d["now"],
            "actions": [Action.from_dict(a) for a in d["actions"]],
            "retained": [Retained.from_dict(r) for r in d["retained"]],
            "reclaim": Reclaim.from_dict(d["reclaim"]),
            "warnings": [Warning.from_dict(w) for w in d["warnings"]],
            "digest": _opt(d, "digest"),
            "registry": _opt(d, "registry"),
            "pinned": list(d.get("pinned", [])),
        }
        for key, value in fields.items():
            object.__setattr__(self, key, value)
        return fields[name]

    def to_json(self) -> str:
        """The plan's JSON, exactly as the core wrote it (the bytes its digest seals)."""
        return self._json

    def to_dict(self) -> dict[str, Any]:
        """The plan as the JSON contract's dict (keys in the core's order)."""
        return json.loads(self._json)  # type: ignore[no-any-return]

    def render_text(self, limit: int | None = None) -> str:
        """The human preview: totals, bytes per repository, the actions grouped by
        repository (the first ``limit``, all for None), retained items, grouped warnings."""
        from regprune import _native

        return _native.render_text(self._json.encode(), limit)

    def render_markdown(self, limit: int = 20) -> str:
        """The plan as a GitHub-flavoured Markdown job summary (see ``regprune.render_markdown``)."""
        from regprune import _native

        return _native.render_markdown(self._json.encode(), None, limit)

    def verify(self) -> bool:
        """Whether ``digest`` matches the content: nothing was edited since planning."""
        from regprune import _native

        return _native.verify_plan(self._json.encode())


_PLAN_FIELDS = frozenset(
    (
        "version",
        "operation",
        "now",
        "actions",
        "retained",
        "reclaim",
        "warnings",
        "digest",
        "registry",
        "pinned",
    )
)


OutcomeKind = Literal["done", "alreadyGone", "skipped", "failed", "unsupported", "notStarted"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one action of an execution (a ``deleteRepository`` has one per
    manifest)."""

    action: int
    """Index of the action in the plan."""
    repository: str
    target: str
    """``repo@digest`` or ``repo:tag``."""
    outcome: OutcomeKind
    detail: str
    """Why, in plain words (for a skip: the drift; for a failure: the registry's answer)."""
    retries: int

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Outcome:
        return cls(d["action"], d["repository"], d["target"], d["outcome"], d["detail"],
                   d.get("retries", 0))  # fmt: skip

    @property
    def ok(self) -> bool:
        """Done, or it was already gone."""
        return self.outcome in ("done", "alreadyGone")


class _Document(dict[str, Any]):
    """A report: the JSON contract's dict itself (``report["counts"]``, ``json.dumps``), with
    typed attributes on top."""

    def to_dict(self) -> dict[str, Any]:
        """The report as a plain dict (a copy)."""
        return json.loads(json.dumps(self))  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """The report's JSON text."""
        return json.dumps(self, ensure_ascii=False)

    @property
    def counts(self) -> dict[str, int]:
        """Outcomes counted by kind."""
        return dict(self.get("counts", {}))

    @property
    def complete(self) -> bool:
        """Every action is done or was already gone (undo: everything was restored)."""
        return bool(self.get("complete"))


class Report(_Document):
    """The result of ``registry.execute``: every action's outcome, counts, and whether the run
    is complete (every action done or already gone)."""

    @property
    def plan(self) -> str | None:
        """The digest of the plan that was executed."""
        return self.get("plan")

    @property
    def outcomes(self) -> list[Outcome]:
        """One per deletion, in plan order."""
        return [Outcome.from_dict(o) for o in self.get("outcomes", [])]

    @property
    def interrupted(self) -> bool:
        """Ctrl-C (or ``cancel``) stopped the run: what had not started is ``notStarted``."""
        return bool(self.get("interrupted", False))

    @property
    def retargeted(self) -> str | None:
        """The registry the plan was made for, when it ran against another."""
        return self.get("retargeted")

    def failed(self) -> list[Outcome]:
        """The outcomes that are not done or already gone."""
        return [o for o in self.outcomes if not o.ok]


@dataclass(frozen=True)
class UndoResult:
    """One manifest an undo pushed back (or would, in a dry run)."""

    repository: str
    digest: str
    tags: list[str]
    outcome: str
    detail: str

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UndoResult:
        return cls(d["repository"], d["digest"], list(d.get("tags", [])), d["outcome"],
                   d.get("detail", ""))  # fmt: skip


class UndoReport(_Document):
    """The result of ``registry.undo``."""

    @property
    def run(self) -> str | None:
        """The run that was undone."""
        return self.get("run")

    @property
    def results(self) -> list[UndoResult]:
        """One per manifest."""
        return [UndoResult.from_dict(x) for x in self.get("results", [])]
