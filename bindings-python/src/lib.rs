//! The Python face of `regprune-core`, as the private module `regprune._native`.
//!
//! Documents cross as JSON text (the contract is the JSON shape; the pure-Python package turns
//! it into typed objects), large inputs as `bytes` parsed here without a Python-side copy, and
//! the core works with the GIL released. Errors become the classes of `regprune.errors`, one
//! per core error code, in one function (`to_py_err`).

mod session;
mod wire;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
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
        fields.set_item("exitCode", e.exit_code())?;
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

pub(crate) fn core<T>(py: Python<'_>, r: Result<T, Error>) -> PyResult<T> {
    r.map_err(|e| to_py_err(py, &e))
}

/// Parses a document from JSON; paths in errors start with `under` when given.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
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

/// `REGPRUNE_THREADS`, when a positive number: the most threads the planner's passes use (the
/// core reads no environment; the binding hands it over).
fn threads() -> Option<usize> {
    std::env::var("REGPRUNE_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
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
        let threads = threads();
        let indexed = py.detach(|| {
            Snapshot::from_json(json).map(|s| IndexedSnapshot::with_threads(s, threads))
        });
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

/// `text` safe to print on a terminal: control characters and bidi overrides escaped.
#[pyfunction]
fn escape_controls(text: &str) -> String {
    regprune_core::escape_controls(text).into_owned()
}

/// The human preview of a plan (JSON), listing its first `limit` actions (all for None).
#[pyfunction]
#[pyo3(signature = (plan, limit=None))]
fn render_text(py: Python<'_>, plan: &[u8], limit: Option<usize>) -> PyResult<String> {
    let plan: Plan = parse(py, plan, None)?;
    Ok(regprune_core::render_text_limited(&plan, limit))
}

/// The plan (JSON) and an execution's report (JSON, optional) as a GitHub-flavoured Markdown
/// job summary showing the first `limit` entries of each list.
#[pyfunction]
#[pyo3(signature = (plan, report=None, limit=20))]
fn render_markdown(
    py: Python<'_>,
    plan: &[u8],
    report: Option<&[u8]>,
    limit: usize,
) -> PyResult<String> {
    let plan: Plan = parse(py, plan, None)?;
    let report: Option<regprune_core::http::Report> = match report {
        Some(r) => Some(parse(py, r, Some("report"))?),
        None => None,
    };
    Ok(regprune_core::render_markdown(
        &plan,
        report.as_ref(),
        limit,
    ))
}

/// GitHub workflow-command annotation lines for a plan (JSON) and a report (JSON, optional).
#[pyfunction]
#[pyo3(signature = (plan, report=None))]
fn render_annotations(py: Python<'_>, plan: &[u8], report: Option<&[u8]>) -> PyResult<String> {
    let plan: Plan = parse(py, plan, None)?;
    let report: Option<regprune_core::http::Report> = match report {
        Some(r) => Some(parse(py, r, Some("report"))?),
        None => None,
    };
    Ok(regprune_core::render_annotations(&plan, report.as_ref()))
}

/// One line of the request log (`--verbose`, logging at DEBUG): no headers, no query.
#[pyfunction]
#[pyo3(signature = (method, url, status, failure, millis))]
fn log_line(method: &str, url: &str, status: u16, failure: Option<&str>, millis: f64) -> String {
    regprune_core::http::log_line(method, url, status, failure, millis)
}

/// The image configs a storage listing (JSON) wants read into its `configs` (digests).
#[pyfunction]
fn storage_wanted_configs(py: Python<'_>, listing: &[u8]) -> PyResult<Vec<String>> {
    let listing: regprune_core::import::StorageListing = parse(py, listing, Some("listing"))?;
    Ok(regprune_core::import::wanted_configs(&listing)
        .iter()
        .map(ToString::to_string)
        .collect())
}

/// The pack records (`regprune_core::store`) of `(digest, bytes)` pairs, to append to a
/// manifest store's pack. A digest that does not parse is an error naming it.
#[pyfunction]
fn pack_records(
    py: Python<'_>,
    manifests: Vec<(String, Vec<u8>)>,
) -> PyResult<Bound<'_, pyo3::types::PyBytes>> {
    let mut parsed = Vec::with_capacity(manifests.len());
    for (i, (digest, bytes)) in manifests.into_iter().enumerate() {
        let d = core(
            py,
            Digest::parse(&digest).ok_or(Error::InvalidDigest {
                path: format!("manifests[{i}].digest"),
                value: digest,
            }),
        )?;
        parsed.push((d, bytes));
    }
    let records = regprune_core::store::pack_records(parsed.iter().map(|(d, b)| (d, &b[..])));
    Ok(pyo3::types::PyBytes::new(py, &records))
}

/// A pack's records, `[(digest, offset, length)]`, and where and why reading stopped early
/// (None for a whole pack).
#[pyfunction]
fn index_pack(py: Python<'_>, pack: &[u8]) -> PackIndex {
    let index = py.detach(|| regprune_core::store::index_pack(pack));
    let entries = index
        .entries
        .into_iter()
        .map(|e| (e.digest.to_string(), e.offset, e.length))
        .collect();
    (entries, index.damaged)
}

type PackIndex = (Vec<(String, u64, u64)>, Option<String>);

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
    m.add_class::<session::Session>()?;
    m.add_class::<session::CredentialLookup>()?;
    m.add_function(wrap_pyfunction!(session::credential_env, m)?)?;
    m.add_function(wrap_pyfunction!(session::check_timeouts, m)?)?;
    m.add_function(wrap_pyfunction!(session::cli_parse, m)?)?;
    m.add_function(wrap_pyfunction!(session::cli_render, m)?)?;
    m.add_function(wrap_pyfunction!(session::cli_render_error, m)?)?;
    m.add_function(wrap_pyfunction!(session::cli_check_plan, m)?)?;
    m.add_function(wrap_pyfunction!(session::cli_preview, m)?)?;
    m.add_function(wrap_pyfunction!(session::cli_confirmation, m)?)?;
    m.add_function(wrap_pyfunction!(session::cli_confirmed, m)?)?;
    m.add_function(wrap_pyfunction!(import_snapshot_json, m)?)?;
    m.add_function(wrap_pyfunction!(parse_manifest_json, m)?)?;
    m.add_function(wrap_pyfunction!(render_text, m)?)?;
    m.add_function(wrap_pyfunction!(render_markdown, m)?)?;
    m.add_function(wrap_pyfunction!(log_line, m)?)?;
    m.add_function(wrap_pyfunction!(storage_wanted_configs, m)?)?;
    m.add_function(wrap_pyfunction!(render_annotations, m)?)?;
    m.add_function(wrap_pyfunction!(escape_controls, m)?)?;
    m.add_function(wrap_pyfunction!(check_evidence, m)?)?;
    m.add_function(wrap_pyfunction!(parse_registry_url, m)?)?;
    m.add_function(wrap_pyfunction!(plan_digest, m)?)?;
    m.add_function(wrap_pyfunction!(pack_records, m)?)?;
    m.add_function(wrap_pyfunction!(wire::encode_request, m)?)?;
    m.add_class::<wire::ResponseReader>()?;
    m.add("ResponseError", m.py().get_type::<wire::ResponseError>())?;
    m.add_function(wrap_pyfunction!(index_pack, m)?)?;
    m.add(
        "PACK_HEADER",
        pyo3::types::PyBytes::new(m.py(), regprune_core::store::PACK_HEADER),
    )?;
    m.add(
        "PACKS_BEFORE_MERGE",
        regprune_core::store::PACKS_BEFORE_MERGE,
    )?;
    m.add_function(wrap_pyfunction!(verify_plan, m)?)?;
    m.add_function(wrap_pyfunction!(generate_json, m)?)?;
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
