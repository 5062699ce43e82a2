"""Errors: one base class, one subclass per core error code.

Every error the core raises arrives as the subclass of its code, with ``code``, ``path``
and the other fields of the core variant as attributes. Errors about bad input also
subclass :class:`ValueError`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RegpruneError(Exception):
    """Base class of every regprune error."""

    code: ClassVar[str] = "regprune_error"
    #: The exit code the command line ends with on this error (2: refused input).
    exit_code: int = 2

    def __init__(self, message: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = dict(fields or {})
        self.fields.pop("code", None)
        self.path: str = str(self.fields.get("path", ""))
        for key, value in self.fields.items():
            setattr(self, _snake(key), value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.fields))


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


class InvalidInputError(RegpruneError, ValueError):
    """Input that regprune refuses: a bad digest, name, time, pattern or document."""


class InvalidDigestError(InvalidInputError):
    """A digest that breaks the OCI digest grammar."""

    code = "invalid_digest"


class InvalidRepositoryNameError(InvalidInputError):
    """A repository name that breaks the distribution grammar."""

    code = "invalid_repository_name"


class InvalidTagError(InvalidInputError):
    """A tag that breaks the distribution grammar."""

    code = "invalid_tag"


class InvalidReferenceError(InvalidInputError):
    """An image reference that is neither ``repo:tag`` nor ``repo@digest``."""

    code = "invalid_reference"


class InvalidTimestampError(InvalidInputError):
    """A time that is not RFC 3339."""

    code = "invalid_timestamp"


class InvalidJsonError(InvalidInputError):
    """A document that is not JSON of the expected shape."""

    code = "invalid_json"


class DanglingTagError(InvalidInputError):
    """A tag pointing at a digest its repository does not hold."""

    code = "dangling_tag"


class DuplicateError(InvalidInputError):
    """A repository, manifest or tag listed twice."""

    code = "duplicate"


class DigestMismatchError(InvalidInputError):
    """Manifest bytes that do not hash to the claimed digest."""

    code = "digest_mismatch"


class UnsupportedManifestError(InvalidInputError):
    """Manifest bytes regprune cannot model."""

    code = "unsupported_manifest"


class RepositoryNotFoundError(InvalidInputError):
    """An operation naming a repository the snapshot does not hold."""

    code = "repository_not_found"


class ImageNotFoundError(InvalidInputError):
    """An operation naming an image the snapshot does not hold."""

    code = "image_not_found"


class InvalidOperationError(InvalidInputError):
    """An operation that cannot be applied as written."""

    code = "invalid_operation"


class InvalidPatternError(InvalidInputError):
    """A regex or glob that does not compile."""

    code = "invalid_pattern"


class PatternTooComplexError(InvalidInputError):
    """A pattern that exceeded the backtracking limit."""

    code = "pattern_too_complex"


class InvalidDurationError(InvalidInputError):
    """A duration that does not parse."""

    code = "invalid_duration"


class InvalidPurgeCommandError(InvalidInputError):
    """An ``acr purge`` command line that acr itself would refuse."""

    code = "invalid_purge_command"


class InvalidArgumentsError(InvalidInputError):
    """A command line the CLI does not accept: an unknown command or option, a bad value."""

    code = "invalid_arguments"


class LimitExceededError(RegpruneError):
    """A limit exceeded: a policy's maxDeletions or maxBytes (planning fails closed), or the
    WebAssembly build's maxSnapshotBytes."""

    code = "limit_exceeded"


class RegistryError(RegpruneError):
    """A registry's answer (or its silence), not the input: ``status`` is the HTTP status (0
    without a response) and ``path`` the request's URL path or the registry's host; never a
    credential. ``exit_code`` is what the CLI ends with."""

    status: int = 0


class RegistryUnreachableError(RegistryError):
    """The registry could not be reached: the name does not resolve, the connection is refused
    or cut, TLS fails, or nothing answers in time."""

    code = "registry_unreachable"


class CredentialsMissingError(RegistryError):
    """The registry asks for credentials and none were found (the message says where regprune
    looked)."""

    code = "credentials_missing"


class AuthenticationFailedError(RegistryError):
    """The registry or its token service refused the credentials sent."""

    code = "authentication_failed"


class ForbiddenError(RegistryError):
    """The credentials were accepted but do not allow this (HTTP 403)."""

    code = "forbidden"


class NotFoundError(RegistryError):
    """The registry has no such repository, manifest or endpoint (HTTP 404)."""

    code = "not_found"


class UnsupportedByRegistryError(RegistryError):
    """The registry does not offer this (HTTP 405)."""

    code = "unsupported_by_registry"


class RateLimitedError(RegistryError):
    """The registry kept answering HTTP 429 after every retry."""

    code = "rate_limited"


class ServerError(RegistryError):
    """The registry kept failing (HTTP 5xx) after every retry."""

    code = "server_error"


class ProtocolViolationError(RegistryError):
    """The registry answered what the protocol does not allow."""

    code = "protocol_violation"


ERROR_CLASSES: dict[str, type[RegpruneError]] = {
    cls.code: cls
    for cls in (
        InvalidDigestError,
        InvalidRepositoryNameError,
        InvalidTagError,
        InvalidReferenceError,
        InvalidTimestampError,
        InvalidJsonError,
        DanglingTagError,
        DuplicateError,
        DigestMismatchError,
        UnsupportedManifestError,
        RepositoryNotFoundError,
        ImageNotFoundError,
        InvalidOperationError,
        InvalidPatternError,
        PatternTooComplexError,
        InvalidDurationError,
        InvalidPurgeCommandError,
        LimitExceededError,
        InvalidArgumentsError,
        RegistryUnreachableError,
        CredentialsMissingError,
        AuthenticationFailedError,
        ForbiddenError,
        NotFoundError,
        UnsupportedByRegistryError,
        RateLimitedError,
        ServerError,
        ProtocolViolationError,
    )
}
"""The error class of every core error code."""
