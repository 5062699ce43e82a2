//! The native side of `make bench` (driven by `bench/run.py`), one subcommand per measurement:
//!
//! ```text
//! bench generate <manifests> <out.json>            write a synthetic snapshot
//! bench plan <snapshot.json> <operation.json> <runs>
//!     alternates "parse only" (the floor: serde_json into the snapshot types) with
//!     "parse + plan + reclaim" and "plan JSON", and prints one JSON line of timings
//! bench replan <snapshot.json> <operation.json> <runs>
//!     plans (to JSON) again and again against one indexed snapshot (what the preview
//!     widget does)
//! bench preview <snapshot.json> <operation.json> <runs>
//!     plans unsealed against one indexed snapshot, again and again (the widget's worker,
//!     natively, for profiling; REGPRUNE_THREADS=1 for its one lane): median and min
//! bench rss <snapshot.json> <operation.json>        stream-parse and plan once; print peak RSS
//! ```
//!
//! Timings are wall-clock nanoseconds from `Instant`; the file is read into memory before any
//! timer starts, and values are dropped after their timer stops.

use std::hint::black_box;
use std::time::Instant;

use regprune_core::{
    generate, plan, GeneratorOptions, IndexedSnapshot, Operation, PlanOptions, Snapshot, Timestamp,
};

type Failure = Box<dyn std::error::Error>;

fn main() {
    if let Err(e) = run(&std::env::args().skip(1).collect::<Vec<_>>()) {
        eprintln!("bench: {e}");
        std::process::exit(2);
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["generate", manifests, out] => {
            let options = GeneratorOptions {
                seed: 8,
                manifests: manifests.parse()?,
                repositories: None,
            };
            let snapshot = generate(&options);
            std::fs::write(out, snapshot.to_json())?;
            let (tags, blobs, manifests) = counts(&snapshot);
            println!(
                r#"{{"repositories":{},"manifests":{manifests},"tags":{tags},"blobReferences":{blobs}}}"#,
                snapshot.repositories.len()
            );
        }
        ["plan", snapshot, operation, runs] => timings(snapshot, operation, runs.parse()?)?,
        ["replan", snapshot, operation, runs] => {
            // What the preview widget does on each edit: plan JSON from an indexed snapshot.
            let indexed = IndexedSnapshot::with_threads(Snapshot::from_json(&std::fs::read(snapshot)?)?, threads());
            let (operation, options) = request(operation)?;
            let mut ns = Vec::new();
            for _ in 0..runs.parse()? {
                let started = Instant::now();
                let text = black_box(indexed.plan_json(&operation, &options)?);
                ns.push(started.elapsed().as_nanos());
                drop(text);
            }
            println!(r#"{{"planAndJsonNs":{ns:?}}}"#);
        }
        ["preview", snapshot, operation, runs] => {
            let indexed = IndexedSnapshot::with_threads(Snapshot::from_json(&std::fs::read(snapshot)?)?, threads());
            let (operation, options) = request(operation)?;
            let mut ns = Vec::new();
            let mut actions = 0;
            for _ in 0..runs.parse()? {
                let started = Instant::now();
                let made = black_box(indexed.plan_unsealed(&operation, &options)?);
                ns.push(started.elapsed().as_nanos());
                actions = made.actions.len();
            }
            ns.sort_unstable();
            println!(r#"{{"actions":{actions},"medianNs":{},"minNs":{}}}"#, ns[ns.len() / 2], ns[0]);
        }
        ["planonly", snapshot, operation, runs] => {
            // The plan's own work, for profiling: parse once, then plan (with reclaim and seal).
            let parsed = Snapshot::from_json(&std::fs::read(snapshot)?)?;
            let (operation, options) = request(operation)?;
            let (mut ns, mut digest) = (Vec::new(), None);
            for _ in 0..runs.parse()? {
                let started = Instant::now();
                let made = black_box(plan(&parsed, &operation, &options)?);
                ns.push(started.elapsed().as_nanos());
                digest = made.digest;
            }
            let digest = digest.map(|d| d.to_string()).unwrap_or_default();
            println!(r#"{{"planNs":{ns:?},"digest":"{digest}"}}"#);
        }
        ["rss", snapshot, operation] => {
            let (operation, options) = request(operation)?;
            let size = std::fs::metadata(snapshot)?.len();
            let started = Instant::now();
            let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(snapshot)?);
            let parsed = Snapshot::from_reader(file)?;
            eprintln!(
                "streamed parse: {:?}, peak RSS so far {} bytes",
                started.elapsed(),
                peak_rss()?
            );
            let plan = plan(&parsed, &operation, &options)?;
            println!(
                r#"{{"fileBytes":{size},"peakRssBytes":{},"actions":{}}}"#,
                peak_rss()?,
                plan.actions.len()
            );
        }
        _ => {
            return Err(
                "usage: bench generate N OUT | plan SNAPSHOT OP RUNS | planonly SNAPSHOT OP RUNS | replan SNAPSHOT OP RUNS | rss SNAPSHOT OP".into(),
            )
        }
    }
    Ok(())
}

fn counts(snapshot: &Snapshot) -> (usize, usize, usize) {
    let repos = &snapshot.repositories;
    let tags = repos.iter().map(|r| r.tags.len()).sum();
    let manifests = repos.iter().map(|r| r.manifests.len()).sum();
    let blobs = repos
        .iter()
        .flat_map(|r| &r.manifests)
        .map(|m| m.blobs().count())
        .sum();
    (tags, blobs, manifests)
}

/// The operation file holds `{"operation": ..., "now": ...}`.
fn request(path: &str) -> Result<(Operation, PlanOptions), Failure> {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
    let operation = Operation::from_json(serde_json::to_string(&doc["operation"])?.as_bytes())?;
    let now = doc["now"]
        .as_str()
        .and_then(Timestamp::parse)
        .ok_or("the request has no valid \"now\"")?;
    let mut options = PlanOptions::at(now);
    options.threads = threads().map(|t| u32::try_from(t).unwrap_or(u32::MAX));
    Ok((operation, options))
}

fn timings(snapshot: &str, operation: &str, runs: usize) -> Result<(), Failure> {
    let bytes = std::fs::read(snapshot)?;
    let (operation, options) = request(operation)?;
    let (mut parse, mut full, mut json) = (Vec::new(), Vec::new(), Vec::new());
    let mut actions = 0;
    let mut plan_bytes = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let parsed = black_box(Snapshot::from_json(&bytes)?);
        parse.push(started.elapsed().as_nanos());
        drop(parsed);

        let started = Instant::now();
        let parsed = Snapshot::from_json(&bytes)?;
        let made = black_box(plan(&parsed, &operation, &options)?);
        full.push(started.elapsed().as_nanos());

        let started = Instant::now();
        let text = black_box(made.to_json());
        json.push(started.elapsed().as_nanos());
        actions = made.actions.len();
        plan_bytes = text.len();
        drop((parsed, made, text));
    }
    println!(
        r#"{{"fileBytes":{},"actions":{actions},"planJsonBytes":{plan_bytes},"parseNs":{parse:?},"parsePlanReclaimNs":{full:?},"planToJsonNs":{json:?}}}"#,
        bytes.len()
    );
    Ok(())
}

/// The process's peak resident set (`VmHWM`), from `/proc/self/status` (Linux).
fn peak_rss() -> Result<u64, Failure> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM in /proc/self/status")?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib * 1024)
}

/// `REGPRUNE_THREADS`, when a positive number (the core reads no environment).
fn threads() -> Option<usize> {
    std::env::var("REGPRUNE_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
}
