//! The registry conversation against an in-memory Distribution registry (a scripted
//! transport): crawl, plan, execute, drift, faults.

use std::collections::BTreeMap;

use regprune_core::http::{
    Crawl, CrawlOptions, Execute, ExecuteOptions, Method, OutcomeKind, Request, Response, Undo,
    UndoOptions, UndoOutcome,
};
use regprune_core::{plan, Digest, Operation, PlanOptions, Snapshot, Timestamp};
use serde_json::json;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// One repository: tags, and manifests (bytes, media type) by digest.
type Repo = (
    BTreeMap<String, Digest>,
    BTreeMap<Digest, (Vec<u8>, String)>,
);

/// Rewrites a registry's answer to a request.
type Tamper = Box<dyn FnMut(&Request, Response) -> Response>;

/// A tiny Distribution registry: repositories of manifests and tags, registry-wide blobs.
#[derive(Default)]
struct Registry {
    repos: BTreeMap<String, Repo>,
    blobs: BTreeMap<Digest, Vec<u8>>,
    /// Every `fail_every`-th request answers 503 (0: never).
    fail_every: u64,
    seen: u64,
    /// How many 503s were injected.
    injected: u64,
    manifest_gets: BTreeMap<Digest, u64>,
    /// Rewrites answers: a hostile or broken registry.
    tamper: Option<Tamper>,
    /// Every DELETE that reached the registry.
    deletes: Vec<String>,
    /// The next this many manifest DELETEs are cut off half done, as Distribution does when a
    /// concurrent write to the repository fails its tag walk: the manifest goes, its tags stay
    /// (pointing at nothing), and the answer is a 500.
    cut_off_deletes: u32,
}

impl Registry {
    fn blob(&mut self, bytes: Vec<u8>) -> (Digest, usize) {
        let d = Digest::sha256(&bytes);
        let n = bytes.len();
        self.blobs.insert(d.clone(), bytes);
        (d, n)
    }

    fn image(&mut self, repo: &str, created: &str, layer: &str) -> Digest {
        let (cd, cn) = self.blob(
            json!({"created": created, "architecture": "amd64"})
                .to_string()
                .into_bytes(),
        );
        let (ld, ln) = self.blob(layer.as_bytes().to_vec());
        let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": cn},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld.to_string(), "size": ln}]});
        self.put(repo, m.to_string().into_bytes(), OCI_MANIFEST)
    }

    fn put(&mut self, repo: &str, bytes: Vec<u8>, media: &str) -> Digest {
        let d = Digest::sha256(&bytes);
        self.repos
            .entry(repo.into())
            .or_default()
            .1
            .insert(d.clone(), (bytes, media.into()));
        d
    }

    fn tag(&mut self, repo: &str, tag: &str, d: &Digest) {
        self.repos
            .entry(repo.into())
            .or_default()
            .0
            .insert(tag.into(), d.clone());
    }

    fn serve(&mut self, req: &Request) -> Response {
        if req.method == Method::Delete {
            self.deletes.push(req.path.clone());
        }
        let response = self.answer(req);
        match self.tamper.as_mut() {
            Some(tamper) => tamper(req, response),
            None => response,
        }
    }

    /// Blob uploads and manifest pushes (what a Distribution untag needs).
    fn push(&mut self, req: &Request, path: &str) -> Option<Response> {
        if let Some(repo) = path.strip_suffix("/blobs/uploads/") {
            if req.method == Method::Post {
                return Some(Response {
                    status: 202,
                    headers: vec![(
                        "Location".into(),
                        format!("http://localhost:5000/v2/{repo}/blobs/uploads/u1?state=x"),
                    )],
                    body: Vec::new(),
                });
            }
        }
        if req.method == Method::Put && path.contains("/blobs/uploads/") {
            let body = req.body.clone().unwrap_or_default().into_bytes();
            let claimed = req.path.split("digest=").nth(1).and_then(Digest::parse);
            if claimed != Some(Digest::sha256(&body)) {
                return Some(Response {
                    status: 400,
                    headers: vec![],
                    body: b"DIGEST_INVALID".to_vec(),
                });
            }
            self.blob(body);
            return Some(Response {
                status: 201,
                headers: vec![],
                body: Vec::new(),
            });
        }
        if req.method == Method::Put {
            if let Some((repo, reference)) = path.split_once("/manifests/") {
                let body = req.body.clone().unwrap_or_default().into_bytes();
                let media = req
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                // Distribution refuses an index whose children are not in the repository.
                let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let missing = doc["manifests"].as_array().into_iter().flatten().any(|c| {
                    let child = c["digest"].as_str().and_then(Digest::parse);
                    !child
                        .is_some_and(|c| self.repos.get(repo).is_some_and(|r| r.1.contains_key(&c)))
                });
                if missing {
                    return Some(bare(400, b"MANIFEST_BLOB_UNKNOWN".to_vec()));
                }
                let d = self.put(repo, body, &media);
                match Digest::parse(reference) {
                    Some(by) if by != d => {
                        return Some(Response {
                            status: 400,
                            headers: vec![],
                            body: b"DIGEST_INVALID".to_vec(),
                        });
                    }
                    Some(_) => {}
                    None => self.tag(repo, reference, &d),
                }
                return Some(Response {
                    status: 201,
                    headers: vec![("Docker-Content-Digest".into(), d.to_string())],
                    body: Vec::new(),
                });
            }
        }
        None
    }

    fn answer(&mut self, req: &Request) -> Response {
        self.seen += 1;
        if self.fail_every > 0 && self.seen % self.fail_every == 0 {
            self.injected += 1;
            return Response {
                status: 503,
                headers: vec![("Retry-After".into(), "0".into())],
                body: Vec::new(),
            };
        }
        let ok = |body: Vec<u8>, headers: Vec<(String, String)>| Response {
            status: 200,
            headers,
            body,
        };
        let not_found = Response {
            status: 404,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"404 page not found".to_vec(),
        };
        let path = req
            .path
            .split('?')
            .next()
            .unwrap_or_default()
            .trim_start_matches("/v2/")
            .to_owned();
        if path == "_catalog" {
            let names: Vec<&String> = self.repos.keys().collect();
            return ok(
                json!({"repositories": names}).to_string().into_bytes(),
                vec![],
            );
        }
        if let Some(repo) = path.strip_suffix("/tags/list") {
            let Some((tags, _)) = self.repos.get(repo) else {
                return not_found;
            };
            let mut names: Vec<&String> = tags.keys().collect();
            names.reverse(); // unsorted, as distribution answers
            return ok(
                json!({"name": repo, "tags": names})
                    .to_string()
                    .into_bytes(),
                vec![],
            );
        }
        if let Some(pushed) = self.push(req, &path) {
            return pushed;
        }
        if let Some((repo, reference)) = path.split_once("/manifests/") {
            let cut_off = req.method == Method::Delete && self.cut_off_deletes > 0;
            let Some((tags, manifests)) = self.repos.get_mut(repo) else {
                return not_found;
            };
            let digest = match Digest::parse(reference) {
                Some(d) => d,
                None => match tags.get(reference) {
                    Some(d) => d.clone(),
                    None => return not_found,
                },
            };
            let Some((bytes, media)) = manifests.get(&digest).cloned() else {
                return not_found;
            };
            let headers = vec![
                ("Docker-Content-Digest".into(), digest.to_string()),
                ("Content-Type".into(), media),
            ];
            return match req.method {
                Method::Head => ok(Vec::new(), headers),
                Method::Get => {
                    *self.manifest_gets.entry(digest).or_default() += 1;
                    ok(bytes, headers)
                }
                Method::Delete if cut_off => {
                    manifests.remove(&digest);
                    self.cut_off_deletes -= 1;
                    bare(500, b"UNKNOWN".to_vec())
                }
                Method::Delete => {
                    manifests.remove(&digest);
                    tags.retain(|_, d| *d != digest);
                    bare(202, Vec::new())
                }
                Method::Put | Method::Patch | Method::Post => bare(405, Vec::new()),
            };
        }
        if let Some((_, d)) = path.split_once("/blobs/") {
            return match Digest::parse(d).and_then(|d| self.blobs.get(&d)) {
                Some(b) => ok(b.clone(), vec![]),
                None => not_found,
            };
        }
        not_found
    }

    /// A registry with shared layers, several tags on one manifest, an index and a signature.
    fn fixture() -> (Registry, BTreeMap<&'static str, Digest>) {
        let mut r = Registry::default();
        let mut d = BTreeMap::new();
        let v1 = r.image("app", "2025-01-01T00:00:00Z", "app-v1");
        let v2 = r.image("app", "2026-06-01T00:00:00Z", "app-v2");
        r.tag("app", "v1", &v1);
        r.tag("app", "old", &v1);
        r.tag("app", "v2", &v2);
        let amd = r.image("multi", "2025-02-01T00:00:00Z", "amd64");
        let arm = r.image("multi", "2025-02-01T00:00:00Z", "arm64");
        let idx = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": amd.to_string(), "size": 1, "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": OCI_MANIFEST, "digest": arm.to_string(), "size": 1, "platform": {"architecture": "arm64", "os": "linux"}}]});
        let idx = r.put("multi", idx.to_string().into_bytes(), OCI_INDEX);
        r.tag("multi", "1.0", &idx);
        let (empty, _) = r.blob(b"{}".to_vec());
        let (payload, n) = r.blob(b"signature".to_vec());
        let sig = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": payload.to_string(), "size": n}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": v1.to_string(), "size": 1}});
        let sig = r.put("app", sig.to_string().into_bytes(), OCI_MANIFEST);
        r.tag("app", &format!("sha256-{}", v1.encoded()), &sig);
        d.insert("v1", v1);
        d.insert("v2", v2);
        d.insert("idx", idx);
        d.insert("amd", amd);
        d.insert("sig", sig);
        (r, d)
    }
}

/// Runs a crawl to the end against `reg`, two requests in flight at a time.
fn crawl(reg: &mut Registry) -> Snapshot {
    let mut c = Crawl::new(
        serde_json::from_value::<CrawlOptions>(json!({"registry": "localhost:5000"})).unwrap(),
    );
    let mut now = 0.0;
    while !c.is_done() {
        let batch: Vec<Request> = std::iter::from_fn(|| c.next_request(now)).take(2).collect();
        if batch.is_empty() {
            now = c.next_wakeup().unwrap();
            continue;
        }
        for req in batch {
            let resp = reg.serve(&req);
            c.handle_response(req.id, &resp, now).unwrap();
        }
    }
    c.snapshot().unwrap()
}

fn execute(reg: &mut Registry, p: &regprune_core::Plan) -> (regprune_core::http::Report, usize) {
    let options: ExecuteOptions =
        serde_json::from_value(json!({"registry": "localhost:5000"})).unwrap();
    let mut ex = Execute::new(p, options).unwrap();
    let mut now = 0.0;
    let mut journal = 0;
    while !ex.is_done() {
        let Some(req) = ex.next_request(now) else {
            now = ex.next_wakeup().unwrap_or(now + 1.0);
            continue;
        };
        journal += ex.take_journal().len();
        let resp = reg.serve(&req);
        ex.handle_response(req.id, &resp, now).unwrap();
    }
    (ex.report(), journal)
}

/// Crawls `reg` and plans `operation` against what it found.
fn planned(reg: &mut Registry, operation: serde_json::Value) -> regprune_core::Plan {
    let s = crawl(reg);
    plan(&s, &op(operation), &opts()).unwrap()
}

