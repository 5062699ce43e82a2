//! A conversation with one registry as the adapter sees it: [`Crawl`], [`Execute`] or
//! [`Undo`] behind the registry's authentication, with what transport failures mean.
//!
//! Authentication (distribution's token flow, RFC 7235/6750, ACR's refresh-token exchange):
//! a `401` with a `Basic` challenge is answered with the credentials once; with a `Bearer`
//! challenge, a token is asked of the challenge's `realm` for its `service` and `scope` (GET
//! with basic credentials, or anonymously; POST `grant_type=refresh_token` for an ACR refresh
//! token), and the request goes again with it. Tokens are kept per scope and sent up front from
//! then on, as are basic credentials once the registry took them. Credentials go to a token
//! service only over HTTPS, to loopback, or with `insecure`. A request is authenticated at most
//! twice (a token may expire in between); then its `401` goes to the conversation, whose error
//! says which credentials were refused, or where none were found.
//!
//! Transport failures: the adapter names what failed (its own error code, such as `ENOTFOUND`
//! or `gaierror`); [`TransportFailure::classify`] reads it. Before the registry has answered
//! anything, a name that does not resolve, a refused connection or a TLS failure ends the
//! conversation at once with [`Error::RegistryUnreachable`] (retrying cannot help, and nothing was
//! done). Afterwards every failure goes to the conversation, which retries and fails closed.
//! Adapters never resend: the core decides what goes again.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::challenge::parse_challenge;
use super::credentials::{basic_header, Credentials, ACR_REFRESH_USER};
use super::failure::TransportFailure;
use super::token::{form, host_of, token_of};
use super::url::is_loopback_host;
use super::{backoff, Crawl, Execute, Method, Request, Response, Undo};
use crate::error::{Error, Result};

/// Token requests are numbered from here, far above any conversation's own ids (and below
/// 2^53, so they stay exact as JavaScript numbers).
const TOKEN_IDS: u64 = 1 << 52;
/// A token request is tried this many times when the token service does not answer.
const TOKEN_ATTEMPTS: u32 = 3;
/// A request is sent with new authentication at most this many times.
const AUTH_TRIES: u8 = 2;

/// How to reach and authenticate to the registry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Access {
    /// `scheme://host[:port]` (from `parse_registry_url`).
    pub origin: String,
    /// Whether plain HTTP to a token service off loopback was allowed (`--insecure`).
    #[serde(default)]
    pub insecure: bool,
    /// The credentials found, if any.
    #[serde(default)]
    pub credentials: Option<Credentials>,
    /// Where the lookup looked when it found none (for the error a `401` then gets).
    #[serde(default)]
    pub looked: Vec<String>,
}

/// One of the conversations a session can carry.
pub enum Conversation {
    /// Building a snapshot.
    Crawl(Box<Crawl>),
    /// Carrying out a plan.
    Execute(Box<Execute>),
    /// Pushing back what a run deleted.
    Undo(Box<Undo>),
}

/// A request for the adapter to send, exactly as it is to go out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outgoing {
    /// Echo it back with the response.
    pub id: u64,
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// Every header to send (with `Authorization` when one is due).
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
}

#[derive(Debug)]
enum Sent {
    /// A conversation's request, sent `tries` times with new authentication; `auth` is the
    /// `Authorization` it carried.
    Inner {
        req: Request,
        tries: u8,
        auth: Option<String>,
    },
    /// A token request.
    Token { key: String },
}

#[derive(Debug)]
struct TokenFetch {
    request: Outgoing,
    attempt: u32,
    /// The requests waiting for the token, with the `401` each got (delivered if none comes).
    waiting: Vec<(Request, u8, Response)>,
    /// Asked before the registry challenged (its realm known from an earlier challenge): if
    /// no token comes, the waiting requests go without one and meet the challenge themselves.
    upfront: bool,
}

/// Where the registry's tokens come from, learnt from its first `Bearer` challenge.
#[derive(Debug, Clone)]
struct TokenService {
    realm: String,
    service: String,
}

