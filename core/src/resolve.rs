//! The graph rules: from what a request asks for to what can really go.
//!
//! 1. Deleting a manifest drags along its index children and its referrers (by `subject` or
//!    by the `sha256-<hex>[.sig|.att|.sbom]` tag convention): the *candidates*.
//! 2. A candidate is *held* when it is locked (itself, a tag, its repository) or pinned; when
//!    an index that survives lists it; when it was picked by a rule (not named) and a
//!    manifest it refers to survives; or when only a cascade reached it and it has tags of
//!    its own.
//! 3. Holding spreads: a held index holds its children, a held subject holds the referrers a
//!    rule picked. The rules only ever add held items, so a work-list reaches the fixed point
//!    in time linear in the edges.

use std::collections::VecDeque;

use crate::digest::Digest;
use crate::graph::{Graph, Mid};
use crate::hash::{Map, Set};
use crate::plan::{Reason, ReasonCode};
use crate::selection::{reason, Selection};

/// Why a candidate is a candidate.
#[derive(Clone, Copy)]
pub(crate) enum Cause {
    /// The request's entry with this index.
    Requested(usize),
    /// Listed by this index, which is a candidate.
    Child(Mid),
    /// Refers to this manifest, which is a candidate.
    Referrer(Mid),
}

pub(crate) struct Resolution {
    /// Manifests that go.
    pub deleted: Vec<bool>,
    /// The cause of every candidate, by manifest number.
    pub cause: Vec<Option<Cause>>,
    /// Candidates that stay, with why, in the order they were decided.
    pub held: Vec<(Mid, Reason)>,
}

const NONE: u8 = 0;
const CANDIDATE: u8 = 1;
const HELD: u8 = 2;

pub(crate) fn resolve(
    g: &Graph<'_>,
    sel: &Selection,
    pinned: &Set<&Digest>,
    registry: &Map<Mid, Reason>,
) -> Resolution {
    let requests = &sel.requests;
    let mut state = vec![NONE; g.len()];
    let mut cause: Vec<Option<Cause>> = vec![None; g.len()];
    let mut order = Vec::with_capacity(requests.len());
    let mut queue = VecDeque::new();
    for (i, req) in requests.iter().enumerate() {
        if state[req.id as usize] == NONE {
            state[req.id as usize] = CANDIDATE;
            cause[req.id as usize] = Some(Cause::Requested(i));
            order.push(req.id);
            queue.push_back(req.id);
        }
    }
    while let Some(m) = queue.pop_front() {
        let children = if sel.cascade_children {
            g.children.of(m)
        } else {
            &[]
        };
        let next = children.iter().map(|&c| (c, Cause::Child(m)));
        let refs = g.referrers.of(m).iter().map(|&r| (r, Cause::Referrer(m)));
        for (id, why) in next.chain(refs) {
            if state[id as usize] == NONE {
                state[id as usize] = CANDIDATE;
                cause[id as usize] = Some(why);
                order.push(id);
                queue.push_back(id);
            }
        }
    }

    let named = |id: Mid, cause: &[Option<Cause>]| matches!(cause[id as usize], Some(Cause::Requested(i)) if requests[i].named);
    let mut held = Vec::new();
    let mut work = Vec::new();
    for &m in &order {
        let named = named(m, &cause);
        let refused = registry.get(&m).cloned();
        if let Some(why) =
            refused.or_else(|| protection(g, m, &state, named, &cause, pinned, sel.unlock))
        {
            held.push((m, why));
            work.push(m);
        }
    }
    for &(m, _) in &held {
        state[m as usize] = HELD;
    }
    let mut spread_in: Vec<u32> = Vec::new();
    while let Some(h) = work.pop() {
        // A held index whose children are unknown holds every candidate image of its
        // repository (once per repository).
        let hm = g.manifest(h);
        let ri = g.repo_index(h);
        if hm.is_index() && hm.manifests.is_none() && !spread_in.contains(&ri) {
            spread_in.push(ri);
            for c in g.manifests_of(ri) {
                if state[c as usize] == CANDIDATE && !g.manifest(c).is_index() {
                    state[c as usize] = HELD;
                    held.push((c, shallow_index(g, h)));
                    work.push(c);
                }
            }
        }
        for &c in g.children.of(h) {
            if state[c as usize] == CANDIDATE {
                state[c as usize] = HELD;
                held.push((c, surviving_index(g, h)));
                work.push(c);
            }
        }
        for &r in g.referrers.of(h) {
            if state[r as usize] == CANDIDATE && !named(r, &cause) {
                state[r as usize] = HELD;
                held.push((r, surviving_subject(g, h)));
                work.push(r);
            }
        }
    }
    Resolution {
        deleted: state.iter().map(|&s| s == CANDIDATE).collect(),
        cause,
        held,
    }
}

/// Why candidate `m` must stay on its own account, before holding spreads.
fn protection(
    g: &Graph<'_>,
    m: Mid,
    state: &[u8],
    named: bool,
    cause: &[Option<Cause>],
    pinned: &Set<&Digest>,
    unlock: bool,
) -> Option<Reason> {
    let lock = if unlock {
        g.repository_lock(m)
    } else {
        g.lock(m)
    };
    if let Some(lock) = lock {
        return Some(reason(ReasonCode::Locked, lock));
    }
    if pinned.contains(&g.manifest(m).digest) {
        return Some(reason(ReasonCode::Pinned, "it is pinned as in use"));
    }
    if let Some(&p) = g.parents.of(m).iter().find(|&&p| state[p as usize] == NONE) {
        return Some(surviving_index(g, p));
    }
    // An index whose children were not captured may list any manifest of its repository:
    // deleting an untagged one could break a multi-arch image (acr purge's known bug).
    if !g.manifest(m).is_index() {
        let shallow = g
            .shallow_indexes
            .get(&g.repo_index(m))
            .map_or(&[][..], Vec::as_slice);
        if let Some(&p) = shallow
            .iter()
            .find(|&&p| p != m && state[p as usize] == NONE)
        {
            return Some(shallow_index(g, p));
        }
    }
    if !named {
        if let Some(&s) = g
            .subjects
            .of(m)
            .iter()
            .find(|&&s| state[s as usize] == NONE)
        {
            return Some(surviving_subject(g, s));
        }
    }
    if !matches!(cause[m as usize], Some(Cause::Requested(_))) {
        let own: Vec<&str> = g
            .tags_of(m)
            .filter(|t| t.name.referrer_subject().is_none())
            .map(|t| t.name.as_str())
            .collect();
        if !own.is_empty() {
            return Some(reason(
                ReasonCode::Tagged,
                format!(
                    "it has tags of its own ({}), which the request does not remove",
                    own.join(", ")
                ),
            ));
        }
    }
    None
}

fn surviving_index(g: &Graph<'_>, index: Mid) -> Reason {
    index_reason(g, index, "lists it; deleting it would break that index")
}

fn shallow_index(g: &Graph<'_>, index: Mid) -> Reason {
    index_reason(g, index, "was captured without its list of children, so it may list this manifest; deleting it could break that index")
}

fn index_reason(g: &Graph<'_>, index: Mid, why: &str) -> Reason {
    let digest = &g.manifest(index).digest;
    reason(
        ReasonCode::ChildOfSurvivingIndex,
        format!("the surviving index {digest} {why}"),
    )
}

fn surviving_subject(g: &Graph<'_>, subject: Mid) -> Reason {
    reason(
        ReasonCode::ReferrerOfSurvivingSubject,
        format!(
            "it refers to {}, which stays (a signature, SBOM or attestation of a kept image)",
            g.manifest(subject).digest
        ),
    )
}
