//! The registry conversation as Python drives it: one `Session` class for a crawl, an
//! execution or an undo (the core's `http::Session`, with authentication), and the credential
//! lookup. Python sends the requests and reads the files; every decision is the core's.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use regprune_core::http::{self, Access, Conversation, Response};
use regprune_core::{Digest, Error, Operation, Plan, PlanOptions};

use crate::{core, parse};

/// A request as Python sees it: `(id, method, url, headers, body)`.
type PyRequest<'py> = (
    u64,
    &'static str,
    String,
    Vec<(String, String)>,
    Option<Bound<'py, PyBytes>>,
);

/// A manifest kept by a crawl: `(digest, media type, bytes)`.
type Kept<'py> = (String, Option<String>, Bound<'py, PyBytes>);

/// A conversation with one registry in progress.
#[pyclass(module = "regprune._native")]
pub struct Session {
    inner: http::Session,
}

fn start(py: Python<'_>, conv: Conversation, access: &[u8]) -> PyResult<Session> {
    let access: Access = parse(py, access, Some("access"))?;
    Ok(Session {
        inner: core(py, http::Session::new(conv, access))?,
    })
}

#[pymethods]
impl Session {
    /// A crawl with options (JSON) and access (JSON `{origin, insecure, credentials, looked}`).
    #[staticmethod]
    fn crawl(py: Python<'_>, options: &[u8], access: &[u8]) -> PyResult<Session> {
        let options = parse(py, options, None)?;
        let crawl = core(py, http::Crawl::start(options))?;
        start(py, Conversation::Crawl(Box::new(crawl)), access)
    }

    /// An execution of a plan (JSON) with options (JSON); refuses an edited plan.
    #[staticmethod]
    fn execute(py: Python<'_>, plan: &[u8], options: &[u8], access: &[u8]) -> PyResult<Session> {
        let plan: Plan = parse(py, plan, None)?;
        let options = parse(py, options, None)?;
        let execute = core(py, http::Execute::new(&plan, options))?;
        start(py, Conversation::Execute(Box::new(execute)), access)
    }

    /// An undo of one run of a journal (its bytes) with options (JSON).
    #[staticmethod]
    fn undo(py: Python<'_>, journal: &[u8], options: &[u8], access: &[u8]) -> PyResult<Session> {
        let options = parse(py, options, None)?;
        let undo = core(py, http::Undo::new(journal, options))?;
        start(py, Conversation::Undo(Box::new(undo)), access)
    }

