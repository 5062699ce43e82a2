//! Snapshot + operation + options → plan.

use std::collections::BTreeMap;

use crate::digest::Digest;
use crate::error::Result;
use crate::graph::{Graph, Mid};
use crate::hash::{self, Map, Set};
use crate::names::TagName;
use crate::operation::{Operation, PlanOptions};
use crate::plan::{
    Action, ActionType, Plan, Reason, ReasonCode, Retained, Warning, WarningCode, PLAN_VERSION,
};
use crate::reclaim::{self as reclaim_of, Reclaim};
use crate::resolve::{resolve, Cause, Resolution};
use crate::select;
use crate::selection::{reason, Selection};
use crate::snapshot::{lock_of, Snapshot};
use crate::time::Timestamp;

/// Plans `operation` against `snapshot` at `options.now`.
///
/// The result is deterministic: the same inputs give a byte-identical plan and digest.
pub fn plan(snapshot: &Snapshot, operation: &Operation, options: &PlanOptions) -> Result<Plan> {
    let mut plan = unsealed(snapshot, operation, options)?;
    plan.seal();
    Ok(plan)
}

/// [`plan()`], written as JSON: the same bytes as `plan(..)?.to_json()`, but the plan is
/// serialized once, for its digest and its text together (a large plan is tens of MB).
pub fn plan_json(
    snapshot: &Snapshot,
    operation: &Operation,
    options: &PlanOptions,
) -> Result<String> {
    Ok(unsealed(snapshot, operation, options)?.seal_to_json())
}

fn unsealed(snapshot: &Snapshot, operation: &Operation, options: &PlanOptions) -> Result<Plan> {
    unsealed_on(
        &Graph::build_with(snapshot, options.threads.map(|t| t as usize))?,
        operation,
        options,
    )
}

/// Plans against a graph already built (an [`crate::IndexedSnapshot`] keeps one).
pub(crate) fn unsealed_on(
    graph: &Graph<'_>,
    operation: &Operation,
    options: &PlanOptions,
) -> Result<Plan> {
    let selection = select::select(graph, operation, options)?;
    let echo = selection.echo.clone().unwrap_or_else(|| operation.clone());
    let limits = selection.limits.clone();
    let plan = assemble(graph, echo, options, selection);
    if let Some(limits) = limits {
        check_limits(&plan, &limits)?;
    }
    Ok(plan)
}

/// Fails closed when a plan exceeds a policy's caps.
fn check_limits(plan: &Plan, limits: &crate::policy::Limits) -> Result<()> {
    let checks = [
        ("maxDeletions", limits.max_deletions, plan.reclaim.manifests),
        ("maxBytes", limits.max_bytes, plan.reclaim.total_bytes),
    ];
    for (name, allowed, actual) in checks {
        if let Some(allowed) = allowed.filter(|&a| actual > a) {
            return Err(crate::error::Error::LimitExceeded {
                path: format!("operation.policy.limits.{name}"),
                limit: name.to_owned(),
                allowed,
                actual,
            });
        }
    }
    Ok(())
}

/// The parts of a plan being written. Actions start as slots (what each acts on, and its
/// place in the execution order); the slots are sorted and the actions written in that order,
/// so no action is moved to order it.
struct Draft {
    slots: Vec<Slot>,
    retained: Vec<Retained>,
    warnings: Vec<Warning>,
}

impl Draft {
    fn push(&mut self, what: What, place: Place, digest: Option<&Digest>) {
        let made = self.slots.last().map_or(0, |s| s.made + 1);
        self.slots.push(Slot::new(what, place, digest, made));
    }
}

/// An action before it is written: its place (flattened, so a slot is 40 bytes), its
/// digest's order prefix, what it acts on.
#[derive(Clone, Copy)]
struct Slot {
    group: u64,
    secs: u64,
    nanos: u32,
    /// [`Digest::order_prefix`] of its digest (0 without one): orders most actions that share
    /// a place without reading their digests.
    prefix: u64,
    what: What,
    /// Grows in the order the slots were made (a manifest's slot takes its number, the
    /// others count on from the last): the last tie-break.
    made: u32,
}

impl Slot {
    fn new(what: What, place: Place, digest: Option<&Digest>, made: u32) -> Slot {
        Slot {
            group: place.group,
            secs: place.secs,
            nanos: place.nanos,
            prefix: digest.map_or(0, Digest::order_prefix),
            what,
            made,
        }
    }

    /// What orders slots before their digests are read.
    fn key(&self) -> (u64, u64, u32, u64) {
        (self.group, self.secs, self.nanos, self.prefix)
    }
}

