//! The plan (and an execution's report) as GitHub-flavoured Markdown, for a CI job summary
//! (`GITHUB_STEP_SUMMARY`, a merge-request note) and `--summary-md FILE`; and the same results
//! as GitHub workflow-command annotations. Both CLIs and the GitHub Action print what this
//! module renders, so a summary is byte for byte the same whichever adapter made it.
//!
//! A summary stays far below GitHub's 1 MiB per step (a bigger one is dropped whole): lists
//! show their first `limit` entries and say how many more there are, every cell is cut at
//! [`CELL_CHARS`], and the whole text at [`MAX_BYTES`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::http::{OutcomeKind, Report};
use crate::plan::{ActionType, Plan, Warning};
use crate::render::{escape_controls, human_bytes};

/// The default number of actions, retained items, outcomes and warning items shown.
pub const DEFAULT_LIMIT: usize = 20;
/// No cell is longer than this many characters (a registry's message can be any length).
pub const CELL_CHARS: usize = 300;
/// The summary is cut (at a line) to this many bytes; GitHub drops a step summary over 1 MiB.
pub const MAX_BYTES: usize = 512 * 1024;
/// GitHub shows 10 annotations of each kind per step and drops the rest silently.
pub const ANNOTATIONS_PER_KIND: usize = 10;

