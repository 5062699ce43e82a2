//! Journalling and deleting: the manifest's bytes (handed over or fetched) before each
//! `DELETE`, the Distribution untag by placeholder, and the verification of a `DELETE` answered
//! 404 after a retry.

#[allow(clippy::wildcard_imports)] // one type split over files by concern
use super::*;

impl Execute {
    /// The requests of a Distribution untag.
    pub(super) fn untag_request(&self, id: u64, job: &Job) -> Request {
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
            Job::Placeholder(s) | Job::Repush(s) => {
                // A repair pushes the placeholder again by digest, never by tag: a tag someone
                // pushed meanwhile is not touched.
                let reference = match (job, &step(*s).placeholder) {
                    (Job::Repush(_), Some(p)) => p.to_string(),
                    _ => tag(*s),
                };
                Request {
                    method: Method::Put,
                    headers: vec![("Content-Type".into(), OCI_MANIFEST.into())],
                    body: Some(self.placeholder(*s)),
                    ..Request::get(
                        id,
                        format!("/v2/{}/manifests/{reference}", step(*s).repo),
                        Vec::new(),
                        push(&step(*s).repo),
                    )
                }
            }
            _ => Request::get(id, "/v2/".into(), Vec::new(), String::new()),
        }
    }

    /// The placeholder manifest a Distribution untag moves the tag to: empty config, no
    /// layers, annotations naming the tag and the plan (unique, so deleting it removes only
    /// this tag).
    pub(super) fn placeholder(&self, s: usize) -> String {
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
    /// journaled: one request per deletion instead of two. `Ok(false)` when the plan deletes
    /// no such manifest, or when the bytes do not hash to `digest` (a damaged store file): then
    /// nothing is kept, and the manifest is fetched as if none had been handed over.
    pub fn known_manifest(
        &mut self,
        digest: &Digest,
        media_type: Option<&str>,
        bytes: Vec<u8>,
    ) -> Result<bool> {
        if digest.recompute(&bytes).as_ref() != Some(digest) {
            return Ok(false);
        }
        let wanted = self.deletes.contains(digest);
        if wanted {
            self.known
                .insert(digest.clone(), (media_type.map(str::to_owned), bytes));
        }
        Ok(wanted)
    }

    /// The distinct manifests this execution will journal (and fetch, unless handed over with
    /// [`Execute::known_manifest`]), in plan order; each named once (a later call names none
    /// again, as a crawl's `take_wanted` does).
    pub fn wanted_manifests(&mut self) -> Vec<Digest> {
        let offered = &mut self.offered;
        self.steps
            .iter()
            .filter(|s| {
                matches!(
                    s.state,
                    StepState::Waiting | StepState::Parked | StepState::Fetching
                )
            })
            .filter_map(|s| s.digest.clone())
            .filter(|d| offered.insert(d.clone()))
            .collect()
    }

    /// The step's manifest is needed for the journal: from the handed-over bytes, or a `GET`.
    pub(super) fn fetch(&mut self, s: usize) {
        // Kept to the end: several steps may delete the same manifest (one per repository).
        let known = self.steps[s]
            .digest
            .as_ref()
            .and_then(|d| self.known.get(d))
            .cloned();
        match (known, self.steps[s].digest.clone()) {
            (Some((media_type, bytes)), _) => self.journal_and_delete(s, bytes, media_type),
            (None, Some(d)) => {
                if let Some(waiting) = self.fetching.get_mut(&d) {
                    waiting.push(s);
                } else {
                    self.fetching.insert(d, Vec::new());
                    self.queue.push_back((Job::Fetch(s), 1, 0.0));
                }
            }
            (None, None) => self.queue.push_back((Job::Fetch(s), 1, 0.0)),
        }
    }

    /// The fetch of step `s`'s manifest ended: the steps waiting for the same bytes take them
    /// from `known` when it succeeded, or fetch on their own (their repository's answer may
    /// differ) when it did not.
    pub(super) fn fetch_ended(&mut self, s: usize) {
        let Some(d) = self.steps[s].digest.clone() else {
            return;
        };
        for w in self.fetching.remove(&d).unwrap_or_default() {
            if matches!(self.steps[w].state, StepState::Fetching) {
                self.fetch(w);
            }
        }
    }

    /// Journal entries of deletions handed out since the last call.
    pub fn take_journal(&mut self) -> Vec<JournalEntry> {
        std::mem::take(&mut self.journal)
    }

    /// The journal's lines since the last call, as JSON text: an entry for each deletion
    /// handed out, and a line saying how each journalled deletion ended. Entries come first:
    /// an outcome always follows its entry. `sync` is true when there is an entry among them:
    /// the lines must then be on disk (`fsync`) before any request handed out so far is sent.
    /// Outcome lines alone need not wait (undo reads entries only; they are for people and
    /// audits), so an adapter may write them and sync them with the next entries.
    pub fn take_journal_lines(&mut self) -> JournalLines {
        let entries = std::mem::take(&mut self.journal);
        let ended = std::mem::take(&mut self.ended);
        JournalLines {
            sync: !entries.is_empty(),
            lines: entries
                .iter()
                .filter_map(|e| serde_json::to_string(e).ok())
                .chain(ended.iter().filter_map(|o| serde_json::to_string(o).ok()))
                .collect(),
        }
    }

    #[inline(never)]
    pub(super) fn fetched(&mut self, s: usize, r: &Response) {
        self.fetched_once(s, r);
        self.fetch_ended(s);
    }

    fn fetched_once(&mut self, s: usize, r: &Response) {
        match r.status {
            404 => {
                let detail = "not in the registry any more".into();
                return self.end(s, OutcomeKind::AlreadyGone, detail);
            }
            200 => {}
            other => {
                let detail = format!("fetching it failed: {}", status_text(other));
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
        // Kept for the other steps on the same manifest (verified bytes, immutable by digest).
        self.known
            .insert(digest.clone(), (media_type.clone(), r.body.clone()));
        self.journal_and_delete(s, r.body.clone(), media_type);
    }

    /// Journals the step's manifest (bytes checked against its digest) and queues its
    /// deletion.
    pub(super) fn journal_and_delete(
        &mut self,
        s: usize,
        bytes: Vec<u8>,
        media_type: Option<String>,
    ) {
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
        // GHCR deletes the package version that holds the manifest: known from the
        // re-listing, or the manifest is in no version any more.
        let version = if self.flavour == Flavour::Ghcr && step.kind != ActionType::Untag {
            let id = self.repos[&step.repo].version_ids.get(&digest).copied();
            let Some(id) = id else {
                let detail = "no package version holds it any more".into();
                return self.end(s, OutcomeKind::AlreadyGone, detail);
            };
            Some(self.gh.version_url(&step.repo, id))
        } else {
            None
        };
        let attempted = self.wall_clock();
        let step = &mut self.steps[s];
        step.journalled.clone_from(&tags);
        self.journal.push(JournalEntry {
            plan: self.plan_digest.clone(),
            run: self.opts.run_id.clone(),
            registry: Some(self.opts.registry.clone()),
            repository: step.repo.clone(),
            digest,
            media_type,
            manifest: text,
            tags,
            version,
            attempted,
        });
        step.journal_open = true;
        step.state = StepState::Deleting;
        if self.flavour == Flavour::Ghcr && self.steps[s].kind == ActionType::Untag {
            if let Some(why) = self.gh_last_tag(s) {
                return self.end(s, OutcomeKind::Skipped, why);
            }
        }
        let placeholder_untag = matches!(self.flavour, Flavour::Oci | Flavour::Ghcr);
        let next = if self.flavour == Flavour::DockerHub && !self.steps[s].journalled.is_empty() {
            // Docker Hub deletes tags through its own API, and a manifest only once no tag
            // references it: its tags go first.
            Job::HubUntag(s, 0)
        } else if placeholder_untag && self.steps[s].kind == ActionType::Untag {
            if self.repos[&self.steps[s].repo].empty_blob {
                Job::Placeholder(s)
            } else {
                Job::UploadStart(s)
            }
        } else {
            Job::Delete(s)
        };
        self.queue.push_back((next, 1, 0.0));
    }

    /// Docker Hub: `DELETE /v2/repositories/{namespace}/{repository}/tags/{tag}/` on Hub's API.
    pub(super) fn hub_untag_request(&self, id: u64, s: usize, i: usize) -> Request {
        let st = &self.steps[s];
        let api = crate::http::hub::api_base(self.opts.hub_api.as_deref());
        let tag = st
            .journalled
            .get(i)
            .map(ToString::to_string)
            .unwrap_or_default();
        Request {
            id,
            method: Method::Delete,
            path: format!("{api}/v2/repositories/{}/tags/{tag}/", st.repo),
            headers: crate::http::hub::api_headers(),
            scope: crate::http::HUB_API_SCOPE.to_owned(),
            body: None,
        }
    }

    /// A tag deleted through Hub's API: the next one, then the manifest (an untag ends here).
    #[inline(never)]
    pub(super) fn hub_untagged(&mut self, s: usize, i: usize, r: &Response) {
        let tags = self.steps[s].journalled.clone();
        if !matches!(r.status, 200 | 202 | 204 | 404) {
            let e = crate::http::hub::refused(r, "deleting a tag");
            let done: Vec<&str> = tags[..i].iter().map(TagName::as_str).collect();
            let detail = if done.is_empty() {
                format!("its tag {:?} could not be deleted: {e}", tags[i].as_str())
            } else {
                format!(
                    "partly done: the tags {done:?} were deleted, {:?} could not be ({e}); the journal can put them back",
                    tags[i].as_str()
                )
            };
            return self.fail(s, detail);
        }
        if i + 1 < tags.len() {
            return self.queue.push_back((Job::HubUntag(s, i + 1), 1, 0.0));
        }
        if self.steps[s].kind == ActionType::Untag {
            let detail = "untagged through Docker Hub's API (the manifest stays)".into();
            return self.end(s, OutcomeKind::Done, detail);
        }
        self.queue.push_back((Job::Delete(s), 1, 0.0));
    }

    /// The steps of a Distribution untag: upload `{}`, point the tag at a placeholder, delete
    /// the placeholder.
    #[inline(never)]
    pub(super) fn untag_step(&mut self, job: &Job, r: &Response) {
        match *job {
            Job::UploadStart(s) => match (r.status, r.header("location")) {
                (202, Some(loc)) => match crate::http::link::same_host(loc, &self.opts.registry) {
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
                201 | 204 => {
                    let repo = self.steps[s].repo.clone();
                    self.repos.entry(repo).or_default().empty_blob = true;
                    self.queue.push_back((Job::Placeholder(s), 1, 0.0));
                }
                status => self.fail(
                    s,
                    format!("untag: uploading the placeholder config failed: HTTP {status}"),
                ),
            },
            Job::Placeholder(s) => match r.status {
                201 => {
                    let body = self.placeholder(s);
                    self.steps[s].placeholder = Some(Digest::sha256(body.as_bytes()));
                    // GHCR deletes the placeholder's version, whose id a listing tells.
                    let next = if self.flavour == Flavour::Ghcr {
                        Job::GhFind(s, 1)
                    } else {
                        Job::Delete(s)
                    };
                    self.queue.push_back((next, 1, 0.0));
                }
                status => self.fail(
                    s,
                    format!("untag: moving the tag to a placeholder failed: HTTP {status}"),
                ),
            },
            _ => {}
        }
    }

    /// A repeated `DELETE` answered 404: whether the step's tags really went (`Verify`, a
    /// page of the tag list), and the repair of an interrupted untag (`Repush`).
    #[inline(never)]
    pub(super) fn verified(&mut self, job: &Job, s: usize, r: &Response) {
        if let Job::Repush(_) = job {
            return match r.status {
                201 => self.queue.push_back((Job::Delete(s), 1, 0.0)),
                other => self.fail(
                    s,
                    format!(
                        "the untag was cut off, and pushing its placeholder again failed: {}",
                        status_text(other)
                    ),
                ),
            };
        }
        let fail = |why: String| {
            format!("a repeated DELETE answered 404, and whether its tags went could not be verified: {why}")
        };
        if r.status == 404 && crate::http::name_unknown(&r.body) {
            // The repository has no tag left at all: none of its tags either.
            let detail =
                "deleted (a repeated DELETE answered 404; the repository has no tags left)";
            return self.end(s, OutcomeKind::Done, detail.into());
        }
        if r.status != 200 {
            return self.fail(s, fail(status_text(r.status)));
        }
        let Ok(list) = serde_json::from_slice::<TagList>(&r.body) else {
            return self.fail(s, fail("the tag list could not be read".into()));
        };
        let step = &self.steps[s];
        let left: Vec<String> = list
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter(|t| step.journalled.contains(t))
            .map(|t| t.to_string())
            .collect();
        if !left.is_empty() {
            let left = left.join(", ");
            if step.placeholder.is_some() && step.repairs == 0 {
                // The placeholder is ours: pushed again by digest, it makes the tag resolve
                // again, and deleting it takes the tag along.
                self.steps[s].repairs += 1;
                return self.queue.push_back((Job::Repush(s), 1, 0.0));
            }
            return self.fail(s, format!("the registry answered 404 to a repeated DELETE but still lists the tag(s) {left}: the delete was cut off half done and they may point at nothing; `regprune undo` with the journal puts the manifest back"));
        }
        let mut pages = std::mem::take(&mut self.steps[s].verify_pages);
        let next = super::recheck::next_page(&self.opts, &mut pages, r, 1);
        self.steps[s].verify_pages = pages;
        match next {
            Ok(Some(next)) => self.queue.push_back((Job::Verify(s, next), 1, 0.0)),
            Ok(None) => self.end(
                s,
                OutcomeKind::Done,
                "deleted (a repeated DELETE answered 404; the tag list confirms its tags went)"
                    .into(),
            ),
            Err(why) => self.fail(s, fail(why)),
        }
    }
}