/// What an action acts on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum What {
    /// `deleteManifest` of a deleted manifest.
    Manifest(Mid),
    /// `untag` of the selection's untag number `k`; `unlock` when the tag itself is locked
    /// and the request lifts locks.
    Untag { k: u32, unlock: bool },
    /// `deleteRepository` of repository number `ri`.
    Repository(u32),
}

/// An action's position in the execution order, before its digest and tag break ties:
/// per repository (by name), untags first, then referrers, indexes, other manifests, whole
/// repositories; within a phase oldest first, undated last. Computed when the action is
/// written, from the manifest it acts on, so ordering needs no lookups; held as numbers that
/// compare as the position does (one comparison of integers each, not a walk through
/// options and timestamps).
#[derive(Clone, Copy)]
struct Place {
    /// Rank, phase and undatedness, in that order of significance.
    group: u64,
    /// The time's seconds, their sign bit flipped so they order as unsigned numbers.
    secs: u64,
    nanos: u32,
}

impl Place {
    fn new(rank: u32, phase: u8, time: Option<Timestamp>) -> Place {
        Place {
            group: u64::from(rank) << 32 | u64::from(phase) << 1 | u64::from(time.is_none()),
            secs: time.map_or(0, |t| t.unix_seconds() as u64 ^ (1 << 63)),
            nanos: time.map_or(0, Timestamp::nanos),
        }
    }
}

/// Repository ranks by name, for [`Place`].
struct Order<'a, 'g> {
    g: &'a Graph<'g>,
    rank: Vec<u32>,
    by: crate::time::TimeField,
}

impl<'a, 'g> Order<'a, 'g> {
    fn new(g: &'a Graph<'g>, sel: &Selection) -> Self {
        let by_name = g.repositories_by_name();
        let mut rank = vec![0u32; by_name.len()];
        for (r, &ri) in by_name.iter().enumerate() {
            rank[ri as usize] = r as u32;
        }
        Order {
            g,
            rank,
            by: sel.order_by,
        }
    }

    /// The place of an action on manifest `id` (an untag's target, or a deleted manifest).
    fn of(&self, kind: ActionType, id: Mid) -> Place {
        let g = self.g;
        let phase = match kind {
            ActionType::Untag => 0,
            ActionType::DeleteRepository => 4,
            ActionType::DeleteManifest
                if !g.subjects.of(id).is_empty() || g.manifest(id).subject.is_some() =>
            {
                1
            }
            ActionType::DeleteManifest if g.manifest(id).is_index() => 2,
            ActionType::DeleteManifest => 3,
        };
        let rank = self.rank[g.repo_index(id) as usize];
        Place::new(rank, phase, crate::selection::time_of(g, id, self.by))
    }

    /// The place of a `deleteRepository`.
    fn of_repository(&self, ri: u32) -> Place {
        Place::new(self.rank[ri as usize], 4, None)
    }
}

