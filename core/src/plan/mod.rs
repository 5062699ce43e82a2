//! The plan: regprune's output contract. Every action and every retained item carries a
//! reason; the digest seals the plan so that exactly the reviewed plan can be executed.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::Result;
use crate::field;
use crate::media_type::MediaType;
use crate::names::{RepositoryName, TagName};
use crate::operation::Operation;
pub(crate) mod writer;

use crate::reclaim::Reclaim;
use crate::time::Timestamp;
use writer::write_plan;

impl Serialize for Plan {
    /// The writer's JSON (with the digest), as a value for any serde serializer.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value: serde_json::Value =
            serde_json::from_str(&self.to_json()).map_err(serde::ser::Error::custom)?;
        value.serialize(serializer)
    }
}

/// The version of the plan format.
pub const PLAN_VERSION: u32 = 1;

/// What a request would do to a snapshot, and why.
///
/// Its JSON has one writer, [`writer`] (the seal hashes what it writes): `Serialize` hands
/// that JSON on, so no second serializer can disagree with it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Plan format version.
    pub version: u32,
    /// The registry the snapshot came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The request the plan answers.
    pub operation: Operation,
    /// The time the plan was made for.
    pub now: Timestamp,
    /// Digests that were protected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pinned: Vec<Digest>,
    /// What to do, in a safe execution order: untags, then referrers, then indexes, then the
    /// remaining manifests, then whole repositories.
    pub actions: Vec<Action>,
    /// Items a user might expect to go, which stay, with why.
    pub retained: Vec<Retained>,
    /// The storage the actions give back.
    pub reclaim: Reclaim,
    /// Things to know before executing.
    pub warnings: Vec<Warning>,
    /// `sha256` of the plan's canonical JSON without this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActionType {
    /// Remove one tag; the manifest stays.
    Untag,
    /// Delete a manifest and every tag on it.
    DeleteManifest,
    /// Delete a repository with all its manifests and tags.
    DeleteRepository,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// What the step does.
    #[serde(rename = "type")]
    pub kind: ActionType,
    /// The repository it acts on.
    pub repository: RepositoryName,
    /// The manifest (for `deleteManifest`, and the tag's target for `untag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// The tag (for `untag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<TagName>,
    /// The manifest's media type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// Every tag the step removes.
    pub tags: Vec<TagName>,
    /// The manifests a `deleteRepository` removes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<Digest>,
    /// Why.
    pub reason: Reason,
    /// The deleted manifest that drags this one along (its index or its subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cascade_of: Option<Digest>,
    /// The item is locked and the request lifts locks (`acr purge --include-locked`): the
    /// executor unlocks it (ACR `PATCH`) right before deleting it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unlock: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

/// Something that stays although a user might expect it to go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retained {
    /// Its repository.
    pub repository: RepositoryName,
    /// The manifest, when a manifest is retained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// The tag, when a tag is retained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<TagName>,
    /// The tags on the retained manifest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagName>,
    /// Why it stays.
    pub reason: Reason,
}

impl Retained {
    /// What it names: `repo:tag`, `repo@digest` or the repository.
    pub fn target(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(t), _) => format!("{}:{t}", self.repository),
            (None, Some(d)) => format!("{}@{d}", self.repository),
            (None, None) => self.repository.to_string(),
        }
    }
}

/// A decision's reason: a stable code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Machine-readable reason.
    pub code: ReasonCode,
    /// The same in plain words, naming the items involved. Shared: a policy rule gives every
    /// manifest it deletes the same sentence, and a large plan holds one per action.
    pub message: Arc<str>,
    /// The policy rule that decided, for `policy` plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Arc<str>>,
}

