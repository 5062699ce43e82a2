//! GHCR: a manifest is deleted by deleting the package version that holds it, through the
//! GitHub REST API; a tag is removed as on Distribution, by pushing a placeholder manifest under
//! it (on ghcr.io: a new version that takes the tag), and then deleting the placeholder's
//! version, found by its digest in a listing and checked to carry only that tag. Each package is re-listed (its versions, with ids and tags) right before
//! its deletions; each tag is then resolved on ghcr.io like any registry's, so drift, tagged
//! indexes and the order of a deleted index's children are checked as on Distribution. A
//! version is deleted by the id the re-listing gives its manifest (never the plan's), `404`
//! means already gone, and GHCR's refusals (the last tagged version, a public version past the
//! download limit) end the step as refused, with GitHub's words. Rate limits are honoured, and
//! no more deletions a minute are sent than GitHub's secondary limit allows.

use std::collections::VecDeque;

#[allow(clippy::wildcard_imports)] // one type split over files by concern
use super::*;
use crate::http::ghcr::{api_headers, encode, Owner, User, Version, PER_PAGE};
use crate::http::GITHUB_API_SCOPE;

/// GHCR's side of an execution.
#[derive(Default)]
pub(super) struct GhExec {
    api: String,
    /// Each owner's REST path (`/orgs/x`, `/users/x`, `/user`), `None` until known.
    owners: BTreeMap<String, Option<String>>,
    /// When each of the last minute's deletions was sent.
    sent: VecDeque<f64>,
}

impl GhExec {
    /// Every owner's REST path is known (or given up).
    pub(super) fn ready(&self) -> bool {
        !self.api.is_empty() && self.owners.values().all(Option::is_some)
    }

    pub(super) fn resolved(&mut self, owner: &str, path: Option<String>) {
        // An owner given up on keeps an empty path: its steps have ended already.
        self.owners
            .insert(owner.to_owned(), Some(path.unwrap_or_default()));
    }

    fn base(&self, repo: &RepositoryName) -> (String, String) {
        let (owner, package) = repo.as_str().split_once('/').unwrap_or((repo.as_str(), ""));
        let path = self
            .owners
            .get(owner)
            .cloned()
            .flatten()
            .unwrap_or_default();
        (format!("{}{path}", self.api), encode(package))
    }

    /// The REST URL of a package version.
    pub(super) fn version_url(&self, repo: &RepositoryName, id: u64) -> String {
        let (base, package) = self.base(repo);
        format!("{base}/packages/container/{package}/versions/{id}")
    }

    /// `None` when a deletion may be sent at `now`; else when it may.
    pub(super) fn write_slot(&mut self, now: f64, per_minute: u32) -> Option<f64> {
        while self.sent.front().is_some_and(|&t| now - t >= 60.0) {
            self.sent.pop_front();
        }
        if self.sent.len() >= per_minute.max(1) as usize {
            return self.sent.front().map(|t| t + 60.0);
        }
        self.sent.push_back(now);
        None
    }
}

impl Execute {
    /// Finds each owner's REST path first.
    pub(super) fn ghcr_begin(&mut self) {
        self.gh.api =
            crate::http::ghcr::api_base(self.opts.github_api.as_deref(), &self.opts.registry);
        let owners: std::collections::BTreeSet<String> = self
            .order
            .iter()
            .map(|r| r.as_str().split('/').next().unwrap_or_default().to_owned())
            .collect();
        for owner in owners {
            self.gh.owners.insert(owner.clone(), None);
            self.queue.push_back((Job::GhOwner(owner), 1, 0.0));
        }
    }