/// The outcome of the deletion of `digest`.
fn outcome<'a>(
    report: &'a regprune_core::http::Report,
    digest: &Digest,
) -> &'a regprune_core::http::Outcome {
    let d = digest.to_string();
    report
        .outcomes
        .iter()
        .find(|o| o.target.ends_with(&d))
        .unwrap_or_else(|| panic!("no outcome for {d}: {report:?}"))
}

fn opts() -> PlanOptions {
    PlanOptions::at(Timestamp::parse("2026-11-27T00:00:00Z").unwrap())
}

fn op(v: serde_json::Value) -> Operation {
    serde_json::from_value(v).unwrap()
}

#[test]
fn crawl_builds_the_snapshot_with_one_get_per_manifest() {
    let (mut reg, d) = Registry::fixture();
    let s = crawl(&mut reg);
    assert_eq!(s.untagged_listed, Some(false));
    let app = s
        .repositories
        .iter()
        .find(|r| r.name.as_str() == "app")
        .unwrap();
    assert_eq!(app.manifests.len(), 3);
    assert_eq!(app.tags.len(), 4);
    let v1 = app.manifests.iter().find(|m| m.digest == d["v1"]).unwrap();
    assert_eq!(v1.created_time.unwrap().to_string(), "2025-01-01T00:00:00Z");
    let multi = s
        .repositories
        .iter()
        .find(|r| r.name.as_str() == "multi")
        .unwrap();
    assert_eq!(multi.manifests.len(), 3, "the index and both children");
    let idx = multi
        .manifests
        .iter()
        .find(|m| m.digest == d["idx"])
        .unwrap();
    assert_eq!(
        idx.created_time.unwrap().to_string(),
        "2025-02-01T00:00:00Z",
        "an index is as old as its newest child"
    );
    assert!(
        reg.manifest_gets.values().all(|&n| n == 1),
        "{:?}",
        reg.manifest_gets
    );
    assert_eq!(reg.manifest_gets.len(), 6);
}

#[test]
fn executing_a_plan_leaves_the_predicted_state() {
    let (mut reg, d) = Registry::fixture();
    let p = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v1"}));
    assert_eq!(p.actions.len(), 2, "the image and its signature");
    let (report, journal) = execute(&mut reg, &p);
    assert!(report.complete, "{report:?}");
    assert_eq!(journal, 2, "every deletion was journalled first");
    let (tags, manifests) = &reg.repos["app"];
    assert!(!manifests.contains_key(&d["v1"]) && !manifests.contains_key(&d["sig"]));
    assert_eq!(tags.keys().collect::<Vec<_>>(), ["v2"]);
    // Re-planning the same request finds nothing left to delete.
    let again = crawl(&mut reg);
    let e = plan(
        &again,
        &op(json!({"op": "deleteImage", "image": "app:v1"})),
        &opts(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "image_not_found");
}

#[test]
fn an_index_goes_before_its_children() {
    let (mut reg, d) = Registry::fixture();
    let p = planned(
        &mut reg,
        json!({"op": "deleteRepository", "repository": "multi"}),
    );
    let (report, _) = execute(&mut reg, &p);
    assert!(report.complete, "{report:?}");
    assert!(reg.repos["multi"].1.is_empty());
    let p = plan(
        &crawl(&mut Registry::fixture().0),
        &op(json!({"op": "deleteImage", "image": "multi:1.0"})),
        &opts(),
    )
    .unwrap();
    let order: Vec<_> = p
        .actions
        .iter()
        .map(|a| a.digest.clone().unwrap())
        .collect();
    assert_eq!(order[0], d["idx"]);
}

#[test]
fn drift_is_skipped_not_deleted() {
    let (mut reg, d) = Registry::fixture();
    let p = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v1"}));
    // Between plan and execute, someone tags the planned image again.
    reg.tag("app", "hotfix", &d["v1"]);
    let (report, _) = execute(&mut reg, &p);
    let main = outcome(&report, &d["v1"]);
    assert_eq!(main.outcome, OutcomeKind::Skipped, "{report:?}");
    assert!(main.detail.contains("hotfix"));
    assert!(
        reg.repos["app"].1.contains_key(&d["v1"]),
        "the newly tagged image is still there"
    );
    assert_eq!(reg.repos["app"].0["hotfix"], d["v1"]);
}

#[test]
fn a_moved_tag_is_drift() {
    let (mut reg, d) = Registry::fixture();
    let p = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v1"}));
    reg.tag("app", "old", &d["v2"]);
    let (report, _) = execute(&mut reg, &p);
    assert!(
        report
            .outcomes
            .iter()
            .any(|o| o.outcome == OutcomeKind::Skipped && o.detail.contains("moved")),
        "{report:?}"
    );
    assert!(reg.repos["app"].1.contains_key(&d["v1"]));
}

#[test]
fn throttling_and_server_errors_are_retried() {
    let (mut reg, _) = Registry::fixture();
    reg.fail_every = 3;
    let p = planned(
        &mut reg,
        json!({"op": "deleteRepository", "repository": "app"}),
    );
    let before = reg.injected;
    let (report, _) = execute(&mut reg, &p);
    assert!(
        before > 0,
        "the crawl met injected 503s and still completed"
    );
    assert!(reg.injected > before, "so did the execution");
    assert!(report.complete, "{report:?}");
    assert!(
        report.outcomes.iter().map(|o| o.retries).sum::<u32>() > 0,
        "{report:?}"
    );
    assert!(reg.repos["app"].1.is_empty());
}

#[test]
fn an_edited_plan_is_refused() {
    let (mut reg, d) = Registry::fixture();
    let mut p = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v2"}));
    p.actions[0].digest = Some(d["v1"].clone());
    let options: ExecuteOptions = serde_json::from_value(json!({"registry": "r"})).unwrap();
    let e = Execute::new(&p, options).err().unwrap();
    assert!(e.to_string().contains("edited"), "{e}");
}

/// A tiny ACR: the `/acr/v1` listings (times, locks), tag deletion, `PATCH`, and `/v2`.
#[derive(Default)]
struct Acr {
    inner: Registry,
    times: BTreeMap<Digest, String>,
    locked: BTreeMap<String, bool>,
    patched: Vec<String>,
    /// The manifest listing carries no attributes (each item's own `GET` does).
    bare_listing: bool,
}

impl Acr {
    fn attrs(&self, key: &str) -> serde_json::Value {
        let locked = self.locked.get(key).copied().unwrap_or(false);
        json!({"deleteEnabled": !locked, "writeEnabled": !locked, "readEnabled": true, "listEnabled": true})
    }

    fn manifest_json(&self, repo: &str, d: &Digest) -> serde_json::Value {
        let (tags, manifests) = &self.inner.repos[repo];
        let t = self
            .times
            .get(d)
            .cloned()
            .unwrap_or_else(|| "2025-01-01T00:00:00Z".into());
        let names: Vec<&String> = tags
            .iter()
            .filter(|(_, x)| *x == d)
            .map(|(n, _)| n)
            .collect();
        let doc: serde_json::Value = serde_json::from_slice(&manifests[d].0).unwrap();
        let references: Vec<serde_json::Value> = doc["manifests"]
            .as_array()
            .map(|a| a.iter().map(|c| json!({"digest": c["digest"]})).collect())
            .unwrap_or_default();
        json!({"digest": d.to_string(), "imageSize": manifests[d].0.len(), "createdTime": t, "lastUpdateTime": t,
               "mediaType": manifests[d].1, "tags": names, "references": references, "changeableAttributes": self.attrs(&format!("{repo}@{d}"))})
    }

    fn tag_json(&self, repo: &str, tag: &str, d: &Digest) -> serde_json::Value {
        let t = self
            .times
            .get(d)
            .cloned()
            .unwrap_or_else(|| "2025-01-01T00:00:00Z".into());
        json!({"name": tag, "digest": d.to_string(), "createdTime": t, "lastUpdateTime": t,
               "changeableAttributes": self.attrs(&format!("{repo}:{tag}"))})
    }

    fn serve(&mut self, req: &Request) -> Response {
        let ok = |v: serde_json::Value| Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: v.to_string().into_bytes(),
        };
        let nf = Response {
            status: 404,
            headers: vec![],
            body: br#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#.to_vec(),
        };
        let path = req.path.split('?').next().unwrap_or_default().to_owned();
        let Some(rest) = path.strip_prefix("/acr/v1/") else {
            return self.inner.serve(req);
        };
        if rest == "_catalog" {
            let names: Vec<&String> = self.inner.repos.keys().collect();
            return ok(json!({"repositories": names}));
        }
        if let Some(repo) = rest.strip_suffix("/_tags") {
            let Some((tags, _)) = self.inner.repos.get(repo) else {
                return nf;
            };
            let list: Vec<_> = tags
                .iter()
                .map(|(t, d)| self.tag_json(repo, t, d))
                .collect();
            return ok(json!({"registry": "acr.example.io", "imageName": repo, "tags": list}));
        }
        if let Some(repo) = rest.strip_suffix("/_manifests") {
            let Some((_, manifests)) = self.inner.repos.get(repo) else {
                return nf;
            };
            let list: Vec<_> = manifests
                .keys()
                .map(|d| {
                    let mut m = self.manifest_json(repo, d);
                    if self.bare_listing {
                        m.as_object_mut().unwrap().remove("changeableAttributes");
                    }
                    m
                })
                .collect();
            return ok(json!({"registry": "acr.example.io", "imageName": repo, "manifests": list}));
        }
        if let Some((repo, d)) = rest.split_once("/_manifests/") {
            let d = Digest::parse(d).unwrap();
            if !self
                .inner
                .repos
                .get(repo)
                .is_some_and(|r| r.1.contains_key(&d))
            {
                return nf;
            }
            if req.method == Method::Patch {
                self.patched.push(format!("{repo}@{d}"));
                self.locked.insert(format!("{repo}@{d}"), false);
            }
            return ok(
                json!({"registry": "acr.example.io", "imageName": repo, "manifest": self.manifest_json(repo, &d)}),
            );
        }
        if let Some((repo, tag)) = rest.split_once("/_tags/") {
            let Some(d) = self
                .inner
                .repos
                .get(repo)
                .and_then(|r| r.0.get(tag))
                .cloned()
            else {
                return nf;
            };
            return match req.method {
                Method::Delete => {
                    self.inner.repos.get_mut(repo).unwrap().0.remove(tag);
                    Response {
                        status: 202,
                        headers: vec![],
                        body: vec![],
                    }
                }
                Method::Patch => {
                    self.patched.push(format!("{repo}:{tag}"));
                    self.locked.insert(format!("{repo}:{tag}"), false);
                    ok(json!({"tag": self.tag_json(repo, tag, &d)}))
                }
                _ => ok(
                    json!({"registry": "acr.example.io", "imageName": repo, "tag": self.tag_json(repo, tag, &d)}),
                ),
            };
        }
        nf
    }
}

fn drive<M>(
    machine: &mut M,
    serve: &mut dyn FnMut(&Request) -> Response,
    next: fn(&mut M, f64) -> Option<Request>,
    done: fn(&mut M) -> bool,
    handle: fn(&mut M, u64, &Response, f64),
) {
    let mut now = 0.0;
    while !done(machine) {
        match next(machine, now) {
            Some(req) => {
                let resp = serve(&req);
                handle(machine, req.id, &resp, now);
            }
            None => now += 1.0,
        }
    }
}