    /// The next request ready at `now`, or None.
    fn next_request<'py>(&mut self, py: Python<'py>, now: f64) -> Option<PyRequest<'py>> {
        self.inner.next_request(now).map(|o| {
            let body = o.body.map(|b| PyBytes::new(py, &b));
            (o.id, o.method.as_str(), o.url, o.headers, body)
        })
    }

    /// Feeds a response; `failure` is the transport's error code when there was none
    /// (status 0).
    #[pyo3(signature = (id, status, headers, body, now, failure=None))]
    #[allow(clippy::too_many_arguments)] // the response's parts, as Python holds them
    fn handle_response(
        &mut self,
        py: Python<'_>,
        id: u64,
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        now: f64,
        failure: Option<&str>,
    ) -> PyResult<()> {
        let response = Response {
            status,
            headers,
            body,
        };
        core(py, self.inner.handle_response(id, &response, failure, now))
    }

    /// When the next delayed request is due.
    fn next_wakeup(&self) -> Option<f64> {
        self.inner.next_wakeup()
    }

    /// Whether the conversation is over.
    fn is_done(&mut self) -> bool {
        self.inner.is_done()
    }

    /// Stops an execution (Ctrl-C); False for a conversation that cannot stop part-way.
    fn cancel(&mut self) -> bool {
        self.inner.cancel()
    }

    /// `(finished, total)`; for a crawl `(responses, 0)`.
    fn progress(&self) -> (usize, usize) {
        self.inner.progress()
    }

    /// A line saying how far it is (a crawl: listing, then manifests fetched and reused of
    /// the known total).
    fn status_line(&self) -> String {
        self.inner.status_line()
    }

    /// The snapshot (a crawl) or the report (an execution, an undo), as JSON, once done.
    fn result_json(&self, py: Python<'_>) -> PyResult<String> {
        core(py, self.inner.result_json())
    }

    /// Plans an operation (JSON) with options (JSON `{now, pinned}`) on a finished crawl's
    /// snapshot, with no JSON of the snapshot in between (the same plan as from that JSON).
    fn plan_json(&mut self, py: Python<'_>, operation: &[u8], options: &[u8]) -> PyResult<String> {
        let operation: Operation = parse(py, operation, Some("operation"))?;
        let options: PlanOptions = parse(py, options, None)?;
        let snapshot = core(py, core(py, self.inner.crawl_mut())?.snapshot())?;
        let plan = py.detach(|| regprune_core::plan_json(&snapshot, &operation, &options));
        core(py, plan)
    }

    /// A crawl's manifests fetched since the last call, with `keepManifests`: `(digest,
    /// media type, bytes)`, the bytes checked against the digest.
    fn take_manifests<'py>(&mut self, py: Python<'py>) -> PyResult<Vec<Kept<'py>>> {
        let crawl = core(py, self.inner.crawl_mut())?;
        Ok(crawl
            .take_manifests()
            .into_iter()
            .map(|k| {
                (
                    k.digest.to_string(),
                    k.media_type,
                    PyBytes::new(py, &k.bytes),
                )
            })
            .collect())
    }

    /// A crawl's manifests fetched since the last call (with `keepManifests`) as the records of
    /// a manifest store's pack (`regprune_core::store`), ready to append: one write for many.
    fn take_pack_records<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let crawl = core(py, self.inner.crawl_mut())?;
        let kept = crawl.take_manifests();
        let records =
            regprune_core::store::pack_records(kept.iter().map(|k| (&k.digest, &k.bytes[..])));
        Ok(PyBytes::new(py, &records))
    }

    /// The manifests (digests) to hand over with `known_manifest` where they were saved: the
    /// distinct ones an execution journals; those a crawl is about to fetch (since the last
    /// call).
    fn wanted_manifests(&mut self, py: Python<'_>) -> PyResult<Vec<String>> {
        let wanted = match self.inner.crawl_mut() {
            Ok(crawl) => crawl.take_wanted(),
            Err(_) => core(py, self.inner.execute_mut())?.wanted_manifests(),
        };
        Ok(wanted.iter().map(ToString::to_string).collect())
    }

    /// Hands over a manifest's exact bytes (saved by the crawl), so its deletion needs no
    /// fetch; False when the plan does not delete it. Refuses bytes that do not match.
    fn known_manifest(&mut self, py: Python<'_>, digest: &str, bytes: Vec<u8>) -> PyResult<bool> {
        let d = core(
            py,
            Digest::parse(digest).ok_or_else(|| Error::InvalidDigest {
                path: "knownManifest.digest".into(),
                value: digest.to_owned(),
            }),
        )?;
        if let Ok(crawl) = self.inner.crawl_mut() {
            return core(py, crawl.known_manifest(&d, None, &bytes));
        }
        let execute = core(py, self.inner.execute_mut())?;
        core(py, execute.known_manifest(&d, None, bytes))
    }

    /// An execution's journal lines (JSON) since the last call, and whether they must be
    /// synced to disk before the requests handed out so far are sent (an entry is among them;
    /// outcome lines alone need not wait). None for other conversations.
    fn take_journal(&mut self) -> (Vec<String>, bool) {
        match self.inner.execute_mut() {
            Ok(execute) => {
                let j = execute.take_journal_lines();
                (j.lines, j.sync)
            }
            Err(_) => (Vec::new(), false),
        }
    }
}

/// Where the registry's credentials are: steps for Python to perform (read a file, run a
/// credential helper) until credentials are found or the places looked are listed.
#[pyclass(module = "regprune._native")]
pub struct CredentialLookup {
    inner: http::CredentialLookup,
}

#[pymethods]
impl CredentialLookup {
    /// Starts from a query (JSON `{registry, username, password, urlUsername, urlPassword,
    /// env}`).
    #[new]
    fn new(py: Python<'_>, query: &[u8]) -> PyResult<Self> {
        let query = parse(py, query, None)?;
        Ok(CredentialLookup {
            inner: core(py, http::CredentialLookup::new(query))?,
        })
    }

    /// The next step (JSON `{"step": "readFile" | "runHelper" | "found" | "anonymous", ...}`).
    fn step_json(&self) -> String {
        serde_json::to_string(self.inner.step()).unwrap_or_default()
    }

