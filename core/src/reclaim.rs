//! Exact reclaimable bytes.
//!
//! Registries store each blob once, whichever repositories use it (ACR and distribution both
//! deduplicate registry-wide), and a manifest's own bytes are a blob too. So a blob is given
//! back iff some deleted manifest referenced it and no surviving manifest anywhere does.

use std::collections::hash_map::Entry;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::graph::{Graph, Mid};
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

/// A reference a deleted manifest makes (to a layer or config blob, or to its own bytes), as
/// gathered: the blob is recorded when its partition is counted.
#[derive(Clone, Copy)]
struct Held<'s> {
    /// The digest's key, or its number when the graph is numbered.
    key: u64,
    digest: &'s Digest,
    /// The recorded size, 0 when there is none.
    size: u64,
    repository: u32,
    /// Whether a missing size is counted against exactness if this reference is the blob's
    /// first (a shallow manifest's own size is already reported as unknown content).
    size_missing: bool,
}

/// A reference a surviving manifest makes, as gathered.
#[derive(Clone, Copy)]
struct Seen<'s> {
    key: u64,
    digest: &'s Digest,
    repository: u32,
}

/// How the blobs of one kind (layers and configs, or manifests' own bytes) are split into
/// partitions: by the top bits of a digest's key, or, when the graph is numbered, by ranges
/// of numbers.
#[derive(Clone, Copy)]
struct Split {
    /// How many partitions.
    count: usize,
    /// How far a key is shifted right to give its partition (64 or more: one partition).
    shift: u32,
    /// The size of a numbered partition's range (0 when partitions go by key).
    numbered: usize,
}

impl Split {
    /// Partitions of about `size` blobs for `blobs` blobs, or ranges of numbers for the
    /// `numbered` digests of a [`Numbering`].
    fn new(blobs: usize, numbered: Option<usize>, size: usize) -> Split {
        if let Some(numbers) = numbered {
            // A dense table takes 4 bytes per number, not 32 per blob, so its ranges are
            // larger (a million numbers): a snapshot the size the preview widget holds is one
            // range. A range need not be larger than the numbers there are.
            let size = size
                .saturating_mul(128)
                .clamp(1, numbers.max(1))
                .next_power_of_two();
            Split {
                count: numbers.div_ceil(size).max(1),
                shift: size.trailing_zeros(),
                numbered: size,
            }
        } else {
            let count = blobs.div_ceil(size.max(1)).next_power_of_two();
            Split {
                count,
                shift: 64 - count.trailing_zeros(),
                numbered: 0,
            }
        }
    }

    fn of(self, key: u64) -> usize {
        key.checked_shr(self.shift).unwrap_or(0) as usize
    }
}

/// Items by partition, each partition a list of fixed-size chunks of one store. A lane's
/// references are then a few large allocations, which go back to the system when freed: a
/// vector per partition (hundreds of ~200 KB blocks) stayed with the allocator's per-thread
/// arenas after the plan, raising its peak memory by ~200 MB at a million manifests.
struct Chunks<T> {
    store: Vec<T>,
    /// Per partition: where its chunks start in `store`, in order (multiples of `CHUNK`).
    starts: Vec<Vec<u32>>,
    /// Per partition: where its next item goes; a multiple of `CHUNK` when its last chunk is
    /// full (or it has none).
    next: Vec<u32>,
}

/// Items in a chunk.
const CHUNK: usize = 256;

impl<T: Copy> Chunks<T> {
    /// Chunks for `partitions` partitions and about `items` items.
    fn new(partitions: usize, items: usize) -> Chunks<T> {
        Chunks {
            store: Vec::with_capacity(items + partitions.min(items) * CHUNK),
            starts: vec![Vec::new(); partitions],
            next: vec![0; partitions],
        }
    }

    fn push(&mut self, partition: usize, item: T) {
        let next = &mut self.next[partition];
        if *next as usize % CHUNK == 0 {
            let start = self.store.len();
            // The new chunk's unused places hold copies of the item until they are written.
            self.store.resize(start + CHUNK, item);
            self.starts[partition].push(start as u32);
            *next = start as u32;
        }
        self.store[*next as usize] = item;
        *next += 1;
    }

