//! The WebAssembly face of `regprune-core`. Documents cross as plain JS objects
//! (`Serializer::json_compatible()`); a snapshot may also come as a JSON string or bytes, which
//! are parsed in Rust, so JS never holds a second copy. Errors cross as real `Error` objects
//! carrying `code` and the variant's fields; the npm wrapper (`npm/index.js`) turns them into
//! `RegpruneError` subclasses.

use regprune_core::import::Import;
use regprune_core::review;
use regprune_core::{
    from_deserializer, Digest, Error, GeneratorOptions, IndexedSnapshot, Operation, Plan,
    PlanOptions, Snapshot,
};
use serde::Serialize;
use wasm_bindgen::prelude::*;

mod session;

/// Converts a core error into a JS `Error` with `name`, `code` and the variant's fields.
pub(crate) fn js_error(e: &Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("RegpruneError");
    if let Ok(fields) = e.serialize(&serde_wasm_bindgen::Serializer::json_compatible()) {
        let _ = js_sys::Object::assign(err.as_ref(), &fields.into());
    }
    let _ = js_sys::Reflect::set(
        err.as_ref(),
        &"exitCode".into(),
        &JsValue::from(e.exit_code()),
    );
    err.into()
}

pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| {
            // The one way a core value fails to become a JS value: an integer past 2^53 (a
            // reclaim total that saturated at 2^64), which a JS number cannot hold exactly.
            js_error(&Error::InvalidJson {
                path: "result".into(),
                message: format!("{e}; the JSON functions (planJson) give the exact text instead"),
            })
        })
}

/// Reads a document from a JS value. Paths in errors are relative to the document, except
/// for an operation, whose paths start with `operation` as in a plan.
pub(crate) fn from_js<T: serde::de::DeserializeOwned>(
    value: JsValue,
    under: Option<&str>,
) -> Result<T, JsValue> {
    from_deserializer(serde_wasm_bindgen::Deserializer::from(value)).map_err(|e: Error| {
        js_error(&match under {
            Some(prefix) => e.under(prefix),
            None => e,
        })
    })
}

/// Reads a snapshot given as a JSON string, JSON bytes (`Uint8Array`) or an object.
/// The largest snapshot JSON the WebAssembly build takes. wasm32 addresses 4 GiB: the bytes
/// copied in, the parsed snapshot (about as large) and a plan must fit, so a larger document
/// gets a typed `limit_exceeded` error instead of a trap when memory runs out. (A 1M-manifest
/// snapshot is 1.4 GB and plans in Node; use Python or Rust for larger registries.)
pub const MAX_SNAPSHOT_BYTES: u64 = 1_600_000_000;

fn check_size(len: u64) -> Result<(), JsValue> {
    if len > MAX_SNAPSHOT_BYTES {
        return Err(js_error(&regprune_core::Error::LimitExceeded {
            path: "snapshot".into(),
            limit: "maxSnapshotBytes".into(),
            allowed: MAX_SNAPSHOT_BYTES,
            actual: len,
        }));
    }
    Ok(())
}

/// Grows the module's memory once, ahead of reading `input_len` bytes of snapshot: its copy,
/// the parsed snapshot and its index take about three times the input. The allocator would
/// otherwise grow memory a few pages at a time, and V8 handles each growth slowly: the first
/// snapshot of 100k manifests parsed in 2.5 s in Node instead of 0.55 s (the block is freed
/// at once and reused by the allocator; where it cannot be had, nothing is reserved).
fn reserve_memory(input_len: usize) {
    for factor in [3, 2, 1] {
        let mut block = Vec::<u8>::new();
        if block
            .try_reserve_exact(input_len.saturating_mul(factor))
            .is_ok()
        {
            std::hint::black_box(&mut block);
            return;
        }
    }
}

fn snapshot_of(input: JsValue) -> Result<Snapshot, JsValue> {
    if let Some(text) = input.as_string() {
        check_size(text.len() as u64)?;
        reserve_memory(text.len());
        return Snapshot::from_json(text.as_bytes()).map_err(|e| js_error(&e));
    }
    if input.is_instance_of::<js_sys::Uint8Array>() {
        let array = js_sys::Uint8Array::from(input);
        check_size(u64::from(array.length()))?;
        reserve_memory(array.length() as usize);
        let bytes = array.to_vec();
        return Snapshot::from_json(&bytes).map_err(|e| js_error(&e));
    }
    from_js(input, None)
}

