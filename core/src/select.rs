//! Operations → selections: which manifests and tags a request asks to remove, before the
//! graph rules decide what can really go.

use crate::acr_command::AcrPurgeArgs;
use crate::error::{Error, Result};
use crate::graph::{Graph, Mid};
use crate::names::{ImageReference, RepositoryName};
use crate::operation::{Operation, PlanOptions};
use crate::plan::{ReasonCode, Retained};
use crate::selection::{reason, time_of, Request, Selection};
use crate::time::TimeField;
use crate::time::{Timestamp, DAY};

/// The selection of one of the core operations.
pub(crate) fn select(g: &Graph<'_>, op: &Operation, opts: &PlanOptions) -> Result<Selection> {
    let mut s = Selection::new();
    match op {
        Operation::DeleteRepository { repository } => {
            let ri = repo(g, repository, "operation.repository")?;
            s.whole_repository = Some(ri);
            for id in g.manifests_of(ri) {
                let why = reason(
                    ReasonCode::RepositoryDeleted,
                    format!("repository {repository} is deleted"),
                );
                s.requests.push(Request {
                    id,
                    reason: why,
                    // A signature of an image that stays (pinned, locked) must stay too:
                    // admission policies reject unsigned images.
                    named: false,
                });
            }
        }
        Operation::DeleteImage { image } => {
            let (id, by_tag) = image_id(g, image)?;
            s.confirm = Some((id, by_tag.is_some()));
            s.requests.push(Request {
                id,
                reason: reason(
                    ReasonCode::ImageNamed,
                    format!("{image} was named for deletion"),
                ),
                named: true,
            });
        }
        Operation::Untag { image } => {
            let ImageReference::Tag { repository, tag } = image else {
                return Err(Error::InvalidOperation {
                    path: "operation.image".into(),
                    message: format!(
                        "{:?} names a digest; untag takes repository:tag",
                        image.to_string()
                    ),
                });
            };
            let (id, ti) = image_id(g, image)?;
            let ti = ti.unwrap_or_default(); // a tag reference always resolves to its tag
            s.untags.push((
                id,
                ti,
                reason(
                    ReasonCode::TagNamed,
                    format!("{repository}:{tag} was named for untagging"),
                ),
            ));
        }
        Operation::DeleteOlderThan {
            repository,
            before,
            field,
        } => {
            let ri = repo(g, repository, "operation.repository")?;
            s.order_by = *field;
            older_than(g, g.manifests_of(ri), *before, *field, &mut s);
        }
        Operation::DeleteUntagged { repository } => {
            let repos = match repository {
                Some(r) => vec![repo(g, r, "operation.repository")?],
                None => (0..g.snapshot.repositories.len() as u32).collect(),
            };
            for ri in repos {
                for id in g.manifests_of(ri).filter(|&id| !g.is_tagged(id)) {
                    s.requests.push(Request {
                        id,
                        reason: reason(ReasonCode::Untagged, "the manifest has no tags"),
                        named: false,
                    });
                }
            }
        }
        Operation::Retention { days, enabled_at } => {
            retention(g, *days, *enabled_at, opts.now, &mut s);
        }
        Operation::Purge { .. } => s = purge(g, op, opts.now)?,
        Operation::Policy { policy } => {
            s = crate::policy_select::select(g, policy, opts.now, "operation.policy")?;
            s.pinned.clone_from(&policy.protect.digests);
            s.limits = Some(policy.limits.clone());
        }
        Operation::AcrPurge { .. } => {
            let args = acr_args(op)?;
            s = crate::acr_purge::select(g, &args, opts.now, "operation")?;
            s.echo = Some(Operation::AcrPurge {
                command: Some(args.to_command()),
                filter: Vec::new(),
                ago: None,
                keep: None,
                untagged: false,
                untagged_only: false,
                dry_run: false,
                include_locked: false,
            });
        }
    }
    Ok(s)
}

/// Manifests among `ids` whose `field` is strictly before `before`.
fn older_than(
    g: &Graph<'_>,
    ids: impl Iterator<Item = Mid>,
    before: Timestamp,
    field: TimeField,
    s: &mut Selection,
) {
    for id in ids {
        match time_of(g, id, field) {
            Some(t) if t < before => s.requests.push(Request {
                id,
                reason: reason(
                    ReasonCode::OlderThan,
                    format!("{} {t} is before {before}", field.name()),
                ),
                named: false,
            }),
            Some(_) => {}
            None => s.retained.push(missing_time(g, id, field)),
        }
    }
}