    /// The items of a partition, in the order they were pushed.
    fn of(&self, partition: usize) -> impl Iterator<Item = &T> + '_ {
        let starts = &self.starts[partition];
        let end = self.next[partition] as usize;
        starts.iter().enumerate().flat_map(move |(i, &start)| {
            let start = start as usize;
            let n = if i + 1 == starts.len() {
                end - start
            } else {
                CHUNK
            };
            &self.store[start..start + n]
        })
    }

    fn len_of(&self, partition: usize) -> usize {
        match self.starts[partition].last() {
            None => 0,
            Some(&last) => {
                (self.starts[partition].len() - 1) * CHUNK + self.next[partition] as usize
                    - last as usize
            }
        }
    }
}

/// One lane's gathered references of one kind, by partition, each in the order the lane
/// visited the manifests; or, when there is one lane and one partition, counted as they come
/// (`direct`: buffering them would only add work).
struct Parts<'s> {
    split: Split,
    held: Chunks<Held<'s>>,
    seen: Chunks<Seen<'s>>,
    direct: Option<Counter<'s>>,
}

impl<'s> Parts<'s> {
    /// Partitions for about `held` and `seen` references; counted as they come if `direct`.
    fn new(split: Split, held: usize, seen: usize, direct: bool) -> Parts<'s> {
        if direct {
            return Parts {
                split,
                held: Chunks::new(0, 0),
                seen: Chunks::new(0, 0),
                direct: Some(Counter::new(split, held)),
            };
        }
        Parts {
            split,
            held: Chunks::new(split.count, held),
            seen: Chunks::new(split.count, seen),
            direct: None,
        }
    }

    fn hold(&mut self, r: Held<'s>) {
        match &mut self.direct {
            Some(c) => c.record(&r),
            None => self.held.push(self.split.of(r.key), r),
        }
    }

    fn see(&mut self, r: Seen<'s>) {
        match &mut self.direct {
            Some(c) => c.mark(&r),
            None => self.seen.push(self.split.of(r.key), r),
        }
    }
}

/// Counts one partition at a time: what deleted manifests reference is recorded first (the
/// first reference to a blob wins), then surviving references mark blobs kept.
struct Counter<'s> {
    pool: Pool<'s>,
    /// Pairs (slot, repository keeping it).
    kept_by: Vec<(u32, u32)>,
    missing_sizes: u64,
}

impl<'s> Counter<'s> {
    fn new(split: Split, size: usize) -> Counter<'s> {
        Counter {
            pool: Pool::new(split, size),
            kept_by: Vec::new(),
            missing_sizes: 0,
        }
    }

    fn record(&mut self, r: &Held<'s>) {
        self.pool.record(r, &mut self.missing_sizes);
    }

    fn mark(&mut self, r: &Seen<'_>) {
        let Some(slot) = self.pool.slot(r) else {
            return;
        };
        let b = &mut self.pool.blobs[slot as usize];
        if b.last_keeper != r.repository {
            b.last_keeper = r.repository;
            self.kept_by.push((slot, r.repository));
        }
    }

    /// Adds the partition up into `c` (as the manifests' own bytes when `own`).
    fn settle(&mut self, own: bool, c: &mut Counted) {
        c.missing_sizes += std::mem::take(&mut self.missing_sizes);
        let blobs = &self.pool.blobs;
        if own {
            for b in blobs.iter().filter(|b| !b.alive()) {
                let f = &mut c.freed[b.first_repo as usize];
                f.manifest_bytes = f.manifest_bytes.saturating_add(b.size);
            }
        } else {
            for b in blobs {
                if b.alive() {
                    c.shared_bytes = c.shared_bytes.saturating_add(b.size);
                    c.shared_count += 1;
                } else {
                    let f = &mut c.freed[b.first_repo as usize];
                    f.blob_bytes = f.blob_bytes.saturating_add(b.size);
                    f.blob_count += 1;
                }
            }
            // Keepers were recorded once per run of a repository's manifests; a repository
            // whose manifests are not contiguous may repeat, so pairs are deduplicated here.
            self.kept_by.sort_unstable();
            self.kept_by.dedup();
            for &(slot, ri) in &self.kept_by {
                let k = &mut c.kept[ri as usize];
                k.blob_bytes = k.blob_bytes.saturating_add(blobs[slot as usize].size);
                k.blob_count += 1;
            }
        }
        self.kept_by.clear();
    }
}

/// The blobs of one partition by digest: an index into a vector. The table is keyed by a
/// digest's eight-byte key (16-byte entries); the digest itself is checked on a hit, and
/// digests that share a key with another go to `spill`. In a numbered partition, `dense`
/// maps each number of the partition's range to its slot instead.
struct Pool<'s> {
    numbered: bool,
    index: Map<u64, u32>,
    spill: Map<&'s Digest, u32>,
    dense: Vec<u32>,
    blobs: Vec<Blob<'s>>,
}

