//! Manifest media types (image-spec `media-types.md`, Docker schema 2).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A manifest media type. Unknown values are kept as they are, never rejected, so new artifact
/// kinds flow through (image-spec: "unknown media types must not cause errors").
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum MediaType {
    /// `application/vnd.oci.image.manifest.v1+json`
    OciManifest,
    /// `application/vnd.oci.image.index.v1+json`
    OciIndex,
    /// `application/vnd.docker.distribution.manifest.v2+json`
    DockerManifest,
    /// `application/vnd.docker.distribution.manifest.list.v2+json`
    DockerManifestList,
    /// `application/vnd.oci.artifact.manifest.v1+json` (withdrawn from OCI 1.1, still stored)
    OciArtifactManifest,
    /// Anything else.
    Other(Box<str>),
}

impl MediaType {
    /// The media type string.
    pub fn as_str(&self) -> &str {
        match self {
            MediaType::OciManifest => "application/vnd.oci.image.manifest.v1+json",
            MediaType::OciIndex => "application/vnd.oci.image.index.v1+json",
            MediaType::DockerManifest => "application/vnd.docker.distribution.manifest.v2+json",
            MediaType::DockerManifestList => {
                "application/vnd.docker.distribution.manifest.list.v2+json"
            }
            MediaType::OciArtifactManifest => "application/vnd.oci.artifact.manifest.v1+json",
            MediaType::Other(s) => s,
        }
    }

    /// Reads a media type string.
    pub fn parse(s: &str) -> MediaType {
        match s {
            "application/vnd.oci.image.manifest.v1+json" => MediaType::OciManifest,
            "application/vnd.oci.image.index.v1+json" => MediaType::OciIndex,
            "application/vnd.docker.distribution.manifest.v2+json" => MediaType::DockerManifest,
            "application/vnd.docker.distribution.manifest.list.v2+json" => {
                MediaType::DockerManifestList
            }
            "application/vnd.oci.artifact.manifest.v1+json" => MediaType::OciArtifactManifest,
            other => MediaType::Other(other.into()),
        }
    }

    /// True for the two kinds of manifest that list other manifests.
    pub fn is_index(&self) -> bool {
        matches!(self, MediaType::OciIndex | MediaType::DockerManifestList)
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl Serialize for MediaType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = MediaType;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a media type string")
            }
            fn visit_str<E>(self, s: &str) -> Result<MediaType, E> {
                Ok(MediaType::parse(s))
            }
        }
        d.deserialize_str(V)
    }
}
