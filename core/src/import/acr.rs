//! Azure Container Registry shapes: `az acr manifest list-metadata` output and the
//! data-plane API list bodies (`_catalog`, `_manifests`, `_tags`, api-version 2021-07-01).

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::field;
use crate::media_type::MediaType;
use crate::names::{RepositoryName, TagName};
use crate::snapshot::{
    ChangeableAttributes, Descriptor, Manifest, Platform, Repository, Snapshot, Tag,
};
use crate::time::Timestamp;

/// One manifest as ACR lists it: `ManifestAttributesBase`, or the older CLI shape
/// `{digest, tags, timestamp}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AcrManifest {
    digest: Digest,
    #[serde(default)]
    tags: Option<Vec<TagName>>,
    #[serde(default)]
    timestamp: Option<Timestamp>,
    #[serde(default)]
    created_time: Option<Timestamp>,
    #[serde(default)]
    last_update_time: Option<Timestamp>,
    #[serde(default, deserialize_with = "crate::snapshot::size")]
    image_size: Option<u64>,
    #[serde(default)]
    media_type: Option<MediaType>,
    #[serde(default)]
    changeable_attributes: Option<ChangeableAttributes>,
    /// Children of an index (`ArtifactManifestPlatform[]`).
    #[serde(default)]
    references: Option<Vec<AcrReference>>,
}

#[derive(Deserialize)]
struct AcrReference {
    digest: Digest,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
}

impl AcrManifest {
    fn into_manifest(self) -> (Manifest, Vec<TagName>) {
        let mut m = Manifest::new(self.digest);
        m.media_type = self.media_type;
        m.image_size = self.image_size;
        m.created_time = self.created_time;
        // The old CLI shape's `timestamp` is the last update time.
        m.last_update_time = self.last_update_time.or(self.timestamp);
        m.changeable_attributes = self.changeable_attributes;
        m.manifests = self.references.filter(|r| !r.is_empty()).map(|refs| {
            refs.into_iter()
                .map(|r| Descriptor {
                    media_type: None,
                    digest: r.digest,
                    size: None,
                    platform: Some(Box::new(Platform {
                        architecture: r.architecture,
                        os: r.os,
                        os_version: None,
                        variant: None,
                    })),
                    artifact_type: None,
                })
                .collect()
        });
        (m, self.tags.unwrap_or_default())
    }
}

/// Imports `az acr manifest list-metadata` output for one repository, in either shape the
/// ACR guide shows. Manifests come without content (shallow), so reclaim will say it is not
/// exact; the snapshot is marked incomplete because other repositories are unknown.
pub fn acr_list_metadata(
    output: &serde_json::Value,
    repository: &RepositoryName,
    registry: Option<String>,
) -> Result<Snapshot> {
    let entries: Vec<AcrManifest> = field::from_value(output)?;
    let mut repo = Repository {
        name: repository.clone(),
        changeable_attributes: None,
        manifests: Vec::with_capacity(entries.len()),
        tags: Vec::new(),
        visibility: None,
    };
    for entry in entries {
        let (m, tags) = entry.into_manifest();
        repo.tags.extend(tags.into_iter().map(|name| Tag {
            name,
            digest: m.digest.clone(),
            created_time: None,
            last_update_time: None,
            changeable_attributes: None,
        }));
        repo.manifests.push(m);
    }
    Ok(Snapshot {
        incomplete_reasons: Vec::new(),
        registry,
        complete: false,
        untagged_listed: None,
        repositories: vec![repo],
        api: None,
    })
}

/// Any body of the ACR list endpoints.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    #[serde(default)]
    registry: Option<String>,
    #[serde(default)]
    image_name: Option<RepositoryName>,
    /// `_catalog`
    #[serde(default)]
    repositories: Option<Vec<RepositoryName>>,
    /// `_manifests`
    #[serde(default)]
    manifests: Option<Vec<AcrManifest>>,
    /// `_manifests/{digest}`
    #[serde(default)]
    manifest: Option<AcrManifest>,
    /// `_tags`
    #[serde(default)]
    tags: Option<Vec<AcrTag>>,
    /// `_tags/{tag}`
    #[serde(default)]
    tag: Option<AcrTag>,
    /// `/acr/v1/{name}`
    #[serde(default)]
    changeable_attributes: Option<ChangeableAttributes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AcrTag {
    name: TagName,
    digest: Digest,
    #[serde(default)]
    created_time: Option<Timestamp>,
    #[serde(default)]
    last_update_time: Option<Timestamp>,
    #[serde(default)]
    changeable_attributes: Option<ChangeableAttributes>,
}

