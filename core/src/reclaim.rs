//! Exact reclaimable bytes.
//!
//! Registries store each blob once, whichever repositories use it (ACR and distribution both
//! deduplicate registry-wide), and a manifest's own bytes are a blob too. So a blob is given
//! back iff some deleted manifest referenced it and no surviving manifest anywhere does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::graph::{Csr, Graph, Mid};
use crate::hash::Map;
use crate::names::RepositoryName;

/// The storage a plan gives back.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reclaim {
    /// True when the figures are exact; false when the snapshot could not tell (see
    /// `inexactReasons`).
    pub exact: bool,
    /// Why the figures are not exact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inexact_reasons: Vec<String>,
    /// Manifests deleted.
    pub manifests: u64,
    /// Tags removed (by untag or with their manifest).
    pub tags: u64,
    /// `blobBytes + manifestBytes`.
    pub total_bytes: u64,
    /// Bytes of layer and config blobs given back.
    pub blob_bytes: u64,
    /// Number of layer and config blobs given back.
    pub blob_count: u64,
    /// Bytes of the deleted manifests themselves (a manifest also stored in a surviving
    /// repository is not counted).
    pub manifest_bytes: u64,
    /// The sum of ACR `imageSize` over deleted manifests whose content is unknown: an upper
    /// bound of what they may give back on top of the exact figures.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shallow_image_bytes: u64,
    /// The same figures per repository. Each blob is counted once, in the first repository
    /// (by name) whose deleted manifests reference it, so the rows add up to the totals.
    pub by_repository: Vec<RepositoryReclaim>,
    /// Blobs referenced by deleted manifests that stay because surviving manifests use them.
    pub shared: Shared,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Reclaim of one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryReclaim {
    /// The repository.
    pub repository: RepositoryName,
    /// Manifests deleted there.
    pub manifests: u64,
    /// Tags removed there.
    pub tags: u64,
    /// Blob bytes given back, attributed to this repository.
    pub blob_bytes: u64,
    /// Blobs given back, attributed to this repository.
    pub blob_count: u64,
    /// Manifest bytes given back there.
    pub manifest_bytes: u64,
}

/// Bytes that deleted manifests referenced but that stay.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shared {
    /// Bytes of those blobs.
    pub bytes: u64,
    /// Number of those blobs.
    pub blob_count: u64,
    /// The repositories whose surviving manifests keep them, with the bytes each keeps.
    pub with: Vec<SharedWith>,
}

/// Bytes one repository keeps alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SharedWith {
    /// The repository.
    pub repository: RepositoryName,
    /// Bytes of shared blobs its surviving manifests reference.
    pub bytes: u64,
    /// Number of such blobs.
    pub blob_count: u64,
}

/// Every distinct layer or config digest, and every distinct manifest digest, of a graph
/// numbered once. A snapshot planned against many times (an [`crate::IndexedSnapshot`])
/// counts reclaim with these numbers instead of hashing each reference again.
pub(crate) struct Numbering {
    /// The blob numbers of each manifest's references, in [`crate::Manifest::blobs`] order.
    refs: Csr,
    /// The number of each manifest's own digest.
    own: Vec<u32>,
    blobs: usize,
    owns: usize,
}

impl Numbering {
    pub(crate) fn build(graph: &Graph<'_>) -> Numbering {
        let mut blobs: Map<&Digest, u32> = crate::hash::map(graph.len() * 4);
        let mut owns: Map<&Digest, u32> = crate::hash::map(graph.len());
        let mut refs = Csr::with_rows(graph.len());
        let mut own = Vec::with_capacity(graph.len());
        for &(_, m) in &graph.nodes {
            let next = owns.len() as u32;
            own.push(*owns.entry(&m.digest).or_insert(next));
            refs.push_row(m.blobs().map(|b| {
                let next = blobs.len() as u32;
                *blobs.entry(&b.digest).or_insert(next)
            }));
        }
        Numbering {
            refs,
            own,
            blobs: blobs.len(),
            owns: owns.len(),
        }
    }

    fn refs_of(&self, id: Mid) -> &[u32] {
        self.refs.of(id)
    }
}

struct Blob<'s> {
    digest: &'s Digest,
    size: u64,
    first_repo: u32,
    /// The last repository whose surviving manifests were seen keeping this blob (`NOBODY`
    /// while none does: the blob is given back): manifests come repository by repository,
    /// so comparing with it records each keeper once.
    last_keeper: u32,
}

