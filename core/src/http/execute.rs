//! Carrying out exactly a reviewed plan against a registry (OCI Distribution, or ACR).
//!
//! Before anything is deleted, each repository's tags are listed and resolved again, so drift
//! is seen: a planned tag that moved, or a new tag on a planned manifest, skips that action
//! (deleting a manifest deletes every tag on it, and nothing the plan does not name may go).
//! Within a repository the plan's phases run in order (referrers, indexes, the rest), so a
//! child is never deleted before its index. Each deletion first fetches the manifest, unless
//! its bytes were handed over with [`Execute::known_manifest`] (from the crawl that made the
//! plan: content addressed, so they cannot be stale); its bytes and tags go to the journal,
//! which the adapter writes durably before sending the `DELETE`, so `undo` can push the
//! image back. 404 means already gone, 405 unsupported, 429
//! and 5xx are retried with backoff and `Retry-After`; one failure never stops the others.
//!
//! On ACR each target is re-checked through `/acr/v1` instead (its tags and locks right
//! before the delete); untags use ACR's tag deletion, and locked items of an
//! `--include-locked` plan are unlocked with `PATCH` first.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::{backoff, next_link, retryable, Flavour, Method, Request, Response, MANIFEST_ACCEPT};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::hash::{Map, Set};
use crate::names::{RepositoryName, TagName};
use crate::plan::{Action, ActionType, Plan, ReasonCode};

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
}

fn attempts() -> u32 {
    6
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
}

impl Report {
    /// True when every action is done or already gone.
    pub fn complete(&self) -> bool {
        self.outcomes
            .iter()
            .all(|o| matches!(o.outcome, OutcomeKind::Done | OutcomeKind::AlreadyGone))
    }
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
    /// Tags the plan says go with it; for a repository deletion, every tag of the repository.
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
}

#[derive(Debug, Clone, PartialEq)]
enum StepState {
    Waiting,
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
    Tags(RepositoryName, String),
    HeadTag(RepositoryName, TagName),
    Fetch(usize),
    Delete(usize),
}

