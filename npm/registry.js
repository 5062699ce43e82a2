// Talking to a live registry from JavaScript: sockets and files around the core's conversations.
// The core decides everything (wasm `Session`: which request, which credentials and tokens,
// what a failure means, what is retried); this module sends the requests, several at a time,
// with undici (the library behind Node's own fetch: keep-alive pools, timeouts, and
// `EnvHttpProxyAgent` for HTTPS_PROXY/HTTP_PROXY/NO_PROXY; SSL_CERT_FILE is trusted when set),
// or with an injected `fetch` (browsers, tests), reads the files and runs the credential
// helpers the core asks for, and writes journals. Nothing here resends or authenticates.

import * as wasm from './wasm/regprune.js';
import { toRegpruneError } from './index.js';
import { ManifestStore } from './storage.js';

export { readStorage } from './storage.js';

export const DEFAULT_CONCURRENCY = 8;
export const MAX_CONCURRENCY = 32;
/** The username that marks the password as an ACR refresh token (`az acr login --expose-token`). */
export const ACR_REFRESH_USER = '00000000-0000-0000-0000-000000000000';
/** The largest response body read (a larger one is a failure, not buffered). */
export const MAX_BODY = 64 << 20;

const builtin = (name) => globalThis.process?.getBuiltinModule?.(name);
const core = (fn) => {
  try {
    return fn();
  } catch (e) {
    throw toRegpruneError(e);
  }
};

/** Runs the core's credential lookup: reads the file and runs the helper it names (Node). */
function lookupCredentials(query) {
  const env = {};
  for (const name of wasm.credentialEnv()) {
    const value = globalThis.process?.env?.[name];
    if (value !== undefined) env[name] = value;
  }
  const lookup = core(() => new wasm.CredentialLookup({ ...query, env }));
  try {
    for (;;) {
      const step = lookup.step();
      if (step.step === 'readFile') {
        let bytes;
        try {
          bytes = builtin('node:fs')?.readFileSync(step.path);
        } catch {
          /* no such file: the core says so */
        }
        core(() => lookup.file(bytes));
      } else if (step.step === 'runHelper') {
        const run = builtin('node:child_process')?.spawnSync(step.program, ['get'], { input: step.input, timeout: 30_000 });
        core(() => lookup.helper(run?.status === 0, run?.stdout ?? new Uint8Array()));
      } else return step;
    }
  } finally {
    lookup.free();
  }
}

/**
 * The deadline of requests in flight: one unref'd timer for all of them ends a body still
 * arriving past its request's deadline (a signal per request costs a third of undici's own
 * CPU per request). Headers are bounded by undici's `headersTimeout`.
 */
const inFlight = new Set();
let sweeper;
function sweep() {
  const now = performance.now();
  for (const entry of inFlight) {
    if (entry.due <= now) {
      inFlight.delete(entry);
      entry.late = true;
      entry.body.destroy(new Error('deadline'));
    }
  }
}

/** The code of a failed request, for the core to read (`ENOTFOUND`, `UND_ERR_SOCKET`, …). */
const failureCode = (e) => e?.code ?? e?.cause?.code ?? e?.name ?? 'Error';

/** Each transport's access (origin and credentials) for the core: kept out of the object, so
 * logging a transport never shows a secret. */
const ACCESS = new WeakMap();

/** Sends requests to one registry. */
export class Transport {
  #dispatcher;
  #request;
  #timeouts;
  /**
   * `timeout`: seconds without a byte before a request fails (default 60); `deadline`: seconds a
   * whole request may take (default 300). The core retries failures. `fetch`: send with this
   * instead of undici (browsers, tests). `log`: called with one line per request (method, URL
   * without its query, status, time; never a header or a body), as the CLI's `--verbose` does.
   */
  constructor(baseUrl, { username, password, insecure = false, fetch: fetchImpl, timeout = 60, deadline = 300, github = false, log } = {}) {
    this.log = log;
    core(() => wasm.checkTimeouts(Number(timeout), Number(deadline)));
    this.#timeouts = { timeoutMs: timeout * 1000, deadlineMs: deadline * 1000 };
    const url = core(() => wasm.parseRegistryUrl(String(baseUrl), insecure));
    this.registry = url.registry;
    this.fetch = fetchImpl;
    const found = lookupCredentials({ registry: url.registry, username, password, urlUsername: url.username, urlPassword: url.password, github });
    ACCESS.set(this, { origin: url.origin, insecure, credentials: found.credentials, looked: found.looked ?? [] });
    /** Where the credentials came from, or `undefined` when none were found (then `looked` says where the core looked). */
    this.credentialSource = found.credentials?.source;
    this.looked = found.looked ?? [];
  }

