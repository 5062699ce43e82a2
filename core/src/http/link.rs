//! `Link` headers (RFC 8288) for pagination: `</v2/_catalog?last=b&n=100>; rel="next"`.

use crate::error::{Error, Result};

/// The path and query of the `rel="next"` link, if any. Absolute links must stay on the
/// registry's own host (`base_host`, `host[:port]`): a registry may not send the client
/// elsewhere.
pub fn next_link(header: Option<&str>, base_host: &str) -> Result<Option<String>> {
    let Some(header) = header else {
        return Ok(None);
    };
    for part in header.split(',') {
        let Some((target, params)) = part.trim().split_once('>') else {
            continue;
        };
        let target = target.trim().trim_start_matches('<');
        let next = params.split(';').any(|p| {
            let p = p.trim();
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        });
        if !next {
            continue;
        }
        if target.starts_with('/') {
            return api_path(target).map(Some).ok_or_else(|| bad(target));
        }
        let rest = target
            .strip_prefix("https://")
            .or_else(|| target.strip_prefix("http://"))
            .ok_or_else(|| bad(target))?;
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if !host.eq_ignore_ascii_case(base_host) {
            return Err(Error::InvalidOperation {
                path: "Link".into(),
                message: format!(
                    "the registry's next page {target:?} is on another host; refusing to follow it"
                ),
            });
        }
        return api_path(path).map(Some).ok_or_else(|| bad(target));
    }
    Ok(None)
}

/// `path` if it is a path of the registry's API (`/v2/…` or ACR's `/acr/v1/…`) and nothing
/// else: not scheme-relative (`//host/…`), no `..` segment, no whitespace or control bytes.
fn api_path(path: &str) -> Option<String> {
    let api = path.starts_with("/v2/") || path.starts_with("/acr/v1/");
    let clean = !path.contains("//")
        && !path.split(['/', '?']).any(|seg| seg == "..")
        && !path.chars().any(|c| c.is_control() || c.is_whitespace());
    (api && clean).then(|| path.to_owned())
}

/// The path and query of `location` (an upload `Location`) if it is relative or on the
/// registry's own host.
pub(crate) fn same_host(location: &str, base_host: &str) -> Option<String> {
    if location.starts_with('/') {
        return api_path(location);
    }
    let rest = location
        .strip_prefix("https://")
        .or_else(|| location.strip_prefix("http://"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    host.eq_ignore_ascii_case(base_host)
        .then(|| api_path(path))
        .flatten()
}

fn bad(target: &str) -> Error {
    Error::InvalidOperation {
        path: "Link".into(),
        message: format!("{target:?} is not a link the client can follow"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_outside_the_registry_api_are_refused() {
        // Found by the headers fuzz target: a scheme-relative link names another host.
        for target in [
            "//evil.example.com/v2/x",
            "/v2/../admin",
            "/etc/passwd",
            "/v2/a b",
            "/v2/a\r\nX: y",
        ] {
            let h = format!("<{target}>; rel=\"next\"");
            assert!(next_link(Some(&h), "r.io").is_err(), "{target}");
        }
        assert_eq!(
            same_host("//evil.example.com/v2/x/blobs/uploads/1", "r.io"),
            None
        );
        assert_eq!(
            same_host("https://r.io/v2/x/blobs/uploads/1?a=b", "r.io").as_deref(),
            Some("/v2/x/blobs/uploads/1?a=b")
        );
    }

    #[test]
    fn relative_and_absolute_next_links() {
        let h = Some(r#"</v2/_catalog?last=app%2Fweb&n=3>; rel="next""#);
        assert_eq!(
            next_link(h, "r:5000").unwrap().as_deref(),
            Some("/v2/_catalog?last=app%2Fweb&n=3")
        );
        let h = Some(r#"<https://r.io/acr/v1/_catalog?last=b&n=2&orderby=>; rel="next""#);
        assert_eq!(
            next_link(h, "r.io").unwrap().as_deref(),
            Some("/acr/v1/_catalog?last=b&n=2&orderby=")
        );
        assert_eq!(next_link(None, "r").unwrap(), None);
        assert_eq!(next_link(Some(r#"</x>; rel="prev""#), "r").unwrap(), None);
        assert!(next_link(Some(r#"<https://evil.example/v2/x>; rel="next""#), "r.io").is_err());
    }
}