/// Why something is deleted or kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ReasonCode {
    /// Deleted: its repository is deleted.
    RepositoryDeleted,
    /// Deleted: the user named this image.
    ImageNamed,
    /// Untagged: the user named this tag.
    TagNamed,
    /// Deleted: older than the cut-off.
    OlderThan,
    /// Deleted: the manifest has no tags.
    Untagged,
    /// Deleted: an untagged manifest past the retention period.
    RetentionExpired,
    /// Deleted: a child of a deleted index.
    ChildOfDeletedIndex,
    /// Deleted: a referrer (signature, SBOM, attestation) of a deleted manifest.
    ReferrerOfDeletedSubject,
    /// Kept: locked (`deleteEnabled` or `writeEnabled` false) on the item, its tag or its
    /// repository.
    Locked,
    /// Kept: pinned as in use.
    Pinned,
    /// Kept: a surviving index lists it.
    ChildOfSurvivingIndex,
    /// Kept: it refers to a surviving manifest.
    ReferrerOfSurvivingSubject,
    /// Kept: it has tags of its own that the request does not remove.
    Tagged,
    /// Kept: the timestamp the rule needs is missing.
    MissingTimestamp,
    /// Untagged or deleted: a purge filter selects it and it is older than the cut-off.
    PurgeMatched,
    /// Kept: one of the most recent items `keep` spares.
    Keep,
    /// Kept: `acr purge` leaves it alone (no media type, or a referrer with `subject`).
    AcrSkips,
    /// Deleted: a policy rule selects it.
    RuleMatched,
    /// Kept: a policy `keep` rule selects it.
    KeptByRule,
    /// Kept: one of its tags matches a protected tag pattern.
    ProtectedTag,
    /// Kept: it is the most recent manifest of a repository the policy must not empty.
    LastInRepository,
    /// Kept: the registry refuses to delete it (GHCR: a package's last tagged version).
    RegistryRefuses,
}

/// A warning attached to a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// Machine-readable kind.
    pub code: WarningCode,
    /// Plain words, with the safe alternative where there is one.
    pub message: String,
    /// The items concerned (`repo:tag`, `repo@digest` or repository names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}

/// Kinds of warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum WarningCode {
    /// Deleting by tag deletes the manifest and every other tag on it.
    OtherTagsDeleted,
    /// The snapshot misses repositories; reclaim is an upper bound.
    IncompleteSnapshot,
    /// The repository cannot go as a whole; what may go is deleted manifest by manifest.
    RepositoryPartlyKept,
    /// A surviving referrer will point at a deleted manifest.
    ReferrerLeftBehind,
    /// An untag leaves a manifest without tags, still holding its layers.
    ManifestLeftUntagged,
    /// Nothing the request named can be deleted.
    NothingDeleted,
    /// An `acr purge` repository filter matches more than the user likely meant (missing
    /// group around an alternation).
    RepositoryFilterWidened,
    /// An `acr purge` tag pattern is searched, not matched whole, and selects longer tags.
    TagPatternUnanchored,
    /// acr reads the `--ago` value differently from what it seems to say.
    AgoMisread,
    /// `--keep` applied twice: to tags, then again to untagged manifests.
    KeepCompounding,
    /// acr-cli bug: it deletes the children of a locked index (regprune keeps them).
    AcrDeletesLockedIndexChildren,
    /// acr-cli bug: it deletes the children of an index it keeps for another reason (`--keep`
    /// spares the index after its children were chosen; regprune keeps them).
    AcrDeletesKeptIndexChildren,
    /// acr-cli bug: it deletes a referrer index while keeping its children (regprune keeps it).
    AcrDeletesReferrerIndex,
    /// `acr purge` would stop with an error on this snapshot.
    AcrWouldFail,
    /// What acr does with these items depends on something a snapshot cannot show (the
    /// server's order for equal times, its paging cursor, whether untagging updates a
    /// manifest's time, or when acr reads its clock).
    AcrResultUncertain,
    /// A policy rule selects nothing.
    RuleMatchesNothing,
    /// A regex field holds what looks like a glob.
    GlobInRegex,
    /// A policy rule decides nothing that earlier rules did not already decide.
    RuleShadowed,
    /// How untagging works on a registry without tag deletion.
    UntagPlaceholder,
    /// GHCR may refuse some deletions in these public packages (the download rule).
    PublicVersionsMayStay,
    /// The request needs times the snapshot does not have for these items (an OCI crawl has
    /// no tag times): they are kept, and the plan is not what the request means.
    RequestNotEvaluated,
}

