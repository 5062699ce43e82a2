//! Putting back what one execution deleted, from its journal, while the registry still has
//! the blobs (before garbage collection).
//!
//! The journal is trusted only as far as it proves itself: a line whose manifest bytes do not
//! hash to its digest is refused (its tags would otherwise serve foreign content), a torn last
//! line (a crash or a full disk cut it off) is skipped and reported, and a journal shared by
//! several runs is undone one run at a time (the last one unless another is named). Each
//! manifest is pushed by digest first; its tags follow only once the registry confirmed that
//! digest. Manifests go back before the indexes that list them and the referrers that point at
//! them, as the registry may refuse an index whose children are missing. Throttling, 5xx and
//! transport failures are retried with backoff and `Retry-After`, as in [`super::Execute`].

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::execute::{registry_key, JournalEntry};
use super::{backoff, retryable, status_text, Method, Request, Response};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::hash::Map;
use crate::names::TagName;

/// How to undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UndoOptions {
    /// The registry's `host[:port]`.
    pub registry: String,
    /// The run to undo (a journal line's `run`); by default the journal's last one.
    #[serde(default)]
    pub run: Option<String>,
    /// Attempts per request before the entry is reported failed.
    #[serde(default = "attempts")]
    pub max_attempts: u32,
    /// List what would be restored; send nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Restore into another registry than the one the journal was written against.
    #[serde(default)]
    pub retarget: bool,
}

fn attempts() -> u32 {
    6
}

/// What happened to one journalled manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UndoOutcome {
    /// The manifest and its tags are back.
    Restored,
    /// The registry refused or kept failing; see the detail.
    Failed,
    /// Not sent (a dry run).
    NotStarted,
}

/// One journal line put back (or not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndoResult {
    /// The journal line (1-based).
    pub line: usize,
    /// The repository.
    pub repository: String,
    /// The manifest.
    pub digest: Digest,
    /// The tags put back on it.
    pub tags: Vec<TagName>,
    /// What happened.
    pub outcome: UndoOutcome,
    /// Why, in plain words.
    pub detail: String,
}

/// A journal line that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedLine {
    /// The line (1-based).
    pub line: usize,
    /// Why it was not used.
    pub reason: String,
    /// The last line, cut off by a crash or a full disk. Its `DELETE` was never sent (a line is
    /// written durably before its deletion goes out), so nothing is missing for it.
    pub torn: bool,
}

/// One run found in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalRun {
    /// Its id (`None`: lines written before runs had ids, taken as one run).
    pub run: Option<String>,
    /// The plan it executed.
    pub plan: Option<Digest>,
    /// Its usable lines.
    pub lines: usize,
}

/// The result of an undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndoReport {
    /// The run undone.
    pub run: Option<String>,
    /// The plan that run executed.
    pub plan: Option<Digest>,
    /// Every run in the journal, in the order they start.
    pub runs: Vec<JournalRun>,
    /// One result per journal line of the run, in the order they were put back.
    pub results: Vec<UndoResult>,
    /// Lines not used (torn, unreadable, or bytes that do not match their digest).
    pub skipped_lines: Vec<SkippedLine>,
    /// Counts per outcome.
    pub counts: BTreeMap<String, u64>,
    /// Every line of the run was restored, and no line was refused (a torn last line is not a
    /// refusal: its deletion never went out). A dry run is never complete.
    pub complete: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    /// Pushing by digest.
    Manifest,
    /// Pushing tag `n` of its tags.
    Tag(usize),
    Finished,
}

struct Entry {
    line: usize,
    e: JournalEntry,
    /// Entries to put back first (children of an index, the subject of a referrer) that are
    /// not finished yet.
    pending: usize,
    /// Entries that wait for this one.
    dependents: Vec<usize>,
    state: State,
    outcome: Option<(UndoOutcome, String)>,
}

/// An undo in progress.
pub struct Undo {
    opts: UndoOptions,
    entries: Vec<Entry>,
    runs: Vec<JournalRun>,
    run: Option<String>,
    skipped: Vec<SkippedLine>,
    queue: VecDeque<(usize, u32, f64)>,
    in_flight: Map<u64, (usize, u32)>,
    next_id: u64,
}