  async #undici() {
    if (this.#dispatcher === undefined) {
      const { EnvHttpProxyAgent, request } = await import('undici');
      this.#request = request;
      const caFile = globalThis.process?.env?.SSL_CERT_FILE;
      const ca = caFile ? builtin('node:fs').readFileSync(caFile) : undefined;
      const tlsOptions = ca ? { ca } : {};
      this.#dispatcher = new EnvHttpProxyAgent({
        connections: MAX_CONCURRENCY,
        maxResponseSize: MAX_BODY,
        // The whole head within the timeout and the deadline; the body within the deadline.
        headersTimeout: Math.min(this.#timeouts.timeoutMs, this.#timeouts.deadlineMs),
        bodyTimeout: this.#timeouts.timeoutMs,
        connect: { timeout: this.#timeouts.timeoutMs, ...tlsOptions },
        requestTls: tlsOptions,
        proxyTls: tlsOptions,
      });
    }
    return this.#dispatcher;
  }

  /**
   * Sends one request of the core (`{method, url, headers, body}`): `{status, headers, body}`,
   * or `{status: 0, failure}` with the code of what failed.
   */
  async send({ method, url, headers, body }) {
    if (this.fetch !== undefined || !globalThis.process?.versions?.node) return this.#fetch(method, url, headers, body);
    const started = performance.now();
    const entry = { due: started + this.#timeouts.deadlineMs, body: undefined, late: false };
    try {
      const dispatcher = this.#dispatcher ?? await this.#undici();
      // undici refuses a body over maxResponseSize (UND_ERR_RES_EXCEEDED_MAX_SIZE: too_large).
      const res = await this.#request(url, { method, headers: Object.fromEntries(headers), body, dispatcher });
      entry.body = res.body;
      inFlight.add(entry);
      sweeper ??= setInterval(sweep, 50).unref();
      const data = new Uint8Array(await res.body.arrayBuffer());
      inFlight.delete(entry);
      const pairs = [];
      for (const [name, value] of Object.entries(res.headers)) {
        if (Array.isArray(value)) for (const v of value) pairs.push([name, v]);
        else pairs.push([name, value]);
      }
      return { status: res.statusCode, headers: pairs, body: data };
    } catch (e) {
      inFlight.delete(entry);
      const late = entry.late || e?.code === 'UND_ERR_HEADERS_TIMEOUT';
      return { status: 0, headers: [], body: new Uint8Array(), failure: late ? 'timeout' : failureCode(e) };
    }
  }

  /** The injected (or the browser's) `fetch`, bounded by the deadline. */
  async #fetch(method, url, headers, body) {
    const signal = AbortSignal.timeout(this.#timeouts.deadlineMs);
    try {
      const r = await (this.fetch ?? globalThis.fetch)(url, { method, headers, body, redirect: 'manual', signal });
      const data = method === 'HEAD' ? new Uint8Array() : new Uint8Array(await r.arrayBuffer());
      return { status: r.status, headers: [...r.headers.entries()], body: data };
    } catch (e) {
      return { status: 0, headers: [], body: new Uint8Array(), failure: signal.aborted ? 'timeout' : failureCode(e) };
    }
  }

  /** Closes idle connections (they never keep the process alive). */
  async close() {
    await this.#dispatcher?.close();
    this.#dispatcher = undefined;
  }
}

/**
 * Drives a session to its end with up to `concurrency` requests in flight: each lane takes the
 * next request, sends it, hands the response to the session and goes on. The first error stops
 * every lane and is thrown. An abort (`signal`, Ctrl-C) stops an execution cleanly: nothing
 * more is sent, what is in flight is handled.
 */
