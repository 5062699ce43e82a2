//! `acrPurge`: the plan `acr purge` would carry out, rule for rule (Azure/acr-cli,
//! `cmd/acr/purge.go` and `cmd/repository/image_functions.go`), with warnings where its
//! behaviour is risky. Where acr-cli would break an image (§5.1, §5.2 of the semantics
//! note), regprune's graph rules keep it and the plan says what acr would have done.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::acr_command::AcrPurgeArgs;
use crate::duration::{acr_ago, describe, parse_strict};
use crate::error::{Error, Result};
use crate::graph::{Graph, Mid};
use crate::hash::{self, Map, Set};
use crate::media_type::MediaType;
use crate::pattern::{split_filter, Pattern};
use crate::plan::{ReasonCode, Retained, Warning, WarningCode};
use crate::selection::{reason, Request, Selection};
use crate::snapshot::lock_of;
use crate::time::Timestamp;
use std::collections::hash_map::Entry;

/// A filter after splitting: acr's repository regex `^re$`, the grouped `^(?:re)$` that was
/// probably meant, and the tag regex.
struct Filter {
    text: String,
    repo_acr: Pattern,
    repo_safe: Pattern,
    tag: String,
    /// The tag regex anchored whole; `None` with `--untagged-only`, where acr never compiles
    /// the tag part (an invalid one is not an error there).
    tag_full: Option<Pattern>,
}

/// How much later than the plan's `now` acr may read its clock and still be described by the
/// plan: items less than this younger than the cut-off are named (kind M).
const CLOCK_SLACK_NANOS: i128 = 3_600 * 1_000_000_000;

/// The tags ACR returns per page of `_tags` (acr asks with the server's default).
const ACR_TAG_PAGE: usize = 100;

/// Items whose fate under acr depends on what a snapshot cannot know (kinds F, G, H, M).
#[derive(Default)]
struct Uncertain {
    /// Tags tied in time at the `--keep` boundary: the server's order decides (F).
    keep_ties: Vec<String>,
    /// Repositories whose tag listing spans pages while acr deletes tags (G).
    cursors: Vec<String>,
    /// Manifests the tag phase leaves untagged that the manifest phase then deletes (H).
    untag_bumps: Vec<String>,
    /// Items just younger than the cut-off (M).
    near_cutoff: Vec<String>,
}

impl Uncertain {
    fn warnings(self, cutoff: Timestamp) -> impl Iterator<Item = Warning> {
        let w = |mut items: Vec<String>, message: String| {
            items.sort();
            (!items.is_empty()).then_some(Warning {
                code: WarningCode::AcrResultUncertain,
                message,
                items,
            })
        };
        [
            w(self.keep_ties, "these tags tie in time at the --keep boundary: which of them acr keeps depends on the order ACR lists equal times in (acr does not sort tags itself), so the plan's choice (by name) may differ".into()),
            w(self.cursors, format!("these repositories list more than {ACR_TAG_PAGE} tags: acr reads them a page at a time and deletes as it goes, continuing after the last tag of the previous page, which it may just have deleted; the plan assumes ACR still resolves that cursor (if it did not, acr would stop listing early and delete fewer tags)")),
            w(self.untag_bumps, "acr deletes these manifests in its untagged phase only if deleting a tag leaves a manifest's lastUpdateTime alone: its tag phase removed their last tag (or that of an index listing them, or of a manifest --keep would spare in their place); if the registry updates lastUpdateTime when a tag is deleted, acr keeps them".into()),
            w(self.near_cutoff, format!("these items are less than an hour younger than the cut-off {cutoff}: acr reads its clock as it reaches each repository, so run later than this plan's time it may delete them too")),
        ]
        .into_iter()
        .flatten()
    }
}

