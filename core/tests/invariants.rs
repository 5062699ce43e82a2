//! Property tests: on random registries from the generator (indexes with shared children,
//! referrers by subject and by tag, locks, pins), for every operation, the plan obeys the graph
//! rules, its reclaim equals a brute-force recount, and executing it then planning the same
//! request again finds nothing more to delete.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use proptest::prelude::*;
use regprune_core::{
    generate, plan, ActionType, ChangeableAttributes, Digest, GeneratorOptions, ImageReference,
    IndexedSnapshot, Operation, Plan, PlanOptions, Snapshot, TimeField, Timestamp,
};

fn locked(a: Option<&ChangeableAttributes>) -> bool {
    a.is_some_and(|a| a.delete_enabled == Some(false) || a.write_enabled == Some(false))
}

/// `(repository, digest)` of every manifest the plan deletes.
fn deleted(p: &Plan, s: &Snapshot) -> BTreeSet<(String, Digest)> {
    let mut out = BTreeSet::new();
    for a in &p.actions {
        match a.kind {
            ActionType::DeleteManifest => {
                out.insert((a.repository.to_string(), a.digest.clone().unwrap()));
            }
            ActionType::DeleteRepository => {
                let repo = s
                    .repositories
                    .iter()
                    .find(|r| r.name == a.repository)
                    .unwrap();
                assert_eq!(a.manifests.len(), repo.manifests.len());
                for m in &repo.manifests {
                    out.insert((a.repository.to_string(), m.digest.clone()));
                }
            }
            ActionType::Untag => {}
        }
    }
    out
}

fn check(s: &Snapshot, op: &Operation, opts: &PlanOptions, named: Option<&(String, Digest)>) {
    let p = plan(s, op, opts).unwrap();
    let again = plan(s, op, opts).unwrap();
    assert_eq!(p.to_json(), again.to_json(), "plan is not deterministic");
    // Planned again from an indexed snapshot (graph kept from the first plan, blobs numbered
    // from the second): the same bytes, and the same reclaim recounted from the plan.
    let indexed = IndexedSnapshot::new(s.clone());
    for _ in 0..2 {
        assert_eq!(indexed.plan_json(op, opts).unwrap(), p.to_json());
    }
    assert_eq!(indexed.reclaim(&p).unwrap(), p.reclaim);
    assert!(p.verify());
    let gone = deleted(&p, s);
    let pinned: HashSet<&Digest> = opts.pinned.iter().collect();
    let alive = |r: &str, d: &Digest| !gone.contains(&(r.to_owned(), d.clone()));

    let mut referenced: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut kept: BTreeSet<Digest> = BTreeSet::new();
    for repo in &s.repositories {
        let r = repo.name.as_str();
        for m in &repo.manifests {
            let goes = !alive(r, &m.digest);
            if goes {
                // Locks and pins always win.
                assert!(
                    !locked(m.changeable_attributes.as_ref()),
                    "locked {r}@{}",
                    m.digest
                );
                assert!(!locked(repo.changeable_attributes.as_ref()));
                assert!(
                    !pinned.contains(&m.digest),
                    "pinned {r}@{} deleted",
                    m.digest
                );
                for t in repo.tags.iter().filter(|t| t.digest == m.digest) {
                    assert!(
                        !locked(t.changeable_attributes.as_ref()),
                        "locked tag {}",
                        t.name
                    );
                }
                // Referrers of surviving subjects stay, unless the user named them.
                if named != Some(&(r.to_owned(), m.digest.clone())) {
                    if let Some(sub) = &m.subject {
                        let exists = repo.manifests.iter().any(|x| x.digest == sub.digest);
                        assert!(
                            !exists || !alive(r, &sub.digest),
                            "referrer of kept subject"
                        );
                    }
                }
            } else {
                // A surviving index keeps all its children.
                for c in m.manifests.iter().flatten() {
                    assert!(
                        alive(r, &c.digest),
                        "child {} of surviving index deleted",
                        c.digest
                    );
                }
            }
            for b in m.blobs() {
                if goes {
                    referenced.insert(b.digest.clone(), b.size.unwrap());
                } else {
                    kept.insert(b.digest.clone());
                }
            }
        }
    }
    // What the plan lists as staying does stay.
    for r in &p.retained {
        if let (Some(d), None) = (&r.digest, &r.tag) {
            assert!(
                alive(r.repository.as_str(), d),
                "{}@{d} is both retained ({:?}) and deleted",
                r.repository,
                r.reason.code
            );
        }
    }
    // Reclaim equals: blobs referenced before minus blobs still referenced after.
    let freed: Vec<u64> = referenced
        .iter()
        .filter(|(d, _)| !kept.contains(*d))
        .map(|(_, &n)| n)
        .collect();
    assert_eq!(p.reclaim.blob_count, freed.len() as u64);
    assert_eq!(p.reclaim.blob_bytes, freed.iter().sum::<u64>());
    assert_eq!(p.reclaim.manifests, gone.len() as u64);
    assert!(p.reclaim.exact);
}

