//! The re-listing of a repository right before its deletions (OCI): tags and the manifest
//! each points at, tagged indexes and the indexes the plan deletes, and bounded pagination.

#[allow(clippy::wildcard_imports)] // one type split over files by concern
use super::*;

impl Execute {
    /// The re-listing of a repository: OCI tags and each tag's digest (and tagged indexes);
    /// ACR manifests with each index's children.
    // This and the other handlers of rare answers stay out of `handle`, which runs for every
    // response: in WebAssembly, V8 optimizes a function whole once it is hot, rare branches
    // and all (the Makefile's wasm-opt keeps them apart too).
    #[inline(never)]
    pub(super) fn listed(&mut self, job: Job, r: &Response) {
        match job {
            Job::AcrManifests(repo, _) => self.acr_listed(repo, r),
            Job::AcrTags(repo, _) => self.acr_tags_listed(repo, r),
            Job::Tags(repo, _) => self.tags_listed(repo, r),
            Job::HeadTag(repo, tag) => {
                let rs = self.repos.entry(repo.clone()).or_default();
                if rs.unknown.is_some() {
                    return;
                }
                rs.pending_heads = rs.pending_heads.saturating_sub(1);
                let d = match r.status {
                    // Deleted since it was listed: it points at nothing.
                    404 => None,
                    200 => {
                        let d = r.header("docker-content-digest").and_then(Digest::parse);
                        if d.is_none() {
                            let why =
                                format!("the tag {tag:?} answered without a Docker-Content-Digest");
                            self.unverifiable(&repo, &why);
                            return;
                        }
                        d
                    }
                    other => {
                        let why = format!("the tag {tag:?} answered {}", status_text(other));
                        self.unverifiable(&repo, &why);
                        return;
                    }
                };
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
                let rs = self.repos.entry(repo.clone()).or_default();
                if rs.unknown.is_some() {
                    return;
                }
                rs.pending_heads = rs.pending_heads.saturating_sub(1);
                if r.status != 200 {
                    let why = format!("the index {index} answered {}", status_text(r.status));
                    self.unverifiable(&repo, &why);
                    return;
                }
                if index.recompute(&r.body).as_ref() != Some(&index) {
                    let why = format!(
                        "the registry served bytes for the index {index} that do not hash to it"
                    );
                    self.unverifiable(&repo, &why);
                    return;
                }
                if let Err(why) = self.record_children(&repo, &index, &r.body) {
                    self.unverifiable(&repo, &why);
                    return;
                }
                if self.deletes.contains(&index) && !self.known.contains_key(&index) {
                    // Fetched already: its deletion's journal needs no second GET.
                    let media_type = r.header("content-type").map(str::to_owned);
                    self.known.insert(index, (media_type, r.body.clone()));
                }
            }
            _ => {}
        }
    }

    /// The manifests `index` lists, recorded as waiting for it (bytes already checked
    /// against the digest). Bytes that are not a manifest's JSON are an error: they cannot
    /// say what they list.
    pub(super) fn record_children(
        &mut self,
        repo: &RepositoryName,
        index: &Digest,
        bytes: &[u8],
    ) -> std::result::Result<(), String> {
        #[derive(Deserialize)]
        struct Index {
            #[serde(default)]
            manifests: Vec<Child>,
        }
        #[derive(Deserialize)]
        struct Child {
            digest: Digest,
        }
        let doc: Index = serde_json::from_slice(bytes)
            .map_err(|e| format!("the manifest {index} could not be read: {e}"))?;
        let rs = self.repos.entry(repo.clone()).or_default();
        for c in doc.manifests {
            let by = rs.listed_by.entry(c.digest).or_default();
            if !by.contains(index) {
                by.push(index.clone());
            }
        }
        Ok(())
    }