impl Undo {
    /// Reads a journal (JSON lines, as execute wrote them) and prepares to undo one run of it.
    pub fn new(journal: &[u8], opts: UndoOptions) -> Result<Undo> {
        let (lines, skipped) = read_lines(journal);
        let mut runs: Vec<JournalRun> = Vec::new();
        for (_, e) in &lines {
            match runs.iter_mut().find(|r| r.run == e.run) {
                Some(r) => r.lines += 1,
                None => runs.push(JournalRun {
                    run: e.run.clone(),
                    plan: e.plan.clone(),
                    lines: 1,
                }),
            }
        }
        let run = match &opts.run {
            Some(wanted) => {
                if !runs.iter().any(|r| r.run.as_ref() == Some(wanted)) {
                    let known: Vec<String> = runs
                        .iter()
                        .map(|r| r.run.clone().unwrap_or_else(|| "(no run id)".into()))
                        .collect();
                    return Err(Error::InvalidOperation {
                        path: "run".into(),
                        message: format!(
                            "the journal has no run {:?}; its runs: {}",
                            crate::render::escape_controls(wanted),
                            if known.is_empty() {
                                "none".into()
                            } else {
                                known.join(", ")
                            }
                        ),
                    });
                }
                Some(wanted.clone())
            }
            None => lines.last().and_then(|(_, e)| e.run.clone()),
        };
        let mine: Vec<(usize, JournalEntry)> =
            lines.into_iter().filter(|(_, e)| e.run == run).collect();
        if let Some(other) = mine
            .iter()
            .filter_map(|(_, e)| e.registry.as_deref())
            .find(|r| registry_key(r) != registry_key(&opts.registry))
        {
            if !opts.retarget {
                return Err(Error::InvalidOperation {
                    path: "registry".into(),
                    message: format!(
                        "the journal's run was executed against {:?}, not {:?}; refusing to restore into another registry unless it is retargeted on purpose",
                        crate::render::escape_controls(other),
                        crate::render::escape_controls(&opts.registry)
                    ),
                });
            }
        }
        let mut undo = Undo {
            entries: order(mine),
            runs,
            run,
            skipped,
            queue: VecDeque::new(),
            in_flight: Map::default(),
            next_id: 1,
            opts,
        };
        for i in 0..undo.entries.len() {
            if undo.opts.dry_run {
                let en = &mut undo.entries[i];
                en.state = State::Finished;
                en.outcome = Some((UndoOutcome::NotStarted, "a dry run sends nothing".into()));
            } else if undo.entries[i].pending == 0 {
                undo.start(i);
            }
        }
        Ok(undo)
    }

    /// Entry `i` may go: its prerequisites are back (or failed: the registry then says).
    fn start(&mut self, i: usize) {
        self.entries[i].state = State::Manifest;
        self.queue.push_back((i, 1, 0.0));
    }

    /// The next request to send at `now`.
    pub fn next_request(&mut self, now: f64) -> Option<Request> {
        let at = self.queue.iter().position(|(_, _, t)| *t <= now)?;
        let (i, attempt, _) = self.queue.remove(at)?;
        let id = self.next_id;
        self.next_id += 1;
        self.in_flight.insert(id, (i, attempt));
        let en = &self.entries[i];
        let reference = match en.state {
            State::Tag(n) => en.e.tags[n].to_string(),
            _ => en.e.digest.to_string(),
        };
        let repo = &en.e.repository;
        if let Some(version) = &en.e.version {
            // GHCR: the deleted package version is restored as a whole (its tags with it).
            return Some(Request {
                id,
                method: Method::Post,
                path: format!("{version}/restore"),
                headers: super::ghcr::api_headers(),
                scope: super::GITHUB_API_SCOPE.to_owned(),
                body: None,
            });
        }
        Some(Request {
            id,
            method: Method::Put,
            path: format!("/v2/{repo}/manifests/{reference}"),
            headers: vec![("Content-Type".into(), en.e.media_type.clone())],
            scope: format!("repository:{repo}:pull,push"),
            body: Some(en.e.manifest.clone()),
        })
    }

