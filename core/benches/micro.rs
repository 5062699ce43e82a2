//! Micro-benchmarks of the core's stages on a generated 10k-manifest registry (Criterion).
//!
//! `make bench` runs them and puts the medians in `docs/BENCHMARKS.md`; `cargo bench -p
//! regprune-core --bench micro` runs them alone. Each pair that the report compares (the
//! plan writer against `serde_json`, a re-plan against a one-shot plan) is measured here in
//! the same process.
#![allow(missing_docs)] // criterion's macros write the undocumented `main` and group

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use regprune_core::{
    generate, plan, reclaim, Digest, GeneratorOptions, IndexedSnapshot, Operation, PlanOptions,
    Snapshot, Timestamp,
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

criterion_group! {
    name = benches;
    // Short windows: the report wants medians of stable, millisecond-scale work, and `make
    // bench` runs the macro benchmarks besides.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = stages
}
criterion_main!(benches);
