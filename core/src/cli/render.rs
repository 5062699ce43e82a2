//! What the command line prints for each result, and the exit code it ends with.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, ExitCode, Result};
use crate::render::escape_controls;

/// Which result is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// A snapshot (`snapshot`).
    Snapshot,
    /// A plan (`plan`).
    Plan,
    /// An execution's report (`execute`).
    Execute,
    /// An undo's report (`undo`).
    Undo,
}

impl ReportKind {
    /// By name: `snapshot`, `plan`, `execute`, `undo`.
    pub fn parse(name: &str) -> Result<ReportKind> {
        Ok(match name {
            "snapshot" => ReportKind::Snapshot,
            "plan" => ReportKind::Plan,
            "execute" => ReportKind::Execute,
            "undo" => ReportKind::Undo,
            other => {
                return Err(Error::InvalidArguments {
                    path: "kind".into(),
                    message: format!("no report kind {other:?}"),
                })
            }
        })
    }
}

/// What to print and where, and how to end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    /// For standard output (ends with a newline when not empty).
    pub stdout: String,
    /// For standard error.
    pub stderr: String,
    /// The content of `--out FILE`, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The content of `--summary-md FILE` (Markdown), when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The exit code.
    pub exit: u8,
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn counts(report: &Value) -> String {
    let mut pairs: Vec<(String, String)> = report
        .get("counts")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.to_string())).collect())
        .unwrap_or_default();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders `document` (the result's JSON text) as the invocation's `options` ask:
/// `--output` (`text` or `json`), `--out FILE`, undo's `--dry-run`, `--summary-md FILE` (for
/// `execute`, `plan` is the plan's text, which the summary shows with the report) and plan's
/// `--max-deletions` (the plan is still written, for review; the exit code says refused).
#[allow(clippy::too_many_lines)] // one arm per kind, each short; split, they read worse
pub fn render_report(
    kind: ReportKind,
    document: &str,
    options: &BTreeMap<String, Value>,
    plan: Option<&str>,
) -> Result<Rendered> {
    let output = options
        .get("output")
        .and_then(Value::as_str)
        .unwrap_or("text");
    let out = options.get("out").and_then(Value::as_str);
    let dry_run = options.get("dryRun").and_then(Value::as_bool) == Some(true);
    let summary_md = options.contains_key("summaryMd");
    let json = output == "json";
    let value: Value = crate::field::from_json(document.as_bytes())?;
    let mut r = Rendered {
        stdout: String::new(),
        stderr: String::new(),
        file: None,
        summary: None,
        exit: ExitCode::Ok as u8,
    };
    match kind {
        ReportKind::Snapshot => {
            let text = if json {
                serde_json::to_string(&value)
            } else {
                serde_json::to_string_pretty(&value)
            }
            .unwrap_or_default();
            if let Some(path) = out {
                let repos = value["repositories"]
                    .as_array()
                    .map_or(&[][..], Vec::as_slice);
                let manifests: usize = repos
                    .iter()
                    .map(|r| r["manifests"].as_array().map_or(0, Vec::len))
                    .sum();
                r.file = Some(format!("{text}\n"));
                r.stderr = format!(
                    "{} repositories, {manifests} manifests -> {}\n",
                    repos.len(),
                    escape_controls(path)
                );
            } else {
                r.stdout = format!("{text}\n");
            }
        }
        ReportKind::Plan => {
            // The plan's own text: it is sealed, and re-serialized JSON need not be the same bytes.
            let text = document.trim();
            if out.is_some() {
                r.file = Some(format!("{text}\n"));
            }
            // Parsed only when something below reads it: `--output json` alone prints the text.
            let max = options.get("maxDeletions").and_then(Value::as_u64);
            let plan: Option<crate::Plan> = if !json || summary_md || max.is_some() {
                Some(crate::field::from_json(document.as_bytes())?)
            } else {
                None
            };
            r.stdout = match &plan {
                Some(plan) if !json => format!(
                    "{}\n",
                    crate::render::render_text_limited(plan, super::text_limit(options))
                ),
                _ => format!("{text}\n"),
            };
            if let (true, Some(plan)) = (summary_md, &plan) {
                r.summary = Some(crate::render_markdown(plan, None, crate::MARKDOWN_LIMIT));
            }
            if let (Some(max), Some(plan)) = (max, &plan) {
                if plan.actions.len() as u64 > max {
                    r.stderr = format!(
                        "refused: the plan has {} actions, more than --max-deletions {max}{}\n",
                        plan.actions.len(),
                        if out.is_some() {
                            " (it is written, for review)"
                        } else {
                            ""
                        }
                    );
                    r.exit = ExitCode::Refused as u8;
                }
            }
        }
        ReportKind::Execute => {
            if json {
                r.stdout = format!("{}\n", serde_json::to_string(&value).unwrap_or_default());
            } else {
                let mut t = String::new();
                if let Some(from) = value.get("retargeted").and_then(Value::as_str) {
                    let _ = writeln!(
                        t,
                        "retargeted: the plan was made for {}",
                        escape_controls(from)
                    );
                }
                if value["interrupted"].as_bool() == Some(true) {
                    t.push_str("interrupted: nothing more was sent; what had not started is listed below\n");
                }
                for o in value["outcomes"].as_array().map_or(&[][..], Vec::as_slice) {
                    let _ = writeln!(
                        t,
                        "{:<12} {}  {}",
                        s(o, "outcome"),
                        escape_controls(s(o, "target")),
                        escape_controls(s(o, "detail"))
                    );
                }
                t.push_str(&counts(&value));
                t.push('\n');
                r.stdout = t;
            }
            if value["complete"].as_bool() != Some(true) {
                r.exit = ExitCode::Partial as u8;
            }
            if summary_md {
                let report: crate::http::Report = crate::field::from_json(document.as_bytes())?;
                let plan: crate::Plan = crate::field::from_json(plan.unwrap_or("").as_bytes())?;
                r.summary = Some(crate::render_markdown(
                    &plan,
                    Some(&report),
                    crate::MARKDOWN_LIMIT,
                ));
            }
        }
        ReportKind::Undo => {
            if json {
                r.stdout = format!("{}\n", serde_json::to_string(&value).unwrap_or_default());
            } else {
                let run = value
                    .get("run")
                    .and_then(Value::as_str)
                    .unwrap_or("(no run id)");
                let plan = value
                    .get("plan")
                    .and_then(Value::as_str)
                    .unwrap_or("(none)");
                let mut t = format!(
                    "run {} of plan {}\n",
                    escape_controls(run),
                    escape_controls(plan)
                );
                for l in value["skippedLines"]
                    .as_array()
                    .map_or(&[][..], Vec::as_slice)
                {
                    let _ = writeln!(
                        t,
                        "skipped      line {}: {}",
                        l["line"],
                        escape_controls(s(l, "reason"))
                    );
                }
                for x in value["results"].as_array().map_or(&[][..], Vec::as_slice) {
                    let tags: Vec<&str> = x["tags"]
                        .as_array()
                        .map_or(&[][..], Vec::as_slice)
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    let _ = writeln!(
                        t,
                        "{:<12} {}@{} {}  {}",
                        s(x, "outcome"),
                        escape_controls(s(x, "repository")),
                        escape_controls(s(x, "digest")),
                        escape_controls(&tags.join(" ")),
                        escape_controls(s(x, "detail"))
                    );
                }
                t.push_str(&counts(&value));
                t.push('\n');
                r.stdout = t;
            }
            if !dry_run && value["complete"].as_bool() != Some(true) {
                r.exit = ExitCode::Partial as u8;
            }
        }
    }
    Ok(r)
}

/// What the command line prints for an error of `code` saying `message` (one line, controls
/// escaped) and its exit code.
pub fn render_error(code: &str, message: &str) -> Rendered {
    let hint = if code == "invalid_arguments" {
        "\n(`regprune --help` lists the commands, `regprune <command> --help` their options)"
    } else {
        ""
    };
    Rendered {
        stdout: String::new(),
        stderr: format!("error: {}{hint}\n", escape_controls(message)),
        file: None,
        summary: None,
        exit: Error::exit_code_of(code),
    }
}