impl Blob<'_> {
    fn alive(&self) -> bool {
        self.last_keeper != NOBODY
    }
}

/// Blobs by digest: an index into a vector. A registry holds millions of blobs, so the table
/// is keyed by a digest's eight-byte key (16-byte entries that stay in cache far better than
/// digests or pointers); the digest itself is checked on a hit, and digests that share a key
/// with another go to `spill`.
///
/// With a [`Numbering`], `dense` maps each digest's number to its slot instead.
struct Pool<'s> {
    index: Map<u64, u32>,
    spill: Map<&'s Digest, u32>,
    dense: Vec<u32>,
    blobs: Vec<Blob<'s>>,
}

const NOBODY: u32 = u32::MAX;

impl<'s> Pool<'s> {
    /// A pool for about `n` blobs, or for the `numbered` digests of a [`Numbering`].
    fn new(n: usize, numbered: Option<usize>) -> Pool<'s> {
        Pool {
            index: crate::hash::map(if numbered.is_some() { 0 } else { n }),
            spill: crate::hash::map(0),
            dense: numbered.map_or_else(Vec::new, |count| vec![NOBODY; count]),
            blobs: Vec::with_capacity(n),
        }
    }

    /// Records a blob a deleted manifest references (the first record wins); `number` is
    /// its number when the pool is numbered.
    fn record(
        &mut self,
        digest: &'s Digest,
        number: Option<u32>,
        first_repo: u32,
        size: impl FnOnce() -> u64,
    ) {
        let next = self.blobs.len() as u32;
        if let Some(n) = number {
            let slot = &mut self.dense[n as usize];
            if *slot != NOBODY {
                return;
            }
            *slot = next;
            self.push(digest, first_repo, size());
            return;
        }
        match self.index.entry(digest.key()) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(next);
            }
            std::collections::hash_map::Entry::Occupied(e) => {
                if self.blobs[*e.get() as usize].digest == digest {
                    return;
                }
                match self.spill.entry(digest) {
                    std::collections::hash_map::Entry::Occupied(_) => return,
                    std::collections::hash_map::Entry::Vacant(e) => e.insert(next),
                };
            }
        }
        self.push(digest, first_repo, size());
    }

    fn push(&mut self, digest: &'s Digest, first_repo: u32, size: u64) {
        self.blobs.push(Blob {
            digest,
            size,
            first_repo,
            last_keeper: NOBODY,
        });
    }

    fn slot(&self, digest: &Digest, number: Option<u32>) -> Option<u32> {
        if let Some(n) = number {
            let slot = self.dense[n as usize];
            return (slot != NOBODY).then_some(slot);
        }
        let slot = *self.index.get(&digest.key())?;
        if self.blobs[slot as usize].digest == digest {
            Some(slot)
        } else {
            self.spill.get(digest).copied()
        }
    }
}

/// A digest's number in its lane's dense table (`None` when the graph is not numbered).
#[derive(Clone, Copy)]
struct Local(Option<u32>);

/// The counting state of one lane of a reclaim computation. Blobs are split between lanes by
/// digest (its key or number modulo the lane count), so each lane owns its tables and needs
/// no lock; every lane visits the manifests in the same order, so a blob is attributed to the
/// same repository whatever the number of lanes.
struct Tally<'s> {
    lane: usize,
    lanes: usize,
    /// Layer and config blobs referenced by deleted manifests.
    blobs: Pool<'s>,
    /// The deleted manifests' own bytes, by digest (a digest stored in two repositories is
    /// one blob).
    own: Pool<'s>,
    /// Shared blobs (slots in `blobs`) and the repositories whose survivors keep them.
    kept_by: Vec<(u32, u32)>,
    /// Per repository: manifests deleted and tags removed with them (lane 0 only).
    rows: BTreeMap<u32, RepositoryReclaim>,
    counts: Counts,
}

/// What a lane counts besides blobs.
#[derive(Default)]
struct Counts {
    missing_sizes: u64,
    shallow_deleted: u64,
    shallow_alive: u64,
    shallow_image_bytes: u64,
}

/// A lane's figures once its tables are added up: dense by repository index, so the lane sums
/// its millions of blobs on its own thread (a row looked up by repository per blob, on the
/// calling thread, was a quarter of reclaim at a million manifests) and frees its tables there.
struct Settled {
    /// Manifests deleted and tags removed, per repository (lane 0 only).
    rows: BTreeMap<u32, RepositoryReclaim>,
    counts: Counts,
    /// Per repository index: what the blobs first referenced there give back.
    freed: Vec<Freed>,
    /// Per repository index: the shared blobs its survivors keep.
    kept: Vec<Freed>,
    shared_bytes: u64,
    shared_count: u64,
}

