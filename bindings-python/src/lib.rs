//! The Python face of `regprune-core`, as the private module `regprune._native`.
//!
//! Documents cross as JSON text (the contract is the JSON shape; the pure-Python package turns
//! it into typed objects), large inputs as `bytes` parsed here without a Python-side copy, and
//! the core works with the GIL released. Errors become the classes of `regprune.errors`, one
//! per core error code, in one function (`to_py_err`).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use regprune_core::import::Import;
use regprune_core::{
    Digest, Error, GeneratorOptions, IndexedSnapshot, Operation, Plan, PlanOptions, Snapshot,
};

/// Raises `regprune.errors.ERROR_CLASSES[code](message, fields)` for a core error.
fn to_py_err(py: Python<'_>, e: &Error) -> PyErr {
    let raise = || -> PyResult<PyErr> {
        let errors = py.import("regprune.errors")?;
        let class = errors.getattr("ERROR_CLASSES")?.get_item(e.code())?;
        let fields = PyDict::new(py);
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(e) {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) => fields.set_item(k, s)?,
                    serde_json::Value::Number(n) => fields.set_item(k, n.as_u64())?,
                    other => fields.set_item(k, other.to_string())?,
                }
            }
        }
        Ok(PyErr::from_value(class.call1((e.to_string(), fields))?))
    };
    raise().unwrap_or_else(|err| err)
}

fn core<T>(py: Python<'_>, r: Result<T, Error>) -> PyResult<T> {
    r.map_err(|e| to_py_err(py, &e))
}

/// Parses a document from JSON; paths in errors start with `under` when given.
fn parse<T: serde::de::DeserializeOwned>(
    py: Python<'_>,
    json: &[u8],
    under: Option<&str>,
) -> PyResult<T> {
    core(
        py,
        regprune_core::from_json(json).map_err(|e: Error| match under {
            Some(p) => e.under(p),
            None => e,
        }),
    )
}

/// A parsed snapshot kept in native memory, with its graph built once, to plan against it
/// many times.
#[pyclass(module = "regprune._native", frozen)]
struct ParsedSnapshot {
    indexed: IndexedSnapshot,
}

#[pymethods]
impl ParsedSnapshot {
    /// Parses a snapshot from JSON bytes (with the GIL released).
    #[new]
    fn new(py: Python<'_>, json: &[u8]) -> PyResult<Self> {
        let indexed = py.detach(|| Snapshot::from_json(json).map(IndexedSnapshot::new));
        Ok(ParsedSnapshot {
            indexed: core(py, indexed)?,
        })
    }

    /// Plans an operation (JSON) with options (JSON `{now, pinned}`); returns the plan's JSON.
    fn plan_json(&self, py: Python<'_>, operation: &[u8], options: &[u8]) -> PyResult<String> {
        let operation: Operation = parse(py, operation, Some("operation"))?;
        let options: PlanOptions = parse(py, options, None)?;
        let indexed = &self.indexed;
        let plan = py.detach(|| indexed.plan_json(&operation, &options));
        core(py, plan)
    }

