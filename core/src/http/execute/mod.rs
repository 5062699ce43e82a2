//! Carrying out exactly a reviewed plan against a registry (OCI Distribution, or ACR), failing
//! closed: every doubt skips a deletion and says why.
//!
//! Before anything is deleted, each repository's tags are listed and resolved again
//! (`recheck`), so drift is seen: a planned tag that moved, or a new tag on a planned manifest,
//! skips that action (deleting a manifest deletes every tag on it, and nothing the plan does
//! not name may go). An answer to the re-check other than the expected ones makes the
//! repository unverifiable: its deletions are skipped, never run as if a tag were absent.
//! Within a repository the plan's phases run in order (untags, referrers, indexes, the rest),
//! and a manifest an index lists goes only after that index went (`schedule`). Each deletion
//! first journals the manifest's bytes (handed over with [`Execute::known_manifest`], or
//! fetched), which the adapter writes durably before sending the `DELETE` (`delete`), so
//! `undo` can push the image back. 404 means already gone (verified when it answers a
//! repeated `DELETE`), 405 unsupported, 429 and 5xx are retried with backoff and
//! `Retry-After`; one failure never stops the others.
//!
//! On ACR each repository is re-listed through `/acr/v1` just before its deletions: its
//! manifests with their tags and locks, and, where the plan untags, its tags with their locks;
//! the listing answers each target's drift check, and a target it says nothing about is
//! checked with its own `GET` (`acr`). Untags use ACR's tag deletion, and locked items of an
//! `--include-locked` plan are unlocked with `PATCH` first. Each manifest is fetched for the
//! journal at most once per run (handed-over bytes first).

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::{
    backoff, next_link, retryable, status_text, Flavour, Method, Request, Response, MANIFEST_ACCEPT,
};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::hash::{Map, Set};
use crate::names::{RepositoryName, TagName};
use crate::plan::{Action, ActionType, Plan, ReasonCode};

mod acr;
mod delete;
mod ghcr;
mod recheck;
mod schedule;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The digest of the two bytes `{}` (image-spec's empty descriptor).
const EMPTY_BLOB: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// How to execute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecuteOptions {
    /// The registry's `host[:port]`, to keep pagination on this host.
    pub registry: String,
    /// Attempts per request before the action is reported failed.
    #[serde(default = "attempts")]
    pub max_attempts: u32,
    /// The registry's API, or `auto` to detect it.
    #[serde(default)]
    pub flavour: Flavour,
    /// Pages one listing may take before the re-check is given up as endless (its
    /// repository's deletions are then skipped).
    #[serde(default = "max_pages")]
    pub max_pages: u32,
    /// Run the plan although it was made for another registry (`plan.registry`): without it a
    /// plan sealed for one registry is refused by another, a mirror or production. The
    /// report's `retargeted` says it happened.
    #[serde(default)]
    pub retarget: bool,
    /// Names this execution in its journal lines, so that `undo` takes back this run and not
    /// an earlier one that shares the journal file. The adapters make one per run (time and
    /// randomness are theirs).
    #[serde(default)]
    pub run_id: Option<String>,
    /// GHCR: the GitHub REST API's base URL (`https://api.github.com` for ghcr.io).
    #[serde(default)]
    pub github_api: Option<String>,
    /// GHCR: version deletions sent per minute at most (GitHub's secondary limit allows 900
    /// points a minute per endpoint, a `DELETE` costing 5).
    #[serde(default = "writes_per_minute")]
    pub writes_per_minute: u32,
    /// Docker Hub: its API's base URL (`https://hub.docker.com`), where tags are deleted.
    #[serde(default)]
    pub hub_api: Option<String>,
    /// The wall-clock time at `now == 0` (the adapter's clock: the core has none), so that
    /// journal lines say when each deletion was attempted and when it ended.
    #[serde(default)]
    pub started_at: Option<crate::Timestamp>,
}

fn writes_per_minute() -> u32 {
    180
}

fn attempts() -> u32 {
    6
}

fn max_pages() -> u32 {
    10_000
}

/// What happened to one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OutcomeKind {
    /// Deleted.
    Done,
    /// It was not there any more.
    AlreadyGone,
    /// Not attempted, because the registry changed since the plan (drift) or a step it
    /// depends on did not succeed.
    Skipped,
    /// The registry refused or kept failing.
    Failed,
    /// The registry cannot do it (deletes disabled, no tag deletion).
    Unsupported,
    /// Not sent: the run was interrupted (`Execute::cancel`) before its turn.
    NotStarted,
}

/// The outcome of one action (a `deleteRepository` reports one outcome per manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Index of the action in the plan.
    pub action: usize,
    /// The repository.
    pub repository: RepositoryName,
    /// `repo@digest` or `repo:tag`.
    pub target: String,
    /// What happened.
    pub outcome: OutcomeKind,
    /// Why, in plain words.
    pub detail: String,
    /// Requests repeated for this action.
    pub retries: u32,
}

#[derive(Deserialize)]
struct TagList {
    tags: Option<Vec<TagName>>,
}

/// The result of an execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The digest of the plan that was executed.
    pub plan: Option<Digest>,
    /// One entry per deletion, in plan order.
    pub outcomes: Vec<Outcome>,
    /// Counts per outcome.
    pub counts: BTreeMap<String, u64>,
    /// The registry the plan was made for, when it was run against another one
    /// (`ExecuteOptions::retarget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retargeted: Option<String>,
    /// The run was interrupted (`Execute::cancel`): what had not started is `notStarted`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub interrupted: bool,
    /// Every action is done or already gone.
    pub complete: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

