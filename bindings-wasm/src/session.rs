//! The registry conversation as JavaScript drives it: one `Session` class for a crawl, an
//! execution or an undo (the core's `http::Session`, with authentication), and the credential
//! lookup. JavaScript sends the requests and reads the files; every decision is the core's.

use regprune_core::http::{self, Access, Conversation, Response};
use regprune_core::{Digest, Error};
use wasm_bindgen::prelude::*;

use crate::{from_js, js_error, plan_of, to_js};

fn core<T>(r: Result<T, Error>) -> Result<T, JsValue> {
    r.map_err(|e| js_error(&e))
}

/// Response headers from JS: `[[name, value], …]`, or the same as one block of `name: value`
/// lines, which crosses into WebAssembly in one call instead of a few per header (the npm
/// adapter sends the block: one response per deletion).
fn js_headers(headers: JsValue) -> Result<Vec<(String, String)>, JsValue> {
    let Some(block) = headers.as_string() else {
        return from_js(headers, Some("headers"));
    };
    block
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once(':') {
            Some((name, value)) => Ok((name.to_owned(), value.trim().to_owned())),
            None => Err(js_error(&Error::InvalidJson {
                path: "headers".into(),
                message: format!("not a `name: value` line: {line:?}"),
            })),
        })
        .collect()
}

/// A conversation with one registry in progress.
#[wasm_bindgen]
pub struct Session {
    inner: http::Session,
}

fn start(conv: Conversation, access: JsValue) -> Result<Session, JsValue> {
    let access: Access = from_js(access, Some("access"))?;
    Ok(Session {
        inner: core(http::Session::new(conv, access))?,
    })
}

#[wasm_bindgen]
impl Session {
    /// A crawl (`{registry, repositories?, flavour?, keepManifests?, …}`) with access
    /// (`{origin, insecure?, credentials?, looked?}`).
    pub fn crawl(options: JsValue, access: JsValue) -> Result<Session, JsValue> {
        let crawl = core(http::Crawl::start(from_js(options, None)?))?;
        start(Conversation::Crawl(Box::new(crawl)), access)
    }

    /// An execution of `plan` (refused when its digest does not verify).
    pub fn execute(plan: JsValue, options: JsValue, access: JsValue) -> Result<Session, JsValue> {
        let plan = plan_of(plan)?;
        let execute = core(http::Execute::new(&plan, from_js(options, None)?))?;
        start(Conversation::Execute(Box::new(execute)), access)
    }

    /// An undo of one run of a journal (its bytes).
    pub fn undo(journal: &[u8], options: JsValue, access: JsValue) -> Result<Session, JsValue> {
        let undo = core(http::Undo::new(journal, from_js(options, None)?))?;
        start(Conversation::Undo(Box::new(undo)), access)
    }