fn filters(args: &AcrPurgeArgs, path: &str) -> Result<Vec<Filter>> {
    let mut out = Vec::new();
    for (i, f) in args.filters.iter().enumerate() {
        let at = format!("{path}.filter[{i}]");
        let (repo, tag) = split_filter(f).map_err(|m| Error::InvalidPurgeCommand {
            path: at.clone(),
            message: format!("{m}: {f:?}"),
        })?;
        // acr compiles a tag regex only when it purges a repository the filter selects, joined
        // with the other filters' (kind K, in `select`); with --untagged-only never (kind J).
        // This whole-tag form only tells which deletions an unanchored pattern adds.
        let tag_full = if args.untagged_only {
            None
        } else {
            Pattern::full(&at, &tag).ok()
        };
        out.push(Filter {
            text: f.clone(),
            repo_acr: Pattern::new(&at, &repo, &format!("^{repo}$"))?,
            repo_safe: Pattern::full(&at, &repo)?,
            tag_full,
            tag,
        });
    }
    Ok(out)
}

/// Checks the flag combinations in the order acr (cobra, then `RunE`) checks them.
fn validate(args: &AcrPurgeArgs, path: &str) -> Result<()> {
    let bad = |m: &str| {
        Err(Error::InvalidPurgeCommand {
            path: path.to_owned(),
            message: m.to_owned(),
        })
    };
    if args.filters.is_empty() && !args.untagged_only {
        return bad("at least one of the flags in the group [filter untagged-only] is required");
    }
    if args.untagged && args.untagged_only {
        return bad("if any flags in the group [untagged untagged-only] are set none of the others can be; [untagged untagged-only] were all set");
    }
    if args.ago.is_none() && !args.untagged_only {
        return bad("--ago is required when not using --untagged-only");
    }
    Ok(())
}

/// The selection of an `acr purge` run.
pub(crate) fn select(
    g: &Graph<'_>,
    args: &AcrPurgeArgs,
    now: Timestamp,
    path: &str,
) -> Result<Selection> {
    validate(args, path)?;
    let filters = filters(args, path)?;
    let ago = args.ago.as_deref().unwrap_or("0");
    let read = acr_ago(ago).map_err(|message| Error::InvalidDuration {
        path: format!("{path}.ago"),
        value: ago.to_owned(),
        message,
    })?;
    let cutoff = now.minus_nanos(read.nanos);
    let mut s = Selection::new();
    s.cascade_children = false;
    s.unlock = args.include_locked;
    s.acr = true;
    if args.ago.is_some() {
        s.warnings.extend(ago_warning(ago, read.nanos, read.capped));
    }

    // Repositories, by name (acr sorts them since #577), with their merged tag regexes.
    let repos = &g.snapshot.repositories;
    let mut order: Vec<u32> = (0..repos.len() as u32).collect();
    order.sort_by(|&a, &b| repos[a as usize].name.cmp(&repos[b as usize].name));
    let mut selected: Vec<(u32, Vec<&Filter>)> = Vec::new();
    let mut widened = Vec::new();
    for ri in order {
        let name = repos[ri as usize].name.as_str();
        let mut hit = Vec::new();
        for f in &filters {
            if f.repo_acr.is_match(name)? {
                if !f.repo_safe.is_match(name)? {
                    widened.push(format!("{name} (by {:?})", f.text));
                }
                hit.push(f);
            }
        }
        if !hit.is_empty() || (filters.is_empty() && args.untagged_only) {
            selected.push((ri, hit));
        }
    }
    if !widened.is_empty() {
        s.warnings.push(Warning {
            code: WarningCode::RepositoryFilterWidened,
            message: "acr anchors the repository part as ^re$ without a group, so an alternation like app|web becomes ^app|web$ and also matches names that only start or end with a branch; write the repository part as (?:app|web) to match whole names".into(),
            items: widened,
        });
    }

    let mut unanchored = Vec::new();
    let mut uncertain = Uncertain::default();
    // Several filters on one repository: acr joins their tag regexes with `|`. Repositories
    // hit by the same filters share one compiled pattern.
    let mut compiled: Map<String, Pattern> = hash::map(0);
    for (n, (ri, hit)) in selected.iter().enumerate() {
        let mut untagged_here: Set<(Mid, u32)> = hash::set(0);
        if !args.untagged_only && !hit.is_empty() {
            let joined = hit
                .iter()
                .map(|f| f.tag.as_str())
                .collect::<Vec<_>>()
                .join("|");
            let regex = match compiled.entry(joined) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    match Pattern::new(&format!("{path}.filter"), e.key(), e.key()) {
                        Ok(p) => e.insert(p),
                        // acr purges repositories in name order and compiles each one's tag
                        // regex in its turn: it fails here after purging the ones before
                        // (kind K). Failing on the first, it deletes nothing: an error.
                        Err(err) if n > 0 => {
                            s.warnings.push(stops_at(g, &selected[n..], e.key(), &err));
                            break;
                        }
                        Err(err) => return Err(err),
                    }
                }
            };
            tag_phase(
                g,
                *ri,
                hit,
                args,
                cutoff,
                regex,
                &mut s,
                &mut untagged_here,
                &mut unanchored,
                &mut uncertain,
            )?;
        }
        if args.untagged || args.untagged_only {
            manifest_phase(g, *ri, args, cutoff, &untagged_here, &mut s, &mut uncertain);
        }
    }
    if !unanchored.is_empty() {
        s.warnings.push(Warning {
            code: WarningCode::TagPatternUnanchored,
            message: "acr searches the tag pattern anywhere in the tag (v1 also matches v10 and av1.2); these tags go only because of that: anchor the pattern (^v1$) to match whole tags".into(),
            items: unanchored,
        });
    }
    s.warnings.extend(uncertain.warnings(cutoff));
    Ok(s)
}