/// One deletion to carry out.
#[derive(Debug, Clone)]
struct Step {
    action: usize,
    kind: ActionType,
    phase: u8,
    repo: RepositoryName,
    digest: Option<Digest>,
    tag: Option<TagName>,
    /// Tags the plan says go with it (a repository deletion's are its repository's
    /// `whole_tags`); on ACR, once re-checked, the tags it has now.
    tags: Vec<TagName>,
    whole_repository: bool,
    /// The deleted index or subject this step depends on.
    after: Option<Digest>,
    state: StepState,
    retries: u32,
    media_type: Option<String>,
    /// Lift a lock first (ACR `PATCH`), as an `--include-locked` plan says.
    unlock: bool,
    /// Distribution untag: the placeholder manifest the tag was moved to, to delete.
    placeholder: Option<Digest>,
    /// Its journal entry was handed out and its outcome line is not yet.
    journal_open: bool,
    /// The tags journalled with it: a `DELETE` answered 404 after a retry is verified
    /// against them (the first attempt may have been cut off half done).
    journalled: Vec<TagName>,
    /// Repairs of an interrupted untag (its placeholder pushed again and deleted).
    repairs: u8,
    /// Pages of the tag list read to verify it.
    verify_pages: Set<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum StepState {
    Waiting,
    /// Checked, and waiting for an index that lists it to be deleted: off its phase's gate,
    /// so that a later phase holding that index can run.
    Parked,
    Fetching,
    Deleting,
    Finished(OutcomeKind, String),
}

#[derive(Debug, Clone)]
enum Job {
    Detect,
    /// Distribution untag, step 1: start an upload of the empty JSON blob `{}`.
    UploadStart(usize),
    /// Step 2: finish it at the upload location.
    UploadPut(usize, String),
    /// Step 3: point the tag at a placeholder manifest.
    Placeholder(usize),
    AcrCheck(usize),
    Unlock(usize),
    /// OCI: a tagged index, fetched to see whether it lists a manifest the plan deletes.
    IndexCheck(RepositoryName, Digest),
    /// ACR: a page of the repository's manifests, with each index's children.
    AcrManifests(RepositoryName, String),
    /// ACR: a page of the repository's tags with their locks (listed when the plan untags
    /// there: a tag's own lock is in no manifest listing).
    AcrTags(RepositoryName, String),
    Tags(RepositoryName, String),
    HeadTag(RepositoryName, TagName),
    Fetch(usize),
    Delete(usize),
    /// A `DELETE` answered 404 after a retry: a page of the repository's tag list, to see
    /// whether the step's tags went with it (the first attempt may have been cut off).
    Verify(usize, String),
    /// Repair of an interrupted untag: the placeholder pushed again by digest.
    Repush(usize),
    /// GHCR: `GET /users/{owner}` (a user or an organisation?).
    GhOwner(String),
    /// GHCR: `GET /user` (is the owner the token's own user?).
    GhUser(String),
    /// GHCR: a page of a package's versions (the re-listing: each version's id and tags).
    GhVersions(RepositoryName, u32),
    /// GHCR untag: a page of the package's versions, looking for the placeholder's version.
    GhFind(usize, u32),
    /// Docker Hub: delete the step's `i`-th journalled tag through Hub's API.
    HubUntag(usize, usize),
}

impl Job {
    /// The step a job works for (`None` for the detection and the re-listings).
    fn step(&self) -> Option<usize> {
        match self {
            Job::UploadStart(s)
            | Job::UploadPut(s, _)
            | Job::Placeholder(s)
            | Job::AcrCheck(s)
            | Job::Unlock(s)
            | Job::Fetch(s)
            | Job::Delete(s)
            | Job::Verify(s, _)
            | Job::Repush(s)
            | Job::GhFind(s, _)
            | Job::HubUntag(s, _) => Some(*s),
            Job::Detect
            | Job::IndexCheck(..)
            | Job::AcrManifests(..)
            | Job::AcrTags(..)
            | Job::Tags(..)
            | Job::HeadTag(..)
            | Job::GhOwner(_)
            | Job::GhUser(_)
            | Job::GhVersions(..) => None,
        }
    }
}

/// What the checks before a step say.
enum Check {
    /// It may run.
    Ready,
    /// It waits for this manifest's deletion (an index that lists it) to end.
    Wait(Digest),
    /// It ends here.
    End(OutcomeKind, String),
}

#[derive(Default)]
#[allow(clippy::struct_excessive_bools)] // independent facts about one repository's progress
struct RepoState {
    /// Its re-listing was sent (OCI lists a repository only shortly before its deletions).
    started: bool,
    listed: bool,
    pending_heads: usize,
    /// Each listed tag and the manifest it points at now (`None` until its `HEAD` answers,
    /// or when it answered with no manifest). Written only through [`RepoState::point`].
    current: BTreeMap<TagName, Option<Digest>>,
    /// The same, by manifest: the tags pointing at each, in order. A step's drift check and
    /// journal entry read its manifest's tags here instead of walking every tag of the
    /// repository (which made a repository's deletions quadratic in its tags).
    tags_at: Map<Digest, std::collections::BTreeSet<TagName>>,
    /// Indexes whose children were checked (or are being checked): tagged ones, and those
    /// the plan deletes.
    indexes: std::collections::BTreeSet<Digest>,
    /// Manifests listed by an index that is tagged now or that the plan deletes, with those
    /// indexes: such a manifest goes only after every one of them was deleted.
    listed_by: BTreeMap<Digest, Vec<Digest>>,
    /// Why the repository could not be re-checked; its steps are skipped, never run blind.
    unknown: Option<String>,
    /// Pages of its re-listing asked for: a repeated one is a loop.
    pages: Set<String>,
    /// Steps whose awaited index ended: to check again.
    deferred: Vec<usize>,
    /// Steps waiting for the deletion of an index that lists them, by that index.
    waiting_on: Map<Digest, Vec<usize>>,
    /// Every tag of the repository when a `deleteRepository` of it was planned: its
    /// manifests may carry only these.
    whole_tags: Set<TagName>,
    /// The Distribution untag under way: they run one at a time per repository, because the
    /// registry answers a placeholder's `DELETE` with a 500 while another `PUT` rewrites a tag
    /// link of the same repository.
    untag_running: Option<usize>,
    /// Untags checked and waiting for their turn.
    untags_waiting: VecDeque<usize>,
    /// The empty blob `{}` is in the repository (an earlier untag uploaded it).
    empty_blob: bool,
    /// Its steps, by phase (then plan order).
    steps: Vec<usize>,
    /// Its steps by digest.
    by_digest: Map<Digest, Vec<usize>>,
    /// GHCR: the package version holding each manifest, from the re-listing.
    version_ids: Map<Digest, u64>,
    /// ACR: each listed manifest's attributes (`None`: the listing did not say, and the
    /// manifest is then re-checked on its own).
    acr_manifests: Map<Digest, Option<crate::snapshot::ChangeableAttributes>>,
    /// ACR: each listed tag's attributes, when the repository's tags were listed.
    acr_tags: Map<TagName, Option<crate::snapshot::ChangeableAttributes>>,
    /// Steps not finished.
    open: usize,
    /// `steps[..first_open]` are finished: the lowest phase with work left is `first_open`'s.
    first_open: usize,
    /// `steps[..next]` have left `Waiting` (or were looked at when their phase came).
    next: usize,
    /// Queued in `touched`, to be scheduled again.
    touched: bool,
}

impl RepoState {
    /// Records that `tag` points at `digest` now (`None`: at nothing known).
    fn point(&mut self, tag: &TagName, digest: Option<&Digest>) {
        if let Some(d) = digest {
            self.tags_at
                .entry(d.clone())
                .or_default()
                .insert(tag.clone());
        }
        let before = self.current.insert(tag.clone(), digest.cloned());
        if let Some(old) = before.flatten().filter(|old| Some(old) != digest) {
            if let Some(tags) = self.tags_at.get_mut(&old) {
                tags.remove(tag);
            }
        }
    }