/// The registry after `p` ran against `s`: deleted manifests go with their tags, untagged
/// tags go, deleted repositories go.
fn apply(s: &Snapshot, p: &Plan) -> Snapshot {
    let gone = deleted(p, s);
    let untagged: BTreeSet<(String, String)> = p
        .actions
        .iter()
        .filter(|a| a.kind == ActionType::Untag)
        .map(|a| {
            (
                a.repository.to_string(),
                a.tag.as_ref().unwrap().to_string(),
            )
        })
        .collect();
    let whole: BTreeSet<String> = p
        .actions
        .iter()
        .filter(|a| a.kind == ActionType::DeleteRepository)
        .map(|a| a.repository.to_string())
        .collect();
    let mut after = s.clone();
    after
        .repositories
        .retain(|r| !whole.contains(r.name.as_str()));
    for r in &mut after.repositories {
        let name = r.name.to_string();
        r.manifests
            .retain(|m| !gone.contains(&(name.clone(), m.digest.clone())));
        r.tags.retain(|t| {
            !gone.contains(&(name.clone(), t.digest.clone()))
                && !untagged.contains(&(name.clone(), t.name.to_string()))
        });
    }
    after
}

/// Executing the plan and planning the same request again finds nothing more to delete.
fn idempotent(s: &Snapshot, op: &Operation, opts: &PlanOptions) {
    let p = plan(s, op, opts).unwrap();
    let after = apply(s, &p);
    match plan(&after, op, opts) {
        Ok(again) => assert!(
            again.actions.is_empty(),
            "{} more action(s) after executing {op:?}: {:?}",
            again.actions.len(),
            again.actions.first()
        ),
        // The named repository or image is gone: nothing left to do.
        Err(e) => assert!(
            matches!(e.code(), "repository_not_found" | "image_not_found"),
            "{e}"
        ),
    }
}

/// `s` as a shallow capture would show it: every third index without its list of children,
/// every seventh image without its content.
fn shallow(s: &Snapshot) -> Snapshot {
    let mut out = s.clone();
    let mut n = 0;
    for r in &mut out.repositories {
        for m in &mut r.manifests {
            n += 1;
            if m.is_index() && n % 3 == 0 {
                m.manifests = None;
            } else if !m.is_index() && m.subject.is_none() && n % 7 == 0 {
                m.config = None;
                m.layers = None;
            }
        }
    }
    out
}

/// A plan made from `seen` (a partial view) is safe in `truth`: no surviving index (in truth)
/// loses a child.
fn safe_in_truth(truth: &Snapshot, seen: &Snapshot, op: &Operation, opts: &PlanOptions) {
    let p = plan(seen, op, opts).unwrap();
    let gone = deleted(&p, truth);
    for r in &truth.repositories {
        for m in r
            .manifests
            .iter()
            .filter(|m| !gone.contains(&(r.name.to_string(), m.digest.clone())))
        {
            for c in m.manifests.iter().flatten() {
                assert!(
                    !gone.contains(&(r.name.to_string(), c.digest.clone())),
                    "{op:?} on a shallow snapshot deleted {}, a child of the surviving index {}",
                    c.digest,
                    m.digest
                );
            }
        }
    }
}

