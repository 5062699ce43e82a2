//! A policy's selection: its rules compiled and applied to every manifest and tag, with the
//! warnings a rule set earns (patterns that look like globs, rules that never match).

use crate::duration::parse_strict;
use crate::error::Result;
use crate::graph::{Graph, Mid};
use crate::hash::{self, Set};
use crate::pattern::{looks_like_glob, Pattern};
use crate::plan::{Reason, ReasonCode, Retained, Warning, WarningCode};
use crate::policy::{Policy, Rule, RuleAction, TagState};
use crate::selection::{time_of, Request, Selection};
use crate::time::Timestamp;
use std::sync::Arc;

/// A rule, compiled.
struct Compiled<'p> {
    rule: &'p Rule,
    /// The rule's name, shared by the reasons it gives.
    name: Arc<str>,
    /// The reason of every manifest this delete rule deletes (one sentence per rule, shared).
    deletes: Arc<str>,
    repo_in: Vec<Pattern>,
    repo_out: Vec<Pattern>,
    tag_in: Vec<Pattern>,
    tag_out: Vec<Pattern>,
    older: Option<Timestamp>,
    newer: Option<Timestamp>,
}

fn compile<'p>(rule: &'p Rule, at: &str, now: Timestamp) -> Result<Compiled<'p>> {
    let age = rule
        .older_than
        .as_ref()
        .map(|o| format!(" and is older than {o}"))
        .unwrap_or_default();
    let mut c = Compiled {
        rule,
        name: rule.name.as_str().into(),
        deletes: format!("the delete rule {:?} selects it{age}", rule.name).into(),
        repo_in: Vec::new(),
        repo_out: Vec::new(),
        tag_in: Vec::new(),
        tag_out: Vec::new(),
        older: None,
        newer: None,
    };
    include_exclude(
        &rule.repositories,
        true,
        &format!("{at}.repositories"),
        &mut c.repo_in,
        &mut c.repo_out,
    )?;
    include_exclude(
        &rule.repository_regex,
        false,
        &format!("{at}.repositoryRegex"),
        &mut c.repo_in,
        &mut c.repo_out,
    )?;
    include_exclude(
        &rule.tags,
        true,
        &format!("{at}.tags"),
        &mut c.tag_in,
        &mut c.tag_out,
    )?;
    include_exclude(
        &rule.tag_regex,
        false,
        &format!("{at}.tagRegex"),
        &mut c.tag_in,
        &mut c.tag_out,
    )?;
    if let Some(d) = &rule.older_than {
        c.older = Some(now.minus_seconds(parse_strict(&format!("{at}.olderThan"), d)?));
    }
    if let Some(d) = &rule.newer_than {
        c.newer = Some(now.minus_seconds(parse_strict(&format!("{at}.newerThan"), d)?));
    }
    Ok(c)
}

/// Compiles a list of globs or regexes; entries starting with `!` go to `exclude`.
fn include_exclude(
    list: &[String],
    glob: bool,
    at: &str,
    include: &mut Vec<Pattern>,
    exclude: &mut Vec<Pattern>,
) -> Result<()> {
    for (i, entry) in list.iter().enumerate() {
        let p = format!("{at}[{i}]");
        let (pattern, into) = match entry.strip_prefix('!') {
            Some(neg) => (neg, &mut *exclude),
            None => (entry.as_str(), &mut *include),
        };
        into.push(if glob {
            Pattern::glob(&p, pattern)?
        } else {
            Pattern::full(&p, pattern)?
        });
    }
    Ok(())
}