    /// The reclaim (JSON) of a plan's (JSON) actions against this snapshot.
    fn reclaim_json(&self, py: Python<'_>, plan: &[u8]) -> PyResult<String> {
        let plan: Plan = parse(py, plan, None)?;
        let reclaim = core(py, self.indexed.reclaim(&plan))?;
        serde_json::to_string(&reclaim).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The snapshot as JSON.
    fn to_json(&self) -> String {
        self.indexed.snapshot().to_json()
    }

    /// Number of manifests.
    #[getter]
    fn manifest_count(&self) -> usize {
        self.indexed
            .snapshot()
            .repositories
            .iter()
            .map(|r| r.manifests.len())
            .sum()
    }
}

/// A request as Python sees it: `(id, method, path, headers, scope, body)`.
type PyRequest = (
    u64,
    &'static str,
    String,
    Vec<(String, String)>,
    String,
    Option<String>,
);

fn py_request(r: regprune_core::http::Request) -> PyRequest {
    (r.id, r.method.as_str(), r.path, r.headers, r.scope, r.body)
}

fn response(
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> regprune_core::http::Response {
    regprune_core::http::Response {
        status,
        headers,
        body,
    }
}

/// A crawl of a registry in progress (the conversation lives in the core; Python sends).
#[pyclass(module = "regprune._native")]
struct Crawl {
    inner: regprune_core::http::Crawl,
}

#[pymethods]
impl Crawl {
    /// Starts a crawl with options (JSON).
    #[new]
    fn new(py: Python<'_>, options: &[u8]) -> PyResult<Self> {
        let options = parse(py, options, None)?;
        Ok(Crawl {
            inner: regprune_core::http::Crawl::new(options),
        })
    }

    /// The next request ready at `now`, or None.
    fn next_request(&mut self, now: f64) -> Option<PyRequest> {
        self.inner.next_request(now).map(py_request)
    }

    /// Feeds a response.
    fn handle_response(
        &mut self,
        py: Python<'_>,
        id: u64,
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        now: f64,
    ) -> PyResult<()> {
        core(
            py,
            self.inner
                .handle_response(id, &response(status, headers, body), now),
        )
    }

    /// When the next delayed request is due.
    fn next_wakeup(&self) -> Option<f64> {
        self.inner.next_wakeup()
    }

    /// Whether the crawl is over.
    fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// Counters (JSON).
    fn progress_json(&self) -> String {
        serde_json::to_string(&self.inner.progress()).unwrap_or_default()
    }

    /// Manifests fetched since the last call, with `keepManifests`: `(digest, media type,
    /// bytes)`, the bytes checked against the digest.
    fn take_manifests<'py>(
        &mut self,
        py: Python<'py>,
    ) -> Vec<(String, Option<String>, Bound<'py, PyBytes>)> {
        self.inner
            .take_manifests()
            .into_iter()
            .map(|k| {
                let bytes = PyBytes::new(py, &k.bytes);
                (k.digest.to_string(), k.media_type, bytes)
            })
            .collect()
    }

    /// The snapshot (JSON), once done.
    fn snapshot_json(&self, py: Python<'_>) -> PyResult<String> {
        Ok(core(py, self.inner.snapshot())?.to_json())
    }
}

/// An undo of one run of a journal in progress.
#[pyclass(module = "regprune._native")]
struct Undo {
    inner: regprune_core::http::Undo,
}

#[pymethods]
impl Undo {
    /// Reads a journal (its bytes) and prepares to undo one run with options (JSON).
    #[new]
    fn new(py: Python<'_>, journal: &[u8], options: &[u8]) -> PyResult<Self> {
        let options = parse(py, options, None)?;
        Ok(Undo {
            inner: core(py, regprune_core::http::Undo::new(journal, options))?,
        })
    }

    /// The next request ready at `now`, or None.
    fn next_request(&mut self, now: f64) -> Option<PyRequest> {
        self.inner.next_request(now).map(py_request)
    }

    /// Feeds a response.
    fn handle_response(
        &mut self,
        py: Python<'_>,
        id: u64,
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        now: f64,
    ) -> PyResult<()> {
        core(
            py,
            self.inner
                .handle_response(id, &response(status, headers, body), now),
        )
    }

    /// When the next delayed request is due.
    fn next_wakeup(&self) -> Option<f64> {
        self.inner.next_wakeup()
    }

    /// Whether every journal line of the run has an outcome.
    fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// `(finished, total)` lines.
    fn progress(&self) -> (usize, usize) {
        self.inner.progress()
    }

