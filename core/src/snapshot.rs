//! The registry snapshot: regprune's input contract.
//!
//! Field names follow the ACR data-plane API (`createdTime`, `lastUpdateTime`,
//! `changeableAttributes`, `imageSize`) and the OCI image-spec (`mediaType`, `artifactType`,
//! `config`, `layers`, `manifests`, `subject`), so users recognise them.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::Result;
use crate::field;
use crate::media_type::MediaType;
use crate::names::{RepositoryName, TagName};
use crate::time::Timestamp;

/// What a registry holds, as far as it was captured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// The login server (`myregistry.azurecr.io`), for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// False when some repositories were not captured: blobs they share stay unknown, so
    /// reclaim is then an upper bound.
    #[serde(default = "yes")]
    pub complete: bool,
    /// Why it is not complete, where a crawl knows (a repository whose listing failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incomplete_reasons: Vec<String>,
    /// `false` when the registry's API cannot list untagged manifests (the OCI Distribution
    /// API): dangling manifests are invisible, yet they keep their blobs, so reclaim is then
    /// an upper bound and untagged manifests cannot be selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untagged_listed: Option<bool>,
    /// The API the snapshot was read through, when its rules matter to a plan (GHCR refuses
    /// to delete a package's last tagged version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<RegistryApi>,
    /// The repositories.
    #[serde(default)]
    pub repositories: Vec<Repository>,
}

/// The API a registry speaks, as far as a plan's rules depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RegistryApi {
    /// The OCI Distribution API.
    Oci,
    /// Azure Container Registry's data-plane API.
    Acr,
    /// GitHub Container Registry: the GitHub Packages REST API and ghcr.io.
    Ghcr,
    /// Docker Hub: Hub's API and its registry.
    DockerHub,
}

/// Who may see a package (GitHub Packages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Visibility {
    /// Only those granted access.
    Private,
    /// Everyone: GHCR then refuses to delete a version downloaded more than 5,000 times.
    Public,
    /// Members of the enterprise.
    Internal,
}

fn yes() -> bool {
    true
}

/// The largest size a snapshot may state: 2^53 - 1 bytes (8 PiB, and the largest integer a
/// JavaScript number holds exactly). Anything larger is no real blob or manifest but a broken
/// or hostile snapshot, and sums of such sizes would leave 64 bits.
pub const MAX_SIZE: u64 = (1 << 53) - 1;

/// A size, refused past [`MAX_SIZE`] with an error naming it.
pub(crate) fn size<'de, D>(deserializer: D) -> std::result::Result<Option<u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let n = Option::<u64>::deserialize(deserializer)?;
    match n {
        Some(n) if n > MAX_SIZE => Err(serde::de::Error::custom(format!(
            "impossible size {n}: sizes go up to {MAX_SIZE} bytes"
        ))),
        n => Ok(n),
    }
}

/// A repository (ACR calls it `imageName`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Repository {
    /// The repository name.
    pub name: RepositoryName,
    /// Repository-level locks (ACR `RepositoryChangeableAttributes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changeable_attributes: Option<ChangeableAttributes>,
    /// Every manifest stored in the repository, tagged or not.
    #[serde(default, deserialize_with = "exact")]
    pub manifests: Vec<Manifest>,
    /// Every tag of the repository.
    #[serde(default, deserialize_with = "exact")]
    pub tags: Vec<Tag>,
    /// Who may see it (a GitHub package's visibility).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

/// A stored manifest: an image, an index, or an artifact such as a signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// The digest of the manifest bytes.
    pub digest: Digest,
    /// The manifest's media type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The artifact type (image-spec 1.1), for signatures, SBOMs and other artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<Box<str>>,
    /// Length of the manifest bytes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "size"
    )]
    pub size: Option<u64>,
    /// ACR's `imageSize`: the image's size as ACR reports it (not unique bytes).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "size"
    )]
    pub image_size: Option<u64>,
    /// When the manifest was pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<Timestamp>,
    /// When the manifest was last changed (re-tagged, untagged, attributes updated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Timestamp>,
    /// The config blob of an image manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Descriptor>,
    /// The layer blobs of an image manifest (the `blobs` of an artifact manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Box<[Descriptor]>>,
    /// The child manifests of an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Box<[Descriptor]>>,
    /// The manifest this one refers to (a signature's image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Box<Descriptor>>,
    /// ACR locks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changeable_attributes: Option<ChangeableAttributes>,
    /// The GitHub package version that holds it (GHCR deletes and restores by this id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<u64>,
}

