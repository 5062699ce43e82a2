//! Regular expressions and globs for filters and policies.
//!
//! `acr purge` uses a backtracking engine with lookaround (regexp2) under a timeout; regprune
//! uses fancy-regex, which supports the same lookaround and falls back to the linear-time
//! `regex` engine for everything else, under a backtracking limit instead of a clock, so a
//! result never depends on machine speed.

use fancy_regex::{Regex, RegexBuilder};

use crate::error::{Error, Result};

/// Backtracking steps one match may take before it is an error.
pub const BACKTRACK_LIMIT: usize = 1_000_000;

/// Bytes a compiled pattern may take: names and tags are at most a few hundred characters, so
/// a pattern this large (`x{50000}`) is a mistake, refused at once instead of compiled for tens
/// of milliseconds.
pub const PATTERN_SIZE_LIMIT: usize = 1 << 18;

/// A compiled pattern that remembers where it came from, for errors.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    path: String,
    source: String,
    re: Regex,
}

impl Pattern {
    /// Compiles `compiled` (the engine's form of `source`, e.g. anchored); errors quote
    /// `source`, what the user wrote.
    pub fn new(path: &str, source: &str, compiled: &str) -> Result<Pattern> {
        let re = RegexBuilder::new(compiled)
            .backtrack_limit(BACKTRACK_LIMIT)
            .delegate_size_limit(PATTERN_SIZE_LIMIT)
            .delegate_dfa_size_limit(0)
            .build()
            .map_err(|e| Error::InvalidPattern {
                path: path.to_owned(),
                pattern: source.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Pattern {
            path: path.to_owned(),
            source: source.to_owned(),
            re,
        })
    }

    /// A regex that must match the whole subject: `^(?:re)$`.
    pub fn full(path: &str, re: &str) -> Result<Pattern> {
        Pattern::new(path, re, &format!("^(?:{re})$"))
    }

    /// A glob (`*` any run within a path segment, `**` any run, `?` one character) that
    /// must match the whole subject.
    pub fn glob(path: &str, glob: &str) -> Result<Pattern> {
        Pattern::new(path, glob, &format!("^{}$", glob_to_regex(glob)))
    }

    /// What the user wrote.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches (searches) `subject`.
    pub fn is_match(&self, subject: &str) -> Result<bool> {
        self.re
            .is_match(subject)
            .map_err(|_| Error::PatternTooComplex {
                path: self.path.clone(),
                pattern: self.source.clone(),
                subject: subject.to_owned(),
            })
    }
}

/// Escapes every regex metacharacter of `s`.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn glob_to_regex(glob: &str) -> String {
    let mut out = String::new();
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push_str(".*");
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            c => out.push_str(&escape(&c.to_string())),
        }
    }
    out
}

/// Whether a regex looks like a glob written by mistake (`app*`, `*-dev`): a `*` with nothing
/// to repeat or after a plain character where `.*` was probably meant.
pub(crate) fn looks_like_glob(re: &str) -> bool {
    let b = re.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'*'
            && (i == 0
                || !matches!(
                    b[i - 1],
                    b'.' | b')' | b']' | b'\\' | b'*' | b'+' | b'?' | b'}'
                ))
    })
}

