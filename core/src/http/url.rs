//! The registry's address, as users write it (`https://host`, `http://127.0.0.1:5000`, a bare
//! `host:port`), read once here for both adapters: which scheme, which host, whether the host
//! is loopback (decided on the parsed address, never on text: `127.anything.example` is a
//! name, not a loopback address), and credentials written into the URL (`user:pass@host`),
//! which are taken as credentials and never echoed.

use serde::Serialize;

use crate::error::{Error, Result};

/// A parsed registry address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryUrl {
    /// `http` or `https`.
    pub scheme: String,
    /// The host, lowercased; an IPv6 address in brackets.
    pub host: String,
    /// The port, when one is written.
    pub port: Option<u16>,
    /// `host[:port]`: how the core names the registry (plans, journals, pagination).
    pub registry: String,
    /// `scheme://host[:port]`, with no credentials.
    pub origin: String,
    /// `localhost`, an address in `127.0.0.0/8`, or `::1`.
    pub loopback: bool,
    /// The user name written in the URL (percent-decoded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password written in the URL (percent-decoded). Never part of an error or `Debug`
    /// output of the core's messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

fn bad(message: String) -> Error {
    Error::InvalidOperation {
        path: "registry".into(),
        message,
    }
}

/// Checks a transport's `timeout` (seconds without a byte) and `deadline` (seconds for a whole
/// request): each a positive, finite number of seconds.
pub fn check_timeouts(timeout: f64, deadline: f64) -> Result<()> {
    for (name, value) in [("timeout", timeout), ("deadline", deadline)] {
        if !(value.is_finite() && value > 0.0) {
            return Err(bad(format!(
                "{name} must be a positive number of seconds, not {value}"
            )));
        }
    }
    Ok(())
}

/// Whether `host` (lowercased, IPv6 in brackets) is loopback, decided on the parsed address.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|a| a.is_loopback());
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|a| a.is_loopback())
}

/// Reads a registry address. Plain `http` is refused off loopback unless `insecure` (it would
/// expose credentials and content). A URL without a scheme is `https`.
pub fn parse_registry_url(text: &str, insecure: bool) -> Result<RegistryUrl> {
    let text = text.trim();
    let (scheme, rest) = match text.split_once("://") {
        Some((s, rest)) => (s.to_ascii_lowercase(), rest),
        None => ("https".to_owned(), text),
    };
    if scheme != "http" && scheme != "https" {
        return Err(bad(format!(
            "unsupported scheme {:?}: use https:// (or http:// to a loopback address)",
            crate::render::escape_controls(&scheme)
        )));
    }
    let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    // Userinfo is everything before the last '@' of the authority.
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let shown = format!("{scheme}://{hostport}");
    if !(path.is_empty() || path == "/") {
        return Err(bad(format!(
            "{:?} has a path; give the registry's address only (scheme, host, port)",
            crate::render::escape_controls(&shown)
        )));
    }
    let (host, port) = split_port(hostport).ok_or_else(|| {
        bad(format!(
            "{:?} is not a host[:port]",
            crate::render::escape_controls(&shown)
        ))
    })?;
    let host = host.to_ascii_lowercase();
    let valid_host = !host.is_empty()
        && (host.starts_with('[')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')));
    if !valid_host {
        return Err(bad(format!(
            "{:?} is not a host name or address",
            crate::render::escape_controls(&shown)
        )));
    }
    let loopback = is_loopback_host(&host);
    if scheme == "http" && !insecure && !loopback {
        return Err(bad(format!(
            "plain HTTP to {host:?} would expose credentials and content; use https, or --insecure on a network you trust"
        )));
    }
    let (username, password) = match userinfo {
        None => (None, None),
        Some(u) => {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            let decode = |s: &str, what: &str| {
                percent_decode(s).ok_or_else(|| {
                    bad(format!(
                        "the {what} written in the registry URL is not valid percent-encoded UTF-8"
                    ))
                })
            };
            let user = decode(user, "user name")?;
            let pass = decode(pass, "password")?;
            if user.is_empty() {
                return Err(bad(
                    "the registry URL has credentials without a user name".into()
                ));
            }
            (Some(user), Some(pass))
        }
    };
    let registry = match port {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    Ok(RegistryUrl {
        origin: format!("{scheme}://{registry}"),
        scheme,
        host,
        port,
        registry,
        loopback,
        username,
        password,
    })
}

/// `host` and its port: `[v6]:port`, `name:port`, or no port.
fn split_port(hostport: &str) -> Option<(&str, Option<u16>)> {
    if hostport.starts_with('[') {
        let end = hostport.find(']')?;
        let (host, rest) = hostport.split_at(end + 1);
        host[1..end].parse::<std::net::Ipv6Addr>().ok()?;
        return match rest.strip_prefix(':') {
            Some(p) => Some((host, Some(p.parse().ok()?))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match hostport.rsplit_once(':') {
        Some((host, p)) => Some((host, Some(p.parse().ok().filter(|&p: &u16| p > 0)?))),
        None => Some((hostport, None)),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_an_address_not_a_prefix() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "[::1]", "LOCALHOST"] {
            assert!(is_loopback_host(&host.to_ascii_lowercase()), "{host}");
        }
        for host in [
            "127.anything.example",
            "127.0.0.1.nip.io",
            "localhost.example.com",
            "128.0.0.1",
            "[::2]",
            "127.1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
        let e = parse_registry_url("http://127.anything.example:5000", false).unwrap_err();
        assert!(e.to_string().contains("plain HTTP"), "{e}");
        assert!(
            parse_registry_url("http://127.0.0.1:5000", false)
                .unwrap()
                .loopback
        );
        assert!(
            parse_registry_url("http://[::1]:5000", false)
                .unwrap()
                .loopback
        );
        assert!(parse_registry_url("http://example.com", true).is_ok());
    }

    #[test]
    fn credentials_in_the_url_are_taken_and_never_echoed() {
        let u =
            parse_registry_url("https://bob:s%40cr%3At@Registry.Example.com:8443/", false).unwrap();
        assert_eq!(u.username.as_deref(), Some("bob"));
        assert_eq!(u.password.as_deref(), Some("s@cr:t"));
        assert_eq!(u.registry, "registry.example.com:8443");
        assert_eq!(u.origin, "https://registry.example.com:8443");
        for bad in [
            "http://bob:PASSWORD@example.com",
            "https://bob:PASSWORD@exa mple.com",
            "https://bob:PASSWORD@example.com/v2/x",
            "https://bob:PASS%zzWORD@example.com",
            "ftp://bob:PASSWORD@example.com",
            "https://:PASSWORD@example.com",
            "https://bob:PASSWORD@example.com:99999",
        ] {
            let e = parse_registry_url(bad, false).unwrap_err();
            assert_eq!(e.code(), "invalid_operation");
            assert!(!e.to_string().contains("PASSWORD"), "{bad}: {e}");
        }
    }
}
