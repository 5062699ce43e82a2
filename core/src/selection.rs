//! Selections: which manifests and tags a request asks to remove, with reasons, retained items
//! and warnings, before the graph rules decide what can really go. The data every operation's
//! selection (`select`, `purge`, `acr_purge`, `policy`) writes and the planner reads.

use crate::error::Result;
use crate::graph::{Graph, Mid};
use crate::operation::Operation;
use crate::plan::{Reason, ReasonCode, Retained, Warning};
use crate::time::TimeField;
use crate::time::Timestamp;

/// A manifest the request asks to delete.
pub(crate) struct Request {
    pub id: Mid,
    pub reason: Reason,
    /// Named by the user (`deleteImage`) rather than picked by a rule or a repository.
    /// A named referrer is deleted even when its subject stays; a picked one is not.
    pub named: bool,
}

/// What a request asks for.
#[derive(Default)]
pub(crate) struct Selection {
    pub requests: Vec<Request>,
    /// Tags to remove on their own: `(manifest, index into its repository's tags, reason)`.
    pub untags: Vec<(Mid, u32, Reason)>,
    /// A repository asked to go as a whole.
    pub whole_repository: Option<u32>,
    pub retained: Vec<Retained>,
    pub warnings: Vec<Warning>,
    /// The timestamp actions are ordered by (oldest first).
    pub order_by: TimeField,
    /// The manifest of a `deleteImage`, and whether it was named by tag: if it goes, az's
    /// confirmation sentence lists every tag that goes with it.
    pub confirm: Option<(Mid, bool)>,
    /// Whether deleting an index deletes its children (true but for `acr purge`, which
    /// leaves them).
    pub cascade_children: bool,
    /// Whether locks on manifests and tags are lifted (`--include-locked`).
    pub unlock: bool,
    /// Whether to explain where the graph rules overrule `acr purge`'s own choices.
    pub acr: bool,
    /// The request as the plan should echo it, when that differs from what was given
    /// (a canonical `acr purge` command line without credentials).
    pub echo: Option<Operation>,
    /// Digests the request itself protects (a policy's `protect.digests`).
    pub pinned: Vec<crate::digest::Digest>,
    /// Caps the finished plan must respect.
    pub limits: Option<crate::policy::Limits>,
}

impl Selection {
    /// An empty selection with the core's defaults.
    pub fn new() -> Selection {
        Selection {
            cascade_children: true,
            ..Selection::default()
        }
    }

    /// Appends what another lane selected (its requests are numbered after these).
    fn append(&mut self, other: Selection) {
        crate::par::join(&mut self.requests, other.requests);
        crate::par::join(&mut self.untags, other.untags);
        crate::par::join(&mut self.retained, other.retained);
        crate::par::join(&mut self.warnings, other.warnings);
    }
}

/// Runs `select` over the repositories in lanes of consecutive repositories (about the same
/// number of manifests each), each writing its own selection, joined in repository order: the
/// result is the one a single pass in order gives. Each lane's extra result comes back in
/// order; the first error (in repository order) wins.
pub(crate) fn by_repository<T: Send>(
    g: &Graph<'_>,
    select: impl Fn(std::ops::Range<u32>, &mut Selection) -> Result<T> + Sync,
) -> Result<(Selection, Vec<T>)> {
    let repos = g.snapshot.repositories.len() as u32;
    let lanes = crate::par::lanes(g.len() * 8, g.threads).min(repos.max(1) as usize);
    let parts = crate::par::each(lanes, |k| {
        let mut s = Selection::new();
        let lane = crate::graph::repository_lane(&g.repo_start, lanes, k);
        select(lane.start as u32..lane.end as u32, &mut s).map(|t| (s, t))
    });
    let mut joined = Selection::new();
    let mut extra = Vec::with_capacity(lanes);
    for part in parts {
        let (s, t) = part?;
        joined.append(s);
        extra.push(t);
    }
    Ok((joined, extra))
}

pub(crate) fn reason(code: ReasonCode, message: impl Into<std::sync::Arc<str>>) -> Reason {
    // A `String` becomes an `Arc<str>` of its exact length (no spare capacity from `format!`).
    Reason {
        code,
        message: message.into(),
        rule: None,
    }
}

/// The time `field` of manifest `id`, when the snapshot has it.
pub(crate) fn time_of(g: &Graph<'_>, id: Mid, field: TimeField) -> Option<Timestamp> {
    let m = g.manifest(id);
    match field {
        TimeField::LastUpdateTime => m.last_update_time,
        TimeField::CreatedTime => m.created_time,
    }
}
