//! GitHub Container Registry: the GitHub Packages REST API stands in for the catalog and the
//! tag listings (a package per repository, a package version per manifest, with its id, tags
//! and times), and ghcr.io serves the manifest bytes.
//!
//! Requests to the REST API leave the core as absolute URLs under [`GITHUB_API_SCOPE`]: the
//! session sends the GitHub token with them as `Authorization: Bearer`, without the registry's
//! challenge flow.

use serde::Deserialize;

use super::Response;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::names::{RepositoryName, TagName};
use crate::snapshot::Visibility;
use crate::time::Timestamp;

/// The scope that marks a request to the GitHub REST API (its path is an absolute URL).
pub const GITHUB_API_SCOPE: &str = "github:api";

/// Versions and packages asked per page (the API's maximum).
pub const PER_PAGE: u32 = 100;

/// The REST API of a registry host: `https://api.github.com` for ghcr.io, else GitHub
/// Enterprise Server's `https://HOST/api/v3` (the registry there is `containers.HOST`).
pub fn default_api(registry: &str) -> String {
    let host = registry.strip_prefix("containers.").unwrap_or(registry);
    if registry.eq_ignore_ascii_case("ghcr.io") {
        "https://api.github.com".to_owned()
    } else {
        format!("https://{host}/api/v3")
    }
}

/// The REST API's base URL, without a trailing `/`: the one given, or [`default_api`].
pub(crate) fn api_base(given: Option<&str>, registry: &str) -> String {
    given
        .map_or_else(|| default_api(registry), str::to_owned)
        .trim_end_matches('/')
        .to_owned()
}

/// The headers every REST request carries.
pub(crate) fn api_headers() -> Vec<(String, String)> {
    vec![
        ("Accept".into(), "application/vnd.github+json".into()),
        ("X-GitHub-Api-Version".into(), "2022-11-28".into()),
        ("User-Agent".into(), "regprune".into()),
    ]
}

/// A package name in a REST path: `team/app` is `team%2Fapp`.
pub(crate) fn encode(name: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `GET /users/{owner}`.
#[derive(Deserialize)]
pub struct Owner {
    #[serde(rename = "type")]
    pub kind: String,
}

/// `GET /user`.
#[derive(Deserialize)]
pub struct User {
    pub login: String,
}

/// One entry of a package listing.
#[derive(Deserialize)]
pub(crate) struct Package {
    pub name: String,
    #[serde(default)]
    pub visibility: Option<Visibility>,
}

/// One package version: a manifest, its tags and times.
#[derive(Debug, Clone, Deserialize)]
pub struct Version {
    pub id: u64,
    /// The manifest digest.
    pub name: Digest,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Metadata {
    #[serde(default)]
    pub container: Option<Container>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Container {
    #[serde(default)]
    pub tags: Vec<TagName>,
}

impl Version {
    pub(crate) fn tags(&self) -> &[TagName] {
        self.metadata
            .as_ref()
            .and_then(|m| m.container.as_ref())
            .map_or(&[], |c| c.tags.as_slice())
    }

    pub(crate) fn created(&self) -> Option<Timestamp> {
        self.created_at.as_deref().and_then(Timestamp::parse)
    }

    /// When it last changed (`updated_at`, else `created_at`, as the peers read it).
    pub(crate) fn updated(&self) -> Option<Timestamp> {
        self.updated_at
            .as_deref()
            .and_then(Timestamp::parse)
            .or_else(|| self.created())
    }
}

/// The snapshot's repository name of a package: `owner/package`, lower case (ghcr.io's path).
pub(crate) fn repository_of(owner: &str, package: &str, where_: &str) -> Result<RepositoryName> {
    let name = format!(
        "{}/{}",
        owner.to_ascii_lowercase(),
        package.to_ascii_lowercase()
    );
    RepositoryName::parse(&name).ok_or_else(|| Error::ProtocolViolation {
        path: where_.to_owned(),
        status: 200,
        message: format!("the package name {package:?} makes no valid repository name"),
    })
}

/// How long to wait before asking again when the REST API says its rate limit is spent
/// (`403` or `429` with `retry-after`, or `x-ratelimit-remaining: 0` until
/// `x-ratelimit-reset`, counted from the response's own `Date`); `None` when the answer is no
/// rate limit.
pub(crate) fn rate_limited(r: &Response) -> Option<f64> {
    if r.status != 403 && r.status != 429 {
        return None;
    }
    if let Some(s) = r
        .header("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return Some(s.clamp(1.0, 3600.0));
    }
    if r.header("x-ratelimit-remaining").map(str::trim) == Some("0") {
        let reset = r
            .header("x-ratelimit-reset")
            .and_then(|v| v.trim().parse::<i64>().ok());
        let date = r.header("date").and_then(http_date);
        return Some(match (reset, date) {
            (Some(reset), Some(date)) => ((reset - date) as f64).clamp(1.0, 3600.0),
            _ => 60.0,
        });
    }
    // A secondary limit without either header: wait at least a minute (GitHub's advice).
    let secondary = r.status == 429
        || String::from_utf8_lossy(&r.body)
            .to_ascii_lowercase()
            .contains("secondary rate limit");
    secondary.then_some(60.0)
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) as Unix seconds.
fn http_date(v: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let month = MONTHS.iter().position(|m| *m == parts[2])? + 1;
    let text = format!("{}-{month:02}-{:0>2}T{}Z", parts[3], parts[1], parts[4]);
    Timestamp::parse(&text).map(|t| t.unix_seconds())
}

/// The error of a REST answer that is not 200, with what the token lacks where GitHub says.
pub(crate) fn refused(r: &Response, where_: &str, needs: &str) -> Error {
    let hint = match r.status {
        401 => format!(
            " (GitHub refused the token: give a classic personal access token with {needs}, in GITHUB_TOKEN or GH_TOKEN)"
        ),
        403 | 404 => {
            let has = r.header("x-oauth-scopes").unwrap_or("").trim().to_owned();
            let wants = r.header("x-accepted-oauth-scopes").unwrap_or("").trim().to_owned();
            if has.is_empty() && wants.is_empty() {
                format!(" (the token needs {needs}, and admin access to the package)")
            } else {
                format!(" (the token has scopes [{has}]; this needs [{wants}], and {needs} in all)")
            }
        }
        _ => String::new(),
    };
    Error::from_status(
        where_,
        r.status,
        format!(
            "the GitHub API answered {}{hint}",
            super::status_text(r.status)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn rate_limits_wait_as_github_says() {
        assert_eq!(rate_limited(&resp(403, &[("retry-after", "7")])), Some(7.0));
        let spent = resp(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1765000120"),
                ("date", "Sat, 06 Dec 2025 05:46:40 GMT"),
            ],
        );
        // 1765000120 is 2025-12-06T05:48:40Z: two minutes after the response's Date.
        assert_eq!(rate_limited(&spent), Some(120.0));
        assert_eq!(rate_limited(&resp(429, &[])), Some(60.0));
        assert_eq!(
            rate_limited(&resp(403, &[])),
            None,
            "a plain 403 is no rate limit"
        );
        assert_eq!(rate_limited(&resp(200, &[("retry-after", "5")])), None);
    }

    #[test]
    fn names_and_hosts() {
        assert_eq!(encode("team/app"), "team%2Fapp");
        assert_eq!(default_api("ghcr.io"), "https://api.github.com");
        assert_eq!(
            default_api("containers.ghe.example"),
            "https://ghe.example/api/v3"
        );
        assert_eq!(
            repository_of("Octo-Org", "Team/App", "x").unwrap().as_str(),
            "octo-org/team/app"
        );
    }
}