fn acr_fixture() -> (Acr, BTreeMap<&'static str, Digest>) {
    let (inner, d) = Registry::fixture();
    let mut acr = Acr {
        inner,
        ..Acr::default()
    };
    acr.times
        .insert(d["v1"].clone(), "2025-01-01T00:00:00Z".into());
    acr.times
        .insert(d["v2"].clone(), "2026-11-20T00:00:00Z".into());
    let dangling = acr.inner.image("app", "2024-01-01T00:00:00Z", "dangling");
    acr.times
        .insert(dangling.clone(), "2024-01-01T00:00:00Z".into());
    let mut d = d;
    d.insert("dangling", dangling);
    (acr, d)
}

fn acr_crawl(acr: &mut Acr) -> Snapshot {
    let mut c = Crawl::new(
        serde_json::from_value::<CrawlOptions>(json!({"registry": "acr.example.io"})).unwrap(),
    );
    drive(
        &mut c,
        &mut |r| acr.serve(r),
        Crawl::next_request,
        Crawl::is_done,
        |c, id, r, now| c.handle_response(id, r, now).unwrap(),
    );
    assert_eq!(c.flavour(), regprune_core::http::Flavour::Acr, "detected");
    c.snapshot().unwrap()
}

fn acr_execute(acr: &mut Acr, p: &regprune_core::Plan) -> regprune_core::http::Report {
    let options: ExecuteOptions =
        serde_json::from_value(json!({"registry": "acr.example.io"})).unwrap();
    let mut ex = Execute::new(p, options).unwrap();
    drive(
        &mut ex,
        &mut |r| acr.serve(r),
        Execute::next_request,
        Execute::is_done,
        |e, id, r, now| e.handle_response(id, r, now).unwrap(),
    );
    ex.report()
}

#[test]
fn acr_crawl_reads_times_locks_and_untagged_manifests() {
    let (mut acr, d) = acr_fixture();
    acr.locked.insert("app:v2".to_owned(), true);
    let s = acr_crawl(&mut acr);
    assert_eq!(s.untagged_listed, Some(true));
    let app = s
        .repositories
        .iter()
        .find(|r| r.name.as_str() == "app")
        .unwrap();
    let dangling = app
        .manifests
        .iter()
        .find(|m| m.digest == d["dangling"])
        .expect("untagged manifests are listed");
    assert_eq!(
        dangling.last_update_time.unwrap().to_string(),
        "2024-01-01T00:00:00Z"
    );
    assert!(dangling.layers.is_some(), "content fetched");
    let v2 = app.tags.iter().find(|t| t.name.as_str() == "v2").unwrap();
    assert_eq!(
        v2.changeable_attributes.unwrap().delete_enabled,
        Some(false)
    );
    assert!(s
        .repositories
        .iter()
        .any(|r| r.name.as_str() == "multi" && r.manifests.len() == 3));
}

#[test]
fn acr_purge_runs_on_acr_with_tag_deletion() {
    let (mut acr, d) = acr_fixture();
    let s = acr_crawl(&mut acr);
    let p = plan(&s, &op(json!({"op": "acrPurge", "command": "acr purge --filter 'app:^v1$' --ago 30d --untagged"})), &opts()).unwrap();
    let report = acr_execute(&mut acr, &p);
    assert!(report.complete, "{report:?}");
    let (tags, manifests) = &acr.inner.repos["app"];
    assert!(
        !tags.contains_key("v1"),
        "v1 untagged through ACR's tag deletion"
    );
    assert!(
        tags.contains_key("old"),
        "old still tags v1's image, so the image stays"
    );
    assert!(manifests.contains_key(&d["v1"]));
    assert!(
        !manifests.contains_key(&d["dangling"]),
        "the old untagged manifest is deleted"
    );
}

#[test]
fn acr_include_locked_unlocks_first_and_new_locks_are_drift() {
    let (mut acr, d) = acr_fixture();
    acr.locked.insert("app:v2".into(), true);
    let s = acr_crawl(&mut acr);
    let p = plan(&s, &op(json!({"op": "acrPurge", "command": "acr purge --filter 'app:^v2$' --ago 0d --include-locked"})), &opts()).unwrap();
    assert!(p.actions.iter().any(|a| a.unlock));
    let report = acr_execute(&mut acr, &p);
    assert!(report.complete, "{report:?}");
    assert_eq!(acr.patched, ["app:v2"]);
    assert!(!acr.inner.repos["app"].0.contains_key("v2"));
    // A lock that appears after planning is drift: skipped, not deleted.
    let (mut acr, _) = acr_fixture();
    let s = acr_crawl(&mut acr);
    let p = plan(
        &s,
        &op(json!({"op": "deleteImage", "image": "app:v1"})),
        &opts(),
    )
    .unwrap();
    acr.locked.insert(format!("app@{}", d["v1"]), true);
    let report = acr_execute(&mut acr, &p);
    let main = outcome(&report, &d["v1"]);
    assert_eq!(main.outcome, OutcomeKind::Skipped);
    assert!(main.detail.contains("locked"));
    assert!(acr.inner.repos["app"].1.contains_key(&d["v1"]));
}

#[test]
fn a_manifest_newly_listed_by_a_tagged_index_is_drift() {
    let (mut reg, d) = Registry::fixture();
    let p = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v2"}));
    // After planning, someone pushes a multi-arch index that lists the planned image.
    let idx = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": d["v2"].to_string(), "size": 1, "platform": {"architecture": "amd64", "os": "linux"}}]});
    let idx = reg.put("app", idx.to_string().into_bytes(), OCI_INDEX);
    reg.tag("app", "bundle", &idx);
    let (report, _) = execute(&mut reg, &p);
    let o = outcome(&report, &d["v2"]);
    assert_eq!(o.outcome, OutcomeKind::Skipped, "{report:?}");
    assert!(o.detail.contains("index"), "{}", o.detail);
    assert!(
        reg.repos["app"].1.contains_key(&d["v2"]),
        "the index is not broken"
    );
}

/// Microsoft's published ACR API examples as the registry's answers: the listings are read,
/// and the example manifest body, which does not hash to the listed digest, stops the crawl.
#[test]
fn acr_crawl_on_the_published_examples_verifies_digests() {
    let fixture = |name: &str| -> serde_json::Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/acr-api")
            .join(name);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["responses"]["200"]["body"].clone()
    };
    let serve = |req: &Request| -> Response {
        let path = req.path.split('?').next().unwrap_or_default();
        let body = match path {
            "/acr/v1/nanoserver/_tags" => fixture("GetTagList.json"),
            "/acr/v1/nanoserver/_manifests" => fixture("GetManifestList.json"),
            p if p.starts_with("/v2/nanoserver/manifests/") => fixture("GetManifest.json"),
            _ => {
                return Response {
                    status: 404,
                    headers: vec![],
                    body: vec![],
                }
            }
        };
        Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    };
    let opts: CrawlOptions = serde_json::from_value(json!({"registry": "acrapi.azurecr-test.io", "flavour": "acr", "repositories": ["nanoserver"]})).unwrap();
    let mut c = Crawl::new(opts);
    let mut error = None;
    while !c.is_done() && error.is_none() {
        let Some(req) = c.next_request(0.0) else {
            break;
        };
        if let Err(e) = c.handle_response(req.id, &serve(&req), 0.0) {
            error = Some(e);
        }
    }
    let e = error.expect("the example body does not match the listed digest");
    assert_eq!(e.code(), "digest_mismatch", "{e}");
}

#[test]
fn acr_a_manifest_newly_listed_by_an_index_is_drift() {
    let (mut acr, d) = acr_fixture();
    let s = acr_crawl(&mut acr);
    let p = plan(
        &s,
        &op(json!({"op": "deleteImage", "image": "app:v2"})),
        &opts(),
    )
    .unwrap();
    let idx = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": d["v2"].to_string(), "size": 1}]});
    let idx = acr
        .inner
        .put("app", idx.to_string().into_bytes(), OCI_INDEX);
    acr.inner.tag("app", "bundle", &idx);
    let report = acr_execute(&mut acr, &p);
    let o = outcome(&report, &d["v2"]);
    assert_eq!(o.outcome, OutcomeKind::Skipped, "{report:?}");
    assert!(acr.inner.repos["app"].1.contains_key(&d["v2"]));
}

/// Crawls `reg` to the end or to its first error.
fn try_crawl(reg: &mut Registry) -> regprune_core::Result<Snapshot> {
    try_crawl_with(reg, json!({"registry": "localhost:5000"}))
}

/// An answer with a status, a body and no headers.
fn bare(status: u16, body: Vec<u8>) -> Response {
    Response {
        status,
        headers: vec![],
        body,
    }
}

fn with_header(mut r: Response, name: &str, value: &str) -> Response {
    r.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    r.headers.push((name.into(), value.into()));
    r
}

#[test]
fn hostile_registries_get_clear_errors_and_no_deletion() {
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "an endless pagination loop",
            Box::new(|req: &Request, r: Response| {
                if req.path.contains("_catalog") {
                    with_header(r, "Link", "</v2/_catalog?n=100&last=a>; rel=\"next\"")
                } else {
                    r
                }
            }),
            "loops",
        ),
        (
            "a next page on another host",
            Box::new(|req: &Request, r: Response| {
                if req.path.contains("_catalog") {
                    with_header(
                        r,
                        "Link",
                        "<https://evil.example.com/v2/_catalog?n=1>; rel=\"next\"",
                    )
                } else {
                    r
                }
            }),
            "another host",
        ),
        (
            "malformed JSON",
            Box::new(|req: &Request, mut r: Response| {
                if req.path.contains("tags/list") {
                    r.body = b"{\"tags\": [\"v1\",".to_vec();
                }
                r
            }),
            "tags",
        ),
        (
            "an oversized listing",
            Box::new(|req: &Request, mut r: Response| {
                if req.path.contains("_catalog") {
                    r.body = vec![b' '; (64 << 20) + 1];
                }
                r
            }),
            "limit",
        ),
        (
            "manifest bytes that do not match their digest",
            Box::new(|req: &Request, mut r: Response| {
                if req.method == Method::Get && req.path.contains("/manifests/") {
                    r.body.push(b' ');
                }
                r
            }),
            "hash to",
        ),
        (
            "a wrong Docker-Content-Digest",
            Box::new(|req: &Request, r: Response| {
                if req.path.contains("/manifests/") {
                    with_header(
                        r,
                        "Docker-Content-Digest",
                        &Digest::sha256(b"other").to_string(),
                    )
                } else {
                    r
                }
            }),
            "inconsistent",
        ),
    ];
    for (what, tamper, expected) in cases {
        let (mut reg, _) = Registry::fixture();
        reg.tamper = Some(tamper);
        let err = try_crawl(&mut reg).expect_err(what);
        assert!(err.to_string().contains(expected), "{what}: {err}");
        assert!(reg.deletes.is_empty(), "{what}: nothing is deleted");
    }
}

