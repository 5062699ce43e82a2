//! The HTTP conversation with a registry, as data (sans-IO, like quinn-proto or h11).
//!
//! A conversation ([`Crawl`], [`Execute`]) hands out [`Request`]s with `next_request(now)` and
//! takes [`Response`]s with `handle_response(id, response, now)`; the adapters in `npm/` and
//! `python/` are short loops that send the requests (several at a time) and feed the answers
//! back. Time is always passed in; nothing here sleeps, reads a clock or opens a socket.

mod challenge;
mod crawl;
mod credentials;
mod execute;
mod failure;
pub(crate) mod ghcr;
pub(crate) mod hub;
mod link;
mod session;
mod token;
mod undo;
mod url;
pub mod wire;

use serde::{Deserialize, Serialize};

pub use challenge::{parse_challenge, Challenge, MAX_CHALLENGE_LEN};
pub use crawl::{Crawl, CrawlOptions, CrawlProgress, Flavour, KeptManifest};
pub use credentials::{
    CredentialLookup, CredentialQuery, CredentialStep, Credentials, ACR_REFRESH_USER,
    CREDENTIAL_ENV,
};
pub use execute::{
    Execute, ExecuteOptions, JournalEntry, JournalLines, JournalOutcome, Outcome, OutcomeKind,
    Report,
};
pub use failure::TransportFailure;
pub use ghcr::{default_api as default_github_api, GITHUB_API_SCOPE};
pub use hub::HUB_API_SCOPE;
pub use link::next_link;
pub use session::{Access, Conversation, Outgoing, Session};
pub use undo::{JournalRun, SkippedLine, Undo, UndoOptions, UndoOutcome, UndoReport, UndoResult};
pub use url::{check_timeouts, is_loopback_host, parse_registry_url, RegistryUrl};

/// Every manifest media type, for `Accept`: without all four, the distribution registry
/// converts Docker images to schema 1 (another digest) or answers with a child of a list.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// One line of a `--verbose` request log, the same in both adapters: method, URL without its
/// query (upload locations and paging cursors carry opaque state there), the status or what
/// failed, and the milliseconds it took. Headers are never shown (`Authorization`), nor bodies.
pub fn log_line(
    method: &str,
    url: &str,
    status: u16,
    failure: Option<&str>,
    millis: f64,
) -> String {
    let shown = url.split(['?', '#']).next().unwrap_or_default();
    let outcome = match failure {
        Some(f) => format!("failed ({})", crate::render::escape_controls(f)),
        None => status.to_string(),
    };
    format!(
        "{} {} -> {outcome} in {millis:.0} ms",
        crate::render::escape_controls(method),
        crate::render::escape_controls(shown)
    )
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `DELETE`
    Delete,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `POST`
    Post,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Delete => "DELETE",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Post => "POST",
        }
    }
}

/// A request to send to the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Echo it back with the response.
    pub id: u64,
    /// The method.
    pub method: Method,
    /// Path and query, relative to the registry's base URL (`/v2/app/tags/list?n=1000`).
    pub path: String,
    /// Headers to send (the adapter adds `Authorization`).
    pub headers: Vec<(String, String)>,
    /// The access this request needs (`repository:app:pull`), for bearer-token scopes.
    pub scope: String,
    /// A JSON body (ACR's `PATCH` of changeable attributes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl Request {
    pub(crate) fn get(
        id: u64,
        path: String,
        headers: Vec<(String, String)>,
        scope: String,
    ) -> Request {
        Request {
            id,
            method: Method::Get,
            path,
            headers,
            scope,
            body: None,
        }
    }
}

/// A response from the registry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// The status code; 0 for a transport failure (connection reset, timeout).
    pub status: u16,
    /// Headers, names in any case.
    pub headers: Vec<(String, String)>,
    /// The body, as received.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Whether an error body is the registry's own `NAME_UNKNOWN` (distribution-spec error codes):
/// the repository has no tags, or does not exist.
pub(crate) fn name_unknown(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<Code>,
    }
    #[derive(Deserialize)]
    struct Code {
        code: String,
    }
    serde_json::from_slice::<Errors>(body)
        .is_ok_and(|e| !e.errors.is_empty() && e.errors.iter().all(|c| c.code == "NAME_UNKNOWN"))
}

/// A status for people: `HTTP 403`, or what a transport failure (status 0) means.
pub(crate) fn status_text(status: u16) -> String {
    if status == 0 {
        "no response (connection failed)".into()
    } else {
        format!("HTTP {status}")
    }
}

/// Whether a response should be retried: throttling, server errors, transport failures.
pub(crate) fn retryable(status: u16) -> bool {
    status == 0 || status == 429 || (500..600).contains(&status)
}

/// Seconds to wait before retry `attempt` (1-based): `Retry-After` when the registry sends
/// seconds, else exponential backoff from 0.5 s, capped at 30 s.
pub(crate) fn backoff(response: &Response, attempt: u32) -> f64 {
    if let Some(s) = response
        .header("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return s.clamp(0.0, 300.0);
    }
    (0.5 * 2f64.powi(attempt.saturating_sub(1).min(10) as i32)).min(30.0)
}