    /// The tags pointing at `digest` now, in order.
    fn tags_at(&self, digest: &Digest) -> impl Iterator<Item = &TagName> {
        self.tags_at.get(digest).into_iter().flatten()
    }
}

/// A journal line: what a deletion removes, recorded before the `DELETE` is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// The plan being executed.
    pub plan: Option<Digest>,
    /// The execution that wrote it (`ExecuteOptions::run_id`): undo takes back one run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The registry it was deleted from (`host[:port]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The repository.
    pub repository: RepositoryName,
    /// The manifest.
    pub digest: Digest,
    /// Its media type (for the `Content-Type` of a re-push).
    pub media_type: String,
    /// The manifest's exact bytes (manifests are JSON, hence UTF-8).
    pub manifest: String,
    /// The tags pointing at it when it was deleted.
    pub tags: Vec<TagName>,
    /// GHCR: the package version's REST URL, which `undo` restores (`POST …/restore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When the deletion was attempted (written just before its request was handed out),
    /// when the adapter gave the run's start time (`ExecuteOptions::started_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempted: Option<crate::Timestamp>,
}

/// Journal lines to write, from [`Execute::take_journal_lines`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JournalLines {
    /// The lines (JSON text), in the order to write them.
    pub lines: Vec<String>,
    /// Whether they must be on disk before the requests handed out so far are sent (an
    /// entry is among them).
    pub sync: bool,
}

/// A journal line written after a journalled deletion ended: how it ended, and when. `undo`
/// reads entries, not these; they are for people and audits (`jq 'select(.outcome)'`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalOutcome {
    /// The execution that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The repository.
    pub repository: RepositoryName,
    /// The manifest of the entry it ends.
    pub digest: Digest,
    /// How it ended.
    pub outcome: OutcomeKind,
    /// Why, in plain words.
    pub detail: String,
    /// When it ended (with `ExecuteOptions::started_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<crate::Timestamp>,
}