export async function run(machine, transport, { concurrency = DEFAULT_CONCURRENCY, beforeSend, onProgress, afterResponse, signal } = {}) {
  const limit = Math.max(1, Math.min(Math.trunc(concurrency) || DEFAULT_CONCURRENCY, MAX_CONCURRENCY));
  const start = performance.now();
  const now = () => (performance.now() - start) / 1000;
  let inFlight = 0;
  let handled = 0;
  let failed;
  // Idle lanes wait for a response (which may make requests ready) or the next wakeup.
  let responded;
  let wake;
  const notify = () => {
    if (responded !== undefined) {
      responded = undefined;
      wake();
    }
  };
  const pause = async () => {
    responded ??= new Promise((r) => { wake = r; });
    const next = machine.nextWakeup();
    const wait = Math.min(Math.max(0, ((next ?? now() + 0.05) - now()) * 1000), 5000);
    let timer;
    await Promise.race([responded, new Promise((r) => { timer = setTimeout(r, wait); })]);
    clearTimeout(timer);
  };
  const lane = async () => {
    while (!failed) {
      const req = core(() => machine.nextRequest(now()));
      if (!req) {
        if (inFlight === 0 && core(() => machine.isDone())) return notify();
        await pause();
        continue;
      }
      beforeSend?.();
      inFlight += 1;
      let res;
      const sent = performance.now();
      try {
        res = await transport.send(req);
      } finally {
        inFlight -= 1;
      }
      transport.log?.(wasm.logLine(req.method, req.url, res.status, res.failure ?? undefined, performance.now() - sent));
      if (failed) return;
      core(() => machine.handleResponse(req.id, res.status, headerBlock(res.headers), res.body, now(), res.failure));
      afterResponse?.();
      handled += 1;
      onProgress?.(handled);
      notify();
    }
  };
  const cancel = () => {
    core(() => machine.cancel());
    notify();
  };
  if (signal?.aborted) cancel();
  else signal?.addEventListener('abort', cancel, { once: true });
  await Promise.all(Array.from({ length: limit }, () => lane().catch((e) => {
    failed ??= e;
    notify();
  })));
  if (failed) throw failed;
}

/** Headers as one block of `name: value` lines: one string crosses into WebAssembly at once. */
function headerBlock(pairs) {
  let block = '';
  for (const [name, value] of pairs) block += `${name}: ${value}\n`;
  return block;
}

async function drive(session, transport, options) {
  try {
    await run(session, transport, options);
    return core(() => session.result());
  } finally {
    options.beforeFree?.();
    session.free();
  }
}

/** Hands the manifests the session wants that a manifest store holds to the core, which
 * checks each against its digest (damaged bytes are refused and fetched; Node). */
function handOver(session, store) {
  // An index handed over wants its children in turn: asked again until nothing new is wanted.
  for (let wanted = core(() => session.wantedManifests()); wanted.length > 0; wanted = core(() => session.wantedManifests())) {
    for (const digest of wanted) {
      const bytes = store.get(digest);
      if (bytes !== undefined) core(() => session.knownManifest(digest, bytes));
    }
  }
}

/**
 * Builds the snapshot of a live registry. With `saveManifests` (a directory, Node only), every
 * manifest's exact bytes are saved there, so `execute(..., { manifests })` need not fetch them;
 * with `manifests`, those saved earlier are not fetched again (the same directory as
 * `saveManifests`: the CLI's `--cache`). `onStatus` gets a line after each response: the
 * listing, then the manifests fetched and reused against the known total. `decide`:
 * `{operation, now, pinned}`, read only the manifests that decide that plan (ACR; the CLI's
 * `--decisions-only`): indexes, and what the plan deletes that may be a referrer; the others
 * stay unread, so reclaimable bytes become an upper bound.
 */