/// Applies the graph rules to a selection and writes the plan.
pub(crate) fn assemble(
    g: &Graph<'_>,
    operation: Operation,
    options: &PlanOptions,
    mut sel: Selection,
) -> Plan {
    let mut pinned: Set<&Digest> = hash::set(options.pinned.len() + sel.pinned.len());
    pinned.extend(&options.pinned);
    pinned.extend(&sel.pinned);
    let mut res = resolve(g, &sel, &pinned, &hash::map(0));
    let refused = registry_refusals(g, &res);
    if !refused.is_empty() {
        res = resolve(g, &sel, &pinned, &refused);
    }
    // Reclaim first: its tables are gone before the actions are written, which lowers the
    // peak memory of a large plan by their size.
    let untag_locks: Vec<(Option<String>, bool)> = sel
        .untags
        .iter()
        .map(|(id, ti, _)| untag_lock(g, &sel, *id, *ti))
        .collect();
    let reclaim = reclaim_of::compute(g, &res.deleted, &untag_counts(g, &sel, &res, &untag_locks));
    let untagged_tags: Set<(Mid, u32)> = sel.untags.iter().map(|(m, t, _)| (*m, *t)).collect();
    let mut retained = std::mem::take(&mut sel.retained);
    // What the selection passed over can still go by a graph rule (a referrer whose subject
    // is deleted): then its action says why, and it is not also listed as staying.
    retained.retain(|r| r.tag.is_some() || !goes(g, &res, r));
    let order = Order::new(g, &sel);
    let mut draft = Draft {
        slots: manifest_slots(g, &res, &order, sel.untags.len() + 1),
        retained,
        warnings: std::mem::take(&mut sel.warnings),
    };
    draft.retained.extend(
        res.held
            .iter()
            .map(|(m, why)| retained_manifest(g, *m, why.clone())),
    );
    if let Some(ri) = sel.whole_repository {
        whole_repository(g, ri, &res, &order, &mut draft);
    }
    untags(g, &sel, &res, &untag_locks, &order, &mut draft);
    sort_slots(g, &sel, &mut draft.slots);
    let actions = write_actions(g, &sel, &res, &untagged_tags, &draft.slots);
    drop(std::mem::take(&mut draft.slots));
    if let Some((id, by_tag)) = sel.confirm {
        draft
            .warnings
            .extend(confirm_warning(g, id, by_tag, &res, &actions));
    }
    if sel.acr {
        let requested: Set<Mid> = sel.requests.iter().map(|r| r.id).collect();
        draft
            .warnings
            .extend(crate::acr_purge::overruled(g, &res.held, &requested));
    }
    draft.warnings.extend(left_behind(g, &res));
    draft.warnings.extend(public_versions(g, &res));
    if !g.snapshot.complete {
        draft.warnings.push(Warning {
            code: WarningCode::IncompleteSnapshot,
            message: "the snapshot does not hold every repository: layers shared with the missing ones are unknown, so reclaimable bytes are an upper bound".into(),
            items: g.snapshot.incomplete_reasons.clone(),
        });
    }
    let asked = !sel.requests.is_empty() || !sel.untags.is_empty();
    if asked && actions.is_empty() {
        draft.warnings.push(Warning {
            code: WarningCode::NothingDeleted,
            message: "nothing the request selected can be deleted; see retained for why".into(),
            items: Vec::new(),
        });
    }
    let mut reclaim = reclaim;
    not_evaluated(&draft.retained, &mut draft.warnings, &mut reclaim);
    merge_warnings(&mut draft.warnings);

    // Built by pushing: without the spare capacity, a large plan is a third smaller.
    draft.retained.shrink_to_fit();
    draft.retained.sort_by(|a, b| {
        (&a.repository, &a.digest, &a.tag).cmp(&(&b.repository, &b.digest, &b.tag))
    });
    Plan {
        version: PLAN_VERSION,
        registry: g.snapshot.registry.clone(),
        operation,
        now: options.now,
        pinned: options.pinned.clone(),
        actions,
        retained: draft.retained,
        reclaim,
        warnings: draft.warnings,
        digest: None,
    }
}

/// A request that needs times this snapshot does not have (an OCI crawl has no tag times)
/// cannot be evaluated for those items: they are kept, and the plan says so first, once,
/// and is never called exact.
fn not_evaluated(retained: &[Retained], warnings: &mut Vec<Warning>, reclaim: &mut Reclaim) {
    let items: Vec<String> = retained
        .iter()
        .filter(|r| r.reason.code == ReasonCode::MissingTimestamp)
        .map(Retained::target)
        .collect();
    if items.is_empty() {
        return;
    }
    let message = format!(
        "the request could not be evaluated for {} item(s): this snapshot has no time for them (a crawl of an OCI Distribution registry has no tag times; ACR's API and a registry's storage directory have them); they are kept, so this plan is not what the request means on this registry",
        items.len()
    );
    reclaim.exact = false;
    reclaim.inexact_reasons.insert(0, message.clone());
    warnings.insert(
        0,
        Warning {
            code: WarningCode::RequestNotEvaluated,
            message,
            items,
        },
    );
}

/// One warning per code and message: items of repeated warnings (one per tag, say) are
/// gathered into the first, in order, each once.
fn merge_warnings(warnings: &mut Vec<Warning>) {
    let mut first: Map<(WarningCode, String), (usize, Set<String>)> = Map::default();
    let mut merged: Vec<Warning> = Vec::with_capacity(warnings.len());
    for w in warnings.drain(..) {
        let key = (w.code, w.message.clone());
        if let Some((i, seen)) = first.get_mut(&key) {
            let into = &mut merged[*i];
            if seen.is_empty() {
                seen.extend(into.items.iter().cloned());
            }
            for item in w.items {
                if seen.insert(item.clone()) {
                    into.items.push(item);
                }
            }
        } else {
            first.insert(key, (merged.len(), Set::default()));
            merged.push(w);
        }
    }
    *warnings = merged;
}

/// Whether the manifest a retained entry names is deleted after all.
fn goes(g: &Graph<'_>, res: &Resolution, r: &Retained) -> bool {
    r.digest.as_ref().is_some_and(|d| {
        g.repository_by_name(&r.repository)
            .and_then(|ri| g.find(ri, d))
            .is_some_and(|m| res.deleted[m as usize])
    })
}

