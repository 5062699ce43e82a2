//! ACR: the re-listing of a repository's manifests (each with its tags, its lock and, on ACR
//! itself, an index's children) and, where the plan untags, of its tags with their locks,
//! made just before the repository's deletions: the listing answers each target's drift check.
//! A target the listing says nothing about (no attributes) is re-checked on its own.

#[allow(clippy::wildcard_imports)] // one type split over files by concern
use super::*;

impl Execute {
    /// ACR: a page of a repository's manifests, with the children of each index.
    #[inline(never)]
    pub(super) fn acr_listed(&mut self, repo: RepositoryName, r: &Response) {
        #[derive(Deserialize)]
        struct Page {
            manifests: Option<Vec<Listed>>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Listed {
            digest: Digest,
            #[serde(default)]
            references: Vec<Child>,
            #[serde(default)]
            tags: Vec<TagName>,
            #[serde(default)]
            changeable_attributes: Option<crate::snapshot::ChangeableAttributes>,
        }
        #[derive(Deserialize)]
        struct Child {
            digest: Digest,
        }
        let page: Page = match self.acr_page(&repo, r, "manifest") {
            AcrPage::Read(page) => page,
            AcrPage::Gone => {
                // The repository is gone: nothing lists a planned manifest there.
                self.repos.entry(repo).or_default().listed = true;
                return;
            }
            AcrPage::Ended => return,
        };
        let manifests = page.manifests.unwrap_or_default();
        let added = manifests.len();
        let rs = self.repos.entry(repo.clone()).or_default();
        for m in manifests {
            for t in &m.tags {
                rs.point(t, Some(&m.digest));
            }
            rs.acr_manifests
                .insert(m.digest.clone(), m.changeable_attributes);
            for c in m.references {
                let by = rs.listed_by.entry(c.digest).or_default();
                if !by.contains(&m.digest) {
                    by.push(m.digest.clone());
                }
            }
        }
        if self.acr_next(&repo, r, added, Job::AcrManifests) {
            self.repos.entry(repo).or_default().listed = true;
        }
    }

    /// A page of an ACR listing of `repo` (`what`: manifest or tag), read: `Gone` when the
    /// repository is (`NAME_UNKNOWN`), `Ended` when the repository was or is now
    /// unverifiable (any other status, a body that cannot be read).
    fn acr_page<T: serde::de::DeserializeOwned>(
        &mut self,
        repo: &RepositoryName,
        r: &Response,
        what: &str,
    ) -> AcrPage<T> {
        if self.repos.get(repo).is_some_and(|rs| rs.unknown.is_some()) {
            return AcrPage::Ended;
        }
        if r.status == 404 && crate::http::name_unknown(&r.body) {
            return AcrPage::Gone;
        }
        let why = if r.status == 200 {
            match serde_json::from_slice(&r.body) {
                Ok(page) => return AcrPage::Read(page),
                Err(e) => format!("its {what} listing could not be read: {e}"),
            }
        } else {
            format!("listing its {what}s answered {}", status_text(r.status))
        };
        self.unverifiable(repo, &why);
        AcrPage::Ended
    }

    /// The next page of an ACR listing is queued (`job`); true when the listing is complete.
    /// A listing that cannot be trusted to end makes the repository unverifiable.
    fn acr_next(
        &mut self,
        repo: &RepositoryName,
        r: &Response,
        added: usize,
        job: fn(RepositoryName, String) -> Job,
    ) -> bool {
        match self.next_page(repo, r, added) {
            Ok(Some(path)) => self.queue.push_back((job(repo.clone(), path), 1, 0.0)),
            Ok(None) => return true,
            Err(why) => self.unverifiable(repo, &why),
        }
        false
    }

    /// ACR: the target's current tags and locks, right before deleting it.
    #[inline(never)]
    pub(super) fn acr_checked(&mut self, s: usize, r: &Response) {
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
                    format!("re-checking it failed: {}", status_text(other)),
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
        let whole_tags = &self.repos[&step.repo].whole_tags;
        let planned = |t: &TagName| {
            if step.whole_repository {
                whole_tags.contains(t)
            } else {
                step.tags.contains(t)
            }
        };
        if step.kind == ActionType::Untag {
            if item.digest != step.digest {
                let detail = match item.digest {
                    Some(now) => format!("drift: the tag moved to {now} since the plan"),
                    None => {
                        "not deleted: the registry did not say which manifest the tag points at now"
                            .into()
                    }
                };
                return self.end(s, OutcomeKind::Skipped, detail);
            }
        } else if let Some(extra) = item.tags.iter().find(|t| !planned(t)) {
            return self.end(
                s,
                OutcomeKind::Skipped,
                format!(
                    "drift: the tag {:?} now points at it, and the plan does not delete that tag",
                    extra.as_str()
                ),
            );
        }
        if step.kind != ActionType::Untag {
            // What the journal restores: the tags it has now, every one of them planned.
            self.steps[s].tags = item.tags;
        }
        self.acr_proceed(s, item.changeable_attributes.as_ref());
    }

    /// A checked target's lock: skipped when locked (unless the plan unlocks it: `PATCH`
    /// first), else journalled and deleted.
    fn acr_proceed(
        &mut self,
        s: usize,
        attributes: Option<&crate::snapshot::ChangeableAttributes>,
    ) {
        let locked = attributes.and_then(crate::snapshot::ChangeableAttributes::lock);
        match (locked, self.steps[s].unlock) {
            (Some(l), false) => self.end(
                s,
                OutcomeKind::Skipped,
                format!("drift: it is locked now ({l})"),
            ),
            (Some(_), true) => self.queue.push_back((Job::Unlock(s), 1, 0.0)),
            (None, _) => self.fetch(s),
        }
    }

    /// A target whose drift checks passed on the re-listing (`precheck`: its tags now, a tag's
    /// manifest now): its lock from the listing too, or one `GET` of its attributes where the
    /// listing did not carry them.
    pub(super) fn acr_ready(&mut self, s: usize) {
        let step = &self.steps[s];
        let rs = &self.repos[&step.repo];
        let listed = match (step.kind, &step.tag, &step.digest) {
            (ActionType::Untag, Some(tag), _) => rs.acr_tags.get(tag),
            (_, _, Some(digest)) => rs.acr_manifests.get(digest),
            _ => None,
        };
        match listed {
            Some(Some(attributes)) => {
                let attributes = *attributes;
                if let (ActionType::DeleteManifest | ActionType::DeleteRepository, Some(d)) =
                    (step.kind, &step.digest)
                {
                    // What the journal restores: the tags it has now (each one planned, as
                    // `precheck` made sure).
                    let tags = rs.tags_at(d).cloned().collect();
                    self.steps[s].tags = tags;
                }
                self.acr_proceed(s, Some(&attributes));
            }
            Some(None) => self.queue.push_back((Job::AcrCheck(s), 1, 0.0)),
            None if step.kind == ActionType::Untag => {
                // The tags were not listed (or this one not among them): ask the tag itself.
                self.queue.push_back((Job::AcrCheck(s), 1, 0.0));
            }
            None => self.end(
                s,
                OutcomeKind::AlreadyGone,
                "not in the registry any more (its repository's listing does not name it)".into(),
            ),
        }
    }

    /// Queues the listing of the repository's tags when the plan untags there.
    pub(super) fn acr_list_tags(&mut self, repo: &RepositoryName) {
        let untags = self.repos.get(repo).is_some_and(|rs| {
            rs.steps
                .iter()
                .any(|&i| self.steps[i].kind == ActionType::Untag)
        });
        if untags {
            if let Some(rs) = self.repos.get_mut(repo) {
                rs.pending_heads += 1;
            }
            let path = format!("/acr/v1/{repo}/_tags?n=100");
            self.queue
                .push_back((Job::AcrTags(repo.clone(), path), 1, 0.0));
        }
    }

    /// ACR: a page of a repository's tags, with each tag's attributes.
    #[inline(never)]
    pub(super) fn acr_tags_listed(&mut self, repo: RepositoryName, r: &Response) {
        #[derive(Deserialize)]
        struct Page {
            tags: Option<Vec<Listed>>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Listed {
            name: TagName,
            #[serde(default)]
            changeable_attributes: Option<crate::snapshot::ChangeableAttributes>,
        }
        let complete = match self.acr_page::<Page>(&repo, r, "tag") {
            AcrPage::Read(page) => {
                let tags = page.tags.unwrap_or_default();
                let added = tags.len();
                let rs = self.repos.entry(repo.clone()).or_default();
                for t in tags {
                    rs.acr_tags.insert(t.name, t.changeable_attributes);
                }
                self.acr_next(&repo, r, added, Job::AcrTags)
            }
            // The repository is gone: no tag is there (its manifest listing says so too).
            AcrPage::Gone => true,
            AcrPage::Ended => false,
        };
        if complete {
            let rs = self.repos.entry(repo).or_default();
            rs.pending_heads = rs.pending_heads.saturating_sub(1);
        }
    }
}

/// An ACR listing page, read or not.
enum AcrPage<T> {
    Read(T),
    /// The repository is gone (`NAME_UNKNOWN`).
    Gone,
    /// Nothing more to do with it: the repository is unverifiable.
    Ended,
}