impl Plan {
    /// The canonical JSON of the plan without its digest: compact, fields in declaration
    /// order, arrays in plan order. The digest is the sha256 of these bytes.
    ///
    /// # Panics
    /// Never: every field of a plan serializes to JSON.
    pub fn canonical_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_plan(self, false, &mut out);
        out
    }

    /// The sha256 of the canonical JSON, hashed as it is written (a large plan is not
    /// copied or buffered for it); for a large plan, hashed on a second thread while the
    /// rest is written.
    fn canonical_digest(&self) -> Digest {
        if crate::digest::installed_sha256().is_some() {
            return Digest::sha256(&self.canonical_json());
        }
        let lanes = crate::par::lanes(self.actions.len() * 16, crate::par::default_threads());
        let hasher = crate::par::pipe(lanes, sha2::Sha256::default(), |out| {
            write_plan(self, false, out);
        });
        Digest::from_sha256(sha2::Digest::finalize(hasher).into())
    }

    /// Computes and stores the digest.
    pub fn seal(&mut self) {
        self.digest = Some(self.canonical_digest());
    }

    /// True when the stored digest matches the plan's content: nothing was edited after
    /// review.
    pub fn verify(&self) -> bool {
        self.digest
            .as_ref()
            .is_some_and(|d| *d == self.canonical_digest())
    }

    /// Seals the plan and returns its JSON, serializing it once: the canonical bytes are
    /// hashed, and the digest is appended as the last member (where [`Plan::to_json`] writes
    /// it), so the result equals `to_json()` after `seal()`.
    ///
    /// # Panics
    /// Never: every field of a plan serializes to JSON, as a `}`-terminated object.
    pub fn seal_to_json(&mut self) -> String {
        let mut bytes = self.canonical_json();
        let digest = Digest::sha256(&bytes);
        assert_eq!(bytes.pop(), Some(b'}'), "a plan serializes as an object");
        bytes.extend_from_slice(b",\"digest\":\"");
        bytes.extend_from_slice(digest.to_string().as_bytes());
        bytes.extend_from_slice(b"\"}");
        self.digest = Some(digest);
        String::from_utf8(bytes).expect("the plan writer writes UTF-8")
    }

    /// The plan as JSON (the contract shared by Rust, Python and JavaScript): the bytes
    /// `serde_json` writes for it, written without its per-field machinery.
    ///
    /// # Panics
    /// Never: every field of a plan serializes to JSON.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        write_plan(self, true, &mut out);
        String::from_utf8(out).expect("the plan writer writes UTF-8")
    }

    /// Parses a plan from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Plan> {
        field::from_json(bytes)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{generate, plan, GeneratorOptions, Operation, PlanOptions, Snapshot, Timestamp};

    /// A generated registry of `manifests` manifests, and the time tests plan at.
    pub(crate) fn registry(seed: u64, manifests: usize) -> (Snapshot, PlanOptions) {
        let s = generate(&GeneratorOptions {
            seed,
            manifests,
            repositories: None,
        });
        (
            s,
            PlanOptions::at(Timestamp::from_unix_seconds(1_800_000_000)),
        )
    }

    /// The plan of `op` (JSON) on [`registry`].
    pub(crate) fn planned(seed: u64, manifests: usize, op: &str) -> Plan {
        let (s, now) = registry(seed, manifests);
        plan(&s, &Operation::from_json(op.as_bytes()).unwrap(), &now).unwrap()
    }

    #[test]
    fn the_canonical_form_is_the_plan_without_its_digest() {
        let mut p = planned(2, 300, r#"{"op": "deleteUntagged"}"#);
        p.registry = None;
        for registry in [None, Some("r.io".to_owned())] {
            p.registry = registry;
            p.seal();
            let mut unsealed = p.clone();
            unsealed.digest = None;
            assert_eq!(p.canonical_json(), unsealed.to_json().into_bytes());
            assert_eq!(p.digest, Some(Digest::sha256(&p.canonical_json())));
            assert!(p.verify());
        }
    }

    #[test]
    fn one_pass_json_is_the_sealed_plan_as_json() {
        let (s, now) = registry(5, 400);
        for op in [
            r#"{"op": "deleteUntagged"}"#,
            r#"{"op": "acrPurge", "filter": [".*:.*"], "ago": "30d", "untagged": true}"#,
        ] {
            let op = Operation::from_json(op.as_bytes()).unwrap();
            let sealed = plan(&s, &op, &now).unwrap();
            let text = crate::plan_json(&s, &op, &now).unwrap();
            assert_eq!(text, sealed.to_json());
            let mut p = sealed.clone();
            p.registry = Some("r.io".into());
            p.pinned.clear();
            let one_pass = p.clone().seal_to_json();
            p.seal();
            assert_eq!(one_pass, p.to_json());
        }
    }
}