/// An execution in progress.
pub struct Execute {
    opts: ExecuteOptions,
    plan_digest: Option<Digest>,
    steps: Vec<Step>,
    repos: BTreeMap<RepositoryName, RepoState>,
    /// Repositories in plan order.
    order: Vec<RepositoryName>,
    /// Something changed since the last `schedule`.
    dirty: bool,
    queue: VecDeque<(Job, u32, f64)>,
    in_flight: Map<u64, (Job, u32)>,
    next_id: u64,
    journal: Vec<JournalEntry>,
    /// How journalled deletions ended, for the journal.
    ended: Vec<JournalOutcome>,
    /// The adapter's `now` at the last call (seconds since the run began).
    clock: f64,
    flavour: Flavour,
    /// Manifest bytes handed over by the adapter, checked against their digests, with their
    /// media types: these steps need no fetch.
    known: Map<Digest, (Option<String>, Vec<u8>)>,
    /// Every manifest the plan deletes.
    deletes: Set<Digest>,
    /// Manifests being fetched for a journal, with the other steps waiting for the same bytes:
    /// each manifest is fetched at most once per run (an untag and the deletion of its
    /// manifest, or one manifest in several repositories, share one `GET`).
    fetching: Map<Digest, Vec<usize>>,
    /// Manifests already named by [`Execute::wanted_manifests`].
    offered: Set<Digest>,
    /// Repositories whose steps may be ready: only these are looked at by `schedule`, so
    /// each response costs about the work it unblocks, not a pass over the plan.
    touched: Vec<RepositoryName>,
    /// Steps finished.
    finished: usize,
    /// Unfinished steps of the repositories whose re-listing started.
    open_started: usize,
    /// `order[..next_unstarted]` have started.
    next_unstarted: usize,
    /// The plan's own registry, when it runs against another one.
    retargeted: Option<String>,
    /// Each repository a `deleteRepository` deletes, with its tags, until `begin` hands
    /// them to the repository's state.
    whole_tags: BTreeMap<RepositoryName, Set<TagName>>,
    /// `cancel` was called: nothing more is sent.
    cancelled: bool,
    /// GHCR: owners' REST paths and the deletions sent in the last minute.
    gh: ghcr::GhExec,
}

/// A registry's `host[:port]`, whether written as a URL or bare, lowercased: what a plan's
/// registry and the one it is executed against are compared by.
pub(crate) fn registry_key(text: &str) -> String {
    let t = text.trim();
    let t = t
        .split_once("://")
        .map_or(t, |(_, rest)| rest)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let t = t.rsplit_once('@').map_or(t, |(_, host)| host);
    t.to_ascii_lowercase()
}

/// Checks that the plan was made for the registry it is about to run against; `Ok(Some)` names
/// the plan's registry when the caller retargets it on purpose.
fn bound_registry(planned: Option<&str>, opts: &ExecuteOptions) -> Result<Option<String>> {
    let target = registry_key(&opts.registry);
    let same = planned.is_some_and(|p| registry_key(p) == target);
    if same {
        return Ok(None);
    }
    if opts.retarget {
        return Ok(Some(planned.unwrap_or("(none recorded)").to_owned()));
    }
    let message = match planned {
        Some(p) => format!(
            "the plan was made for the registry {:?}, not {:?}; refusing to run it here (retarget it on purpose to run it anyway)",
            crate::render::escape_controls(p),
            crate::render::escape_controls(&opts.registry)
        ),
        None => format!(
            "the plan does not say which registry it was made for (a snapshot without a registry name); refusing to run it against {:?} unless it is retargeted on purpose",
            crate::render::escape_controls(&opts.registry)
        ),
    };
    Err(Error::InvalidOperation {
        path: "plan.registry".into(),
        message,
    })
}

/// The order steps run in within a repository: untags, referrers, indexes and other
/// manifests, the children of deleted indexes, whole repositories.
fn phase(a: &Action) -> u8 {
    match (a.kind, a.reason.code) {
        (ActionType::Untag, _) => 0,
        (_, ReasonCode::ReferrerOfDeletedSubject) => 1,
        (_, ReasonCode::ChildOfDeletedIndex) => 3,
        (ActionType::DeleteRepository, _) => 4,
        _ => 2,
    }
}

impl Execute {
    /// Prepares to execute `plan`, which must carry a digest that matches its content:
    /// exactly the reviewed plan runs, or nothing does.
    pub fn new(plan: &Plan, opts: ExecuteOptions) -> Result<Execute> {
        if !plan.verify() {
            return Err(Error::InvalidOperation {
                path: "plan.digest".into(),
                message: "the plan's digest does not match its content: it was edited after review, or never sealed; plan again".into(),
            });
        }
        let retargeted = bound_registry(plan.registry.as_deref(), &opts)?;
        let mut whole_tags: BTreeMap<RepositoryName, Set<TagName>> = BTreeMap::new();
        let mut steps = Vec::new();
        for (i, a) in plan.actions.iter().enumerate() {
            let base = Step {
                action: i,
                kind: a.kind,
                phase: phase(a),
                repo: a.repository.clone(),
                digest: a.digest.clone(),
                tag: a.tag.clone(),
                tags: a.tags.clone(),
                whole_repository: false,
                after: a
                    .cascade_of
                    .clone()
                    .filter(|_| a.reason.code == ReasonCode::ChildOfDeletedIndex),
                state: StepState::Waiting,
                retries: 0,
                media_type: a.media_type.as_ref().map(|m| m.as_str().to_owned()),
                unlock: a.unlock,
                placeholder: None,
                journalled: Vec::new(),
                journal_open: false,
                repairs: 0,
                verify_pages: Set::default(),
            };
            match a.kind {
                ActionType::DeleteRepository => {
                    // The repository's tags are held once, not copied into each manifest's step.
                    whole_tags
                        .entry(a.repository.clone())
                        .or_default()
                        .extend(a.tags.iter().cloned());
                    for d in &a.manifests {
                        steps.push(Step {
                            digest: Some(d.clone()),
                            whole_repository: true,
                            tags: Vec::new(),
                            ..base.clone()
                        });
                    }
                }
                _ => steps.push(base),
            }
        }
        let deletes = steps.iter().filter_map(|s| s.digest.clone()).collect();
        let mut ex = Execute {
            opts,
            plan_digest: plan.digest.clone(),
            steps,
            repos: BTreeMap::new(),
            order: Vec::new(),
            dirty: true,
            queue: VecDeque::new(),
            in_flight: Map::default(),
            next_id: 1,
            journal: Vec::new(),
            ended: Vec::new(),
            clock: 0.0,
            flavour: Flavour::Auto,
            known: Map::default(),
            deletes,
            fetching: Map::default(),
            offered: Set::default(),
            touched: Vec::new(),
            finished: 0,
            open_started: 0,
            next_unstarted: 0,
            retargeted,
            whole_tags: BTreeMap::new(),
            cancelled: false,
            gh: ghcr::GhExec::default(),
        };
        ex.whole_tags = whole_tags;
        ex.flavour = ex.opts.flavour;
        if ex.flavour == Flavour::Auto && registry_key(&ex.opts.registry) == "ghcr.io" {
            ex.flavour = Flavour::Ghcr;
        }
        if ex.flavour == Flavour::Auto && crate::http::hub::is_hub(&registry_key(&ex.opts.registry))
        {
            ex.flavour = Flavour::DockerHub;
        }
        if ex.flavour == Flavour::Auto {
            ex.queue.push_back((Job::Detect, 1, 0.0));
        } else {
            ex.begin();
        }
        Ok(ex)
    }