/// `text` from data, safe in a Markdown table cell or paragraph: controls escaped as in the
/// text preview, Markdown's and HTML's active characters backslash-escaped or entity-coded,
/// and cut at `CELL_CHARS`.
pub fn markdown_escape(text: &str) -> String {
    let shown = escape_controls(text);
    let mut out = String::with_capacity(shown.len() + 8);
    for (n, c) in shown.chars().enumerate() {
        if n == CELL_CHARS {
            out.push('…');
            break;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' | '@' => {
                // `@` would mention a user or team in a GitHub comment.
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `text` from data as an inline code span: fenced by one backtick more than its longest run
/// of backticks (as `CommonMark` says), controls escaped, cut at [`CELL_CHARS`] times four.
fn code_span(text: &str) -> String {
    let shown: String = escape_controls(text).chars().take(CELL_CHARS * 4).collect();
    let mut longest = 0;
    let mut run = 0;
    for c in shown.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if shown.starts_with('`') || shown.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{shown}{pad}{fence}")
}

fn kind_words(k: ActionType) -> &'static str {
    match k {
        ActionType::Untag => "untag",
        ActionType::DeleteManifest => "delete manifest",
        ActionType::DeleteRepository => "delete repository",
    }
}

fn code_name<T: serde::Serialize>(code: &T) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Says how many of `total` entries a list cut at `limit` left out.
fn more(out: &mut String, limit: usize, total: usize, what: &str) {
    let shown = limit.min(total);
    if total > shown {
        let _ = writeln!(
            out,
            "\n… and {} more {what} (the plan file lists every one).",
            total - shown
        );
    }
}

/// Warnings grouped by code, in the order each code first appears.
fn grouped(warnings: &[Warning]) -> Vec<(String, Vec<&Warning>)> {
    let mut order: Vec<(String, Vec<&Warning>)> = Vec::new();
    for w in warnings {
        let code = code_name(&w.code);
        match order.iter_mut().find(|(c, _)| *c == code) {
            Some((_, list)) => list.push(w),
            None => order.push((code, vec![w])),
        }
    }
    order
}

/// The plan (and, after `execute`, its report) as a job summary in GitHub-flavoured Markdown:
/// the totals, the execution's outcome, bytes per repository, the first `limit` actions with
/// their reasons, what is retained, and the warnings grouped by code.
#[allow(clippy::too_many_lines)] // one section after another, each short
pub fn render_markdown(plan: &Plan, report: Option<&Report>, limit: usize) -> String {
    let mut out = String::new();
    let r = &plan.reclaim;
    let deletes = plan
        .actions
        .iter()
        .filter(|a| a.kind != ActionType::Untag)
        .count();
    let untags = plan.actions.len() - deletes;
    let title = match report {
        None => "regprune plan",
        Some(_) => "regprune execution",
    };
    let _ = writeln!(
        out,
        "## {title}: {} action(s), {} reclaimable{}\n",
        plan.actions.len(),
        human_bytes(r.total_bytes),
        if r.exact { "" } else { " (not exact)" }
    );
    for w in &plan.warnings {
        if w.code == crate::plan::WarningCode::RequestNotEvaluated {
            let _ = writeln!(out, "> **{}**\n", markdown_escape(&w.message));
        }
    }
    let digest = plan
        .digest
        .as_ref()
        .map_or_else(|| "(unsealed)".into(), ToString::to_string);
    let op = serde_json::to_string(&plan.operation).unwrap_or_default();
    let _ = writeln!(
        out,
        "Plan `{digest}` for {} at {}.  \nRequest: {}\n",
        markdown_escape(plan.registry.as_deref().unwrap_or("(registry)")),
        plan.now,
        code_span(&op)
    );
    if let Some(report) = report {
        let _ = writeln!(out, "### Execution\n");
        if report.plan.as_ref() != plan.digest.as_ref() {
            let _ = writeln!(
                out,
                "**This report is of another plan** (`{}`).\n",
                report
                    .plan
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
        }
        if report.interrupted {
            out.push_str("**Interrupted**: nothing more was sent; what had not started is counted as not started.\n\n");
        }
        let _ = writeln!(
            out,
            "{}\n",
            if report.complete {
                "Complete: every action is done or was already gone."
            } else {
                "**Not complete**: some actions were skipped or failed (listed below)."
            }
        );
        out.push_str("| Outcome | Count |\n|---|--:|\n");
        for (k, v) in &report.counts {
            let _ = writeln!(out, "| {} | {v} |", markdown_escape(k));
        }
        let open: Vec<_> = report
            .outcomes
            .iter()
            .filter(|o| !matches!(o.outcome, OutcomeKind::Done | OutcomeKind::AlreadyGone))
            .collect();
        if !open.is_empty() {
            out.push_str("\n| Outcome | Target | Detail |\n|---|---|---|\n");
            for o in open.iter().take(limit) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    code_name(&o.outcome),
                    markdown_escape(&o.target),
                    markdown_escape(&o.detail)
                );
            }
            more(&mut out, limit, open.len(), "outcomes");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "### Totals\n");
    out.push_str("| | |\n|---|--:|\n");
    let _ = writeln!(
        out,
        "| Actions | {} ({deletes} delete, {untags} untag) |",
        plan.actions.len()
    );
    let _ = writeln!(out, "| Manifests deleted | {} |", r.manifests);
    let _ = writeln!(out, "| Tags removed | {} |", r.tags);
    let _ = writeln!(
        out,
        "| Reclaimable | {} ({} bytes) |",
        human_bytes(r.total_bytes),
        r.total_bytes
    );
    let _ = writeln!(
        out,
        "| Blobs given back | {} ({}) |",
        r.blob_count,
        human_bytes(r.blob_bytes)
    );
    let _ = writeln!(
        out,
        "| Manifest bytes | {} |",
        human_bytes(r.manifest_bytes)
    );
    if r.shared.blob_count > 0 {
        let _ = writeln!(
            out,
            "| Stays (shared with survivors) | {} in {} blob(s) |",
            human_bytes(r.shared.bytes),
            r.shared.blob_count
        );
    }
    let _ = writeln!(out, "| Retained | {} |", plan.retained.len());
    if !r.exact {
        out.push_str("\nThe bytes are **not exact**:\n\n");
        for why in &r.inexact_reasons {
            let _ = writeln!(out, "- {}", markdown_escape(why));
        }
    }
    if !r.by_repository.is_empty() {
        out.push_str("\n### Bytes per repository\n\n");
        out.push_str(
            "| Repository | Manifests | Tags | Blobs | Reclaimed |\n|---|--:|--:|--:|--:|\n",
        );
        for row in r.by_repository.iter().take(limit) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                markdown_escape(row.repository.as_str()),
                row.manifests,
                row.tags,
                row.blob_count,
                human_bytes(row.blob_bytes + row.manifest_bytes)
            );
        }
        more(&mut out, limit, r.by_repository.len(), "repositories");
    }
    out.push_str("\n### Actions\n\n");
    if plan.actions.is_empty() {
        out.push_str("Nothing will be deleted.\n");
    } else {
        out.push_str("| # | Action | Target | Tags | Reason |\n|--:|---|---|---|---|\n");
        for (i, a) in plan.actions.iter().enumerate().take(limit) {
            let target = match (&a.tag, &a.digest) {
                (Some(t), _) => format!("{}:{t}", a.repository),
                (None, Some(d)) => format!("{}@{d}", a.repository),
                (None, None) => format!("{} ({} manifests)", a.repository, a.manifests.len()),
            };
            let tags: Vec<&str> = a.tags.iter().map(crate::TagName::as_str).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                i + 1,
                kind_words(a.kind),
                markdown_escape(&target),
                markdown_escape(&tags.join(", ")),
                markdown_escape(&a.reason.message)
            );
        }
        more(&mut out, limit, plan.actions.len(), "actions");
    }
    if !plan.retained.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>Retained ({})</summary>\n\n| Target | Reason |\n|---|---|",
            plan.retained.len()
        );
        for x in plan.retained.iter().take(limit) {
            let target = x.target();
            let _ = writeln!(
                out,
                "| {} | {} |",
                markdown_escape(&target),
                markdown_escape(&x.reason.message)
            );
        }
        more(&mut out, limit, plan.retained.len(), "retained");
        out.push_str("\n</details>\n");
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "\n### Warnings ({})\n", plan.warnings.len());
        for (code, list) in grouped(&plan.warnings) {
            let items: usize = list.iter().map(|w| w.items.len()).sum();
            let _ = writeln!(
                out,
                "- **{}** ×{}{}: {}",
                markdown_escape(&code),
                list.len(),
                if items > 0 {
                    format!(", {items} item(s)")
                } else {
                    String::new()
                },
                markdown_escape(&list[0].message)
            );
            let mut shown = 0;
            for w in &list {
                for item in &w.items {
                    if shown == limit {
                        break;
                    }
                    let _ = writeln!(out, "  - {}", markdown_escape(item));
                    shown += 1;
                }
            }
            if items > shown {
                let _ = writeln!(out, "  - … and {} more", items - shown);
            }
            if list.len() > 1 {
                let _ = writeln!(
                    out,
                    "  - {} more warning(s) of this kind in the plan file",
                    list.len() - 1
                );
            }
        }
    }
    if out.len() > MAX_BYTES {
        let mut cut = MAX_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        let line = out[..cut].rfind('\n').map_or(0, |i| i + 1);
        out.truncate(line);
        out.push_str("\n… the summary was cut here to stay within GitHub's limit; the plan file has everything.\n");
    }
    out
}

