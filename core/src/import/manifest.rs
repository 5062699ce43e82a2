//! Raw manifest bytes → [`Manifest`]: OCI image manifest and index, Docker schema 2 manifest
//! and manifest list, and artifact manifests with `subject` / `artifactType`.

use serde::Deserialize;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::field;
use crate::media_type::MediaType;
use crate::snapshot::{Descriptor, Manifest};

/// The fields of every supported manifest format, as they appear on the wire.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    schema_version: Option<u32>,
    media_type: Option<MediaType>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    /// The withdrawn OCI artifact manifest calls its layers `blobs`.
    blobs: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
}

/// Reads manifest bytes as a registry serves them.
///
/// The digest is computed over the exact bytes (never a re-serialization); when `claimed` is
/// given (the digest the manifest was fetched by, or `Docker-Content-Digest`) it must match.
/// `content_type` is the response's `Content-Type`, used when the body has no `mediaType`.
pub fn parse_manifest(
    bytes: &[u8],
    claimed: Option<&Digest>,
    content_type: Option<&str>,
) -> Result<Manifest> {
    let path = claimed.map_or_else(|| "manifest".to_owned(), ToString::to_string);
    let digest = match claimed {
        None => Digest::sha256(bytes),
        Some(c) => {
            let computed = c
                .recompute(bytes)
                .ok_or_else(|| Error::UnsupportedManifest {
                    path: path.clone(),
                    reason: format!("cannot verify a {} digest", c.algorithm()),
                })?;
            if computed != *c {
                return Err(Error::DigestMismatch {
                    path,
                    claimed: c.to_string(),
                    computed: computed.to_string(),
                });
            }
            computed
        }
    };
    let wire: Wire = field::from_json(bytes).map_err(|e| match e {
        Error::InvalidJson { path: p, message } => Error::UnsupportedManifest {
            path: path.clone(),
            reason: format!("not a manifest document ({p}: {message})"),
        },
        other => other,
    })?;
    if wire.schema_version == Some(1) {
        return Err(Error::UnsupportedManifest {
            path,
            reason: "Docker image manifest schema 1 is deprecated and not supported".into(),
        });
    }
    let media_type = wire
        .media_type
        .or_else(|| content_type.map(|c| MediaType::parse(c.split(';').next().unwrap_or(c).trim())))
        .or_else(|| {
            // Both formats allow omitting mediaType; the shape tells them apart.
            if wire.manifests.is_some() {
                Some(MediaType::OciIndex)
            } else if wire.config.is_some() {
                Some(MediaType::OciManifest)
            } else {
                None
            }
        });
    let is_index = media_type.as_ref().is_some_and(MediaType::is_index);
    if !is_index && wire.config.is_none() && wire.blobs.is_none() {
        return Err(Error::UnsupportedManifest {
            path,
            reason: "neither an image manifest (no config) nor an index (no manifests)".into(),
        });
    }
    let mut m = Manifest::new(digest);
    m.size = Some(bytes.len() as u64);
    m.media_type = media_type;
    m.artifact_type = wire.artifact_type.map(String::into_boxed_str);
    m.subject = wire.subject.map(Box::new);
    if is_index {
        m.manifests = Some(wire.manifests.unwrap_or_default().into());
    } else {
        m.config = wire.config;
        m.layers = Some(wire.layers.or(wire.blobs).unwrap_or_default().into());
    }
    Ok(m)
}

/// Fills a manifest known only by its listing (times, locks, tags) with the content read
/// from its bytes. Listing fields win where both have a value, except the content fields.
pub fn with_content(listed: &Manifest, content: Manifest) -> Manifest {
    Manifest {
        media_type: content.media_type.or_else(|| listed.media_type.clone()),
        artifact_type: content
            .artifact_type
            .or_else(|| listed.artifact_type.clone()),
        size: content.size.or(listed.size),
        image_size: listed.image_size,
        created_time: listed.created_time,
        last_update_time: listed.last_update_time,
        changeable_attributes: listed.changeable_attributes,
        ..content
    }
}
