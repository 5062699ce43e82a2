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