/// ACR's retention policy: untagged manifests last updated after `enabled_at` and at least
/// `days` days before `now`.
fn retention(g: &Graph<'_>, days: u32, enabled_at: Timestamp, now: Timestamp, s: &mut Selection) {
    let cutoff = now.minus_seconds(i64::from(days) * DAY);
    for id in (0..g.len() as Mid).filter(|&id| !g.is_tagged(id)) {
        match time_of(g, id, TimeField::LastUpdateTime) {
            Some(t) if t > enabled_at && t <= cutoff => s.requests.push(Request {
                id,
                reason: reason(
                    ReasonCode::RetentionExpired,
                    format!(
                        "untagged, last updated {t}: {days} day(s) or more before {now}, and after the policy was enabled at {enabled_at}"
                    ),
                ),
                named: false,
            }),
            Some(_) => {}
            None => s.retained.push(missing_time(g, id, TimeField::LastUpdateTime)),
        }
    }
}

fn purge(g: &Graph<'_>, op: &Operation, now: Timestamp) -> Result<Selection> {
    let Operation::Purge {
        filter,
        ago,
        before,
        timestamp,
        keep,
        untagged,
    } = op
    else {
        return Err(Error::InvalidOperation {
            path: "operation".into(),
            message: "not a purge operation".into(),
        });
    };
    let args = crate::purge::PurgeArgs {
        filter,
        ago: ago.as_deref(),
        before: *before,
        timestamp: *timestamp,
        keep: *keep,
        untagged: *untagged,
    };
    crate::purge::select(g, &args, now, "operation")
}

/// The flags of an `acrPurge` operation, from its command line or its fields.
fn acr_args(op: &Operation) -> Result<AcrPurgeArgs> {
    let Operation::AcrPurge {
        command,
        filter,
        ago,
        keep,
        untagged,
        untagged_only,
        dry_run,
        include_locked,
    } = op
    else {
        return Err(Error::InvalidOperation {
            path: "operation".into(),
            message: "not an acrPurge operation".into(),
        });
    };
    let flags_given = !filter.is_empty()
        || ago.is_some()
        || keep.is_some()
        || *untagged
        || *untagged_only
        || *dry_run
        || *include_locked;
    match command {
        Some(_) if flags_given => Err(Error::InvalidOperation {
            path: "operation.command".into(),
            message: "give either the command line or the flags as fields, not both".into(),
        }),
        Some(cmd) => crate::acr_command::parse(cmd, "operation.command"),
        None => Ok(AcrPurgeArgs {
            filters: filter.clone(),
            ago: ago.clone(),
            keep: keep.unwrap_or(0),
            untagged: *untagged,
            untagged_only: *untagged_only,
            dry_run: *dry_run,
            include_locked: *include_locked,
            ignored: Vec::new(),
        }),
    }
}

fn missing_time(g: &Graph<'_>, id: Mid, field: TimeField) -> Retained {
    Retained {
        repository: g.repository(id).name.clone(),
        digest: Some(g.manifest(id).digest.clone()),
        tag: None,
        tags: g.tags_of(id).map(|t| t.name.clone()).collect(),
        reason: reason(
            ReasonCode::MissingTimestamp,
            format!("it has no {}, so its age is unknown", field.name()),
        ),
    }
}

fn repo(g: &Graph<'_>, name: &RepositoryName, path: &str) -> Result<u32> {
    g.repository_by_name(name)
        .ok_or_else(|| Error::RepositoryNotFound {
            path: path.into(),
            repository: name.to_string(),
        })
}

/// The manifest an image names, and the index of the tag when it names a tag.
fn image_id(g: &Graph<'_>, image: &ImageReference) -> Result<(Mid, Option<u32>)> {
    let not_found = || Error::ImageNotFound {
        path: "operation.image".into(),
        image: image.to_string(),
    };
    let ri = repo(g, image.repository(), "operation.image")?;
    match image {
        ImageReference::Digest { digest, .. } => g
            .find(ri, digest)
            .map(|id| (id, None))
            .ok_or_else(not_found),
        ImageReference::Tag { tag, .. } => {
            let tags = &g.snapshot.repositories[ri as usize].tags;
            let ti = tags
                .iter()
                .position(|t| &t.name == tag)
                .ok_or_else(not_found)?;
            let id = g.find(ri, &tags[ti].digest).ok_or_else(not_found)?;
            Ok((id, Some(ti as u32)))
        }
    }
}