    /// The repository's re-listing is complete: the indexes the plan deletes there are read
    /// too (from the handed-over bytes, or one `GET` that the journal then reuses), so a
    /// manifest one of them lists goes only after it, whatever the reason it was planned.
    pub(super) fn check_planned_indexes(&mut self, repo: &RepositoryName) {
        let Some(rs) = self.repos.get(repo) else {
            return;
        };
        let mut wanted: Vec<Digest> = Vec::new();
        for &i in &rs.steps {
            let st = &self.steps[i];
            let maybe_index = st
                .media_type
                .as_deref()
                .is_none_or(|m| m.contains("index") || m.contains("list"));
            if let (ActionType::DeleteManifest | ActionType::DeleteRepository, Some(d), true) =
                (st.kind, &st.digest, maybe_index)
            {
                if !rs.indexes.contains(d) && !wanted.contains(d) {
                    wanted.push(d.clone());
                }
            }
        }
        for d in wanted {
            let rs = self.repos.entry(repo.clone()).or_default();
            rs.indexes.insert(d.clone());
            let known = self.known.get(&d).map(|(_, bytes)| bytes.clone());
            if let Some(bytes) = known {
                if let Err(why) = self.record_children(repo, &d, &bytes) {
                    return self.unverifiable(repo, &why);
                }
            } else {
                rs.pending_heads += 1;
                self.queue
                    .push_back((Job::IndexCheck(repo.clone(), d), 1, 0.0));
            }
        }
    }

    /// Records a page of a repository's re-listing; `Err` says why it cannot be trusted to end.
    pub(super) fn next_page(
        &mut self,
        repo: &RepositoryName,
        r: &Response,
        added: usize,
    ) -> std::result::Result<Option<String>, String> {
        let rs = self.repos.entry(repo.clone()).or_default();
        next_page(&self.opts, &mut rs.pages, r, added)
    }

    /// A page of an OCI repository's tag list: each tag is resolved with a `HEAD`.
    pub(super) fn tags_listed(&mut self, repo: RepositoryName, r: &Response) {
        if self.repos.get(&repo).is_some_and(|rs| rs.unknown.is_some()) {
            return;
        }
        if r.status == 404 && crate::http::name_unknown(&r.body) {
            // Distribution's answer for a repository without a single tag (its manifests were
            // pushed by digest) as much as for one that does not exist: no tags either way.
            // A bare 404 (a proxy's page, an empty body) says nothing: it is not taken.
            self.repos.entry(repo.clone()).or_default().listed = true;
            return self.check_planned_indexes(&repo);
        }
        if r.status != 200 {
            let why = format!("listing its tags answered {}", status_text(r.status));
            return self.unverifiable(&repo, &why);
        }
        let list: TagList = match crate::field::from_json(&r.body) {
            Ok(list) => list,
            Err(e) => {
                let why = format!(
                    "its tag list could not be read: {}",
                    e.under(&format!("{repo} tags"))
                );
                return self.unverifiable(&repo, &why);
            }
        };
        let tags = list.tags.unwrap_or_default();
        let rs = self.repos.entry(repo.clone()).or_default();
        let mut added = 0;
        for t in tags {
            if rs.current.contains_key(&t) {
                continue;
            }
            added += 1;
            rs.pending_heads += 1;
            rs.point(&t, None);
            self.queue
                .push_back((Job::HeadTag(repo.clone(), t), 1, 0.0));
        }
        match self.next_page(&repo, r, added) {
            Ok(Some(next)) => self.queue.push_back((Job::Tags(repo, next), 1, 0.0)),
            Ok(None) => {
                self.repos.entry(repo.clone()).or_default().listed = true;
                self.check_planned_indexes(&repo);
            }
            Err(why) => self.unverifiable(&repo, &why),
        }
    }
}

/// The next page of a listing, recorded in `pages`; `Err` says why the listing cannot be
/// trusted to end: a repeated page, a page that adds nothing and still points on, or past
/// the page cap.
pub(super) fn next_page(
    opts: &ExecuteOptions,
    pages: &mut Set<String>,
    r: &Response,
    added: usize,
) -> std::result::Result<Option<String>, String> {
    let next = next_link(r.header("link"), &opts.registry).map_err(|e| e.to_string())?;
    let Some(next) = next else {
        return Ok(None);
    };
    let max = opts.max_pages as usize;
    if added == 0 {
        return Err(format!(
            "a page of a listing added nothing and points on to {next:?}"
        ));
    }
    if !pages.insert(next.clone()) {
        return Err(format!("a listing loops: {next:?} was already listed"));
    }
    if pages.len() >= max {
        return Err(format!("a listing goes past {max} pages"));
    }
    Ok(Some(next))
}