    pub(super) fn gh_request(&self, id: u64, job: &Job) -> Request {
        let api = &self.gh.api;
        let (method, url) = match job {
            Job::GhOwner(owner) => (Method::Get, format!("{api}/users/{}", encode(owner))),
            Job::GhUser(_) => (Method::Get, format!("{api}/user")),
            Job::GhVersions(repo, page) => (Method::Get, self.gh_versions_url(repo, *page)),
            Job::GhFind(s, page) => (
                Method::Get,
                self.gh_versions_url(&self.steps[*s].repo, *page),
            ),
            Job::Delete(s) => {
                // An untag deletes its placeholder's version; a deletion the manifest's.
                let st = &self.steps[*s];
                let id = st
                    .placeholder
                    .as_ref()
                    .or(st.digest.as_ref())
                    .and_then(|d| self.repos[&st.repo].version_ids.get(d).copied())
                    .unwrap_or_default();
                (Method::Delete, self.gh.version_url(&st.repo, id))
            }
            _ => (Method::Get, String::new()),
        };
        Request {
            id,
            method,
            path: url,
            headers: api_headers(),
            scope: GITHUB_API_SCOPE.to_owned(),
            body: None,
        }
    }

    fn gh_versions_url(&self, repo: &RepositoryName, page: u32) -> String {
        let (base, package) = self.gh.base(repo);
        format!(
            "{base}/packages/container/{package}/versions?per_page={PER_PAGE}&page={page}&state=active"
        )
    }

    /// GHCR refuses to delete a package's last tagged version, so an untag whose tag is the
    /// package's last one would leave it on the placeholder: such an untag is not started.
    pub(super) fn gh_last_tag(&self, s: usize) -> Option<String> {
        let st = &self.steps[s];
        let rs = &self.repos[&st.repo];
        let others = rs
            .current
            .iter()
            .any(|(t, d)| d.is_some() && Some(t) != st.tag.as_ref());
        (!others).then(|| {
            "not untagged: it is the package's last tag, and GHCR refuses to delete the last tagged version (the placeholder the tag moves to could not be deleted); delete the package instead".to_owned()
        })
    }

    /// A page of the package's versions, looking for the version the untag's placeholder
    /// became: it must carry exactly the untag's tag before it is deleted.
    #[inline(never)]
    pub(super) fn gh_found(&mut self, s: usize, page: u32, r: &Response) {
        let Some(placeholder) = self.steps[s].placeholder.clone() else {
            return;
        };
        let stuck = |why: &str| {
            format!("untag: the tag now points at the placeholder {placeholder}, but {why}; delete that version by hand")
        };
        if r.status != 200 {
            let e = crate::http::ghcr::refused(r, "listing the versions", "read:packages");
            return self.fail(s, stuck(&e.to_string()));
        }
        let Ok(versions) = crate::field::from_json::<Vec<Version>>(&r.body) else {
            return self.fail(s, stuck("the versions could not be read"));
        };
        if versions.is_empty() || page >= self.opts.max_pages {
            return self.fail(s, stuck("no version holds it"));
        }
        if let Some(v) = versions.iter().find(|v| v.name == placeholder) {
            let tag = self.steps[s].tag.clone();
            if v.tags() != tag.as_slice() {
                let why = format!("its version carries the tags {:?}", v.tags());
                return self.fail(s, stuck(&why));
            }
            let repo = self.steps[s].repo.clone();
            let id = v.id;
            self.repos
                .entry(repo)
                .or_default()
                .version_ids
                .insert(placeholder, id);
            return self.queue.push_back((Job::Delete(s), 1, 0.0));
        }
        self.queue.push_back((Job::GhFind(s, page + 1), 1, 0.0));
    }