export async function crawl(transport, { repositories = [], flavour = 'auto', concurrency, onProgress, onStatus, saveManifests, manifests, owner, githubApi, hubApi, decide } = {}) {
  const options = { registry: transport.registry, repositories, flavour, keepManifests: saveManifests !== undefined, owner, githubApi, hubApi, ...(decide ? { decide } : {}) };
  const session = core(() => wasm.Session.crawl(options, ACCESS.get(transport)));
  let afterResponse;
  let writer;
  if (saveManifests !== undefined || manifests !== undefined) {
    const [fs, path] = [builtin('node:fs'), builtin('node:path')];
    writer = saveManifests === undefined ? undefined : new ManifestStore(fs, path, saveManifests);
    const same = writer !== undefined && manifests !== undefined && path.resolve(manifests) === path.resolve(saveManifests);
    const reader = same ? writer : manifests === undefined ? undefined : new ManifestStore(fs, path, manifests);
    afterResponse = () => {
      // Manifests are immutable by digest: saved bytes stand in for a GET (on GHCR a
      // download, on Docker Hub a pull); the core checks them against the digest.
      if (reader !== undefined) handOver(session, reader);
      // The store was read before this crawl's first record was written: none is read back.
      if (writer !== undefined) writer.append(core(() => session.takePackRecords()));
    };
  }
  const progress = onStatus ? (n) => { onProgress?.(n); onStatus(core(() => session.statusLine())); } : onProgress;
  try {
    return await drive(session, transport, { concurrency, onProgress: progress, afterResponse });
  } finally {
    writer?.close();
  }
}

/** A plan as JSON text or bytes (read in WebAssembly about twice as fast as an object walked). */
function planJson(plan) {
  if (typeof plan === 'string' || plan instanceof Uint8Array) return plan;
  try {
    return JSON.stringify(plan) ?? plan;
  } catch {
    return plan;
  }
}

/**
 * Carries out exactly the sealed plan (an object, or its JSON as text or bytes); returns the
 * report. Journal lines are written and flushed to disk before the deletions they describe are
 * sent. `manifests`: a directory saved by `crawl(..., { saveManifests })`.
 */
export async function execute(plan, transport, { journalPath, flavour = 'auto', concurrency, onProgress, manifests, retarget = false, signal, githubApi, hubApi } = {}) {
  // The core has no clock: the run's start, so that journal lines say when things happened.
  const startedAt = `${new Date().toISOString().slice(0, 19)}Z`;
  const options = { registry: transport.registry, flavour, retarget, runId: newRunId(), githubApi, hubApi, startedAt };
  const session = core(() => wasm.Session.execute(planJson(plan), options, ACCESS.get(transport)));
  const fs = builtin('node:fs');
  let fd;
  try {
    if (manifests !== undefined) {
      handOver(session, new ManifestStore(fs, builtin('node:path'), manifests));
    }
    fd = journalPath ? fs.openSync(journalPath, 'a') : undefined;
  } catch (e) {
    session.free();
    throw e;
  }
  // Entries are synced before the requests handed out with them are sent; outcome lines
  // alone are written and synced with the next entries (or at the end).
  const write = (last) => {
    const { lines, sync } = session.takeJournal();
    if (lines.length) fs.writeSync(fd, lines.map((l) => `${l}\n`).join(''));
    if (sync || last) fs.fsyncSync(fd);
  };
  const beforeSend = fd === undefined ? () => session.dropJournal() : () => write(false);
  const progress = onProgress && (() => onProgress(...session.progress()));
  try {
    // beforeFree: how the last deletions ended, written while the session still exists.
    return await drive(session, transport, { concurrency, beforeSend, onProgress: progress, signal, beforeFree: fd === undefined ? undefined : () => write(true) });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** A run id for journal lines: the UTC time and 48 random bits. */
export function newRunId() {
  const time = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(6));
  return `${time}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Pushes back what one run of a journal deleted (until garbage collection removes the blobs):
 * the last run unless `run` names another. `journalPath`: the journal's path, or its bytes.
 * Returns the core's report.
 */
export async function undo(journalPath, transport, { run: runId, dryRun = false, retarget = false, concurrency } = {}) {
  const journal = journalPath instanceof Uint8Array ? journalPath : builtin('node:fs').readFileSync(journalPath);
  const options = { registry: transport.registry, run: runId, dryRun, retarget };
  const session = core(() => wasm.Session.undo(journal, options, ACCESS.get(transport)));
  return drive(session, transport, { concurrency });
}