/// Turns the per-manifest actions of a repository asked to go as a whole into one
/// `deleteRepository`, or warns why it cannot go whole.
fn whole_repository(g: &Graph<'_>, ri: u32, res: &Resolution, order: &Order, draft: &mut Draft) {
    let all_go = g.manifests_of(ri).all(|m| res.deleted[m as usize]);
    let repo = &g.snapshot.repositories[ri as usize];
    if all_go && lock_of(repo.changeable_attributes.as_ref()).is_none() {
        draft
            .slots
            .retain(|s| !matches!(s.what, What::Manifest(id) if g.repo_index(id) == ri));
        draft.push(What::Repository(ri), order.of_repository(ri), None);
    } else {
        draft.warnings.push(Warning {
            code: WarningCode::RepositoryPartlyKept,
            message: format!(
                "repository {} cannot be deleted as a whole because some of its content must stay (see retained); the rest is deleted manifest by manifest",
                repo.name
            ),
            items: vec![repo.name.to_string()],
        });
    }
}

/// The `deleteRepository` of repository `ri`.
fn repository_action(g: &Graph<'_>, ri: u32) -> Action {
    let repo = &g.snapshot.repositories[ri as usize];
    let mut manifests: Vec<Digest> = repo.manifests.iter().map(|m| m.digest.clone()).collect();
    manifests.sort();
    Action {
        kind: ActionType::DeleteRepository,
        repository: repo.name.clone(),
        digest: None,
        tag: None,
        media_type: None,
        tags: sorted(repo.tags.iter().map(|t| t.name.clone())),
        manifests,
        reason: reason(
            ReasonCode::RepositoryDeleted,
            format!(
                "repository {} is deleted with all its manifests and tags",
                repo.name
            ),
        ),
        cascade_of: None,
        unlock: false,
    }
}

/// What keeps a selected tag from being untagged (a lock the request cannot lift), and
/// whether the tag itself is locked.
fn untag_lock(g: &Graph<'_>, sel: &Selection, id: Mid, ti: u32) -> (Option<String>, bool) {
    let repo = g.repository(id);
    let tag = &repo.tags[ti as usize];
    let repo_lock = lock_of(repo.changeable_attributes.as_ref())
        .map(|l| format!("its repository is locked ({l})"));
    let tag_lock =
        lock_of(tag.changeable_attributes.as_ref()).map(|l| format!("the tag is locked ({l})"));
    let tag_locked = tag_lock.is_some();
    let lock = if sel.unlock {
        repo_lock
    } else {
        repo_lock.or(tag_lock)
    };
    (lock, tag_locked)
}

/// How many tags the untag actions remove from manifests that stay, per repository.
fn untag_counts(
    g: &Graph<'_>,
    sel: &Selection,
    res: &Resolution,
    locks: &[(Option<String>, bool)],
) -> BTreeMap<u32, u64> {
    let mut count = BTreeMap::new();
    for ((id, _, _), (lock, _)) in sel.untags.iter().zip(locks) {
        if lock.is_none() {
            *count.entry(g.repo_index(*id)).or_default() += u64::from(!res.deleted[*id as usize]);
        }
    }
    count
}

/// Untag actions (a locked tag is retained instead); `locks` are [`untag_lock`] of each.
fn untags(
    g: &Graph<'_>,
    sel: &Selection,
    res: &Resolution,
    locks: &[(Option<String>, bool)],
    order: &Order,
    draft: &mut Draft,
) {
    let mut any = false;
    let mut left = std::collections::BTreeSet::new();
    let mut untagging: Map<Mid, usize> = hash::map(sel.untags.len());
    for (id, _, _) in &sel.untags {
        *untagging.entry(*id).or_default() += 1;
    }
    for (k, ((id, ti, _), (lock, tag_locked))) in sel.untags.iter().zip(locks).enumerate() {
        let repo = g.repository(*id);
        let tag = &repo.tags[*ti as usize];
        if let Some(lock) = lock {
            draft.retained.push(Retained {
                repository: repo.name.clone(),
                digest: Some(tag.digest.clone()),
                tag: Some(tag.name.clone()),
                tags: Vec::new(),
                reason: reason(ReasonCode::Locked, lock.clone()),
            });
            continue;
        }
        any = true;
        let what = What::Untag {
            k: k as u32,
            unlock: *tag_locked,
        };
        draft.push(what, order.of(ActionType::Untag, *id), Some(&tag.digest));
        if g.tags.of(*id).len() <= untagging[id] && !res.deleted[*id as usize] {
            left.insert(format!("{}@{}", repo.name, tag.digest));
        }
    }
    if any {
        let message = if g.snapshot.api == Some(crate::snapshot::RegistryApi::Ghcr) {
            "GHCR deletes versions, not tags: a tag is removed by pushing a small placeholder manifest under it (a new version, which takes the tag) and deleting that version; the token needs write:packages as well as delete:packages, and a package's last tag cannot go this way (GHCR keeps its last tagged version)"
        } else {
            "a registry without tag deletion (the CNCF distribution registry) is untagged by pointing the tag at a small placeholder manifest and deleting that: only the tag goes, and the placeholder's few hundred bytes stay until garbage collection; ACR deletes the tag directly"
        };
        draft.warnings.push(Warning {
            code: WarningCode::UntagPlaceholder,
            message: message.into(),
            items: Vec::new(),
        });
    }
    if !left.is_empty() {
        draft.warnings.push(Warning {
            code: WarningCode::ManifestLeftUntagged,
            message: "untagging frees nothing: these manifests stay, untagged, with their layers; delete them by digest (or delete untagged manifests) to give the space back".into(),
            items: left.into_iter().collect(),
        });
    }
}