/// Bytes and blobs given back (or kept) for one repository; `manifest_bytes` for the
/// deleted manifests' own bytes.
#[derive(Default, Clone, Copy)]
struct Freed {
    blob_bytes: u64,
    blob_count: u64,
    manifest_bytes: u64,
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
    let mut untags: BTreeMap<u32, u64> = BTreeMap::new();
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
    Ok(compute(graph, &deleted, &untags))
}

/// Computes reclaim for the manifests marked in `deleted`, plus `untags`: tags removed on
/// their own (from manifests that stay), counted per repository.
pub(crate) fn compute(graph: &Graph<'_>, deleted: &[bool], untags: &BTreeMap<u32, u64>) -> Reclaim {
    compute_in(graph, deleted, untags, None)
}

/// [`compute`] in `lanes` lanes, by default as many as the work is worth (the result does not
/// depend on how many).
fn compute_in(
    graph: &Graph<'_>,
    deleted: &[bool],
    untags: &BTreeMap<u32, u64>,
    lanes: Option<usize>,
) -> Reclaim {
    // Sized by what the deleted manifests reference (an upper bound of the distinct blobs):
    // at a million manifests a guess per manifest costs hundreds of MB of table.
    let doomed = deleted.iter().filter(|&&d| d).count();
    let references: usize = graph
        .nodes
        .iter()
        .zip(deleted)
        .filter(|(_, &d)| d)
        .map(|(&(_, m), _)| m.blobs().count())
        .sum();
    let lanes = lanes.unwrap_or_else(|| crate::par::lanes(references));
    let tallies = crate::par::each(lanes, |lane| {
        let mut t = Tally::new(graph, lane, lanes, references, doomed);
        t.collect_deleted(graph, deleted);
        if !t.blobs.blobs.is_empty() || !t.own.blobs.is_empty() {
            t.mark_survivors(graph, deleted);
        }
        t.settle(graph.snapshot.repositories.len())
    });
    finish(graph, untags, tallies)
}

impl<'s> Tally<'s> {
    /// The tally of one lane, its tables sized for its share of `references` and `doomed`.
    fn new(graph: &Graph<'_>, lane: usize, lanes: usize, references: usize, doomed: usize) -> Self {
        // A lane's share of uniformly spread digests, with room for the spread.
        let share = |n: usize| {
            if lanes == 1 {
                n
            } else {
                n / lanes + n / (lanes * 16) + 64
            }
        };
        let numbering = graph.numbering.get();
        let numbered = |count: usize| count.div_ceil(lanes);
        Tally {
            lane,
            lanes,
            blobs: Pool::new(share(references), numbering.map(|n| numbered(n.blobs))),
            own: Pool::new(share(doomed), numbering.map(|n| numbered(n.owns))),
            kept_by: Vec::new(),
            rows: BTreeMap::new(),
            counts: Counts::default(),
        }
    }

    /// Whether this lane owns a digest, given its number when the graph is numbered; if so,
    /// the number in the lane's own dense table.
    fn owns(&self, digest: &Digest, number: Option<u32>) -> Option<Local> {
        let lanes = self.lanes as u64;
        match number {
            Some(n) => {
                (u64::from(n) % lanes == self.lane as u64).then(|| Local(Some(n / lanes as u32)))
            }
            None => (digest.key() % lanes == self.lane as u64).then_some(Local(None)),
        }
    }

