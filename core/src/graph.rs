//! The snapshot as an indexed graph: manifests numbered registry-wide, with the edges the
//! planner follows (tag → manifest, index → child, referrer → subject) as compact adjacency
//! arrays. Building it is one linear pass that also checks the references between items.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::hash::{self, Map};
use crate::names::RepositoryName;
use crate::snapshot::{lock_of, Manifest, Repository, Snapshot, Tag};

/// A manifest's number in the graph.
pub(crate) type Mid = u32;

/// Adjacency lists in compressed sparse row form: the targets of `i` are
/// `targets[offsets[i]..offsets[i + 1]]`.
pub(crate) struct Csr {
    offsets: Vec<u32>,
    targets: Vec<u32>,
}

impl Csr {
    fn build(nodes: usize, mut edges: Vec<(u32, u32)>) -> Csr {
        edges.sort_unstable();
        edges.dedup();
        let mut offsets = vec![0u32; nodes + 1];
        for &(s, _) in &edges {
            offsets[s as usize + 1] += 1;
        }
        for i in 0..nodes {
            offsets[i + 1] += offsets[i];
        }
        Csr {
            offsets,
            targets: edges.into_iter().map(|(_, t)| t).collect(),
        }
    }

    /// An empty list of rows, to add with [`Csr::push_row`] (for about `rows` rows).
    pub(crate) fn with_rows(rows: usize) -> Csr {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Csr {
            offsets,
            targets: Vec::new(),
        }
    }

    /// Adds the next row, its targets kept in order (not sorted or deduplicated).
    pub(crate) fn push_row(&mut self, row: impl IntoIterator<Item = u32>) {
        self.targets.extend(row);
        self.offsets.push(self.targets.len() as u32);
    }