#[test]
fn an_execution_never_deletes_what_it_could_not_verify() {
    // The registry serves other bytes under the planned digest while the plan executes.
    let (mut reg, _) = Registry::fixture();
    let p = planned(
        &mut reg,
        json!({"op": "purge", "filter": [".*:.*"], "ago": "0d", "untagged": true}),
    );
    assert!(!p.actions.is_empty());
    reg.tamper = Some(Box::new(|req: &Request, mut r: Response| {
        if req.method == Method::Get && req.path.contains("/manifests/sha256:") {
            r.body.extend_from_slice(b"\n");
        }
        r
    }));
    let (report, _) = execute(&mut reg, &p);
    assert!(reg.deletes.is_empty(), "{:?}", reg.deletes);
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| matches!(o.outcome, OutcomeKind::Failed | OutcomeKind::Skipped)),
        "{report:?}"
    );
}

/// A crawl that keeps manifest bytes, then an execution handed those bytes: one request per
/// deletion (no `GET`), and the same journal as an execution that fetches.
#[test]
fn manifests_kept_by_the_crawl_spare_the_fetch_before_each_delete() {
    let (mut fetching, _) = Registry::fixture();
    let (mut sparing, d) = Registry::fixture();
    let operation = json!({"op": "deleteRepository", "repository": "multi"});
    let p = planned(&mut fetching, operation.clone());

    let mut c = Crawl::new(
        serde_json::from_value::<CrawlOptions>(
            json!({"registry": "localhost:5000", "keepManifests": true}),
        )
        .unwrap(),
    );
    let mut kept = Vec::new();
    while let Some(req) = c.next_request(0.0) {
        let resp = sparing.serve(&req);
        c.handle_response(req.id, &resp, 0.0).unwrap();
        kept.extend(c.take_manifests());
    }
    assert!(c.is_done());
    assert_eq!(
        plan(&c.snapshot().unwrap(), &op(operation), &opts())
            .unwrap()
            .digest,
        p.digest
    );
    let distinct: std::collections::BTreeSet<_> = kept.iter().map(|k| &k.digest).collect();
    assert_eq!(kept.len(), distinct.len(), "each manifest handed out once");
    assert!(kept.iter().all(|k| Digest::sha256(&k.bytes) == k.digest));

    let run = |reg: &mut Registry, kept: &[regprune_core::http::KeptManifest]| {
        let options: ExecuteOptions =
            serde_json::from_value(json!({"registry": "localhost:5000"})).unwrap();
        let mut ex = Execute::new(&p, options).unwrap();
        let mut wanted = 0;
        for k in kept {
            wanted += usize::from(
                ex.known_manifest(&k.digest, k.media_type.as_deref(), k.bytes.clone())
                    .unwrap(),
            );
        }
        let (mut journal, mut gets) = (Vec::new(), 0);
        reg.manifest_gets.clear();
        while let Some(req) = ex.next_request(0.0) {
            journal.extend(ex.take_journal());
            gets +=
                usize::from(req.method == Method::Get && req.path.contains("/manifests/sha256:"));
            let resp = reg.serve(&req);
            ex.handle_response(req.id, &resp, 0.0).unwrap();
        }
        assert!(ex.is_done() && ex.report().complete, "{:?}", ex.report());
        (journal, gets, wanted)
    };
    let (fetched_journal, fetched_gets, _) = run(&mut fetching, &[]);
    let (spared_journal, spared_gets, wanted) = run(&mut sparing, &kept);
    // The index is read once, before its children may go: fetched when no bytes were kept
    // (and that GET journals it too), from the kept bytes otherwise.
    assert_eq!(
        fetched_gets, 3,
        "without kept bytes, each of the three deletions fetches once"
    );
    assert_eq!(spared_gets, 0, "with them, none does");
    assert_eq!(
        wanted, 3,
        "the index and its two children; the other repositories' are ignored"
    );
    assert_eq!(
        spared_journal, fetched_journal,
        "the same journal, byte for byte"
    );
    assert!(!sparing.repos["multi"].1.contains_key(&d["idx"]));

    // Bytes that do not hash to the digest (a damaged store file) are not used: the manifest
    // is fetched, and journalled with the registry's bytes.
    let options: ExecuteOptions =
        serde_json::from_value(json!({"registry": "localhost:5000"})).unwrap();
    let mut ex = Execute::new(&p, options).unwrap();
    let used = ex.known_manifest(&d["idx"], None, b"{}".to_vec()).unwrap();
    assert!(!used, "damaged bytes are not taken");
    let (mut damaged, _) = Registry::fixture();
    let mut journal = Vec::new();
    while let Some(req) = ex.next_request(0.0) {
        journal.extend(ex.take_journal());
        let resp = damaged.serve(&req);
        ex.handle_response(req.id, &resp, 0.0).unwrap();
    }
    assert!(ex.is_done() && ex.report().complete, "{:?}", ex.report());
    let idx = journal
        .iter()
        .find(|e| e.digest == d["idx"])
        .expect("journalled");
    assert_ne!(
        idx.manifest, "{}",
        "the registry's bytes, not the damaged ones"
    );
    assert_eq!(
        d["idx"].recompute(idx.manifest.as_bytes()).as_ref(),
        Some(&d["idx"])
    );
}

// ---- Fail closed (issue 24): every doubt stops a deletion ----

/// Runs an execution with up to `window` requests handed out before any is answered, so
/// that what may be in flight together is visible; `check` sees each window.
fn execute_windowed(
    reg: &mut Registry,
    p: &regprune_core::Plan,
    options: serde_json::Value,
    window: usize,
    check: &mut dyn FnMut(&[Request]),
) -> regprune_core::http::Report {
    let mut ex = Execute::new(p, serde_json::from_value(options).unwrap()).unwrap();
    let mut now = 0.0;
    let mut rounds = 0;
    while !ex.is_done() {
        rounds += 1;
        assert!(rounds < 100_000, "the execution does not end");
        let batch: Vec<Request> = std::iter::from_fn(|| ex.next_request(now))
            .take(window)
            .collect();
        if batch.is_empty() {
            now = ex.next_wakeup().unwrap_or(now + 1.0);
            continue;
        }
        check(&batch);
        for req in batch {
            let resp = reg.serve(&req);
            ex.handle_response(req.id, &resp, now)
                .unwrap_or_else(|e| panic!("an execution never aborts on an answer: {e}"));
        }
    }
    ex.report()
}

fn local() -> serde_json::Value {
    json!({"registry": "localhost:5000"})
}

/// Finding 1: a re-check answered with anything but the expected statuses is "unknown": the
/// repository's planned deletions are skipped with the status, never run as if the tag, the
/// tag list or the index were absent. Each case adds drift that failing open would destroy.
#[test]
fn unexpected_answers_to_the_recheck_skip_instead_of_deleting() {
    type Case = (&'static str, fn(&Request) -> Option<u16>, &'static str);
    let cases: Vec<Case> = vec![
        (
            "401 on a tag HEAD",
            |q| (q.method == Method::Head && q.path.ends_with("/hotfix")).then_some(401),
            "HTTP 401",
        ),
        (
            "403 on a tag HEAD",
            |q| (q.method == Method::Head && q.path.ends_with("/hotfix")).then_some(403),
            "HTTP 403",
        ),
        (
            "400 on a tag HEAD",
            |q| (q.method == Method::Head && q.path.ends_with("/hotfix")).then_some(400),
            "HTTP 400",
        ),
        (
            "301 on a tag HEAD",
            |q| (q.method == Method::Head && q.path.ends_with("/hotfix")).then_some(301),
            "HTTP 301",
        ),
        (
            "404 on the tag list",
            |q| q.path.contains("/app/tags/list").then_some(404),
            "HTTP 404",
        ),
        (
            "403 on the tag list",
            |q| q.path.contains("/app/tags/list").then_some(403),
            "HTTP 403",
        ),
    ];
    for (what, status, expected) in cases {
        let (mut reg, d) = Registry::fixture();
        let p = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v1"}));
        reg.tag("app", "hotfix", &d["v1"]);
        reg.tamper = Some(Box::new(move |q: &Request, r: Response| match status(q) {
            Some(s) => Response {
                status: s,
                headers: vec![],
                body: Vec::new(),
            },
            None => r,
        }));
        let report = execute_windowed(&mut reg, &p, local(), 4, &mut |_| {});
        assert!(reg.deletes.is_empty(), "{what}: {:?}", reg.deletes);
        let o = outcome(&report, &d["v1"]);
        assert_eq!(o.outcome, OutcomeKind::Skipped, "{what}: {report:?}");
        assert!(o.detail.contains(expected), "{what}: {}", o.detail);
        assert_eq!(reg.repos["app"].0["hotfix"], d["v1"], "{what}");
    }
    // A tagged index that cannot be read (403) may list a planned manifest: skip.
    let (mut reg, d) = Registry::fixture();
    let p = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v2"}));
    let idx = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": d["v2"].to_string(), "size": 1}]});
    let idx = reg.put("app", idx.to_string().into_bytes(), OCI_INDEX);
    reg.tag("app", "bundle", &idx);
    let hidden = idx.to_string();
    reg.tamper = Some(Box::new(move |q: &Request, r: Response| {
        if q.method == Method::Get && q.path.ends_with(&hidden) {
            Response {
                status: 403,
                headers: vec![],
                body: Vec::new(),
            }
        } else {
            r
        }
    }));
    let report = execute_windowed(&mut reg, &p, local(), 4, &mut |_| {});
    assert!(reg.deletes.is_empty(), "{:?}", reg.deletes);
    assert_eq!(outcome(&report, &d["v2"]).outcome, OutcomeKind::Skipped);
}

/// Finding 13: a tag answering without `Docker-Content-Digest` skips its repository and the
/// execution goes on to a report: no abort after deletions elsewhere were made.
#[test]
fn a_missing_digest_header_skips_its_repository_and_the_run_goes_on() {
    let (mut reg, d) = Registry::fixture();
    let p = planned(
        &mut reg,
        json!({"op": "purge", "filter": [".*:.*"], "ago": "0d", "untagged": true}),
    );
    reg.tamper = Some(Box::new(|q: &Request, mut r: Response| {
        if q.method == Method::Head && q.path.starts_with("/v2/app/") {
            r.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("docker-content-digest"));
        }
        r
    }));
    let report = execute_windowed(&mut reg, &p, local(), 4, &mut |_| {});
    assert!(
        reg.deletes.iter().all(|p| !p.starts_with("/v2/app/")),
        "{:?}",
        reg.deletes
    );
    let o = outcome(&report, &d["v1"]);
    assert_eq!(o.outcome, OutcomeKind::Skipped);
    assert!(o.detail.contains("Docker-Content-Digest"), "{}", o.detail);
    assert!(
        reg.deletes.iter().any(|p| p.starts_with("/v2/multi/")),
        "the other repository was still executed: {report:?}"
    );
}

/// Finding 2: a tag added after review to a manifest of a planned repository deletion is
/// drift, exactly as on `deleteImage`; the rest of the repository goes.
#[test]
fn delete_repository_checks_tag_drift_per_manifest() {
    let (mut reg, d) = Registry::fixture();
    let p = planned(
        &mut reg,
        json!({"op": "deleteRepository", "repository": "app"}),
    );
    let late = reg.image("app", "2026-11-30T00:00:00Z", "pushed after review");
    reg.tag("app", "late", &late);
    reg.tag("app", "v2-hotfix", &d["v2"]);
    let report = execute_windowed(&mut reg, &p, local(), 4, &mut |_| {});
    let o = outcome(&report, &d["v2"]);
    assert_eq!(o.outcome, OutcomeKind::Skipped, "{report:?}");
    assert!(o.detail.contains("v2-hotfix"), "{}", o.detail);
    let (tags, manifests) = &reg.repos["app"];
    assert!(manifests.contains_key(&d["v2"]) && manifests.contains_key(&late));
    assert_eq!(tags["v2-hotfix"], d["v2"]);
    assert!(
        !manifests.contains_key(&d["v1"]),
        "the unchanged manifests went"
    );
}