/// az's warning that deleting an image by tag or digest takes every tag on it.
fn confirm_warning(
    g: &Graph<'_>,
    id: Mid,
    by_tag: bool,
    res: &Resolution,
    actions: &[Action],
) -> Option<Warning> {
    let tags = g.tags.of(id).len();
    if !res.deleted[id as usize] || tags <= usize::from(by_tag) {
        return None;
    }
    let repo = &g.repository(id).name;
    Some(Warning {
        code: WarningCode::OtherTagsDeleted,
        message: format!(
            "{} Deleting by tag or digest removes the manifest with every tag on it; to remove one tag only, untag it.",
            confirmation_of(actions, id, g)
        ),
        items: sorted(g.tags_of(id).map(|t| t.name.clone()))
            .iter()
            .map(|t| format!("{repo}:{t}"))
            .collect(),
    })
}

/// az's confirmation sentence for the action deleting manifest `id`.
fn confirmation_of(actions: &[Action], id: Mid, g: &Graph<'_>) -> String {
    let digest = &g.manifest(id).digest;
    actions
        .iter()
        .find(|a| a.kind == ActionType::DeleteManifest && a.digest.as_ref() == Some(digest))
        .map(crate::render::confirmation)
        .unwrap_or_default()
}

fn sorted(tags: impl Iterator<Item = TagName>) -> Vec<TagName> {
    let mut v: Vec<TagName> = tags.collect();
    v.sort();
    v
}

/// The slots of the `deleteManifest` actions, made in lanes over consecutive manifests and
/// joined in order, with room for `others` more.
fn manifest_slots(g: &Graph<'_>, res: &Resolution, order: &Order, others: usize) -> Vec<Slot> {
    let goes = |id: usize| res.deleted[id] && res.cause[id].is_some();
    let n = g.len();
    let lanes = crate::par::lanes(n * 4, g.threads);
    let parts = crate::par::each(lanes, |k| {
        let ids = n * k / lanes..n * (k + 1) / lanes;
        let room = if k == 0 {
            (0..n).filter(|&id| goes(id)).count() + others
        } else {
            ids.clone().filter(|&id| goes(id)).count()
        };
        let mut part = Vec::with_capacity(room);
        for id in ids.filter(|&id| goes(id)) {
            let id = id as Mid;
            let place = order.of(ActionType::DeleteManifest, id);
            part.push(Slot::new(
                What::Manifest(id),
                place,
                Some(&g.manifest(id).digest),
                id,
            ));
        }
        part
    });
    let mut slots = Vec::new();
    for part in parts {
        crate::par::join(&mut slots, part);
    }
    slots
}

