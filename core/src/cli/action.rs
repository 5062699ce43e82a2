//! The GitHub Action's inputs, read once, here: which inputs exist, what each means, and the
//! command lines (the same grammar as both CLIs, [`super::parse`]) they stand for. The Action
//! (`npm/action.js`) reads `INPUT_<NAME>` variables for [`INPUTS`], hands them over, runs the
//! command lines it gets back, and writes what [`outputs`] and the renderers give.
//!
//! Every input is checked before anything is sent: a bad value is an error naming the input.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The inputs `action.yml` declares, in its order (a test checks that the two agree).
pub const INPUTS: &[&str] = &[
    "mode",
    "registry",
    "username",
    "password",
    "github-token",
    "flavour",
    "owner",
    "repositories",
    "insecure",
    "snapshot",
    "policy",
    "filter",
    "older-than",
    "before",
    "keep",
    "untagged",
    "now",
    "dry-run",
    "max-deletions",
    "plan-file",
    "plan-digest",
    "journal",
    "summary-limit",
    "concurrency",
];

/// The outputs `action.yml` declares.
pub const OUTPUTS: &[&str] = &[
    "deletions",
    "bytes",
    "plan-digest",
    "plan-path",
    "done",
    "failed",
    "skipped",
];

/// What the Action is asked to do, as command lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRun {
    /// `plan`, `execute` or `prune` (plan, then execute the plan it made).
    pub mode: String,
    /// The `plan` command line (modes `plan` and `prune`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<String>>,
    /// The `execute` command line (mode `execute`, and `prune` unless `dry-run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execute: Option<Vec<String>>,
    /// Where the plan is written (`plan`, `prune`) or read (`execute`).
    pub plan_file: String,
    /// Entries of each list the job summary shows.
    pub summary_limit: usize,
    /// `dry-run`: nothing is deleted.
    pub dry_run: bool,
}

#[allow(clippy::needless_pass_by_value)] // callers build the message with format!
fn bad(input: &str, message: String) -> Error {
    Error::InvalidArguments {
        path: format!("input {input}"),
        message: format!("input `{input}` {message}"),
    }
}

/// A boolean input as GitHub's toolkit reads one (YAML 1.2 core schema); empty is `default`.
fn boolean(inputs: &BTreeMap<String, String>, name: &str, default: bool) -> Result<bool> {
    match inputs.get(name).map_or("", |v| v.trim()) {
        "" => Ok(default),
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        other => Err(bad(name, format!("must be true or false, not {other:?}"))),
    }
}