const NOBODY: u32 = u32::MAX;

impl<'s> Pool<'s> {
    /// A pool for one partition of `split` at a time.
    fn new(split: Split, size: usize) -> Pool<'s> {
        let numbered = split.numbered > 0;
        Pool {
            numbered,
            index: crate::hash::map(if numbered { 0 } else { size }),
            spill: crate::hash::map(0),
            dense: vec![NOBODY; split.numbered],
            blobs: Vec::with_capacity(size),
        }
    }

    /// Empties the pool for the next partition, keeping its capacity.
    fn clear(&mut self) {
        self.index.clear();
        self.spill.clear();
        self.dense.fill(NOBODY);
        self.blobs.clear();
    }

    /// Records the blob a deleted manifest references (the first record wins); a missing
    /// size is counted in `missing` once per blob.
    fn record(&mut self, r: &Held<'s>, missing: &mut u64) {
        let next = self.blobs.len() as u32;
        if self.numbered {
            let at = self.dense_at(r.key);
            let slot = &mut self.dense[at];
            if *slot != NOBODY {
                return;
            }
            *slot = next;
        } else {
            match self.index.entry(r.key) {
                Entry::Vacant(e) => {
                    e.insert(next);
                }
                Entry::Occupied(e) => {
                    if self.blobs[*e.get() as usize].digest == r.digest {
                        return;
                    }
                    match self.spill.entry(r.digest) {
                        Entry::Occupied(_) => return,
                        Entry::Vacant(e) => e.insert(next),
                    };
                }
            }
        }
        *missing += u64::from(r.size_missing);
        self.blobs.push(Blob {
            digest: r.digest,
            size: r.size,
            first_repo: r.repository,
            last_keeper: NOBODY,
        });
    }

    /// Where a number goes in the dense table of its partition's range (a power of two).
    fn dense_at(&self, number: u64) -> usize {
        number as usize & (self.dense.len() - 1)
    }

    fn slot(&self, r: &Seen<'_>) -> Option<u32> {
        if self.numbered {
            let slot = self.dense[self.dense_at(r.key)];
            return (slot != NOBODY).then_some(slot);
        }
        let slot = *self.index.get(&r.key)?;
        if self.blobs[slot as usize].digest == r.digest {
            Some(slot)
        } else {
            self.spill.get(r.digest).copied()
        }
    }
}

/// About how many blobs a partition holds: its table (16-byte entries, at most half full)
/// then stays in the L2 cache while the partition is counted.
const PARTITION: usize = 1 << 13;

/// What one lane gathered from its share of the manifests: deleted manifests' references
/// from consecutive repositories in name order, surviving manifests' from a consecutive
/// range of manifest numbers.
struct Gathered<'s> {
    /// Layer and config blobs.
    blobs: Parts<'s>,
    /// The manifests' own bytes, by digest (a digest stored in two repositories is one blob).
    own: Parts<'s>,
    /// Per repository: manifests deleted and tags removed with them.
    rows: BTreeMap<u32, RepositoryReclaim>,
    counts: Counts,
}

/// Counts besides bytes: shallow manifests (made while gathering) and blobs without a
/// recorded size (made while counting), added up over the lanes.
#[derive(Default)]
struct Counts {
    missing_sizes: u64,
    shallow_deleted: u64,
    shallow_alive: u64,
    shallow_image_bytes: u64,
}

/// A lane's share of the partitions, counted and added up: dense by repository index, so
/// millions of blobs are summed in lanes (a row looked up by repository per blob, on one
/// thread, was a quarter of reclaim at a million manifests).
struct Counted {
    /// Per repository index: what the blobs first referenced there give back.
    freed: Vec<Freed>,
    /// Per repository index: the shared blobs its survivors keep.
    kept: Vec<Freed>,
    shared_bytes: u64,
    shared_count: u64,
    missing_sizes: u64,
}

impl Counted {
    fn new(repositories: usize) -> Counted {
        Counted {
            freed: vec![Freed::default(); repositories],
            kept: vec![Freed::default(); repositories],
            shared_bytes: 0,
            shared_count: 0,
            missing_sizes: 0,
        }
    }
}