/// Reads a plan given as its JSON (text or UTF-8 bytes, like a snapshot) or as an object.
/// JSON is the fast way in: `serde_json` reads it inside WebAssembly about twice as fast as
/// an object is walked field by field across the boundary (2,000 actions: ~6 ms against
/// ~15), and numbers past 2^53 stay exact.
pub(crate) fn plan_of(input: JsValue) -> Result<Plan, JsValue> {
    if let Some(text) = input.as_string() {
        return Plan::from_json(text.as_bytes()).map_err(|e| js_error(&e));
    }
    if input.is_instance_of::<js_sys::Uint8Array>() {
        let bytes = js_sys::Uint8Array::from(input).to_vec();
        return Plan::from_json(&bytes).map_err(|e| js_error(&e));
    }
    from_js(input, None)
}

/// A parsed snapshot kept in WebAssembly memory, to plan against it many times (the preview
/// widget re-plans on every keystroke) without parsing or indexing it again.
#[wasm_bindgen]
pub struct ParsedSnapshot {
    indexed: IndexedSnapshot,
}

#[wasm_bindgen]
impl ParsedSnapshot {
    /// Parses a snapshot (JSON string, bytes or object).
    #[wasm_bindgen(constructor)]
    pub fn new(input: JsValue) -> Result<ParsedSnapshot, JsValue> {
        Ok(ParsedSnapshot {
            indexed: IndexedSnapshot::new(snapshot_of(input)?),
        })
    }

    /// Plans `operation` with `options` (`{now, pinned}`); returns the plan object.
    pub fn plan(&self, operation: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
        let operation: Operation = from_js(operation, Some("operation"))?;
        let options: PlanOptions = from_js(options, None)?;
        to_js(
            &self
                .indexed
                .plan(&operation, &options)
                .map_err(|e| js_error(&e))?,
        )
    }

    /// Plans and returns the plan's JSON text exactly as the core writes it.
    #[wasm_bindgen(js_name = planJson)]
    pub fn plan_json(&self, operation: JsValue, options: JsValue) -> Result<String, JsValue> {
        let operation: Operation = from_js(operation, Some("operation"))?;
        let options: PlanOptions = from_js(options, None)?;
        self.indexed
            .plan_json(&operation, &options)
            .map_err(|e| js_error(&e))
    }

    /// Plans `operation` for a preview: the plan stays in WebAssembly memory, unsealed, and
    /// is read a page at a time (`summary`, `items`); `sealedJson` seals it when it is saved.
    pub fn preview(&self, operation: JsValue, options: JsValue) -> Result<PlanPreview, JsValue> {
        let operation: Operation = from_js(operation, Some("operation"))?;
        let options: PlanOptions = from_js(options, None)?;
        let plan = self
            .indexed
            .plan_unsealed(&operation, &options)
            .map_err(|e| js_error(&e))?;
        Ok(PlanPreview { plan })
    }

    /// The reclaim of `plan`'s actions against this snapshot.
    pub fn reclaim(&self, plan: JsValue) -> Result<JsValue, JsValue> {
        let plan = plan_of(plan)?;
        to_js(&self.indexed.reclaim(&plan).map_err(|e| js_error(&e))?)
    }

    /// The snapshot as a plain object.
    #[wasm_bindgen(js_name = toObject)]
    pub fn to_object(&self) -> Result<JsValue, JsValue> {
        to_js(self.indexed.snapshot())
    }

    /// Number of manifests in the snapshot.
    #[wasm_bindgen(getter, js_name = manifestCount)]
    pub fn manifest_count(&self) -> usize {
        self.indexed
            .snapshot()
            .repositories
            .iter()
            .map(|r| r.manifests.len())
            .sum()
    }
}

/// A plan kept in WebAssembly memory for a preview: its summary and pages of its items cross
/// to JavaScript, the whole plan only when it is sealed.
#[wasm_bindgen]
pub struct PlanPreview {
    plan: Plan,
}

#[wasm_bindgen]
impl PlanPreview {
    /// The totals, the reclaim per repository and the warnings (their first five items).
    pub fn summary(&self) -> Result<JsValue, JsValue> {
        to_js(&review::summary(&self.plan))
    }

    /// `{total, items}`: a page of the items that match `query` (`{matching, sort, offset,
    /// limit}`), sorted.
    pub fn items(&self, query: JsValue) -> Result<JsValue, JsValue> {
        let query: review::ItemQuery = if query.is_undefined() || query.is_null() {
            review::ItemQuery::default()
        } else {
            from_js(query, Some("query"))?
        };
        to_js(&review::items(&self.plan, &query))
    }