    /// The next request ready at `now` (seconds): `{id, method, url, headers, body?}`, or
    /// `undefined`.
    #[wasm_bindgen(js_name = nextRequest)]
    pub fn next_request(&mut self, now: f64) -> Result<JsValue, JsValue> {
        let Some(o) = self.inner.next_request(now) else {
            return Ok(JsValue::UNDEFINED);
        };
        let out = js_sys::Object::new();
        let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&out, &k.into(), v).map(drop);
        // Request ids are small counters (tokens from 2^52): a JS number holds them exactly.
        set("id", &JsValue::from(o.id as f64))?;
        set("method", &o.method.as_str().into())?;
        set("url", &o.url.into())?;
        set("headers", &to_js(&o.headers)?)?;
        if let Some(body) = o.body {
            set("body", &js_sys::Uint8Array::from(body.as_slice()).into())?;
        }
        Ok(out.into())
    }

    /// Feeds a response: status, headers (`[[name, value]]`, or one block of `name: value`
    /// lines), body bytes, and when there was no response (status 0) the transport's error
    /// code (`ENOTFOUND`, `ECONNREFUSED`, `UND_ERR_SOCKET`, …).
    #[wasm_bindgen(js_name = handleResponse)]
    #[allow(clippy::needless_pass_by_value)] // wasm-bindgen hands over owned values
    pub fn handle_response(
        &mut self,
        id: f64,
        status: u16,
        headers: JsValue,
        body: Vec<u8>,
        now: f64,
        failure: Option<String>,
    ) -> Result<(), JsValue> {
        let response = Response {
            status,
            headers: js_headers(headers)?,
            body,
        };
        core(
            self.inner
                .handle_response(id as u64, &response, failure.as_deref(), now),
        )
    }

    /// When the next delayed request is due.
    #[wasm_bindgen(js_name = nextWakeup)]
    pub fn next_wakeup(&self) -> Option<f64> {
        self.inner.next_wakeup()
    }

    /// Whether the conversation is over.
    #[wasm_bindgen(js_name = isDone)]
    pub fn is_done(&mut self) -> bool {
        self.inner.is_done()
    }

    /// Stops an execution (Ctrl-C); `false` for a conversation that cannot stop part-way.
    pub fn cancel(&mut self) -> bool {
        self.inner.cancel()
    }

    /// A line saying how far it is (a crawl: listing, then manifests fetched and reused of
    /// the known total).
    #[wasm_bindgen(js_name = statusLine)]
    pub fn status_line(&self) -> String {
        self.inner.status_line()
    }

    /// `[finished, total]`; for a crawl `[responses, 0]`.
    pub fn progress(&self) -> Vec<u32> {
        let (done, total) = self.inner.progress();
        vec![
            u32::try_from(done).unwrap_or(u32::MAX),
            u32::try_from(total).unwrap_or(u32::MAX),
        ]
    }

    /// The snapshot (a crawl) or the report (an execution, an undo), once done.
    pub fn result(&self) -> Result<JsValue, JsValue> {
        let json = core(self.inner.result_json())?;
        js_sys::JSON::parse(&json)
    }

    /// A crawl's manifests fetched since the last call, with `keepManifests`: `[{digest,
    /// mediaType, manifest}]`, the manifest's exact text (checked against the digest).
    #[wasm_bindgen(js_name = takeManifests)]
    pub fn take_manifests(&mut self) -> Result<JsValue, JsValue> {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Kept {
            digest: String,
            media_type: Option<String>,
            manifest: String,
        }
        let kept: Vec<Kept> = core(self.inner.crawl_mut())?
            .take_manifests()
            .into_iter()
            .filter_map(|k| {
                Some(Kept {
                    digest: k.digest.to_string(),
                    media_type: k.media_type,
                    manifest: String::from_utf8(k.bytes).ok()?,
                })
            })
            .collect();
        to_js(&kept)
    }

    /// A crawl's manifests fetched since the last call (with `keepManifests`) as the records of
    /// a manifest store's pack (`regprune_core::store`), ready to append: one write for many.
    #[wasm_bindgen(js_name = takePackRecords)]
    pub fn take_pack_records(&mut self) -> Result<Vec<u8>, JsValue> {
        let kept = core(self.inner.crawl_mut())?.take_manifests();
        Ok(regprune_core::store::pack_records(
            kept.iter().map(|k| (&k.digest, &k.bytes[..])),
        ))
    }

    /// The distinct manifests (digests) an execution journals, to hand over with
    /// `knownManifest` where they were saved.
    #[wasm_bindgen(js_name = wantedManifests)]
    pub fn wanted_manifests(&mut self) -> Result<Vec<String>, JsValue> {
        let wanted = match self.inner.crawl_mut() {
            Ok(crawl) => crawl.take_wanted(),
            Err(_) => core(self.inner.execute_mut())?.wanted_manifests(),
        };
        Ok(wanted.iter().map(ToString::to_string).collect())
    }

    /// Hands over a manifest's exact bytes (saved by the crawl), so its deletion needs no
    /// fetch; `false` when the plan does not delete it. Refuses bytes that do not match.
    #[wasm_bindgen(js_name = knownManifest)]
    pub fn known_manifest(&mut self, digest: &str, bytes: Vec<u8>) -> Result<bool, JsValue> {
        let d = Digest::parse(digest).ok_or_else(|| {
            js_error(&Error::InvalidDigest {
                path: "knownManifest.digest".into(),
                value: digest.to_owned(),
            })
        })?;
        if let Ok(crawl) = self.inner.crawl_mut() {
            return core(crawl.known_manifest(&d, None, &bytes));
        }
        core(core(self.inner.execute_mut())?.known_manifest(&d, None, bytes))
    }

    /// An execution's journal lines (JSON) since the last call: `{lines, sync}`; with `sync`
    /// (an entry is among them) they must be on disk before the requests handed out so far
    /// are sent; outcome lines alone need not wait.
    #[wasm_bindgen(js_name = takeJournal)]
    pub fn take_journal(&mut self) -> Result<JsValue, JsValue> {
        let lines = self.inner.execute_mut().map_or_else(
            |_| http::JournalLines::default(),
            http::Execute::take_journal_lines,
        );
        to_js(&lines)
    }

    /// Discards the journal entries so far, for an execution without a journal file.
    #[wasm_bindgen(js_name = dropJournal)]
    pub fn drop_journal(&mut self) {
        if let Ok(e) = self.inner.execute_mut() {
            e.take_journal_lines();
        }
    }
}

