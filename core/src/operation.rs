//! The deletions the ACR guide describes, as data (`op` names the kind).

/// Declares an enum that serializes internally tagged by `op` and deserializes through an
/// externally tagged twin, so errors inside keep their JSON path (see `field::tagged`).
macro_rules! tagged_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident / $wire:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)? }
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Serialize)]
        #[serde(tag = "op", rename_all = "camelCase", rename_all_fields = "camelCase")]
        pub enum $name {
            $( $(#[$vmeta])* $variant { $( $(#[$fmeta])* $field: $ty ),* } ),*
        }

        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
        enum $wire {
            $( $variant { $( $(#[$fmeta])* $field: $ty ),* } ),*
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(match field::tagged::<$wire, D>(d, "op")? {
                    $( $wire::$variant { $($field),* } => $name::$variant { $($field),* } ),*
                })
            }
        }
    };
}

use serde::{Deserialize, Deserializer, Serialize};

use crate::digest::Digest;
use crate::error::Result;
use crate::field;
use crate::names::{ImageReference, RepositoryName};
use crate::policy::Policy;
use crate::time::{TimeField, Timestamp};

tagged_enum! {
/// One deletion request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Operation / OperationWire {
    /// `az acr repository delete --repository`: every manifest and tag of the repository.
    DeleteRepository {
        /// The repository to delete.
        repository: RepositoryName,
    },
    /// `az acr repository delete --image repo:tag|repo@digest`: the manifest and *all* its
    /// tags.
    DeleteImage {
        /// The image to delete.
        image: ImageReference,
    },
    /// `az acr repository untag --image repo:tag`: the tag only; frees nothing.
    Untag {
        /// The tag to remove, as `repository:tag`.
        image: ImageReference,
    },
    /// The seed's timestamp script: manifests whose `field` is before `before`, oldest first,
    /// each with all its tags.
    DeleteOlderThan {
        /// The repository to clean.
        repository: RepositoryName,
        /// The cut-off (a date means midnight UTC); equal times are kept.
        before: Timestamp,
        /// Which timestamp to compare.
        #[serde(default)]
        field: TimeField,
    },
    /// Untagged ("dangling") manifests, in one repository or in all.
    DeleteUntagged {
        /// The repository, or every repository when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repository: Option<RepositoryName>,
    },
    /// `acr purge`, exactly as acr-cli would run it: either the command line as written in
    /// an ACR task or a shell (`command`), or the same flags as fields.
    AcrPurge {
        /// The command line, quoting included (`acr purge --filter 'app:.*' --ago 2d`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<String>,
        /// `--filter` values, `<repository regex>:<tag regex>`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        filter: Vec<String>,
        /// `--ago`, in acr's grammar.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ago: Option<String>,
        /// `--keep`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep: Option<i64>,
        /// `--untagged`.
        #[serde(default, skip_serializing_if = "is_false")]
        untagged: bool,
        /// `--untagged-only`.
        #[serde(default, skip_serializing_if = "is_false")]
        untagged_only: bool,
        /// `--dry-run` (the plan is the same).
        #[serde(default, skip_serializing_if = "is_false")]
        dry_run: bool,
        /// `--include-locked`.
        #[serde(default, skip_serializing_if = "is_false")]
        include_locked: bool,
    },
    /// regprune's own purge: whole-name filters, a strict age, `keep` counting images.
    Purge {
        /// `repository:tag` regexes, each part matched against the whole name.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        filter: Vec<String>,
        /// Age: `30d`, `12h`, `1w2d`, `P30D`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ago: Option<String>,
        /// Or an absolute cut-off.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<Timestamp>,
        /// The timestamp ages are measured on.
        #[serde(default)]
        timestamp: TimeField,
        /// The most recent selected images to keep per repository, whatever their age.
        #[serde(default)]
        keep: u32,
        /// Also delete untagged manifests older than the cut-off.
        #[serde(default, skip_serializing_if = "is_false")]
        untagged: bool,
    },
    /// A retention policy of rules.
    Policy {
        /// The policy.
        policy: Policy,
    },
    /// ACR's retention policy for untagged manifests: those whose last update is after
    /// `enabledAt` and at least `days` days before `now`.
    Retention {
        /// Days an untagged manifest is kept (ACR allows 0 to 365).
        days: u32,
        /// When the policy was enabled; older manifests are out of its scope.
        enabled_at: Timestamp,
    },
}
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

impl Operation {
    /// Parses an operation from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Operation> {
        field::from_json(bytes)
    }
}

/// Everything a plan depends on besides the snapshot and the operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanOptions {
    /// The time the plan is made for. Never read from a clock inside the core.
    pub now: Timestamp,
    /// Digests that must survive ("in use"), in any repository.
    #[serde(default)]
    pub pinned: Vec<Digest>,
    /// At most this many threads for the planner's largest passes (default: the machine's
    /// parallelism; 1 runs everything on the calling thread). Not part of the plan: the result
    /// is the same whatever it is. The bindings read `REGPRUNE_THREADS` into it.
    #[serde(default, skip_serializing)]
    pub threads: Option<u32>,
}

impl PlanOptions {
    /// Options with `now` and nothing pinned.
    pub fn at(now: Timestamp) -> PlanOptions {
        PlanOptions {
            now,
            pinned: Vec::new(),
            threads: None,
        }
    }
}