/// Splits an `acr purge` filter `<repo regex>:<tag regex>` the way acr does: on every `:`
/// that is not part of a group's flags (`(?:`, `(?i:`, `(?imsU-:`) or inside a bracket
/// expression (`[[:alpha:]]`, `[a:b]`). Exactly two parts must result.
pub(crate) fn split_filter(filter: &str) -> std::result::Result<(String, String), &'static str> {
    let b = filter.as_bytes();
    let mut parts = vec![String::new()];
    let mut depth = 0usize; // inside [...]
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let cur = parts.last_mut().unwrap_or_else(|| unreachable!());
        match c {
            b'\\' if i + 1 < b.len() => {
                // The escaped character may take several bytes (`\é`): copy it whole.
                let escaped = filter[i + 1..].chars().next().map_or(0, char::len_utf8);
                cur.push_str(&filter[i..=i + escaped]);
                i += 1 + escaped;
                continue;
            }
            b'[' => depth += 1,
            b']' if depth > 0 => depth -= 1,
            b'(' if depth == 0 && b.get(i + 1) == Some(&b'?') => {
                // `(?` + flags + `:` opens a non-capturing group: copy through the colon.
                let mut j = i + 2;
                while j < b.len() && b"imsU-".contains(&b[j]) {
                    j += 1;
                }
                if b.get(j) == Some(&b':') {
                    cur.push_str(&filter[i..=j]);
                    i = j + 1;
                    continue;
                }
            }
            b':' if depth == 0 => {
                parts.push(String::new());
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = filter[i..].chars().next().map_or(1, char::len_utf8);
        cur.push_str(&filter[i..i + len]);
        i += len;
    }
    match <[String; 2]>::try_from(parts) {
        Ok([repo, _]) if repo.is_empty() => Err("missing repository name/expression"),
        Ok([_, tag]) if tag.is_empty() => Err("missing tag name/expression"),
        Ok([repo, tag]) => Ok((repo, tag)),
        Err(_) => Err("unable to correctly parse filter flag"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escaped_multibyte_character_stays_whole() {
        // Found by the fuzzer: `\` before a multi-byte character sliced it in half (a panic).
        assert_eq!(
            split_filter("app\\\u{5ea}:v\\é"),
            Ok(("app\\\u{5ea}".into(), "v\\é".into()))
        );
        assert!(split_filter("6\n\\\n\\\u{5ea})").is_err());
    }

    #[test]
    fn filters_split_like_acr() {
        let ok = |f: &str, r: &str, t: &str| {
            assert_eq!(split_filter(f), Ok((r.to_owned(), t.to_owned())), "{f}");
        };
        ok("app:.*", "app", ".*");
        ok("(?:a|b):v(?:1|2)", "(?:a|b)", "v(?:1|2)");
        ok("app:(?i:LATEST)", "app", "(?i:LATEST)");
        ok("app:[[:digit:]]+", "app", "[[:digit:]]+");
        ok("a/b:[a:b]", "a/b", "[a:b]");
        ok("app:v1(?!-a)", "app", "v1(?!-a)");
        assert_eq!(
            split_filter("foo"),
            Err("unable to correctly parse filter flag")
        );
        assert_eq!(
            split_filter("foo:bar:zzz"),
            Err("unable to correctly parse filter flag")
        );
        assert_eq!(
            split_filter(":.*"),
            Err("missing repository name/expression")
        );
        assert_eq!(split_filter("repo:"), Err("missing tag name/expression"));
    }

    #[test]
    fn lookaround_works_and_backtracking_is_bounded() {
        let p = Pattern::new("f", "v1(?!-a)", "v1(?!-a)").unwrap();
        assert!(p.is_match("v1-b").unwrap());
        assert!(!p.is_match("v1-a").unwrap());
        let evil = Pattern::new("f", "(a+)+(?=b)", "(a+)+(?=b)").unwrap();
        let e = evil.is_match(&"a".repeat(40)).unwrap_err();
        assert_eq!(e.code(), "pattern_too_complex");
    }

    #[test]
    fn oversized_patterns_are_refused_naming_the_pattern() {
        assert!(
            Pattern::full("f", "v{1000}").is_ok(),
            "a large but sane repetition"
        );
        let e = Pattern::full("filter[0]", "x{54734}{54734}").unwrap_err();
        assert_eq!(e.code(), "invalid_pattern");
        let text = e.to_string();
        assert!(
            text.contains("filter[0]") && text.contains("x{54734}{54734}"),
            "{text}"
        );
    }

    #[test]
    fn globs_and_glob_lookalikes() {
        let g = Pattern::glob("g", "team*/api-?").unwrap();
        assert!(g.is_match("team1/api-x").unwrap());
        assert!(!g.is_match("team1/sub/api-x").unwrap());
        assert!(Pattern::glob("g", "team/**")
            .unwrap()
            .is_match("team/a/b")
            .unwrap());
        assert!(looks_like_glob("app*"));
        assert!(looks_like_glob("*-dev"));
        assert!(!looks_like_glob("app.*"));
        assert!(!looks_like_glob("v[0-9]*"));
    }
}