/// Finding 15: when an index is not deleted (here drift: tagged again after review), the
/// manifests it lists stay, whatever the reason they were planned.
#[test]
fn children_of_an_index_that_stays_are_not_deleted() {
    let (mut reg, d) = Registry::fixture();
    let p = planned(
        &mut reg,
        json!({"op": "deleteRepository", "repository": "multi"}),
    );
    reg.tag("multi", "pinned-by-ops", &d["idx"]);
    let report = execute_windowed(&mut reg, &p, local(), 8, &mut |_| {});
    assert!(reg.deletes.is_empty(), "{:?} {report:?}", reg.deletes);
    assert_eq!(outcome(&report, &d["idx"]).outcome, OutcomeKind::Skipped);
    let child = outcome(&report, &d["amd"]);
    assert_eq!(child.outcome, OutcomeKind::Skipped, "{report:?}");
    assert!(
        child.detail.contains(&d["idx"].to_string()),
        "{}",
        child.detail
    );
    // The index's own DELETE refused while its children wait for it.
    let (mut reg, d) = Registry::fixture();
    let p = planned(
        &mut reg,
        json!({"op": "deleteRepository", "repository": "multi"}),
    );
    let index = d["idx"].to_string();
    reg.tamper = Some(Box::new(move |q: &Request, r: Response| {
        if q.method == Method::Delete && q.path.ends_with(&index) {
            Response {
                status: 403,
                headers: vec![],
                body: Vec::new(),
            }
        } else {
            r
        }
    }));
    let report = execute_windowed(&mut reg, &p, local(), 8, &mut |_| {});
    assert_eq!(outcome(&report, &d["idx"]).outcome, OutcomeKind::Failed);
    assert_eq!(
        outcome(&report, &d["amd"]).outcome,
        OutcomeKind::Skipped,
        "{report:?}"
    );
    assert!(
        reg.repos["multi"].1.contains_key(&d["amd"]),
        "{:?}",
        reg.deletes
    );
}

/// Finding 14: a plan's own untags are not drift for the manifest they leave untagged, so a
/// purge with `untagged` executes completely in one run, and re-planning finds nothing.
#[test]
fn a_plans_own_untags_are_not_drift() {
    let (mut reg, d) = Registry::fixture();
    // `acr purge` untags what its filter matches, then deletes what that leaves untagged; it
    // needs per-tag times, which a storage or ACR snapshot has: given here.
    let operation = json!({"op": "acrPurge", "command": "acr purge --filter 'app:v1|old|sha256-.*' --ago 0d --untagged"});
    let with_times = |mut s: Snapshot| {
        for r in &mut s.repositories {
            for m in &mut r.manifests {
                m.last_update_time = Some(Timestamp::parse("2025-06-01T00:00:00Z").unwrap());
            }
            for t in &mut r.tags {
                t.last_update_time = Some(Timestamp::parse("2025-06-01T00:00:00Z").unwrap());
            }
        }
        s
    };
    let p = plan(
        &with_times(crawl(&mut reg)),
        &op(operation.clone()),
        &opts(),
    )
    .unwrap();
    let kinds: Vec<_> = p
        .actions
        .iter()
        .map(|a| (a.kind, a.digest.clone()))
        .collect();
    assert!(
        kinds.contains(&(regprune_core::ActionType::Untag, Some(d["v1"].clone())))
            && kinds.contains(&(
                regprune_core::ActionType::DeleteManifest,
                Some(d["v1"].clone())
            )),
        "the plan untags v1 and old, then deletes the manifest they leave: {kinds:?}"
    );
    let report = execute_windowed(&mut reg, &p, local(), 8, &mut |_| {});
    assert!(report.complete, "{report:?}");
    assert!(!reg.repos["app"].1.contains_key(&d["v1"]));
    let again = plan(&with_times(crawl(&mut reg)), &op(operation), &opts()).unwrap();
    assert!(
        again
            .actions
            .iter()
            .all(|a| a.digest.as_ref() != Some(&d["v1"])),
        "{:?}",
        again.actions
    );
}

/// Finding 16: Distribution untags of one repository never overlap (a placeholder `PUT`
/// while another placeholder's `DELETE` runs is what makes the registry fail it), and a
/// `DELETE` answered 404 after a retry is verified against the tag list: a cut-off untag is
/// repaired, a cut-off manifest deletion is reported failed with its dangling tags.
#[test]
fn untags_do_not_overlap_and_a_404_after_a_retry_is_verified() {
    let (mut reg, d) = Registry::fixture();
    for t in ["a", "b", "c", "e"] {
        reg.tag("app", t, &d["v2"]);
    }
    let p = planned(
        &mut reg,
        json!({"op": "purge", "filter": ["app:a|b|c|e"], "ago": "0d"}),
    );
    assert_eq!(p.actions.len(), 4, "{:?}", p.actions);
    reg.cut_off_deletes = 1;
    let mut overlapped = 0;
    let report = execute_windowed(&mut reg, &p, local(), 8, &mut |batch| {
        let untag_requests = batch
            .iter()
            .filter(|q| q.method != Method::Get && q.method != Method::Head)
            .count();
        overlapped += usize::from(untag_requests > 1);
    });
    assert_eq!(overlapped, 0, "untags of one repository ran together");
    assert!(report.complete, "{report:?}");
    let tags = &reg.repos["app"].0;
    for t in ["a", "b", "c", "e"] {
        assert!(
            !tags.contains_key(t),
            "{t} is gone, not left dangling: {tags:?}"
        );
    }
    assert_eq!(tags["v2"], d["v2"]);

    let (mut reg, d) = Registry::fixture();
    let p = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v1"}));
    reg.cut_off_deletes = 1;
    let report = execute_windowed(&mut reg, &p, local(), 8, &mut |_| {});
    // The first DELETE (the signature's: referrers go first) is cut off; the scripted
    // registry leaves its tag behind, and that is reported, naming the tag.
    let sig = outcome(&report, &d["sig"]);
    assert_eq!(sig.outcome, OutcomeKind::Failed, "{report:?}");
    assert!(
        sig.detail.contains("cut off") && sig.detail.contains(&d["v1"].encoded()),
        "{}",
        sig.detail
    );
    assert_eq!(outcome(&report, &d["v1"]).outcome, OutcomeKind::Done);
}

/// Finding 10 (execution): a tag list whose `Link` points at itself, or keeps producing new
/// pages that add nothing, ends with the repository skipped instead of looping forever.
#[test]
fn endless_pagination_in_the_recheck_ends() {
    for what in ["a Link to itself", "ever new cursors", "past the page cap"] {
        let (mut reg, d) = Registry::fixture();
        let p = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v1"}));
        let mut n = 0;
        reg.tamper = Some(Box::new(move |q: &Request, r: Response| {
            if !q.path.contains("/app/tags/list") {
                return r;
            }
            n += 1;
            let next = if what == "a Link to itself" {
                q.path.clone()
            } else {
                format!("/v2/app/tags/list?last=t{n}")
            };
            let mut r = with_header(r, "Link", &format!("<{next}>; rel=\"next\""));
            if what == "past the page cap" && n > 1 {
                // Each page adds a tag (that does not resolve): only the cap ends it.
                r.body = json!({"tags": [format!("t{n}")]}).to_string().into_bytes();
            }
            r
        }));
        // The cap is set low for its own case only: the other two must end on their own.
        let cap = if what == "past the page cap" {
            20
        } else {
            10_000
        };
        let options = json!({"registry": "localhost:5000", "maxPages": cap});
        let report = execute_windowed(&mut reg, &p, options, 4, &mut |_| {});
        assert!(reg.seen < 100, "{what}: {} requests", reg.seen);
        assert!(reg.deletes.is_empty(), "{what}");
        assert_eq!(
            outcome(&report, &d["v1"]).outcome,
            OutcomeKind::Skipped,
            "{what}"
        );
    }
}

/// Finding 3: a plan made for one registry is refused by another unless it is retargeted on
/// purpose, and then the report says so.
#[test]
fn a_plan_is_bound_to_its_registry() {
    let (mut reg, _) = Registry::fixture();
    let p = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v1"}));
    assert_eq!(p.registry.as_deref(), Some("localhost:5000"));
    let other: ExecuteOptions =
        serde_json::from_value(json!({"registry": "prod.example.com"})).unwrap();
    let e = Execute::new(&p, other).err().expect("refused");
    assert_eq!(e.code(), "invalid_operation");
    assert!(
        e.to_string().contains("localhost:5000") && e.to_string().contains("prod.example.com"),
        "{e}"
    );
    for same in [
        "localhost:5000",
        "http://LOCALHOST:5000/",
        "https://localhost:5000/v2/",
    ] {
        let o: ExecuteOptions = serde_json::from_value(json!({"registry": same})).unwrap();
        assert!(Execute::new(&p, o).is_ok(), "{same}");
    }
    let report = execute_windowed(
        &mut reg,
        &p,
        json!({"registry": "localhost:5000"}),
        4,
        &mut |_| {},
    );
    assert_eq!(report.retargeted, None);
    let o: ExecuteOptions =
        serde_json::from_value(json!({"registry": "mirror.example.com", "retarget": true}))
            .unwrap();
    let mut ex = Execute::new(&p, o).unwrap();
    while ex.next_request(0.0).is_some() {}
    assert_eq!(ex.report().retargeted.as_deref(), Some("localhost:5000"));
}

/// Executes `p` as run `run`, appending its journal lines to `journal`.
fn execute_journalled(
    reg: &mut Registry,
    p: &regprune_core::Plan,
    run: &str,
    journal: &mut String,
) {
    let options = json!({"registry": "localhost:5000", "runId": run});
    let mut ex = Execute::new(p, serde_json::from_value(options).unwrap()).unwrap();
    let mut now = 0.0;
    while !ex.is_done() {
        let Some(req) = ex.next_request(now) else {
            now = ex.next_wakeup().unwrap_or(now + 1.0);
            continue;
        };
        for e in ex.take_journal() {
            journal.push_str(&serde_json::to_string(&e).unwrap());
            journal.push('\n');
        }
        let resp = reg.serve(&req);
        ex.handle_response(req.id, &resp, now).unwrap();
    }
    assert!(ex.report().complete, "{:?}", ex.report());
}

fn undo(
    reg: &mut Registry,
    journal: &str,
    options: serde_json::Value,
) -> regprune_core::http::UndoReport {
    let mut u = Undo::new(
        journal.as_bytes(),
        serde_json::from_value::<UndoOptions>(options).unwrap(),
    )
    .unwrap();
    let mut now = 0.0;
    let mut window = Vec::new();
    while !u.is_done() {
        // Everything that is ready goes out together: ordering must come from the undo itself.
        window.extend(std::iter::from_fn(|| u.next_request(now)));
        if window.is_empty() {
            now = u.next_wakeup().unwrap_or(now + 1.0);
            continue;
        }
        // Served last first: nothing may depend on the order requests were handed out in.
        for req in window.drain(..).rev() {
            let resp = reg.serve(&req);
            u.handle_response(req.id, &resp, now).unwrap();
        }
    }
    u.report()
}