    /// The sealed plan's JSON as UTF-8 bytes, exactly as the core writes it.
    #[wasm_bindgen(js_name = sealedJson)]
    pub fn sealed_json(&mut self) -> Vec<u8> {
        self.plan.seal_to_json().into_bytes()
    }
}

/// Builds a snapshot from a document of any importer (`{format: "acrListMetadata" | "acrApi",
/// …}`).
#[wasm_bindgen(js_name = importSnapshot)]
pub fn import_snapshot(document: JsValue) -> Result<JsValue, JsValue> {
    let import: Import = from_js(document, None)?;
    to_js(&import.into_snapshot().map_err(|e| js_error(&e))?)
}

/// Reads manifest bytes; `digest` (if given) must match them.
#[allow(clippy::needless_pass_by_value)] // wasm-bindgen hands over owned strings
#[wasm_bindgen(js_name = parseManifest)]
pub fn parse_manifest(
    bytes: &[u8],
    digest: Option<String>,
    content_type: Option<String>,
) -> Result<JsValue, JsValue> {
    let claimed = match digest {
        Some(d) => Some(
            d.parse::<Digest>()
                .map_err(|e| js_error(&e.under("digest")))?,
        ),
        None => None,
    };
    let m = regprune_core::import::parse_manifest(bytes, claimed.as_ref(), content_type.as_deref())
        .map_err(|e| js_error(&e))?;
    to_js(&m)
}

/// A registry address read by the core: `{scheme, host, port?, registry, origin, loopback,
/// username?, password?}`. Plain HTTP off loopback is refused unless `insecure`.
#[wasm_bindgen(js_name = parseRegistryUrl)]
pub fn parse_registry_url(text: &str, insecure: bool) -> Result<JsValue, JsValue> {
    let url = regprune_core::http::parse_registry_url(text, insecure).map_err(|e| js_error(&e))?;
    to_js(&url)
}

/// `text` safe to print on a terminal: control characters and bidi overrides escaped.
#[wasm_bindgen(js_name = escapeControls)]
pub fn escape_controls(text: &str) -> String {
    regprune_core::escape_controls(text).into_owned()
}

/// The human preview of a plan, listing its first `limit` actions (all when not given).
#[wasm_bindgen(js_name = renderText)]
pub fn render_text(plan: JsValue, limit: Option<u32>) -> Result<String, JsValue> {
    let plan = plan_of(plan)?;
    Ok(regprune_core::render_text_limited(
        &plan,
        limit.map(|n| n as usize),
    ))
}

fn report_of(report: JsValue) -> Result<Option<regprune_core::http::Report>, JsValue> {
    if report.is_undefined() || report.is_null() {
        return Ok(None);
    }
    if let Some(text) = report.as_string() {
        return regprune_core::from_json(text.as_bytes())
            .map(Some)
            .map_err(|e: regprune_core::Error| js_error(&e.under("report")));
    }
    from_js(report, Some("report")).map(Some)
}

/// The plan (and an execution's report, when given) as a GitHub-flavoured Markdown job
/// summary, showing the first `limit` (default 20) entries of each list.
#[wasm_bindgen(js_name = renderMarkdown)]
pub fn render_markdown(
    plan: JsValue,
    report: JsValue,
    limit: Option<u32>,
) -> Result<String, JsValue> {
    let plan = plan_of(plan)?;
    let report = report_of(report)?;
    Ok(regprune_core::render_markdown(
        &plan,
        report.as_ref(),
        limit.map_or(regprune_core::MARKDOWN_LIMIT, |n| n as usize),
    ))
}

/// GitHub workflow-command annotations (`::warning …`, `::error …` lines) for the plan's
/// warnings and, when a report is given, its failed and skipped actions.
#[wasm_bindgen(js_name = renderAnnotations)]
pub fn render_annotations(plan: JsValue, report: JsValue) -> Result<String, JsValue> {
    let plan = plan_of(plan)?;
    let report = report_of(report)?;
    Ok(regprune_core::render_annotations(&plan, report.as_ref()))
}

