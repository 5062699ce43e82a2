//! ACR: the re-listing of a repository's manifests (with each index's children) and the
//! re-check of each target's tags and locks right before it is deleted.

#[allow(clippy::wildcard_imports)] // one type split over files by concern
use super::*;

impl Execute {
    /// ACR: a page of a repository's manifests, with the children of each index.
    #[inline(never)]
    pub(super) fn acr_listed(&mut self, repo: RepositoryName, _path: &str, r: &Response) {
        #[derive(Deserialize)]
        struct Page {
            manifests: Option<Vec<Listed>>,
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
        if self.repos.get(&repo).is_some_and(|rs| rs.unknown.is_some()) {
            return;
        }
        if r.status == 404 && crate::http::name_unknown(&r.body) {
            // The repository is gone: nothing lists a planned manifest there.
            self.repos.entry(repo).or_default().listed = true;
            return;
        }
        if r.status != 200 {
            let why = format!("listing its manifests answered {}", status_text(r.status));
            return self.unverifiable(&repo, &why);
        }
        let page: Page = match serde_json::from_slice(&r.body) {
            Ok(page) => page,
            Err(e) => {
                let why = format!("its manifest listing could not be read: {e}");
                return self.unverifiable(&repo, &why);
            }
        };
        let manifests = page.manifests.unwrap_or_default();
        let added = manifests.len();
        let rs = self.repos.entry(repo.clone()).or_default();
        for m in manifests {
            for c in m.references {
                let by = rs.listed_by.entry(c.digest).or_default();
                if !by.contains(&m.digest) {
                    by.push(m.digest.clone());
                }
            }
        }
        match self.next_page(&repo, r, added) {
            Ok(Some(path)) => self
                .queue
                .push_back((Job::AcrManifests(repo, path), 1, 0.0)),
            Ok(None) => self.repos.entry(repo).or_default().listed = true,
            Err(why) => self.unverifiable(&repo, &why),
        }
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
        let locked = item
            .changeable_attributes
            .as_ref()
            .and_then(crate::snapshot::ChangeableAttributes::lock);
        let unlock = step.unlock;
        if step.kind != ActionType::Untag {
            // What the journal restores: the tags it has now, every one of them planned.
            self.steps[s].tags = item.tags;
        }
        let next = match (locked, unlock) {
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
}
