//! Reading an `acr purge` command line the way a shell and acr's flag parser (cobra/pflag)
//! read it: quoting, `--flag value` and `--flag=value`, shorthand flags, acr's own errors.

use std::fmt::Write as _;

use crate::error::{Error, Result};

/// The flags of `acr purge` that decide what is deleted.
#[allow(clippy::struct_excessive_bools)] // one field per acr flag
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AcrPurgeArgs {
    pub filters: Vec<String>,
    pub ago: Option<String>,
    pub keep: i64,
    pub untagged: bool,
    pub untagged_only: bool,
    pub dry_run: bool,
    pub include_locked: bool,
    /// Positional arguments, which acr ignores.
    pub ignored: Vec<String>,
}

/// A shell word.
struct Word {
    text: String,
}

/// POSIX-shell word splitting: single quotes, double quotes (with `\` escapes), backslash.
fn words(cmd: &str, path: &str) -> Result<Vec<Word>> {
    let mut out = Vec::new();
    let mut chars = cmd.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut text = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
            match c {
                '\'' => loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => text.push(ch),
                        None => return Err(unterminated(path, '\'')),
                    }
                },
                '"' => loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => text.push(ch),
                            Some(ch) => {
                                text.push('\\');
                                text.push(ch);
                            }
                            None => return Err(unterminated(path, '"')),
                        },
                        Some(ch) => text.push(ch),
                        None => return Err(unterminated(path, '"')),
                    }
                },
                '\\' => text.extend(chars.next()),
                c => text.push(c),
            }
        }
        out.push(Word { text });
    }
}

fn unterminated(path: &str, q: char) -> Error {
    Error::InvalidPurgeCommand {
        path: path.to_owned(),
        message: format!("unterminated {q} quote in the command line"),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Bool,
    Int,
    Str,
}

/// `(long name, shorthand, kind)` of every `acr purge` flag and of acr's global flags.
const FLAGS: &[(&str, Option<char>, Kind)] = &[
    ("filter", Some('f'), Kind::Str),
    ("ago", None, Kind::Str),
    ("keep", None, Kind::Int),
    ("untagged", None, Kind::Bool),
    ("untagged-only", None, Kind::Bool),
    ("dry-run", None, Kind::Bool),
    ("include-locked", None, Kind::Bool),
    ("concurrency", None, Kind::Int),
    ("repository-page-size", None, Kind::Int),
    ("filter-timeout-seconds", None, Kind::Int),
    ("verbose", None, Kind::Bool),
    ("registry", Some('r'), Kind::Str),
    ("username", Some('u'), Kind::Str),
    ("password", Some('p'), Kind::Str),
    ("config", Some('c'), Kind::Str),
    ("help", Some('h'), Kind::Bool),
];

/// Finds the `acr purge` words: the whole line, or the `--cmd` of `az acr run` /
/// `az acr task create`, after an optional `acr purge` (or `purge`) prefix.
fn purge_words(all: Vec<Word>, path: &str) -> Result<Vec<Word>> {
    let bad = |m: String| Error::InvalidPurgeCommand {
        path: path.to_owned(),
        message: m,
    };
    if all.first().is_some_and(|w| w.text == "az") {
        let cmd_at = all
            .iter()
            .position(|w| w.text == "--cmd" || w.text.starts_with("--cmd="));
        let Some(i) = cmd_at else {
            return Err(bad(
                "an az command must carry the purge command in --cmd".into()
            ));
        };
        let inner = match all[i].text.strip_prefix("--cmd=") {
            Some(v) => v.to_owned(),
            None => all
                .get(i + 1)
                .map(|w| w.text.clone())
                .ok_or_else(|| bad("flag needs an argument: --cmd".into()))?,
        };
        return purge_words(words(&inner, path)?, path);
    }
    let mut it = all.into_iter().peekable();
    if it.peek().is_some_and(|w| w.text == "acr") {
        it.next();
        match it.next() {
            Some(w) if w.text == "purge" => {}
            Some(w) => return Err(bad(format!("unknown command {:?} for \"acr\"", w.text))),
            None => {
                return Err(bad(
                    "the command names no acr subcommand; expected acr purge".into(),
                ))
            }
        }
    } else if it.peek().is_some_and(|w| w.text == "purge") {
        it.next();
    }
    Ok(it.collect())
}

/// Parses an `acr purge` command line.
pub(crate) fn parse(cmd: &str, path: &str) -> Result<AcrPurgeArgs> {
    let bad = |m: String| Error::InvalidPurgeCommand {
        path: path.to_owned(),
        message: m,
    };
    let ws = purge_words(words(cmd, path)?, path)?;
    let mut args = AcrPurgeArgs::default();
    let mut i = 0;
    while i < ws.len() {
        let w = &ws[i].text;
        i += 1;
        if w == "--" {
            args.ignored.extend(ws[i..].iter().map(|w| w.text.clone()));
            break;
        }
        let (name, inline, display) = if let Some(long) = w.strip_prefix("--") {
            let (n, v) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let Some(&(name, _, _)) = FLAGS.iter().find(|(l, _, _)| *l == n) else {
                return Err(bad(format!("unknown flag: --{n}")));
            };
            (name, v, format!("--{name}"))
        } else if let Some(short) = w.strip_prefix('-').filter(|s| !s.is_empty()) {
            let c = short.chars().next().unwrap_or_default();
            let Some(&(name, _, _)) = FLAGS.iter().find(|(_, s, _)| *s == Some(c)) else {
                return Err(bad(format!("unknown shorthand flag: '{c}' in {w}")));
            };
            let rest = &short[c.len_utf8()..];
            let v = (!rest.is_empty()).then(|| rest.strip_prefix('=').unwrap_or(rest).to_owned());
            (name, v, format!("-{c}, --{name}"))
        } else {
            args.ignored.push(w.clone());
            continue;
        };
        let kind = FLAGS
            .iter()
            .find(|(l, _, _)| *l == name)
            .map_or(Kind::Str, |f| f.2);
        let value = match (kind, inline) {
            (Kind::Bool, None) => "true".to_owned(),
            (_, Some(v)) => v,
            (_, None) => {
                let v = ws
                    .get(i)
                    .ok_or_else(|| bad(format!("flag needs an argument: --{name}")))?;
                i += 1;
                v.text.clone()
            }
        };
        apply(&mut args, name, kind, &value).map_err(|m| {
            bad(format!(
                "invalid argument {value:?} for {display:?} flag: {m}"
            ))
        })?;
    }
    Ok(args)
}

fn apply(
    args: &mut AcrPurgeArgs,
    name: &str,
    kind: Kind,
    value: &str,
) -> std::result::Result<(), String> {
    let boolean = || match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {value:?}: invalid syntax"
        )),
    };
    let int = || {
        value
            .parse::<i64>()
            .map_err(|_| format!("strconv.ParseInt: parsing {value:?}: invalid syntax"))
    };
    match (name, kind) {
        ("filter", _) => args.filters.push(value.to_owned()),
        ("ago", _) => args.ago = Some(value.to_owned()),
        ("keep", _) => args.keep = int()?,
        ("untagged", _) => args.untagged = boolean()?,
        ("untagged-only", _) => args.untagged_only = boolean()?,
        ("dry-run", _) => args.dry_run = boolean()?,
        ("include-locked", _) => args.include_locked = boolean()?,
        (_, Kind::Int) => {
            int()?;
        }
        (_, Kind::Bool) => {
            boolean()?;
        }
        (_, Kind::Str) => {}
    }
    Ok(())
}

