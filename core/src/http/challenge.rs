//! `WWW-Authenticate` challenges (RFC 7235, as registries send them): the scheme, and for
//! `Bearer` the token service's `realm`, `service` and `scope`.

use std::collections::BTreeMap;

/// Longer headers are not challenges a registry sends; they are refused unread.
pub const MAX_CHALLENGE_LEN: usize = 8 * 1024;

/// One parsed challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `basic` or `bearer` (lowercase), or another scheme as sent, lowercased.
    pub scheme: String,
    /// Parameters by lowercase name, values unquoted (`realm`, `service`, `scope`, `error`).
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// What a client needs, as the bindings hand it over: `scheme`, and `realm` (only when it
    /// is an http(s) URL), `service` and `scope` when present.
    pub fn summary(&self) -> BTreeMap<&'static str, String> {
        let mut out = BTreeMap::new();
        out.insert("scheme", self.scheme.clone());
        if let Some(realm) = self.realm() {
            out.insert("realm", realm.to_owned());
        }
        for key in ["service", "scope"] {
            if let Some(v) = self.params.get(key) {
                out.insert(key, v.clone());
            }
        }
        out
    }

    /// The token endpoint of a `Bearer` challenge, when it is an `http` or `https` URL.
    pub fn realm(&self) -> Option<&str> {
        let realm = self.params.get("realm")?;
        (realm.starts_with("https://") || realm.starts_with("http://")).then_some(realm.as_str())
    }
}

/// Parses a `WWW-Authenticate` header; `None` when it is empty, overlong, or not one
/// `scheme [param=value, ...]` challenge.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    if header.len() > MAX_CHALLENGE_LEN || header.chars().any(char::is_control) {
        return None;
    }
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return None;
    }
    let mut params = BTreeMap::new();
    for part in split_params(rest) {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if !key.is_empty() {
            params.entry(key).or_insert_with(|| value.to_owned());
        }
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

/// Splits at commas outside double quotes.
fn split_params(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !s[start..].trim().is_empty() {
        parts.push(&s[start..]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_as_registries_send_them() {
        let c = parse_challenge(r#"Bearer realm="https://auth.example.io/token",service="registry.example.io",scope="repository:app/x:pull,delete""#).unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.realm(), Some("https://auth.example.io/token"));
        assert_eq!(c.params["service"], "registry.example.io");
        // The comma inside the quoted scope does not split it.
        assert_eq!(c.params["scope"], "repository:app/x:pull,delete");
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#)
                .unwrap()
                .scheme,
            "basic"
        );
    }

    #[test]
    fn hostile_challenges_are_refused_or_defanged() {
        assert_eq!(parse_challenge(""), None);
        assert_eq!(parse_challenge("Bearer\r\nX-Injected: 1"), None);
        assert_eq!(parse_challenge(&"a".repeat(MAX_CHALLENGE_LEN + 1)), None);
        assert_eq!(parse_challenge("B@d realm=x"), None);
        let c = parse_challenge(r#"Bearer realm="file:///etc/passwd""#).unwrap();
        assert_eq!(c.realm(), None, "only http(s) token endpoints");
        let c = parse_challenge(r#"Bearer realm="https://a", realm="https://b""#).unwrap();
        assert_eq!(c.realm(), Some("https://a"), "the first value wins");
        assert!(parse_challenge(r#"Bearer realm="unterminated, service=x"#).is_some());
    }
}