impl Manifest {
    /// A manifest whose content is unknown: no config, layers or children were captured.
    pub fn is_shallow(&self) -> bool {
        self.config.is_none() && self.layers.is_none() && self.manifests.is_none()
    }

    /// True for an image index or a Docker manifest list (by media type or by content).
    pub fn is_index(&self) -> bool {
        self.media_type.as_ref().is_some_and(MediaType::is_index) || self.manifests.is_some()
    }

    /// The blobs (config, then layers) this manifest references.
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config
            .iter()
            .chain(self.layers.iter().flat_map(|l| l.iter()))
    }

    /// A minimal manifest with only a digest, for builders and tests.
    pub fn new(digest: Digest) -> Manifest {
        Manifest {
            digest,
            media_type: None,
            artifact_type: None,
            size: None,
            image_size: None,
            created_time: None,
            last_update_time: None,
            config: None,
            layers: None,
            manifests: None,
            subject: None,
            changeable_attributes: None,
            version_id: None,
        }
    }
}

/// A content descriptor (image-spec `descriptor.md`). Only `digest` is required here, because
/// index entries and `subject` are often captured without the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of the referenced content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The digest of the referenced content.
    pub digest: Digest,
    /// The size of the referenced content in bytes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "size"
    )]
    pub size: Option<u64>,
    /// The platform of an index entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Box<Platform>>,
    /// The artifact type of an index entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<Box<str>>,
}

impl Descriptor {
    /// A descriptor with a digest and a size.
    pub fn blob(digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: None,
            digest,
            size: Some(size),
            platform: None,
            artifact_type: None,
        }
    }
}

/// The platform of an index entry (image-spec `image-index.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (`amd64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Operating system (`linux`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// OS version (`10.0.17763.1879`).
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// CPU variant (`v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    /// The tag name.
    pub name: TagName,
    /// The manifest it points at.
    pub digest: Digest,
    /// When the tag was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<Timestamp>,
    /// When the tag was last moved or changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Timestamp>,
    /// ACR locks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changeable_attributes: Option<ChangeableAttributes>,
}

/// ACR's changeable attributes (data-plane API 2021-07-01). A missing field means enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeableAttributes {
    /// Deleting is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_enabled: Option<bool>,
    /// Overwriting is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_enabled: Option<bool>,
    /// Pulling is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_enabled: Option<bool>,
    /// Listing is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_enabled: Option<bool>,
}

impl ChangeableAttributes {
    /// The lock that keeps an item from deletion, if any: `deleteEnabled` or `writeEnabled`
    /// false, as both ACR and `acr purge` treat them.
    pub fn lock(&self) -> Option<&'static str> {
        if self.delete_enabled == Some(false) {
            Some("deleteEnabled is false")
        } else if self.write_enabled == Some(false) {
            Some("writeEnabled is false")
        } else {
            None
        }
    }
}

/// The lock of an optional attribute set.
pub(crate) fn lock_of(attrs: Option<&ChangeableAttributes>) -> Option<&'static str> {
    attrs.and_then(ChangeableAttributes::lock)
}

impl Snapshot {
    /// Parses a snapshot from JSON bytes. Syntax is checked here; the references between
    /// items (tags to manifests, duplicates) are checked when a plan is made.
    pub fn from_json(bytes: &[u8]) -> Result<Snapshot> {
        field::from_json(bytes)
    }

    /// Parses a snapshot as it is read (from a file, a pipe or a socket), without holding the
    /// whole document in memory: for snapshots of hundreds of thousands of manifests, where
    /// the JSON text would otherwise double the memory planning needs. Slower per byte than
    /// [`Snapshot::from_json`]; the same typed errors.
    pub fn from_reader(reader: impl std::io::Read) -> Result<Snapshot> {
        field::from_reader(reader)
    }

    /// The snapshot as JSON.
    ///
    /// # Panics
    /// Never: every field of a snapshot serializes to JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a snapshot always serializes")
    }
}

/// A list read with no spare capacity: a `Vec` grows by doubling while it is read, and for a
/// million manifests the slack is a quarter of the snapshot's memory.
fn exact<'de, D, T>(deserializer: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let mut items = Vec::<T>::deserialize(deserializer)?;
    items.shrink_to_fit();
    Ok(items)
}