impl std::fmt::Debug for Conversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conversation::Crawl(_) => "Conversation::Crawl",
            Conversation::Execute(_) => "Conversation::Execute",
            Conversation::Undo(_) => "Conversation::Undo",
        })
    }
}

/// A conversation with its authentication.
#[derive(Debug)]
pub struct Session {
    conv: Conversation,
    access: Access,
    host: String,
    sent: HashMap<u64, Sent>,
    ready: VecDeque<Outgoing>,
    delayed: Vec<(f64, String)>,
    tokens: HashMap<String, String>,
    fetching: HashMap<String, TokenFetch>,
    basic_accepted: bool,
    /// The registry asked for `Basic` credentials: they go up front from then on.
    basic_challenged: bool,
    /// The token service of the registry's `Bearer` challenges: a token for a new scope is
    /// asked up front, so a new repository costs no `401`.
    token_service: Option<TokenService>,
    answered: bool,
    trouble: Option<String>,
    last_failure: Option<TransportFailure>,
    next_token_id: u64,
}

impl Session {
    /// Carries `conv` to the registry at `access.origin`.
    pub fn new(conv: Conversation, access: Access) -> Result<Session> {
        let host = access
            .origin
            .split_once("://")
            .map(|(_, h)| h.trim_end_matches('/').to_owned())
            .filter(|h| !h.is_empty() && !h.contains('/'))
            .ok_or_else(|| Error::InvalidOperation {
                path: "origin".into(),
                message: format!("{:?} is not scheme://host[:port]", access.origin),
            })?;
        Ok(Session {
            conv,
            access,
            host,
            sent: HashMap::new(),
            ready: VecDeque::new(),
            delayed: Vec::new(),
            tokens: HashMap::new(),
            fetching: HashMap::new(),
            basic_accepted: false,
            basic_challenged: false,
            token_service: None,
            answered: false,
            trouble: None,
            last_failure: None,
            next_token_id: TOKEN_IDS,
        })
    }

    /// The conversation.
    pub fn conversation(&self) -> &Conversation {
        &self.conv
    }

    /// The conversation, to take its results.
    pub fn conversation_mut(&mut self) -> &mut Conversation {
        &mut self.conv
    }

    /// `(finished, total)` deletions of an execution or journal lines of an undo; for a crawl,
    /// `(responses, 0)` (its total is unknown until it ends).
    pub fn progress(&self) -> (usize, usize) {
        match &self.conv {
            Conversation::Crawl(c) => (c.progress().responses as usize, 0),
            Conversation::Execute(e) => e.progress(),
            Conversation::Undo(u) => u.progress(),
        }
    }

    /// A line for a terminal saying how far the conversation is: a crawl's listing, then its
    /// manifests fetched and reused against the known total; an execution's or undo's count.
    pub fn status_line(&self) -> String {
        match &self.conv {
            Conversation::Crawl(c) => c.progress().line(),
            Conversation::Execute(e) => {
                let (done, total) = e.progress();
                format!("execute: {done}/{total} actions")
            }
            Conversation::Undo(u) => {
                let (done, total) = u.progress();
                format!("undo: {done}/{total} manifests")
            }
        }
    }

    /// The result as JSON once done: a crawl's snapshot, an execution's or an undo's report.
    pub fn result_json(&self) -> Result<String> {
        Ok(match &self.conv {
            Conversation::Crawl(c) => c.snapshot()?.to_json(),
            Conversation::Execute(e) => serde_json::to_string(&e.report()).unwrap_or_default(),
            Conversation::Undo(u) => serde_json::to_string(&u.report()).unwrap_or_default(),
        })
    }

    /// The crawl this session carries (an error for another conversation).
    pub fn crawl_mut(&mut self) -> Result<&mut Crawl> {
        match &mut self.conv {
            Conversation::Crawl(c) => Ok(c),
            _ => Err(Self::not("a crawl")),
        }
    }

    /// The execution this session carries (an error for another conversation).
    pub fn execute_mut(&mut self) -> Result<&mut Execute> {
        match &mut self.conv {
            Conversation::Execute(e) => Ok(e),
            _ => Err(Self::not("an execution")),
        }
    }

