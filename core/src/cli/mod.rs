//! The `regprune` command line, defined once for both CLIs: the grammar ([`parse`]: argv in,
//! a validated [`Invocation`] or a typed error out), the help texts, and the rendering of
//! reports with their exit codes ([`render_report`]). The adapters' CLIs only do what an
//! invocation asks (read files, talk to the registry, ask for confirmation) and print what
//! the core renders, so the two behave identically: one suite of cases (`tests/cli/`) runs
//! against both.

pub mod action;
mod operation;
mod render;
mod spec;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
pub use render::{render_error, render_report, Rendered, ReportKind};
use spec::{Command, Takes, COMMANDS};

/// What the command line asks for, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    /// `help`, `version`, `snapshot`, `plan`, `execute` or `undo`.
    pub command: String,
    /// For `help` and `version`: the text to print.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// For `help`: 0 when asked for, 2 when the command line was empty.
    pub exit: u8,
    /// Every flag given or defaulted, by its name (`save-manifests` as `saveManifests`):
    /// strings, numbers, booleans, and lists for repeatable flags; and `github` (whether
    /// GitHub's token counts as credentials) where there is a `--flavour`.
    pub options: BTreeMap<String, Value>,
    /// `plan`: the operation, as the planner takes it (`{"op": "deleteUntagged"}`); for
    /// `policy FILE`, `{"op": "policy", "policyFile": FILE}`: read the file's JSON into `policy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<Value>,
    /// `execute`: the plan file; `undo`: the journal file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

fn bad(path: &str, message: String) -> Error {
    Error::InvalidArguments {
        path: path.to_owned(),
        message,
    }
}

fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The fixed sentences of `execute`'s confirmation, the same in both CLIs.
pub const CONFIRM: &str = "Are you sure you want to continue? (y/n): ";
/// Said when there is no terminal to confirm on and `--yes` was not given (exit 2).
pub const NOT_CONFIRMED: &str = "refused: not confirmed (pass --yes to run without a terminal)";
/// Said when the answer was not yes (exit 2).
pub const DECLINED: &str = "refused: not confirmed";