    /// Feeds the response to request `id`, received at `now`.
    pub fn handle_response(&mut self, id: u64, r: &Response, now: f64) -> Result<()> {
        let Some((i, attempt)) = self.in_flight.remove(&id) else {
            return Err(Error::InvalidOperation {
                path: "response".into(),
                message: format!("no request {id} is waiting for a response"),
            });
        };
        let ghcr = self.entries[i].e.version.is_some();
        let limited = ghcr.then(|| super::ghcr::rate_limited(r)).flatten();
        if limited.is_some() || retryable(r.status) {
            if attempt < self.opts.max_attempts {
                let wait = limited.unwrap_or_else(|| backoff(r, attempt));
                self.queue.push_back((i, attempt + 1, now + wait));
            } else {
                let detail = format!(
                    "the registry still answers {} after {attempt} attempts",
                    status_text(r.status)
                );
                self.finish(i, UndoOutcome::Failed, detail);
            }
            return Ok(());
        }
        if ghcr {
            let (outcome, detail) = match r.status {
                200..=204 => (
                    UndoOutcome::Restored,
                    "the package version was restored, with its tags".to_owned(),
                ),
                404 => (
                    UndoOutcome::Failed,
                    "GHCR cannot restore it: deleted more than 30 days ago, or the package name was taken again".to_owned(),
                ),
                _ => (
                    UndoOutcome::Failed,
                    super::ghcr::refused(r, "restoring the version", "write:packages").to_string(),
                ),
            };
            self.finish(i, outcome, detail);
            return Ok(());
        }
        let en = &self.entries[i];
        let what = match en.state {
            State::Tag(n) => format!("the tag {:?}", en.e.tags[n].as_str()),
            _ => "the manifest".to_owned(),
        };
        if !matches!(r.status, 200 | 201) {
            let detail = format!("pushing {what} back failed: {}", status_text(r.status));
            self.finish(i, UndoOutcome::Failed, detail);
            return Ok(());
        }
        // The registry names what it stored: anything but the journalled digest is refused.
        if let Some(claimed) = r.header("docker-content-digest") {
            if Digest::parse(claimed.trim()).as_ref() != Some(&en.e.digest) {
                let detail = format!(
                    "the registry stored {what} as {:?}, not {}; stopped",
                    crate::render::escape_controls(claimed),
                    en.e.digest
                );
                self.finish(i, UndoOutcome::Failed, detail);
                return Ok(());
            }
        }
        let next = match en.state {
            State::Manifest => 0,
            State::Tag(n) => n + 1,
            _ => return Ok(()),
        };
        if next < en.e.tags.len() {
            self.entries[i].state = State::Tag(next);
            self.queue.push_back((i, 1, 0.0));
        } else {
            let detail = if en.e.tags.is_empty() {
                "pushed back by digest".to_owned()
            } else {
                "pushed back by digest, then its tags".to_owned()
            };
            self.finish(i, UndoOutcome::Restored, detail);
        }
        Ok(())
    }

    fn finish(&mut self, i: usize, outcome: UndoOutcome, detail: String) {
        let en = &mut self.entries[i];
        en.state = State::Finished;
        en.outcome = Some((outcome, detail));
        for d in std::mem::take(&mut en.dependents) {
            self.entries[d].pending -= 1;
            if self.entries[d].pending == 0 {
                self.start(d);
            }
        }
    }

    /// When the next delayed request becomes ready, if nothing is ready now.
    pub fn next_wakeup(&self) -> Option<f64> {
        self.queue.iter().map(|(_, _, t)| *t).reduce(f64::min)
    }

    /// True when every entry has an outcome.
    pub fn is_done(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty()
    }

    /// `(finished, total)` entries.
    pub fn progress(&self) -> (usize, usize) {
        let done = self
            .entries
            .iter()
            .filter(|e| e.state == State::Finished)
            .count();
        (done, self.entries.len())
    }