    fn not(what: &str) -> Error {
        Error::InvalidOperation {
            path: "session".into(),
            message: format!("this session does not carry {what}"),
        }
    }

    /// The next request to send at `now`, or `None` (wait for a response or `next_wakeup`).
    pub fn next_request(&mut self, now: f64) -> Option<Outgoing> {
        if let Some(due) = self.delayed.iter().position(|(t, _)| *t <= now) {
            let (_, key) = self.delayed.swap_remove(due);
            if let Some(fetch) = self.fetching.get(&key) {
                let out = fetch.request.clone();
                self.sent.insert(out.id, Sent::Token { key });
                return Some(out);
            }
        }
        if let Some(out) = self.ready.pop_front() {
            return Some(out);
        }
        let req = match &mut self.conv {
            Conversation::Crawl(c) => c.next_request(now),
            Conversation::Execute(e) => e.next_request(now),
            Conversation::Undo(u) => u.next_request(now),
        }?;
        let auth = if req.scope == super::GITHUB_API_SCOPE {
            self.api_auth(&req.path)
        } else if req.scope == super::HUB_API_SCOPE {
            // Docker Hub's API answers anonymous requests with public repositories only: with
            // credentials, log in first (the request waits for the JWT).
            match self.tokens.get(&req.scope).cloned() {
                Some(jwt) => Some(jwt),
                None if self.access.credentials.is_some() => {
                    let refused = Response {
                        status: 401,
                        headers: Vec::new(),
                        body: br#"{"detail": "the Docker Hub login failed"}"#.to_vec(),
                    };
                    if self.hub_login(&req, 0, &refused) {
                        return self.ready.pop_front();
                    }
                    None
                }
                None => None,
            }
        } else {
            let token = self.tokens.get(&req.scope).cloned();
            if token.is_none() && self.upfront_token(&req) {
                return self.ready.pop_front();
            }
            token.or_else(|| {
                (self.basic_accepted || self.basic_challenged)
                    .then(|| self.access.credentials.as_ref().map(basic_header))
                    .flatten()
            })
        };
        Some(self.send(req, 0, auth))
    }

    /// A request for a scope without a token, once the registry's token service is known: the
    /// token is asked first (the request waits for it) instead of meeting a `401` per scope.
    fn upfront_token(&mut self, req: &Request) -> bool {
        let Some(ts) = self.token_service.clone() else {
            return false;
        };
        let key = format!("{}\n{}\n{}", ts.realm, ts.service, req.scope);
        let unanswered = Response {
            status: 401,
            headers: Vec::new(),
            body: Vec::new(),
        };
        if let Some(fetch) = self.fetching.get_mut(&key) {
            fetch.waiting.push((req.clone(), 0, unanswered));
            return true;
        }
        let request = self.token_request(&ts.realm, &ts.service, &req.scope);
        self.start_fetch(key, request, (req.clone(), 0, unanswered), true);
        true
    }