    /// Starts once the flavour is known: each repository is re-listed (OCI its tags, ACR its
    /// manifests and tags, GHCR its versions) shortly before its deletions.
    ///
    /// On OCI the re-listing is the only drift check (the API has no conditional delete), so
    /// it happens as late as it can: a repository is listed when the repositories before it
    /// have at most `LOOKAHEAD` deletions left, and a change another client makes meanwhile
    /// to a repository not reached yet is seen and skipped.
    fn begin(&mut self) {
        for (i, step) in self.steps.iter().enumerate() {
            if !self.repos.contains_key(&step.repo) {
                let whole_tags = self.whole_tags.remove(&step.repo).unwrap_or_default();
                let rs = RepoState {
                    whole_tags,
                    ..RepoState::default()
                };
                self.repos.insert(step.repo.clone(), rs);
                self.order.push(step.repo.clone());
            }
            let Some(rs) = self.repos.get_mut(&step.repo) else {
                continue;
            };
            rs.steps.push(i);
            if let Some(d) = &step.digest {
                rs.by_digest.entry(d.clone()).or_default().push(i);
            }
            if !matches!(step.state, StepState::Finished(..)) {
                rs.open += 1;
            }
        }
        for rs in self.repos.values_mut() {
            let steps = &self.steps;
            rs.steps.sort_by_key(|&i| (steps[i].phase, i));
        }
        if self.flavour == Flavour::Ghcr {
            self.ghcr_begin();
        }
        self.list_ahead();
    }

    /// Marks a repository's re-listing as sent.
    fn start(&mut self, repo: &RepositoryName) {
        if let Some(rs) = self.repos.get_mut(repo) {
            if !rs.started {
                rs.started = true;
                self.open_started += rs.open;
            }
        }
        while self
            .order
            .get(self.next_unstarted)
            .is_some_and(|r| self.repos.get(r).is_some_and(|rs| rs.started))
        {
            self.next_unstarted += 1;
        }
    }

    /// The repository's steps may be ready to run: `schedule` looks at it again.
    fn touch(&mut self, repo: &RepositoryName) {
        self.dirty = true;
        if let Some(rs) = self.repos.get_mut(repo) {
            if !rs.touched {
                rs.touched = true;
                self.touched.push(repo.clone());
            }
        }
    }

    /// The adapter's wall clock now, to the millisecond, when it gave the run's start time.
    fn wall_clock(&self) -> Option<crate::Timestamp> {
        let millis = (self.clock.max(0.0) * 1000.0).round() as i128;
        self.opts
            .started_at
            .map(|t| t.minus_nanos(-(millis * 1_000_000)))
    }

    /// Ends step `s` with an outcome (once: a finished step stays finished).
    fn end(&mut self, s: usize, kind: OutcomeKind, detail: String) {
        if matches!(self.steps[s].state, StepState::Finished(..)) {
            return;
        }
        if self.steps[s].journal_open {
            self.steps[s].journal_open = false;
            if let Some(digest) = self.steps[s].digest.clone() {
                self.ended.push(JournalOutcome {
                    run: self.opts.run_id.clone(),
                    repository: self.steps[s].repo.clone(),
                    digest,
                    outcome: kind,
                    detail: detail.clone(),
                    ended: self.wall_clock(),
                });
            }
        }
        self.steps[s].state = StepState::Finished(kind, detail);
        self.finished += 1;
        let step = &self.steps[s];
        let repo = step.repo.clone();
        let gone = matches!(kind, OutcomeKind::Done | OutcomeKind::AlreadyGone);
        if let Some(rs) = self.repos.get_mut(&repo) {
            rs.open -= 1;
            if rs.started {
                self.open_started -= 1;
            }
            if rs.untag_running == Some(s) {
                rs.untag_running = None;
            }
            if step.kind == ActionType::Untag {
                // The plan's own untag is not drift for the manifest it leaves behind.
                if let (true, Some(tag)) = (gone, &step.tag) {
                    rs.point(tag, None);
                }
            } else if let Some(waiting) = step.digest.as_ref().and_then(|d| rs.waiting_on.remove(d))
            {
                rs.deferred.extend(waiting);
            }
        }
        self.touch(&repo);
    }