/// Where the registry's credentials are: steps for JavaScript to perform (read a file, run a
/// credential helper) until credentials are found or the places looked are listed.
#[wasm_bindgen]
pub struct CredentialLookup {
    inner: http::CredentialLookup,
}

#[wasm_bindgen]
impl CredentialLookup {
    /// Starts from a query (`{registry, username?, password?, urlUsername?, urlPassword?, env}`).
    #[wasm_bindgen(constructor)]
    pub fn new(query: JsValue) -> Result<CredentialLookup, JsValue> {
        Ok(CredentialLookup {
            inner: core(http::CredentialLookup::new(from_js(query, None)?))?,
        })
    }

    /// The next step: `{step: "readFile" | "runHelper" | "found" | "anonymous", …}`.
    pub fn step(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.step())
    }

    /// The file's bytes, or `undefined` when it does not exist or cannot be read.
    #[allow(clippy::needless_pass_by_value)] // wasm-bindgen hands over owned values
    pub fn file(&mut self, contents: Option<Vec<u8>>) -> Result<(), JsValue> {
        core(self.inner.file(contents.as_deref()))
    }

    /// Whether the helper succeeded, and its standard output.
    pub fn helper(&mut self, succeeded: bool, stdout: &[u8]) -> Result<(), JsValue> {
        core(self.inner.helper(succeeded, stdout))
    }
}