/// The tag phase: matching, old enough, unlocked tags, newest first, the first `keep` spared.
#[allow(clippy::too_many_arguments)]
fn tag_phase(
    g: &Graph<'_>,
    ri: u32,
    hit: &[&Filter],
    args: &AcrPurgeArgs,
    cutoff: Timestamp,
    regex: &Pattern,
    s: &mut Selection,
    untagged_here: &mut Set<(Mid, u32)>,
    unanchored: &mut Vec<String>,
    uncertain: &mut Uncertain,
) -> Result<()> {
    let repo = &g.snapshot.repositories[ri as usize];
    // Each untag's sentence differs only in the tag's time: the rest is written once.
    let (before, after) = (
        format!("the tag matches {:?} and was last updated ", regex.source()),
        format!(", before the cut-off {cutoff}"),
    );
    let mut scratch = String::new();
    let (tags, target) = matching_tags(g, ri, regex);
    let mut kept = 0i64;
    let late = cutoff.minus_nanos(-CLOCK_SLACK_NANOS);
    // The eligible tags' times, in acr's order, for ties at the --keep boundary.
    let mut eligible: Vec<(Timestamp, u32)> = Vec::new();
    let untags_before = s.untags.len();
    for (ti, matched) in tags {
        matched?;
        let tag = &repo.tags[ti as usize];
        let Some(id) = target[ti as usize] else {
            continue;
        };
        let retain = |code, message: String| Retained {
            repository: repo.name.clone(),
            digest: Some(tag.digest.clone()),
            tag: Some(tag.name.clone()),
            tags: Vec::new(),
            reason: reason(code, message),
        };
        if let Some(l) =
            lock_of(tag.changeable_attributes.as_ref()).filter(|_| !args.include_locked)
        {
            s.retained.push(retain(
                ReasonCode::Locked,
                format!("the tag is locked ({l}); acr skips it silently and it does not count toward --keep"),
            ));
            continue;
        }
        let Some(t) = tag.last_update_time else {
            s.retained.push(retain(
                ReasonCode::MissingTimestamp,
                "the tag has no lastUpdateTime".into(),
            ));
            s.warnings.push(Warning {
                code: WarningCode::AcrWouldFail,
                message: "acr purge stops with an error on a matching tag whose lastUpdateTime it cannot read, and skips every repository after it".into(),
                items: vec![format!("{}:{}", repo.name, tag.name)],
            });
            continue;
        };
        if t >= cutoff {
            if t <= late {
                uncertain
                    .near_cutoff
                    .push(format!("{}:{}", repo.name, tag.name));
            }
            continue;
        }
        eligible.push((t, ti));
        if kept < args.keep {
            kept += 1;
            s.retained.push(retain(
                ReasonCode::Keep,
                format!(
                    "one of the {} most recent matching tags that --keep spares",
                    args.keep
                ),
            ));
            continue;
        }
        let full = hit.iter().any(|f| {
            f.tag_full
                .as_ref()
                .is_some_and(|p| p.is_match(tag.name.as_str()).unwrap_or(false))
        });
        if !full {
            unanchored.push(format!("{}:{}", repo.name, tag.name));
        }
        untagged_here.insert((id, ti));
        s.untags.push((
            id,
            ti,
            reason(
                ReasonCode::PurgeMatched,
                sentence(&mut scratch, &before, Some(t), &after),
            ),
        ));
    }
    tag_phase_uncertain(
        g,
        ri,
        args,
        &eligible,
        s.untags.len() > untags_before,
        uncertain,
    );
    Ok(())
}