/// Finding 5: undo puts back exactly one run, indexes after their children, and only bytes
/// that hash to their journalled digest; a torn last line is skipped and said.
#[test]
fn undo_restores_one_run_from_verified_bytes() {
    let (mut reg, d) = Registry::fixture();
    let mut journal = String::new();
    let first = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v2"}));
    execute_journalled(&mut reg, &first, "run-1", &mut journal);
    let second = planned(
        &mut reg,
        json!({"op": "deleteRepository", "repository": "multi"}),
    );
    execute_journalled(&mut reg, &second, "run-2", &mut journal);
    assert!(reg.repos["multi"].1.is_empty());

    // A dry run lists the last run and sends nothing.
    let seen = reg.seen;
    let dry = undo(
        &mut reg,
        &journal,
        json!({"registry": "localhost:5000", "dryRun": true}),
    );
    assert_eq!(reg.seen, seen);
    assert_eq!(dry.run.as_deref(), Some("run-2"));
    assert_eq!(dry.runs.len(), 2);
    assert!(dry
        .results
        .iter()
        .all(|r| r.outcome == UndoOutcome::NotStarted));

    // A torn last line, as a crash leaves it.
    let mut torn = journal.clone();
    torn.push_str(&journal.lines().last().unwrap()[..40]);
    let report = undo(&mut reg, &torn, json!({"registry": "localhost:5000"}));
    assert_eq!(
        report.run.as_deref(),
        Some("run-2"),
        "the last complete run"
    );
    assert!(
        report
            .results
            .iter()
            .all(|r| r.outcome == UndoOutcome::Restored),
        "{report:?}"
    );
    assert_eq!(report.skipped_lines.len(), 1);
    assert!(
        report.skipped_lines[0].torn && report.complete,
        "{report:?}"
    );
    let (tags, manifests) = &reg.repos["multi"];
    assert_eq!(
        tags["1.0"], d["idx"],
        "the index is back, after its children"
    );
    assert!(manifests.contains_key(&d["amd"]));
    assert!(
        !reg.repos["app"].1.contains_key(&d["v2"]),
        "the earlier run stays undone"
    );

    // The earlier run, by name.
    let report = undo(
        &mut reg,
        &journal,
        json!({"registry": "localhost:5000", "run": "run-1"}),
    );
    assert!(report.complete, "{report:?}");
    assert_eq!(reg.repos["app"].0["v2"], d["v2"]);
    let e = Undo::new(
        journal.as_bytes(),
        serde_json::from_value(json!({"registry": "localhost:5000", "run": "run-9"})).unwrap(),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("run-1, run-2"), "{e}");
    let e = Undo::new(
        journal.as_bytes(),
        serde_json::from_value(json!({"registry": "prod.example.com"})).unwrap(),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("localhost:5000"), "{e}");
}

/// Finding 5: a journal line whose bytes were edited (digest unchanged) is refused: nothing is
/// pushed under its digest or its tags.
#[test]
fn undo_refuses_bytes_that_do_not_match_their_digest() {
    let (mut reg, d) = Registry::fixture();
    let mut journal = String::new();
    let p = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v2"}));
    execute_journalled(&mut reg, &p, "run-1", &mut journal);
    let mut entry: serde_json::Value = serde_json::from_str(journal.trim()).unwrap();
    let foreign = reg.repos["app"].1[&d["v1"]].0.clone();
    entry["manifest"] = json!(String::from_utf8(foreign).unwrap());
    let tampered = format!("{entry}\n");
    let puts_before = reg.seen;
    let report = undo(&mut reg, &tampered, json!({"registry": "localhost:5000"}));
    assert_eq!(reg.seen, puts_before, "nothing was sent");
    assert_eq!(report.skipped_lines.len(), 1);
    assert!(
        report.skipped_lines[0].reason.contains("do not hash"),
        "{report:?}"
    );
    assert!(!report.complete);
    assert!(
        !reg.repos["app"].0.contains_key("v2"),
        "no tag serves foreign content"
    );
}

/// Crawls `reg` with `options` to the end or to its first error.
fn try_crawl_with(
    reg: &mut Registry,
    options: serde_json::Value,
) -> regprune_core::Result<Snapshot> {
    let mut c = Crawl::new(serde_json::from_value::<CrawlOptions>(options).unwrap());
    let mut now = 0.0;
    let mut requests = 0;
    while !c.is_done() {
        let Some(req) = c.next_request(now) else {
            now = c.next_wakeup().unwrap_or(now + 1.0);
            continue;
        };
        requests += 1;
        assert!(requests < 20_000, "the crawl does not end");
        let resp = reg.serve(&req);
        c.handle_response(req.id, &resp, now)?;
    }
    c.snapshot()
}

/// Findings 10, 11, 13 (crawl): a catalog whose `Link` keeps producing new cursors that add
/// nothing ends with an error, and so does one past the page cap; an index listing more
/// children than the bound is a typed error naming it, not thousands of GETs; a tag list
/// answering a bare 404 leaves its repository out and the snapshot says it is incomplete and
/// why, while the registry's `NAME_UNKNOWN` (a repository without tags) is an empty tag list.
#[test]
fn crawls_are_bounded_and_say_what_they_miss() {
    let local = || json!({"registry": "localhost:5000"});
    let (mut reg, _) = Registry::fixture();
    let mut page = 0;
    reg.tamper = Some(Box::new(move |q: &Request, r: Response| {
        if !q.path.contains("_catalog") {
            return r;
        }
        page += 1;
        with_header(
            r,
            "Link",
            &format!("</v2/_catalog?last=r{page}&n=100>; rel=\"next\""),
        )
    }));
    let e = try_crawl_with(&mut reg, local()).unwrap_err();
    assert!(e.to_string().contains("added nothing"), "{e}");

    let (mut reg, _) = Registry::fixture();
    let mut page = 0;
    reg.tamper = Some(Box::new(move |q: &Request, mut r: Response| {
        if !q.path.contains("_catalog") {
            return r;
        }
        page += 1;
        // Each page names one more (empty) repository: only the cap ends it.
        r.body = json!({"repositories": [format!("r{page}")]})
            .to_string()
            .into_bytes();
        with_header(
            r,
            "Link",
            &format!("</v2/_catalog?last=r{page}&n=1>; rel=\"next\""),
        )
    }));
    let e = try_crawl_with(
        &mut reg,
        json!({"registry": "localhost:5000", "maxPages": 50}),
    )
    .unwrap_err();
    assert_eq!(e.code(), "limit_exceeded", "{e}");
    assert!(e.to_string().contains("maxPages"), "{e}");

    let (mut reg, d) = Registry::fixture();
    let e = try_crawl_with(
        &mut reg,
        json!({"registry": "localhost:5000", "maxIndexChildren": 1}),
    )
    .unwrap_err();
    assert_eq!(e.code(), "limit_exceeded", "{e}");
    assert!(
        e.to_string().contains("maxIndexChildren") && e.to_string().contains("multi"),
        "{e}"
    );
    assert!(
        !reg.manifest_gets.contains_key(&d["amd"]),
        "no child was fetched: {:?}",
        reg.manifest_gets
    );

    let (mut reg, _) = Registry::fixture();
    reg.tamper = Some(Box::new(|q: &Request, r: Response| {
        if q.path.contains("/multi/tags/list") {
            bare(404, b"404 page not found".to_vec())
        } else {
            r
        }
    }));
    let s = try_crawl_with(&mut reg, local()).unwrap();
    assert!(!s.complete);
    assert!(
        s.incomplete_reasons.iter().any(|r| r.starts_with("multi:")),
        "{:?}",
        s.incomplete_reasons
    );
    assert!(s.repositories.iter().all(|r| r.name.as_str() != "multi"));
    let p = plan(
        &s,
        &op(json!({"op": "deleteImage", "image": "app:v1"})),
        &opts(),
    )
    .unwrap();
    assert!(!p.reclaim.exact);
    assert!(p
        .warnings
        .iter()
        .any(|w| w.items.iter().any(|i| i.starts_with("multi:"))));

    let (mut reg, _) = Registry::fixture();
    reg.tamper = Some(Box::new(|q: &Request, r: Response| {
        if q.path.contains("/multi/tags/list") {
            bare(404, br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#.to_vec())
        } else {
            r
        }
    }));
    let s = try_crawl_with(&mut reg, local()).unwrap();
    assert!(s.complete, "{:?}", s.incomplete_reasons);
}

/// A repository the credentials may not read, or one that keeps failing, is left out and
/// named; when no repository can be listed there is no snapshot.
#[test]
fn a_repository_that_cannot_be_listed_is_left_out_and_named() {
    let local = || json!({"registry": "localhost:5000"});
    let (mut reg, _) = Registry::fixture();
    reg.tamper = Some(Box::new(|q: &Request, r: Response| {
        if q.path.contains("/multi/tags/list") {
            bare(403, Vec::new())
        } else if q.path.contains("/app/tags/list") {
            bare(503, Vec::new())
        } else {
            r
        }
    }));
    let e = try_crawl_with(
        &mut reg,
        json!({"registry": "localhost:5000", "maxAttempts": 2}),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("no repository could be listed"),
        "{e}"
    );
    let (mut reg, _) = Registry::fixture();
    reg.tamper = Some(Box::new(|q: &Request, r: Response| {
        if q.path.contains("/multi/tags/list") {
            bare(403, Vec::new())
        } else {
            r
        }
    }));
    let s = try_crawl_with(&mut reg, local()).unwrap();
    assert!(!s.complete);
    assert!(
        s.incomplete_reasons
            .iter()
            .any(|r| r.starts_with("multi:") && r.contains("HTTP 403")),
        "{:?}",
        s.incomplete_reasons
    );
}

/// Ctrl-C: after `cancel`, nothing more is sent, what was in flight is reported with the
/// registry's answer, and every other action is `notStarted`; the report says it was
/// interrupted and is not complete.
#[test]
fn a_cancelled_run_reports_what_was_done_and_what_was_not_started() {
    let (mut reg, _) = Registry::fixture();
    let p = planned(
        &mut reg,
        json!({"op": "deleteRepository", "repository": "app"}),
    );
    let options: ExecuteOptions = serde_json::from_value(local()).unwrap();
    let mut ex = Execute::new(&p, options).unwrap();
    let mut held = Vec::new();
    // Run until the first DELETE is handed out; hold it in flight and cancel.
    while let Some(req) = ex.next_request(0.0) {
        if req.method == Method::Delete {
            held.push(req);
            break;
        }
        let resp = reg.serve(&req);
        ex.handle_response(req.id, &resp, 0.0).unwrap();
    }
    ex.cancel();
    assert!(ex.next_request(0.0).is_none(), "nothing more is sent");
    assert!(!ex.is_done(), "the DELETE in flight is still awaited");
    for req in held {
        let resp = reg.serve(&req);
        ex.handle_response(req.id, &resp, 0.0).unwrap();
    }
    assert!(ex.is_done());
    let report = ex.report();
    assert!(report.interrupted && !report.complete);
    assert_eq!(reg.deletes.len(), 1);
    assert_eq!(report.counts.get("done"), Some(&1), "{report:?}");
    assert!(
        report.counts.get("notStarted").copied().unwrap_or(0) >= 1,
        "{report:?}"
    );
    assert_eq!(
        report.counts.values().sum::<u64>(),
        report.outcomes.len() as u64
    );
}

/// Finding 4: a plan edited on purpose and sealed again passes `verify` (a seal is no
/// signature), but not `check_evidence` against the snapshot it came from, which names the
/// first difference; the unedited plan passes.
#[test]
fn a_resealed_plan_is_caught_by_its_evidence() {
    let (mut reg, _) = Registry::fixture();
    let snapshot = crawl(&mut reg);
    let p = plan(
        &snapshot,
        &op(json!({"op": "deleteImage", "image": "app:v1"})),
        &opts(),
    )
    .unwrap();
    regprune_core::check_evidence(&p, &snapshot).unwrap();
    let mut evil = p.clone();
    let mut extra = evil.actions[0].clone();
    extra.kind = regprune_core::ActionType::DeleteRepository;
    extra.repository = regprune_core::RepositoryName::parse("multi").unwrap();
    evil.actions.push(extra);
    evil.digest = None;
    evil.seal();
    assert!(evil.verify(), "anyone can seal again");
    let e = regprune_core::check_evidence(&evil, &snapshot).unwrap_err();
    assert_eq!(e.code(), "invalid_operation");
    assert!(
        e.to_string().contains("1 action(s) more")
            && e.to_string().contains("deleteRepository multi"),
        "{e}"
    );
    // Another registry's snapshot is other evidence.
    let mut other = snapshot.clone();
    other.registry = Some("prod.example.com".into());
    let e = regprune_core::check_evidence(&p, &other).unwrap_err();
    assert!(e.to_string().contains("prod.example.com"), "{e}");
}

/// An index inside an index, all untagged and all planned: whatever phase each was planned
/// in, every manifest waits only for the indexes that list it, and the run finishes (a child
/// waiting on an index of a later phase must not hold its own phase forever).
#[test]
fn nested_indexes_all_go_and_the_run_finishes() {
    let (mut reg, d) = Registry::fixture();
    let leaf = reg.image("nest", "2025-01-01T00:00:00Z", "leaf");
    let inner = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": leaf.to_string(), "size": 1}]});
    let inner = reg.put("nest", inner.to_string().into_bytes(), OCI_INDEX);
    let outer = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_INDEX, "digest": inner.to_string(), "size": 1}]});
    let outer = reg.put("nest", outer.to_string().into_bytes(), OCI_INDEX);
    reg.tag("nest", "g", &outer);
    let mut s = crawl(&mut reg);
    // As a storage snapshot sees it once the tag is gone: every manifest listed, untagged.
    reg.repos.get_mut("nest").unwrap().0.clear();
    s.untagged_listed = Some(true);
    for r in &mut s.repositories {
        if r.name.as_str() == "nest" {
            r.tags.clear();
        }
    }
    let p = plan(
        &s,
        &op(json!({"op": "deleteUntagged", "repository": "nest"})),
        &opts(),
    )
    .unwrap();
    let planned: Vec<_> = p.actions.iter().filter_map(|a| a.digest.clone()).collect();
    for m in [&leaf, &inner, &outer] {
        assert!(planned.contains(m), "{m} planned: {:?}", p.actions);
    }
    let report = execute_windowed(&mut reg, &p, local(), 8, &mut |_| {});
    assert!(report.complete, "{report:?}");
    assert!(reg.repos["nest"].1.is_empty());
    let _ = d;
}