/// Sorts the slots into the execution order (see [`Place`]); within a place by digest, then
/// tag, then as made.
fn sort_slots(g: &Graph<'_>, sel: &Selection, slots: &mut [Slot]) {
    let digest = |w: What| match w {
        What::Manifest(id) => Some(&g.manifest(id).digest),
        What::Untag { k, .. } => {
            let (id, ti, _) = &sel.untags[k as usize];
            Some(&g.repository(*id).tags[*ti as usize].digest)
        }
        What::Repository(_) => None,
    };
    let tag = |w: What| match w {
        What::Untag { k, .. } => {
            let (id, ti, _) = &sel.untags[k as usize];
            Some(&g.repository(*id).tags[*ti as usize].name)
        }
        What::Manifest(_) | What::Repository(_) => None,
    };
    // Untags of one manifest (an image's several tags) share its place and digest: their
    // order is their tags'.
    let same_manifest = |a: What, b: What| match (a, b) {
        (What::Untag { k: x, .. }, What::Untag { k: y, .. }) => {
            sel.untags[x as usize].0 == sel.untags[y as usize].0
        }
        _ => false,
    };
    slots.sort_unstable_by(|a, b| {
        a.key()
            .cmp(&b.key())
            .then_with(|| {
                if same_manifest(a.what, b.what) {
                    std::cmp::Ordering::Equal
                } else {
                    digest(a.what).cmp(&digest(b.what))
                }
            })
            .then_with(|| tag(a.what).cmp(&tag(b.what)))
            .then(a.made.cmp(&b.made))
    });
}

/// The actions of sorted slots, written in lanes over consecutive slots and joined in order.
/// Reasons are shared with the selection, not copied.
fn write_actions(
    g: &Graph<'_>,
    sel: &Selection,
    res: &Resolution,
    untagged: &Set<(Mid, u32)>,
    slots: &[Slot],
) -> Vec<Action> {
    let n = slots.len();
    let lanes = crate::par::lanes(n * 16, g.threads);
    let parts = crate::par::each(lanes, |k| {
        let mut part = Vec::with_capacity(if k == 0 { n } else { 0 });
        part.extend(slots[n * k / lanes..n * (k + 1) / lanes].iter().filter_map(
            |s| match s.what {
                What::Manifest(id) => manifest_action(g, sel, res, untagged, id),
                What::Untag { k, unlock } => Some(untag_action(g, sel, k, unlock)),
                What::Repository(ri) => Some(repository_action(g, ri)),
            },
        ));
        part
    });
    let mut actions = Vec::new();
    for part in parts {
        crate::par::join(&mut actions, part);
    }
    actions
}

/// The `untag` action of the selection's untag number `k`.
fn untag_action(g: &Graph<'_>, sel: &Selection, k: u32, unlock: bool) -> Action {
    let (id, ti, why) = &sel.untags[k as usize];
    let tag = &g.repository(*id).tags[*ti as usize];
    Action {
        kind: ActionType::Untag,
        repository: g.repository(*id).name.clone(),
        digest: Some(tag.digest.clone()),
        tag: Some(tag.name.clone()),
        media_type: g.manifest(*id).media_type.clone(),
        tags: vec![tag.name.clone()],
        manifests: Vec::new(),
        reason: why.clone(),
        cascade_of: None,
        unlock,
    }
}

/// The `deleteManifest` action of deleted manifest `id` (`None` if nothing caused it).
fn manifest_action(
    g: &Graph<'_>,
    sel: &Selection,
    res: &Resolution,
    untagged: &Set<(Mid, u32)>,
    id: Mid,
) -> Option<Action> {
    let m = g.manifest(id);
    let (why, cascade_of) = match res.cause[id as usize]? {
        Cause::Requested(i) => (sel.requests[i].reason.clone(), None),
        Cause::Child(p) => {
            let p = &g.manifest(p).digest;
            (
                reason(
                    ReasonCode::ChildOfDeletedIndex,
                    format!("the deleted index {p} lists it, and no surviving index does"),
                ),
                Some(p.clone()),
            )
        }
        Cause::Referrer(s) => {
            let s = &g.manifest(s).digest;
            (
                reason(
                    ReasonCode::ReferrerOfDeletedSubject,
                    format!(
                        "it refers to the deleted manifest {s} (a signature, SBOM or attestation)"
                    ),
                ),
                Some(s.clone()),
            )
        }
    };
    let repo = g.repository(id);
    // Tags an earlier untag action removes are not listed again.
    let on = g.tags.of(id);
    let mut tags = Vec::with_capacity(on.len());
    tags.extend(
        on.iter()
            .filter(|&&t| !untagged.contains(&(id, t)))
            .map(|&t| repo.tags[t as usize].name.clone()),
    );
    tags.sort();
    tags.shrink_to_fit();
    Some(Action {
        kind: ActionType::DeleteManifest,
        repository: repo.name.clone(),
        digest: Some(m.digest.clone()),
        tag: None,
        media_type: m.media_type.clone(),
        tags,
        manifests: Vec::new(),
        reason: why,
        cascade_of,
        // Only the manifest's own lock: a locked tag is unlocked by its own untag action
        // (acr PATCHes only items that are themselves locked: kind I).
        unlock: sel.unlock && lock_of(m.changeable_attributes.as_ref()).is_some(),
    })
}