/// The tags of repository `ri` that `regex` matches (and any it fails on, reported in their
/// turn), in the server's `orderby=timedesc` (ties, and missing times last, by tag name), with
/// each tag's manifest from the graph's manifest -> tags edges (one pass over the repository
/// instead of a digest search per tag). Only the matches are sorted: a narrow filter on a
/// large repository sorts little.
#[allow(clippy::type_complexity)]
fn matching_tags(
    g: &Graph<'_>,
    ri: u32,
    regex: &Pattern,
) -> (Vec<(u32, Result<()>)>, Vec<Option<Mid>>) {
    let repo = &g.snapshot.repositories[ri as usize];
    let mut tags: Vec<(u32, Result<()>)> = Vec::new();
    for (ti, tag) in repo.tags.iter().enumerate() {
        match regex.is_match(tag.name.as_str()) {
            Ok(false) => {}
            Ok(true) => tags.push((ti as u32, Ok(()))),
            Err(e) => tags.push((ti as u32, Err(e))),
        }
    }
    tags.sort_by(|(a, _), (b, _)| {
        let (ta, tb) = (&repo.tags[*a as usize], &repo.tags[*b as usize]);
        (tb.last_update_time.is_some(), tb.last_update_time, &ta.name)
            .cmp(&(ta.last_update_time.is_some(), ta.last_update_time, &tb.name))
            .then_with(|| ta.name.cmp(&tb.name))
    });
    let mut target: Vec<Option<Mid>> = vec![None; repo.tags.len()];
    for id in g.manifests_of(ri) {
        for &t in g.tags.of(id) {
            target[t as usize] = Some(id);
        }
    }
    (tags, target)
}

/// The deletions of a manifest phase that hold only if deleting a tag leaves a manifest's
/// `lastUpdateTime` alone (kind H). A candidate that still had tags before the tag phase would,
/// with a bumped time, be protected instead: it stays, an index protects its descendants, and
/// with `--keep` each such manifest frees a slot for the next candidate in line.
fn untag_bumps(
    g: &Graph<'_>,
    ri: u32,
    candidates: &[Mid],
    spared: usize,
    keep: bool,
    uncertain: &mut Uncertain,
) {
    let bumped: Vec<Mid> = candidates
        .iter()
        .copied()
        .filter(|&c| !g.tags.of(c).is_empty())
        .collect();
    if bumped.is_empty() {
        return;
    }
    let deleted: Set<Mid> = candidates[spared..].iter().copied().collect();
    let mut named: BTreeSet<Mid> = bumped
        .iter()
        .copied()
        .filter(|c| deleted.contains(c))
        .collect();
    if keep {
        named.extend(candidates.iter().skip(spared).take(bumped.len()));
    }
    let mut below: Set<Mid> = hash::set(0);
    for &b in &bumped {
        ignore_descendants(g, b, &mut below);
    }
    named.extend(below.into_iter().filter(|d| deleted.contains(d)));
    let repo = &g.snapshot.repositories[ri as usize];
    uncertain.untag_bumps.extend(
        named
            .into_iter()
            .map(|id| format!("{}@{}", repo.name, g.manifest(id).digest)),
    );
}