thread_local! {
    /// The host's sha256, set by `useSha256` (wasm runs on one thread).
    static HOST_SHA256: std::cell::RefCell<Option<js_sys::Function>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes every sha256 of this module (plan seals, their verification, manifests checked
/// against their digests) use `sha256` (bytes in, their 32-byte digest out), the host's:
/// Node's `crypto` hashes natively, where this module hashes in software, and slowly until
/// the engine has optimized the code (a first plan's 30 MB seal: 1.4 s). `undefined` goes
/// back to the module's own, as does a throw or a result that is not 32 bytes. Whatever it
/// returns is trusted.
#[wasm_bindgen(js_name = useSha256)]
pub fn use_sha256(sha256: Option<js_sys::Function>) {
    HOST_SHA256.with(|h| *h.borrow_mut() = sha256);
    // Installed once; it reads whichever function is set now.
    let _ = regprune_core::install_sha256(host_sha256);
}

fn host_sha256(bytes: &[u8]) -> [u8; 32] {
    // Taken out before the call, so a function that calls `useSha256` finds it unborrowed.
    let digest = HOST_SHA256.with(|h| h.borrow().clone()).and_then(|f| {
        let out = f
            .call1(&JsValue::NULL, &js_sys::Uint8Array::from(bytes))
            .ok()?
            .dyn_into::<js_sys::Uint8Array>()
            .ok()?;
        let mut digest = [0u8; 32];
        (out.length() == 32).then(|| {
            out.copy_to(&mut digest);
            digest
        })
    });
    digest.unwrap_or_else(|| regprune_core::software_sha256(bytes))
}

/// The pack record (`regprune_core::store`) of one manifest's bytes, to append to a manifest
/// store's pack. A digest that does not parse is an error naming it.
#[wasm_bindgen(js_name = packRecord)]
pub fn pack_record(digest: &str, bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
    let d = Digest::parse(digest).ok_or_else(|| {
        js_error(&Error::InvalidDigest {
            path: "packRecord.digest".into(),
            value: digest.to_owned(),
        })
    })?;
    Ok(regprune_core::store::pack_records([(&d, bytes)]))
}

/// A pack's records: `{entries: [[digest, offset, length]], damaged}`, `damaged` saying where
/// and why reading stopped early (null for a whole pack).
#[wasm_bindgen(js_name = indexPack)]
pub fn index_pack(pack: &[u8]) -> Result<JsValue, JsValue> {
    #[derive(serde::Serialize)]
    struct Index {
        entries: Vec<(String, u64, u64)>,
        damaged: Option<String>,
    }
    let index = regprune_core::store::index_pack(pack);
    to_js(&Index {
        entries: index
            .entries
            .into_iter()
            .map(|e| (e.digest.to_string(), e.offset, e.length))
            .collect(),
        damaged: index.damaged,
    })
}

/// The first line of every pack of a manifest store.
#[wasm_bindgen(js_name = packHeader)]
pub fn pack_header() -> Vec<u8> {
    regprune_core::store::PACK_HEADER.to_vec()
}

/// How many packs a manifest store may gather before they are merged into one.
#[wasm_bindgen(js_name = packsBeforeMerge)]
pub fn packs_before_merge() -> u32 {
    regprune_core::store::PACKS_BEFORE_MERGE as u32
}

/// The digest a plan must carry: sha256 of its canonical JSON without `digest`.
#[wasm_bindgen(js_name = planDigest)]
pub fn plan_digest(plan: JsValue) -> Result<String, JsValue> {
    let mut plan = plan_of(plan)?;
    plan.seal();
    Ok(plan.digest.map(|d| d.to_string()).unwrap_or_default())
}

/// Refuses a plan that is not exactly what its own operation gives against the snapshot
/// (object, JSON text or bytes): edited and sealed again, or made from other evidence.
#[wasm_bindgen(js_name = checkEvidence)]
pub fn check_evidence(plan: JsValue, snapshot: JsValue) -> Result<(), JsValue> {
    let plan = plan_of(plan)?;
    let snapshot = snapshot_of(snapshot)?;
    regprune_core::check_evidence(&plan, &snapshot).map_err(|e| js_error(&e))
}

/// Whether a plan's `digest` matches its content (nothing edited since it was made).
#[wasm_bindgen(js_name = verifyPlan)]
pub fn verify_plan(plan: JsValue) -> Result<bool, JsValue> {
    let plan = plan_of(plan)?;
    Ok(plan.verify())
}

/// A deterministic synthetic registry, as JSON text (large ones stay out of the JS heap until
/// parsed by `ParsedSnapshot`).
#[wasm_bindgen(js_name = generateJson)]
pub fn generate_json(options: JsValue) -> Result<String, JsValue> {
    let options: GeneratorOptions = from_js(options, None)?;
    Ok(regprune_core::generate(&options).to_json())
}

/// Every error code the core can raise.
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> Vec<String> {
    Error::CODES.iter().map(|c| (*c).to_owned()).collect()
}

/// The core's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