#[derive(Default)]
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
    /// Tagged indexes whose children were checked (or are being checked).
    indexes: std::collections::BTreeSet<Digest>,
    /// Manifests a currently tagged index lists, with that index.
    listed_by: BTreeMap<Digest, Digest>,
    /// Its steps, by phase (then plan order).
    steps: Vec<usize>,
    /// Its steps by digest.
    by_digest: Map<Digest, Vec<usize>>,
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
    flavour: Flavour,
    /// Manifest bytes handed over by the adapter, checked against their digests, with their
    /// media types: these steps need no fetch.
    known: Map<Digest, (Option<String>, Vec<u8>)>,
    /// Every manifest the plan deletes.
    deletes: Set<Digest>,
    /// Repositories whose steps may be ready: only these are looked at by `schedule`, so
    /// each response costs about the work it unblocks, not a pass over the plan.
    touched: Vec<RepositoryName>,
    /// Steps finished.
    finished: usize,
    /// Unfinished steps of the repositories whose re-listing started.
    open_started: usize,
    /// `order[..next_unstarted]` have started.
    next_unstarted: usize,
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
            };
            match a.kind {
                ActionType::DeleteRepository => {
                    for d in &a.manifests {
                        steps.push(Step {
                            digest: Some(d.clone()),
                            whole_repository: true,
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
            flavour: Flavour::Auto,
            known: Map::default(),
            deletes,
            touched: Vec::new(),
            finished: 0,
            open_started: 0,
            next_unstarted: 0,
        };
        ex.flavour = ex.opts.flavour;
        if ex.flavour == Flavour::Auto {
            ex.queue.push_back((Job::Detect, 1, 0.0));
        } else {
            ex.begin();
        }
        Ok(ex)
    }

    /// Starts once the flavour is known: OCI re-lists each repository's tags first; ACR
    /// re-checks each target on its own.
    ///
    /// On OCI the re-listing is the only drift check (the API has no conditional delete), so
    /// it happens as late as it can: a repository is listed when the repositories before it
    /// have at most `LOOKAHEAD` deletions left, and a change another client makes meanwhile
    /// to a repository not reached yet is seen and skipped.
    fn begin(&mut self) {
        for (i, step) in self.steps.iter().enumerate() {
            if !self.repos.contains_key(&step.repo) {
                self.repos.insert(step.repo.clone(), RepoState::default());
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
        if self.flavour == Flavour::Acr {
            for r in &self.order {
                // ACR lists every manifest with the children of each index: one listing shows
                // whether an index that stays now lists a planned manifest.
                let job = Job::AcrManifests(r.clone(), format!("/acr/v1/{r}/_manifests?n=100"));
                self.queue.push_back((job, 1, 0.0));
            }
            for r in self.order.clone() {
                self.start(&r);
            }
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

    /// Ends step `s` with an outcome (once: a finished step stays finished).
    fn end(&mut self, s: usize, kind: OutcomeKind, detail: String) {
        if matches!(self.steps[s].state, StepState::Finished(..)) {
            return;
        }
        self.steps[s].state = StepState::Finished(kind, detail);
        self.finished += 1;
        let repo = self.steps[s].repo.clone();
        if let Some(rs) = self.repos.get_mut(&repo) {
            rs.open -= 1;
            if rs.started {
                self.open_started -= 1;
            }
        }
        self.touch(&repo);
    }

    /// Starts the re-listing of the next repositories (OCI) while few deletions are left in
    /// the ones already started.
    fn list_ahead(&mut self) {
        const LOOKAHEAD: usize = 8;
        while let Some(next) = self.order.get(self.next_unstarted).cloned() {
            if self.open_started > LOOKAHEAD {
                return;
            }
            self.start(&next);
            let job = Job::Tags(next.clone(), format!("/v2/{next}/tags/list"));
            self.queue.push_back((job, 1, 0.0));
        }
    }

    /// The next request to send at `now`. A request that deletes carries its journal entry
    /// in `take_journal()`: write it durably before sending the request.
    pub fn next_request(&mut self, now: f64) -> Option<Request> {
        self.schedule();
        let i = self.queue.iter().position(|(_, _, t)| *t <= now)?;
        let (job, attempt, _) = self.queue.remove(i)?;
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
            Job::Tags(r, p) | Job::AcrManifests(r, p) => {
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
            Job::UploadStart(_) | Job::UploadPut(..) | Job::Placeholder(_) => {
                self.untag_request(id, job)
            }
            Job::Fetch(s) => Request::get(
                id,
                format!("/v2/{}/manifests/{}", step(*s).repo, digest(*s)),
                accept(),
                pull(&step(*s).repo),
            ),
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

    /// The requests of a Distribution untag.
    fn untag_request(&self, id: u64, job: &Job) -> Request {
        let step = |s: usize| &self.steps[s];
        let tag = |s| self.step_tag(s);
        let push = |r: &RepositoryName| format!("repository:{r}:pull,push,delete");
        match job {
            Job::UploadStart(s) => Request {
                method: Method::Post,
                ..Request::get(
                    id,
                    format!("/v2/{}/blobs/uploads/", step(*s).repo),
                    Vec::new(),
                    push(&step(*s).repo),
                )
            },
            Job::UploadPut(s, location) => {
                let joiner = if location.contains('?') { '&' } else { '?' };
                Request {
                    method: Method::Put,
                    headers: vec![("Content-Type".into(), "application/octet-stream".into())],
                    body: Some("{}".into()),
                    ..Request::get(
                        id,
                        format!("{location}{joiner}digest={EMPTY_BLOB}"),
                        Vec::new(),
                        push(&step(*s).repo),
                    )
                }
            }
            Job::Placeholder(s) => Request {
                method: Method::Put,
                headers: vec![("Content-Type".into(), OCI_MANIFEST.into())],
                body: Some(self.placeholder(*s)),
                ..Request::get(
                    id,
                    format!("/v2/{}/manifests/{}", step(*s).repo, tag(*s)),
                    Vec::new(),
                    push(&step(*s).repo),
                )
            },
            _ => Request::get(id, "/v2/".into(), Vec::new(), String::new()),
        }
    }

    /// The placeholder manifest a Distribution untag moves the tag to: empty config, no
    /// layers, annotations naming the tag and the plan (unique, so deleting it removes only
    /// this tag).
    fn placeholder(&self, s: usize) -> String {
        let st = &self.steps[s];
        let tag = st.tag.as_ref().map(ToString::to_string).unwrap_or_default();
        let plan = self
            .plan_digest
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.regprune.untag.v1",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY_BLOB, "size": 2},
            "layers": [],
            "annotations": {"dev.regprune.untag": format!("{}:{tag}", st.repo), "dev.regprune.plan": plan},
        })
        .to_string()
    }

    /// Hands over the exact bytes of a manifest the plan deletes (saved by the crawl that made
    /// the plan, see `CrawlOptions::keep_manifests`), so its deletion needs no `GET` to be
    /// journaled: one request per deletion instead of two. Bytes that do not hash to `digest`
    /// are refused; `Ok(false)` when the plan deletes no such manifest (nothing is kept).
    pub fn known_manifest(
        &mut self,
        digest: &Digest,
        media_type: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<bool> {
        let computed = digest.recompute(&bytes);
        if computed.as_ref() != Some(digest) {
            return Err(Error::DigestMismatch {
                path: "knownManifest".into(),
                claimed: digest.to_string(),
                computed: computed
                    .map_or_else(|| "an unsupported algorithm".into(), |d| d.to_string()),
            });
        }
        let wanted = self.deletes.contains(digest);
        if wanted {
            self.known
                .insert(digest.clone(), (media_type.map(str::to_owned), bytes));
        }
        Ok(wanted)
    }

    /// The distinct manifests this execution will journal (and fetch, unless handed over with
    /// [`Execute::known_manifest`]), in plan order.
    pub fn wanted_manifests(&self) -> Vec<Digest> {
        let mut seen = Set::default();
        self.steps
            .iter()
            .filter(|s| matches!(s.state, StepState::Waiting | StepState::Fetching))
            .filter_map(|s| s.digest.clone())
            .filter(|d| seen.insert(d.clone()))
            .collect()
    }

    /// The step's manifest is needed for the journal: from the handed-over bytes, or a `GET`.
    fn fetch(&mut self, s: usize) {
        // Kept to the end: several steps may delete the same manifest (one per repository).
        let known = self.steps[s]
            .digest
            .as_ref()
            .and_then(|d| self.known.get(d))
            .cloned();
        match known {
            Some((media_type, bytes)) => self.journal_and_delete(s, bytes, media_type),
            None => self.queue.push_back((Job::Fetch(s), 1, 0.0)),
        }
    }

    /// Journal entries of deletions handed out since the last call.
    pub fn take_journal(&mut self) -> Vec<JournalEntry> {
        std::mem::take(&mut self.journal)
    }

    /// When the next delayed request becomes ready, if nothing is ready now.
    pub fn next_wakeup(&self) -> Option<f64> {
        self.queue.iter().map(|(_, _, t)| *t).reduce(f64::min)
    }

    /// True when every action has an outcome.
    pub fn is_done(&mut self) -> bool {
        self.schedule();
        self.queue.is_empty() && self.in_flight.is_empty()
    }

    /// Moves waiting steps whose turn has come into the queue. Runs only after something
    /// changed, and only for the repositories touched since: a plan can hold many thousands
    /// of steps, and each response should cost the work it unblocks.
    fn schedule(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        if self.flavour != Flavour::Auto {
            self.list_ahead();
        }
        while let Some(repo) = self.touched.pop() {
            if let Some(rs) = self.repos.get_mut(&repo) {
                rs.touched = false;
            }
            self.schedule_repo(&repo);
        }
    }

    /// A step waits for the earlier phases of its repository (referrers, then indexes, then
    /// the rest): the steps of the lowest phase with work left are checked and queued.
    fn schedule_repo(&mut self, repo: &RepositoryName) {
        loop {
            let Some(rs) = self.repos.get_mut(repo) else {
                return;
            };
            if !rs.listed || rs.pending_heads > 0 {
                return;
            }
            while rs.first_open < rs.steps.len()
                && matches!(
                    self.steps[rs.steps[rs.first_open]].state,
                    StepState::Finished(..)
                )
            {
                rs.first_open += 1;
            }
            let Some(&first) = rs.steps.get(rs.first_open) else {
                return;
            };
            let lowest = self.steps[first].phase;
            let from = rs.next.max(rs.first_open);
            let mut to = from;
            while to < rs.steps.len() && self.steps[rs.steps[to]].phase <= lowest {
                to += 1;
            }
            rs.next = to;
            if from == to {
                return;
            }
            let ready: Vec<usize> = rs.steps[from..to].to_vec();
            for i in ready {
                if self.steps[i].state != StepState::Waiting {
                    continue;
                }
                if let Some((kind, detail)) = self.precheck(i) {
                    self.end(i, kind, detail);
                    continue;
                }
                self.steps[i].state = StepState::Fetching;
                if self.flavour == Flavour::Acr {
                    self.queue.push_back((Job::AcrCheck(i), 1, 0.0));
                } else {
                    self.fetch(i);
                }
            }
            // Steps ended by their checks may have finished the phase: look again.
        }
    }

    /// Drift and dependency checks before a step may run; `Some` ends the step.
    fn precheck(&self, i: usize) -> Option<(OutcomeKind, String)> {
        let s = &self.steps[i];
        if s.kind == ActionType::Untag && self.flavour != Flavour::Acr {
            let (Some(tag), Some(digest)) = (&s.tag, &s.digest) else {
                return None;
            };
            return match self.repos[&s.repo].current.get(tag) {
                None | Some(None) => Some((
                    OutcomeKind::AlreadyGone,
                    "the tag is not there any more".into(),
                )),
                Some(Some(now)) if now != digest => Some((
                    OutcomeKind::Skipped,
                    format!("drift: the tag moved to {now} since the plan"),
                )),
                Some(Some(_)) => None,
            };
        }
        let rs = &self.repos[&s.repo];
        let same_digest = |d: &Digest| {
            rs.by_digest
                .get(d)
                .into_iter()
                .flatten()
                .map(|&o| &self.steps[o])
        };
        if let Some(parent) = &s.after {
            let parent_ok = same_digest(parent).any(|p| {
                matches!(
                    p.state,
                    StepState::Finished(OutcomeKind::Done | OutcomeKind::AlreadyGone, _)
                )
            });
            if !parent_ok {
                return Some((
                    OutcomeKind::Skipped,
                    format!(
                        "its index {parent} was not deleted, so deleting it could break that index"
                    ),
                ));
            }
        }
        let digest = s.digest.as_ref()?;
        if let Some(index) = rs.listed_by.get(digest) {
            let index_goes = same_digest(index).any(|o| o.kind != ActionType::Untag);
            if !index_goes {
                return Some((OutcomeKind::Skipped, format!("drift: the tagged index {index} lists it now; deleting it would break that index")));
            }
        }
        for tag in rs.tags_at(digest) {
            let planned = s.whole_repository || s.tags.contains(tag);
            if !planned {
                return Some((OutcomeKind::Skipped, format!("drift: the tag {tag:?} now points at it, and the plan does not delete that tag")));
            }
        }
        // A referrer attached by the tag convention (`sha256-<hex>.sig`) since the plan: it
        // would be left pointing at nothing.
        let referrer_tag = format!("sha256-{}", digest.encoded());
        let from = TagName::parse(&referrer_tag);
        for (tag, now) in from.iter().flat_map(|from| rs.current.range(from..)) {
            if !tag.as_str().starts_with(&referrer_tag) {
                break;
            }
            let goes = now
                .as_ref()
                .is_some_and(|r| same_digest(r).any(|o| o.kind != ActionType::Untag));
            if !goes && !s.whole_repository {
                return Some((OutcomeKind::Skipped, format!("drift: {tag:?} (a signature, SBOM or attestation by tag) refers to it now, and the plan does not delete it")));
            }
        }
        for tag in &s.tags {
            if s.whole_repository {
                continue;
            }
            match rs.current.get(tag) {
                Some(Some(d)) if d != digest => {
                    return Some((
                        OutcomeKind::Skipped,
                        format!("drift: the tag {tag:?} moved to {d} since the plan"),
                    ));
                }
                _ => {}
            }
        }
        None
    }

    /// Feeds the response to request `id`, received at `now`.
    pub fn handle_response(&mut self, id: u64, r: &Response, now: f64) -> Result<()> {
        self.dirty = true;
        let Some((job, attempt)) = self.in_flight.remove(&id) else {
            return Err(Error::InvalidOperation {
                path: "response".into(),
                message: format!("no request {id} is waiting for a response"),
            });
        };
        let repo = match &job {
            Job::Detect => None,
            Job::Tags(r, _)
            | Job::HeadTag(r, _)
            | Job::IndexCheck(r, _)
            | Job::AcrManifests(r, _) => Some(r.clone()),
            Job::UploadStart(s)
            | Job::UploadPut(s, _)
            | Job::Placeholder(s)
            | Job::AcrCheck(s)
            | Job::Unlock(s)
            | Job::Fetch(s)
            | Job::Delete(s) => Some(self.steps[*s].repo.clone()),
        };
        let result = self.handle(job, attempt, r, now);
        match repo {
            Some(repo) => self.touch(&repo),
            None => {
                for repo in self.order.clone() {
                    self.touch(&repo);
                }
            }
        }
        result
    }

    fn handle(&mut self, job: Job, attempt: u32, r: &Response, now: f64) -> Result<()> {
        if retryable(r.status) {
            if let Job::Fetch(s)
            | Job::Delete(s)
            | Job::AcrCheck(s)
            | Job::Unlock(s)
            | Job::UploadStart(s)
            | Job::UploadPut(s, _)
            | Job::Placeholder(s) = &job
            {
                self.steps[*s].retries += 1;
            }
            if attempt < self.opts.max_attempts {
                let at = now + backoff(r, attempt);
                self.queue.push_back((job, attempt + 1, at));
                return Ok(());
            }
            let detail = format!(
                "the registry still answers {} after {attempt} attempts",
                status(r.status)
            );
            self.give_up(job, detail);
            return Ok(());
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
                    let detail = format!("could not unlock it: {}", status(r.status));
                    self.end(s, OutcomeKind::Failed, detail);
                }
            }
            Job::Tags(..) | Job::HeadTag(..) | Job::IndexCheck(..) | Job::AcrManifests(..) => {
                self.listed(job, r)?;
            }
            Job::Fetch(s) => self.fetched(s, r),
            Job::Delete(s) => {
                let (kind, detail) = match r.status {
                    200 | 202 | 204 => (OutcomeKind::Done, "deleted".to_owned()),
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
                        format!("the registry answered {}", status(other)),
                    ),
                };
                self.end(s, kind, detail);
            }
        }
        Ok(())
    }

    /// The re-listing of a repository: OCI tags and each tag's digest (and tagged indexes);
    /// ACR manifests with each index's children.
    // This and the other handlers of rare answers stay out of `handle`, which runs for every
    // response: in WebAssembly, V8 optimizes a function whole once it is hot, rare branches
    // and all (the Makefile's wasm-opt keeps them apart too).
    #[inline(never)]
    fn listed(&mut self, job: Job, r: &Response) -> Result<()> {
        match job {
            Job::AcrManifests(repo, _) => self.acr_listed(repo, r)?,
            Job::Tags(repo, _) => {
                let rs = self.repos.entry(repo.clone()).or_default();
                if r.status == 404 {
                    rs.listed = true;
                    return Ok(());
                }
                if r.status != 200 {
                    let detail = format!("listing tags failed: {}", status(r.status));
                    self.give_up(Job::Tags(repo, String::new()), detail);
                    return Ok(());
                }
                let list: TagList = crate::field::from_json(&r.body)
                    .map_err(|e| e.under(&format!("{repo} tags")))?;
                let tags = list.tags.unwrap_or_default();
                rs.pending_heads += tags.len();
                for t in tags {
                    rs.point(&t, None);
                    self.queue
                        .push_back((Job::HeadTag(repo.clone(), t), 1, 0.0));
                }
                match next_link(r.header("link"), &self.opts.registry)? {
                    Some(next) => self.queue.push_back((Job::Tags(repo, next), 1, 0.0)),
                    None => self.repos.entry(repo).or_default().listed = true,
                }
            }
            Job::HeadTag(repo, tag) => {
                let rs = self.repos.entry(repo.clone()).or_default();
                rs.pending_heads = rs.pending_heads.saturating_sub(1);
                let d = (r.status == 200)
                    .then(|| r.header("docker-content-digest").and_then(Digest::parse))
                    .flatten();
                if r.status == 200 && d.is_none() {
                    return Err(Error::InvalidOperation { path: format!("{tag}"), message: "the registry did not say which manifest the tag points at (no Docker-Content-Digest); refusing to delete blind".into() });
                }
                let is_index = r
                    .header("content-type")
                    .is_some_and(|c| c.contains("index") || c.contains("list"));
                if let Some(d) = d.clone().filter(|_| is_index) {
                    if rs.indexes.insert(d.clone()) {
                        rs.pending_heads += 1;
                        self.queue
                            .push_back((Job::IndexCheck(repo.clone(), d), 1, 0.0));
                    }
                }
                self.repos.entry(repo).or_default().point(&tag, d.as_ref());
            }
            Job::IndexCheck(repo, index) => {
                #[derive(Deserialize)]
                struct Index {
                    #[serde(default)]
                    manifests: Vec<Child>,
                }
                #[derive(Deserialize)]
                struct Child {
                    digest: Digest,
                }
                let rs = self.repos.entry(repo).or_default();
                rs.pending_heads = rs.pending_heads.saturating_sub(1);
                if r.status == 200 && index.recompute(&r.body).as_ref() == Some(&index) {
                    if let Ok(doc) = serde_json::from_slice::<Index>(&r.body) {
                        for c in doc.manifests {
                            rs.listed_by.insert(c.digest, index.clone());
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// ACR: a page of a repository's manifests, with the children of each index.
    #[inline(never)]
    fn acr_listed(&mut self, repo: RepositoryName, r: &Response) -> Result<()> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            manifests: Vec<Listed>,
        }
        #[derive(Deserialize)]
        struct Listed {
            digest: Digest,
            #[serde(default)]
            references: Vec<Child>,
        }
        #[derive(Deserialize)]
        struct Child {
            digest: Digest,
        }
        if r.status != 200 && r.status != 404 {
            let detail = format!("listing manifests failed: {}", status(r.status));
            self.give_up(Job::AcrManifests(repo, String::new()), detail);
            return Ok(());
        }
        let page: Page = serde_json::from_slice(&r.body).unwrap_or(Page {
            manifests: Vec::new(),
        });
        let next = next_link(r.header("link"), &self.opts.registry)?;
        let rs = self.repos.entry(repo.clone()).or_default();
        for m in page.manifests {
            for c in m.references {
                rs.listed_by.insert(c.digest, m.digest.clone());
            }
        }
        match next {
            Some(path) => self
                .queue
                .push_back((Job::AcrManifests(repo, path), 1, 0.0)),
            None => rs.listed = true,
        }
        Ok(())
    }

    #[inline(never)]
    fn fetched(&mut self, s: usize, r: &Response) {
        match r.status {
            404 => {
                let detail = "not in the registry any more".into();
                return self.end(s, OutcomeKind::AlreadyGone, detail);
            }
            200 => {}
            other => {
                let detail = format!("fetching it failed: {}", status(other));
                return self.end(s, OutcomeKind::Failed, detail);
            }
        }
        let Some(digest) = &self.steps[s].digest else {
            return;
        };
        if digest.recompute(&r.body).as_ref() != Some(digest) {
            let detail =
                "the registry served bytes that do not match the digest; not deleted".into();
            return self.end(s, OutcomeKind::Failed, detail);
        }
        let media_type = r.header("content-type").map(str::to_owned);
        self.journal_and_delete(s, r.body.clone(), media_type);
    }

    /// Journals the step's manifest (bytes checked against its digest) and queues its
    /// deletion.
    fn journal_and_delete(&mut self, s: usize, bytes: Vec<u8>, media_type: Option<String>) {
        let Some(digest) = self.steps[s].digest.clone() else {
            return;
        };
        let Ok(text) = String::from_utf8(bytes) else {
            let detail = "the manifest is not UTF-8 JSON; not deleted".into();
            return self.end(s, OutcomeKind::Failed, detail);
        };
        let step = &mut self.steps[s];
        let media_type = media_type
            .or_else(|| step.media_type.clone())
            .unwrap_or_default();
        // What an undo must restore: OCI knows the current tags from the re-listing; on ACR
        // the check confirmed the planned ones.
        let tags: Vec<TagName> = match (self.flavour, step.kind, &step.tag) {
            (_, ActionType::Untag, Some(t)) => vec![t.clone()],
            (Flavour::Acr, ..) => step.tags.clone(),
            _ => self.repos[&step.repo].tags_at(&digest).cloned().collect(),
        };
        self.journal.push(JournalEntry {
            plan: self.plan_digest.clone(),
            repository: step.repo.clone(),
            digest,
            media_type,
            manifest: text,
            tags,
        });
        step.state = StepState::Deleting;
        let next = if self.flavour != Flavour::Acr && self.steps[s].kind == ActionType::Untag {
            Job::UploadStart(s)
        } else {
            Job::Delete(s)
        };
        self.queue.push_back((next, 1, 0.0));
    }

    #[inline(never)]
    fn give_up(&mut self, job: Job, detail: String) {
        match job {
            Job::Detect => {
                for s in 0..self.steps.len() {
                    let detail = format!("could not reach the registry: {detail}");
                    self.end(s, OutcomeKind::Failed, detail);
                }
            }
            Job::Fetch(s)
            | Job::Delete(s)
            | Job::AcrCheck(s)
            | Job::Unlock(s)
            | Job::UploadStart(s)
            | Job::UploadPut(s, _)
            | Job::Placeholder(s) => self.end(s, OutcomeKind::Failed, detail),
            Job::Tags(repo, _)
            | Job::HeadTag(repo, _)
            | Job::IndexCheck(repo, _)
            | Job::AcrManifests(repo, _) => {
                // Without the repository's current tags drift cannot be checked: fail its steps.
                let steps = self
                    .repos
                    .get(&repo)
                    .map(|rs| rs.steps.clone())
                    .unwrap_or_default();
                for s in steps {
                    if self.steps[s].state == StepState::Waiting {
                        let detail =
                            format!("could not re-check the repository before deleting: {detail}");
                        self.end(s, OutcomeKind::Failed, detail);
                    }
                }
                let rs = self.repos.entry(repo).or_default();
                rs.listed = true;
                rs.pending_heads = 0;
            }
        }
    }

    /// The steps of a Distribution untag: upload `{}`, point the tag at a placeholder, delete
    /// the placeholder.
    #[inline(never)]
    fn untag_step(&mut self, job: &Job, r: &Response) {
        match *job {
            Job::UploadStart(s) => match (r.status, r.header("location")) {
                (202, Some(loc)) => match super::link::same_host(loc, &self.opts.registry) {
                    Some(path) => self.queue.push_back((Job::UploadPut(s, path), 1, 0.0)),
                    None => self.fail(
                        s,
                        format!("the upload location {loc:?} is on another host; refusing"),
                    ),
                },
                (status, _) => self.fail(
                    s,
                    format!("untag: starting the placeholder upload failed: HTTP {status}"),
                ),
            },
            Job::UploadPut(s, _) => match r.status {
                201 | 204 => self.queue.push_back((Job::Placeholder(s), 1, 0.0)),
                status => self.fail(
                    s,
                    format!("untag: uploading the placeholder config failed: HTTP {status}"),
                ),
            },
            Job::Placeholder(s) => match r.status {
                201 => {
                    let body = self.placeholder(s);
                    self.steps[s].placeholder = Some(Digest::sha256(body.as_bytes()));
                    self.queue.push_back((Job::Delete(s), 1, 0.0));
                }
                status => self.fail(
                    s,
                    format!("untag: moving the tag to a placeholder failed: HTTP {status}"),
                ),
            },
            _ => {}
        }
    }

    fn fail(&mut self, s: usize, detail: String) {
        self.end(s, OutcomeKind::Failed, detail);
    }

    /// ACR: the target's current tags and locks, right before deleting it.
    #[inline(never)]
    fn acr_checked(&mut self, s: usize, r: &Response) {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Item {
            #[serde(default)]
            digest: Option<Digest>,
            #[serde(default)]
            tags: Vec<TagName>,
            #[serde(default)]
            changeable_attributes: Option<crate::snapshot::ChangeableAttributes>,
        }
        #[derive(Deserialize)]
        struct Body {
            manifest: Option<Item>,
            tag: Option<Item>,
        }
        match r.status {
            404 => {
                return self.end(
                    s,
                    OutcomeKind::AlreadyGone,
                    "not in the registry any more".into(),
                )
            }
            200 => {}
            other => {
                return self.end(
                    s,
                    OutcomeKind::Failed,
                    format!("re-checking it failed: {}", status(other)),
                )
            }
        }
        let step = &self.steps[s];
        let Some(item) = serde_json::from_slice::<Body>(&r.body)
            .ok()
            .and_then(|b| b.manifest.or(b.tag))
        else {
            return self.end(
                s,
                OutcomeKind::Failed,
                "the registry's answer could not be read; not deleted".into(),
            );
        };
        if step.kind == ActionType::Untag {
            if item.digest.is_some() && item.digest != step.digest {
                let now = item.digest.map(|d| d.to_string()).unwrap_or_default();
                return self.end(
                    s,
                    OutcomeKind::Skipped,
                    format!("drift: the tag moved to {now} since the plan"),
                );
            }
        } else if let Some(extra) = item
            .tags
            .iter()
            .find(|t| !step.whole_repository && !step.tags.contains(t))
        {
            return self.end(
                s,
                OutcomeKind::Skipped,
                format!(
                    "drift: the tag {:?} now points at it, and the plan does not delete that tag",
                    extra.as_str()
                ),
            );
        }
        let locked = item
            .changeable_attributes
            .as_ref()
            .and_then(crate::snapshot::ChangeableAttributes::lock);
        let next = match (locked, step.unlock) {
            (Some(l), false) => {
                return self.end(
                    s,
                    OutcomeKind::Skipped,
                    format!("drift: it is locked now ({l})"),
                )
            }
            (Some(_), true) => Job::Unlock(s),
            (None, _) => return self.fetch(s),
        };
        self.queue.push_back((next, 1, 0.0));
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
        Report {
            plan: self.plan_digest.clone(),
            outcomes,
            counts,
        }
    }
}

fn status(s: u16) -> String {
    if s == 0 {
        "no response (connection failed)".into()
    } else {
        format!("HTTP {s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The by-manifest index follows every change of `current`: a tag that moves leaves its
    /// old manifest's tags, and one that points at nothing is in no manifest's.
    #[test]
    fn tags_by_manifest_follow_the_current_tags() {
        let d = |s: &[u8]| Digest::sha256(s);
        let t = |s: &str| TagName::parse(s).unwrap();
        let tags_at = |rs: &RepoState, digest: &Digest| {
            rs.tags_at(digest)
                .map(TagName::to_string)
                .collect::<Vec<_>>()
        };
        let mut rs = RepoState::default();
        rs.point(&t("b"), None);
        rs.point(&t("a"), None);
        rs.point(&t("b"), Some(&d(b"1")));
        rs.point(&t("a"), Some(&d(b"1")));
        assert_eq!(tags_at(&rs, &d(b"1")), ["a", "b"]);
        rs.point(&t("a"), Some(&d(b"2")));
        assert_eq!(tags_at(&rs, &d(b"1")), ["b"]);
        assert_eq!(tags_at(&rs, &d(b"2")), ["a"]);
        rs.point(&t("a"), Some(&d(b"2")));
        assert_eq!(tags_at(&rs, &d(b"2")), ["a"]);
        rs.point(&t("b"), None);
        assert!(tags_at(&rs, &d(b"1")).is_empty());
        for (tag, now) in &rs.current {
            let listed: Vec<&Digest> = rs
                .tags_at
                .iter()
                .filter(|(_, tags)| tags.contains(tag))
                .map(|(d, _)| d)
                .collect();
            assert_eq!(listed, now.iter().collect::<Vec<_>>(), "{tag}");
        }
    }
}