    pub(crate) fn of(&self, i: Mid) -> &[u32] {
        let i = i as usize;
        &self.targets[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    fn reversed(&self) -> Csr {
        let nodes = self.offsets.len() - 1;
        let mut edges = Vec::with_capacity(self.targets.len());
        for s in 0..nodes {
            for &t in self.of(s as Mid) {
                edges.push((t, s as u32));
            }
        }
        Csr::build(nodes, edges)
    }
}

/// The indexed snapshot.
pub(crate) struct Graph<'s> {
    pub snapshot: &'s Snapshot,
    /// `(repository index, manifest)` for every manifest, repository by repository.
    pub nodes: Vec<(u32, &'s Manifest)>,
    /// The first manifest number of each repository, plus the total at the end.
    pub repo_start: Vec<Mid>,
    /// Tags of each manifest (indexes into its repository's `tags`).
    pub tags: Csr,
    /// Index → children, in the same repository.
    pub children: Csr,
    /// Child → indexes that list it.
    pub parents: Csr,
    /// Referrer → subject (by `subject` or by the `sha256-<hex>` tag convention).
    pub subjects: Csr,
    /// Subject → referrers.
    pub referrers: Csr,
    /// Indexes captured without their list of children, by repository: any untagged
    /// manifest there may be one of their children.
    pub shallow_indexes: Map<u32, Vec<Mid>>,
    by_digest: ByDigest,
    by_name: Map<&'s RepositoryName, u32>,
    /// Blob and manifest digests numbered once, for a graph planned against many times.
    pub numbering: std::sync::OnceLock<Numbering>,
    /// The threads passes over this graph may use.
    pub threads: usize,
}

/// Manifest numbers by repository and digest: each repository's `(key, number)` pairs, sorted,
/// in the repository's range of numbers. A digest's eight-byte key is all a search reads, and a
/// repository's tags are resolved while its small range is in cache (a registry-wide hash
/// table missed the cache on every probe); a hit is checked against the manifest's digest, and
/// digests that share a key sit next to each other.
struct ByDigest {
    sorted: Vec<(u64, Mid)>,
}

impl ByDigest {
    /// The manifest of `range` (a repository's numbers) with `digest`.
    fn get(
        &self,
        nodes: &[(u32, &Manifest)],
        range: std::ops::Range<Mid>,
        digest: &Digest,
    ) -> Option<Mid> {
        let pairs = &self.sorted[range.start as usize..range.end as usize];
        let key = digest.key();
        let first = pairs.partition_point(|&(k, _)| k < key);
        pairs[first..]
            .iter()
            .take_while(|&&(k, _)| k == key)
            .map(|&(_, id)| id)
            .find(|&id| nodes[id as usize].1.digest == *digest)
    }

    /// Adds the repository whose manifests are `nodes[range]`; the first manifest (by number)
    /// that repeats an earlier one's digest, if any.
    fn add(&mut self, nodes: &[(u32, &Manifest)], range: std::ops::Range<Mid>) -> Option<Mid> {
        let start = self.sorted.len();
        self.sorted
            .extend(range.map(|id| (nodes[id as usize].1.digest.key(), id)));
        let pairs = &mut self.sorted[start..];
        pairs.sort_unstable();
        let mut repeat: Option<Mid> = None;
        for run in pairs
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|run| run.len() > 1)
        {
            for (k, &(_, later)) in run.iter().enumerate() {
                let digest = &nodes[later as usize].1.digest;
                if run[..k]
                    .iter()
                    .any(|&(_, id)| nodes[id as usize].1.digest == *digest)
                {
                    repeat = Some(repeat.map_or(later, |r| r.min(later)));
                }
            }
        }
        repeat
    }
}

impl<'s> Graph<'s> {
    /// Indexes `snapshot`, rejecting duplicates and tags that point nowhere, on as many threads
    /// as the machine has.
    pub fn build(snapshot: &'s Snapshot) -> Result<Graph<'s>> {
        Graph::build_with(snapshot, None)
    }

    /// [`Graph::build`] on at most `threads` threads (`None`: the machine's parallelism); the
    /// passes over this graph use as many.
    pub fn build_with(snapshot: &'s Snapshot, threads: Option<usize>) -> Result<Graph<'s>> {
        let threads = threads.unwrap_or_else(crate::par::default_threads);
        let total: usize = snapshot
            .repositories
            .iter()
            .map(|r| r.manifests.len())
            .sum();
        let mut nodes = Vec::with_capacity(total);
        let mut repo_start = Vec::with_capacity(snapshot.repositories.len() + 1);
        let mut by_digest = ByDigest {
            sorted: Vec::with_capacity(total),
        };
        let mut by_name = hash::map(snapshot.repositories.len());
        for (ri, repo) in snapshot.repositories.iter().enumerate() {
            if by_name.insert(&repo.name, ri as u32).is_some() {
                return Err(Error::Duplicate {
                    path: format!("repositories[{ri}].name"),
                    value: repo.name.to_string(),
                });
            }
            let start = nodes.len() as Mid;
            repo_start.push(start);
            nodes.extend(repo.manifests.iter().map(|m| (ri as u32, m)));
            if let Some(id) = by_digest.add(&nodes, start..nodes.len() as Mid) {
                return Err(Error::Duplicate {
                    path: format!("repositories[{ri}].manifests[{}].digest", id - start),
                    value: nodes[id as usize].1.digest.to_string(),
                });
            }
        }
        repo_start.push(nodes.len() as Mid);

        // Edges, in lanes of consecutive repositories (about the same number of manifests
        // each), joined in order; the first error in repository order wins.
        let repos = snapshot.repositories.len();
        let lanes = crate::par::lanes(total * 4, threads).min(repos.max(1));
        let parts = crate::par::each(lanes, |k| -> Result<[Vec<(Mid, Mid)>; 3]> {
            let (mut tag_edges, mut child_edges, mut subject_edges) =
                (Vec::new(), Vec::new(), Vec::new());
            for ri in repository_lane(&repo_start, lanes, k) {
                let repo = &snapshot.repositories[ri];
                let range = repo_start[ri]..repo_start[ri + 1];
                let find = |d: &Digest| by_digest.get(&nodes, range.clone(), d);
                check_tags(ri, repo, &find, &mut tag_edges, &mut subject_edges)?;
                for (offset, m) in repo.manifests.iter().enumerate() {
                    let id = repo_start[ri] + offset as Mid;
                    for child in m.manifests.iter().flatten() {
                        if let Some(c) = find(&child.digest) {
                            child_edges.push((id, c));
                        }
                    }
                    if let Some(s) = m.subject.as_ref().and_then(|s| find(&s.digest)) {
                        subject_edges.push((id, s));
                    }
                }
            }
            Ok([tag_edges, child_edges, subject_edges])
        });
        let [mut tag_edges, mut child_edges, mut subject_edges] =
            [Vec::new(), Vec::new(), Vec::new()];
        for part in parts {
            let [tags, children, subjects] = part?;
            crate::par::join(&mut tag_edges, tags);
            crate::par::join(&mut child_edges, children);
            crate::par::join(&mut subject_edges, subjects);
        }
        let mut shallow_indexes: Map<u32, Vec<Mid>> = hash::map(0);
        for (id, &(ri, m)) in nodes.iter().enumerate() {
            if m.is_index() && m.manifests.is_none() {
                shallow_indexes.entry(ri).or_default().push(id as Mid);
            }
        }
        let n = nodes.len();
        let children = Csr::build(n, child_edges);
        let subjects = Csr::build(n, subject_edges);
        Ok(Graph {
            snapshot,
            parents: children.reversed(),
            referrers: subjects.reversed(),
            children,
            subjects,
            tags: Csr::build(n, tag_edges),
            nodes,
            repo_start,
            shallow_indexes,
            by_digest,
            by_name,
            numbering: std::sync::OnceLock::new(),
            threads,
        })
    }

    /// Numbers the graph's blob and manifest digests, so every later reclaim counts with
    /// array lookups (worth it when the graph is planned against more than once).
    pub fn number_blobs(&self) {
        self.numbering.get_or_init(|| Numbering::build(self));
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn manifest(&self, id: Mid) -> &'s Manifest {
        self.nodes[id as usize].1
    }

    pub fn repo_index(&self, id: Mid) -> u32 {
        self.nodes[id as usize].0
    }

    pub fn repository(&self, id: Mid) -> &'s Repository {
        &self.snapshot.repositories[self.repo_index(id) as usize]
    }

    /// Repository indexes sorted by name (reclaim attributes blobs and actions are ordered
    /// in this order, whatever the snapshot's).
    pub fn repositories_by_name(&self) -> Vec<u32> {
        let repos = &self.snapshot.repositories;
        let mut order: Vec<u32> = (0..repos.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| repos[a as usize].name.cmp(&repos[b as usize].name));
        order
    }

    pub fn repository_by_name(&self, name: &RepositoryName) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    pub fn find(&self, repo: u32, digest: &Digest) -> Option<Mid> {
        self.by_digest
            .get(&self.nodes, self.manifests_of(repo), digest)
    }

    /// Manifest numbers of repository `repo`.
    pub fn manifests_of(&self, repo: u32) -> std::ops::Range<Mid> {
        self.repo_start[repo as usize]..self.repo_start[repo as usize + 1]
    }

    pub fn tags_of(&self, id: Mid) -> impl Iterator<Item = &'s Tag> + '_ {
        let repo = self.repository(id);
        self.tags
            .of(id)
            .iter()
            .map(move |&t| &repo.tags[t as usize])
    }

    pub fn is_tagged(&self, id: Mid) -> bool {
        !self.tags.of(id).is_empty()
    }

    /// Why this manifest itself may not be deleted: its repository, itself or one of its tags
    /// is locked.
    pub fn lock(&self, id: Mid) -> Option<String> {
        self.repository_lock(id).or_else(|| self.item_lock(id))
    }

    /// The repository's own lock, which nothing unlocks.
    pub fn repository_lock(&self, id: Mid) -> Option<String> {
        lock_of(self.repository(id).changeable_attributes.as_ref())
            .map(|l| format!("its repository is locked ({l})"))
    }

    /// A lock on the manifest or one of its tags, which `--include-locked` lifts.
    pub fn item_lock(&self, id: Mid) -> Option<String> {
        if let Some(l) = lock_of(self.manifest(id).changeable_attributes.as_ref()) {
            return Some(format!("the manifest is locked ({l})"));
        }
        self.tags_of(id).find_map(|t| {
            lock_of(t.changeable_attributes.as_ref())
                .map(|l| format!("its tag {:?} is locked ({l})", t.name.as_str()))
        })
    }
}

/// Lane `k` of `lanes`: consecutive repositories holding about `1 / lanes` of the manifests
/// (`repo_start` holds each repository's first manifest number, then the total).
pub(crate) fn repository_lane(
    repo_start: &[Mid],
    lanes: usize,
    k: usize,
) -> std::ops::Range<usize> {
    let repos = repo_start.len() - 1;
    let total = repo_start[repos] as usize;
    let bound = |k: usize| {
        if k == lanes {
            return repos;
        }
        let at = (total * k / lanes) as Mid;
        repo_start[..repos].partition_point(|&start| start < at)
    };
    bound(k)..bound(k + 1)
}

/// Checks one repository's tags (no duplicates, every digest present) and records the tag and
/// tag-convention referrer edges.
fn check_tags(
    ri: usize,
    repo: &Repository,
    find: &dyn Fn(&Digest) -> Option<Mid>,
    tag_edges: &mut Vec<(Mid, u32)>,
    subject_edges: &mut Vec<(Mid, Mid)>,
) -> Result<()> {
    let mut seen = hash::set(repo.tags.len());
    for (ti, tag) in repo.tags.iter().enumerate() {
        if !seen.insert(&tag.name) {
            return Err(Error::Duplicate {
                path: format!("repositories[{ri}].tags[{ti}].name"),
                value: tag.name.to_string(),
            });
        }
        let Some(target) = find(&tag.digest) else {
            return Err(Error::DanglingTag {
                path: format!("repositories[{ri}].tags[{ti}].digest"),
                repository: repo.name.to_string(),
                tag: tag.name.to_string(),
                digest: tag.digest.to_string(),
            });
        };
        tag_edges.push((target, ti as u32));
        if let Some(s) = tag.name.referrer_subject().and_then(|d| find(&d)) {
            if s != target {
                subject_edges.push((target, s));
            }
        }
    }
    Ok(())
}

/// Every distinct layer or config digest, and every distinct manifest digest, of a graph
/// numbered once. A snapshot planned against many times (an [`crate::IndexedSnapshot`])
/// counts reclaim with these numbers instead of hashing each reference again.
pub(crate) struct Numbering {
    /// The blob numbers of each manifest's references, in [`crate::Manifest::blobs`] order.
    pub(crate) refs: Csr,
    /// The number of each manifest's own digest.
    pub(crate) own: Vec<u32>,
    pub(crate) blobs: usize,
    pub(crate) owns: usize,
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