    /// Records what deleted manifests reference, repository by repository in name order, so
    /// a blob is attributed to the first repository (by name) that frees it.
    fn collect_deleted(&mut self, graph: &Graph<'s>, deleted: &[bool]) {
        let repos = &graph.snapshot.repositories;
        let numbers = graph.numbering.get();
        for ri in graph.repositories_by_name() {
            for id in graph.manifests_of(ri).filter(|&id| deleted[id as usize]) {
                let m = graph.manifest(id);
                if self.lane == 0 {
                    let row = self
                        .rows
                        .entry(ri)
                        .or_insert_with(|| empty_row(&repos[ri as usize].name));
                    row.manifests += 1;
                    row.tags += graph.tags.of(id).len() as u64;
                    if m.is_shallow() {
                        self.counts.shallow_deleted += 1;
                        self.counts.shallow_image_bytes += m.image_size.unwrap_or(0);
                    }
                }
                if let Some(own) = self.owns(&m.digest, numbers.map(|n| n.own[id as usize])) {
                    let missing = &mut self.counts.missing_sizes;
                    self.own.record(&m.digest, own.0, ri, || {
                        // A shallow manifest's size is already reported as unknown content.
                        m.size.unwrap_or_else(|| {
                            *missing += u64::from(!m.is_shallow());
                            0
                        })
                    });
                }
                let refs = numbers.map(|n| n.refs_of(id));
                for (k, b) in m.blobs().enumerate() {
                    let Some(number) = self.owns(&b.digest, refs.map(|r| r[k])) else {
                        continue;
                    };
                    let missing = &mut self.counts.missing_sizes;
                    self.blobs.record(&b.digest, number.0, ri, || {
                        b.size.unwrap_or_else(|| {
                            *missing += 1;
                            0
                        })
                    });
                }
            }
        }
    }

    /// Marks every blob a surviving manifest, anywhere in the registry, still references.
    fn mark_survivors(&mut self, graph: &Graph<'s>, deleted: &[bool]) {
        let numbers = graph.numbering.get();
        for (id, &(ri, m)) in graph.nodes.iter().enumerate() {
            if deleted[id] {
                continue;
            }
            if self.lane == 0 {
                self.counts.shallow_alive += u64::from(m.is_shallow());
            }
            if let Some(own) = self.owns(&m.digest, numbers.map(|n| n.own[id])) {
                if let Some(slot) = self.own.slot(&m.digest, own.0) {
                    self.own.blobs[slot as usize].last_keeper = ri;
                }
            }
            let refs = numbers.map(|n| n.refs_of(id as Mid));
            for (k, d) in m.blobs().enumerate() {
                let Some(number) = self.owns(&d.digest, refs.map(|r| r[k])) else {
                    continue;
                };
                let Some(slot) = self.blobs.slot(&d.digest, number.0) else {
                    continue;
                };
                let b = &mut self.blobs.blobs[slot as usize];
                if b.last_keeper != ri {
                    b.last_keeper = ri;
                    self.kept_by.push((slot, ri));
                }
            }
        }
    }
}

impl Tally<'_> {
    /// Adds the lane's blobs up per repository (of `repositories`); its tables are freed
    /// when it returns.
    fn settle(mut self, repositories: usize) -> Settled {
        let mut freed = vec![Freed::default(); repositories];
        let (mut shared_bytes, mut shared_count) = (0, 0);
        for b in &self.blobs.blobs {
            if b.alive() {
                shared_bytes += b.size;
                shared_count += 1;
            } else {
                let f = &mut freed[b.first_repo as usize];
                f.blob_bytes += b.size;
                f.blob_count += 1;
            }
        }
        for b in self.own.blobs.iter().filter(|b| !b.alive()) {
            freed[b.first_repo as usize].manifest_bytes += b.size;
        }
        // Keepers were recorded once per run of a repository's manifests; a repository whose
        // manifests are not contiguous may repeat, so pairs are deduplicated here.
        self.kept_by.sort_unstable();
        self.kept_by.dedup();
        let mut kept = vec![Freed::default(); repositories];
        for &(slot, ri) in &self.kept_by {
            let k = &mut kept[ri as usize];
            k.blob_bytes += self.blobs.blobs[slot as usize].size;
            k.blob_count += 1;
        }
        Settled {
            rows: self.rows,
            counts: self.counts,
            freed,
            kept,
            shared_bytes,
            shared_count,
        }
    }
}

