//! Micro-benchmarks of the core's stages on a generated 10k-manifest registry (Criterion).
//!
//! `make bench` runs them and puts the medians in `docs/BENCHMARKS.md`; `cargo bench -p
//! regprune-micro --bench micro` runs them alone. Each pair that the report compares (the
//! plan writer against `serde_json`, a re-plan against a one-shot plan) is measured here in
//! the same process.
#![allow(missing_docs)] // criterion's macros write the undocumented `main` and group

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use regprune_core::http::{Execute, ExecuteOptions, Method, Request, Response};
use regprune_core::{
    generate, plan, reclaim, Digest, GeneratorOptions, IndexedSnapshot, Operation, Plan,
    PlanOptions, Snapshot, Timestamp,
};

const MANIFESTS: usize = 10_000;

fn operation(json: &str) -> Operation {
    Operation::from_json(json.as_bytes()).expect("a valid operation")
}

/// The requests of the macro benchmarks (`bench/run.py`), and the widget's two.
fn requests() -> [(&'static str, Operation); 4] {
    [
        (
            "purge",
            operation(r#"{"op": "purge", "filter": [".*:.*"], "ago": "365d", "untagged": true}"#),
        ),
        (
            "policy",
            operation(
                r#"{"op": "policy", "policy": {"rules": [
                    {"name": "keep-releases", "action": "keep", "tags": ["v1", "v1-*"]},
                    {"name": "untagged-30d", "action": "delete", "tagState": "untagged", "olderThan": "30d"},
                    {"name": "old-variants", "action": "delete", "tags": ["v*-*"], "olderThan": "180d", "keepMostRecent": 5},
                    {"name": "ancient", "action": "delete", "tagState": "any", "olderThan": "540d", "keepMostRecent": 10}
                ]}}"#,
            ),
        ),
        (
            "widget-worst",
            operation(r#"{"op": "acrPurge", "filter": [".*:.*"], "ago": "10d", "untagged": true}"#),
        ),
        (
            "widget-typical",
            operation(r#"{"op": "acrPurge", "filter": [".*:^$"], "ago": "30d", "untagged": true}"#),
        ),
    ]
}

fn stages(c: &mut Criterion) {
    let snapshot = generate(&GeneratorOptions {
        seed: 8,
        manifests: MANIFESTS,
        repositories: None,
    });
    let text = serde_json::to_vec(&snapshot).expect("a snapshot serializes");
    let now = PlanOptions::at(Timestamp::parse("2026-01-01T00:00:00Z").expect("a timestamp"));

    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("snapshot", |b| {
        b.iter(|| Snapshot::from_json(black_box(&text)).expect("parses"));
    });
    g.finish();

    let digest = "sha256:4e53e0c9ca3a3b96de1db3f7a5862952f6c0911d0054d96673d4a6c2081d23fe";
    c.bench_function("digest/parse", |b| {
        b.iter(|| Digest::parse(black_box(digest)).expect("parses"));
    });

    let indexed = IndexedSnapshot::new(snapshot.clone());
    for (name, op) in requests() {
        let made = plan(&snapshot, &op, &now).expect("plans");
        let mut g = c.benchmark_group(format!("plan/{name}"));
        g.bench_function("one-shot", |b| {
            b.iter(|| plan(black_box(&snapshot), &op, &now).expect("plans"));
        });
        // What the preview widget's worker does on each edit.
        indexed.plan(&op, &now).expect("plans");
        g.bench_function("re-plan", |b| {
            b.iter(|| indexed.plan(black_box(&op), &now).expect("plans"));
        });
        g.bench_function("reclaim", |b| {
            b.iter(|| reclaim(black_box(&snapshot), &made).expect("reclaims"));
        });
        g.finish();

        let bytes = made.to_json().len() as u64;
        let mut g = c.benchmark_group(format!("json/{name}"));
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function("writer", |b| b.iter(|| black_box(&made).to_json()));
        g.bench_function("serde", |b| {
            b.iter(|| serde_json::to_string(black_box(&made)).expect("serializes"));
        });
        g.finish();
    }
}

/// One repository of `2n` tagged manifests, half of them old: the plan that deletes the old
/// half, each manifest's bytes (as `execute --manifests` hands them over), and what an
/// in-memory Distribution registry answers for it, made once so that a run times the
/// executor, not the registry.
struct OneRepository {
    plan: Plan,
    saved: Vec<(Digest, Vec<u8>)>,
    /// The answer to `GET /v2/big/tags/list`.
    tag_list: Response,
    /// The answers to `HEAD /v2/big/manifests/<tag>`, by tag.
    heads: std::collections::HashMap<String, Response>,
    /// The answer to a `DELETE`, and to anything else.
    accepted: Response,
    not_found: Response,
}

/// An answer with no headers and no body.
fn bare(status: u16) -> Response {
    Response {
        status,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

impl OneRepository {
    fn new(n: usize) -> OneRepository {
        const MEDIA: &str = "application/vnd.oci.image.manifest.v1+json";
        let (mut manifests, mut tags, mut saved) = (Vec::new(), Vec::new(), Vec::new());
        let mut heads = std::collections::HashMap::new();
        for i in 0..2 * n {
            let body = format!(
                r#"{{"schemaVersion":2,"mediaType":"{MEDIA}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}},"layers":[],"annotations":{{"i":"{i}"}}}}"#
            );
            let digest = Digest::sha256(body.as_bytes());
            let created = if i % 2 == 0 {
                "2020-01-01T00:00:00Z"
            } else {
                "2026-01-01T00:00:00Z"
            };
            let tag = format!("t{i}");
            manifests.push(serde_json::json!({"digest": digest.to_string(), "mediaType": MEDIA, "createdTime": created, "lastUpdateTime": created}));
            tags.push(serde_json::json!({"name": tag, "digest": digest.to_string()}));
            let headers = vec![
                ("Docker-Content-Digest".into(), digest.to_string()),
                ("Content-Type".into(), MEDIA.into()),
            ];
            heads.insert(
                tag,
                Response {
                    headers,
                    ..bare(200)
                },
            );
            saved.push((digest, body.into_bytes()));
        }
        let names: Vec<&serde_json::Value> = tags.iter().map(|t| &t["name"]).collect();
        let tag_list = Response {
            body: serde_json::json!({"name": "big", "tags": names})
                .to_string()
                .into_bytes(),
            ..bare(200)
        };
        let snapshot = serde_json::json!({"registry": "localhost:5000", "repositories": [
            {"name": "big", "manifests": manifests, "tags": tags}]});
        let snapshot = Snapshot::from_json(snapshot.to_string().as_bytes()).expect("a snapshot");
        let op =
            operation(r#"{"op": "deleteOlderThan", "repository": "big", "before": "2025-01-01"}"#);
        let now = PlanOptions::at(Timestamp::parse("2026-06-01T00:00:00Z").expect("a timestamp"));
        let plan = plan(&snapshot, &op, &now).expect("plans");
        assert_eq!(plan.actions.len(), n);
        OneRepository {
            plan,
            saved,
            tag_list,
            heads,
            accepted: bare(202),
            not_found: bare(404),
        }
    }

    /// The registry's answer to `req`.
    fn answer(&self, req: &Request) -> &Response {
        if req.path.ends_with("/tags/list") {
            &self.tag_list
        } else if req.method == Method::Head {
            &self.heads[req.path.rsplit('/').next().unwrap_or_default()]
        } else if req.method == Method::Delete {
            &self.accepted
        } else {
            &self.not_found
        }
    }

    /// Executes the plan to the end (the manifests' bytes handed over): the executor's own
    /// work, checking each manifest's digest included. Returns the requests sent.
    fn execute(&self) -> usize {
        let options: ExecuteOptions = serde_json::from_value(
            serde_json::json!({"registry": "localhost:5000", "flavour": "oci"}),
        )
        .expect("options");
        let mut ex = Execute::new(&self.plan, options).expect("executes");
        for (digest, bytes) in &self.saved {
            ex.known_manifest(digest, None, bytes.clone())
                .expect("its digest");
        }
        let mut sent = 0;
        while !ex.is_done() {
            let Some(req) = ex.next_request(0.0) else {
                panic!("the machine waits with nothing in flight");
            };
            ex.take_journal();
            ex.handle_response(req.id, self.answer(&req), 0.0)
                .expect("handles");
            sent += 1;
        }
        sent
    }
}

/// The executor's own work per deletion, as a repository's tags and deletions grow together
/// (linear work: the same per deletion at both sizes).
fn execution(c: &mut Criterion) {
    let mut g = c.benchmark_group("execute");
    for n in [1_000, 8_000] {
        let repo = OneRepository::new(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(&repo).execute());
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // Short windows: the report wants medians of stable, millisecond-scale work, and `make
    // bench` runs the macro benchmarks besides.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = stages, execution
}
criterion_main!(benches);