    /// The file's bytes, or None when it does not exist or cannot be read.
    #[allow(clippy::needless_pass_by_value)] // PyO3 hands over owned values
    fn file(&mut self, py: Python<'_>, contents: Option<Vec<u8>>) -> PyResult<()> {
        core(py, self.inner.file(contents.as_deref()))
    }

    /// Whether the helper succeeded, and its standard output.
    fn helper(&mut self, py: Python<'_>, succeeded: bool, stdout: &[u8]) -> PyResult<()> {
        core(py, self.inner.helper(succeeded, stdout))
    }
}

/// The environment variables a credential lookup reads.
#[pyfunction]
pub fn credential_env() -> Vec<&'static str> {
    http::CREDENTIAL_ENV.to_vec()
}

/// Reads a command line (without the program name) with the one grammar both CLIs share:
/// the invocation's JSON, or an `InvalidArgumentsError`.
#[pyfunction]
#[allow(clippy::needless_pass_by_value)] // PyO3 hands over owned values
pub fn cli_parse(py: Python<'_>, argv: Vec<String>) -> PyResult<String> {
    let inv = core(
        py,
        regprune_core::cli::parse(&argv, env!("CARGO_PKG_VERSION")),
    )?;
    Ok(serde_json::to_string(&inv).unwrap_or_default())
}

/// What the CLI prints for a result (`snapshot`, `plan`, `execute`, `undo`; its JSON text):
/// JSON `{stdout, stderr, file?, summary?, exit}`. `options` is the invocation's options as
/// JSON text; `plan` the plan's text for an execution's `--summary-md`.
#[pyfunction]
#[pyo3(signature = (kind, document, options, plan=None))]
pub fn cli_render(
    py: Python<'_>,
    kind: &str,
    document: &str,
    options: &str,
    plan: Option<&str>,
) -> PyResult<String> {
    let kind = core(py, regprune_core::cli::ReportKind::parse(kind))?;
    let options = core(py, regprune_core::from_json(options.as_bytes()))?;
    let rendered = core(
        py,
        regprune_core::cli::render_report(kind, document, &options, plan),
    )?;
    Ok(serde_json::to_string(&rendered).unwrap_or_default())
}

/// The text preview `execute` shows before it runs, as the invocation's options (JSON text)
/// `--limit`/`--all` ask.
#[pyfunction]
pub fn cli_preview(py: Python<'_>, plan: &str, options: &str) -> PyResult<String> {
    let options = core(py, regprune_core::from_json(options.as_bytes()))?;
    core(py, regprune_core::cli::preview(plan, &options))
}

/// What the CLI prints for an error of `code` (JSON `{stdout, stderr, exit}`).
#[pyfunction]
pub fn cli_render_error(code: &str, message: &str) -> String {
    serde_json::to_string(&regprune_core::cli::render_error(code, message)).unwrap_or_default()
}

/// Checks a plan file before `execute` shows and runs it: its seal, `--expect-digest`,
/// `--max-deletions`, and with a snapshot (JSON bytes) its evidence. `options` is the
/// invocation's options as JSON text.
#[pyfunction]
#[pyo3(signature = (plan, snapshot, options))]
pub fn cli_check_plan(
    py: Python<'_>,
    plan: &str,
    snapshot: Option<&[u8]>,
    options: &str,
) -> PyResult<()> {
    let options = core(py, regprune_core::from_json(options.as_bytes()))?;
    core(py, regprune_core::cli::check_plan(plan, snapshot, &options))
}

/// The confirmation's sentences: `(prompt, not confirmed, declined)`.
#[pyfunction]
pub fn cli_confirmation() -> (&'static str, &'static str, &'static str) {
    use regprune_core::cli::{CONFIRM, DECLINED, NOT_CONFIRMED};
    (CONFIRM, NOT_CONFIRMED, DECLINED)
}

/// Whether an answer to the confirmation is yes.
#[pyfunction]
pub fn cli_confirmed(answer: &str) -> bool {
    regprune_core::cli::confirmed(answer)
}

/// Checks a transport's `timeout` and `deadline` (seconds): positive and finite.
#[pyfunction]
pub fn check_timeouts(py: Python<'_>, timeout: f64, deadline: f64) -> PyResult<()> {
    core(py, http::check_timeouts(timeout, deadline))
}