/// Adds the lanes' tallies up: sums, so the figures do not depend on the number of lanes.
fn finish(graph: &Graph<'_>, untags: &BTreeMap<u32, u64>, mut lanes: Vec<Settled>) -> Reclaim {
    let repos = &graph.snapshot.repositories;
    let mut r = Reclaim::default();
    // Lane 0 counted the manifests and tags.
    let mut rows = lanes
        .first_mut()
        .map(|t| std::mem::take(&mut t.rows))
        .unwrap_or_default();
    let mut counts = Counts::default();
    for (&ri, &n) in untags {
        rows.entry(ri)
            .or_insert_with(|| empty_row(&repos[ri as usize].name))
            .tags += n;
    }
    let mut with: BTreeMap<&RepositoryName, SharedWith> = BTreeMap::new();
    for t in lanes {
        counts.shallow_image_bytes += t.counts.shallow_image_bytes;
        counts.shallow_deleted += t.counts.shallow_deleted;
        counts.shallow_alive += t.counts.shallow_alive;
        counts.missing_sizes += t.counts.missing_sizes;
        r.shared.bytes += t.shared_bytes;
        r.shared.blob_count += t.shared_count;
        // A blob is attributed to a repository where a deleted manifest references it, so
        // every repository with figures has a row.
        for (&ri, row) in &mut rows {
            let f = t.freed[ri as usize];
            row.blob_bytes += f.blob_bytes;
            row.blob_count += f.blob_count;
            row.manifest_bytes += f.manifest_bytes;
        }
        for (ri, k) in t.kept.iter().enumerate().filter(|(_, k)| k.blob_count > 0) {
            let name = &repos[ri].name;
            let e = with.entry(name).or_insert_with(|| SharedWith {
                repository: name.clone(),
                bytes: 0,
                blob_count: 0,
            });
            e.bytes += k.blob_bytes;
            e.blob_count += k.blob_count;
        }
    }
    r.shared.with = with.into_values().collect();
    let mut rows: Vec<RepositoryReclaim> = rows.into_values().collect();
    rows.sort_by(|a, b| a.repository.cmp(&b.repository));
    for row in &rows {
        r.manifests += row.manifests;
        r.tags += row.tags;
        r.blob_bytes += row.blob_bytes;
        r.blob_count += row.blob_count;
        r.manifest_bytes += row.manifest_bytes;
    }
    r.total_bytes = r.blob_bytes + r.manifest_bytes;
    r.shallow_image_bytes = counts.shallow_image_bytes;
    r.by_repository = rows;
    if graph.snapshot.untagged_listed == Some(false) && r.manifests > 0 {
        r.inexact_reasons.push("the registry's API cannot list untagged manifests; dangling ones keep the blobs they share, so the figures are an upper bound".into());
    }
    r.inexact_reasons.extend(inexact_reasons(
        graph.snapshot.complete,
        r.manifests > 0,
        &counts,
    ));
    r.exact = r.inexact_reasons.is_empty();
    r
}

fn empty_row(name: &RepositoryName) -> RepositoryReclaim {
    RepositoryReclaim {
        repository: name.clone(),
        manifests: 0,
        tags: 0,
        blob_bytes: 0,
        blob_count: 0,
        manifest_bytes: 0,
    }
}

fn inexact_reasons(complete: bool, anything: bool, counts: &Counts) -> Vec<String> {
    let Counts {
        missing_sizes,
        shallow_deleted,
        shallow_alive,
        ..
    } = *counts;
    let mut why = Vec::new();
    if !complete && anything {
        why.push("the snapshot does not hold every repository; blobs they share stay unknown, so the figures are an upper bound".into());
    }
    if shallow_deleted > 0 {
        why.push(format!(
            "{shallow_deleted} deleted manifest(s) were captured without their content; the blobs they free are unknown (at most shallowImageBytes more)"
        ));
    }
    if shallow_alive > 0 && anything {
        why.push(format!(
            "{shallow_alive} surviving manifest(s) were captured without their content and may share blobs, so the figures are an upper bound"
        ));
    }
    if missing_sizes > 0 {
        why.push(format!(
            "{missing_sizes} deleted manifest(s) or blob(s) have no recorded size"
        ));
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{generate, GeneratorOptions};

    /// Lanes split the blobs between them; the figures must not depend on how many there are,
    /// with or without a numbering, whatever is deleted.
    #[test]
    fn figures_do_not_depend_on_the_number_of_lanes() {
        let snapshot = generate(&GeneratorOptions {
            seed: 3,
            manifests: 3_000,
            repositories: None,
        });
        let graph = Graph::build(&snapshot).unwrap();
        let n = graph.len();
        let mut untags = BTreeMap::new();
        untags.insert(0, 3);
        for numbered in [false, true] {
            if numbered {
                let _ = graph.numbering.set(Numbering::build(&graph));
            }
            for every in [2, 3, 7] {
                let deleted: Vec<bool> = (0..n).map(|i| i % every != 0).collect();
                let one = compute_in(&graph, &deleted, &untags, Some(1));
                assert!(one.blob_count > 0 && one.shared.blob_count > 0);
                for lanes in [2, 3, 5] {
                    assert_eq!(
                        compute_in(&graph, &deleted, &untags, Some(lanes)),
                        one,
                        "{lanes} lanes"
                    );
                }
            }
        }
    }
}