    pub(crate) fn refs_of(&self, id: Mid) -> &[u32] {
        self.refs.of(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{generate, GeneratorOptions};
    use crate::par::with_lanes;

    /// Edges are found in lanes; a broken snapshot must fail with the error of the first
    /// broken repository, whatever the lanes.
    #[test]
    fn the_first_broken_repository_is_reported_in_any_lanes() {
        let mut snapshot = generate(&GeneratorOptions {
            seed: 5,
            manifests: 3_000,
            repositories: None,
        });
        let last = snapshot.repositories.len() - 1;
        let dangling = Digest::sha256(b"nowhere");
        snapshot.repositories[last].tags[0].digest = dangling;
        let early = snapshot.repositories.len() / 3;
        let copy = snapshot.repositories[early].tags[0].clone();
        snapshot.repositories[early].tags.push(copy);
        for lanes in [1, 2, 3] {
            let Err(e) = with_lanes(lanes, || Graph::build(&snapshot)) else {
                panic!("{lanes} lanes: a duplicate tag was accepted");
            };
            assert!(
                matches!(&e, Error::Duplicate { path, .. } if path.starts_with(&format!("repositories[{early}].tags["))),
                "{lanes} lanes: {e}"
            );
        }
        snapshot.repositories[early].tags.pop();
        for lanes in [1, 2, 3] {
            let Err(e) = with_lanes(lanes, || Graph::build(&snapshot)) else {
                panic!("{lanes} lanes: a dangling tag was accepted");
            };
            assert!(matches!(e, Error::DanglingTag { .. }), "{lanes} lanes: {e}");
        }
    }
}