/// Whether an answer to [`CONFIRM`] is yes (`y`, `yes`, any case, spaces around).
pub fn confirmed(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Checks a plan file before `execute` shows and runs it: its seal; with `--expect-digest`
/// that it is the plan that was approved; with `--max-deletions` its size; and with
/// `--snapshot` its evidence (the plan must be exactly what its operation gives on that
/// snapshot). `options` are the invocation's.
pub fn check_plan(
    plan: &str,
    snapshot: Option<&[u8]>,
    options: &BTreeMap<String, Value>,
) -> Result<()> {
    let parsed: crate::Plan = crate::field::from_json(plan.as_bytes())?;
    if !parsed.verify() {
        return Err(Error::InvalidOperation {
            path: "plan".into(),
            message: "refused: the plan's digest does not match its content (edited after review?); plan again".into(),
        });
    }
    if let Some(expected) = options.get("expectDigest").and_then(Value::as_str) {
        let actual = parsed
            .digest
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        if actual != expected {
            return Err(Error::InvalidOperation {
                path: "expect-digest".into(),
                message: format!(
                    "refused: the plan's digest is {actual}, not the approved {expected}; nothing was sent"
                ),
            });
        }
    }
    if let Some(max) = options.get("maxDeletions").and_then(Value::as_u64) {
        if parsed.actions.len() as u64 > max {
            return Err(Error::InvalidOperation {
                path: "max-deletions".into(),
                message: format!(
                    "refused: the plan has {} actions, more than --max-deletions {max}; nothing was sent",
                    parsed.actions.len()
                ),
            });
        }
    }
    if let Some(snapshot) = snapshot {
        let snapshot = crate::Snapshot::from_json(snapshot)?;
        crate::check_evidence(&parsed, &snapshot)?;
    }
    Ok(())
}

/// The text preview of a plan as the invocation's `--limit N` / `--all` ask (the first 20
/// actions by default): what `plan` prints and what `execute` shows before it runs.
pub fn preview(plan: &str, options: &BTreeMap<String, Value>) -> Result<String> {
    let plan: crate::Plan = crate::field::from_json(plan.as_bytes())?;
    Ok(crate::render::render_text_limited(
        &plan,
        text_limit(options),
    ))
}

pub(crate) fn text_limit(options: &BTreeMap<String, Value>) -> Option<usize> {
    if options.get("all").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    Some(
        options
            .get("limit")
            .and_then(Value::as_u64)
            .map_or(crate::render::TEXT_LIMIT, |n| n as usize),
    )
}

/// Reads a command line (without the program name).
pub fn parse(argv: &[String], version: &str) -> Result<Invocation> {
    let help = |text: String, exit: u8| Invocation {
        command: "help".into(),
        text: Some(text),
        exit,
        options: BTreeMap::new(),
        operation: None,
        file: None,
    };
    let Some(first) = argv.first() else {
        return Ok(help(spec::usage(), 2));
    };
    match first.as_str() {
        "-h" | "--help" | "help" => return Ok(help(spec::usage(), 0)),
        "--version" | "-V" => {
            let mut inv = help(format!("regprune {version}"), 0);
            inv.command = "version".into();
            return Ok(inv);
        }
        _ => {}
    }
    let Some(command) = COMMANDS.iter().find(|c| c.name == first) else {
        let known: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        return Err(bad(
            "command",
            format!(
                "unknown command {first:?}; the commands are {}",
                known.join(", ")
            ),
        ));
    };
    let (mut options, positionals) = read_flags(command, &argv[1..])?;
    if options.contains_key("help") {
        return Ok(help(spec::command_help(command), 0));
    }
    defaults(command, &mut options);
    validate(command, &mut options)?;
    let mut inv = Invocation {
        command: command.name.into(),
        text: None,
        exit: 0,
        options,
        operation: None,
        file: None,
    };
    match command.name {
        "snapshot" => {
            if !positionals.is_empty() {
                return Err(bad(
                    "argv",
                    format!("snapshot takes no argument, not {:?}", positionals[0]),
                ));
            }
            let o = &inv.options;
            if o.contains_key("registry") == o.contains_key("storage") {
                return Err(bad(
                    "registry",
                    "snapshot needs --registry URL or --storage DIR (one of them)".into(),
                ));
            }
        }
        "plan" => {
            inv.operation = Some(operation::operation(&positionals, &mut inv.options)?);
            let o = &inv.options;
            if o.contains_key("registry") == o.contains_key("snapshot") {
                return Err(bad(
                    "snapshot",
                    "plan needs --snapshot FILE or --registry URL (one of them)".into(),
                ));
            }
            if o.get("decisionsOnly") == Some(&json!(true)) && o.contains_key("snapshot") {
                return Err(bad(
                    "--decisions-only",
                    "reads a live registry (--registry URL); a snapshot file is already read"
                        .into(),
                ));
            }
        }
        _ => {
            let what = command.positionals[0].0;
            let [file] = positionals.as_slice() else {
                return Err(bad(
                    "argv",
                    format!(
                        "{} takes one {what}, not {}",
                        command.name,
                        positionals.len()
                    ),
                ));
            };
            inv.file = Some(file.clone());
            if !inv.options.contains_key("registry") {
                return Err(bad(
                    "registry",
                    format!("{} needs --registry URL", command.name),
                ));
            }
        }
    }
    Ok(inv)
}

/// Splits flags from positional arguments; `--` ends the flags.
fn read_flags(
    command: &Command,
    args: &[String],
) -> Result<(BTreeMap<String, Value>, Vec<String>)> {
    let mut options = BTreeMap::new();
    let mut positionals = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            positionals.extend(args[i..].iter().cloned());
            break;
        }
        let (name, inline) = if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (long.to_owned(), None),
            }
        } else if arg.len() == 2 && arg.starts_with('-') && arg != "-" {
            let c = arg.chars().nth(1).unwrap_or_default();
            let Some(f) = command.flags.iter().find(|f| f.short == Some(c)) else {
                return Err(bad(
                    arg,
                    format!(
                        "{} has no option {arg}; see `regprune {} --help`",
                        command.name, command.name
                    ),
                ));
            };
            (f.name.to_owned(), None)
        } else {
            positionals.push(arg.clone());
            continue;
        };
        let Some(flag) = command.flags.iter().find(|f| f.name == name) else {
            return Err(bad(
                &format!("--{name}"),
                format!(
                    "{} has no option --{name}; see `regprune {} --help`",
                    command.name, command.name
                ),
            ));
        };
        let key = camel(flag.name);
        match flag.takes {
            Takes::Switch => {
                if inline.is_some() {
                    return Err(bad(&format!("--{name}"), "takes no value".to_owned()));
                }
                options.insert(key, Value::Bool(true));
            }
            Takes::One(_) | Takes::Many(_) => {
                let value = if let Some(v) = inline {
                    v
                } else {
                    let Some(v) = args.get(i) else {
                        return Err(bad(&format!("--{name}"), "needs a value".to_owned()));
                    };
                    i += 1;
                    v.clone()
                };
                if matches!(flag.takes, Takes::Many(_)) {
                    let list = options.entry(key).or_insert_with(|| json!([]));
                    if let Value::Array(a) = list {
                        a.push(Value::String(value));
                    }
                } else if options.insert(key, Value::String(value)).is_some() {
                    return Err(bad(&format!("--{name}"), "is given twice".to_owned()));
                }
            }
        }
    }
    Ok((options, positionals))
}