    /// The report (complete once `is_done()`).
    pub fn report(&self) -> UndoReport {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let results: Vec<UndoResult> = self
            .entries
            .iter()
            .map(|en| {
                let (outcome, detail) = en
                    .outcome
                    .clone()
                    .unwrap_or((UndoOutcome::Failed, "not finished".into()));
                let name = match outcome {
                    UndoOutcome::Restored => "restored",
                    UndoOutcome::Failed => "failed",
                    UndoOutcome::NotStarted => "notStarted",
                };
                *counts.entry(name.into()).or_default() += 1;
                UndoResult {
                    line: en.line,
                    repository: en.e.repository.to_string(),
                    digest: en.e.digest.clone(),
                    tags: en.e.tags.clone(),
                    outcome,
                    detail,
                }
            })
            .collect();
        if !self.skipped.is_empty() {
            counts.insert("skippedLines".into(), self.skipped.len() as u64);
        }
        let complete = self.skipped.iter().all(|s| s.torn)
            && results.iter().all(|r| r.outcome == UndoOutcome::Restored);
        UndoReport {
            complete,
            run: self.run.clone(),
            plan: self
                .runs
                .iter()
                .find(|r| r.run == self.run)
                .and_then(|r| r.plan.clone()),
            runs: self.runs.clone(),
            results,
            skipped_lines: self.skipped.clone(),
            counts,
        }
    }
}

/// The journal's usable lines (number, entry) and the skipped ones with why.
fn read_lines(journal: &[u8]) -> (Vec<(usize, JournalEntry)>, Vec<SkippedLine>) {
    let mut lines = Vec::new();
    let mut skipped = Vec::new();
    let parts: Vec<&[u8]> = journal.split(|&b| b == b'\n').collect();
    let last = parts.len();
    for (n, raw) in parts.into_iter().enumerate() {
        let line = n + 1;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry = match serde_json::from_slice::<JournalEntry>(raw) {
            Ok(e) => e,
            // How a deletion ended: for people and audits; undo restores from the entries.
            Err(_) if serde_json::from_slice::<super::JournalOutcome>(raw).is_ok() => continue,
            Err(e) => {
                // Every line execute writes ends with a newline: one that does not was cut off.
                let torn = line == last;
                let reason = if torn {
                    "the last line is torn (cut off by a crash or a full disk before its deletion was sent); skipped".to_owned()
                } else {
                    format!("the line is not a journal entry: {e}")
                };
                skipped.push(SkippedLine { line, reason, torn });
                continue;
            }
        };
        if entry.digest.recompute(entry.manifest.as_bytes()).as_ref() != Some(&entry.digest) {
            skipped.push(SkippedLine {
                line,
                reason: format!(
                    "its manifest bytes do not hash to {}; refusing to push them under that digest or its tags",
                    entry.digest
                ),
                torn: false,
            });
            continue;
        }
        lines.push((line, entry));
    }
    (lines, skipped)
}

/// The run's entries, newest first (the reverse of the order they were deleted in), each with
/// the entries it must wait for: in the same repository, the manifests an index lists and the
/// subject a referrer points at.
fn order(mine: Vec<(usize, JournalEntry)>) -> Vec<Entry> {
    #[derive(Deserialize)]
    struct Links {
        #[serde(default)]
        manifests: Vec<Child>,
        subject: Option<Child>,
    }
    #[derive(Deserialize)]
    struct Child {
        digest: Digest,
    }
    let entries: Vec<(usize, JournalEntry)> = mine.into_iter().rev().collect();
    let mut at: Map<(String, Digest), usize> = Map::default();
    for (i, (_, e)) in entries.iter().enumerate() {
        at.entry((e.repository.to_string(), e.digest.clone()))
            .or_insert(i);
    }
    let mut out: Vec<Entry> = Vec::with_capacity(entries.len());
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for (i, (line, e)) in entries.into_iter().enumerate() {
        if let Ok(l) = serde_json::from_str::<Links>(&e.manifest) {
            for c in l.manifests.into_iter().chain(l.subject) {
                if let Some(&j) = at.get(&(e.repository.to_string(), c.digest)) {
                    if j != i {
                        edges.push((j, i));
                    }
                }
            }
        }
        out.push(Entry {
            line,
            e,
            pending: 0,
            dependents: Vec::new(),
            state: State::Waiting,
            outcome: None,
        });
    }
    for (first, then) in edges {
        out[first].dependents.push(then);
        out[then].pending += 1;
    }
    out
}
