//! The small formats of the token flow (distribution's token authentication, RFC 6750, `OAuth2`'s
//! form encoding): a token service's answer, the form a token is asked with, and the host a
//! realm names (for loopback checks and messages, never with credentials).

use std::fmt::Write as _;

use serde::Deserialize;

/// The host of an absolute URL (lowercased; IPv6 in brackets), for loopback checks and
/// messages (never with credentials).
pub(crate) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if authority.starts_with('[') {
        authority
            .split_once(']')
            .map_or(authority.to_owned(), |(h, _)| format!("{h}]"))
    } else {
        authority.split(':').next().unwrap_or_default().to_owned()
    };
    host.to_ascii_lowercase()
}

/// `application/x-www-form-urlencoded` (the URL standard's encoding: unreserved bytes kept,
/// space as `+`, everything else percent-encoded).
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    out.push(b as char);
                }
                b' ' => out.push('+'),
                _ => {
                    let _ = write!(out, "%{b:02X}");
                }
            }
        }
        out
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The token of a token service's answer (`token`, or `OAuth2`'s `access_token`), only when it is
/// an RFC 6750 `b64token`: anything else (a line break, a space, not a string) came from a
/// broken or hostile service and is sent nowhere.
pub(crate) fn token_of(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct TokenAnswer {
        token: Option<serde_json::Value>,
        access_token: Option<serde_json::Value>,
    }
    let doc: TokenAnswer = serde_json::from_slice(body).ok()?;
    let serde_json::Value::String(token) = doc.token.or(doc.access_token)? else {
        return None;
    };
    let core = token.trim_end_matches('=');
    let ok = !core.is_empty()
        && core
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    ok.then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_must_be_b64tokens_and_forms_are_encoded() {
        assert_eq!(
            token_of(br#"{"token": "abc.DEF-_~+/=="}"#).as_deref(),
            Some("abc.DEF-_~+/==")
        );
        assert_eq!(token_of(br#"{"access_token": "x"}"#).as_deref(), Some("x"));
        for bad in [
            &br#"{"token": "a b"}"#[..],
            br#"{"token": "a\nb"}"#,
            br#"{"token": 7}"#,
            br#"{"token": ""}"#,
            b"nope",
        ] {
            assert_eq!(token_of(bad), None);
        }
        assert_eq!(
            form(&[("scope", "repository:a/b:pull,push"), ("x", "ä ")]),
            "scope=repository%3Aa%2Fb%3Apull%2Cpush&x=%C3%A4+"
        );
        assert_eq!(
            host_of("https://u:p@Auth.Example:8443/token?x"),
            "auth.example"
        );
        assert_eq!(host_of("http://[::1]:5000/t"), "[::1]");
    }
}
