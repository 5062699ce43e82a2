//! `purge`: regprune's own purge, with the vocabulary of `acr purge` and safe semantics.
//!
//! - Filters match whole names: `^(?:repo)$` and `^(?:tag)$`.
//! - Age is a strict duration (`30d`, `1w2d`, `P30D`) or an absolute `before`, on a chosen
//!   timestamp of the *image* (manifest). Nothing whose timestamp is missing is deleted.
//! - `keep` spares the N most recent images (manifests) per repository among those the
//!   filters select, whatever their age; ties go to the smaller digest.
//! - An old selected image whose tags all match is deleted with its tags; one that also has
//!   tags the filters do not select only loses the matching tags.
//! - `untagged` also deletes untagged manifests older than the cut-off in the selected
//!   repositories (`keep` does not apply to them), with every graph rule of the core.

use crate::duration::parse_strict;
use crate::error::{Error, Result};
use crate::graph::{Graph, Mid};
use crate::pattern::{split_filter, Pattern};
use crate::plan::{ReasonCode, Retained};
use crate::selection::{reason, time_of, Request, Selection};
use crate::time::TimeField;
use crate::time::Timestamp;

/// The fields of a `purge` operation.
pub(crate) struct PurgeArgs<'a> {
    pub filter: &'a [String],
    pub ago: Option<&'a str>,
    pub before: Option<Timestamp>,
    pub timestamp: TimeField,
    pub keep: u32,
    pub untagged: bool,
}

/// The cut-off of `ago` or `before` (exactly one must be given).
pub(crate) fn cutoff(
    ago: Option<&str>,
    before: Option<Timestamp>,
    now: Timestamp,
    path: &str,
) -> Result<Timestamp> {
    match (ago, before) {
        (Some(a), None) => Ok(now.minus_seconds(parse_strict(&format!("{path}.ago"), a)?)),
        (None, Some(b)) => Ok(b),
        _ => Err(Error::InvalidOperation {
            path: path.to_owned(),
            message: "give exactly one of ago (a duration like 30d) and before (a time)".into(),
        }),
    }
}

pub(crate) fn select(
    g: &Graph<'_>,
    args: &PurgeArgs<'_>,
    now: Timestamp,
    path: &str,
) -> Result<Selection> {
    let cutoff = cutoff(args.ago, args.before, now, path)?;
    if args.filter.is_empty() && !args.untagged {
        return Err(Error::InvalidOperation {
            path: format!("{path}.filter"),
            message: "give at least one filter (repository:tag), or untagged: true".into(),
        });
    }
    let mut filters = Vec::new();
    for (i, f) in args.filter.iter().enumerate() {
        let at = format!("{path}.filter[{i}]");
        let (repo, tag) = split_filter(f).map_err(|m| Error::InvalidOperation {
            path: at.clone(),
            message: format!("{m}: {f:?} (expected repository:tag)"),
        })?;
        filters.push((Pattern::full(&at, &repo)?, Pattern::full(&at, &tag)?));
    }
    let (mut s, _) = crate::selection::by_repository(g, |repos, s| {
        for ri in repos {
            let repo = &g.snapshot.repositories[ri as usize];
            let mut tag_patterns = Vec::new();
            for (rp, tp) in &filters {
                if rp.is_match(repo.name.as_str())? {
                    tag_patterns.push(tp);
                }
            }
            if !tag_patterns.is_empty() {
                images(g, ri, &tag_patterns, args, cutoff, s)?;
            }
            if args.untagged && (!tag_patterns.is_empty() || filters.is_empty()) {
                untagged(g, ri, args.timestamp, cutoff, s);
            }
        }
        Ok(())
    })?;
    s.order_by = args.timestamp;
    Ok(s)
}

