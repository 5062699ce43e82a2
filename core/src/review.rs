//! A plan for people to review: its totals, and its items (actions and retained items) as the
//! rows of a table, filtered, sorted and paged. The preview widget shows these: a plan of
//! 30,000 actions need not cross to the page, nor be sealed, for a page of its rows to show.

use std::cmp::Ordering;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::names::TagName;
use crate::plan::writer::{Key, Names};
use crate::plan::{Action, Plan, ReasonCode, Retained, Warning, WarningCode};
use crate::reclaim::RepositoryReclaim;

/// The column items are sorted by (then by repository, then by target, then in plan order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SortKey {
    /// The repository.
    #[default]
    Repository,
    /// The kind: `untag`, `deleteManifest`, `deleteRepository` or `retained`.
    Kind,
    /// The reason's sentence.
    Reason,
}

/// Which items, in which order, and which page of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ItemQuery {
    /// Only items with this text in one of their cells, ignoring case; empty for all.
    #[serde(default)]
    pub matching: String,
    /// The sort column.
    #[serde(default)]
    pub sort: SortKey,
    /// How many sorted items to skip.
    #[serde(default)]
    pub offset: usize,
    /// At most this many items.
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    200
}

impl Default for ItemQuery {
    fn default() -> Self {
        ItemQuery {
            matching: String::new(),
            sort: SortKey::default(),
            offset: 0,
            limit: default_limit(),
        }
    }
}

/// One row: an action or a retained item, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// `untag`, `deleteManifest`, `deleteRepository` or `retained`.
    pub kind: Arc<str>,
    /// The repository.
    pub repository: String,
    /// `:tag`, the manifest's digest, or `N manifests` for a repository.
    pub target: String,
    /// The tags the action removes or the retained manifest carries, comma-separated.
    pub tags: String,
    /// The reason's sentence.
    pub reason: Arc<str>,
    /// The reason's code.
    pub code: Arc<str>,
}

/// A page of items and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemPage {
    /// Items matching the query, on every page.
    pub total: usize,
    /// This page, sorted.
    pub items: Vec<Item>,
}

/// An item of the plan, borrowed: the cells are written only for the rows returned.
#[derive(Clone, Copy)]
enum Of<'a> {
    Action(&'a Action),
    Retained(&'a Retained),
}

/// A target's cell, compared as its text without writing it.
enum Target<'a> {
    None,
    Count(usize),
    Tag(&'a str),
    Digest(&'a Digest),
}

impl Target<'_> {
    /// Targets start with nothing, a digit, `:` or a letter: text order puts these classes
    /// in that order, and within a class they compare as their text does.
    fn class(&self) -> u8 {
        match self {
            Target::None => 0,
            Target::Count(_) => 1,
            Target::Tag(_) => 2,
            Target::Digest(_) => 3,
        }
    }

    fn cmp(&self, other: &Target<'_>) -> Ordering {
        match (self, other) {
            (Target::Tag(a), Target::Tag(b)) => a.cmp(b),
            (Target::Digest(a), Target::Digest(b)) => {
                if a.algorithm() == "sha256" && b.algorithm() == "sha256" {
                    a.cmp(b) // the hex of the bytes sorts as the bytes do
                } else {
                    a.to_string().cmp(&b.to_string())
                }
            }
            (Target::Count(a), Target::Count(b)) => a.to_string().cmp(&b.to_string()),
            _ => self.class().cmp(&other.class()),
        }
    }

    fn text(&self) -> String {
        match self {
            Target::None => String::new(),
            Target::Count(n) => format!("{n} manifests"),
            Target::Tag(t) => format!(":{t}"),
            Target::Digest(d) => d.to_string(),
        }
    }
}

impl<'a> Of<'a> {
    fn repository(self) -> &'a str {
        match self {
            Of::Action(a) => a.repository.as_str(),
            Of::Retained(r) => r.repository.as_str(),
        }
    }

    fn code(self) -> ReasonCode {
        match self {
            Of::Action(a) => a.reason.code,
            Of::Retained(r) => r.reason.code,
        }
    }

    fn reason(self) -> &'a Arc<str> {
        match self {
            Of::Action(a) => &a.reason.message,
            Of::Retained(r) => &r.reason.message,
        }
    }

    fn target(self) -> Target<'a> {
        let (tag, digest) = match self {
            Of::Action(a) => (&a.tag, &a.digest),
            Of::Retained(r) => (&r.tag, &r.digest),
        };
        match (tag, digest, self) {
            (Some(t), _, _) => Target::Tag(t.as_str()),
            (None, Some(d), _) => Target::Digest(d),
            (None, None, Of::Action(a)) => Target::Count(a.manifests.len()),
            (None, None, Of::Retained(_)) => Target::None,
        }
    }

    fn tags(self) -> String {
        let tags = match self {
            Of::Action(a) => &a.tags,
            Of::Retained(r) => &r.tags,
        };
        let names: Vec<&str> = tags.iter().map(TagName::as_str).collect();
        names.join(", ")
    }
}