/// What of a repository's tag phase depends on the server: a tie in time at the `--keep`
/// boundary among the `eligible` tags (in acr's order), and a listing over several pages
/// while acr deletes tags.
fn tag_phase_uncertain(
    g: &Graph<'_>,
    ri: u32,
    args: &AcrPurgeArgs,
    eligible: &[(Timestamp, u32)],
    untags: bool,
    uncertain: &mut Uncertain,
) {
    let repo = &g.snapshot.repositories[ri as usize];
    let keep = usize::try_from(args.keep.max(0)).unwrap_or(usize::MAX);
    if keep > 0 && eligible.len() > keep && eligible[keep - 1].0 == eligible[keep].0 {
        let tie = eligible[keep].0;
        uncertain.keep_ties.extend(
            eligible
                .iter()
                .filter(|(t, _)| *t == tie)
                .map(|(_, ti)| format!("{}:{}", repo.name, repo.tags[*ti as usize].name)),
        );
    }
    if repo.tags.len() > ACR_TAG_PAGE && untags {
        uncertain.cursors.push(repo.name.to_string());
    }
}

/// The manifest phase (`--untagged`, `--untagged-only`): `GetUntaggedManifests`, then keep.
fn manifest_phase(
    g: &Graph<'_>,
    ri: u32,
    args: &AcrPurgeArgs,
    cutoff: Timestamp,
    untagged_here: &Set<(Mid, u32)>,
    s: &mut Selection,
    uncertain: &mut Uncertain,
) {
    let repo = &g.snapshot.repositories[ri as usize];
    let late = cutoff.minus_nanos(-CLOCK_SLACK_NANOS);
    let mut ignore: Set<Mid> = hash::set(0);
    let mut candidates: Vec<Mid> = Vec::new();
    for id in g.manifests_of(ri) {
        let m = g.manifest(id);
        // acr checks the lock first and skips the manifest entirely: a locked index does not
        // protect its children there (the graph rules do, with a warning).
        if lock_of(m.changeable_attributes.as_ref()).is_some() && !args.include_locked {
            continue;
        }
        let tags_left = g
            .tags
            .of(id)
            .iter()
            .filter(|&&t| !untagged_here.contains(&(id, t)))
            .count();
        let protected = tags_left > 0 || m.last_update_time.is_none_or(|t| t > cutoff);
        if protected {
            if tags_left == 0 && m.last_update_time.is_some_and(|t| t <= late) {
                uncertain
                    .near_cutoff
                    .push(format!("{}@{}", repo.name, m.digest));
            }
            if m.media_type.as_ref().is_none_or(MediaType::is_index) {
                ignore_descendants(g, id, &mut ignore);
            }
            continue;
        }
        // acr reads the children of an OCI referrer index from its bytes: with none, the
        // index lands on the ignore list like any referrer (kinds C, L).
        let childless = m.manifests.as_deref().is_none_or(<[_]>::is_empty);
        let skip = match &m.media_type {
            None => Some("it has no media type, and acr purge skips such manifests".to_owned()),
            Some(MediaType::OciManifest | MediaType::OciArtifactManifest)
                if m.subject.is_some() =>
            {
                Some(
                    "it is a referrer (it has a subject), and acr purge never deletes referrers"
                        .to_owned(),
                )
            }
            Some(MediaType::OciIndex) if m.subject.is_some() && childless => Some(
                "it is a referrer index (it has a subject) with no children, and acr purge never deletes such referrers"
                    .to_owned(),
            ),
            _ => None,
        };
        // A referrer index's descendants go on acr's ignore list, but an index with children
        // stays a candidate itself (acr-cli bug §5.2, kind B; the graph rules keep it while its
        // subject stays).
        if m.subject.is_some() && matches!(m.media_type, Some(MediaType::OciIndex)) {
            ignore_descendants(g, id, &mut ignore);
        }
        if let Some(why) = skip {
            s.retained.push(Retained {
                repository: repo.name.clone(),
                digest: Some(m.digest.clone()),
                tag: None,
                tags: Vec::new(),
                reason: reason(ReasonCode::AcrSkips, why),
            });
            continue;
        }
        candidates.push(id);
    }
    candidates.retain(|c| !ignore.contains(c));
    apply_keep(g, ri, candidates, args, cutoff, s, uncertain);
}