/// The images of repository `ri` that a tag pattern selects: `keep` spares the most recent,
/// old ones go (whole, or only their matching tags when they carry others).
fn images(
    g: &Graph<'_>,
    ri: u32,
    tag_patterns: &[&Pattern],
    args: &PurgeArgs<'_>,
    cutoff: Timestamp,
    s: &mut Selection,
) -> Result<()> {
    let repo = &g.snapshot.repositories[ri as usize];
    let field = args.timestamp.name();
    let mut images: Vec<(Mid, Vec<u32>)> = Vec::new();
    for id in g.manifests_of(ri) {
        let mut matching = Vec::new();
        for &t in g.tags.of(id) {
            let name = repo.tags[t as usize].name.as_str();
            for tp in tag_patterns {
                if tp.is_match(name)? {
                    matching.push(t);
                    break;
                }
            }
        }
        if !matching.is_empty() {
            images.push((id, matching));
        }
    }
    images.sort_by(|(x, _), (y, _)| {
        let (tx, ty) = (
            time_of(g, *x, args.timestamp),
            time_of(g, *y, args.timestamp),
        );
        (ty.is_some(), ty)
            .cmp(&(tx.is_some(), tx))
            .then_with(|| g.manifest(*x).digest.cmp(&g.manifest(*y).digest))
    });
    for (rank, (id, matching)) in images.into_iter().enumerate() {
        let retain = |code, message: String| Retained {
            repository: repo.name.clone(),
            digest: Some(g.manifest(id).digest.clone()),
            tag: None,
            tags: g.tags_of(id).map(|t| t.name.clone()).collect(),
            reason: reason(code, message),
        };
        if rank < args.keep as usize {
            s.retained.push(retain(
                ReasonCode::Keep,
                format!(
                    "one of the {} most recent selected images of the repository that keep spares",
                    args.keep
                ),
            ));
            continue;
        }
        let Some(t) = time_of(g, id, args.timestamp) else {
            s.retained.push(retain(
                ReasonCode::MissingTimestamp,
                format!("it has no {field}, so its age is unknown"),
            ));
            continue;
        };
        if t >= cutoff {
            continue;
        }
        let names: Vec<&str> = matching
            .iter()
            .map(|&i| repo.tags[i as usize].name.as_str())
            .collect();
        let why = format!(
            "its tags {} match the filter, and its {field} {t} is before {cutoff}",
            names.join(", ")
        );
        if matching.len() == g.tags.of(id).len() {
            s.requests.push(Request {
                id,
                reason: reason(ReasonCode::PurgeMatched, why),
                named: false,
            });
            continue;
        }
        for ti in matching {
            s.untags
                .push((id, ti, reason(ReasonCode::PurgeMatched, why.clone())));
        }
        let others: Vec<&str> = g
            .tags_of(id)
            .map(|t| t.name.as_str())
            .filter(|n| !names.contains(n))
            .collect();
        s.retained.push(retain(
            ReasonCode::Tagged,
            format!("it also has tags the filter does not select ({}); only the matching tags are removed", others.join(", ")),
        ));
    }
    Ok(())
}

/// Untagged manifests of repository `ri` older than the cut-off.
fn untagged(g: &Graph<'_>, ri: u32, timestamp: TimeField, cutoff: Timestamp, s: &mut Selection) {
    let field = timestamp.name();
    for id in g.manifests_of(ri).filter(|&id| !g.is_tagged(id)) {
        match time_of(g, id, timestamp) {
            Some(t) if t < cutoff => s.requests.push(Request {
                id,
                reason: reason(
                    ReasonCode::Untagged,
                    format!("the manifest has no tags and its {field} {t} is before {cutoff}"),
                ),
                named: false,
            }),
            Some(_) => {}
            None => s.retained.push(Retained {
                repository: g.repository(id).name.clone(),
                digest: Some(g.manifest(id).digest.clone()),
                tag: None,
                tags: Vec::new(),
                reason: reason(
                    ReasonCode::MissingTimestamp,
                    format!("it has no {field}, so its age is unknown"),
                ),
            }),
        }
    }
}
