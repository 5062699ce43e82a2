//! The fuzz targets' bodies, one function per parser family: `fuzz_targets/` runs them under
//! libFuzzer (`make fuzz`), and `core/tests/fuzz_regressions.rs` replays saved inputs on stable Rust
//! (`make test`). Each asserts what must hold for any input, beyond "no panic".

use std::sync::OnceLock;

use regprune_core::http::{next_link, parse_challenge, Crawl, CrawlOptions, Response};
use regprune_core::import::{parse_manifest, Import};
use regprune_core::{
    generate, parse_duration, plan, Digest, GeneratorOptions, Operation, PlanOptions, Snapshot,
    Timestamp,
};

fn now() -> PlanOptions {
    PlanOptions::at(Timestamp::from_unix_seconds(1_767_225_600))
}

/// A small generated registry (indexes, referrers, locks) to plan fuzzed operations against.
fn registry() -> &'static Snapshot {
    static S: OnceLock<Snapshot> = OnceLock::new();
    S.get_or_init(|| {
        generate(&GeneratorOptions {
            seed: 1,
            manifests: 60,
            repositories: Some(3),
        })
    })
}

/// Snapshot JSON: parse, and when it parses, index it, plan against it and recompute reclaim.
pub fn snapshot(data: &[u8]) {
    let Ok(snapshot) = Snapshot::from_json(data) else {
        return;
    };
    for op in [
        r#"{"op":"deleteUntagged"}"#,
        r#"{"op":"purge","filter":[".*:.*"],"ago":"1d","untagged":true}"#,
    ] {
        let op = Operation::from_json(op.as_bytes()).expect("a valid operation");
        if let Ok(p) = plan(&snapshot, &op, &now()) {
            assert!(p.verify(), "a fresh plan verifies");
            let again = regprune_core::reclaim(&snapshot, &p).expect("a plan's own actions exist");
            assert_eq!(
                again, p.reclaim,
                "reclaim recomputed from the actions agrees"
            );
        }
    }
}

/// Importer documents: `az acr manifest list-metadata` output, ACR API bodies, storage listings.
pub fn import(data: &[u8]) {
    if let Ok(import) = regprune_core::from_json::<Import>(data) {
        if let Ok(snapshot) = import.into_snapshot() {
            let back = Snapshot::from_json(snapshot.to_json().as_bytes());
            assert_eq!(
                back.ok().as_ref(),
                Some(&snapshot),
                "an imported snapshot round-trips"
            );
        }
    }
}

/// Manifest bytes as a registry serves them, with and without a claimed digest.
pub fn manifest(data: &[u8]) {
    let _ = parse_manifest(data, None, None);
    let _ = parse_manifest(data, None, Some("application/vnd.oci.image.index.v1+json"));
    let claimed = Digest::sha256(data);
    if let Ok(m) = parse_manifest(data, Some(&claimed), None) {
        assert_eq!(m.digest, claimed);
    }
    let wrong = Digest::sha256(b"something else");
    assert!(
        parse_manifest(data, Some(&wrong), None).is_err(),
        "bytes must match their digest"
    );
}

/// Operations and policies (JSON), planned against a small registry.
pub fn operation(data: &[u8]) {
    if let Ok(op) = Operation::from_json(data) {
        if let Ok(p) = plan(registry(), &op, &now()) {
            assert!(p.verify());
        }
    }
}

/// `acr purge` command lines, as a user pastes them.
pub fn acr_command(data: &[u8]) {
    let Ok(command) = std::str::from_utf8(data) else {
        return;
    };
    let doc = serde_json::json!({"op": "acrPurge", "command": command});
    if let Ok(op) = Operation::from_json(doc.to_string().as_bytes()) {
        // The command line is what is fuzzed here; planning at scale is `operation`'s job.
        let _ = plan(tiny(), &op, &now());
    }
}

/// A registry of a few manifests: filters are matched against every tag, and the backtrack
/// limit makes a hostile regex cost up to a million steps per tag.
fn tiny() -> &'static Snapshot {
    static S: OnceLock<Snapshot> = OnceLock::new();
    S.get_or_init(|| {
        generate(&GeneratorOptions {
            seed: 4,
            manifests: 6,
            repositories: Some(1),
        })
    })
}

/// `--filter` regexes and `--ago` durations (acr's Go syntax, ISO 8601), and policy globs.
/// (`purge` filters go through the same parser and compiler as `acrPurge` filters.)
pub fn filters_durations(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_duration("ago", text);
    let ops = [
        serde_json::json!({"op": "acrPurge", "filter": [text], "ago": "0d"}),
        serde_json::json!({"op": "acrPurge", "filter": ["a:b"], "ago": text}),
        serde_json::json!({"op": "policy", "policy": {"rules": [{"action": "delete", "repositories": [text], "tags": [text], "olderThan": "1d"}]}}),
    ];
    for op in ops {
        if let Ok(op) = Operation::from_json(op.to_string().as_bytes()) {
            let _ = plan(tiny(), &op, &now());
        }
    }
}

/// `Link` (pagination) and `WWW-Authenticate` (token challenge) headers.
pub fn headers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Some(next)) = next_link(Some(text), "registry.example.io") {
        assert!(
            next.starts_with("/v2/") || next.starts_with("/acr/v1/"),
            "pagination never leaves the registry's API: {next}"
        );
    }
    if let Some(c) = parse_challenge(text) {
        assert!(c.realm().is_none_or(|r| r.starts_with("http")));
    }
}

/// Whatever a registry answers (status, headers, body), fed to a crawl. The input is split
/// into responses at 0xFF bytes; each one's first byte picks a status.
pub fn registry_bodies(data: &[u8]) {
    let opts: CrawlOptions =
        serde_json::from_str(r#"{"registry":"registry.example.io"}"#).expect("valid options");
    let mut crawl = Crawl::new(opts);
    let mut answers = data.split(|&b| b == 0xFF);
    let mut now = 0.0;
    for _ in 0..64 {
        let Some(req) = crawl.next_request(now) else {
            if crawl.is_done() {
                break;
            }
            now = crawl.next_wakeup().unwrap_or(now + 1.0);
            continue;
        };
        let Some(answer) = answers.next() else { break };
        let (status, body) = match answer.split_first() {
            Some((&s, rest)) => (
                [200u16, 404, 401, 429, 500, 206, 0, 307][usize::from(s % 8)],
                rest,
            ),
            None => (200, &[][..]),
        };
        let link = String::from_utf8_lossy(body.get(..40).unwrap_or(body)).into_owned();
        let response = Response {
            status,
            headers: vec![
                ("Link".into(), link),
                (
                    "Docker-Content-Digest".into(),
                    Digest::sha256(body).to_string(),
                ),
                (
                    "Content-Type".into(),
                    "application/vnd.oci.image.manifest.v1+json".into(),
                ),
            ],
            body: body.to_vec(),
        };
        if crawl.handle_response(req.id, &response, now).is_err() {
            break;
        }
    }
    let _ = crawl.snapshot();
}
