//! `acrPurge` properties that span several plans.

use regprune_core::{
    from_value, generate, plan, GeneratorOptions, Operation, PlanOptions, Snapshot,
};
use serde_json::json;

fn now() -> PlanOptions {
    from_value(&json!({"now": "2026-01-01T00:00:00Z"})).unwrap()
}

fn purge(s: &Snapshot, cmd: &str) -> regprune_core::Plan {
    let op: Operation = from_value(&json!({"op": "acrPurge", "command": cmd})).unwrap();
    plan(s, &op, &now()).unwrap()
}

#[test]
fn dry_run_plans_exactly_what_the_real_run_does() {
    let s = generate(&GeneratorOptions {
        seed: 3,
        manifests: 1_500,
        repositories: None,
    });
    for flags in [
        "--ago 30d --untagged",
        "--ago 90d --keep 3",
        "--ago 10d --keep 2 --untagged",
    ] {
        let real = purge(&s, &format!("acr purge --filter 'team1/.*:.*' {flags}"));
        let dry = purge(
            &s,
            &format!("acr purge --filter 'team1/.*:.*' {flags} --dry-run"),
        );
        assert!(
            !real.actions.is_empty(),
            "{flags}: the case must delete something"
        );
        assert_eq!(real.actions, dry.actions, "{flags}");
        assert_eq!(real.retained, dry.retained);
        assert_eq!(real.reclaim, dry.reclaim);
    }
}

#[test]
fn the_command_line_and_the_fields_are_the_same_request() {
    let s = generate(&GeneratorOptions {
        seed: 9,
        manifests: 800,
        repositories: None,
    });
    let cmd = purge(
        &s,
        "acr purge -f 'team.*:v[0-9]+$' --ago=20d --keep 1 --untagged",
    );
    let fields: Operation = from_value(&json!({"op": "acrPurge", "filter": ["team.*:v[0-9]+$"],
        "ago": "20d", "keep": 1, "untagged": true}))
    .unwrap();
    let fields = plan(&s, &fields, &now()).unwrap();
    assert_eq!(
        cmd.to_json(),
        fields.to_json(),
        "both echo the same canonical command"
    );
}

#[test]
fn credentials_never_reach_the_plan() {
    let s = generate(&GeneratorOptions {
        seed: 1,
        manifests: 100,
        repositories: None,
    });
    let p = purge(
        &s,
        "acr purge -r myreg -u admin -p hunter2 --filter 'a:.*' --ago 1d",
    );
    let text = p.to_json();
    assert!(
        !text.contains("hunter2") && !text.contains("admin"),
        "{text}"
    );
}

#[test]
fn reclaim_of_a_plan_recomputes_its_figures() {
    let s = generate(&GeneratorOptions {
        seed: 5,
        manifests: 1_200,
        repositories: None,
    });
    for cmd in [
        "acr purge --filter '.*:.*' --ago 60d --untagged",
        "acr purge --untagged-only --ago 10d",
    ] {
        let p = purge(&s, cmd);
        assert!(p.reclaim.total_bytes > 0, "{cmd}");
        assert_eq!(regprune_core::reclaim(&s, &p).unwrap(), p.reclaim, "{cmd}");
    }
}

