"""The shapes of the documents regprune takes, as ``TypedDict``s for type checkers: every
operation (``{"op": ...}``), the policy and its rules. At run time they are plain dicts; the
core checks every field and names a bad one in its error. Wherever a time goes, an aware
``datetime`` is accepted as well as an RFC 3339 string."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict

#: A time: an aware ``datetime`` or an RFC 3339 string (``2026-01-01T00:00:00Z``).
Time = datetime | str
#: Which manifest time a rule or operation compares.
TimeField = Literal["lastUpdateTime", "createdTime"]


class DeleteRepository(TypedDict):
    """``az acr repository delete --name R``: the repository with every manifest and tag."""

    op: Literal["deleteRepository"]
    repository: str


class DeleteImage(TypedDict):
    """Delete by tag (``app:v1``: the manifest and every other tag on it) or digest."""

    op: Literal["deleteImage"]
    image: str


class Untag(TypedDict):
    """Remove one tag; the manifest and its layers stay."""

    op: Literal["untag"]
    image: str


class _DeleteOlderThan(TypedDict):
    op: Literal["deleteOlderThan"]
    repository: str
    before: Time


class DeleteOlderThan(_DeleteOlderThan, total=False):
    """Manifests of a repository older than a time (``field``: which time)."""

    field: TimeField


class _DeleteUntagged(TypedDict):
    op: Literal["deleteUntagged"]


class DeleteUntagged(_DeleteUntagged, total=False):
    """Manifests without tags (in one repository, or everywhere)."""

    repository: str


class _AcrPurge(TypedDict):
    op: Literal["acrPurge"]


class AcrPurge(_AcrPurge, total=False):
    """Exactly what ``acr purge`` would do: its command line, or its flags as fields."""

    command: str
    filter: list[str]
    ago: str
    keep: int
    untagged: bool
    untaggedOnly: bool
    dryRun: bool
    includeLocked: bool


class _Purge(TypedDict):
    op: Literal["purge"]
    filter: list[str]


class Purge(_Purge, total=False):
    """The purge vocabulary with safe semantics (filters match whole names)."""

    ago: str
    before: Time
    timestamp: TimeField
    keep: int
    untagged: bool


class _Rule(TypedDict):
    name: str
    action: Literal["delete", "keep"]


class Rule(_Rule, total=False):
    """One policy rule: which manifests it selects, and whether it keeps or deletes them."""

    repositories: list[str]
    repositoryRegex: list[str]
    tags: list[str]
    tagRegex: list[str]
    tagState: Literal["any", "tagged", "untagged"]
    olderThan: str
    newerThan: str
    timestamp: TimeField
    mediaTypes: list[str]
    artifactTypes: list[str]
    keepMostRecent: int


class Protect(TypedDict, total=False):
    """What no rule may delete."""

    tags: list[str]
    tagRegex: list[str]
    digests: list[str]
    neverEmptyRepository: bool


class Limits(TypedDict, total=False):
    """Caps above which the whole plan is refused."""

    maxDeletions: int
    maxBytes: int


class _Policy(TypedDict):
    rules: list[Rule]


class Policy(_Policy, total=False):
    """Rules evaluated in order (keep wins over delete), protections, limits."""

    protect: Protect
    limits: Limits


class PolicyOperation(TypedDict):
    """Plan a policy."""

    op: Literal["policy"]
    policy: Policy


class Retention(TypedDict):
    """ACR's retention policy for untagged manifests."""

    op: Literal["retention"]
    days: int
    enabledAt: Time


#: Any operation ``plan`` takes.
Operation = (
    DeleteRepository
    | DeleteImage
    | Untag
    | DeleteOlderThan
    | DeleteUntagged
    | AcrPurge
    | Purge
    | PolicyOperation
    | Retention
)

__all__ = [
    "AcrPurge",
    "DeleteImage",
    "DeleteOlderThan",
    "DeleteRepository",
    "DeleteUntagged",
    "Limits",
    "Operation",
    "Policy",
    "PolicyOperation",
    "Protect",
    "Purge",
    "Retention",
    "Rule",
    "Time",
    "TimeField",
    "Untag",
]
