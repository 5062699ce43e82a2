//! `review`: a plan's items as table rows, filtered, sorted and paged, checked against the
//! plain way (every row written out, filtered, stably sorted, sliced); and its summary.

use regprune_core::review::{items, summary, Item, ItemQuery, SortKey};
use regprune_core::{generate, GeneratorOptions, IndexedSnapshot, Operation, Plan, PlanOptions};

fn operation(json: &str) -> Operation {
    Operation::from_json(json.as_bytes()).expect("a valid operation")
}

fn options() -> PlanOptions {
    PlanOptions::at("2026-01-01T00:00:00Z".parse().unwrap())
}

fn name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every row, in plan order: actions, then retained items.
fn rows(plan: &Plan) -> Vec<Item> {
    let join = |tags: &[regprune_core::TagName]| {
        tags.iter()
            .map(regprune_core::TagName::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let actions = plan.actions.iter().map(|a| Item {
        kind: name(&a.kind).into(),
        repository: a.repository.to_string(),
        target: match (&a.tag, &a.digest) {
            (Some(t), _) => format!(":{t}"),
            (None, Some(d)) => d.to_string(),
            (None, None) => format!("{} manifests", a.manifests.len()),
        },
        tags: join(&a.tags),
        reason: a.reason.message.clone(),
        code: name(&a.reason.code).into(),
    });
    let retained = plan.retained.iter().map(|r| Item {
        kind: "retained".into(),
        repository: r.repository.to_string(),
        target: match (&r.tag, &r.digest) {
            (Some(t), _) => format!(":{t}"),
            (None, Some(d)) => d.to_string(),
            (None, None) => String::new(),
        },
        tags: join(&r.tags),
        reason: r.reason.message.clone(),
        code: name(&r.reason.code).into(),
    });
    actions.chain(retained).collect()
}

fn plainly(plan: &Plan, q: &ItemQuery) -> (usize, Vec<Item>) {
    let needle = q.matching.to_lowercase();
    let mut all: Vec<Item> = rows(plan)
        .into_iter()
        .filter(|i| {
            [
                &*i.kind,
                &i.repository,
                &i.target,
                &i.tags,
                &*i.reason,
                &*i.code,
            ]
            .iter()
            .any(|cell| cell.to_lowercase().contains(&needle))
        })
        .collect();
    all.sort_by(|a, b| {
        let key = |i: &Item| match q.sort {
            SortKey::Repository => String::new(),
            SortKey::Kind => i.kind.to_string(),
            SortKey::Reason => i.reason.to_string(),
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.repository.cmp(&b.repository))
            .then_with(|| a.target.cmp(&b.target))
    });
    let total = all.len();
    (
        total,
        all.into_iter().skip(q.offset).take(q.limit).collect(),
    )
}

#[test]
fn pages_are_the_plain_filter_sort_and_slice_of_every_row() {
    let snapshot = generate(&GeneratorOptions {
        seed: 3,
        manifests: 600,
        repositories: Some(12),
    });
    let indexed = IndexedSnapshot::new(snapshot.clone());
    let repository = snapshot.repositories[0].name.to_string();
    let requests = [
        r#"{"op": "acrPurge", "filter": [".*:.*"], "ago": "30d", "untagged": true, "keep": 2}"#.to_owned(),
        r#"{"op": "policy", "policy": {"rules": [{"name": "old", "action": "delete", "olderThan": "200d", "keepMostRecent": 3}, {"name": "pin", "action": "keep", "tagRegex": ["v1.*"]}]}}"#.to_owned(),
        format!(r#"{{"op": "deleteRepository", "repository": "{repository}"}}"#),
    ];
    let mut checked = 0;
    for request in &requests {
        let plan = indexed
            .plan_unsealed(&operation(request), &options())
            .unwrap();
        assert!(!plan.actions.is_empty(), "{request}: no actions");
        for sort in [SortKey::Repository, SortKey::Kind, SortKey::Reason] {
            for matching in [
                "",
                "V1",
                "SHA256:0",
                "retained",
                "untagged",
                "no such text",
                "é",
            ] {
                for (offset, limit) in [
                    (0, 200),
                    (0, 7),
                    (13, 40),
                    (0, 0),
                    (0, usize::MAX),
                    (usize::MAX, 5),
                ] {
                    let q = ItemQuery {
                        matching: matching.into(),
                        sort,
                        offset,
                        limit,
                    };
                    let page = items(&plan, &q);
                    let (total, expected) = plainly(&plan, &q);
                    assert_eq!(page.total, total, "{request} {q:?}");
                    assert_eq!(page.items, expected, "{request} {q:?}");
                    checked += page.items.len();
                }
            }
        }
    }
    assert!(checked > 3_000, "only {checked} rows compared");
}

#[test]
fn an_unsealed_plan_seals_to_the_plan_and_its_summary_is_its_totals() {
    let snapshot = generate(&GeneratorOptions {
        seed: 5,
        manifests: 800,
        repositories: None,
    });
    let indexed = IndexedSnapshot::new(snapshot);
    let op =
        operation(r#"{"op": "acrPurge", "filter": [".*:v.*"], "ago": "10d", "untagged": true}"#);
    let mut unsealed = indexed.plan_unsealed(&op, &options()).unwrap();
    assert_eq!(unsealed.digest, None);
    let sealed = indexed.plan(&op, &options()).unwrap();
    assert_eq!(unsealed.seal_to_json(), sealed.to_json());

    let s = summary(&sealed);
    assert_eq!(s.actions, sealed.actions.len());
    assert_eq!(s.retained, sealed.retained.len());
    assert_eq!(
        (s.manifests, s.tags, s.total_bytes),
        (
            sealed.reclaim.manifests,
            sealed.reclaim.tags,
            sealed.reclaim.total_bytes
        )
    );
    assert_eq!(s.by_repository, &sealed.reclaim.by_repository[..]);
    assert_eq!(s.warnings.len(), sealed.warnings.len());
    assert!(
        !s.warnings.is_empty(),
        "the request warns (unanchored filter)"
    );
    for (w, full) in s.warnings.iter().zip(&sealed.warnings) {
        assert_eq!(w.message, full.message);
        assert_eq!(w.item_count, full.items.len());
        assert_eq!(w.items, &full.items[..full.items.len().min(5)]);
    }
}