fn any_match(patterns: &[Pattern], subject: &str) -> Result<bool> {
    for p in patterns {
        if p.is_match(subject)? {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Compiled<'_> {
    fn repository(&self, name: &str) -> Result<bool> {
        let included = self.repo_in.is_empty() || any_match(&self.repo_in, name)?;
        Ok(included && !any_match(&self.repo_out, name)?)
    }

    /// Whether the selectors other than age pick manifest `id`.
    fn selects(&self, g: &Graph<'_>, id: Mid) -> Result<bool> {
        let m = g.manifest(id);
        let tagged = g.is_tagged(id);
        let state = match self.rule.tag_state {
            TagState::Any => true,
            TagState::Tagged => tagged,
            TagState::Untagged => !tagged,
        };
        if !state {
            return Ok(false);
        }
        if !self.rule.media_types.is_empty()
            && !m
                .media_type
                .as_ref()
                .is_some_and(|t| self.rule.media_types.iter().any(|x| x == t.as_str()))
        {
            return Ok(false);
        }
        if !self.rule.artifact_types.is_empty()
            && !m
                .artifact_type
                .as_ref()
                .is_some_and(|t| self.rule.artifact_types.iter().any(|a| **a == **t))
        {
            return Ok(false);
        }
        let mut any_in = self.tag_in.is_empty();
        for t in g.tags_of(id) {
            if any_match(&self.tag_out, t.name.as_str())? {
                return Ok(false);
            }
            any_in = any_in || any_match(&self.tag_in, t.name.as_str())?;
        }
        Ok(any_in)
    }

    /// Whether the age conditions pick manifest `id`: `Some(false)` when its timestamp is
    /// missing and the rule has an age condition.
    fn age(&self, g: &Graph<'_>, id: Mid) -> Option<bool> {
        if self.older.is_none() && self.newer.is_none() {
            return Some(true);
        }
        let t = time_of(g, id, self.rule.timestamp)?;
        Some(self.older.is_none_or(|c| t < c) && self.newer.is_none_or(|c| t > c))
    }
}

fn rule_reason(code: ReasonCode, rule: &Compiled, message: impl Into<Arc<str>>) -> Reason {
    Reason {
        code,
        message: message.into(),
        rule: Some(rule.name.clone()),
    }
}

/// What each rule decided, for the lint.
#[derive(Default)]
struct Tally {
    selected: usize,
    decided: usize,
}

/// The selection of a policy.
#[allow(clippy::too_many_lines)]
pub(crate) fn select(
    g: &Graph<'_>,
    policy: &Policy,
    now: Timestamp,
    path: &str,
) -> Result<Selection> {
    let rules = policy
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| compile(r, &format!("{path}.rules[{i}]"), now))
        .collect::<Result<Vec<_>>>()?;
    let mut protected = Vec::new();
    for (i, t) in policy.protect.tags.iter().enumerate() {
        protected.push(Pattern::glob(&format!("{path}.protect.tags[{i}]"), t)?);
    }
    for (i, r) in policy.protect.tag_regex.iter().enumerate() {
        protected.push(Pattern::full(&format!("{path}.protect.tagRegex[{i}]"), r)?);
    }
    let (mut s, lanes) = crate::selection::by_repository(g, |repos, s| {
        let mut tally: Vec<Tally> = rules.iter().map(|_| Tally::default()).collect();
        let mut deleted_by_earlier: Vec<usize> = vec![0; rules.len()];
        for ri in repos {
            let repo = &g.snapshot.repositories[ri as usize];
            let mut applies = Vec::with_capacity(rules.len());
            for r in &rules {
                applies.push(r.repository(repo.name.as_str())?);
            }
            // Per delete rule with keepMostRecent: the manifests it spares in this repository.
            let mut spared: Vec<Set<Mid>> = Vec::with_capacity(rules.len());
            for (k, r) in rules.iter().enumerate() {
                let mut set = hash::set(0);
                if let (true, Some(n), RuleAction::Delete) =
                    (applies[k], r.rule.keep_most_recent, r.rule.action)
                {
                    let mut picked = Vec::new();
                    for id in g.manifests_of(ri) {
                        if r.selects(g, id)? {
                            picked.push(id);
                        }
                    }
                    picked.sort_by(|&x, &y| {
                        let (tx, ty) = (
                            time_of(g, x, r.rule.timestamp),
                            time_of(g, y, r.rule.timestamp),
                        );
                        (ty.is_some(), ty)
                            .cmp(&(tx.is_some(), tx))
                            .then_with(|| g.manifest(x).digest.cmp(&g.manifest(y).digest))
                    });
                    set.extend(picked.into_iter().take(n as usize));
                }
                spared.push(set);
            }
            let mut requests_here = Vec::new();
            for id in g.manifests_of(ri) {
                let m = g.manifest(id);
                let retain = |why: Reason| Retained {
                    repository: repo.name.clone(),
                    digest: Some(m.digest.clone()),
                    tag: None,
                    tags: g.tags_of(id).map(|t| t.name.clone()).collect(),
                    reason: why,
                };
                let mut delete_by: Option<usize> = None;
                let mut keep_by: Option<usize> = None;
                let mut spared_by: Option<usize> = None;
                let mut missing_time: Option<usize> = None;
                for (k, r) in rules.iter().enumerate() {
                    if !applies[k] || !r.selects(g, id)? {
                        continue;
                    }
                    match r.rule.action {
                        RuleAction::Keep => {
                            if r.age(g, id) == Some(true) {
                                tally[k].selected += 1;
                                keep_by = keep_by.or(Some(k));
                            }
                        }
                        RuleAction::Delete => {
                            if spared[k].contains(&id) {
                                spared_by = spared_by.or(Some(k));
                                continue;
                            }
                            match r.age(g, id) {
                                Some(true) => {
                                    tally[k].selected += 1;
                                    if delete_by.is_some() {
                                        deleted_by_earlier[k] += 1;
                                    }
                                    delete_by = delete_by.or(Some(k));
                                }
                                Some(false) => {}
                                None => missing_time = missing_time.or(Some(k)),
                            }
                        }
                    }
                }
                let Some(d) = delete_by else {
                    if let Some(k) = spared_by {
                        let n = rules[k].rule.keep_most_recent.unwrap_or(0);
                        s.retained.push(retain(rule_reason(ReasonCode::Keep, &rules[k], format!("one of the {n} most recent manifests the rule spares in this repository"))));
                    } else if let Some(k) = missing_time {
                        s.retained.push(retain(rule_reason(
                            ReasonCode::MissingTimestamp,
                            &rules[k],
                            format!(
                                "it has no {}, so its age is unknown",
                                rules[k].rule.timestamp.name()
                            ),
                        )));
                    }
                    continue;
                };
                if let Some(k) = keep_by {
                    tally[k].decided += 1;
                    s.retained.push(retain(rule_reason(
                        ReasonCode::KeptByRule,
                        &rules[k],
                        format!(
                        "the keep rule {:?} selects it, and keep wins over the delete rule {:?}",
                        rules[k].rule.name, rules[d].rule.name
                    ),
                    )));
                    continue;
                }
                let mut hit = None;
                for t in g.tags_of(id) {
                    if any_match(&protected, t.name.as_str())? {
                        hit = Some(t.name.as_str());
                        break;
                    }
                }
                if let Some(tag) = hit {
                    s.retained.push(retain(rule_reason(
                        ReasonCode::ProtectedTag,
                        &rules[d],
                        format!("its tag {tag:?} is protected by the policy"),
                    )));
                    continue;
                }
                tally[d].decided += 1;
                requests_here.push(Request {
                    id,
                    reason: rule_reason(
                        ReasonCode::RuleMatched,
                        &rules[d],
                        rules[d].deletes.clone(),
                    ),
                    named: false,
                });
            }
            if policy.protect.never_empty_repository
                && !requests_here.is_empty()
                && requests_here.len() == repo.manifests.len()
            {
                // Spare the most recent manifest (by lastUpdateTime, then the larger digest).
                let newest = requests_here
                    .iter()
                    .enumerate()
                    .max_by(|(_, a), (_, b)| {
                        let (ma, mb) = (g.manifest(a.id), g.manifest(b.id));
                        (ma.last_update_time, &mb.digest).cmp(&(mb.last_update_time, &ma.digest))
                    })
                    .map(|(i, _)| i);
                if let Some(i) = newest {
                    let r = requests_here.remove(i);
                    let m = g.manifest(r.id);
                    s.retained.push(Retained {
                    repository: repo.name.clone(),
                    digest: Some(m.digest.clone()),
                    tag: None,
                    tags: g.tags_of(r.id).map(|t| t.name.clone()).collect(),
                    reason: Reason {
                        code: ReasonCode::LastInRepository,
                        message: "it is the most recent manifest, and the policy never empties a repository".into(),
                        rule: r.reason.rule,
                    },
                });
                }
            }
            s.requests.extend(requests_here);
        }
        Ok((tally, deleted_by_earlier))
    })?;
    // What each rule decided, over every lane.
    let mut tally: Vec<Tally> = rules.iter().map(|_| Tally::default()).collect();
    let mut deleted_by_earlier: Vec<usize> = vec![0; rules.len()];
    for (lane_tally, lane_earlier) in lanes {
        for (k, t) in lane_tally.into_iter().enumerate() {
            tally[k].selected += t.selected;
            tally[k].decided += t.decided;
            deleted_by_earlier[k] += lane_earlier[k];
        }
    }
    let mut warnings = lint_patterns(policy);
    warnings.append(&mut s.warnings);
    s.warnings = warnings;
    s.warnings
        .extend(lint_rules(policy, &tally, &deleted_by_earlier));
    Ok(s)
}

/// Regex fields that hold globs.
fn lint_patterns(policy: &Policy) -> Vec<Warning> {
    let mut items = Vec::new();
    for r in &policy.rules {
        for re in r.repository_regex.iter().chain(&r.tag_regex) {
            if looks_like_glob(re) {
                items.push(format!("{}: {re}", r.name));
            }
        }
    }
    for re in &policy.protect.tag_regex {
        if looks_like_glob(re) {
            items.push(format!("protect: {re}"));
        }
    }
    if items.is_empty() {
        return Vec::new();
    }
    vec![Warning {
        code: WarningCode::GlobInRegex,
        message: "these regex fields look like globs (a * with nothing to repeat, or after a plain character): in a regex app* means ap followed by any number of p; write app.* or use the glob fields (repositories, tags)".into(),
        items,
    }]
}

/// Rules that match nothing, and rules that decide nothing.
fn lint_rules(policy: &Policy, tally: &[Tally], deleted_by_earlier: &[usize]) -> Vec<Warning> {
    let mut nothing = Vec::new();
    let mut shadowed = Vec::new();
    for (k, r) in policy.rules.iter().enumerate() {
        let t = &tally[k];
        if t.selected == 0 {
            nothing.push(r.name.clone());
        } else if t.decided == 0 {
            let why = if r.action == RuleAction::Delete && deleted_by_earlier[k] == t.selected {
                "an earlier delete rule already deletes everything it selects"
            } else if r.action == RuleAction::Delete {
                "keep rules or protections spare everything it selects"
            } else {
                "no delete rule selects anything it keeps"
            };
            shadowed.push(format!("{} ({why})", r.name));
        }
    }
    let mut out = Vec::new();
    if !nothing.is_empty() {
        out.push(Warning {
            code: WarningCode::RuleMatchesNothing,
            message: "these rules select nothing in this snapshot: check their patterns and ages"
                .into(),
            items: nothing,
        });
    }
    if !shadowed.is_empty() {
        out.push(Warning {
            code: WarningCode::RuleShadowed,
            message:
                "these rules decide nothing: other rules already decide everything they select"
                    .into(),
            items: shadowed,
        });
    }
    out
}