/// Bytes and blobs given back (or kept) for one repository; `manifest_bytes` for the
/// deleted manifests' own bytes.
#[derive(Default, Clone, Copy)]
struct Freed {
    blob_bytes: u64,
    blob_count: u64,
    manifest_bytes: u64,
}

/// Computes reclaim for the manifests marked in `deleted`, plus `untags`: tags removed on
/// their own (from manifests that stay), counted per repository.
pub(crate) fn compute(graph: &Graph<'_>, deleted: &[bool], untags: &BTreeMap<u32, u64>) -> Reclaim {
    compute_in(graph, deleted, untags, None, PARTITION)
}

/// [`compute`] in `lanes` lanes, by default as many as the work is worth (the result does not
/// depend on how many).
fn compute_in(
    graph: &Graph<'_>,
    deleted: &[bool],
    untags: &BTreeMap<u32, u64>,
    lanes: Option<usize>,
    partition: usize,
) -> Reclaim {
    // Sized by what the deleted and the surviving manifests reference (an upper bound of the
    // distinct blobs): at a million manifests a guess per manifest costs hundreds of MB.
    let (mut doomed, mut references, mut surviving) = (0, 0, 0);
    for (&(_, m), &d) in graph.nodes.iter().zip(deleted) {
        let n = m.blobs().count();
        if d {
            doomed += 1;
            references += n;
        } else {
            surviving += n;
        }
    }
    let lanes = lanes.unwrap_or_else(|| crate::par::lanes(references, graph.threads));
    let numbering = graph.numbering.get();
    let splits = [
        Split::new(references, numbering.map(|n| n.blobs), partition),
        Split::new(doomed, numbering.map(|n| n.owns), partition),
    ];
    let sizes = [references, surviving, doomed, graph.len() - doomed].map(|n| n / lanes + 64);
    let direct = lanes == 1 && splits.iter().all(|s| s.count == 1);
    // Gathering: each lane reads its share of the manifests once.
    let order = graph.repositories_by_name();
    let starts = starts_in(graph, &order);
    let mut gathered = crate::par::each(lanes, |lane| {
        let mut g = Gathered {
            blobs: Parts::new(splits[0], sizes[0], sizes[1], direct),
            own: Parts::new(splits[1], sizes[2], sizes[3], direct),
            rows: BTreeMap::new(),
            counts: Counts::default(),
        };
        let repos = crate::graph::repository_lane(&starts, lanes, lane);
        g.gather_deleted(graph, deleted, &order[repos]);
        let n = graph.len();
        g.gather_survivors(graph, deleted, n * lane / lanes..n * (lane + 1) / lanes);
        g
    });
    // Counting: each lane takes every `lanes`-th partition and reads what every lane gathered
    // for it, in lane order, which is the visiting order.
    let repositories = graph.snapshot.repositories.len();
    let counted = if direct {
        let mut c = Counted::new(repositories);
        for g in &mut gathered {
            for (own, parts) in [(false, &mut g.blobs), (true, &mut g.own)] {
                if let Some(counter) = &mut parts.direct {
                    counter.settle(own, &mut c);
                }
            }
        }
        vec![c]
    } else {
        crate::par::each(lanes, |lane| count(&gathered, lane, lanes, repositories))
    };
    let mut rows = BTreeMap::new();
    let mut counts = Counts::default();
    for g in gathered {
        rows.extend(g.rows);
        counts.shallow_deleted += g.counts.shallow_deleted;
        counts.shallow_alive += g.counts.shallow_alive;
        counts.shallow_image_bytes += g.counts.shallow_image_bytes;
    }
    finish(graph, untags, rows, counts, counted)
}

/// Where each repository's manifests start when repositories are taken in `order`, then the
/// total: what [`crate::graph::repository_lane`] splits into lanes.
fn starts_in(graph: &Graph<'_>, order: &[u32]) -> Vec<Mid> {
    let mut starts = Vec::with_capacity(order.len() + 1);
    let mut at = 0;
    for &ri in order {
        starts.push(at);
        at += graph.manifests_of(ri).len() as Mid;
    }
    starts.push(at);
    starts
}