    /// The report (JSON).
    fn report_json(&self) -> String {
        serde_json::to_string(&self.inner.report()).unwrap_or_default()
    }
}

/// An execution of a sealed plan in progress.
#[pyclass(module = "regprune._native")]
struct Execute {
    inner: regprune_core::http::Execute,
}

#[pymethods]
impl Execute {
    /// Prepares to execute a plan (JSON) with options (JSON); refuses an edited plan.
    #[new]
    fn new(py: Python<'_>, plan: &[u8], options: &[u8]) -> PyResult<Self> {
        let plan: Plan = parse(py, plan, None)?;
        let options = parse(py, options, None)?;
        Ok(Execute {
            inner: core(py, regprune_core::http::Execute::new(&plan, options))?,
        })
    }

    /// The next request ready at `now`, or None.
    fn next_request(&mut self, now: f64) -> Option<PyRequest> {
        self.inner.next_request(now).map(py_request)
    }

    /// The distinct manifests (digests) this execution journals, to hand over with
    /// `known_manifest` where they were saved.
    fn wanted_manifests(&self) -> Vec<String> {
        self.inner
            .wanted_manifests()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Hands over a manifest's exact bytes (saved by the crawl), so its deletion needs no
    /// fetch (its media type is the plan's); False when the plan does not delete it.
    /// Refuses bytes that do not match.
    fn known_manifest(&mut self, py: Python<'_>, digest: &str, bytes: Vec<u8>) -> PyResult<bool> {
        let d = core(
            py,
            Digest::parse(digest).ok_or_else(|| Error::InvalidDigest {
                path: "knownManifest.digest".into(),
                value: digest.to_owned(),
            }),
        )?;
        core(py, self.inner.known_manifest(&d, None, bytes))
    }

    /// Journal lines (JSON) to write durably before sending the requests handed out so far.
    fn take_journal(&mut self) -> Vec<String> {
        self.inner
            .take_journal()
            .iter()
            .filter_map(|e| serde_json::to_string(e).ok())
            .collect()
    }

    /// Feeds a response.
    fn handle_response(
        &mut self,
        py: Python<'_>,
        id: u64,
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        now: f64,
    ) -> PyResult<()> {
        core(
            py,
            self.inner
                .handle_response(id, &response(status, headers, body), now),
        )
    }

    /// When the next delayed request is due.
    fn next_wakeup(&self) -> Option<f64> {
        self.inner.next_wakeup()
    }

    /// Whether every action has an outcome.
    fn is_done(&mut self) -> bool {
        self.inner.is_done()
    }

    /// `(finished, total)` deletions.
    fn progress(&self) -> (usize, usize) {
        self.inner.progress()
    }

    /// Stops the run (Ctrl-C): nothing more is sent; what is in flight is still handled.
    fn cancel(&mut self) {
        self.inner.cancel();
    }

    /// The report (JSON).
    fn report_json(&self) -> String {
        serde_json::to_string(&self.inner.report()).unwrap_or_default()
    }
}

/// Builds a snapshot (JSON) from an importer document (JSON).
#[pyfunction]
fn import_snapshot_json(py: Python<'_>, document: &[u8]) -> PyResult<String> {
    let import: Import = parse(py, document, None)?;
    Ok(core(py, import.into_snapshot())?.to_json())
}

/// Reads manifest bytes; `digest`, when given, must match them. Returns the manifest's JSON.
#[pyfunction]
#[pyo3(signature = (data, digest=None, content_type=None))]
fn parse_manifest_json(
    py: Python<'_>,
    data: &[u8],
    digest: Option<&str>,
    content_type: Option<&str>,
) -> PyResult<String> {
    let claimed = match digest {
        Some(d) => Some(core(
            py,
            d.parse::<Digest>().map_err(|e| e.under("digest")),
        )?),
        None => None,
    };
    let m = core(
        py,
        regprune_core::import::parse_manifest(data, claimed.as_ref(), content_type),
    )?;
    serde_json::to_string(&m).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// A registry address read by the core (JSON): scheme, host, port, registry, origin, loopback,
/// and credentials written in it. Plain HTTP off loopback is refused unless `insecure`.
#[pyfunction]
fn parse_registry_url(py: Python<'_>, text: &str, insecure: bool) -> PyResult<String> {
    let url = core(py, regprune_core::http::parse_registry_url(text, insecure))?;
    serde_json::to_string(&url).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Whether a host (as a URL holds it: lowercase, IPv6 in brackets) is loopback, decided on
/// the parsed address.
#[pyfunction]
fn is_loopback_host(host: &str) -> bool {
    regprune_core::http::is_loopback_host(&host.to_ascii_lowercase())
}

/// `text` safe to print on a terminal: control characters and bidi overrides escaped.
#[pyfunction]
fn escape_controls(text: &str) -> String {
    regprune_core::escape_controls(text).into_owned()
}

/// The human preview of a plan (JSON).
#[pyfunction]
fn render_text(py: Python<'_>, plan: &[u8]) -> PyResult<String> {
    let plan: Plan = parse(py, plan, None)?;
    Ok(regprune_core::render_text(&plan))
}

/// A `WWW-Authenticate` challenge: `{scheme, realm?, service?, scope?}`, or `None` when the
/// header is not one challenge (the core's parser, which the fuzzer covers). `realm` is given
/// only when it is an http(s) URL.
#[pyfunction]
fn parse_challenge(header: &str) -> Option<std::collections::BTreeMap<&'static str, String>> {
    regprune_core::http::parse_challenge(header).map(|c| c.summary())
}

/// The digest a plan (JSON) must carry.
#[pyfunction]
fn plan_digest(py: Python<'_>, plan: &[u8]) -> PyResult<String> {
    let mut plan: Plan = parse(py, plan, None)?;
    plan.seal();
    Ok(plan.digest.map(|d| d.to_string()).unwrap_or_default())
}

/// Refuses a plan (JSON) that is not exactly what its own operation gives against the snapshot
/// (JSON): edited and sealed again, or made from other evidence.
#[pyfunction]
fn check_evidence(py: Python<'_>, plan: &[u8], snapshot: &[u8]) -> PyResult<()> {
    let plan: Plan = parse(py, plan, None)?;
    let snapshot: Snapshot = parse(py, snapshot, None)?;
    core(
        py,
        py.detach(|| regprune_core::check_evidence(&plan, &snapshot)),
    )
}

/// Whether a plan's (JSON) digest matches its content.
#[pyfunction]
fn verify_plan(py: Python<'_>, plan: &[u8]) -> PyResult<bool> {
    let plan: Plan = parse(py, plan, None)?;
    Ok(plan.verify())
}

/// A deterministic synthetic registry (JSON) for generator options (JSON).
#[pyfunction]
fn generate_json(py: Python<'_>, options: &[u8]) -> PyResult<String> {
    let options: GeneratorOptions = parse(py, options, None)?;
    Ok(py.detach(|| regprune_core::generate(&options).to_json()))
}

/// Every error code the core can raise.
#[pyfunction]
fn error_codes() -> Vec<&'static str> {
    Error::CODES.to_vec()
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ParsedSnapshot>()?;
    m.add_class::<Crawl>()?;
    m.add_class::<Execute>()?;
    m.add_class::<Undo>()?;
    m.add_function(wrap_pyfunction!(import_snapshot_json, m)?)?;
    m.add_function(wrap_pyfunction!(parse_manifest_json, m)?)?;
    m.add_function(wrap_pyfunction!(render_text, m)?)?;
    m.add_function(wrap_pyfunction!(escape_controls, m)?)?;
    m.add_function(wrap_pyfunction!(check_evidence, m)?)?;
    m.add_function(wrap_pyfunction!(parse_registry_url, m)?)?;
    m.add_function(wrap_pyfunction!(is_loopback_host, m)?)?;
    m.add_function(wrap_pyfunction!(plan_digest, m)?)?;
    m.add_function(wrap_pyfunction!(parse_challenge, m)?)?;
    m.add_function(wrap_pyfunction!(verify_plan, m)?)?;
    m.add_function(wrap_pyfunction!(generate_json, m)?)?;
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