    #[inline(never)]
    pub(super) fn gh_listed(&mut self, job: Job, r: &Response) {
        match job {
            Job::GhOwner(owner) => {
                let kind = (r.status == 200)
                    .then(|| serde_json::from_slice::<Owner>(&r.body).ok())
                    .flatten();
                match kind {
                    Some(o) if o.kind == "Organization" => {
                        let path = format!("/orgs/{}", encode(&owner));
                        self.gh.resolved(&owner, Some(path));
                    }
                    Some(_) => self.queue.push_back((Job::GhUser(owner), 1, 0.0)),
                    None => {
                        let e = crate::http::ghcr::refused(r, "GitHub API", "read:packages");
                        self.give_up(Job::GhOwner(owner), e.to_string());
                    }
                }
            }
            Job::GhUser(owner) => {
                let me = (r.status == 200)
                    .then(|| serde_json::from_slice::<User>(&r.body).ok())
                    .flatten();
                let own = me.is_some_and(|u| u.login.eq_ignore_ascii_case(&owner));
                let path = if own {
                    "/user".to_owned()
                } else {
                    format!("/users/{}", encode(&owner))
                };
                self.gh.resolved(&owner, Some(path));
            }
            Job::GhVersions(repo, page) => self.gh_versions(repo, page, r),
            _ => {}
        }
    }

    /// A page of a package's versions: each version's id, and each tag resolved on the
    /// registry (a `HEAD`, which also tells a tagged index, whose children are then read).
    fn gh_versions(&mut self, repo: RepositoryName, page: u32, r: &Response) {
        if self.repos.get(&repo).is_some_and(|rs| rs.unknown.is_some()) {
            return;
        }
        if r.status != 200 {
            let e = crate::http::ghcr::refused(r, "listing its versions", "read:packages");
            return self.unverifiable(&repo, &e.to_string());
        }
        let versions: Vec<Version> = match crate::field::from_json(&r.body) {
            Ok(v) => v,
            Err(e) => {
                let why = format!("its versions could not be read: {}", e.under("versions"));
                return self.unverifiable(&repo, &why);
            }
        };
        if versions.is_empty() {
            self.repos.entry(repo.clone()).or_default().listed = true;
            return self.check_planned_indexes(&repo);
        }
        let rs = self.repos.entry(repo.clone()).or_default();
        let mut added = 0;
        for v in versions {
            if rs.version_ids.insert(v.name.clone(), v.id).is_none() {
                added += 1;
            }
            for t in v.tags() {
                if rs.current.contains_key(t) {
                    continue;
                }
                rs.pending_heads += 1;
                rs.point(t, None);
                self.queue
                    .push_back((Job::HeadTag(repo.clone(), t.clone()), 1, 0.0));
            }
        }
        if added == 0 {
            return self.unverifiable(&repo, "a page of its versions added nothing new");
        }
        if page + 1 >= self.opts.max_pages {
            let why = format!("its versions go past {} pages", self.opts.max_pages);
            return self.unverifiable(&repo, &why);
        }
        self.queue
            .push_back((Job::GhVersions(repo, page + 1), 1, 0.0));
    }

    /// The answer to a version's `DELETE`.
    #[inline(never)]
    pub(super) fn gh_deleted(&mut self, s: usize, r: &Response) {
        let says = || {
            #[derive(Deserialize)]
            struct Message {
                message: String,
            }
            serde_json::from_slice::<Message>(&r.body)
                .map(|m| crate::render::escape_controls(&m.message).into_owned())
                .unwrap_or_default()
        };
        let untag = self.steps[s].kind == ActionType::Untag;
        let (kind, detail) = match r.status {
            200 | 202 | 204 if untag => (
                OutcomeKind::Done,
                "untagged: the tag moved to a placeholder version, which was deleted".to_owned(),
            ),
            200 | 202 | 204 => (
                OutcomeKind::Done,
                "deleted (restorable for 30 days)".to_owned(),
            ),
            404 => (
                OutcomeKind::AlreadyGone,
                "already gone when deleted".to_owned(),
            ),
            400 | 422 => (OutcomeKind::Skipped, format!("GHCR refuses: {}", says())),
            _ => {
                let e = crate::http::ghcr::refused(r, "deleting the version", "delete:packages");
                (OutcomeKind::Failed, e.to_string())
            }
        };
        self.end(s, kind, detail);
    }
}
