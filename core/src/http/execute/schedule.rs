//! Which step may run: a repository's phases in order, the drift and dependency checks
//! before each step, and the steps that wait for an index to go.

#[allow(clippy::wildcard_imports)] // one type split over files by concern
use super::*;

impl Execute {
    /// Moves waiting steps whose turn has come into the queue. Runs only after something
    /// changed, and only for the repositories touched since: a plan can hold many thousands
    /// of steps, and each response should cost the work it unblocks.
    pub(super) fn schedule(&mut self) {
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
    /// the rest), and for the deletion of every index that lists it: the steps of the lowest
    /// phase with work left are checked and queued.
    pub(super) fn schedule_repo(&mut self, repo: &RepositoryName) {
        let Some(rs) = self.repos.get_mut(repo) else {
            return;
        };
        if !rs.listed || rs.pending_heads > 0 {
            return;
        }
        // Steps whose awaited index ended, and the next untag when none runs.
        let mut again = std::mem::take(&mut rs.deferred);
        if rs.untag_running.is_none() {
            again.extend(rs.untags_waiting.pop_front());
        }
        for i in again {
            self.try_start(i);
        }
        loop {
            let Some(rs) = self.repos.get_mut(repo) else {
                return;
            };
            // A parked step waits for an index, possibly of a later phase: it does not hold
            // its own phase.
            while rs.first_open < rs.steps.len()
                && matches!(
                    self.steps[rs.steps[rs.first_open]].state,
                    StepState::Finished(..) | StepState::Parked
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
                self.try_start(i);
            }
            // Steps ended by their checks may have finished the phase: look again.
        }
    }

    /// Checks step `i` and starts it, ends it, or parks it until what it waits for ends.
    pub(super) fn try_start(&mut self, i: usize) {
        if !matches!(self.steps[i].state, StepState::Waiting | StepState::Parked) {
            return;
        }
        match self.precheck(i) {
            Check::End(kind, detail) => self.end(i, kind, detail),
            Check::Wait(on) => {
                self.steps[i].state = StepState::Parked;
                let rs = self.repos.entry(self.steps[i].repo.clone()).or_default();
                rs.waiting_on.entry(on).or_default().push(i);
            }
            Check::Ready => {
                let oci_untag =
                    self.flavour != Flavour::Acr && self.steps[i].kind == ActionType::Untag;
                if oci_untag {
                    let rs = self.repos.entry(self.steps[i].repo.clone()).or_default();
                    if rs.untag_running.is_some_and(|r| r != i) {
                        rs.untags_waiting.push_back(i);
                        return;
                    }
                    rs.untag_running = Some(i);
                }
                self.steps[i].state = StepState::Fetching;
                if self.flavour == Flavour::Acr {
                    self.acr_ready(i);
                } else {
                    self.fetch(i);
                }
            }
        }
    }

    /// The repository's steps on manifest `d`.
    pub(super) fn steps_of<'a>(
        &'a self,
        rs: &'a RepoState,
        d: &Digest,
    ) -> impl Iterator<Item = &'a Step> {
        rs.by_digest
            .get(d)
            .into_iter()
            .flatten()
            .map(|&o| &self.steps[o])
    }

    /// Drift and dependency checks before a step may run.
    pub(super) fn precheck(&self, i: usize) -> Check {
        let s = &self.steps[i];
        let rs = &self.repos[&s.repo];
        if let Some(why) = &rs.unknown {
            return Check::End(
                OutcomeKind::Skipped,
                format!("not deleted: the repository could not be re-checked ({why})"),
            );
        }
        // ACR's re-listing names each manifest's tags too: the same checks hold there.
        if s.kind == ActionType::Untag {
            let (Some(tag), Some(digest)) = (&s.tag, &s.digest) else {
                return Check::Ready;
            };
            return match rs.current.get(tag) {
                None | Some(None) => Check::End(
                    OutcomeKind::AlreadyGone,
                    "the tag is not there any more".into(),
                ),
                Some(Some(now)) if now != digest => Check::End(
                    OutcomeKind::Skipped,
                    format!("drift: the tag moved to {now} since the plan"),
                ),
                Some(Some(_)) => Check::Ready,
            };
        }
        let same_digest = |d: &Digest| self.steps_of(rs, d);
        let Some(digest) = s.digest.as_ref() else {
            return Check::Ready;
        };
        if let Some(check) = self.index_check(i, digest) {
            return check;
        }
        let planned = |tag: &TagName| {
            if s.whole_repository {
                rs.whole_tags.contains(tag)
            } else {
                s.tags.contains(tag)
            }
        };
        for tag in rs.tags_at(digest) {
            if planned(tag) {
                continue;
            }
            let untag_planned = rs.steps.iter().any(|&o| {
                let o = &self.steps[o];
                o.kind == ActionType::Untag && o.tag.as_ref() == Some(tag)
            });
            let detail = if untag_planned {
                format!("its tag {tag:?} is still there: the plan's untag of it did not succeed")
            } else {
                format!(
                    "drift: the tag {tag:?} now points at it, and the plan does not delete that tag"
                )
            };
            return Check::End(OutcomeKind::Skipped, detail);
        }
        // A referrer attached by the tag convention (`sha256-<hex>.sig`) since the plan: it
        // would be left pointing at nothing.
        let referrer_tag = format!("sha256-{}", digest.encoded());
        let from = TagName::parse(&referrer_tag);
        for (tag, now) in from.iter().flat_map(|from| rs.current.range(from..)) {
            if !tag.as_str().starts_with(&referrer_tag) {
                break;
            }
            // A tag that points at nothing now (untagged by the plan, or gone since it was
            // listed) refers to nothing.
            let Some(now) = now else {
                continue;
            };
            let goes = same_digest(now).any(|o| o.kind != ActionType::Untag);
            if !goes {
                return Check::End(OutcomeKind::Skipped, format!("drift: {tag:?} (a signature, SBOM or attestation by tag) refers to it now, and the plan does not delete it"));
            }
        }
        if !s.whole_repository {
            for tag in &s.tags {
                match rs.current.get(tag) {
                    Some(Some(d)) if d != digest => {
                        return Check::End(
                            OutcomeKind::Skipped,
                            format!("drift: the tag {tag:?} moved to {d} since the plan"),
                        );
                    }
                    _ => {}
                }
            }
        }
        Check::Ready
    }

    /// Every index that lists step `i`'s manifest must be gone first, whatever the reason it
    /// was planned: a child goes only once its index actually went.
    pub(super) fn index_check(&self, i: usize, digest: &Digest) -> Option<Check> {
        let s = &self.steps[i];
        let rs = &self.repos[&s.repo];
        let same_digest = |d: &Digest| self.steps_of(rs, d);
        if let Some(parent) = &s.after {
            let parent_ok = same_digest(parent).any(|p| {
                matches!(
                    p.state,
                    StepState::Finished(OutcomeKind::Done | OutcomeKind::AlreadyGone, _)
                )
            });
            if !parent_ok {
                return Some(Check::End(
                    OutcomeKind::Skipped,
                    format!(
                        "its index {parent} was not deleted, so deleting it could break that index"
                    ),
                ));
            }
        }
        for index in rs.listed_by.get(digest).into_iter().flatten() {
            let deletes = || same_digest(index).filter(|o| o.kind != ActionType::Untag);
            if deletes().next().is_none() {
                return Some(Check::End(OutcomeKind::Skipped, format!("drift: the index {index}, which stays, lists it now; deleting it would break that index")));
            }
            let gone = deletes().any(|o| {
                matches!(
                    o.state,
                    StepState::Finished(OutcomeKind::Done | OutcomeKind::AlreadyGone, _)
                )
            });
            if gone {
                continue;
            }
            if deletes().any(|o| !matches!(o.state, StepState::Finished(..))) {
                return Some(Check::Wait(index.clone()));
            }
            return Some(Check::End(
                OutcomeKind::Skipped,
                format!("its index {index} was not deleted, so deleting it could break that index"),
            ));
        }
        None
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