/// Escapes a workflow command's message (`%`, CR, LF), as GitHub's toolkit does.
fn command_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
fn command_property(text: &str) -> String {
    command_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// One GitHub workflow command line (`::name title=…::message`, no newline), escaped as
/// GitHub's toolkit escapes it. The message is taken as it is (`add-mask` must name the secret
/// exactly); annotations of data escape its controls first.
pub fn workflow_command(name: &str, title: Option<&str>, message: &str) -> String {
    match title {
        Some(t) => format!(
            "::{name} title={}::{}",
            command_property(t),
            command_data(message)
        ),
        None => format!("::{name}::{}", command_data(message)),
    }
}

fn annotation(kind: &str, title: &str, message: &str) -> String {
    workflow_command(
        kind,
        Some(&escape_controls(title)),
        &escape_controls(message),
    )
}

/// GitHub workflow-command annotations (one per line): a warning per warning code of the plan
/// (grouped, with its count and first items), and after `execute` an error per failed or
/// unsupported action and a warning per skipped one. GitHub shows
/// [`ANNOTATIONS_PER_KIND`] of each kind per step: the last one shown says how many more the
/// job summary lists.
pub fn render_annotations(plan: &Plan, report: Option<&Report>) -> String {
    let mut by_kind: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for (code, list) in grouped(&plan.warnings) {
        let items: Vec<&str> = list
            .iter()
            .flat_map(|w| w.items.iter().map(String::as_str))
            .collect();
        let mut message = list[0].message.clone();
        if list.len() > 1 {
            let _ = write!(message, " (and {} more like it)", list.len() - 1);
        }
        if !items.is_empty() {
            let shown: Vec<&str> = items.iter().take(5).copied().collect();
            let _ = write!(message, " [{}", shown.join(", "));
            if items.len() > shown.len() {
                let _ = write!(message, ", +{}", items.len() - shown.len());
            }
            message.push(']');
        }
        by_kind
            .entry("warning")
            .or_default()
            .push((format!("regprune: {code}"), message));
    }
    if let Some(report) = report {
        for o in &report.outcomes {
            let kind = match o.outcome {
                OutcomeKind::Failed | OutcomeKind::Unsupported => "error",
                OutcomeKind::Skipped | OutcomeKind::NotStarted => "warning",
                OutcomeKind::Done | OutcomeKind::AlreadyGone => continue,
            };
            by_kind.entry(kind).or_default().push((
                format!("regprune: {}", code_name(&o.outcome)),
                format!("{}: {}", o.target, o.detail),
            ));
        }
    }
    let mut out = String::new();
    for kind in ["error", "warning"] {
        let Some(list) = by_kind.get(kind) else {
            continue;
        };
        for (n, (title, message)) in list.iter().enumerate() {
            if n + 1 == ANNOTATIONS_PER_KIND && list.len() > ANNOTATIONS_PER_KIND {
                let rest = list.len() - n;
                let _ = writeln!(
                    out,
                    "{}",
                    annotation(
                        kind,
                        "regprune",
                        &format!(
                            "{rest} more {kind}s: the job summary and the report list every one"
                        )
                    )
                );
                break;
            }
            let _ = writeln!(out, "{}", annotation(kind, title, message));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{command_property, markdown_escape};

    #[test]
    fn data_cannot_write_markdown_or_mention_people() {
        assert_eq!(
            markdown_escape("a|b <script> *x* [l](u) @team `c` \\"),
            "a\\|b &lt;script&gt; \\*x\\* \\[l\\](u) \\@team \\`c\\` \\\\"
        );
        assert_eq!(markdown_escape("line\nbreak"), "line\\\\nbreak");
        let long = "x".repeat(1000);
        assert_eq!(
            markdown_escape(&long).chars().count(),
            super::CELL_CHARS + 1
        );
    }

    #[test]
    fn code_spans_are_fenced_past_any_backticks_in_data() {
        assert_eq!(super::code_span("a"), "`a`");
        assert_eq!(super::code_span("a``b"), "```a``b```");
        assert_eq!(super::code_span("`x"), "`` `x ``");
    }

    #[test]
    fn workflow_command_properties_are_escaped_as_the_toolkit_does() {
        assert_eq!(command_property("repo:tag,2 50%"), "repo%3Atag%2C2 50%25");
    }
}
