//! Repository names, tags and image references (distribution-spec, "Pulling manifests").

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::field::{self, Kind};

/// The longest repository name the distribution registry accepts.
const MAX_NAME: usize = 255;

/// A validated repository name (shared, not copied, by the many plan entries that name it):
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(std::sync::Arc<str>);

impl RepositoryName {
    /// Parses a repository name, `None` if it breaks the grammar or is longer than 255.
    pub fn parse(s: &str) -> Option<RepositoryName> {
        (s.len() <= MAX_NAME && s.split('/').all(valid_component)).then(|| RepositoryName(s.into()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One path component: alphanumeric runs joined by `.`, `_`, `__` or any run of `-`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &b[start..i];
        let ok = sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|&x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A validated tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagName(Box<str>);

impl TagName {
    /// Parses a tag, `None` if it breaks the grammar.
    pub fn parse(s: &str) -> Option<TagName> {
        let b = s.as_bytes();
        let first_ok = b
            .first()
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_');
        let rest_ok = b[1.min(b.len())..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        (first_ok && rest_ok && b.len() <= 128).then(|| TagName(s.into()))
    }

    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The subject digest named by a referrer tag: the OCI referrers tag schema
    /// (`sha256-<hex>`) or cosign's `sha256-<hex>.sig`, `.att` and `.sbom`.
    pub fn referrer_subject(&self) -> Option<Digest> {
        let rest = self.0.strip_prefix("sha256-")?;
        let hex = match rest.split_once('.') {
            None => rest,
            Some((hex, "sig" | "att" | "sbom")) => hex,
            Some(_) => return None,
        };
        Digest::parse(&format!("sha256:{hex}"))
    }
}

/// An image named the way `az acr repository delete --image` takes it.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum ImageReference {
    /// `repository:tag`
    Tag {
        /// The repository.
        repository: RepositoryName,
        /// The tag.
        tag: TagName,
    },
    /// `repository@digest`
    Digest {
        /// The repository.
        repository: RepositoryName,
        /// The manifest digest.
        digest: Digest,
    },
}

impl ImageReference {
    /// Parses `repository:tag` or `repository@digest`. A bare repository is rejected: a
    /// deletion tool should not guess `latest`.
    pub fn parse(s: &str) -> Option<ImageReference> {
        if let Some((repo, digest)) = s.split_once('@') {
            return Some(ImageReference::Digest {
                repository: RepositoryName::parse(repo)?,
                digest: Digest::parse(digest)?,
            });
        }
        let (repo, tag) = s.rsplit_once(':')?;
        Some(ImageReference::Tag {
            repository: RepositoryName::parse(repo)?,
            tag: TagName::parse(tag)?,
        })
    }

    /// The repository part.
    pub fn repository(&self) -> &RepositoryName {
        match self {
            ImageReference::Tag { repository, .. } | ImageReference::Digest { repository, .. } => {
                repository
            }
        }
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageReference::Tag { repository, tag } => write!(f, "{repository}:{tag}"),
            ImageReference::Digest { repository, digest } => write!(f, "{repository}@{digest}"),
        }
    }
}

macro_rules! string_newtype {
    ($ty:ident, $kind:expr) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.as_str())
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                field::deserialize_str(d, $kind, $ty::parse)
            }
        }
        impl std::str::FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                $ty::parse(s).ok_or_else(|| $kind.error("value", s))
            }
        }
    };
}

string_newtype!(RepositoryName, Kind::RepositoryName);
string_newtype!(TagName, Kind::Tag);

impl Serialize for ImageReference {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImageReference {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        field::deserialize_str(d, Kind::Reference, ImageReference::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_the_distribution_grammar() {
        for ok in [
            "a",
            "acr-helloworld",
            "library/ubuntu",
            "a.b_c__d---e/f0",
            "x/y/z",
        ] {
            assert!(RepositoryName::parse(ok).is_some(), "{ok} rejected");
        }
        for bad in [
            "", "A", "-a", "a-", "a//b", "/a", "a/", "a..b", "a___b", "a._b", "a b", "../etc",
            "a%2Fb", "a?b", "a#b", "аpp", // Cyrillic а
        ] {
            assert!(RepositoryName::parse(bad).is_none(), "{bad:?} accepted");
        }
        assert!(RepositoryName::parse(&"a".repeat(256)).is_none());
    }

    #[test]
    fn tags_follow_the_distribution_grammar() {
        for ok in [
            "latest",
            "v1.2.3",
            "_x",
            "4.7.2-20180905-nanoserver-1803",
            "A_b-c.d",
        ] {
            assert!(TagName::parse(ok).is_some(), "{ok} rejected");
        }
        for bad in ["", ".x", "-x", "a:b", "a/b", "a b", "ü"] {
            assert!(TagName::parse(bad).is_none(), "{bad:?} accepted");
        }
        assert!(TagName::parse(&"a".repeat(128)).is_some());
        assert!(TagName::parse(&"a".repeat(129)).is_none());
    }

    #[test]
    fn referrer_tags_name_their_subject() {
        let hex = "0a2e01852872580b2c2fea9380ff8d7b637d3928783c55beb3f21a6e58d5d108";
        for suffix in ["", ".sig", ".att", ".sbom"] {
            let tag = TagName::parse(&format!("sha256-{hex}{suffix}")).unwrap();
            assert_eq!(tag.referrer_subject().unwrap().encoded(), hex);
        }
        assert!(TagName::parse(&format!("sha256-{hex}.txt"))
            .unwrap()
            .referrer_subject()
            .is_none());
        assert!(TagName::parse("latest")
            .unwrap()
            .referrer_subject()
            .is_none());
    }

    #[test]
    fn image_references_need_a_tag_or_a_digest() {
        let r = ImageReference::parse("acr-helloworld:latest").unwrap();
        assert_eq!(r.to_string(), "acr-helloworld:latest");
        let d = "acr-helloworld@sha256:3168a21b98836dda7eb7a846b3d735286e09a32b0aa2401773da518e7eba3b57";
        assert_eq!(ImageReference::parse(d).unwrap().to_string(), d);
        assert!(ImageReference::parse("acr-helloworld").is_none());
        assert!(ImageReference::parse("acr-helloworld@latest").is_none());
        assert!(ImageReference::parse("Bad:latest").is_none());
    }
}