impl<'s> Gathered<'s> {
    /// The manifests' own bytes when `own`, else their layer and config blobs.
    fn parts(&self, own: bool) -> &Parts<'s> {
        if own {
            &self.own
        } else {
            &self.blobs
        }
    }

    /// Gathers what the deleted manifests of `repos` (consecutive in name order) reference,
    /// so a blob is attributed to the first repository (by name) that frees it.
    fn gather_deleted(&mut self, graph: &Graph<'s>, deleted: &[bool], repos: &[u32]) {
        let numbers = graph.numbering.get();
        for &ri in repos {
            for id in graph.manifests_of(ri).filter(|&id| deleted[id as usize]) {
                let m = graph.manifest(id);
                let row = self
                    .rows
                    .entry(ri)
                    .or_insert_with(|| empty_row(&graph.snapshot.repositories[ri as usize].name));
                row.manifests += 1;
                row.tags += graph.tags.of(id).len() as u64;
                if m.is_shallow() {
                    self.counts.shallow_deleted += 1;
                    self.counts.shallow_image_bytes = self
                        .counts
                        .shallow_image_bytes
                        .saturating_add(m.image_size.unwrap_or(0));
                }
                self.own.hold(Held {
                    key: numbers.map_or_else(|| m.digest.key(), |n| n.own[id as usize].into()),
                    digest: &m.digest,
                    size: m.size.unwrap_or(0),
                    repository: ri,
                    // A shallow manifest's size is already reported as unknown content.
                    size_missing: m.size.is_none() && !m.is_shallow(),
                });
                let refs = numbers.map(|n| n.refs_of(id));
                for (k, b) in m.blobs().enumerate() {
                    self.blobs.hold(Held {
                        key: refs.map_or_else(|| b.digest.key(), |r| r[k].into()),
                        digest: &b.digest,
                        size: b.size.unwrap_or(0),
                        repository: ri,
                        size_missing: b.size.is_none(),
                    });
                }
            }
        }
    }

    /// Gathers what the surviving manifests among `ids` reference.
    fn gather_survivors(
        &mut self,
        graph: &Graph<'s>,
        deleted: &[bool],
        ids: std::ops::Range<usize>,
    ) {
        let numbers = graph.numbering.get();
        for id in ids {
            if deleted[id] {
                continue;
            }
            let (ri, m) = graph.nodes[id];
            self.counts.shallow_alive += u64::from(m.is_shallow());
            self.own.see(Seen {
                key: numbers.map_or_else(|| m.digest.key(), |n| n.own[id].into()),
                digest: &m.digest,
                repository: ri,
            });
            let refs = numbers.map(|n| n.refs_of(id as Mid));
            for (k, d) in m.blobs().enumerate() {
                self.blobs.see(Seen {
                    key: refs.map_or_else(|| d.digest.key(), |r| r[k].into()),
                    digest: &d.digest,
                    repository: ri,
                });
            }
        }
    }
}

