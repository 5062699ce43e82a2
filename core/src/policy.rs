//! Retention policies: rule sets like ECR lifecycle policies and GitLab / GAR cleanup
//! policies, with protections that always win.
//!
//! Precedence, strongest first: protections (pinned digests, protected tags, locks, never
//! emptying a repository, and the graph rules), then `keep` rules, then `delete` rules. A
//! manifest is deleted when some `delete` rule selects it, no `keep` rule selects it and no
//! protection applies. Every decision names the rule that made it. Limits fail closed: a plan
//! that would exceed one is an error, not a smaller plan.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::time::TimeField;

/// A retention policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// The rules, in order (the order names which rule decided, not who wins: keep beats
    /// delete wherever it stands).
    pub rules: Vec<Rule>,
    /// What no rule can delete.
    #[serde(default)]
    pub protect: Protect,
    /// Caps that make planning fail instead of deleting too much.
    #[serde(default)]
    pub limits: Limits,
}

/// One rule: selectors, and what to do with what they select.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// The rule's name, quoted by every decision it makes.
    pub name: String,
    /// `delete` or `keep`.
    pub action: RuleAction,
    /// Repository globs (`team-*/api`, `**`); a leading `!` excludes. Empty: every repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<String>,
    /// Repository regexes, matched against the whole name; a leading `!` excludes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repository_regex: Vec<String>,
    /// Tag globs (`pr-*`, `v?.*`); a leading `!` excludes images carrying such a tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Tag regexes, matched against the whole tag; a leading `!` excludes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_regex: Vec<String>,
    /// Tagged images, untagged manifests, or both.
    #[serde(default)]
    pub tag_state: TagState,
    /// Only manifests older than this (`30d`, `P4W`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than: Option<String>,
    /// Only manifests newer than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_than: Option<String>,
    /// The timestamp ages are measured on.
    #[serde(default)]
    pub timestamp: TimeField,
    /// Only these manifest media types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_types: Vec<String>,
    /// Only these artifact types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifact_types: Vec<String>,
    /// For `delete` rules: per repository, spare the N most recent manifests the selectors
    /// (other than age) pick, then delete those of the rest that the age conditions pick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_most_recent: Option<u32>,
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleAction {
    /// Delete what the rule selects.
    Delete,
    /// Keep what the rule selects, whatever other rules say.
    Keep,
}

/// Which manifests a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TagState {
    /// Tagged and untagged.
    #[default]
    Any,
    /// Only manifests with at least one tag.
    Tagged,
    /// Only manifests without tags.
    Untagged,
}

/// Protections that always win.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Protect {
    /// Tag globs (`latest`, `v*.*.*`): an image with such a tag is never deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Tag regexes, same effect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_regex: Vec<String>,
    /// Digests in use, in any repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<Digest>,
    /// Keep the most recent manifest of a repository that would otherwise be emptied.
    #[serde(default)]
    pub never_empty_repository: bool,
}

/// Caps on what a plan may delete.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// At most this many manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_deletions: Option<u64>,
    /// At most this many bytes reclaimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}
