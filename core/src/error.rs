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
            | Error::LimitExceeded { $path, .. } => $body,
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
    ];
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