/// Counts lane `lane`'s share of the partitions (every `lanes`-th) and adds them up per
/// repository (of `repositories`).
fn count(gathered: &[Gathered<'_>], lane: usize, lanes: usize, repositories: usize) -> Counted {
    let mut c = Counted::new(repositories);
    let Some(first) = gathered.first() else {
        return c;
    };
    for (own, split) in [(false, first.blobs.split), (true, first.own.split)] {
        let biggest = (lane..split.count)
            .step_by(lanes)
            .map(|p| {
                gathered
                    .iter()
                    .map(|g| g.parts(own).held.len_of(p))
                    .sum::<usize>()
            })
            .max()
            .unwrap_or(0);
        let mut counter = Counter::new(split, biggest);
        for p in (lane..split.count).step_by(lanes) {
            if !counter.pool.blobs.is_empty() {
                counter.pool.clear();
            }
            for r in gathered.iter().flat_map(|g| g.parts(own).held.of(p)) {
                counter.record(r);
            }
            if counter.pool.blobs.is_empty() {
                continue;
            }
            for r in gathered.iter().flat_map(|g| g.parts(own).seen.of(p)) {
                counter.mark(r);
            }
            counter.settle(own, &mut c);
        }
    }
    c
}

/// Adds the lanes' figures up: sums, so they do not depend on the number of lanes.
fn finish(
    graph: &Graph<'_>,
    untags: &BTreeMap<u32, u64>,
    mut rows: BTreeMap<u32, RepositoryReclaim>,
    mut counts: Counts,
    lanes: Vec<Counted>,
) -> Reclaim {
    let repos = &graph.snapshot.repositories;
    let mut r = Reclaim::default();
    for (&ri, &n) in untags {
        rows.entry(ri)
            .or_insert_with(|| empty_row(&repos[ri as usize].name))
            .tags += n;
    }
    let mut with: BTreeMap<&RepositoryName, SharedWith> = BTreeMap::new();
    for t in lanes {
        counts.missing_sizes += t.missing_sizes;
        r.shared.bytes = r.shared.bytes.saturating_add(t.shared_bytes);
        r.shared.blob_count += t.shared_count;
        // A blob is attributed to a repository where a deleted manifest references it, so
        // every repository with figures has a row.
        for (&ri, row) in &mut rows {
            let f = t.freed[ri as usize];
            row.blob_bytes = row.blob_bytes.saturating_add(f.blob_bytes);
            row.blob_count += f.blob_count;
            row.manifest_bytes = row.manifest_bytes.saturating_add(f.manifest_bytes);
        }
        for (ri, k) in t.kept.iter().enumerate().filter(|(_, k)| k.blob_count > 0) {
            let name = &repos[ri].name;
            let e = with.entry(name).or_insert_with(|| SharedWith {
                repository: name.clone(),
                bytes: 0,
                blob_count: 0,
            });
            e.bytes = e.bytes.saturating_add(k.blob_bytes);
            e.blob_count += k.blob_count;
        }
    }
    r.shared.with = with.into_values().collect();
    let mut rows: Vec<RepositoryReclaim> = rows.into_values().collect();
    rows.sort_by(|a, b| a.repository.cmp(&b.repository));
    for row in &rows {
        r.manifests += row.manifests;
        r.tags += row.tags;
        r.blob_bytes = r.blob_bytes.saturating_add(row.blob_bytes);
        r.blob_count += row.blob_count;
        r.manifest_bytes = r.manifest_bytes.saturating_add(row.manifest_bytes);
    }
    // Sums saturate instead of wrapping: a figure at u64::MAX is a sum that left 64 bits, and
    // the plan says so instead of calling it exact.
    r.total_bytes = r.blob_bytes.saturating_add(r.manifest_bytes);
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
    if [r.total_bytes, r.shared.bytes, r.shallow_image_bytes].contains(&u64::MAX) {
        r.inexact_reasons.push(
            "the sizes add up past 2^64 bytes; the figures are capped there and wrong".into(),
        );
    }
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

    /// Lanes split the manifests and then the partitions between them, and blobs are counted
    /// a partition at a time; the figures must not depend on how many lanes or partitions
    /// there are, with or without a numbering, whatever is deleted.
    #[test]
    fn figures_do_not_depend_on_lanes_or_partitions() {
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
                let _ = graph.numbering.set(crate::graph::Numbering::build(&graph));
            }
            // Every manifest but each 2nd, 3rd or 7th (blobs shared with survivors stay), or
            // all of them (a blob that many repositories free is attributed to the first).
            for every in [2, 3, 7, usize::MAX] {
                let deleted: Vec<bool> = (0..n).map(|i| i % every != 0 || i == 0).collect();
                let one = compute_in(&graph, &deleted, &untags, Some(1), usize::MAX >> 1);
                assert!(one.blob_count > 0 && one.manifest_bytes > 0);
                assert_eq!(one.shared.blob_count > 0, every != usize::MAX);
                for lanes in [1, 2, 3, 5] {
                    for partition in [1, 7, 64, PARTITION] {
                        assert_eq!(
                            compute_in(&graph, &deleted, &untags, Some(lanes), partition),
                            one,
                            "{lanes} lanes, partitions of {partition}"
                        );
                    }
                }
            }
        }
    }

    /// Lanes of repositories in name order cover every repository once, in order, and an
    /// empty lane is an empty range.
    #[test]
    fn lanes_of_repositories_by_name_cover_them_in_order() {
        let snapshot = generate(&GeneratorOptions {
            seed: 5,
            manifests: 500,
            repositories: Some(7),
        });
        let graph = Graph::build(&snapshot).unwrap();
        let order = graph.repositories_by_name();
        let starts = starts_in(&graph, &order);
        assert_eq!(starts.last().copied(), Some(graph.len() as Mid));
        for lanes in [1, 2, 3, 7, 12] {
            let ranges: Vec<_> = (0..lanes)
                .map(|k| crate::graph::repository_lane(&starts, lanes, k))
                .collect();
            assert_eq!(ranges[0].start, 0, "{lanes} lanes");
            assert_eq!(ranges[lanes - 1].end, order.len(), "{lanes} lanes");
            for w in ranges.windows(2) {
                assert_eq!(w[0].end, w[1].start, "{lanes} lanes: {ranges:?}");
            }
        }
    }
}