#[derive(Default)]
struct Pending {
    manifests: Vec<Manifest>,
    seen: HashSet<Digest>,
    listed_tags: Vec<(TagName, Digest)>,
    tags: BTreeMap<TagName, Tag>,
    attributes: Option<ChangeableAttributes>,
    listed: bool,
}

/// Builds a snapshot from ACR data-plane response bodies, every page of every endpoint in
/// any order: `_catalog`, `/acr/v1/{name}`, `_manifests` (and `_manifests/{digest}`), `_tags`
/// (and `_tags/{tag}`). The snapshot is complete when a catalog was given and every
/// repository in it had its manifests listed.
pub fn acr_api(bodies: &[serde_json::Value]) -> Result<Snapshot> {
    let mut registry = None;
    let mut catalog: Option<Vec<RepositoryName>> = None;
    let mut repos: BTreeMap<RepositoryName, Pending> = BTreeMap::new();
    for (i, value) in bodies.iter().enumerate() {
        let body: Body = field::from_value(value).map_err(|e| e.under(&format!("bodies[{i}]")))?;
        registry = registry.or(body.registry);
        if let Some(names) = body.repositories {
            catalog.get_or_insert_with(Vec::new).extend(names);
            continue;
        }
        let Some(name) = body.image_name else {
            return Err(Error::InvalidJson {
                path: format!("bodies[{i}]"),
                message: "neither a _catalog body (repositories) nor a repository body (imageName)"
                    .into(),
            });
        };
        let p = repos.entry(name).or_default();
        if body.changeable_attributes.is_some() {
            p.attributes = body.changeable_attributes;
        }
        let listed = body.manifests.is_some();
        for entry in body.manifests.into_iter().flatten().chain(body.manifest) {
            let (m, tags) = entry.into_manifest();
            p.listed_tags
                .extend(tags.into_iter().map(|t| (t, m.digest.clone())));
            if p.seen.insert(m.digest.clone()) {
                p.manifests.push(m);
            }
        }
        p.listed |= listed;
        for t in body.tags.into_iter().flatten().chain(body.tag) {
            p.tags.insert(
                t.name.clone(),
                Tag {
                    name: t.name,
                    digest: t.digest,
                    created_time: t.created_time,
                    last_update_time: t.last_update_time,
                    changeable_attributes: t.changeable_attributes,
                },
            );
        }
    }
    let mut complete = catalog.is_some();
    for name in catalog.into_iter().flatten() {
        repos.entry(name).or_default();
    }
    let mut repositories = Vec::with_capacity(repos.len());
    for (name, mut p) in repos {
        complete &= p.listed;
        for (tag, digest) in std::mem::take(&mut p.listed_tags) {
            p.tags.entry(tag.clone()).or_insert(Tag {
                name: tag,
                digest,
                created_time: None,
                last_update_time: None,
                changeable_attributes: None,
            });
        }
        // A tag listed without its manifest: keep the manifest, known by digest only.
        for t in p.tags.values() {
            if p.seen.insert(t.digest.clone()) {
                p.manifests.push(Manifest::new(t.digest.clone()));
            }
        }
        if p.listed || !p.tags.is_empty() {
            repositories.push(Repository {
                name,
                changeable_attributes: p.attributes,
                manifests: p.manifests,
                tags: p.tags.into_values().collect(),
                visibility: None,
            });
        }
    }
    Ok(Snapshot {
        incomplete_reasons: Vec::new(),
        registry,
        complete,
        untagged_listed: None,
        repositories,
        api: None,
    })
}
