//! The registry's authentication and transport failures, as the adapters see them through a
//! `Session`: a scripted registry behind a token service (distribution's token flow), in
//! virtual time.

use std::collections::HashMap;

use regprune_core::http::{
    Access, Conversation, Crawl, CrawlOptions, Credentials, Method, Outgoing, Response, Session,
    ACR_REFRESH_USER,
};
use regprune_core::Error;

const GOOD: &str = "Basic YWRtaW46czNjcmV0"; // admin:s3cret
const REFRESH: &str = "refresh-xyz";

/// A registry with repositories `a` and `b` (no tags), whose every request needs a bearer
/// token for its scope from `https://auth.example/token`.
#[derive(Default)]
struct Registry {
    issued: Vec<String>,
    challenged: usize,
    token_requests: Vec<Outgoing>,
    /// Requests to the registry itself.
    requests: usize,
    /// The token service answers this status first, this many times.
    token_outage: (u16, usize),
    /// Scopes the token service refuses (401) the first time they are asked for.
    refuse_once: Vec<String>,
}

impl Registry {
    fn answer(&mut self, o: &Outgoing) -> Response {
        let header = |name: &str| {
            o.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        if o.url.starts_with("https://auth.example/token") {
            self.token_requests.push(o.clone());
            if self.token_outage.1 > 0 {
                self.token_outage.1 -= 1;
                return status(self.token_outage.0);
            }
            let scope = if o.method == Method::Post {
                let body = String::from_utf8(o.body.clone().unwrap()).unwrap();
                assert!(body.contains(&format!("refresh_token={REFRESH}")), "{body}");
                assert!(body.contains("grant_type=refresh_token"));
                query(&body, "scope")
            } else {
                if header("authorization").as_deref() != Some(GOOD) {
                    return status(401);
                }
                query(o.url.split_once('?').unwrap().1, "scope")
            };
            if let Some(i) = self.refuse_once.iter().position(|s| *s == scope) {
                self.refuse_once.remove(i);
                return status(401);
            }
            let token = format!("tok{}", self.issued.len());
            self.issued.push(scope);
            return json(200, &format!(r#"{{"token": "{token}"}}"#));
        }
        self.requests += 1;
        let path = o.url.strip_prefix("https://reg.example").unwrap();
        let scope = if path.starts_with("/v2/_catalog") {
            "registry:catalog:*".to_owned()
        } else {
            let repo = path.trim_start_matches("/v2/").split('/').next().unwrap();
            format!("repository:{repo}:pull")
        };
        let wanted = self
            .issued
            .iter()
            .position(|s| *s == scope)
            .map(|i| format!("Bearer tok{i}"));
        if wanted.is_none() || header("authorization") != wanted {
            self.challenged += 1;
            let mut r = status(401);
            r.headers.push((
                "WWW-Authenticate".into(),
                format!(r#"Bearer realm="https://auth.example/token",service="reg.example",scope="{scope}""#),
            ));
            return r;
        }
        if path.starts_with("/v2/_catalog") {
            json(200, r#"{"repositories": ["a", "b"]}"#)
        } else {
            json(200, r#"{"name": "x", "tags": []}"#)
        }
    }
}

fn query(q: &str, key: &str) -> String {
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap()
        .replace("%3A", ":")
        .replace("%2A", "*")
        .replace("%2C", ",")
}

fn status(s: u16) -> Response {
    Response {
        status: s,
        ..Response::default()
    }
}

fn json(s: u16, body: &str) -> Response {
    Response {
        status: s,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn session(credentials: Option<Credentials>) -> Session {
    let opts: CrawlOptions =
        serde_json::from_str(r#"{"registry": "reg.example", "flavour": "oci"}"#).unwrap();
    Session::new(
        Conversation::Crawl(Box::new(Crawl::new(opts))),
        Access {
            origin: "https://reg.example".into(),
            credentials,
            looked: vec!["--username/--password: not given".into()],
            ..Access::default()
        },
    )
    .unwrap()
}

fn creds(user: &str, password: &str) -> Credentials {
    Credentials {
        username: user.into(),
        password: password.into(),
        source: "the test".into(),
    }
}

/// Runs the session against the registry, `lanes` requests at a time, answering each at
/// `now`; ends with the crawl's result. `fail` names requests that get a transport failure.
fn run(
    s: &mut Session,
    reg: &mut Registry,
    lanes: usize,
    fail: &mut HashMap<String, &str>,
) -> Result<(), Error> {
    let mut now = 0.0;
    for _ in 0..10_000 {
        let mut batch = Vec::new();
        while batch.len() < lanes {
            match s.next_request(now) {
                Some(o) => batch.push(o),
                None => break,
            }
        }
        if batch.is_empty() {
            if s.is_done() {
                return Ok(());
            }
            now = s
                .next_wakeup()
                .expect("stalled: nothing to send and nothing due");
            continue;
        }
        for o in batch {
            if let Some(code) = fail.remove(&o.url) {
                s.handle_response(o.id, &status(0), Some(code), now)?;
            } else {
                let r = reg.answer(&o);
                s.handle_response(o.id, &r, None, now)?;
            }
        }
    }
    panic!("the conversation did not end");
}

fn crawled(s: &Session) -> usize {
    match s.conversation() {
        Conversation::Crawl(c) => c.snapshot().unwrap().repositories.len(),
        _ => unreachable!(),
    }
}

/// The first challenge names the token service; every later scope's token is asked before
/// its first request, so only that first request meets a `401` (issue 30).
#[test]
fn one_token_per_scope_then_sent_up_front() {
    let mut s = session(Some(creds("admin", "s3cret")));
    let mut reg = Registry::default();
    run(&mut s, &mut reg, 1, &mut HashMap::new()).unwrap();
    assert_eq!(crawled(&s), 2);
    assert_eq!(
        reg.issued,
        [
            "registry:catalog:*",
            "repository:a:pull",
            "repository:b:pull"
        ]
    );
    // One challenge in all; a request of a scope already authorized goes with its token,
    // and a new scope's token is asked before its first request.
    assert_eq!(reg.challenged, 1);
    assert_eq!(reg.requests, 4);
}

/// A token asked up front that the token service refuses does not fail its requests: they
/// go without one and meet the registry's own challenge, whose token is then asked for.
#[test]
fn a_refused_upfront_token_falls_back_to_the_challenge() {
    let mut s = session(Some(creds("admin", "s3cret")));
    let mut reg = Registry {
        refuse_once: vec!["repository:a:pull".into()],
        ..Registry::default()
    };
    run(&mut s, &mut reg, 1, &mut HashMap::new()).unwrap();
    assert_eq!(crawled(&s), 2);
    assert_eq!(
        reg.challenged, 2,
        "the catalog's, and a's after its refused up-front token"
    );
    assert_eq!(
        reg.issued,
        [
            "registry:catalog:*",
            "repository:a:pull",
            "repository:b:pull"
        ]
    );
}

#[test]
fn requests_waiting_for_the_same_token_share_one_token_request() {
    let mut s = session(Some(creds("admin", "s3cret")));
    let mut reg = Registry::default();
    // Both tag lists go out together, then the catalog's token answers for both... each
    // scope is asked once however many requests wait for it.
    run(&mut s, &mut reg, 8, &mut HashMap::new()).unwrap();
    assert_eq!(reg.token_requests.len(), 3);
}

#[test]
fn no_credentials_says_where_it_looked() {
    let mut s = session(None);
    let mut reg = Registry::default();
    let e = run(&mut s, &mut reg, 1, &mut HashMap::new()).unwrap_err();
    assert_eq!(e.code(), "credentials_missing", "{e}");
    assert!(
        e.to_string()
            .contains("looked in: --username/--password: not given"),
        "{e}"
    );
    assert_eq!(e.exit_code(), 4);
}

#[test]
fn a_wrong_password_names_the_refused_credentials() {
    let mut s = session(Some(creds("admin", "wrong")));
    let mut reg = Registry::default();
    let e = run(&mut s, &mut reg, 1, &mut HashMap::new()).unwrap_err();
    assert_eq!(e.code(), "authentication_failed", "{e}");
    let text = e.to_string();
    assert!(
        text.contains("the credentials from the test were refused"),
        "{text}"
    );
    assert!(text.contains("answered HTTP 401"), "{text}");
    assert!(!text.contains("wrong") && !text.contains("YWRt"), "{text}");
}

#[test]
fn an_acr_refresh_token_is_exchanged_by_post() {
    let mut s = session(Some(creds(ACR_REFRESH_USER, REFRESH)));
    let mut reg = Registry::default();
    run(&mut s, &mut reg, 2, &mut HashMap::new()).unwrap();
    assert!(reg.token_requests.iter().all(|o| o.method == Method::Post));
    assert_eq!(crawled(&s), 2);
}

#[test]
fn a_token_service_outage_is_retried_then_reported() {
    let mut s = session(Some(creds("admin", "s3cret")));
    let mut reg = Registry {
        token_outage: (503, 2),
        ..Registry::default()
    };
    run(&mut s, &mut reg, 1, &mut HashMap::new()).unwrap();
    let mut s = session(Some(creds("admin", "s3cret")));
    let mut reg = Registry {
        token_outage: (503, 99),
        ..Registry::default()
    };
    let e = run(&mut s, &mut reg, 1, &mut HashMap::new()).unwrap_err();
    assert!(
        e.to_string()
            .contains("token service auth.example answered HTTP 503"),
        "{e}"
    );
}

#[test]
fn dns_failure_before_any_answer_ends_at_once_naming_the_host() {
    for (code, kind) in [
        ("ENOTFOUND", "does not resolve"),
        ("gaierror", "does not resolve"),
        ("ECONNREFUSED", "refused"),
        ("CERT_HAS_EXPIRED", "TLS"),
    ] {
        let mut s = session(None);
        let mut reg = Registry::default();
        let mut fail = HashMap::from([("https://reg.example/v2/_catalog?n=1000".to_owned(), code)]);
        let e = run(&mut s, &mut reg, 1, &mut fail).unwrap_err();
        assert_eq!(e.code(), "registry_unreachable", "{e}");
        assert_eq!(e.path(), "reg.example");
        assert!(e.to_string().contains(kind), "{e}");
        assert_eq!(e.exit_code(), 3);
        assert_eq!(reg.requests, 0);
    }
}

#[test]
fn a_crawl_stops_at_once_on_an_answer_too_large_to_read() {
    for code in ["too_large", "UND_ERR_RES_EXCEEDED_MAX_SIZE"] {
        let mut s = session(Some(creds("admin", "s3cret")));
        let mut reg = Registry::default();
        let mut fail = HashMap::from([("https://reg.example/v2/_catalog?n=1000".to_owned(), code)]);
        let e = run(&mut s, &mut reg, 1, &mut fail).unwrap_err();
        assert_eq!(e.code(), "protocol_violation", "{e}");
        assert_eq!(e.path(), "/v2/_catalog?n=1000");
        assert!(e.to_string().contains("too large"), "{e}");
        assert_eq!(e.exit_code(), 5);
        assert_eq!(reg.requests, 0, "nothing else was asked after it");
    }
}

#[test]
fn a_reset_is_retried_by_the_conversation() {
    let mut s = session(Some(creds("admin", "s3cret")));
    let mut reg = Registry::default();
    let mut fail = HashMap::from([(
        "https://reg.example/v2/_catalog?n=1000".to_owned(),
        "ECONNRESET",
    )]);
    run(&mut s, &mut reg, 1, &mut fail).unwrap();
    assert_eq!(crawled(&s), 2);
}

#[test]
fn credentials_go_to_a_plain_http_token_service_only_on_loopback() {
    let opts: CrawlOptions =
        serde_json::from_str(r#"{"registry": "reg.example", "flavour": "oci"}"#).unwrap();
    let mut s = Session::new(
        Conversation::Crawl(Box::new(Crawl::new(opts))),
        Access {
            origin: "https://reg.example".into(),
            credentials: Some(creds("admin", "s3cret")),
            ..Access::default()
        },
    )
    .unwrap();
    let o = s.next_request(0.0).unwrap();
    let mut r = status(401);
    r.headers.push((
        "www-authenticate".into(),
        r#"Bearer realm="http://auth.example/token",service="x""#.into(),
    ));
    let e = s.handle_response(o.id, &r, None, 0.0).unwrap_err();
    assert_eq!(e.code(), "authentication_failed");
    assert!(e.to_string().contains("plain HTTP"), "{e}");
    assert!(s.next_request(0.0).is_none());
}

#[test]
fn the_github_token_goes_to_the_rest_api_only_over_https_or_loopback() {
    for (api, sent) in [
        ("https://api.github.example", true),
        ("http://127.0.0.1:8080/api", true),
        ("http://api.github.example", false),
    ] {
        let opts: CrawlOptions = serde_json::from_value(serde_json::json!({
            "registry": "ghcr.example", "flavour": "ghcr", "owner": "octo-org", "githubApi": api
        }))
        .unwrap();
        let mut s = Session::new(
            Conversation::Crawl(Box::new(Crawl::new(opts))),
            Access {
                origin: "https://ghcr.example".into(),
                credentials: Some(creds("token", "ghp_secret")),
                ..Access::default()
            },
        )
        .unwrap();
        let first = s.next_request(0.0).unwrap();
        assert_eq!(first.url, format!("{api}/users/octo-org"));
        let auth = first
            .headers
            .iter()
            .find(|(k, _)| k == "Authorization")
            .map(|(_, v)| v.as_str());
        assert_eq!(auth, sent.then_some("Bearer ghp_secret"), "{api}");
        assert!(first
            .headers
            .iter()
            .any(|(k, v)| k == "X-GitHub-Api-Version" && v == "2022-11-28"));
    }
}