/// Lines of a multi-line input, trimmed, empty ones dropped.
fn lines(inputs: &BTreeMap<String, String>, name: &str) -> Vec<String> {
    inputs
        .get(name)
        .map(|v| {
            v.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the Action's inputs (by the names in [`INPUTS`]; empty means not given) into the
/// command lines they stand for, each parsed with the CLI's grammar so that any bad value
/// is refused now, naming the input.
#[allow(clippy::too_many_lines)] // one input after another
pub fn action_run(inputs: &BTreeMap<String, String>) -> Result<ActionRun> {
    if let Some(unknown) = inputs.keys().find(|k| !INPUTS.contains(&k.as_str())) {
        return Err(bad(unknown, "is not an input of this action".into()));
    }
    let get = |name: &str| {
        inputs
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mode = get("mode").unwrap_or_else(|| "plan".into());
    if !["plan", "execute", "prune"].contains(&mode.as_str()) {
        return Err(bad(
            "mode",
            format!("must be plan, execute or prune, not {mode:?}"),
        ));
    }
    let dry_run = boolean(inputs, "dry-run", false)?;
    let insecure = boolean(inputs, "insecure", false)?;
    let untagged = boolean(inputs, "untagged", false)?;
    let plan_file = get("plan-file").unwrap_or_else(|| "regprune-plan.json".into());
    let summary_limit = match get("summary-limit") {
        None => crate::MARKDOWN_LIMIT,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| bad("summary-limit", format!("must be 1 to 1000, not {v:?}")))?,
    };
    let registry = get("registry");
    let mut connection: Vec<(&str, String)> = Vec::new();
    for (input, flag) in [
        ("username", "username"),
        ("password", "password"),
        ("flavour", "flavour"),
        ("concurrency", "concurrency"),
    ] {
        if let Some(v) = get(input) {
            connection.push((flag, v));
        }
    }
    let flags = |argv: &mut Vec<String>| {
        if let Some(r) = &registry {
            argv.extend(["--registry".into(), r.clone()]);
        }
        for (flag, v) in &connection {
            argv.extend([format!("--{flag}"), v.clone()]);
        }
        if insecure {
            argv.push("--insecure".into());
        }
    };

    let mut run = ActionRun {
        mode: mode.clone(),
        plan: None,
        execute: None,
        plan_file: plan_file.clone(),
        summary_limit,
        dry_run,
    };
    let max = get("max-deletions");
    if mode == "plan" || mode == "prune" {
        let mut argv: Vec<String> = vec!["plan".into()];
        let policy = get("policy");
        let filters = lines(inputs, "filter");
        match (&policy, filters.is_empty()) {
            (Some(_), false) => {
                return Err(bad(
                    "policy",
                    "and `filter` cannot both be given: one request per step".into(),
                ))
            }
            (None, true) => {
                return Err(bad(
                    "filter",
                    "or `policy` is needed: what to delete (e.g. filter: 'app:.*' with older-than: 30d)".into(),
                ))
            }
            (Some(p), true) => {
                for input in ["older-than", "before", "keep"] {
                    if get(input).is_some() {
                        return Err(bad(
                            input,
                            "belongs to the filter request; a policy file says it in its rules"
                                .into(),
                        ));
                    }
                }
                if untagged {
                    return Err(bad(
                        "untagged",
                        "belongs to the filter request; a policy file says it in its rules".into(),
                    ));
                }
                argv.extend(["policy".into(), p.clone()]);
            }
            (None, false) => {
                argv.push("purge".into());
                for f in &filters {
                    argv.extend(["--filter".into(), f.clone()]);
                }
                match (get("older-than"), get("before")) {
                    (Some(d), None) => argv.extend(["--ago".into(), d]),
                    (None, Some(t)) => argv.extend(["--before".into(), t]),
                    _ => {
                        return Err(bad(
                            "older-than",
                            "or `before` is needed with `filter` (one of them): e.g. older-than: 30d"
                                .into(),
                        ))
                    }
                }
                if let Some(k) = get("keep") {
                    argv.extend(["--keep".into(), k]);
                }
                if untagged {
                    argv.push("--untagged".into());
                }
            }
        }
        if let Some(s) = get("snapshot") {
            argv.extend(["--snapshot".into(), s]);
        } else if registry.is_none() {
            return Err(bad(
                "registry",
                "is needed (or `snapshot`, a snapshot file to plan from)".into(),
            ));
        }
        for r in lines(inputs, "repositories") {
            argv.extend(["--repository".into(), r]);
        }
        if let Some(o) = get("owner") {
            argv.extend(["--owner".into(), o]);
        }
        if let Some(t) = get("now") {
            argv.extend(["--now".into(), t]);
        }
        if let Some(m) = &max {
            argv.extend(["--max-deletions".into(), m.clone()]);
        }
        argv.extend(["--out".into(), plan_file.clone()]);
        if get("snapshot").is_none() {
            // Planned from a file, the registry flags belong to execute only.
            flags(&mut argv);
        }
        check(&argv)?;
        run.plan = Some(argv);
    }
    if mode == "execute" && dry_run {
        return Err(bad(
            "dry-run",
            "with mode execute would do nothing: a dry run is mode plan (or prune with dry-run)"
                .into(),
        ));
    }
    let executes = mode == "execute" || (mode == "prune" && !dry_run);
    if executes {
        if registry.is_none() {
            return Err(bad("registry", format!("is needed to {mode}")));
        }
        let mut argv: Vec<String> = vec!["execute".into(), plan_file.clone(), "--yes".into()];
        argv.extend([
            "--journal".into(),
            get("journal").unwrap_or_else(|| "regprune-journal.jsonl".into()),
        ]);
        if mode == "execute" {
            let Some(d) = get("plan-digest") else {
                return Err(bad(
                    "plan-digest",
                    "is needed to execute: the digest the plan job output (steps.<id>.outputs.plan-digest), so that only the approved plan runs".into(),
                ));
            };
            argv.extend(["--expect-digest".into(), d]);
        }
        if let Some(m) = &max {
            argv.extend(["--max-deletions".into(), m.clone()]);
        }
        flags(&mut argv);
        check(&argv)?;
        run.execute = Some(argv);
    } else if get("plan-digest").is_some() && mode != "execute" {
        return Err(bad(
            "plan-digest",
            format!("is for mode execute, not {mode}"),
        ));
    }
    Ok(run)
}

fn input_of(path: &str) -> &str {
    let last = path
        .rsplit(['.', '['])
        .find(|p| !p.is_empty() && !p.ends_with(']'));
    match last.unwrap_or(path).trim_start_matches("--") {
        "ago" => "older-than",
        "repository" => "repositories",
        "out" => "plan-file",
        "expect-digest" => "plan-digest",
        other => other,
    }
}

/// Parses a command line the inputs stand for, and plans its request on an empty registry
/// (durations, times, patterns), naming the input when a value is bad.
fn check(argv: &[String]) -> Result<()> {
    let inv = super::parse(argv, "").map_err(|e| match e {
        Error::InvalidArguments { path, message } => {
            let input = input_of(&path).to_owned();
            let message = message.replace(&path, &format!("input `{input}`"));
            Error::InvalidArguments {
                path: format!("input {input}"),
                message: if message.contains(&format!("`{input}`")) {
                    message
                } else {
                    format!("input `{input}`: {message}")
                },
            }
        }
        other => other,
    })?;
    if let Some(op) = inv.operation.filter(|o| o.get("policyFile").is_none()) {
        let op: crate::Operation = crate::field::from_value(&op)?;
        let empty = crate::Snapshot::from_json(br#"{"repositories":[]}"#)?;
        let now = "2000-01-01T00:00:00Z".parse()?;
        if let Err(e) = crate::plan(&empty, &op, &crate::PlanOptions::at(now)) {
            let input = input_of(e.path()).to_owned();
            return Err(Error::InvalidArguments {
                path: format!("input {input}"),
                message: format!("input `{input}`: {e}"),
            });
        }
    }
    Ok(())
}

/// The Action's outputs for a plan (JSON) and, after an execution, its report (JSON):
/// `deletions` (the plan's actions), `bytes` (reclaimable), `plan-digest`, `plan-path`,
/// `done`, `failed` (failed and unsupported), `skipped` (skipped and not started).
pub fn outputs(plan: &str, report: Option<&str>, plan_path: &str) -> Result<Vec<(String, String)>> {
    let plan: crate::Plan = crate::field::from_json(plan.as_bytes())?;
    let mut out = vec![
        ("deletions".to_owned(), plan.actions.len().to_string()),
        ("bytes".to_owned(), plan.reclaim.total_bytes.to_string()),
        (
            "plan-digest".to_owned(),
            plan.digest
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ),
        ("plan-path".to_owned(), plan_path.to_owned()),
    ];
    let counts: BTreeMap<String, u64> = match report {
        Some(r) => {
            let report: crate::http::Report = crate::field::from_json(r.as_bytes())?;
            report.counts
        }
        None => BTreeMap::new(),
    };
    let n = |keys: &[&str]| -> String {
        keys.iter()
            .map(|k| counts.get(*k).copied().unwrap_or(0))
            .sum::<u64>()
            .to_string()
    };
    out.push(("done".into(), n(&["done"])));
    out.push(("failed".into(), n(&["failed", "unsupported"])));
    out.push(("skipped".into(), n(&["skipped", "notStarted"])));
    Ok(out)
}

/// [`action_run`] on inputs as JSON text (`{"name": "value"}`), for the bindings.
pub fn action_run_json(inputs: &str) -> Result<ActionRun> {
    let value: Value = crate::field::from_json(inputs.as_bytes())?;
    let map: BTreeMap<String, String> = value
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    action_run(&map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_purge_vocabulary_becomes_one_plan_command() {
        let run = action_run(&inputs(&[
            ("registry", "https://ghcr.io"),
            ("filter", "app:.*\n\n  tools:^v1 \n"),
            ("older-than", "30d"),
            ("keep", "3"),
            ("untagged", "true"),
            ("max-deletions", "100"),
        ]))
        .unwrap();
        let plan = run.plan.unwrap();
        assert_eq!(plan[..2], ["plan", "purge"]);
        let joined = plan.join(" ");
        for part in [
            "--filter app:.* --filter tools:^v1",
            "--ago 30d",
            "--keep 3",
            "--untagged",
            "--max-deletions 100",
            "--out regprune-plan.json",
            "--registry https://ghcr.io",
        ] {
            assert!(joined.contains(part), "{part} in {joined}");
        }
        assert_eq!(run.execute, None, "mode plan never executes");
    }

    #[test]
    fn prune_executes_unless_dry_run_and_execute_needs_the_approved_digest() {
        let base = [
            ("registry", "http://127.0.0.1:5000"),
            ("policy", "policy.json"),
            ("mode", "prune"),
        ];
        let run = action_run(&inputs(&base)).unwrap();
        assert!(run.execute.unwrap().contains(&"--yes".to_owned()));
        let mut dry = base.to_vec();
        dry.push(("dry-run", "TRUE"));
        assert_eq!(action_run(&inputs(&dry)).unwrap().execute, None);

        let err = action_run(&inputs(&[("registry", "r"), ("mode", "execute")])).unwrap_err();
        assert!(err.to_string().contains("plan-digest"), "{err}");
        let digest = format!("sha256:{}", "a".repeat(64));
        let run = action_run(&inputs(&[
            ("registry", "https://r.example"),
            ("mode", "execute"),
            ("plan-digest", &digest),
        ]))
        .unwrap();
        let argv = run.execute.unwrap();
        assert!(argv
            .windows(2)
            .any(|w| w[0] == "--expect-digest" && w[1] == digest));
        assert_eq!(run.plan, None);
    }

    #[test]
    fn bad_inputs_are_refused_naming_the_input() {
        for (pairs, input) in [
            (
                vec![
                    ("registry", "r"),
                    ("filter", "a:.*"),
                    ("older-than", "30d"),
                    ("keep", "x"),
                ],
                "keep",
            ),
            (
                vec![
                    ("registry", "r"),
                    ("filter", "a:.*"),
                    ("older-than", "soon"),
                ],
                "older-than",
            ),
            (vec![("registry", "r"), ("filter", "a:.*")], "older-than"),
            (vec![("registry", "r")], "filter"),
            (
                vec![("registry", "r"), ("policy", "p"), ("filter", "a:.*")],
                "policy",
            ),
            (
                vec![("registry", "r"), ("policy", "p"), ("dry-run", "yes")],
                "dry-run",
            ),
            (
                vec![("registry", "r"), ("policy", "p"), ("mode", "delete")],
                "mode",
            ),
            (
                vec![("registry", "r"), ("policy", "p"), ("max-deletions", "-1")],
                "max-deletions",
            ),
            (
                vec![("registry", "r"), ("policy", "p"), ("summary-limit", "0")],
                "summary-limit",
            ),
            (
                vec![("registry", "r"), ("policy", "p"), ("colour", "red")],
                "colour",
            ),
            (
                vec![
                    ("registry", "r"),
                    ("mode", "execute"),
                    ("plan-digest", "sha256:xyz"),
                ],
                "plan-digest",
            ),
            (vec![("policy", "p")], "registry"),
        ] {
            let err = action_run(&inputs(&pairs)).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(&format!("`{input}`")), "{input}: {text}");
        }
    }

    #[test]
    fn outputs_count_the_report() {
        let snapshot = crate::Snapshot::from_json(
            br#"{"repositories":[{"name":"a","manifests":[{"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":10}]}]}"#,
        )
        .unwrap();
        let op: crate::Operation = serde_json::from_str(r#"{"op":"deleteUntagged"}"#).unwrap();
        let now = "2026-01-01T00:00:00Z".parse().unwrap();
        let plan = crate::plan_json(&snapshot, &op, &crate::PlanOptions::at(now)).unwrap();
        let out = outputs(&plan, None, "p.json").unwrap();
        let get = |k: &str| out.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("deletions"), "1");
        assert_eq!(get("done"), "0");
        assert!(get("plan-digest").starts_with("sha256:"));
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, OUTPUTS);
    }
}
