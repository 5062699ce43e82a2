//! A distribution registry's storage directory (filesystem driver) → snapshot.
//!
//! The only place where untagged manifests of a Distribution registry are visible, and where
//! blob sizes are exact: what `garbage-collect` frees can then be predicted to the byte. The
//! adapters walk the directory (`docker/registry/v2/repositories/<name>/_manifests/…` and
//! `…/blobs/sha256/<xx>/<hex>/data`) into a [`StorageListing`]; this module checks and models
//! it.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::import::parse_manifest;
use crate::names::{RepositoryName, TagName};
use crate::snapshot::{Repository, Snapshot, Tag};
use crate::time::Timestamp;

/// What an adapter read from a storage directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageListing {
    /// The registry's name, for display.
    #[serde(default)]
    pub registry: Option<String>,
    /// Each repository's revisions (manifests with a revision link) and tags.
    pub repositories: Vec<StoredRepository>,
    /// The size of every blob data file, by digest.
    pub blob_sizes: BTreeMap<Digest, u64>,
    /// The bytes of every manifest blob a revision names (manifests are JSON, hence UTF-8).
    pub manifests: BTreeMap<Digest, String>,
    /// The bytes of the image configs [`wanted_configs`] names (JSON): a manifest's
    /// `createdTime` is its config's `created` (when the image was built), while its
    /// `lastUpdateTime` is the push (the revision link's time). Without them both are the push.
    #[serde(default)]
    pub configs: BTreeMap<Digest, String>,
}

/// Image configs larger than this are not read for their `created` (a config is a few KiB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The image configs whose `created` the adapter should read into
/// [`StorageListing::configs`]: each listed manifest's config blob, when the storage has it
/// and it is at most [`MAX_CONFIG_BYTES`].
pub fn wanted_configs(listing: &StorageListing) -> Vec<Digest> {
    let mut out: Vec<Digest> = listing
        .manifests
        .iter()
        .filter_map(|(digest, text)| parse_manifest(text.as_bytes(), Some(digest), None).ok())
        .filter_map(|m| m.config.map(|c| c.digest))
        .filter(|d| {
            listing
                .blob_sizes
                .get(d)
                .is_some_and(|&n| n <= MAX_CONFIG_BYTES)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One repository of the storage directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoredRepository {
    /// The repository name (its path under `repositories/`).
    pub name: RepositoryName,
    /// `_manifests/revisions/sha256/<hex>/link`, with the link file's modification time.
    pub revisions: Vec<StoredRevision>,
    /// `_manifests/tags/<tag>/current/link`: the digest each tag points at, and when.
    pub tags: Vec<StoredTag>,
}

/// A manifest revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoredRevision {
    /// The manifest digest.
    pub digest: Digest,
    /// When the revision link was written (the push).
    #[serde(default)]
    pub time: Option<Timestamp>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoredTag {
    /// The tag.
    pub name: TagName,
    /// The digest in `current/link`.
    pub digest: Digest,
    /// When the link was written.
    #[serde(default)]
    pub time: Option<Timestamp>,
}

/// Builds the snapshot of a storage listing: every revision (tagged or not), content parsed
/// and verified against its digest, blob sizes taken from the files, times from the links.
pub fn distribution_storage(listing: &StorageListing) -> Result<Snapshot> {
    let mut built: HashMap<&Digest, Option<Timestamp>> = HashMap::new();
    for (digest, text) in &listing.configs {
        if digest.recompute(text.as_bytes()).as_ref() != Some(digest) {
            return Err(Error::InvalidOperation {
                path: format!("configs.{digest}"),
                message: format!("the config's bytes do not hash to {digest}"),
            });
        }
        built.insert(digest, super::config_created(text.as_bytes()));
    }
    let mut parsed = HashMap::new();
    for (digest, text) in &listing.manifests {
        let m = parse_manifest(text.as_bytes(), Some(digest), None)
            .map_err(|e| e.under(&format!("manifests.{digest}")))?;
        parsed.insert(digest.clone(), m);
    }
    let mut repositories = Vec::with_capacity(listing.repositories.len());
    for (ri, repo) in listing.repositories.iter().enumerate() {
        let mut manifests = Vec::with_capacity(repo.revisions.len());
        for (i, rev) in repo.revisions.iter().enumerate() {
            let Some(m) = parsed.get(&rev.digest) else {
                return Err(Error::InvalidOperation {
                    path: format!("repositories[{ri}].revisions[{i}]"),
                    message: format!(
                        "revision {} has no manifest blob in the listing",
                        rev.digest
                    ),
                });
            };
            let mut m = m.clone();
            // Exact sizes from the files, whatever the manifest claims.
            for d in m.config.iter_mut().chain(m.layers.iter_mut().flatten()) {
                d.size = Some(listing.blob_sizes.get(&d.digest).copied().unwrap_or(0));
            }
            // Built (the config's `created`) when the config was read, else pushed.
            let created = m
                .config
                .as_ref()
                .and_then(|c| built.get(&c.digest).copied().flatten());
            m.created_time = created.or(rev.time);
            m.last_update_time = rev.time;
            manifests.push(m);
        }
        let tags = repo
            .tags
            .iter()
            .map(|t| Tag {
                name: t.name.clone(),
                digest: t.digest.clone(),
                created_time: t.time,
                last_update_time: t.time,
                changeable_attributes: None,
            })
            .collect();
        repositories.push(Repository {
            name: repo.name.clone(),
            changeable_attributes: None,
            manifests,
            tags,
            visibility: None,
        });
    }
    repositories.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Snapshot {
        incomplete_reasons: Vec::new(),
        registry: listing.registry.clone(),
        complete: true,
        untagged_listed: Some(true),
        repositories,
        api: None,
    })
}