/// The warning of a run that acr ends with an error at the first of `rest`.
fn stops_at(g: &Graph<'_>, rest: &[(u32, Vec<&Filter>)], regex: &str, err: &Error) -> Warning {
    let name = |ri: u32| g.snapshot.repositories[ri as usize].name.to_string();
    let stopped = name(rest[0].0);
    let after = match rest.len() - 1 {
        0 => String::new(),
        1 => " or the repository after it".to_owned(),
        n => format!(" or the {n} repositories after it"),
    };
    Warning {
        code: WarningCode::AcrWouldFail,
        message: format!(
            "acr purge stops with an error (exit 1) at repository {stopped}: its tag regex {regex:?} does not compile ({err}); by then it has purged the repositories before it, as this plan shows, and it does not purge {stopped}{after}"
        ),
        items: rest.iter().map(|(ri, _)| name(*ri)).collect(),
    }
}

/// Puts every descendant of `id` (children, and theirs through nested indexes) on acr's
/// ignore list, as `addDependentManifestsToIgnoreList` does.
fn ignore_descendants(g: &Graph<'_>, id: Mid, ignore: &mut Set<Mid>) {
    let mut stack = vec![id];
    while let Some(p) = stack.pop() {
        for &c in g.children.of(p) {
            if ignore.insert(c) {
                stack.push(c);
            }
        }
    }
}

/// `--keep` on the untagged candidates of one repository: when there are more than `keep`,
/// the newest `keep` stay (missing times last, ties by digest, as acr's `sortManifestsByTime`
/// breaks them: no server order is involved); the rest go.
fn apply_keep(
    g: &Graph<'_>,
    ri: u32,
    mut candidates: Vec<Mid>,
    args: &AcrPurgeArgs,
    cutoff: Timestamp,
    s: &mut Selection,
    uncertain: &mut Uncertain,
) {
    let repo = &g.snapshot.repositories[ri as usize];
    let keep = usize::try_from(args.keep.max(0)).unwrap_or(usize::MAX);
    candidates.sort_by(|&a, &b| {
        let (ma, mb) = (g.manifest(a), g.manifest(b));
        (mb.last_update_time.is_some(), mb.last_update_time)
            .cmp(&(ma.last_update_time.is_some(), ma.last_update_time))
            .then_with(|| ma.digest.cmp(&mb.digest))
    });
    let spared = candidates.len().min(keep);
    untag_bumps(g, ri, &candidates, spared, args.keep > 0, uncertain);
    let mut compounded = Vec::new();
    let before = "the manifest has no tags (after the tag phase) and was last updated ";
    let after = format!(", at or before the cut-off {cutoff}");
    let mut scratch = String::new();
    for (i, id) in candidates.into_iter().enumerate() {
        let m = g.manifest(id);
        if i < spared {
            s.retained.push(Retained {
                repository: repo.name.clone(),
                digest: Some(m.digest.clone()),
                tag: None,
                tags: Vec::new(),
                reason: reason(
                    ReasonCode::Keep,
                    format!(
                        "one of the {} most recent untagged manifests that --keep spares",
                        args.keep
                    ),
                ),
            });
            compounded.push(format!("{}@{}", repo.name, m.digest));
            continue;
        }
        s.requests.push(Request {
            id,
            reason: reason(
                ReasonCode::Untagged,
                sentence(&mut scratch, before, m.last_update_time, &after),
            ),
            // acr checks a subject only on OCI media types (those were skipped above): an
            // untagged Docker manifest with a subject is deleted like any other, and deleting
            // a referrer breaks no image (measured against the real acr: kind A).
            named: m.subject.is_some() && !m.is_index(),
        });
    }
    if args.untagged && !compounded.is_empty() {
        s.warnings.push(Warning {
            code: WarningCode::KeepCompounding,
            message: format!(
                "with --untagged, acr applies --keep {} twice: to tags, then again to untagged manifests, so these untagged manifests stay too (Azure/acr-cli#644); run a separate --untagged-only purge to control them",
                args.keep
            ),
            items: compounded,
        });
    }
}