#[test]
fn errors_serialize_with_their_code_and_fields() {
    for code in regprune_core::Error::CODES {
        assert!(
            code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{code}"
        );
    }
    let e = Snapshot::from_json(br#"{"repositories":[{"name":"Bad"}]}"#).unwrap_err();
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(
        v,
        json!({"code": "invalid_repository_name", "path": "repositories[0].name", "value": "Bad"})
    );
    assert_eq!(v["code"], e.code());
}

#[test]
fn a_skipped_referrer_that_goes_with_its_subject_is_not_also_listed_as_retained() {
    // acr purge passes over referrers; regprune deletes a referrer with its deleted subject.
    // The plan then says so once: an action, not also a retained entry.
    let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
    let old = "2025-01-01T00:00:00Z";
    let s = Snapshot::from_json(
        json!({"complete": true, "repositories": [{"name": "app", "manifests": [
            {"digest": d('a'), "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "size": 500, "lastUpdateTime": old, "layers": [{"digest": d('1'), "size": 10}]},
            {"digest": d('b'), "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "size": 400, "lastUpdateTime": old, "artifactType": "application/spdx+json",
             "subject": {"digest": d('a'), "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 500}}
        ], "tags": []}]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let p = purge(&s, "acr purge --filter 'app:.*' --ago 1d --untagged");
    let acted: Vec<_> = p
        .actions
        .iter()
        .map(|a| (a.digest.clone().unwrap().to_string(), a.reason.code))
        .collect();
    assert_eq!(acted.len(), 2, "{acted:?}");
    assert!(acted.iter().any(|(x, _)| *x == d('b')), "{acted:?}");
    assert!(
        p.retained
            .iter()
            .all(|r| r.digest.as_ref().map(ToString::to_string) != Some(d('b'))),
        "{:?}",
        p.retained
    );
}

/// A vector recorded from the real acr (`tests/vectors/acr-oracle-*.json`): its snapshot, its
/// command's plan at the time acr ran, and what acr deleted.
fn recorded(name: &str) -> (regprune_core::Plan, serde_json::Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors")
        .join(name);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let s: Snapshot = from_value(&v["snapshot"]).unwrap();
    let op: Operation = from_value(&v["operation"]).unwrap();
    let opts: PlanOptions = from_value(&json!({"now": v["now"]})).unwrap();
    (plan(&s, &op, &opts).unwrap(), v["expected"]["acr"].clone())
}

#[test]
fn the_text_preview_says_what_else_acr_would_delete() {
    // Kind D: acr deletes the children and the grandchild of a locked index; the plan keeps
    // them, and the preview names each one under "acr purge would also delete".
    let (p, acr) = recorded("acr-oracle-D-locked-index-children.json");
    let text = regprune_core::render_text(&p);
    let deleted = acr["deletedManifests"].as_array().unwrap();
    assert_eq!(deleted.len(), 3, "two children and a grandchild");
    let (_, after) = text
        .split_once("acr purge would also delete")
        .unwrap_or_else(|| panic!("no 'acr purge would also delete' in\n{text}"));
    for m in deleted {
        let m = m.as_str().unwrap();
        assert!(
            after.contains(m),
            "{m} not named after the warning in\n{text}"
        );
    }
    assert!(p.actions.is_empty(), "the plan itself deletes none of them");
}

#[test]
fn a_run_acr_stops_early_is_previewed_up_to_where_it_stops() {
    // Kind K: acr purges `app`, then stops at `web`, whose tag regex does not compile.
    let (p, acr) = recorded("acr-oracle-K-invalid-regex-partial-run.json");
    assert_eq!(acr["exit"], 1);
    let untagged: Vec<String> = p
        .actions
        .iter()
        .map(|a| format!("{}:{}", a.repository, a.tag.as_ref().unwrap()))
        .collect();
    assert_eq!(json!(untagged), acr["deletedTags"]);
    let w = p
        .warnings
        .iter()
        .find(|w| w.items == ["web"])
        .expect("a warning names the repository acr stops at");
    assert!(w.message.contains("stops with an error"), "{}", w.message);
    // Stopping at the first repository deletes nothing: that is an error, as before.
    let s: Snapshot =
        from_value(&json!({"repositories": [{"name": "web", "manifests": [], "tags": []}]}))
            .unwrap();
    let op: Operation =
        from_value(&json!({"op": "acrPurge", "command": "acr purge --filter 'web:[' --ago 1d"}))
            .unwrap();
    let e = plan(&s, &op, &now()).unwrap_err();
    assert_eq!(e.code(), "invalid_pattern");
}
