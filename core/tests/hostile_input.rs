//! Hostile names, tags, digests and documents are refused with typed errors before any URL is
//! built or any plan made.

use regprune_core::{Digest, Error, ImageReference, Plan, RepositoryName, Snapshot, TagName};

const HOSTILE: &[&str] = &[
    "../etc",
    "app/../../x",
    "a%2Fb",
    "app?x=1",
    "app#frag",
    "app name",
    "app\nX-Header: 1",
    "app\r",
    "app\u{0}",
    "app\u{7f}",
    "аpp",
    /* Cyrillic а */ "app\u{2044}x", /* fraction slash */
    "app\u{ff0f}x",
    /* fullwidth solidus */ "app\u{200b}",
    /* zero-width space */ "",
    "/app",
    "app/",
    "app//x",
    "APP",
];

#[test]
fn hostile_repository_names_tags_and_digests_are_refused() {
    for bad in HOSTILE {
        assert!(RepositoryName::parse(bad).is_none(), "repository {bad:?}");
        assert!(
            TagName::parse(bad).is_none() || bad.chars().all(|c| c.is_ascii_alphanumeric()),
            "tag {bad:?}"
        );
        assert!(
            ImageReference::parse(&format!("{bad}:v1")).is_none(),
            "reference {bad:?}:v1"
        );
    }
    assert!(
        RepositoryName::parse(&"a".repeat(300)).is_none(),
        "overlong repository"
    );
    assert!(TagName::parse(&"a".repeat(129)).is_none(), "overlong tag");
    for bad in [
        "v1/../x",
        "v1?x",
        "v1#x",
        "v 1",
        "v1\n",
        "-v1",
        ".v1",
        "v\u{0131}",
    ] {
        assert!(TagName::parse(bad).is_none(), "tag {bad:?}");
    }
    for bad in [
        "sha256:../../etc/passwd",
        &format!("sha256:{}", "A".repeat(64)),
        &format!("sha256:{}%2F", "a".repeat(62)),
        &format!("sha256:{}?", "a".repeat(63)),
        &format!("sha256:{}", "a".repeat(65)),
        &format!("sha256:{}\u{0430}", "a".repeat(63)),
        "sha256:",
        "md5:x/../y",
    ] {
        assert!(Digest::parse(bad).is_none(), "digest {bad:?}");
    }
}

#[test]
fn a_plan_naming_a_hostile_repository_never_reaches_a_url() {
    let plan = format!(
        r#"{{"version":1,"operation":{{"op":"deleteUntagged"}},"now":"2026-01-01T00:00:00Z","actions":[{{"type":"deleteManifest","repository":"../../v2/other","digest":"sha256:{}","tags":[],"reason":{{"code":"untagged","message":"x"}}}}],"retained":[],"reclaim":{{"exact":true,"manifests":1,"tags":0,"totalBytes":0,"blobBytes":0,"blobCount":0,"manifestBytes":0,"byRepository":[],"shared":{{"bytes":0,"blobCount":0,"with":[]}}}},"warnings":[]}}"#,
        "a".repeat(64)
    );
    let err = Plan::from_json(plan.as_bytes()).expect_err("refused");
    assert!(
        matches!(err, Error::InvalidRepositoryName { .. }),
        "{err:?}"
    );
    assert_eq!(err.path(), "actions[0].repository");
}

#[test]
fn deeply_nested_and_broken_documents_are_typed_errors() {
    for doc in [
        "[".repeat(100_000),
        format!("{{\"repositories\":{}", "[".repeat(10_000)),
        "{".into(),
        "\u{feff}{}".into(),
    ] {
        let err = Snapshot::from_json(doc.as_bytes()).expect_err("refused");
        assert_eq!(err.code(), "invalid_json", "{err}");
    }
}

/// Issue 24, finding 12: an impossible size is a typed error naming it, and sizes that add up
/// past 2^64 saturate with the plan saying the figures are not exact (never a wrapped total
/// labelled exact).
#[test]
fn sizes_cannot_wrap_a_total() {
    let blob = |i: u64| format!("sha256:{:064x}", i + 1);
    let snapshot = |sizes: &[u64]| {
        let layers: Vec<String> = sizes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{s}}}"#,
                    blob(i as u64)
                )
            })
            .collect();
        format!(
            r#"{{"registry":"r","repositories":[{{"name":"app","manifests":[{{"digest":"sha256:{:064x}","mediaType":"application/vnd.oci.image.manifest.v1+json","size":10,"layers":[{}]}}],"tags":[]}}]}}"#,
            0xabc,
            layers.join(",")
        )
    };
    let e = Snapshot::from_json(snapshot(&[u64::MAX - 5]).as_bytes()).unwrap_err();
    assert_eq!(e.code(), "invalid_json", "{e}");
    assert!(e.to_string().contains("18446744073709551610"), "{e}");
    assert!(e.to_string().contains("size"), "{e}");

    let max = regprune_core::MAX_SIZE;
    let s = Snapshot::from_json(snapshot(&vec![max; 3000]).as_bytes()).unwrap();
    let op =
        regprune_core::Operation::from_json(br#"{"op":"deleteRepository","repository":"app"}"#)
            .unwrap();
    let now: regprune_core::Timestamp = "2026-11-27T00:00:00Z".parse().unwrap();
    let p = regprune_core::plan(&s, &op, &regprune_core::PlanOptions::at(now)).unwrap();
    assert_eq!(p.reclaim.total_bytes, u64::MAX);
    assert!(!p.reclaim.exact);
    assert!(
        p.reclaim.inexact_reasons.iter().any(|r| r.contains("2^64")),
        "{:?}",
        p.reclaim.inexact_reasons
    );
}

/// Issue 24, finding 8: what a preview shows from data (the snapshot's registry name, here
/// with ESC, CR and a bidi override) reaches the terminal escaped, never as control bytes.
#[test]
fn the_preview_never_prints_control_characters_from_data() {
    let snapshot = Snapshot::from_json(
        br#"{"registry":"evil\u001b[2J\rOK\u202e","repositories":[{"name":"app","manifests":[{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000abc","mediaType":"application/vnd.oci.image.manifest.v1+json","size":10}],"tags":[]}]}"#,
    )
    .unwrap();
    let op =
        regprune_core::Operation::from_json(br#"{"op":"deleteRepository","repository":"app"}"#)
            .unwrap();
    let now: regprune_core::Timestamp = "2026-11-27T00:00:00Z".parse().unwrap();
    let p = regprune_core::plan(&snapshot, &op, &regprune_core::PlanOptions::at(now)).unwrap();
    let text = regprune_core::render_text(&p);
    assert!(
        !text
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "{text:?}"
    );
    assert!(text.contains(r"evil\u{1b}[2J\rOK\u{202e}"), "{text}");
}