/// The environment variables a credential lookup reads.
#[wasm_bindgen(js_name = credentialEnv)]
pub fn credential_env() -> Vec<String> {
    http::CREDENTIAL_ENV
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

/// Reads a command line (without the program name) with the one grammar both CLIs share.
#[wasm_bindgen(js_name = cliParse)]
#[allow(clippy::needless_pass_by_value)] // wasm-bindgen hands over owned values
pub fn cli_parse(argv: Vec<String>) -> Result<JsValue, JsValue> {
    to_js(&core(regprune_core::cli::parse(
        &argv,
        env!("CARGO_PKG_VERSION"),
    ))?)
}

fn cli_options(
    options: &str,
) -> Result<std::collections::BTreeMap<String, serde_json::Value>, JsValue> {
    core(regprune_core::from_json(options.as_bytes()))
}

/// What the CLI prints for a result (`snapshot`, `plan`, `execute`, `undo`; its JSON text):
/// `{stdout, stderr, file?, summary?, exit}`. `options` is the invocation's options as JSON
/// text; `plan` the plan's text for an execution's `--summary-md`.
#[wasm_bindgen(js_name = cliRender)]
#[allow(clippy::needless_pass_by_value)] // wasm-bindgen hands over owned values
pub fn cli_render(
    kind: &str,
    document: &str,
    options: &str,
    plan: Option<String>,
) -> Result<JsValue, JsValue> {
    let kind = core(regprune_core::cli::ReportKind::parse(kind))?;
    let options = cli_options(options)?;
    to_js(&core(regprune_core::cli::render_report(
        kind,
        document,
        &options,
        plan.as_deref(),
    ))?)
}

/// What the CLI prints for an error of `code`: `{stdout, stderr, exit}`.
#[wasm_bindgen(js_name = cliRenderError)]
pub fn cli_render_error(code: &str, message: &str) -> Result<JsValue, JsValue> {
    to_js(&regprune_core::cli::render_error(code, message))
}

/// Checks a plan file before `execute` shows and runs it: its seal, `--expect-digest`,
/// `--max-deletions`, and with a snapshot (JSON text or bytes) its evidence. `options` is
/// the invocation's options as JSON text.
#[wasm_bindgen(js_name = cliCheckPlan)]
#[allow(clippy::needless_pass_by_value)] // wasm-bindgen hands over owned values
pub fn cli_check_plan(plan: &str, snapshot: Option<Vec<u8>>, options: &str) -> Result<(), JsValue> {
    let options = cli_options(options)?;
    core(regprune_core::cli::check_plan(
        plan,
        snapshot.as_deref(),
        &options,
    ))
}

/// The text preview `execute` shows before it runs, as the invocation's `--limit`/`--all` ask.
#[wasm_bindgen(js_name = cliPreview)]
pub fn cli_preview(plan: &str, options: &str) -> Result<String, JsValue> {
    let options = cli_options(options)?;
    core(regprune_core::cli::preview(plan, &options))
}

/// The confirmation's sentences: `[prompt, notConfirmed, declined]`.
#[wasm_bindgen(js_name = cliConfirmation)]
pub fn cli_confirmation() -> Vec<String> {
    use regprune_core::cli::{CONFIRM, DECLINED, NOT_CONFIRMED};
    vec![CONFIRM.into(), NOT_CONFIRMED.into(), DECLINED.into()]
}

/// Whether an answer to the confirmation is yes.
#[wasm_bindgen(js_name = cliConfirmed)]
pub fn cli_confirmed(answer: &str) -> bool {
    regprune_core::cli::confirmed(answer)
}

/// Checks a transport's `timeout` and `deadline` (seconds): positive and finite.
#[wasm_bindgen(js_name = checkTimeouts)]
pub fn check_timeouts(timeout: f64, deadline: f64) -> Result<(), JsValue> {
    core(http::check_timeouts(timeout, deadline))
}

/// The GitHub Action's input names (`action.yml` declares the same).
#[wasm_bindgen(js_name = actionInputs)]
pub fn action_inputs() -> Vec<String> {
    regprune_core::cli::action::INPUTS
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

/// Reads the Action's inputs (JSON text `{"name": "value"}`) into what to run:
/// `{mode, plan?, execute?, planFile, summaryLimit, dryRun}` (command lines for the CLI).
#[wasm_bindgen(js_name = actionRun)]
pub fn action_run(inputs: &str) -> Result<JsValue, JsValue> {
    to_js(&core(regprune_core::cli::action::action_run_json(inputs))?)
}

/// The Action's outputs for a plan's text and an execution's report (JSON text):
/// `[[name, value], …]`.
#[wasm_bindgen(js_name = actionOutputs)]
#[allow(clippy::needless_pass_by_value)] // wasm-bindgen hands over owned values
pub fn action_outputs(
    plan: &str,
    report: Option<String>,
    plan_path: &str,
) -> Result<JsValue, JsValue> {
    to_js(&core(regprune_core::cli::action::outputs(
        plan,
        report.as_deref(),
        plan_path,
    ))?)
}

/// One line of the request log (`--verbose`): no headers, no query.
#[wasm_bindgen(js_name = logLine)]
#[allow(clippy::needless_pass_by_value)] // wasm-bindgen hands over owned values
pub fn log_line(
    method: &str,
    url: &str,
    status: u16,
    failure: Option<String>,
    millis: f64,
) -> String {
    http::log_line(method, url, status, failure.as_deref(), millis)
}

/// The image configs a storage listing (JSON text) wants read into its `configs`.
#[wasm_bindgen(js_name = storageWantedConfigs)]
pub fn storage_wanted_configs(listing: &str) -> Result<Vec<String>, JsValue> {
    let listing: regprune_core::import::StorageListing =
        core(regprune_core::from_json(listing.as_bytes()).map_err(|e: Error| e.under("listing")))?;
    Ok(regprune_core::import::wanted_configs(&listing)
        .iter()
        .map(ToString::to_string)
        .collect())
}

/// One GitHub workflow command line (`::name title=…::message`), escaped as the toolkit does.
#[wasm_bindgen(js_name = workflowCommand)]
#[allow(clippy::needless_pass_by_value)] // wasm-bindgen hands over owned values
pub fn workflow_command(name: &str, title: Option<String>, message: &str) -> String {
    regprune_core::workflow_command(name, title.as_deref(), message)
}
