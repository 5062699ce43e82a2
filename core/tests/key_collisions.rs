//! Hash tables in the planner are keyed by a digest's first eight bytes. Digests that share
//! them (possible in a hostile snapshot) must still be told apart.

use regprune_core::{plan, Error, IndexedSnapshot, Operation, PlanOptions, Snapshot, Timestamp};

fn digest(prefix: &str, tail: char) -> String {
    format!(
        "sha256:{prefix}{}",
        tail.to_string().repeat(64 - prefix.len())
    )
}

fn snapshot(second: &str) -> Snapshot {
    let p = "00000000000000ff";
    let doc = serde_json::json!({"repositories": [{"name": "app", "manifests": [
        {"digest": digest(p, 'a'), "size": 10, "config": {"digest": digest(p, '1'), "size": 100},
         "layers": [{"digest": digest(p, '2'), "size": 1000}]},
        {"digest": second, "size": 20, "config": {"digest": digest(p, '3'), "size": 200},
         "layers": [{"digest": digest(p, '4'), "size": 2000}, {"digest": digest(p, '2'), "size": 1000}]}
    ], "tags": [{"name": "keep", "digest": digest(p, 'a')}]}]});
    Snapshot::from_json(doc.to_string().as_bytes()).unwrap()
}

#[test]
fn digests_sharing_a_key_are_different_manifests_and_blobs() {
    let second = digest("00000000000000ff", 'b');
    let s = snapshot(&second);
    let op = Operation::from_json(
        format!(r#"{{"op":"deleteImage","image":"app@{second}"}}"#).as_bytes(),
    )
    .unwrap();
    let now = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    let p = plan(&s, &op, &PlanOptions::at(now)).unwrap();
    assert_eq!(p.actions.len(), 1);
    assert_eq!(p.actions[0].digest.as_ref().unwrap().to_string(), second);
    // Its config and its own layer go; the layer it shares with the kept image stays.
    assert_eq!(p.reclaim.blob_bytes, 200 + 2000);
    assert_eq!(p.reclaim.blob_count, 2);
    assert_eq!(p.reclaim.manifest_bytes, 20);
    assert_eq!(p.reclaim.shared.bytes, 1000);
    // The indexed snapshot counts by numbers instead of keys: the same plan.
    // (The first plan builds the graph; the second numbers the blobs too.)
    let indexed = IndexedSnapshot::new(s.clone());
    for _ in 0..2 {
        assert_eq!(
            indexed.plan(&op, &PlanOptions::at(now)).unwrap().to_json(),
            p.to_json()
        );
    }
}

#[test]
fn a_true_duplicate_behind_a_shared_key_is_still_rejected() {
    let s = snapshot(&digest("00000000000000ff", 'a'));
    let op = Operation::from_json(br#"{"op":"deleteUntagged"}"#).unwrap();
    let now = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    let err = plan(&s, &op, &PlanOptions::at(now)).unwrap_err();
    assert!(matches!(err, Error::Duplicate { .. }), "{err:?}");
    // An indexed snapshot keeps the error and reports it on every plan.
    let indexed = IndexedSnapshot::new(s);
    for _ in 0..2 {
        assert_eq!(indexed.plan(&op, &PlanOptions::at(now)).unwrap_err(), err);
    }
}