/// The plan's items that match `query`, sorted, one page of them. Text compares in code-point
/// order (deterministic, and what a byte comparison gives); `matching` ignores case as
/// Unicode lowercase does.
pub fn items(plan: &Plan, query: &ItemQuery) -> ItemPage {
    let mut names = Names::default();
    let kinds: Vec<Arc<str>> = plan
        .actions
        .iter()
        .map(|a| names.of(Key::Action(a.kind)).clone())
        .collect();
    let retained: Arc<str> = "retained".into();
    let all = plan
        .actions
        .iter()
        .zip(&kinds)
        .map(|(a, k)| (Of::Action(a), k))
        .chain(plan.retained.iter().map(|r| (Of::Retained(r), &retained)));
    let needle = query.matching.to_lowercase();
    let mut chosen: Vec<(Of<'_>, &Arc<str>)> = if needle.is_empty() {
        all.collect()
    } else {
        all.filter(|(of, kind)| {
            [
                kind.as_ref(),
                of.repository(),
                &of.target().text(),
                &of.tags(),
                of.reason(),
                names.of(Key::Reason(of.code())),
            ]
            .iter()
            .any(|cell| contains_ignoring_case(cell, &needle))
        })
        .collect()
    };
    let total = chosen.len();
    // Items keep their plan order on ties (a stable sort).
    let order = |a: &(Of<'_>, &Arc<str>), b: &(Of<'_>, &Arc<str>)| {
        let by_key = match query.sort {
            SortKey::Repository => Ordering::Equal,
            SortKey::Kind => a.1.cmp(b.1),
            SortKey::Reason => a.0.reason().cmp(b.0.reason()),
        };
        by_key
            .then_with(|| a.0.repository().cmp(b.0.repository()))
            .then_with(|| a.0.target().cmp(&b.0.target()))
    };
    let end = query.offset.saturating_add(query.limit).min(total);
    if end < total && end > 0 {
        // Only the first `end` need sorting: partition them off first (plan order breaks
        // ties, so the partition picks what a full stable sort would).
        let mut indexed: Vec<(usize, (Of<'_>, &Arc<str>))> =
            chosen.into_iter().enumerate().collect();
        let full = |a: &(usize, (Of<'_>, &Arc<str>)), b: &(usize, (Of<'_>, &Arc<str>))| {
            order(&a.1, &b.1).then(a.0.cmp(&b.0))
        };
        indexed.select_nth_unstable_by(end - 1, full);
        indexed.truncate(end);
        indexed.sort_unstable_by(full);
        chosen = indexed.into_iter().map(|(_, x)| x).collect();
    } else {
        chosen.sort_by(order);
    }
    let items = chosen
        .into_iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|(of, kind)| Item {
            kind: kind.clone(),
            repository: of.repository().to_owned(),
            target: of.target().text(),
            tags: of.tags(),
            reason: of.reason().clone(),
            code: names.of(Key::Reason(of.code())).clone(),
        })
        .collect();
    ItemPage { total, items }
}

/// `needle` (already lowercase) in `hay`, ignoring case.
fn contains_ignoring_case(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() && needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        return n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    hay.to_lowercase().contains(needle)
}

/// A warning for a summary: its first items and how many there are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WarningSummary<'a> {
    /// Its kind.
    pub code: WarningCode,
    /// Its sentence.
    pub message: &'a str,
    /// Its first five items.
    pub items: &'a [String],
    /// How many items it names in all.
    pub item_count: usize,
}

/// What a preview shows above the items: the totals, per repository, and the warnings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary<'a> {
    /// Steps in the plan.
    pub actions: usize,
    /// Retained items.
    pub retained: usize,
    /// Manifests deleted.
    pub manifests: u64,
    /// Tags removed.
    pub tags: u64,
    /// Bytes given back.
    pub total_bytes: u64,
    /// Whether `total_bytes` is exact.
    pub exact: bool,
    /// Why it is not, when it is not.
    pub inexact_reasons: &'a [String],
    /// Per repository.
    pub by_repository: &'a [RepositoryReclaim],
    /// The plan's warnings.
    pub warnings: Vec<WarningSummary<'a>>,
}

/// The totals of `plan`, its reclaim per repository and its warnings (each with its first
/// five items): a few kilobytes, whatever the plan's size.
pub fn summary(plan: &Plan) -> Summary<'_> {
    let r = &plan.reclaim;
    Summary {
        actions: plan.actions.len(),
        retained: plan.retained.len(),
        manifests: r.manifests,
        tags: r.tags,
        total_bytes: r.total_bytes,
        exact: r.exact,
        inexact_reasons: &r.inexact_reasons,
        by_repository: &r.by_repository,
        warnings: plan
            .warnings
            .iter()
            .map(|w: &Warning| WarningSummary {
                code: w.code,
                message: &w.message,
                items: &w.items[..w.items.len().min(5)],
                item_count: w.items.len(),
            })
            .collect(),
    }
}