fn retained_manifest(g: &Graph<'_>, id: Mid, why: Reason) -> Retained {
    Retained {
        repository: g.repository(id).name.clone(),
        digest: Some(g.manifest(id).digest.clone()),
        tag: None,
        tags: sorted(g.tags_of(id).map(|t| t.name.clone())),
        reason: why,
    }
}

/// What the registry itself refuses to delete, planned as kept: GHCR refuses to delete a
/// package's last tagged version (the whole package must go instead), so where the request
/// would delete every tagged version of a package, the newest stays.
fn registry_refusals(g: &Graph<'_>, res: &Resolution) -> Map<Mid, Reason> {
    let mut out = hash::map(0);
    if g.snapshot.api != Some(crate::snapshot::RegistryApi::Ghcr) {
        return out;
    }
    for ri in 0..g.snapshot.repositories.len() as u32 {
        let tagged: Vec<Mid> = g.manifests_of(ri).filter(|&m| g.is_tagged(m)).collect();
        if tagged.is_empty() || !tagged.iter().all(|&m| res.deleted[m as usize]) {
            continue;
        }
        let newest = tagged.into_iter().max_by(|&a, &b| {
            let (ma, mb) = (g.manifest(a), g.manifest(b));
            (ma.last_update_time, &ma.digest).cmp(&(mb.last_update_time, &mb.digest))
        });
        if let Some(m) = newest {
            out.insert(
                m,
                reason(
                    ReasonCode::RegistryRefuses,
                    "GHCR refuses to delete the last tagged version of a package: the newest stays (delete the whole package to remove it)",
                ),
            );
        }
    }
    out
}

/// GHCR's download rule, which no snapshot can check: a public package's version downloaded
/// more than 5,000 times cannot be deleted.
fn public_versions(g: &Graph<'_>, res: &Resolution) -> Option<Warning> {
    use crate::snapshot::Visibility;
    if g.snapshot.api != Some(crate::snapshot::RegistryApi::Ghcr) {
        return None;
    }
    let items: Vec<String> = g
        .snapshot
        .repositories
        .iter()
        .enumerate()
        .filter(|(ri, r)| {
            r.visibility == Some(Visibility::Public)
                && g.manifests_of(*ri as u32).any(|m| res.deleted[m as usize])
        })
        .map(|(_, r)| r.name.to_string())
        .collect();
    (!items.is_empty()).then(|| Warning {
        code: WarningCode::PublicVersionsMayStay,
        message: "these packages are public: GHCR refuses to delete a public version downloaded more than 5,000 times, and no API says how often one was (every manifest GET counts, a crawl's included); such a deletion ends as refused in the report, and the rest go on".into(),
        items,
    })
}

/// Surviving referrers whose subject is deleted.
fn left_behind(g: &Graph<'_>, res: &Resolution) -> Option<Warning> {
    let mut items = Vec::new();
    for (s, _) in res.deleted.iter().enumerate().filter(|(_, d)| **d) {
        for &r in g.referrers.of(s as Mid) {
            if !res.deleted[r as usize] {
                items.push(format!("{}@{}", g.repository(r).name, g.manifest(r).digest));
            }
        }
    }
    (!items.is_empty()).then(|| Warning {
        code: WarningCode::ReferrerLeftBehind,
        message: "these referrers stay (see retained for why) although the manifest they refer to is deleted; they will point at nothing".into(),
        items,
    })
}

/// The reclaim of `plan`'s actions against `snapshot`: what the plan gives back if the
/// registry is as the snapshot says (for a plan carried to a fresh snapshot, or edited).
/// Actions naming manifests the snapshot does not hold are an error.
pub fn reclaim(snapshot: &crate::Snapshot, plan: &crate::Plan) -> crate::Result<Reclaim> {
    reclaim_on(&Graph::build(snapshot)?, plan)
}