/// How acr reads `--ago`, when that differs from what the value seems to say.
fn ago_warning(ago: &str, nanos: i128, capped: bool) -> Option<Warning> {
    let strict = parse_strict("ago", ago)
        .ok()
        .map(|secs| i128::from(secs) * 1_000_000_000);
    let message = if capped {
        format!("acr caps --ago {ago:?} to 150 years (it reads values it cannot parse, like 7days, as the cap), so only tags older than 150 years qualify")
    } else if nanos < 0 {
        format!("--ago {ago:?} is negative: the cut-off is {} in the future, so every matching tag qualifies, whatever its age", describe(-nanos))
    } else if strict == Some(nanos) {
        return None;
    } else {
        format!(
            "acr reads --ago {ago:?} as {}; write durations as <days>d<hours>h<minutes>m (3d2h), largest unit first",
            describe(nanos)
        )
    };
    Some(Warning {
        code: WarningCode::AgoMisread,
        message,
        items: vec![ago.to_owned()],
    })
}

/// Where the graph rules kept what acr would have deleted: the two acr-cli bugs.
pub(crate) fn overruled(
    g: &Graph<'_>,
    held: &[(Mid, crate::plan::Reason)],
    requested: &Set<Mid>,
) -> Vec<Warning> {
    let mut locked_children: BTreeSet<String> = BTreeSet::new();
    let mut kept_children: BTreeSet<String> = BTreeSet::new();
    let mut referrer_indexes = Vec::new();
    for (id, why) in held {
        if !requested.contains(id) {
            continue;
        }
        let name = format!("{}@{}", g.repository(*id).name, g.manifest(*id).digest);
        // A grandchild through a nested index is as exposed as a child (kind D).
        let locked_parent = locked_ancestor(g, *id);
        if why.code == ReasonCode::ChildOfSurvivingIndex && locked_parent {
            locked_children.insert(name);
        } else if why.code == ReasonCode::ChildOfSurvivingIndex {
            // acr chose this child before `--keep` spared its index (kind E).
            kept_children.insert(name);
        } else if why.code == ReasonCode::ReferrerOfSurvivingSubject && g.manifest(*id).is_index() {
            referrer_indexes.push(name);
        }
    }
    let mut out = Vec::new();
    if !locked_children.is_empty() {
        out.push(Warning {
            code: WarningCode::AcrDeletesLockedIndexChildren,
            message: "acr purge would also delete these children of a locked index, grandchildren through nested indexes included (it skips a locked manifest before protecting its children), breaking the index; regprune keeps them".into(),
            items: locked_children.into_iter().collect(),
        });
    }
    if !kept_children.is_empty() {
        out.push(Warning {
            code: WarningCode::AcrDeletesKeptIndexChildren,
            message: "acr purge would also delete these children of an index it keeps (--keep spares the index after its children were chosen), breaking the index; regprune keeps them".into(),
            items: kept_children.into_iter().collect(),
        });
    }
    if !referrer_indexes.is_empty() {
        out.push(Warning {
            code: WarningCode::AcrDeletesReferrerIndex,
            message: "acr purge would also delete these referrer indexes (an index with a subject) while keeping their children; regprune keeps them while their subject stays".into(),
            items: referrer_indexes,
        });
    }
    out
}

/// Whether an index above `id` (its parents, theirs, and so on) is locked.
fn locked_ancestor(g: &Graph<'_>, id: Mid) -> bool {
    let mut seen: Set<Mid> = hash::set(0);
    let mut stack = vec![id];
    while let Some(c) = stack.pop() {
        for &p in g.parents.of(c) {
            if g.lock(p).is_some() {
                return true;
            }
            if seen.insert(p) {
                stack.push(p);
            }
        }
    }
    false
}

/// `before`, the time (nothing when unknown), `after`: a reason's sentence, built in `scratch`
/// and copied once into its shared string.
fn sentence(scratch: &mut String, before: &str, t: Option<Timestamp>, after: &str) -> Arc<str> {
    use std::fmt::Write as _;
    scratch.clear();
    scratch.push_str(before);
    if let Some(t) = t {
        let _ = write!(scratch, "{t}");
    }
    scratch.push_str(after);
    Arc::from(scratch.as_str())
}
