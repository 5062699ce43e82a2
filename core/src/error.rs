//! The one error type of the core. Every variant is data, not a preformatted string, so that
//! the bindings can map it field by field; `code()` is the stable identifier they use.

/// Everything that can go wrong in the core.
///
/// `path` fields name the place in the input document, in the form
/// `repositories[3].tags[7].digest`, so a user can find the bad value at once.
///
/// It serializes as `{"code": "invalid_digest", "path": …, "value": …}`, so the bindings hand
/// every field of the variant to Python and JavaScript without a per-field copy. Fields named
/// `message` serialize as `detail`, leaving `message` to the whole sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(
    tag = "code",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum Error {
    /// A digest that does not follow the OCI digest grammar (image-spec, descriptor.md).
    #[error("{path}: {value:?} is not a valid digest")]
    InvalidDigest {
        /// Where the value was found.
        path: String,
        /// The value as given.
        value: String,
    },
    /// A repository name that does not follow the distribution-spec `<name>` grammar.
    #[error("{path}: {value:?} is not a valid repository name")]
    InvalidRepositoryName {
        /// Where the value was found.
        path: String,
        /// The value as given.
        value: String,
    },
    /// A tag that does not follow `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
    #[error("{path}: {value:?} is not a valid tag")]
    InvalidTag {
        /// Where the value was found.
        path: String,
        /// The value as given.
        value: String,
    },
    /// An image reference that is neither `repository:tag` nor `repository@digest`.
    #[error("{path}: {value:?} is not a valid image reference (expected repository:tag or repository@digest)")]
    InvalidReference {
        /// Where the value was found.
        path: String,
        /// The value as given.
        value: String,
    },
    /// A time that is not an RFC 3339 date-time or a `YYYY-MM-DD` date.
    #[error("{path}: {value:?} is not a valid RFC 3339 timestamp")]
    InvalidTimestamp {
        /// Where the value was found.
        path: String,
        /// The value as given.
        value: String,
    },
    /// A document that is not JSON of the expected shape (syntax, type or missing field).
    #[error("{path}: {message}")]
    InvalidJson {
        /// Where the parser stopped (`.` for the document itself).
        path: String,
        /// What the parser expected.
        #[serde(rename = "detail")]
        message: String,
    },
    /// A tag whose digest is not one of its repository's manifests.
    #[error("{path}: tag {tag:?} points at {digest:?}, which is not a manifest of repository {repository:?}")]
    DanglingTag {
        /// Where the tag's digest was found.
        path: String,
        /// The repository holding the tag.
        repository: String,
        /// The tag name.
        tag: String,
        /// The digest the tag claims.
        digest: String,
    },
    /// The same repository, manifest or tag listed twice.
    #[error("{path}: {value:?} appears more than once")]
    Duplicate {
        /// Where the second occurrence was found.
        path: String,
        /// The repeated name or digest.
        value: String,
    },
    /// Manifest bytes whose hash differs from the digest they were fetched or given as.
    #[error("{path}: the manifest bytes hash to {computed:?}, not to the claimed {claimed:?}")]
    DigestMismatch {
        /// Where the claimed digest came from.
        path: String,
        /// The digest the bytes were said to have.
        claimed: String,
        /// The digest of the bytes.
        computed: String,
    },
    /// Manifest bytes of a kind regprune cannot model (Docker schema 1, unknown JSON).
    #[error("{path}: unsupported manifest: {reason}")]
    UnsupportedManifest {
        /// Where the manifest came from.
        path: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// An operation naming a repository that the snapshot does not hold.
    #[error("{path}: repository {repository:?} is not in the snapshot")]
    RepositoryNotFound {
        /// Where the name was found.
        path: String,
        /// The repository name.
        repository: String,
    },
    /// An operation naming an image (tag or digest) that the snapshot does not hold.
    #[error("{path}: image {image:?} is not in the snapshot")]
    ImageNotFound {
        /// Where the reference was found.
        path: String,
        /// The image reference.
        image: String,
    },
    /// A regular expression or glob that does not compile.
    #[error("{path}: {pattern:?} is not a valid pattern: {message}")]
    InvalidPattern {
        /// Where the pattern was found.
        path: String,
        /// The pattern as given.
        pattern: String,
        /// What the regex engine said.
        #[serde(rename = "detail")]
        message: String,
    },
    /// A pattern whose matching exceeded the backtracking limit (catastrophic backtracking).
    #[error("{path}: pattern {pattern:?} needs too much backtracking on {subject:?}; simplify it")]
    PatternTooComplex {
        /// Where the pattern was found.
        path: String,
        /// The pattern.
        pattern: String,
        /// The name it was matched against.
        subject: String,
    },
    /// A duration that does not parse (`--ago`, `olderThan`).
    #[error("{path}: {value:?} is not a valid duration: {message}")]
    InvalidDuration {
        /// Where the duration was found.
        path: String,
        /// The duration as given.
        value: String,
        /// Why it was refused.
        #[serde(rename = "detail")]
        message: String,
    },
    /// An `acr purge` command line that `acr` itself would refuse.
    #[error("{path}: {message}")]
    InvalidPurgeCommand {
        /// Where the command was found.
        path: String,
        /// The error, in acr's words where acr has words for it.
        #[serde(rename = "detail")]
        message: String,
    },
    /// A limit exceeded: a policy's `maxDeletions` or `maxBytes` (nothing is planned, so
    /// nothing can be executed), or the WebAssembly build's `maxSnapshotBytes`.
    #[error("{path}: {limit} is {allowed}, and this would be {actual}; refused")]
    LimitExceeded {
        /// Where the limit was set.
        path: String,
        /// Which limit.
        limit: String,
        /// The limit's value.
        allowed: u64,
        /// What the plan would do.
        actual: u64,
    },
    /// A well-formed operation that cannot be applied as written (e.g. untag by digest).
    #[error("{path}: {message}")]
    InvalidOperation {
        /// Where the problem is.
        path: String,
        /// What is wrong, quoting the value.
        #[serde(rename = "detail")]
        message: String,
    },
    /// A command line the CLI does not accept: an unknown command or option, a missing or
    /// bad value.
    #[error("{path}: {message}")]
    InvalidArguments {
        /// The option or argument (`--concurrency`, `operation`).
        path: String,
        /// What is wrong, quoting the value.
        #[serde(rename = "detail")]
        message: String,
    },
    /// The registry could not be reached: the name does not resolve, the connection is refused or cut, TLS fails, or nothing answers in time.
    #[error("{path}: {message}")]
    RegistryUnreachable {
        /// The request's URL path, or the registry's host when no request got an answer.
        path: String,
        /// The HTTP status (0 when there was no response).
        status: u16,
        /// What happened, for people (never a credential).
        #[serde(rename = "detail")]
        message: String,
    },
    /// The registry asks for credentials and none were found; the message lists where regprune looked.
    #[error("{path}: {message}")]
    CredentialsMissing {
        /// The request's URL path, or the registry's host when no request got an answer.
        path: String,
        /// The HTTP status (0 when there was no response).
        status: u16,
        /// What happened, for people (never a credential).
        #[serde(rename = "detail")]
        message: String,
    },
    /// The registry or its token service refused the credentials that were sent.
    #[error("{path}: {message}")]
    AuthenticationFailed {
        /// The request's URL path, or the registry's host when no request got an answer.
        path: String,
        /// The HTTP status (0 when there was no response).
        status: u16,
        /// What happened, for people (never a credential).
        #[serde(rename = "detail")]
        message: String,
    },
    /// The credentials were accepted but do not allow this (HTTP 403).
    #[error("{path}: {message}")]
    Forbidden {
        /// The request's URL path, or the registry's host when no request got an answer.
        path: String,
        /// The HTTP status (0 when there was no response).
        status: u16,
        /// What happened, for people (never a credential).
        #[serde(rename = "detail")]
        message: String,
    },
    /// The registry has no such repository, manifest or endpoint (HTTP 404).
    #[error("{path}: {message}")]
    NotFound {
        /// The request's URL path, or the registry's host when no request got an answer.
        path: String,
        /// The HTTP status (0 when there was no response).
        status: u16,
        /// What happened, for people (never a credential).
        #[serde(rename = "detail")]
        message: String,
    },
    /// The registry does not offer this (HTTP 405: deletes disabled, or an API it does not have).
    #[error("{path}: {message}")]
    UnsupportedByRegistry {
        /// The request's URL path, or the registry's host when no request got an answer.
        path: String,
        /// The HTTP status (0 when there was no response).
        status: u16,
        /// What happened, for people (never a credential).
        #[serde(rename = "detail")]
        message: String,
    },
    /// The registry kept answering HTTP 429 after every retry.
    #[error("{path}: {message}")]
    RateLimited {
        /// The request's URL path, or the registry's host when no request got an answer.
        path: String,
        /// The HTTP status (0 when there was no response).
        status: u16,
        /// What happened, for people (never a credential).
        #[serde(rename = "detail")]
        message: String,
    },
    /// The registry kept failing (HTTP 5xx) after every retry.
    #[error("{path}: {message}")]
    ServerError {
        /// The request's URL path, or the registry's host when no request got an answer.
        path: String,
        /// The HTTP status (0 when there was no response).
        status: u16,
        /// What happened, for people (never a credential).
        #[serde(rename = "detail")]
        message: String,
    },
    /// The registry answered something the protocol does not allow: an unexpected status, a missing header, a body that is not the document it must be, a listing that loops.
    #[error("{path}: {message}")]
    ProtocolViolation {
        /// The request's URL path, or the registry's host when no request got an answer.
        path: String,
        /// The HTTP status (0 when there was no response).
        status: u16,
        /// What happened, for people (never a credential).
        #[serde(rename = "detail")]
        message: String,
    },
}

/// Matches every variant of [`Error`] (each has a `path`): one list for `path` and
/// `path_mut`, so a new variant cannot be forgotten in one of them.
macro_rules! every_variant {
    ($e:expr, $path:ident => $body:expr) => {
        match $e {
            Error::InvalidDigest { $path, .. }
            | Error::InvalidRepositoryName { $path, .. }
            | Error::InvalidTag { $path, .. }
            | Error::InvalidReference { $path, .. }
            | Error::InvalidTimestamp { $path, .. }
            | Error::InvalidJson { $path, .. }
            | Error::DanglingTag { $path, .. }
            | Error::Duplicate { $path, .. }
            | Error::DigestMismatch { $path, .. }
            | Error::UnsupportedManifest { $path, .. }
            | Error::RepositoryNotFound { $path, .. }
            | Error::ImageNotFound { $path, .. }
            | Error::InvalidOperation { $path, .. }
            | Error::InvalidPattern { $path, .. }
            | Error::PatternTooComplex { $path, .. }
            | Error::InvalidDuration { $path, .. }
            | Error::InvalidPurgeCommand { $path, .. }
            | Error::LimitExceeded { $path, .. }
            | Error::InvalidArguments { $path, .. }
            | Error::RegistryUnreachable { $path, .. }
            | Error::CredentialsMissing { $path, .. }
            | Error::AuthenticationFailed { $path, .. }
            | Error::Forbidden { $path, .. }
            | Error::NotFound { $path, .. }
            | Error::UnsupportedByRegistry { $path, .. }
            | Error::RateLimited { $path, .. }
            | Error::ServerError { $path, .. }
            | Error::ProtocolViolation { $path, .. } => $body,
        }
    };
}

impl Error {
    /// A stable, machine-readable identifier of the variant (`snake_case`), the same in Rust,
    /// Python (`RegpruneError.code`) and JavaScript (`error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidDigest { .. } => "invalid_digest",
            Error::InvalidRepositoryName { .. } => "invalid_repository_name",
            Error::InvalidTag { .. } => "invalid_tag",
            Error::InvalidReference { .. } => "invalid_reference",
            Error::InvalidTimestamp { .. } => "invalid_timestamp",
            Error::InvalidJson { .. } => "invalid_json",
            Error::DanglingTag { .. } => "dangling_tag",
            Error::Duplicate { .. } => "duplicate",
            Error::DigestMismatch { .. } => "digest_mismatch",
            Error::UnsupportedManifest { .. } => "unsupported_manifest",
            Error::RepositoryNotFound { .. } => "repository_not_found",
            Error::ImageNotFound { .. } => "image_not_found",
            Error::InvalidOperation { .. } => "invalid_operation",
            Error::InvalidPattern { .. } => "invalid_pattern",
            Error::PatternTooComplex { .. } => "pattern_too_complex",
            Error::InvalidDuration { .. } => "invalid_duration",
            Error::InvalidPurgeCommand { .. } => "invalid_purge_command",
            Error::LimitExceeded { .. } => "limit_exceeded",
            Error::InvalidArguments { .. } => "invalid_arguments",
            Error::RegistryUnreachable { .. } => "registry_unreachable",
            Error::CredentialsMissing { .. } => "credentials_missing",
            Error::AuthenticationFailed { .. } => "authentication_failed",
            Error::Forbidden { .. } => "forbidden",
            Error::NotFound { .. } => "not_found",
            Error::UnsupportedByRegistry { .. } => "unsupported_by_registry",
            Error::RateLimited { .. } => "rate_limited",
            Error::ServerError { .. } => "server_error",
            Error::ProtocolViolation { .. } => "protocol_violation",
        }
    }

    /// The same error with its path placed under `prefix` (`bodies[2]` + `manifests[0].digest`
    /// gives `bodies[2].manifests[0].digest`), for inputs nested in larger documents.
    #[must_use]
    pub fn under(mut self, prefix: &str) -> Error {
        let path = self.path_mut();
        *path = if path.as_str() == "." || path.is_empty() {
            prefix.to_owned()
        } else if path.starts_with('[') {
            format!("{prefix}{path}")
        } else {
            format!("{prefix}.{path}")
        };
        self
    }

    /// Where in the input the error is.
    pub fn path(&self) -> &str {
        every_variant!(self, path => path)
    }

    fn path_mut(&mut self) -> &mut String {
        every_variant!(self, path => path)
    }

    /// Whether the error came from the registry (its answers, or its not answering) rather
    /// than from the input: the `RegistryError` family in Python and JavaScript.
    pub fn is_registry(&self) -> bool {
        self.exit_code() >= ExitCode::Unreachable as u8
    }

    /// The exit code a command line ends with on this error (see [`ExitCode`]).
    pub fn exit_code(&self) -> u8 {
        Error::exit_code_of(self.code())
    }

    /// The exit code for an error `code` (any code not of the registry's: refused, 2).
    pub fn exit_code_of(code: &str) -> u8 {
        let exit = match code {
            "registry_unreachable" => ExitCode::Unreachable,
            "credentials_missing" | "authentication_failed" | "forbidden" => ExitCode::Denied,
            "not_found"
            | "unsupported_by_registry"
            | "rate_limited"
            | "server_error"
            | "protocol_violation" => ExitCode::RegistryFailed,
            _ => ExitCode::Refused,
        };
        exit as u8
    }

    /// The registry failure that an HTTP answer `status` means (0: no answer), with `path`
    /// the request's path and `what` the sentence for people.
    pub fn from_status(path: &str, status: u16, what: String) -> Error {
        let (path, message) = (path.to_owned(), what);
        match status {
            0 => Error::RegistryUnreachable {
                path,
                status,
                message,
            },
            401 => Error::AuthenticationFailed {
                path,
                status,
                message,
            },
            403 => Error::Forbidden {
                path,
                status,
                message,
            },
            404 => Error::NotFound {
                path,
                status,
                message,
            },
            405 => Error::UnsupportedByRegistry {
                path,
                status,
                message,
            },
            429 => Error::RateLimited {
                path,
                status,
                message,
            },
            500..=599 => Error::ServerError {
                path,
                status,
                message,
            },
            _ => Error::ProtocolViolation {
                path,
                status,
                message,
            },
        }
    }

    /// Every code `code()` can return, for bindings that map codes to classes.
    pub const CODES: &'static [&'static str] = &[
        "invalid_digest",
        "invalid_repository_name",
        "invalid_tag",
        "invalid_reference",
        "invalid_timestamp",
        "invalid_json",
        "dangling_tag",
        "duplicate",
        "digest_mismatch",
        "unsupported_manifest",
        "repository_not_found",
        "image_not_found",
        "invalid_operation",
        "invalid_pattern",
        "pattern_too_complex",
        "invalid_duration",
        "invalid_purge_command",
        "limit_exceeded",
        "invalid_arguments",
        "registry_unreachable",
        "credentials_missing",
        "authentication_failed",
        "forbidden",
        "not_found",
        "unsupported_by_registry",
        "rate_limited",
        "server_error",
        "protocol_violation",
    ];
}

/// How a command line ends, the same in both CLIs (documented once, in the README's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything asked was done (or, for a preview, shown).
    Ok = 0,
    /// An execution or undo ran but not every action was done: the report says which.
    Partial = 1,
    /// Refused before anything was sent: bad input, an edited plan, a plan for another
    /// registry, declined confirmation, a usage error.
    Refused = 2,
    /// The registry could not be reached (DNS, refused connection, TLS, timeouts).
    Unreachable = 3,
    /// The registry refused access: no credentials found, credentials refused, or forbidden.
    Denied = 4,
    /// The registry answered, but not as needed: not found, unsupported (405), rate limited,
    /// server errors after every retry, or a protocol violation.
    RegistryFailed = 5,
    /// Interrupted twice (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
