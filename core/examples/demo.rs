//! `make demo` until the HTTP adapter exists: plans the ACR guide's deletions against the
//! bundled example registry (`examples/registry.json`) and prints each preview.
//!
//! Usage: `cargo run -p regprune-core --example demo [SNAPSHOT.json] [NOW]`

use regprune_core::{plan, render_text, Operation, PlanOptions, Snapshot, Timestamp};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "examples/registry.json".into());
    let now = args.next().unwrap_or_else(|| "2026-11-27T00:00:00Z".into());
    let result = run(&path, &now);
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run(path: &str, now: &str) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let snapshot = Snapshot::from_json(&bytes)?;
    let options = PlanOptions::at(now.parse::<Timestamp>()?);
    let requests = [
        r#"{"op": "deleteImage", "image": "acr-helloworld:latest"}"#,
        r#"{"op": "deleteImage", "image": "acr-helloworld@sha256:3168a21b98836dda7eb7a846b3d735286e09a32b0aa2401773da518e7eba3b57"}"#,
        r#"{"op": "untag", "image": "acr-helloworld:latest"}"#,
        r#"{"op": "deleteOlderThan", "repository": "acr-helloworld", "before": "2018-07-12T15:51:00Z"}"#,
        r#"{"op": "deleteUntagged"}"#,
        r#"{"op": "deleteRepository", "repository": "acr-helloworld"}"#,
        r#"{"op": "acrPurge", "command": "acr purge --filter 'acr-helloworld:v.*' --ago 30d --keep 1 --untagged"}"#,
    ];
    for request in requests {
        let operation = Operation::from_json(request.as_bytes())?;
        let plan = plan(&snapshot, &operation, &options)?;
        println!("{}", "=".repeat(100));
        println!("{}", render_text(&plan));
    }
    Ok(())
}
