//! The human preview of a plan: az's confirmation sentences, a table of actions, and the
//! storage each repository gives back, in human units.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::names::TagName;
use crate::plan::{Action, ActionType, Plan, WarningCode};

/// Bytes in human units (binary prefixes): `525 B`, `21.8 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `text` safe to show on a terminal: control characters (C0, DEL, C1: ESC, CR, newline, …)
/// and the bidirectional overrides that reorder what a line seems to say are written as
/// `\u{…}` escapes (`\n`, `\r`, `\t` for those three). Everything a preview shows that came
/// from data (a snapshot's registry name, reasons, warnings, a registry's messages) goes
/// through it, so the text shown before a confirmation cannot be rewritten by what it shows.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let unsafe_char =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The sentence `az acr repository delete` asks to confirm, for one action.
pub fn confirmation(action: &Action) -> String {
    let images = || {
        action
            .tags
            .iter()
            .map(|t| format!("'{}:{t}'", action.repository))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match action.kind {
        ActionType::DeleteManifest => {
            let digest = action
                .digest
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            if action.tags.is_empty() {
                format!("This operation will delete the manifest '{digest}'.")
            } else {
                format!(
                    "This operation will delete the manifest '{digest}' and all the following images: {}.",
                    images()
                )
            }
        }
        ActionType::DeleteRepository => format!(
            "This operation will delete the repository '{}' with {} manifest(s) and {} tag(s).",
            action.repository,
            action.manifests.len(),
            action.tags.len()
        ),
        ActionType::Untag => format!(
            "This operation will untag '{}:{}'; the manifest and its layers stay.",
            action.repository,
            action
                .tag
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        ),
    }
}

/// The default number of actions (and retained items) the text preview lists.
pub const TEXT_LIMIT: usize = 20;
/// The items of each warning the text preview shows.
const ITEMS: usize = 5;

/// Renders `plan` for people, listing every action: [`render_text_limited`] with no limit.
pub fn render_text(plan: &Plan) -> String {
    render_text_limited(plan, None)
}

/// Renders `plan` for people: what it is, then the totals and the bytes per repository, then
/// the actions grouped by repository (the first `limit` of them, or all for `None`), what is
/// retained (as many), and the warnings, one per code and cause with their first items.
pub fn render_text_limited(plan: &Plan, limit: Option<usize>) -> String {
    let limit = limit.unwrap_or(usize::MAX);
    let mut out = String::new();
    let op = serde_json::to_string(&plan.operation).unwrap_or_default();
    let _ = writeln!(
        out,
        "Plan {} for {} at {}",
        plan.digest
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        escape_controls(plan.registry.as_deref().unwrap_or("(registry)")),
        plan.now
    );
    let _ = writeln!(out, "Request: {}", escape_controls(&op));
    for w in &plan.warnings {
        if w.code == WarningCode::RequestNotEvaluated {
            let _ = writeln!(out, "! {}", escape_controls(&w.message));
            items(&mut out, "    ", &w.items);
        }
    }
    out.push('\n');
    let deletes = plan
        .actions
        .iter()
        .filter(|a| a.kind != ActionType::Untag)
        .count();
    let _ = writeln!(
        out,
        "{} action(s): {deletes} deletion(s), {} untag(s); {} retained",
        plan.actions.len(),
        plan.actions.len() - deletes,
        plan.retained.len()
    );
    reclaim_section(&mut out, plan);
    out.push('\n');
    if plan.actions.is_empty() {
        let _ = writeln!(out, "Nothing will be deleted.\n");
    }
    let mut shown = 0;
    let mut i = 0;
    while i < plan.actions.len() && shown < limit {
        let repo = &plan.actions[i].repository;
        let end = plan.actions[i..]
            .iter()
            .position(|a| &a.repository != repo)
            .map_or(plan.actions.len(), |n| i + n);
        let _ = writeln!(out, "{repo} ({} action(s))", end - i);
        let rows: Vec<[String; 4]> = plan.actions[i..end]
            .iter()
            .take(limit - shown)
            .map(|a| {
                let target = match (&a.tag, &a.digest) {
                    (Some(t), _) => format!(":{t}"),
                    (None, Some(d)) => format!("@{}:{}", d.algorithm(), d.short()),
                    (None, None) => format!("{} manifest(s)", a.manifests.len()),
                };
                [
                    format!("  {}", kind(a.kind)),
                    target,
                    join_tags(a),
                    escape_controls(&a.reason.message).into_owned(),
                ]
            })
            .collect();
        shown += rows.len();
        table(&mut out, ["  ACTION", "TARGET", "TAGS", "REASON"], &rows);
        out.push('\n');
        i = end;
    }
    if plan.actions.len() > shown {
        let _ = writeln!(
            out,
            "… and {} more action(s): --all lists every one, --output json gives the plan\n",
            plan.actions.len() - shown
        );
    }
    retained_and_warnings(&mut out, plan, limit);
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// A warning's first [`ITEMS`] items, and how many more.
fn items(out: &mut String, indent: &str, items: &[String]) {
    for item in items.iter().take(ITEMS) {
        let _ = writeln!(out, "{indent}{}", escape_controls(item));
    }
    if items.len() > ITEMS {
        let _ = writeln!(out, "{indent}… and {} more", items.len() - ITEMS);
    }
}

/// The retained items (the first `limit`) and the warnings, each with its first items.
fn retained_and_warnings(out: &mut String, plan: &Plan, limit: usize) {
    if !plan.retained.is_empty() {
        let _ = writeln!(out, "Retained ({}):", plan.retained.len());
        for r in plan.retained.iter().take(limit) {
            let target = r.target();
            let _ = writeln!(out, "  {target}: {}", escape_controls(&r.reason.message));
        }
        if plan.retained.len() > limit {
            let _ = writeln!(out, "  … and {} more", plan.retained.len() - limit);
        }
        out.push('\n');
    }
    let shown = plan
        .warnings
        .iter()
        .filter(|w| w.code != WarningCode::RequestNotEvaluated)
        .count();
    if shown > 0 {
        let _ = writeln!(out, "Warnings ({shown}):");
        for w in &plan.warnings {
            if w.code == WarningCode::RequestNotEvaluated {
                continue; // said at the top
            }
            let _ = writeln!(out, "  ! {}", escape_controls(&w.message));
            items(out, "      ", &w.items);
        }
    }
}

fn reclaim_section(out: &mut String, plan: &Plan) {
    let r = &plan.reclaim;
    let _ = writeln!(
        out,
        "Reclaimable: {} ({} in {} blob(s), {} of manifests){}",
        human_bytes(r.total_bytes),
        human_bytes(r.blob_bytes),
        r.blob_count,
        human_bytes(r.manifest_bytes),
        if r.exact { ", exact" } else { ", not exact:" }
    );
    let said: Vec<&str> = plan
        .warnings
        .iter()
        .filter(|w| w.code == WarningCode::RequestNotEvaluated)
        .map(|w| w.message.as_str())
        .collect();
    for why in &r.inexact_reasons {
        if said.contains(&why.as_str()) {
            let _ = writeln!(
                out,
                "  - the request could not be evaluated for some items (above)"
            );
        } else {
            let _ = writeln!(out, "  - {}", escape_controls(why));
        }
    }
    if !r.by_repository.is_empty() {
        let rows: Vec<[String; 5]> = r
            .by_repository
            .iter()
            .map(|row| {
                [
                    row.repository.to_string(),
                    row.manifests.to_string(),
                    row.tags.to_string(),
                    row.blob_count.to_string(),
                    human_bytes(row.blob_bytes + row.manifest_bytes),
                ]
            })
            .collect();
        table(
            out,
            ["REPOSITORY", "MANIFESTS", "TAGS", "BLOBS", "RECLAIMED"],
            &rows,
        );
    }
    if r.shared.blob_count > 0 {
        let with: Vec<String> = r
            .shared
            .with
            .iter()
            .map(|w| format!("{} ({})", w.repository, human_bytes(w.bytes)))
            .collect();
        let _ = writeln!(
            out,
            "Stays because shared: {} in {} blob(s), still used by {}",
            human_bytes(r.shared.bytes),
            r.shared.blob_count,
            with.join(", ")
        );
    }
}

fn kind(k: ActionType) -> &'static str {
    match k {
        ActionType::Untag => "untag",
        ActionType::DeleteManifest => "deleteManifest",
        ActionType::DeleteRepository => "deleteRepository",
    }
}

fn join_tags(a: &Action) -> String {
    const SHOWN: usize = 4;
    let mut s: Vec<&str> = a.tags.iter().take(SHOWN).map(TagName::as_str).collect();
    let more = a.tags.len().saturating_sub(SHOWN);
    let extra = format!("+{more}");
    if more > 0 {
        s.push(&extra);
    }
    s.join(", ")
}

fn table<const N: usize>(out: &mut String, head: [&str; N], rows: &[[String; N]]) {
    let mut width = head.map(str::len);
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ", w = width[i]);
            }
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(head.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::{escape_controls, human_bytes};

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(escape_controls("plain name:v1"), "plain name:v1");
        assert_eq!(
            escape_controls("a\u{1b}[2Jb\rc\nd\te\u{7f}\u{9b}\u{202e}"),
            "a\\u{1b}[2Jb\\rc\\nd\\te\\u{7f}\\u{9b}\\u{202e}"
        );
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(22_906_605), "21.8 MiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }
}