/// A referrer of a deleted image that an index being deleted also lists: it is planned in the
/// referrers' phase, before the index's. It waits for the index, off its phase's gate, and
/// the run finishes with everything deleted.
#[test]
fn a_referrer_listed_by_a_deleted_index_waits_for_it_without_stalling() {
    let (mut reg, _) = Registry::fixture();
    let subject = reg.image("rep", "2025-01-01T00:00:00Z", "subject");
    reg.tag("rep", "s", &subject);
    // Its config has a time, so that the index listing it has one too (as old as its newest
    // child) and the purge's age rule can select that index.
    let config = br#"{"created":"2025-01-01T00:00:00Z"}"#.to_vec();
    let (config, config_size) = reg.blob(config);
    let (payload, n) = reg.blob(b"sbom".to_vec());
    let referrer = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": config_size},
        "layers": [{"mediaType": "application/spdx+json", "digest": payload.to_string(), "size": n}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.to_string(), "size": 1}});
    let referrer = reg.put("rep", referrer.to_string().into_bytes(), OCI_MANIFEST);
    reg.tag("rep", &format!("sha256-{}", subject.encoded()), &referrer);
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": referrer.to_string(), "size": 1}]});
    let index = reg.put("rep", index.to_string().into_bytes(), OCI_INDEX);
    reg.tag("rep", "i", &index);
    let p = planned(
        &mut reg,
        json!({"op": "purge", "filter": ["rep:^[si]$"], "ago": "0d"}),
    );
    let phase_of = |d: &Digest| {
        p.actions
            .iter()
            .find(|a| a.digest.as_ref() == Some(d))
            .map(|a| a.reason.code)
    };
    assert!(
        phase_of(&referrer).is_some() && phase_of(&index).is_some(),
        "{:?}",
        p.actions
    );
    let report = execute_windowed(&mut reg, &p, local(), 8, &mut |_| {});
    assert!(report.complete, "{report:?}");
    let left = &reg.repos["rep"].1;
    assert!(
        !left.contains_key(&referrer) && !left.contains_key(&index) && !left.contains_key(&subject)
    );
}

/// A DELETE whose answer was lost (the registry did it) is sent again and answered 404: a
/// tagged manifest is verified against the tag list once, an untagged one needs no look.
#[test]
fn a_lost_answer_to_a_delete_is_verified_only_where_tags_could_be_left() {
    let (mut reg, d) = Registry::fixture();
    let p = planned(
        &mut reg,
        json!({"op": "deleteRepository", "repository": "multi"}),
    );
    let mut seen = std::collections::BTreeSet::new();
    reg.tamper = Some(Box::new(move |q: &Request, r: Response| {
        if q.method == Method::Delete && seen.insert(q.path.clone()) {
            return bare(0, Vec::new()); // done by the registry, the answer lost
        }
        r
    }));
    let mut lists = 0;
    let report = execute_windowed(&mut reg, &p, local(), 8, &mut |batch| {
        lists += batch
            .iter()
            .filter(|q| q.path.ends_with("/tags/list"))
            .count();
    });
    assert!(report.complete, "{report:?}");
    assert_eq!(outcome(&report, &d["idx"]).outcome, OutcomeKind::Done);
    assert!(outcome(&report, &d["idx"])
        .detail
        .contains("tag list confirms"));
    assert_eq!(
        outcome(&report, &d["amd"]).outcome,
        OutcomeKind::AlreadyGone
    );
    assert_eq!(
        lists, 2,
        "the re-listing and one verification (the tagged index's)"
    );
}

// ---- Issue 30: reuse what is immutable, ask once ----

/// Crawls `reg` (OCI), handing over whatever `store` holds for each manifest or config the
/// crawl is about to fetch, as an adapter reading a manifest store does; adds what was fetched
/// to `store`. Returns the snapshot, the crawl's last progress, and the requests by kind.
fn crawl_with_store(
    reg: &mut Registry,
    store: &mut BTreeMap<Digest, Vec<u8>>,
) -> (
    Snapshot,
    regprune_core::http::CrawlProgress,
    BTreeMap<&'static str, u64>,
) {
    let mut c = Crawl::new(
        serde_json::from_value::<CrawlOptions>(
            json!({"registry": "localhost:5000", "keepManifests": true}),
        )
        .unwrap(),
    );
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut saw_listing = false;
    loop {
        // An index handed over wants its children in turn: until nothing new is wanted.
        let mut wanted = c.take_wanted();
        while !wanted.is_empty() {
            for d in &wanted {
                if let Some(bytes) = store.get(d) {
                    c.known_manifest(d, None, bytes).unwrap();
                }
            }
            wanted = c.take_wanted();
        }
        let Some(req) = c.next_request(0.0) else {
            break;
        };
        let kind = if req.path.contains("/manifests/sha256:") {
            "manifest GET"
        } else if req.path.contains("/blobs/") {
            "config GET"
        } else {
            "listing"
        };
        *kinds.entry(kind).or_default() += 1;
        let resp = reg.serve(&req);
        c.handle_response(req.id, &resp, 0.0).unwrap();
        saw_listing |= c.progress().listing;
        for k in c.take_manifests() {
            store.insert(k.digest, k.bytes);
        }
    }
    assert!(c.is_done());
    assert!(
        saw_listing,
        "the progress says when listings are still being read"
    );
    (c.snapshot().unwrap(), c.progress(), kinds)
}

#[test]
fn an_unchanged_registry_is_recrawled_with_listing_requests_only() {
    let (mut reg, _) = Registry::fixture();
    let mut store = BTreeMap::new();
    let (first, p1, k1) = crawl_with_store(&mut reg, &mut store);
    let manifests: usize = first.repositories.iter().map(|r| r.manifests.len()).sum();
    assert!(k1["manifest GET"] as usize >= manifests - 1, "{k1:?}");
    assert!(
        !p1.listing && p1.needed == p1.resolved && p1.cached == 0,
        "{p1:?}"
    );
    assert!(p1.line().contains("0 reused"), "{}", p1.line());
    // Every saved entry is under its own digest: the store is a cache by construction.
    assert!(store
        .iter()
        .all(|(d, b)| d.recompute(b).as_ref() == Some(d)));

    let (second, p2, k2) = crawl_with_store(&mut reg, &mut store);
    assert_eq!(second.to_json(), first.to_json(), "the same snapshot");
    assert_eq!(k2.get("manifest GET"), None, "{k2:?}");
    assert_eq!(
        k2.get("config GET"),
        None,
        "image configs are reused too: {k2:?}"
    );
    assert_eq!(k2["listing"], k1["listing"], "listings are always fresh");
    assert_eq!(
        (p2.needed, p2.resolved, p2.cached),
        (p1.needed, p1.needed, p1.needed)
    );
    assert!(p2.line().contains("0 fetched"), "{}", p2.line());

    // Two new pushes: two manifest GETs (and their configs), nothing else fetched again.
    let a = reg.image("app", "2026-11-30T00:00:00Z", "new-a");
    reg.tag("app", "new-a", &a);
    let b = reg.image("web", "2026-11-29T00:00:00Z", "new-b");
    reg.tag("web", "new-b", &b);
    let (third, _, k3) = crawl_with_store(&mut reg, &mut store);
    assert_eq!(k3.get("manifest GET"), Some(&2), "{k3:?}");
    assert_eq!(k3.get("config GET"), Some(&2), "{k3:?}");
    let digests: Vec<&Digest> = third
        .repositories
        .iter()
        .flat_map(|r| &r.manifests)
        .map(|m| &m.digest)
        .collect();
    assert!(digests.contains(&&a) && digests.contains(&&b));

    // A damaged store entry is not used: that manifest is fetched (and saved again).
    let victim = a.clone();
    store.insert(victim.clone(), b"{\"damaged\": true}".to_vec());
    let (fourth, p4, k4) = crawl_with_store(&mut reg, &mut store);
    assert_eq!(k4.get("manifest GET"), Some(&1), "{k4:?}");
    assert_eq!(p4.rejected, 1);
    assert_eq!(fourth.to_json(), third.to_json());
    assert_eq!(
        victim.recompute(&store[&victim]).as_ref(),
        Some(&victim),
        "saved again"
    );
}

