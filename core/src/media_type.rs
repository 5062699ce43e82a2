//! Manifest media types (image-spec `media-types.md`, Docker schema 2).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares the media types the core knows by name: the enum's variants and their strings,
/// from one list.
macro_rules! known_media_types {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// A media type of a manifest or a blob. Unknown values are kept as they are, never
        /// rejected, so new artifact kinds flow through (image-spec: "unknown media types must
        /// not cause errors"). The common ones are variants, so the millions of layer
        /// descriptors of a large snapshot hold no string of their own.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum MediaType {
            $($(#[$doc])* $variant,)*
            /// Anything else.
            Other(Box<str>),
        }

        impl MediaType {
            /// The media type string.
            pub fn as_str(&self) -> &str {
                match self {
                    $(MediaType::$variant => $text,)*
                    MediaType::Other(s) => s,
                }
            }

            /// Reads a media type string.
            pub fn parse(s: &str) -> MediaType {
                match s {
                    $($text => MediaType::$variant,)*
                    other => MediaType::Other(other.into()),
                }
            }
        }
    };
}

known_media_types! {
    /// `application/vnd.oci.image.manifest.v1+json`
    OciManifest => "application/vnd.oci.image.manifest.v1+json",
    /// `application/vnd.oci.image.index.v1+json`
    OciIndex => "application/vnd.oci.image.index.v1+json",
    /// `application/vnd.docker.distribution.manifest.v2+json`
    DockerManifest => "application/vnd.docker.distribution.manifest.v2+json",
    /// `application/vnd.docker.distribution.manifest.list.v2+json`
    DockerManifestList => "application/vnd.docker.distribution.manifest.list.v2+json",
    /// `application/vnd.oci.artifact.manifest.v1+json` (withdrawn from OCI 1.1, still stored)
    OciArtifactManifest => "application/vnd.oci.artifact.manifest.v1+json",
    /// `application/vnd.oci.image.config.v1+json`
    OciConfig => "application/vnd.oci.image.config.v1+json",
    /// `application/vnd.oci.image.layer.v1.tar+gzip`
    OciLayerGzip => "application/vnd.oci.image.layer.v1.tar+gzip",
    /// `application/vnd.oci.image.layer.v1.tar+zstd`
    OciLayerZstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    /// `application/vnd.oci.image.layer.v1.tar`
    OciLayer => "application/vnd.oci.image.layer.v1.tar",
    /// `application/vnd.oci.empty.v1+json`
    OciEmpty => "application/vnd.oci.empty.v1+json",
    /// `application/vnd.docker.container.image.v1+json`
    DockerConfig => "application/vnd.docker.container.image.v1+json",
    /// `application/vnd.docker.image.rootfs.diff.tar.gzip`
    DockerLayerGzip => "application/vnd.docker.image.rootfs.diff.tar.gzip",
    /// `application/vnd.docker.image.rootfs.foreign.diff.tar.gzip`
    DockerForeignLayerGzip => "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
}

impl MediaType {
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