    /// The repository cannot be re-checked (`why`): every step of it not yet under way is
    /// skipped, never run on a guess.
    #[inline(never)]
    fn unverifiable(&mut self, repo: &RepositoryName, why: &str) {
        let rs = self.repos.entry(repo.clone()).or_default();
        if rs.unknown.is_some() {
            return;
        }
        rs.unknown = Some(why.to_owned());
        rs.listed = true;
        rs.pending_heads = 0;
        let steps = rs.steps.clone();
        for s in steps {
            if matches!(self.steps[s].state, StepState::Waiting | StepState::Parked) {
                let detail = format!("not deleted: the repository could not be re-checked ({why})");
                self.end(s, OutcomeKind::Skipped, detail);
            }
        }
    }

    /// Starts the re-listing of the next repositories (OCI) while few deletions are left in
    /// the ones already started.
    fn list_ahead(&mut self) {
        const LOOKAHEAD: usize = 8;
        if self.flavour == Flavour::Ghcr && !self.gh.ready() {
            return; // the owners' REST paths come first
        }
        while let Some(next) = self.order.get(self.next_unstarted).cloned() {
            if self.open_started > LOOKAHEAD {
                return;
            }
            self.start(&next);
            let job = match self.flavour {
                Flavour::Ghcr => Job::GhVersions(next.clone(), 1),
                // ACR lists every manifest with its tags, locks and (on ACR itself) the
                // children of each index: the listing answers the drift checks of every
                // manifest it names, and whether an index that stays now lists one.
                Flavour::Acr => {
                    self.acr_list_tags(&next);
                    Job::AcrManifests(next.clone(), format!("/acr/v1/{next}/_manifests?n=100"))
                }
                _ => Job::Tags(next.clone(), format!("/v2/{next}/tags/list")),
            };
            self.queue.push_back((job, 1, 0.0));
        }
    }

    /// The next request to send at `now`. A request that deletes carries its journal entry
    /// in `take_journal_lines()`: write it durably before sending the request.
    pub fn next_request(&mut self, now: f64) -> Option<Request> {
        self.clock = now;
        if self.cancelled {
            return None;
        }
        self.schedule();
        let (job, attempt) = loop {
            let i = self.queue.iter().position(|(_, _, t)| *t <= now)?;
            let (job, attempt, t) = self.queue.remove(i)?;
            // GHCR: no more version deletions a minute than GitHub's secondary limit allows.
            if let (Job::Delete(_), Flavour::Ghcr) = (&job, self.flavour) {
                if let Some(at) = self.gh.write_slot(now, self.opts.writes_per_minute) {
                    self.queue.push_back((job, attempt, at.max(t)));
                    continue;
                }
            }
            break (job, attempt);
        };
        let id = self.next_id;
        self.next_id += 1;
        let req = self.request(id, &job);
        self.in_flight.insert(id, (job, attempt));
        Some(req)
    }