impl AcrPurgeArgs {
    /// The canonical command line of these flags, quoted for a POSIX shell. Plans echo this
    /// instead of what the user typed: the same request reads the same, and credentials
    /// (`-u`, `-p`), which decide nothing, never reach a plan.
    pub fn to_command(&self) -> String {
        let mut out = String::from("acr purge");
        for f in &self.filters {
            out.push_str(" --filter ");
            out.push_str(&quote(f));
        }
        if let Some(ago) = &self.ago {
            out.push_str(" --ago ");
            out.push_str(&quote(ago));
        }
        if self.keep != 0 {
            let _ = write!(out, " --keep {}", self.keep);
        }
        for (on, flag) in [
            (self.untagged, " --untagged"),
            (self.untagged_only, " --untagged-only"),
            (self.include_locked, " --include-locked"),
            (self.dry_run, " --dry-run"),
        ] {
            if on {
                out.push_str(flag);
            }
        }
        out
    }
}

/// Single-quotes a word when the shell would otherwise split or expand it.
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(cmd: &str) -> AcrPurgeArgs {
        parse(cmd, "command").unwrap_or_else(|e| panic!("{cmd}: {e}"))
    }

    #[test]
    fn reads_the_command_as_a_shell_and_acr_would() {
        let a = p(r#"acr purge --filter 'app:.*' -f "web:v1\"x" --ago=2d --keep 3 --untagged"#);
        assert_eq!(a.filters, ["app:.*", "web:v1\"x"]);
        assert_eq!(a.ago.as_deref(), Some("2d"));
        assert_eq!(a.keep, 3);
        assert!(a.untagged && !a.untagged_only);
        let b = p("purge -fapp:x --untagged-only --dry-run=false --include-locked");
        assert_eq!(b.filters, ["app:x"]);
        assert!(b.untagged_only && !b.dry_run && b.include_locked);
        let c = p(
            r#"az acr run --registry r --cmd "acr purge --filter 'hello-world:.*' --untagged --ago 1d" /dev/null"#,
        );
        assert_eq!(c.filters, ["hello-world:.*"]);
        assert!(c.untagged);
    }

    #[test]
    fn refuses_what_acr_refuses() {
        let e = |cmd: &str| parse(cmd, "command").unwrap_err().to_string();
        assert_eq!(e("acr purge --bogus"), "command: unknown flag: --bogus");
        assert_eq!(
            e("acr purge -x"),
            "command: unknown shorthand flag: 'x' in -x"
        );
        assert_eq!(
            e("acr purge --ago"),
            "command: flag needs an argument: --ago"
        );
        assert_eq!(
            e("acr purge --keep many"),
            "command: invalid argument \"many\" for \"--keep\" flag: strconv.ParseInt: parsing \"many\": invalid syntax"
        );
        assert_eq!(
            e("acr purge --filter 'app:.*"),
            "command: unterminated ' quote in the command line"
        );
        assert!(e("acr prune").contains("unknown command"));
    }

    #[test]
    fn the_canonical_command_round_trips_and_drops_credentials() {
        let a = p(
            r#"acr purge -r reg -u admin -p s3cr3t --filter 'app:v1|v2' --filter "it's:.*" --ago 2d --keep 3 --untagged"#,
        );
        let c = a.to_command();
        assert_eq!(
            c,
            r"acr purge --filter 'app:v1|v2' --filter 'it'\''s:.*' --ago 2d --keep 3 --untagged"
        );
        assert!(!c.contains("s3cr3t") && !c.contains("admin"));
        assert_eq!(
            p(&c),
            AcrPurgeArgs {
                ignored: Vec::new(),
                ..a
            }
        );
    }
}