fn now() -> Timestamp {
    Timestamp::parse("2026-01-01T00:00:00Z").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_operation_obeys_the_graph_rules(
        seed in any::<u64>(),
        size in 20usize..400,
        pick in any::<u64>(),
        days in 0u32..800,
        pin_every in 2usize..12,
    ) {
        let s = generate(&GeneratorOptions { seed, manifests: size, repositories: Some(1 + size / 80) });
        let all: Vec<(String, Digest)> = s.repositories.iter()
            .flat_map(|r| r.manifests.iter().map(move |m| (r.name.to_string(), m.digest.clone())))
            .collect();
        let pinned: Vec<Digest> = all.iter().step_by(pin_every).map(|(_, d)| d.clone()).collect();
        let opts = PlanOptions {
            now: now(),
            pinned,
            threads: None,
        };
        let (repo, digest) = all[(pick % all.len() as u64) as usize].clone();
        let cutoff = now().minus_seconds(i64::from(days) * 86_400);
        let ops = [
            Operation::DeleteUntagged { repository: None },
            Operation::DeleteRepository { repository: repo.parse().unwrap() },
            Operation::DeleteOlderThan { repository: repo.parse().unwrap(), before: cutoff, field: TimeField::LastUpdateTime },
            Operation::Retention { days, enabled_at: Timestamp::parse("2024-06-01").unwrap() },
        ];
        let more: Vec<Operation> = [
            serde_json::json!({"op": "purge", "filter": [format!("{repo}:.*")], "ago": format!("{days}d"), "keep": pin_every % 4, "untagged": true}),
            serde_json::json!({"op": "acrPurge", "command": format!("acr purge --filter '.*:v.*' --ago {days}d --keep {} --untagged", pin_every % 3)}),
            serde_json::json!({"op": "acrPurge", "command": format!("acr purge --untagged-only --ago {days}d")}),
            serde_json::json!({"op": "policy", "policy": {"rules": [
                {"name": "old", "action": "delete", "olderThan": format!("{days}d"), "keepMostRecent": pin_every % 5},
                {"name": "keep-v1", "action": "keep", "tags": ["v1*"]}],
                "protect": {"neverEmptyRepository": true}}}),
        ].into_iter().map(|v| regprune_core::from_value(&v).unwrap()).collect();
        let partial = shallow(&s);
        for op in ops.iter().chain(&more) {
            check(&s, op, &opts, None);
            check(&s, op, &PlanOptions::at(now()), None);
            idempotent(&s, op, &opts);
            safe_in_truth(&s, &partial, op, &opts);
        }
        let image = ImageReference::Digest { repository: repo.parse().unwrap(), digest: digest.clone() };
        let op = Operation::DeleteImage { image };
        check(&s, &op, &opts, Some(&(repo, digest)));
        idempotent(&s, &op, &opts);
    }
}

#[test]
fn generator_is_deterministic_and_shaped_like_a_registry() {
    let o = GeneratorOptions {
        seed: 7,
        manifests: 2_000,
        repositories: None,
    };
    let a = generate(&o);
    assert_eq!(a.to_json(), generate(&o).to_json());
    let manifests: usize = a.repositories.iter().map(|r| r.manifests.len()).sum();
    let tags: usize = a.repositories.iter().map(|r| r.tags.len()).sum();
    let refs: usize = a
        .repositories
        .iter()
        .flat_map(|r| &r.manifests)
        .map(|m| m.blobs().count())
        .sum();
    assert!((1_990..=2_010).contains(&manifests), "{manifests}");
    assert!(tags > manifests, "{tags} tags for {manifests} manifests");
    assert!(refs > 6 * manifests, "{refs} blob references");
    let indexes = a
        .repositories
        .iter()
        .flat_map(|r| &r.manifests)
        .filter(|m| m.manifests.is_some())
        .count();
    let referrers = a
        .repositories
        .iter()
        .flat_map(|r| &r.manifests)
        .filter(|m| m.subject.is_some())
        .count();
    assert!(
        indexes > 20 && referrers > 20,
        "{indexes} indexes, {referrers} referrers"
    );
    assert_eq!(a.repositories.len(), 20);
    // Round-trips through JSON unchanged.
    assert_eq!(Snapshot::from_json(a.to_json().as_bytes()).unwrap(), a);
}