    fn request(&self, id: u64, job: &Job) -> Request {
        let accept = || vec![("Accept".to_owned(), MANIFEST_ACCEPT.to_owned())];
        let step = |s: usize| &self.steps[s];
        let (digest, tag) = (|s| self.step_digest(s), |s| self.step_tag(s));
        let acr_item = |s: usize| {
            let st = step(s);
            if st.kind == ActionType::Untag {
                format!("/acr/v1/{}/_tags/{}", st.repo, tag(s))
            } else {
                format!("/acr/v1/{}/_manifests/{}", st.repo, digest(s))
            }
        };
        let pull = |r: &RepositoryName| format!("repository:{r}:pull");
        let delete = |r: &RepositoryName| format!("repository:{r}:pull,delete");
        match job {
            Job::Detect => Request::get(
                id,
                "/acr/v1/_catalog?n=1".into(),
                Vec::new(),
                "registry:catalog:*".into(),
            ),
            Job::Tags(r, p) | Job::AcrManifests(r, p) | Job::AcrTags(r, p) => {
                Request::get(id, p.clone(), Vec::new(), pull(r))
            }
            Job::IndexCheck(r, d) => {
                Request::get(id, format!("/v2/{r}/manifests/{d}"), accept(), pull(r))
            }
            Job::HeadTag(r, t) => Request {
                method: Method::Head,
                ..Request::get(id, format!("/v2/{r}/manifests/{t}"), accept(), pull(r))
            },
            Job::AcrCheck(s) => Request::get(id, acr_item(*s), Vec::new(), pull(&step(*s).repo)),
            Job::Unlock(s) => Request {
                method: Method::Patch,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: Some(r#"{"deleteEnabled":true,"writeEnabled":true}"#.into()),
                ..Request::get(
                    id,
                    acr_item(*s),
                    Vec::new(),
                    format!("repository:{}:pull,metadata_write", step(*s).repo),
                )
            },
            Job::UploadStart(_) | Job::UploadPut(..) | Job::Placeholder(_) | Job::Repush(_) => {
                self.untag_request(id, job)
            }
            Job::Fetch(s) => Request::get(
                id,
                format!("/v2/{}/manifests/{}", step(*s).repo, digest(*s)),
                accept(),
                pull(&step(*s).repo),
            ),
            Job::Verify(s, path) => {
                Request::get(id, path.clone(), Vec::new(), pull(&step(*s).repo))
            }
            Job::GhOwner(_) | Job::GhUser(_) | Job::GhVersions(..) | Job::GhFind(..) => {
                self.gh_request(id, job)
            }
            Job::Delete(s) if self.flavour == Flavour::Ghcr => self.gh_request(id, job),
            Job::HubUntag(s, i) => self.hub_untag_request(id, *s, *i),
            Job::Delete(s) => {
                let st = step(*s);
                let path = match (&st.placeholder, st.kind) {
                    (Some(p), _) => format!("/v2/{}/manifests/{p}", st.repo),
                    (None, ActionType::Untag) => format!("/acr/v1/{}/_tags/{}", st.repo, tag(*s)),
                    _ => format!("/v2/{}/manifests/{}", st.repo, digest(*s)),
                };
                Request {
                    method: Method::Delete,
                    ..Request::get(id, path, Vec::new(), delete(&st.repo))
                }
            }
        }
    }

    /// The digest of step `s`, as text.
    fn step_digest(&self, s: usize) -> String {
        self.steps[s]
            .digest
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// The tag of step `s`, as text.
    fn step_tag(&self, s: usize) -> String {
        self.steps[s]
            .tag
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// When the next delayed request becomes ready, if nothing is ready now.
    pub fn next_wakeup(&self) -> Option<f64> {
        self.queue.iter().map(|(_, _, t)| *t).reduce(f64::min)
    }

    /// True when every action has an outcome.
    pub fn is_done(&mut self) -> bool {
        if self.cancelled {
            return self.in_flight.is_empty();
        }
        self.schedule();
        self.queue.is_empty() && self.in_flight.is_empty()
    }

    /// Stops the run (Ctrl-C): nothing more is sent; the requests in flight are answered and
    /// handled as usual (a `DELETE` already sent is reported with what the registry said), and
    /// every action that had not started is reported `notStarted`. The run is then done as soon
    /// as nothing is in flight.
    pub fn cancel(&mut self) {
        self.cancelled = true;
        self.queue.clear();
    }

    /// Feeds the response to request `id`, received at `now`.
    pub fn handle_response(&mut self, id: u64, r: &Response, now: f64) -> Result<()> {
        self.dirty = true;
        self.clock = now;
        let Some((job, attempt)) = self.in_flight.remove(&id) else {
            return Err(Error::InvalidOperation {
                path: "response".into(),
                message: format!("no request {id} is waiting for a response"),
            });
        };
        let repo = match (&job, job.step()) {
            (_, Some(s)) => Some(self.steps[s].repo.clone()),
            (
                Job::Tags(r, _)
                | Job::HeadTag(r, _)
                | Job::IndexCheck(r, _)
                | Job::AcrManifests(r, _)
                | Job::AcrTags(r, _)
                | Job::GhVersions(r, _),
                None,
            ) => Some(r.clone()),
            _ => None,
        };
        self.handle(job, attempt, r, now);
        match repo {
            Some(repo) => self.touch(&repo),
            None => {
                for repo in self.order.clone() {
                    self.touch(&repo);
                }
            }
        }
        Ok(())
    }

    fn handle(&mut self, job: Job, attempt: u32, r: &Response, now: f64) {
        if let (Job::Delete(s), Flavour::DockerHub, 500) = (&job, self.flavour, r.status) {
            // Docker Hub: a 500 on a manifest DELETE may go on in the background; a retry
            // must not be sent blind.
            let detail = "Docker Hub answered HTTP 500: it may still delete it in the background; check before running again".into();
            return self.end(*s, OutcomeKind::Failed, detail);
        }
        let api = matches!(
            job,
            Job::GhOwner(_) | Job::GhUser(_) | Job::GhVersions(..) | Job::GhFind(..)
        ) || (self.flavour == Flavour::Ghcr && matches!(job, Job::Delete(_)));
        if let Some(wait) = api.then(|| crate::http::ghcr::rate_limited(r)).flatten() {
            if let Some(s) = job.step() {
                self.steps[s].retries += 1;
            }
            if attempt < self.opts.max_attempts {
                self.queue.push_back((job, attempt + 1, now + wait));
                return;
            }
            let detail =
                format!("the GitHub API's rate limit was still spent after {attempt} attempts");
            self.give_up(job, detail);
            return;
        }
        if retryable(r.status) {
            if let Some(s) = job.step() {
                self.steps[s].retries += 1;
            }
            if attempt < self.opts.max_attempts {
                let at = now + backoff(r, attempt);
                self.queue.push_back((job, attempt + 1, at));
                return;
            }
            let detail = format!(
                "the registry still answers {} after {attempt} attempts",
                status_text(r.status)
            );
            self.give_up(job, detail);
            return;
        }
        match job {
            Job::Detect => {
                let acr = r.status == 200 && r.body.first() == Some(&b'{');
                self.flavour = if acr { Flavour::Acr } else { Flavour::Oci };
                self.begin();
            }
            Job::AcrCheck(s) => self.acr_checked(s, r),
            Job::UploadStart(_) | Job::UploadPut(..) | Job::Placeholder(_) => {
                self.untag_step(&job, r);
            }
            Job::Unlock(s) => {
                if matches!(r.status, 200 | 204) {
                    self.fetch(s);
                } else {
                    let detail = format!("could not unlock it: {}", status_text(r.status));
                    self.end(s, OutcomeKind::Failed, detail);
                }
            }
            Job::Tags(..)
            | Job::HeadTag(..)
            | Job::IndexCheck(..)
            | Job::AcrManifests(..)
            | Job::AcrTags(..) => {
                self.listed(job, r);
            }
            Job::Fetch(s) => self.fetched(s, r),
            Job::Verify(s, _) | Job::Repush(s) => self.verified(&job, s, r),
            Job::GhOwner(_) | Job::GhUser(_) | Job::GhVersions(..) => self.gh_listed(job, r),
            Job::GhFind(s, page) => self.gh_found(s, page, r),
            Job::HubUntag(s, i) => self.hub_untagged(s, i, r),
            Job::Delete(s) if self.flavour == Flavour::Ghcr => self.gh_deleted(s, r),
            Job::Delete(s) => {
                let tagged = !self.steps[s].journalled.is_empty();
                if r.status == 404 && attempt > 1 && tagged && self.flavour == Flavour::Oci {
                    // An earlier attempt may have been cut off half done: the manifest gone,
                    // its tags still listed. Look before calling it done (an untagged
                    // manifest has no tags to leave behind).
                    let path = format!("/v2/{}/tags/list", self.steps[s].repo);
                    self.queue.push_back((Job::Verify(s, path), 1, 0.0));
                    return;
                }
                let (kind, detail) = match r.status {
                    200 | 202 | 204 => (OutcomeKind::Done, "deleted".to_owned()),
                    403 if self.flavour == Flavour::DockerHub => (
                        OutcomeKind::Skipped,
                        "Docker Hub refuses: the manifest is still referenced by a tag or another image".to_owned(),
                    ),
                    404 => (
                        OutcomeKind::AlreadyGone,
                        "already gone when deleted".to_owned(),
                    ),
                    405 => (
                        OutcomeKind::Unsupported,
                        "the registry does not allow deletes (405); enable storage.delete"
                            .to_owned(),
                    ),
                    other => (
                        OutcomeKind::Failed,
                        format!("the registry answered {}", status_text(other)),
                    ),
                };
                self.end(s, kind, detail);
            }
        }
    }

    #[inline(never)]
    fn give_up(&mut self, job: Job, detail: String) {
        if let Some(s) = job.step() {
            self.end(s, OutcomeKind::Failed, detail);
            if let Job::Fetch(_) = job {
                self.fetch_ended(s);
            }
            return;
        }
        match job {
            Job::Detect => {
                for s in 0..self.steps.len() {
                    let detail = format!("could not reach the registry: {detail}");
                    self.end(s, OutcomeKind::Failed, detail);
                }
            }
            Job::GhOwner(owner) | Job::GhUser(owner) => {
                for s in 0..self.steps.len() {
                    let of_owner = self.steps[s].repo.as_str().split('/').next() == Some(&owner);
                    if of_owner {
                        let detail = format!("could not find the package's owner: {detail}");
                        self.end(s, OutcomeKind::Failed, detail);
                    }
                }
                self.gh.resolved(&owner, None);
            }
            Job::Tags(repo, _)
            | Job::HeadTag(repo, _)
            | Job::IndexCheck(repo, _)
            | Job::AcrManifests(repo, _)
            | Job::AcrTags(repo, _)
            | Job::GhVersions(repo, _) => {
                // Without the repository's current tags drift cannot be checked: fail its steps.
                let steps = self
                    .repos
                    .get(&repo)
                    .map(|rs| rs.steps.clone())
                    .unwrap_or_default();
                for s in steps {
                    if matches!(self.steps[s].state, StepState::Waiting | StepState::Parked) {
                        let detail =
                            format!("could not re-check the repository before deleting: {detail}");
                        self.end(s, OutcomeKind::Failed, detail);
                    }
                }
                let rs = self.repos.entry(repo).or_default();
                rs.listed = true;
                rs.pending_heads = 0;
            }
            // The jobs of one step ended above.
            _ => {}
        }
    }

    fn fail(&mut self, s: usize, detail: String) {
        self.end(s, OutcomeKind::Failed, detail);
    }

    /// `(finished, total)` deletions, for progress bars.
    pub fn progress(&self) -> (usize, usize) {
        (self.finished, self.steps.len())
    }

    /// The report, once `is_done()`.
    pub fn report(&self) -> Report {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let outcomes: Vec<Outcome> = self
            .steps
            .iter()
            .map(|s| {
                let (kind, detail) = match &s.state {
                    StepState::Finished(k, d) => (*k, d.clone()),
                    _ if self.cancelled => (
                        OutcomeKind::NotStarted,
                        "not sent: the run was interrupted before its turn".into(),
                    ),
                    _ => (OutcomeKind::Failed, "not finished".into()),
                };
                let name = serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                *counts.entry(name).or_default() += 1;
                let target = match (s.kind, &s.tag, &s.digest) {
                    (ActionType::Untag, Some(t), _) => format!("{}:{t}", s.repo),
                    (_, _, Some(d)) => format!("{}@{d}", s.repo),
                    _ => s.repo.to_string(),
                };
                Outcome {
                    action: s.action,
                    repository: s.repo.clone(),
                    target,
                    outcome: kind,
                    detail,
                    retries: s.retries,
                }
            })
            .collect();
        let complete = outcomes
            .iter()
            .all(|o| matches!(o.outcome, OutcomeKind::Done | OutcomeKind::AlreadyGone));
        Report {
            plan: self.plan_digest.clone(),
            outcomes,
            counts,
            retargeted: self.retargeted.clone(),
            interrupted: self.cancelled,
            complete,
        }
    }
}