/// [`reclaim`] against a graph already built.
pub(crate) fn reclaim_on(graph: &Graph<'_>, plan: &crate::Plan) -> crate::Result<Reclaim> {
    use crate::plan::ActionType;
    let mut deleted = vec![false; graph.len()];
    let mut untags: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
    let missing = |i: usize, a: &crate::Action, d: &Digest| crate::Error::ImageNotFound {
        path: format!("plan.actions[{i}]"),
        image: format!("{}@{d}", a.repository),
    };
    for (i, a) in plan.actions.iter().enumerate() {
        let ri = graph.repository_by_name(&a.repository).ok_or_else(|| {
            crate::Error::RepositoryNotFound {
                path: format!("plan.actions[{i}].repository"),
                repository: a.repository.to_string(),
            }
        })?;
        let digests: Vec<&Digest> = match a.kind {
            ActionType::DeleteManifest | ActionType::Untag => a.digest.iter().collect(),
            ActionType::DeleteRepository => a.manifests.iter().collect(),
        };
        for d in digests {
            let id = graph.find(ri, d).ok_or_else(|| missing(i, a, d))?;
            if a.kind == ActionType::Untag {
                *untags.entry(ri).or_default() += 1;
            } else {
                deleted[id as usize] = true;
            }
        }
    }
    // Tags removed with a deleted manifest are counted with it.
    for a in &plan.actions {
        if let (ActionType::Untag, Some(d)) = (a.kind, &a.digest) {
            let ri = graph.repository_by_name(&a.repository).unwrap_or_default();
            if graph.find(ri, d).is_some_and(|id| deleted[id as usize]) {
                *untags.entry(ri).or_default() -= 1;
            }
        }
    }
    Ok(crate::reclaim::compute(graph, &deleted, &untags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{generate, GeneratorOptions};
    use crate::par::with_lanes;

    /// Slots order as (rank, phase, undated last, time) would, for any timestamp.
    #[test]
    fn slots_order_as_their_places() {
        let times = [
            None,
            Some(Timestamp::from_unix_seconds(i64::MIN)),
            Some(Timestamp::from_unix_seconds(-1)),
            Timestamp::parse("1969-12-31T23:59:59.5Z"),
            Some(Timestamp::from_unix_seconds(0)),
            Timestamp::parse("1970-01-01T00:00:00.000000001Z"),
            Timestamp::parse("2026-01-01T00:00:00Z"),
            Timestamp::parse("2026-01-01T00:00:00.999999999Z"),
            Some(Timestamp::from_unix_seconds(i64::MAX)),
        ];
        let mut all = Vec::new();
        for rank in [0, 1, u32::MAX] {
            for phase in 0..=4 {
                for time in times {
                    let place = Place::new(rank, phase, time);
                    let slot = Slot::new(What::Repository(0), place, None, 0);
                    all.push(((rank, phase, time.is_none(), time), slot.key()));
                }
            }
        }
        for (a, pa) in &all {
            for (b, pb) in &all {
                assert_eq!(a.cmp(b), pa.cmp(pb), "{a:?} vs {b:?}");
            }
        }
    }

    /// Selection, reclaim and the seal run in lanes on large inputs; the plan must be byte
    /// for byte the one a single lane writes, for every kind of request that uses them.
    #[test]
    fn plans_do_not_depend_on_the_number_of_lanes() {
        let snapshot = generate(&GeneratorOptions {
            seed: 11,
            manifests: 4_000,
            repositories: None,
        });
        let options = PlanOptions::at(Timestamp::parse("2026-01-01T00:00:00Z").unwrap());
        let requests = [
            r#"{"op": "purge", "filter": [".*:.*"], "ago": "365d", "untagged": true, "keep": 2}"#,
            r#"{"op": "purge", "filter": ["team[0-3]/.*:v.*-.*"], "ago": "30d"}"#,
            r#"{"op": "acrPurge", "filter": [".*:.*"], "ago": "30d", "untagged": true}"#,
            r#"{"op": "deleteUntagged"}"#,
            r#"{"op": "policy", "policy": {"rules": [
                {"name": "keep-releases", "action": "keep", "tags": ["v1", "v1-*"]},
                {"name": "untagged-30d", "action": "delete", "tagState": "untagged", "olderThan": "30d"},
                {"name": "old-variants", "action": "delete", "tags": ["v*-*"], "olderThan": "180d", "keepMostRecent": 5},
                {"name": "ancient", "action": "delete", "tagState": "any", "olderThan": "540d", "keepMostRecent": 10},
                {"name": "never", "action": "delete", "tags": ["no-such-tag"]}]}}"#,
        ];
        for request in requests {
            let op = Operation::from_json(request.as_bytes()).unwrap();
            let one = with_lanes(1, || plan_json(&snapshot, &op, &options)).unwrap();
            assert!(one.contains(r#""actions":[{"#), "{request}: no actions");
            for lanes in [2, 3] {
                let many = with_lanes(lanes, || plan_json(&snapshot, &op, &options)).unwrap();
                assert!(one == many, "{request}: {lanes} lanes wrote another plan");
                let sealed = with_lanes(lanes, || plan(&snapshot, &op, &options)).unwrap();
                assert_eq!(sealed.to_json(), one, "{request}: {lanes} lanes");
            }
        }
    }
}
