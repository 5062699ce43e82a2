//! `install_sha256`: once installed, every sha256 the core computes goes through the host's
//! function (its own process: the installation is process-wide).

use std::sync::atomic::{AtomicUsize, Ordering};

use regprune_core::{
    generate, install_sha256, plan, software_sha256, Digest, GeneratorOptions, Operation,
    PlanOptions, Timestamp,
};

static CALLS: AtomicUsize = AtomicUsize::new(0);

fn counting(bytes: &[u8]) -> [u8; 32] {
    CALLS.fetch_add(1, Ordering::SeqCst);
    software_sha256(bytes)
}

fn wrong(_: &[u8]) -> [u8; 32] {
    [0; 32]
}

#[test]
fn the_installed_sha256_seals_and_verifies_plans_and_is_installed_once() {
    install_sha256(counting).unwrap();
    assert!(
        install_sha256(wrong).is_err(),
        "a second installation is refused"
    );

    assert_eq!(
        Digest::sha256(b"abc"),
        Digest::from_sha256(software_sha256(b"abc"))
    );
    let before = CALLS.load(Ordering::SeqCst);
    let snapshot = generate(&GeneratorOptions {
        seed: 7,
        manifests: 300,
        repositories: None,
    });
    let op =
        Operation::from_json(br#"{"op":"purge","filter":[".*:.*"],"ago":"0d","untagged":true}"#)
            .unwrap();
    let now = PlanOptions::at(Timestamp::parse("2030-01-01T00:00:00Z").unwrap());
    let p = plan(&snapshot, &op, &now).unwrap();
    assert!(!p.actions.is_empty());
    let sealed = CALLS.load(Ordering::SeqCst);
    assert!(sealed > before, "the seal used the installed sha256");
    // Its digest is the sha256 of its canonical JSON, as without a host function.
    assert_eq!(
        p.digest,
        Some(Digest::from_sha256(software_sha256(&p.canonical_json())))
    );
    assert!(p.verify());
    assert!(
        CALLS.load(Ordering::SeqCst) > sealed,
        "verification used it too"
    );
}
