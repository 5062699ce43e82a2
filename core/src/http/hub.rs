//! Docker Hub: its own API (`hub.docker.com`) lists a namespace's repositories and each
//! repository's tags with their digests and push times; the registry (`registry-1.docker.io`)
//! serves the manifests. Nothing lists untagged manifests there.
//!
//! Requests to the Hub API leave the core as absolute URLs under [`HUB_API_SCOPE`]: the
//! session sends them anonymously until the API answers 401, then logs in
//! (`POST /v2/auth/token` with the username and a personal access token) and sends the JWT it
//! gets with every later one.

use serde::Deserialize;

use super::Response;
use crate::digest::Digest;
use crate::error::Error;
use crate::names::TagName;
use crate::time::Timestamp;

/// The scope that marks a request to Docker Hub's API (its path is an absolute URL).
pub const HUB_API_SCOPE: &str = "hub:api";

/// Results asked per page (the API's maximum).
pub(crate) const PAGE_SIZE: u32 = 100;

/// The Hub API's base URL, without a trailing `/`: the one given, or `https://hub.docker.com`.
pub(crate) fn api_base(given: Option<&str>) -> String {
    given
        .unwrap_or("https://hub.docker.com")
        .trim_end_matches('/')
        .to_owned()
}

/// Whether `registry` is Docker Hub's registry.
pub(crate) fn is_hub(registry: &str) -> bool {
    matches!(
        registry.to_ascii_lowercase().as_str(),
        "docker.io" | "registry-1.docker.io" | "index.docker.io" | "registry.hub.docker.com"
    )
}

pub(crate) fn api_headers() -> Vec<(String, String)> {
    vec![("Accept".into(), "application/json".into())]
}

/// A page of a Hub listing.
#[derive(Deserialize)]
pub(crate) struct Page<T> {
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
}

/// A repository of a namespace.
#[derive(Deserialize)]
pub(crate) struct Repo {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A tag, as the wire carries it (the spec's `images` is one object; the wire's an array).
#[derive(Deserialize)]
pub(crate) struct Tag {
    pub name: TagName,
    /// The tag's manifest or index.
    #[serde(default)]
    pub digest: Option<Digest>,
    #[serde(default)]
    pub last_updated: Option<String>,
    #[serde(default, rename = "tag_last_pushed")]
    pub last_pushed: Option<String>,
}

impl Tag {
    /// When the tag was last pushed (else last updated).
    pub(crate) fn pushed(&self) -> Option<Timestamp> {
        self.last_pushed
            .as_deref()
            .or(self.last_updated.as_deref())
            .and_then(Timestamp::parse)
    }
}

/// The error of a Hub API answer that is not 200.
pub(crate) fn refused(r: &Response, where_: &str) -> Error {
    let hint = match r.status {
        401 => " (Docker Hub refused the login: give the username and a personal access token with repo:read, or repo:write to delete tags)",
        403 => " (the token's scope does not allow this: repo:read to read, repo:write to delete tags)",
        429 => " (Hub's per-minute limit)",
        _ => "",
    };
    Error::from_status(
        where_,
        r.status,
        format!(
            "the Docker Hub API answered {}{hint}",
            super::status_text(r.status)
        ),
    )
}
