//! A deterministic synthetic registry, for tests and benchmarks: repositories of images with
//! layers shared across the registry, multi-arch indexes (some children shared between
//! indexes), signatures and SBOMs attached by `subject` and by cosign tags, dangling
//! manifests left by re-pushed tags, and a few locks. The same options always give the same
//! snapshot, on every platform.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::media_type::MediaType;
use crate::names::{RepositoryName, TagName};
use crate::snapshot::{ChangeableAttributes, Descriptor, Manifest, Repository, Snapshot, Tag};
use crate::time::{Timestamp, DAY};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratorOptions {
    /// Seed of the pseudo-random sequence.
    #[serde(default)]
    pub seed: u64,
    /// About how many manifests to generate (the total is within a few of it).
    pub manifests: usize,
    /// How many repositories; by default one per 100 manifests.
    #[serde(default)]
    pub repositories: Option<usize>,
}

/// `SplitMix64`: tiny, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn digest(&mut self) -> Digest {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        Digest::sha256(&bytes)
    }
}

/// Timestamps span the two years before this instant.
const EPOCH: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn time(rng: &mut Rng) -> Timestamp {
    Timestamp::from_unix_seconds(EPOCH - rng.below(730 * DAY as u64) as i64)
}

fn name(s: &str) -> RepositoryName {
    RepositoryName::parse(s).unwrap_or_else(|| unreachable!("generated names are valid"))
}

fn tag(s: &str) -> TagName {
    TagName::parse(s).unwrap_or_else(|| unreachable!("generated tags are valid"))
}

/// Generates a snapshot.
pub fn generate(options: &GeneratorOptions) -> Snapshot {
    let mut rng = Rng(options.seed);
    let repos = options
        .repositories
        .unwrap_or(options.manifests / 100)
        .max(1);
    let base_layers: Vec<Descriptor> = (0..64)
        .map(|_| Descriptor::blob(rng.digest(), 20_000_000 + rng.below(30_000_000)))
        .collect();
    let mut repositories = Vec::with_capacity(repos);
    let mut left = options.manifests;
    for r in 0..repos {
        let quota = left / (repos - r);
        left -= quota;
        repositories.push(repository(&mut rng, r, quota, &base_layers));
    }
    Snapshot {
        incomplete_reasons: Vec::new(),
        registry: Some("synthetic.example.io".into()),
        complete: true,
        untagged_listed: None,
        repositories,
        api: None,
    }
}

fn image(rng: &mut Rng, base: &[Descriptor], t: Timestamp) -> Manifest {
    let mut m = Manifest::new(rng.digest());
    m.media_type = Some(if rng.chance(50) {
        MediaType::OciManifest
    } else {
        MediaType::DockerManifest
    });
    m.size = Some(400 + rng.below(1200));
    m.created_time = Some(t);
    m.last_update_time = Some(t.minus_seconds(-(rng.below(DAY as u64) as i64)));
    m.config = Some(Descriptor::blob(rng.digest(), 1_000 + rng.below(9_000)));
    let mut layers = vec![base[rng.below(base.len() as u64) as usize].clone()];
    if rng.chance(60) {
        layers.push(base[rng.below(base.len() as u64) as usize].clone());
        layers.dedup();
    }
    for _ in 0..4 + rng.below(5) {
        layers.push(Descriptor::blob(
            rng.digest(),
            1_000 + rng.below(40_000_000),
        ));
    }
    m.layers = Some(layers.into());
    if rng.chance(1) {
        m.changeable_attributes = Some(ChangeableAttributes {
            delete_enabled: Some(false),
            ..ChangeableAttributes::default()
        });
    }
    m
}

fn repository(rng: &mut Rng, r: usize, quota: usize, base: &[Descriptor]) -> Repository {
    let mut manifests: Vec<Manifest> = Vec::with_capacity(quota);
    let mut tags = Vec::new();
    let mut version = 0;
    while manifests.len() < quota {
        version += 1;
        let t = time(rng);
        let roll = rng.below(100);
        let head = if roll < 10 && quota - manifests.len() >= 4 {
            // A multi-arch index; its second child is sometimes shared with the previous one.
            let mut idx = Manifest::new(rng.digest());
            idx.media_type = Some(MediaType::OciIndex);
            idx.size = Some(300 + rng.below(600));
            idx.created_time = Some(t);
            idx.last_update_time = Some(t);
            let mut children = Vec::new();
            for _ in 0..2 + rng.below(2) {
                let child = image(rng, base, t);
                children.push(Descriptor {
                    media_type: child.media_type.clone(),
                    digest: child.digest.clone(),
                    size: child.size,
                    platform: None,
                    artifact_type: None,
                });
                manifests.push(child);
            }
            if let Some(prev) = manifests
                .iter()
                .rev()
                .skip(children.len())
                .find(|m| m.config.is_some())
                .filter(|_| rng.chance(20))
            {
                children.push(Descriptor::blob(
                    prev.digest.clone(),
                    prev.size.unwrap_or(0),
                ));
            }
            idx.manifests = Some(children.into());
            idx
        } else {
            image(rng, base, t)
        };
        let head_digest = head.digest.clone();
        manifests.push(head);
        // Most images are tagged (some with several tags); the rest are dangling.
        if rng.chance(85) {
            let n = 1 + rng.below(5);
            for i in 0..n {
                let name = if i == 0 {
                    format!("v{version}")
                } else {
                    format!("v{version}-{i}")
                };
                tags.push(Tag {
                    name: tag(&name),
                    digest: head_digest.clone(),
                    created_time: Some(t),
                    last_update_time: Some(t),
                    changeable_attributes: None,
                });
            }
        }
        // Signatures: an OCI referrer, or a cosign tag.
        if rng.chance(10) && manifests.len() < quota {
            let mut sig = Manifest::new(rng.digest());
            sig.media_type = Some(MediaType::OciManifest);
            sig.artifact_type = Some("application/vnd.dev.cosign.artifact.sig.v1+json".into());
            sig.size = Some(700);
            sig.created_time = Some(t);
            sig.last_update_time = Some(t);
            sig.config = Some(Descriptor::blob(rng.digest(), 233));
            sig.layers = Some(Box::new([Descriptor::blob(
                rng.digest(),
                250 + rng.below(500),
            )]));
            if rng.chance(50) {
                sig.subject = Some(Box::new(Descriptor::blob(head_digest.clone(), 0)));
            } else {
                tags.push(Tag {
                    name: tag(&format!("sha256-{}.sig", head_digest.encoded())),
                    digest: sig.digest.clone(),
                    created_time: Some(t),
                    last_update_time: Some(t),
                    changeable_attributes: None,
                });
            }
            manifests.push(sig);
        }
    }
    Repository {
        name: name(&format!("team{}/service-{r}", r % 37)),
        changeable_attributes: None,
        manifests,
        tags,
        visibility: None,
    }
}
