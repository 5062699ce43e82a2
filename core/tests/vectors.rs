//! Runs every shared vector in `tests/vectors/` (format: `tests/vectors/README.md`) and
//! compares the plan with the expected one byte for byte, or the error with the expected one.
//!
//! `UPDATE_VECTORS=1 cargo test --test vectors` writes the expected plans of vectors that have
//! none yet; review them before committing.

use std::fs;
use std::path::{Path, PathBuf};

use regprune_core::import::Import;
use regprune_core::{from_value, plan, Error, Operation, Plan, PlanOptions, Snapshot};
use serde_json::{json, Map, Value};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

fn run(v: &Map<String, Value>) -> Result<Plan, Error> {
    let snapshot: Snapshot = match (v.get("snapshot"), v.get("import")) {
        (Some(s), None) => from_value(s)?,
        (None, Some(i)) => from_value::<Import>(i)?.into_snapshot()?,
        _ => panic!("a vector has exactly one of snapshot and import"),
    };
    let operation: Operation = from_value(&v["operation"]).map_err(|e| e.under("operation"))?;
    let options: PlanOptions = from_value(&json!({
        "now": v["now"],
        "pinned": v.get("pinned").cloned().unwrap_or(json!([])),
    }))?;
    plan(&snapshot, &operation, &options)
}

/// How a plan departs from what the real acr did (`expected.acr`, see tests/vectors/README):
/// a tag or manifest acr deletes that the plan keeps is named by a warning; one the plan
/// deletes that acr keeps is named by an `acrResultUncertain` warning; the items the plan
/// unlocks are those acr unlocks (among what the plan deletes); a run acr ends with an error
/// has an `acrWouldFail` warning; every code of `mustWarn` is among the plan's warnings.
fn acr_differences(p: &Plan, acr: &Value) -> Vec<String> {
    use std::collections::BTreeSet;
    let (mut tags, mut manifests, mut unlocked) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let plan: Value = serde_json::from_str(&p.to_json()).unwrap();
    for a in plan["actions"].as_array().unwrap() {
        let repo = a["repository"].as_str().unwrap();
        let item = match a["type"].as_str() {
            Some("untag") => {
                let t = format!("{repo}:{}", a["tag"].as_str().unwrap());
                tags.insert(t.clone());
                t
            }
            Some("deleteManifest") if a.get("cascadeOf").is_none() => {
                for t in a["tags"].as_array().into_iter().flatten() {
                    tags.insert(format!("{repo}:{}", t.as_str().unwrap()));
                }
                let m = format!("{repo}@{}", a["digest"].as_str().unwrap());
                manifests.insert(m.clone());
                m
            }
            _ => continue,
        };
        if a["unlock"] == json!(true) {
            unlocked.insert(item);
        }
    }
    let set = |k: &str| -> BTreeSet<String> {
        acr.get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let items = |code: Option<&str>| -> BTreeSet<String> {
        plan["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|w| code.is_none_or(|c| w["code"] == c))
            .flat_map(|w| w["items"].as_array().into_iter().flatten())
            .map(|i| i.as_str().unwrap().to_owned())
            .collect()
    };
    let (named, uncertain) = (items(None), items(Some("acrResultUncertain")));
    let mut problems = Vec::new();
    for (what, acr_set, plan_set) in [
        ("tag", set("deletedTags"), &tags),
        ("manifest", set("deletedManifests"), &manifests),
    ] {
        for x in acr_set.difference(plan_set) {
            if !named.contains(x) {
                problems.push(format!(
                    "acr deletes the {what} {x}; the plan keeps it and no warning names it"
                ));
            }
        }
        for x in plan_set.difference(&acr_set) {
            if !uncertain.contains(x) {
                problems.push(format!(
                    "the plan deletes the {what} {x}, which acr keeps, and no acrResultUncertain warning names it"
                ));
            }
        }
    }
    if let Some(acr_unlocked) = acr.get("unlocked").map(|_| set("unlocked")) {
        let deleted: BTreeSet<&String> = tags.iter().chain(&manifests).collect();
        let want: BTreeSet<String> = acr_unlocked
            .into_iter()
            .filter(|u| deleted.contains(u))
            .collect();
        if want != unlocked {
            problems.push(format!("unlocks: acr {want:?}, plan {unlocked:?}"));
        }
    }
    let codes: BTreeSet<&str> = plan["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["code"].as_str())
        .collect();
    if acr["exit"] != json!(0) && !codes.contains("acrWouldFail") {
        problems.push(format!(
            "acr exits {}; no acrWouldFail warning",
            acr["exit"]
        ));
    }
    for c in set("mustWarn") {
        if !codes.contains(c.as_str()) {
            problems.push(format!("no {c} warning"));
        }
    }
    problems
}

#[test]
fn every_vector_gives_the_expected_plan_or_error() {
    let update = std::env::var_os("UPDATE_VECTORS").is_some();
    let mut files: Vec<PathBuf> = fs::read_dir(vectors_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "vectors missing: {}", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let mut v: Map<String, Value> =
            serde_json::from_str(&fs::read_to_string(file).unwrap()).unwrap();
        let result = run(&v);
        match (v.get("expected"), result) {
            (None, Ok(p)) if update => {
                let plan: Value = serde_json::from_str(&p.to_json()).unwrap();
                v.insert("expected".into(), json!({ "plan": plan }));
                let text = serde_json::to_string_pretty(&v).unwrap() + "\n";
                fs::write(file, text).unwrap();
            }
            (None, r) => failures.push(format!("{name}: no expected result; got {r:?}")),
            (Some(exp), Ok(p)) if exp.get("acr").is_some() => {
                for problem in acr_differences(&p, &exp["acr"]) {
                    failures.push(format!("{name}: {problem}"));
                }
            }
            (Some(exp), Ok(p)) => match exp.get("plan") {
                Some(want) => {
                    let want = want.to_string();
                    let got = p.to_json();
                    if want != got {
                        failures.push(format!("{name}: plan differs\n want {want}\n  got {got}"));
                    }
                    if !p.verify() {
                        failures.push(format!("{name}: plan digest does not verify"));
                    }
                }
                None => failures.push(format!("{name}: expected {exp}, got a plan")),
            },
            (Some(exp), Err(e)) => {
                let want = &exp["error"];
                if want["code"] != e.code() {
                    failures.push(format!(
                        "{name}: expected error {want}, got {} ({e})",
                        e.code()
                    ));
                } else if let Some(msg) = want.get("message") {
                    if msg != &e.to_string() {
                        failures.push(format!("{name}: message {msg} != {:?}", e.to_string()));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