/// Requests of an ACR execution by kind.
fn acr_kinds(
    acr: &mut Acr,
    p: &regprune_core::Plan,
    known: &BTreeMap<Digest, Vec<u8>>,
) -> (regprune_core::http::Report, BTreeMap<String, u64>) {
    let options: ExecuteOptions =
        serde_json::from_value(json!({"registry": "acr.example.io"})).unwrap();
    let mut ex = Execute::new(p, options).unwrap();
    for (d, b) in known {
        ex.known_manifest(d, None, b.clone()).unwrap();
    }
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut now = 0.0;
    while !ex.is_done() {
        let Some(req) = ex.next_request(now) else {
            now += 1.0;
            continue;
        };
        let path = req.path.split('?').next().unwrap_or_default();
        let what = if path.ends_with("/_manifests")
            || path.ends_with("/_tags")
            || path.ends_with("/_catalog")
        {
            "listing"
        } else if path.contains("/_manifests/") || path.contains("/_tags/") {
            "attributes"
        } else {
            "manifest"
        };
        *kinds
            .entry(format!(
                "{} {what}",
                format!("{:?}", req.method).to_uppercase()
            ))
            .or_default() += 1;
        let resp = acr.serve(&req);
        ex.handle_response(req.id, &resp, now).unwrap();
    }
    (ex.report(), kinds)
}

/// `acr purge --filter '.*:.*' --ago 0d --untagged`, planned on a crawl of `acr`.
fn purge_everything(acr: &mut Acr) -> regprune_core::Plan {
    let s = acr_crawl(acr);
    let command = "acr purge --filter '.*:.*' --ago 0d --untagged";
    plan(
        &s,
        &op(json!({"op": "acrPurge", "command": command})),
        &opts(),
    )
    .unwrap()
}

#[test]
fn acr_execution_checks_drift_on_the_listing_and_fetches_each_manifest_once() {
    let (mut acr, d) = acr_fixture();
    let p = purge_everything(&mut acr);
    let untags = p
        .actions
        .iter()
        .filter(|a| a.kind == regprune_core::ActionType::Untag)
        .count() as u64;
    let deletes = p.actions.len() as u64 - untags;
    assert!(untags > 0 && deletes > 0, "{:?}", p.actions);
    let (report, kinds) = acr_kinds(&mut acr, &p, &BTreeMap::new());
    assert!(report.complete, "{report:?}");
    assert_eq!(
        kinds.get("GET attributes"),
        None,
        "the listing answered every check: {kinds:?}"
    );
    assert_eq!(
        kinds.get("DELETE attributes"),
        Some(&untags),
        "tags deleted through /acr/v1: {kinds:?}"
    );
    assert_eq!(kinds.get("DELETE manifest"), Some(&deletes), "{kinds:?}");
    // Each distinct manifest is fetched once for the journal, however many actions name it.
    let distinct: std::collections::BTreeSet<_> =
        p.actions.iter().filter_map(|a| a.digest.clone()).collect();
    assert_eq!(
        kinds.get("GET manifest"),
        Some(&(distinct.len() as u64)),
        "{kinds:?}"
    );
    let repos: std::collections::BTreeSet<_> =
        p.actions.iter().map(|a| a.repository.clone()).collect();
    // Per repository its manifests and (where it untags) its tags; and the detection.
    assert!(
        kinds["GET listing"] <= 2 * repos.len() as u64 + 1,
        "{kinds:?}"
    );
    assert!(!acr.inner.repos["app"].1.contains_key(&d["dangling"]));
}

#[test]
fn acr_execution_with_saved_manifests_sends_listings_and_deletes_only() {
    let (mut acr, _) = acr_fixture();
    let p = purge_everything(&mut acr);
    let known: BTreeMap<Digest, Vec<u8>> = acr
        .inner
        .repos
        .values()
        .flat_map(|(_, m)| m.iter().map(|(d, (b, _))| (d.clone(), b.clone())))
        .collect();
    let (report, kinds) = acr_kinds(&mut acr, &p, &known);
    assert!(report.complete, "{report:?}");
    let sent: u64 = kinds.values().sum();
    let listings = kinds["GET listing"];
    assert_eq!(
        sent - listings,
        p.actions.len() as u64,
        "one request per action: {kinds:?}"
    );
}

/// Where the listing does not say whether an item is locked, each item is checked with its
/// own `GET`, and a lock that appeared since the plan still stops its deletion.
#[test]
fn acr_items_the_listing_says_nothing_about_are_checked_on_their_own() {
    let (mut acr, d) = acr_fixture();
    let p = purge_everything(&mut acr);
    acr.bare_listing = true;
    acr.locked.insert(format!("app@{}", d["dangling"]), true);
    let (report, kinds) = acr_kinds(&mut acr, &p, &BTreeMap::new());
    let manifest_steps = p
        .actions
        .iter()
        .filter(|a| a.kind != regprune_core::ActionType::Untag)
        .count() as u64;
    assert_eq!(
        kinds.get("GET attributes"),
        Some(&manifest_steps),
        "one GET per manifest deletion, none per untag (the tag listing said): {kinds:?}"
    );
    let o = outcome(&report, &d["dangling"]);
    assert_eq!(o.outcome, OutcomeKind::Skipped, "{report:?}");
    assert!(o.detail.contains("locked"), "{}", o.detail);
    assert!(acr.inner.repos["app"].1.contains_key(&d["dangling"]));
}

/// The journal says when it must be synced: lines holding an entry (`sync`) before the
/// requests handed out with them are sent; outcome lines alone never hold a request back.
#[test]
fn journal_lines_say_when_they_must_be_synced() {
    let (mut reg, _) = Registry::fixture();
    let p = planned(&mut reg, json!({"op": "deleteImage", "image": "app:v2"}));
    let options = json!({"registry": "localhost:5000", "runId": "r"});
    let mut ex = Execute::new(&p, serde_json::from_value(options).unwrap()).unwrap();
    let (mut now, mut synced, mut outcomes, mut deletes) = (0.0, Vec::<String>::new(), 0, 0);
    while !ex.is_done() {
        let Some(req) = ex.next_request(now) else {
            now = ex.next_wakeup().unwrap_or(now + 1.0);
            continue;
        };
        let taken = ex.take_journal_lines();
        let entries = taken
            .lines
            .iter()
            .filter(|l| !l.contains("\"outcome\""))
            .count();
        assert_eq!(taken.sync, entries > 0, "{:?}", taken.lines);
        outcomes += taken.lines.len() - entries;
        if taken.sync {
            synced.extend(taken.lines);
        }
        if req.method == Method::Delete {
            deletes += 1;
            let digest = req.path.rsplit('/').next().unwrap().to_owned();
            let entry = format!("\"digest\":\"{digest}\"");
            assert!(
                synced
                    .iter()
                    .any(|l| l.contains(&entry) && !l.contains("\"outcome\"")),
                "DELETE {} before its entry was synced",
                req.path
            );
        }
        let resp = reg.serve(&req);
        ex.handle_response(req.id, &resp, now).unwrap();
    }
    let last = ex.take_journal_lines();
    assert!(!last.sync && last.lines.iter().all(|l| l.contains("\"outcome\"")));
    assert!(deletes > 0);
    assert_eq!(
        outcomes + last.lines.len(),
        deletes,
        "one outcome line per deletion"
    );
}

/// A crawl that reads for one plan (`decide`), and the manifests each `GET` read.
fn acr_crawl_deciding(acr: &mut Acr, decide: &serde_json::Value) -> (Snapshot, Vec<Digest>) {
    let options = json!({"registry": "acr.example.io", "decide": decide});
    let mut c = Crawl::new(serde_json::from_value::<CrawlOptions>(options).unwrap());
    let mut read = Vec::new();
    drive(
        &mut c,
        &mut |r| {
            if r.method == regprune_core::http::Method::Get {
                if let Some((_, d)) = r.path.split_once("/manifests/") {
                    read.push(Digest::parse(d).unwrap());
                }
            }
            acr.serve(r)
        },
        Crawl::next_request,
        Crawl::is_done,
        |c, id, r, now| c.handle_response(id, r, now).unwrap(),
    );
    (c.snapshot().unwrap(), read)
}

#[test]
fn reading_for_one_plan_reads_what_decides_it_and_plans_the_same_deletions() {
    let (mut acr, d) = acr_fixture();
    // An old untagged Docker image (no referrer by its type: deleted unread, as acr does) and
    // an old untagged signature of v2, which stays (read to learn it is a referrer).
    let (cd, cn) = acr
        .inner
        .blob(b"{\"created\":\"2024-01-01T00:00:00Z\"}".to_vec());
    let (ld, ln) = acr.inner.blob(b"docker layer".to_vec());
    let docker = json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cd.to_string(), "size": cn},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": ld.to_string(), "size": ln}]});
    let docker = acr
        .inner
        .put("app", docker.to_string().into_bytes(), DOCKER_MANIFEST);
    let (empty, _) = acr.inner.blob(b"{}".to_vec());
    let sig = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": d["v2"].to_string(), "size": 1}});
    let sig = acr
        .inner
        .put("app", sig.to_string().into_bytes(), OCI_MANIFEST);
    for x in [&docker, &sig] {
        acr.times.insert(x.clone(), "2024-06-01T00:00:00Z".into());
    }
    let command = "acr purge --filter '.*:.*' --ago 30d --untagged";
    let operation = json!({"op": "acrPurge", "command": command});
    let full = acr_crawl(&mut acr);
    let whole = plan(&full, &op(operation.clone()), &opts()).unwrap();
    let decide = json!({"operation": operation, "now": "2026-11-27T00:00:00Z"});
    let (lazy, read) = acr_crawl_deciding(&mut acr, &decide);
    let planned = plan(&lazy, &op(operation), &opts()).unwrap();

    let key = |p: &regprune_core::Plan| -> Vec<String> {
        p.actions
            .iter()
            .map(|a| format!("{:?} {} {:?} {:?}", a.kind, a.repository, a.digest, a.tag))
            .collect()
    };
    assert_eq!(key(&planned), key(&whole), "the same deletions");
    let deleted: Vec<&Digest> = whole
        .actions
        .iter()
        .filter_map(|a| a.digest.as_ref())
        .collect();
    assert!(deleted.contains(&&docker) && deleted.contains(&&d["dangling"]));
    assert!(
        !deleted.contains(&&sig),
        "the referrer of a surviving image stays"
    );
    assert!(read.contains(&d["idx"]), "every index is read");
    assert!(read.contains(&sig) && read.contains(&d["dangling"]) && read.contains(&d["v1"]));
    assert!(
        !read.contains(&docker),
        "a Docker image the plan deletes is not read"
    );
    assert!(
        !read.contains(&d["v2"]),
        "a manifest that stays is not read"
    );
    let each = read.len();
    for x in &read {
        assert_eq!(read.iter().filter(|y| *y == x).count(), 1, "{x} read once");
    }
    let all: usize = full.repositories.iter().map(|r| r.manifests.len()).sum();
    assert!(each < all, "{each} of {all} manifests read");
    // The bytes are an upper bound now, and the plan says why.
    let r = &planned.reclaim;
    assert!(
        !r.exact
            && r.inexact_reasons
                .iter()
                .any(|w| w.contains("without their content")),
        "{:?}",
        r.inexact_reasons
    );
    assert!(whole.reclaim.exact);
}