fn defaults(command: &Command, options: &mut BTreeMap<String, Value>) {
    for f in command.flags {
        let key = camel(f.name);
        if options.contains_key(&key) {
            continue;
        }
        let value = match (f.name, f.takes) {
            ("concurrency", _) => json!(8),
            ("timeout", _) => json!(60.0),
            ("deadline", _) => json!(300.0),
            ("output", _) => json!("text"),
            ("flavour", _) => json!("auto"),
            ("journal", _) if command.name == "execute" => json!("regprune-journal.jsonl"),
            (_, Takes::Switch) if f.name != "help" => json!(false),
            (_, Takes::Many(_)) => json!([]),
            _ => continue,
        };
        options.insert(key, value);
    }
}

/// Checks and converts values: numbers become numbers, choices are checked.
fn validate(command: &Command, options: &mut BTreeMap<String, Value>) -> Result<()> {
    let text =
        |o: &BTreeMap<String, Value>, k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(v) = text(options, "concurrency") {
        let n: u32 = v
            .parse()
            .ok()
            .filter(|n| (1..=32).contains(n))
            .ok_or_else(|| {
                bad(
                    "--concurrency",
                    format!("must be a whole number from 1 to 32, not {v:?}"),
                )
            })?;
        options.insert("concurrency".into(), json!(n));
    }
    for name in ["timeout", "deadline"] {
        if let Some(v) = text(options, name) {
            let s: f64 = v
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s > 0.0)
                .ok_or_else(|| {
                    bad(
                        &format!("--{name}"),
                        format!("must be a positive number of seconds, not {v:?}"),
                    )
                })?;
            options.insert(name.into(), json!(s));
        }
    }
    for (name, choices) in [
        ("output", &["text", "json"][..]),
        ("flavour", &["auto", "oci", "acr", "ghcr", "dockerhub"][..]),
        ("field", &["lastUpdateTime", "createdTime"][..]),
    ] {
        if let Some(v) = text(options, name) {
            if !choices.contains(&v.as_str()) {
                return Err(bad(
                    &format!("--{name}"),
                    format!("must be one of {}, not {v:?}", choices.join(", ")),
                ));
            }
        }
    }
    if options.contains_key("limit") && options.get("all") == Some(&json!(true)) {
        return Err(bad("--all", "and --limit cannot both be given".to_owned()));
    }
    // GitHub's token counts as credentials for a registry named GitHub's (ghcr.io always is;
    // `--flavour ghcr` says so for GitHub Enterprise Server): the adapters pass this on.
    if let Some(f) = text(options, "flavour") {
        options.insert("github".into(), json!(f == "ghcr"));
    }
    for name in ["keep", "max-deletions", "limit"] {
        let key = camel(name);
        if let Some(v) = text(options, &key) {
            let n: u64 = v.parse().map_err(|_| {
                bad(
                    &format!("--{name}"),
                    format!("must be a whole number, not {v:?}"),
                )
            })?;
            options.insert(key, json!(n));
        }
    }
    // --cache DIR: the store is read (--manifests) and, where the command crawls, kept up to
    // date (--save-manifests). Given with either of them it would be ambiguous.
    if let Some(dir) = text(options, "cache") {
        for (key, flag) in [
            ("manifests", "--manifests"),
            ("saveManifests", "--save-manifests"),
        ] {
            if options.contains_key(key) {
                return Err(bad(
                    flag,
                    format!("and --cache cannot both be given (--cache {dir:?} reads and saves the store)"),
                ));
            }
        }
        options.insert("manifests".into(), json!(dir));
        if command.flags.iter().any(|f| f.name == "save-manifests") {
            options.insert("saveManifests".into(), json!(dir));
        }
    }
    if let Some(v) = text(options, "expectDigest") {
        crate::Digest::parse(&v).ok_or_else(|| {
            bad(
                "--expect-digest",
                format!("must be a digest (sha256:<64 hex digits>), not {v:?}"),
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn bad_values_are_refused_naming_them() {
        for (args, path) in [
            (
                &[
                    "plan",
                    "--snapshot",
                    "s",
                    "--concurrency",
                    "abc",
                    "delete-untagged",
                ][..],
                "--concurrency",
            ),
            (
                &[
                    "plan",
                    "--snapshot",
                    "s",
                    "--output",
                    "yaml",
                    "delete-untagged",
                ],
                "--output",
            ),
            (&["plan", "delete-untagged"], "snapshot"),
            (
                &[
                    "plan",
                    "--snapshot",
                    "s",
                    "--filter",
                    "a:.*",
                    "delete-untagged",
                ],
                "--filter",
            ),
            (&["execute", "--registry", "r"], "argv"),
            (&["undo", "j"], "registry"),
            (&["snapshot", "--nope"], "--nope"),
            (
                &[
                    "plan",
                    "--snapshot",
                    "a",
                    "--snapshot",
                    "b",
                    "delete-untagged",
                ],
                "--snapshot",
            ),
        ] {
            let e = parse(&argv(args), "0").unwrap_err();
            assert_eq!(
                (e.code(), e.path()),
                ("invalid_arguments", path),
                "{args:?}: {e}"
            );
            assert_eq!(e.exit_code(), 2);
        }
    }

    #[test]
    fn every_command_has_help_and_flags_take_both_forms() {
        for c in COMMANDS {
            let inv = parse(&argv(&[c.name, "--help"]), "0").unwrap();
            assert_eq!((inv.command.as_str(), inv.exit), ("help", 0));
            assert!(inv.text.unwrap().contains(&format!("regprune {}", c.name)));
        }
        let inv = parse(
            &argv(&[
                "plan",
                "--snapshot=s.json",
                "purge",
                "--filter",
                "a:.*",
                "--ago=3d",
                "--keep",
                "2",
                "-o",
                "p.json",
            ]),
            "0",
        )
        .unwrap();
        assert_eq!(
            inv.operation.unwrap(),
            json!({"op": "purge", "filter": ["a:.*"], "keep": 2, "untagged": false, "ago": "3d"})
        );
        assert_eq!(inv.options["out"], json!("p.json"));
        assert_eq!(inv.options["concurrency"], json!(8));
        assert!(!inv.options.contains_key("filter"));
    }
}