    /// The GitHub REST API takes the token itself (`Bearer`), sent up front, and only over
    /// HTTPS or to a loopback host (or with `--insecure`).
    fn api_auth(&self, url: &str) -> Option<String> {
        let c = self.access.credentials.as_ref()?;
        let host = url
            .split_once("://")
            .map_or("", |(_, rest)| rest.split(['/', '?']).next().unwrap_or(""));
        let host = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.chars().all(|ch| ch.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        let safe =
            url.starts_with("https://") || super::is_loopback_host(host) || self.access.insecure;
        safe.then(|| format!("Bearer {}", c.password))
    }

    fn send(&mut self, req: Request, tries: u8, auth: Option<String>) -> Outgoing {
        let mut headers = req.headers.clone();
        if let Some(a) = &auth {
            headers.push(("Authorization".into(), a.clone()));
        }
        // A GitHub API request carries its absolute URL; every other one a registry path.
        let url = if req.scope == super::GITHUB_API_SCOPE || req.scope == super::HUB_API_SCOPE {
            req.path.clone()
        } else {
            format!("{}{}", self.access.origin, req.path)
        };
        let out = Outgoing {
            id: req.id,
            method: req.method,
            url,
            headers,
            body: req.body.clone().map(String::into_bytes),
        };
        self.sent.insert(req.id, Sent::Inner { req, tries, auth });
        out
    }

    /// When a delayed request (a retry) is due.
    pub fn next_wakeup(&self) -> Option<f64> {
        let own = self.delayed.iter().map(|(t, _)| *t).reduce(f64::min);
        let inner = match &self.conv {
            Conversation::Crawl(c) => c.next_wakeup(),
            Conversation::Execute(e) => e.next_wakeup(),
            Conversation::Undo(u) => u.next_wakeup(),
        };
        match (own, inner) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the conversation is over (nothing in flight, nothing more to send).
    pub fn is_done(&mut self) -> bool {
        self.sent.is_empty()
            && self.ready.is_empty()
            && self.delayed.is_empty()
            && match &mut self.conv {
                Conversation::Crawl(c) => c.is_done(),
                Conversation::Execute(e) => e.is_done(),
                Conversation::Undo(u) => u.is_done(),
            }
    }

    /// Stops an execution (nothing more is sent; see [`Execute::cancel`]); `false` for a
    /// conversation that cannot stop part-way and keep its result (a crawl, an undo).
    pub fn cancel(&mut self) -> bool {
        match &mut self.conv {
            Conversation::Execute(e) => {
                e.cancel();
                true
            }
            Conversation::Crawl(_) | Conversation::Undo(_) => false,
        }
    }

    /// Feeds the response to request `id` at `now`; `failure` is the adapter's error code when
    /// there was no response (status 0).
    pub fn handle_response(
        &mut self,
        id: u64,
        response: &Response,
        failure: Option<&str>,
        now: f64,
    ) -> Result<()> {
        let Some(sent) = self.sent.remove(&id) else {
            return Err(Error::InvalidOperation {
                path: "response".into(),
                message: format!("no request {id} is waiting for a response"),
            });
        };
        if response.status == 0 {
            let kind = failure.map_or(TransportFailure::Other, TransportFailure::classify);
            self.last_failure = Some(kind);
            if !self.answered && kind.is_final() {
                return Err(Error::RegistryUnreachable {
                    path: self.host.clone(),
                    status: 0,
                    message: format!("cannot reach the registry: {}", kind.describe()),
                });
            }
            // An answer too large to read is not a fault a retry mends: a crawl stops at once.
            // An execution or undo lets its conversation skip the item and report it.
            if kind == TransportFailure::TooLarge && matches!(self.conv, Conversation::Crawl(_)) {
                let path = match &sent {
                    Sent::Inner { req, .. } => req.path.clone(),
                    Sent::Token { .. } => "token".to_owned(),
                };
                return Err(Error::ProtocolViolation {
                    path,
                    status: 0,
                    message: format!("the registry's answer is too large: {}", kind.describe()),
                });
            }
        } else {
            self.answered = true;
        }
        match sent {
            Sent::Token { key } => self.token_answered(&key, response, now),
            Sent::Inner { req, tries, auth } => {
                if response.status == 401 && req.scope == super::HUB_API_SCOPE {
                    if tries < AUTH_TRIES && self.hub_login(&req, tries, response) {
                        return Ok(());
                    }
                } else if response.status == 401
                    && req.scope != super::GITHUB_API_SCOPE
                    && tries < AUTH_TRIES
                    && self.challenge(&req, tries, auth.as_deref(), response)
                {
                    return Ok(());
                }
                if response.status != 401
                    && auth.as_deref().is_some_and(|a| a.starts_with("Basic "))
                {
                    self.basic_accepted = true;
                }
                self.deliver(req.id, response, now)
            }
        }
    }

    fn deliver(&mut self, id: u64, response: &Response, now: f64) -> Result<()> {
        let result = match &mut self.conv {
            Conversation::Crawl(c) => c.handle_response(id, response, now),
            Conversation::Execute(e) => e.handle_response(id, response, now),
            Conversation::Undo(u) => u.handle_response(id, response, now),
        };
        result.map_err(|e| self.explain(e))
    }

    /// Says, in a registry error, which credentials were refused or where none were found.
    fn explain(&self, e: Error) -> Error {
        match e {
            Error::AuthenticationFailed {
                path,
                status,
                message,
            } => match &self.access.credentials {
                None => Error::CredentialsMissing {
                    path,
                    status,
                    message: format!(
                        "{message}; no credentials were found (looked in: {})",
                        self.access.looked.join("; ")
                    ),
                },
                Some(c) => Error::AuthenticationFailed {
                    path,
                    status,
                    message: format!(
                        "{message}; the credentials from {} were refused{}",
                        c.source,
                        self.trouble
                            .as_deref()
                            .map(|t| format!(" ({t})"))
                            .unwrap_or_default()
                    ),
                },
            },
            Error::RegistryUnreachable {
                path,
                status,
                message,
            } => Error::RegistryUnreachable {
                path,
                status,
                message: match self.last_failure {
                    Some(f) => format!("{message}: {}", f.describe()),
                    None => message,
                },
            },
            other => other,
        }
    }

    /// Answers a `401`'s challenge; `false` when it cannot be (the `401` then stands).
    fn challenge(&mut self, req: &Request, tries: u8, sent: Option<&str>, r: &Response) -> bool {
        let Some(ch) = r.header("www-authenticate").and_then(parse_challenge) else {
            self.trouble =
                Some("the registry's 401 carries no challenge regprune can answer".into());
            return false;
        };
        match ch.scheme.as_str() {
            "basic" => {
                let Some(c) = &self.access.credentials else {
                    return false;
                };
                if sent.is_some_and(|a| a.starts_with("Basic ")) {
                    return false;
                }
                let auth = basic_header(c);
                self.basic_challenged = true;
                let out = self.send(req.clone(), tries + 1, Some(auth));
                self.ready.push_back(out);
                true
            }
            "bearer" => self.bearer(req, tries, sent, r, &ch),
            other => {
                self.trouble = Some(format!(
                    "the registry asks for {other:?} authentication, which regprune does not speak"
                ));
                false
            }
        }
    }

    /// Docker Hub's API answered 401: log in (`POST /v2/auth/token` with the username and the
    /// personal access token) for a JWT, shared by every request waiting for it.
    fn hub_login(&mut self, req: &Request, tries: u8, r: &Response) -> bool {
        let Some(c) = self.access.credentials.clone() else {
            return false;
        };
        // The API's base is what precedes `/v2/` in the request's URL.
        let Some(origin) = req.path.find("/v2/").map(|i| req.path[..i].to_owned()) else {
            return false;
        };
        let host = host_of(&origin);
        if !origin.starts_with("https://") && !self.access.insecure && !is_loopback_host(&host) {
            self.trouble = Some(format!("Docker Hub's API at {host} is plain HTTP; credentials go only over HTTPS, to loopback, or with --insecure"));
            return false;
        }
        let key = format!("hub\n{origin}");
        if let Some(fetch) = self.fetching.get_mut(&key) {
            fetch.waiting.push((req.clone(), tries, r.clone()));
            return true;
        }
        let id = self.next_token_id;
        self.next_token_id += 1;
        let body = serde_json::json!({"identifier": c.username, "secret": c.password}).to_string();
        let request = Outgoing {
            id,
            method: Method::Post,
            url: format!("{origin}/v2/auth/token"),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(body.into_bytes()),
        };
        self.start_fetch(key, request, (req.clone(), tries, r.clone()), false);
        true
    }

    fn bearer(
        &mut self,
        req: &Request,
        tries: u8,
        sent: Option<&str>,
        r: &Response,
        ch: &super::Challenge,
    ) -> bool {
        let Some(realm) = ch.realm().map(str::to_owned) else {
            self.trouble = Some("its Bearer challenge names no http(s) realm".into());
            return false;
        };
        let realm_host = host_of(&realm);
        if !realm.starts_with("https://") && !self.access.insecure && !is_loopback_host(&realm_host)
        {
            self.trouble = Some(format!("the token service {realm_host} is plain HTTP; credentials go only over HTTPS, to loopback, or with --insecure"));
            return false;
        }
        // A token got meanwhile for this scope (another request asked): use it.
        if let Some(token) = self.tokens.get(&req.scope).cloned() {
            if sent != Some(token.as_str()) {
                let out = self.send(req.clone(), tries + 1, Some(token));
                self.ready.push_back(out);
                return true;
            }
        }
        let scope = ch
            .params
            .get("scope")
            .cloned()
            .unwrap_or_else(|| req.scope.clone());
        let service = ch.params.get("service").cloned().unwrap_or_default();
        self.token_service = Some(TokenService {
            realm: realm.clone(),
            service: service.clone(),
        });
        let key = format!("{realm}\n{service}\n{scope}");
        if let Some(fetch) = self.fetching.get_mut(&key) {
            fetch.waiting.push((req.clone(), tries, r.clone()));
            return true;
        }
        let request = self.token_request(&realm, &service, &scope);
        self.start_fetch(key, request, (req.clone(), tries, r.clone()), false);
        true
    }

    /// The request for a token of `scope` from the token service at `realm`.
    fn token_request(&mut self, realm: &str, service: &str, scope: &str) -> Outgoing {
        let id = self.next_token_id;
        self.next_token_id += 1;
        let creds = self.access.credentials.as_ref();
        if let Some(c) = creds.filter(|c| c.username == ACR_REFRESH_USER) {
            let body = form(&[
                ("grant_type", "refresh_token"),
                ("service", service),
                ("scope", scope),
                ("refresh_token", &c.password),
            ]);
            Outgoing {
                id,
                method: Method::Post,
                url: realm.to_owned(),
                headers: vec![(
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                )],
                body: Some(body.into_bytes()),
            }
        } else {
            let sep = if realm.contains('?') { '&' } else { '?' };
            let query = form(&[("service", service), ("scope", scope)]);
            Outgoing {
                id,
                method: Method::Get,
                url: format!("{realm}{sep}{query}"),
                headers: creds
                    .map(|c| vec![("Authorization".into(), basic_header(c))])
                    .unwrap_or_default(),
                body: None,
            }
        }
    }

    /// Sends a token request (`key` names what it is for) with its first waiting request.
    fn start_fetch(
        &mut self,
        key: String,
        request: Outgoing,
        first: (Request, u8, Response),
        upfront: bool,
    ) {
        self.sent
            .insert(request.id, Sent::Token { key: key.clone() });
        self.ready.push_back(request.clone());
        self.fetching.insert(
            key,
            TokenFetch {
                request,
                attempt: 1,
                waiting: vec![first],
                upfront,
            },
        );
    }

    fn token_answered(&mut self, key: &str, r: &Response, now: f64) -> Result<()> {
        let Some(mut fetch) = self.fetching.remove(key) else {
            return Ok(());
        };
        let retry = r.status == 0 || r.status == 429 || r.status >= 500;
        if retry && fetch.attempt < TOKEN_ATTEMPTS {
            let at = now + backoff(r, fetch.attempt);
            fetch.attempt += 1;
            self.fetching.insert(key.to_owned(), fetch);
            self.delayed.push((at, key.to_owned()));
            return Ok(());
        }
        let token = (r.status == 200).then(|| token_of(&r.body)).flatten();
        if let Some(token) = token {
            let header = format!("Bearer {token}");
            for (req, tries, _) in fetch.waiting {
                self.tokens.insert(req.scope.clone(), header.clone());
                let out = self.send(req, tries + 1, Some(header.clone()));
                self.ready.push_back(out);
            }
            return Ok(());
        }
        if fetch.upfront {
            // Asked before any challenge: the requests go without a token, and the registry's
            // own challenge (and its scope) decides.
            for (req, tries, _) in fetch.waiting {
                let out = self.send(req, tries, None);
                self.ready.push_back(out);
            }
            return Ok(());
        }
        let service = host_of(&fetch.request.url);
        self.trouble = Some(match r.status {
            200 => format!("the token service {service} sent no usable token"),
            0 => format!("the token service {service} could not be reached"),
            s => format!("the token service {service} answered HTTP {s}"),
        });
        for (req, _, original) in fetch.waiting {
            self.deliver(req.id, &original, now)?;
        }
        Ok(())
    }
}
