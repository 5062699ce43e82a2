// Talking to a live registry from JavaScript: a thin adapter around the core's conversations.
// The core decides every request (Crawl, Execute); this module sends them with `fetch`
// (injectable; in Node, by default, its own HTTP/1.1 client on node:net/tls sockets, see
// node-http.js), several at a time, handles authentication (anonymous, basic, the bearer
// challenge with tokens cached per scope) and feeds the answers back. Secrets never appear in
// output, errors or journals.

import * as wasm from './wasm/regprune.js';
import { InvalidOperationError, importSnapshot, toRegpruneError } from './index.js';

export const DEFAULT_CONCURRENCY = 8;
/** The username that marks the password as an ACR refresh token (`az acr login --expose-token`). */
export const ACR_REFRESH_USER = '00000000-0000-0000-0000-000000000000';

/**
 * The credentials `docker login` saved for `registry` (host[:port]) in ~/.docker/config.json:
 * `auth`, or the `identitytoken` that `az acr login` stores (an ACR refresh token). Node only.
 */
export async function dockerConfigCredentials(registry, path) {
  try {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { homedir } = await import('node:os');
    const file = path ?? join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
    const auths = JSON.parse(readFileSync(file, 'utf8')).auths ?? {};
    for (const key of [registry, `https://${registry}`, `http://${registry}`]) {
      const e = auths[key];
      if (!e) continue;
      if (e.identitytoken) return { username: ACR_REFRESH_USER, password: e.identitytoken };
      if (e.auth) {
        const text = atob(e.auth);
        const i = text.indexOf(':');
        return { username: text.slice(0, i), password: text.slice(i + 1) };
      }
    }
  } catch {
    /* no config: anonymous */
  }
  return {};
}
export const MAX_CONCURRENCY = 32;

/** RFC 6750's `b64token`: the only form a bearer token takes in an Authorization header. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

// The core decides, on the parsed address: `127.anything.example` is a name, not loopback.
const isLoopback = (host) => wasm.isLoopbackHost(host);

function refuse(message) {
  return new InvalidOperationError(message, { code: 'invalid_operation', path: 'registry' });
}

/** Sends requests to one registry. */
export class Transport {
  #tokens = new Map();
  #credentials;
  #insecure;
  #request;
  #timeouts;
  /**
   * `timeout`: seconds without a byte before a request fails (default 60); `deadline`: seconds a
   * whole request may take (default 300). A failed request is retried by the core.
   */
  constructor(baseUrl, { username, password, insecure = false, fetch: fetchImpl, timeout = 60, deadline = 300 } = {}) {
    for (const [name, value] of [['timeout', timeout], ['deadline', deadline]]) {
      if (!(Number.isFinite(value) && value > 0)) throw refuse(`registry: ${name} must be a positive number of seconds, not ${JSON.stringify(value)}`);
    }
    this.#timeouts = { timeoutMs: timeout * 1000, deadlineMs: deadline * 1000 };
    // The core reads the address: scheme, host, loopback on the parsed address, and
    // credentials written into the URL (taken as credentials, never echoed).
    let url;
    try {
      url = wasm.parseRegistryUrl(String(baseUrl), insecure);
    } catch (e) {
      throw toRegpruneError(e);
    }
    if (url.username !== undefined && (username || password)) {
      throw refuse('registry: credentials are given both in the URL and separately; give them once');
    }
    this.#insecure = insecure;
    this.origin = url.origin;
    this.registry = url.registry;
    this.fetch = fetchImpl;
    this.#credentials = {
      username: url.username ?? username ?? globalThis.process?.env?.REGPRUNE_USERNAME ?? '',
      password: url.password ?? password ?? globalThis.process?.env?.REGPRUNE_PASSWORD ?? '',
    };
  }

  #basic() {
    const { username, password } = this.#credentials;
    if (!username && !password) return undefined;
    return `Basic ${btoa(`${username}:${password}`)}`;
  }

  async #raw(method, url, headers, body) {
    if (this.fetch === undefined && globalThis.process?.versions?.node) {
      this.#request ??= (await import('./node-http.js')).nodeRequester(this.#timeouts);
      return this.#request(method, url, headers, body);
    }
    try {
      const fetch = this.fetch ?? globalThis.fetch;
      const signal = AbortSignal.timeout(this.#timeouts.deadlineMs);
      const r = await fetch(url, { method, headers, body, redirect: 'manual', signal });
      const data = method === 'HEAD' ? new Uint8Array() : new Uint8Array(await r.arrayBuffer());
      return { status: r.status, headers: [...r.headers.entries()], body: data };
    } catch {
      return { status: 0, headers: [], body: new Uint8Array() };
    }
  }

  /** Sends one request of the core (`{method, path, headers, scope}`), authenticating as asked. */
  async send(req, body = req.body ?? undefined) {
    const headers = Object.fromEntries(req.headers);
    const token = this.#tokens.get(req.scope);
    if (token) headers.Authorization = token;
    let res = await this.#raw(req.method, this.origin + req.path, headers, body);
    // A token can expire between the challenge and its use: authenticate at most twice.
    for (let i = 0; i < 2 && res.status === 401; i++) {
      const challenge = res.headers.find(([k]) => k.toLowerCase() === 'www-authenticate')?.[1] ?? '';
      const auth = await this.#authenticate(challenge, req.scope);
      if (!auth) break;
      headers.Authorization = auth;
      res = await this.#raw(req.method, this.origin + req.path, headers, body);
    }
    return res;
  }

  async #authenticate(challenge, scope) {
    const parsed = wasm.parseChallenge(challenge);
    if (!parsed) return undefined;
    let auth;
    if (parsed.scheme === 'basic') auth = this.#basic();
    else if (parsed.scheme === 'bearer') auth = await this.#bearer(parsed, scope);
    if (auth) this.#tokens.set(scope, auth);
    return auth;
  }

  async #bearer(params, scope) {
    if (!params.realm) return undefined;
    // Credentials go to the token service only over HTTPS (or to loopback, or --insecure).
    const realm = new URL(params.realm);
    if (realm.protocol !== 'https:' && !this.#insecure && !isLoopback(realm.hostname)) return undefined;
    // The registry's own scope in the challenge says exactly what it needs.
    const wanted = params.scope || scope || '';
    let res;
    if (this.#credentials.username === ACR_REFRESH_USER) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', service: params.service ?? '', scope: wanted, refresh_token: this.#credentials.password });
      res = await this.#raw('POST', params.realm, { 'Content-Type': 'application/x-www-form-urlencoded' }, form.toString());
    } else {
      const url = new URL(params.realm);
      url.searchParams.set('service', params.service ?? '');
      url.searchParams.set('scope', wanted);
      const basic = this.#basic();
      res = await this.#raw('GET', url.toString(), basic ? { Authorization: basic } : {});
    }
    if (res.status !== 200) return undefined;
    try {
      const doc = JSON.parse(new TextDecoder().decode(res.body));
      const token = doc.token ?? doc.access_token;
      // A bearer token is a b64token (RFC 6750 s2.1); anything else (a line break, a space,
      // not a string) came from a broken or hostile token service and is not sent anywhere.
      return typeof token === 'string' && B64TOKEN.test(token) ? `Bearer ${token}` : undefined;
    } catch {
      return undefined;
    }
  }
}


/**
 * Drives a conversation to its end with up to `concurrency` requests in flight: each of
 * `concurrency` lanes takes the next request, sends it, hands the response to the machine and
 * goes on, so a response is handled as soon as it arrives. The first error stops every lane
 * and is thrown.
 */
export async function run(machine, transport, { concurrency = DEFAULT_CONCURRENCY, beforeSend, onProgress, afterResponse, signal } = {}) {
  const limit = Math.max(1, Math.min(concurrency, MAX_CONCURRENCY));
  const start = performance.now();
  const now = () => (performance.now() - start) / 1000;
  const call = (fn) => {
    try {
      return fn();
    } catch (e) {
      throw toRegpruneError(e);
    }
  };
  let inFlight = 0;
  let handled = 0;
  let failed;
  // Lanes with nothing to send wait for a response (which may make requests ready) or the
  // machine's next wakeup (a retry's time). The promise they wait on exists only while one
  // waits: most responses find every lane busy, and need not make one.
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
      const req = call(() => machine.nextRequest(now()));
      if (!req) {
        if (inFlight === 0 && call(() => machine.isDone())) {
          notify();
          return;
        }
        await pause();
        continue;
      }
      beforeSend?.();
      inFlight += 1;
      let res;
      try {
        res = await transport.send(req);
      } finally {
        inFlight -= 1;
      }
      if (failed) return;
      call(() => machine.handleResponse(req.id, res.status, headerBlock(res.headers), res.body, now()));
      afterResponse?.();
      handled += 1;
      onProgress?.(handled);
      notify();
    }
  };
  // An abort (Ctrl-C) stops an execution: nothing more is sent, what is in flight is handled.
  const cancel = () => {
    call(() => machine.cancel());
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

/**
 * Headers as one block of `name: value` lines for the core: one string crosses into
 * WebAssembly in one call, where pairs take a few calls each. HTTP forbids line breaks in
 * names and values, so the block is exact.
 */
function headerBlock(pairs) {
  let block = '';
  for (const [name, value] of pairs) block += `${name}: ${value}\n`;
  return block;
}

function toRegpruneErrorSafe(fn) {
  try {
    return fn();
  } catch (e) {
    throw toRegpruneError(e);
  }
}

/**
 * Where a manifest lives in a manifests directory's `blobs` (`path.join(directory, 'blobs')`):
 * `<algorithm>/<hex>`, the blob layout of an OCI image layout (digests are validated by the
 * core: no `/`). Joined as text: path.join normalizes every part, a fifth of reading 2,000
 * saved manifests.
 */
function manifestPath(path, blobs, digest) {
  const [algorithm, encoded] = digest.split(':');
  return `${blobs}${path.sep}${algorithm}${path.sep}${encoded}`;
}

function saveManifest(fs, path, blobs, digest, bytes) {
  const file = manifestPath(path, blobs, digest);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, bytes);
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * Builds the snapshot of a live registry. With `saveManifests` (a directory, Node only), every
 * manifest's exact bytes are saved there, so `execute(..., { manifests })` can journal them
 * without fetching each one again.
 */
export async function crawl(transport, { repositories = [], flavour = 'auto', concurrency, onProgress, saveManifests } = {}) {
  let machine;
  try {
    machine = new wasm.Crawl({ registry: transport.registry, repositories, flavour, keepManifests: saveManifests !== undefined });
  } catch (e) {
    throw toRegpruneError(e);
  }
  let afterResponse;
  if (saveManifests !== undefined) {
    const [fs, path] = [await import('node:fs'), await import('node:path')];
    const blobs = path.join(saveManifests, 'blobs');
    afterResponse = () => {
      for (const { digest, manifest } of machine.takeManifests()) saveManifest(fs, path, blobs, digest, manifest);
    };
  }
  try {
    await run(machine, transport, { concurrency, onProgress, afterResponse });
    return toRegpruneErrorSafe(() => machine.snapshot());
  } finally {
    machine.free();
  }
}

/**
 * A plan as JSON (text or bytes): the core reads JSON inside WebAssembly about twice as fast as
 * it walks an object across the boundary field by field (2,000 actions: ~6 ms against ~15).
 * What cannot be written as JSON goes as it is, for the core to say what is wrong with it.
 */
function planJson(plan) {
  if (typeof plan === 'string' || plan instanceof Uint8Array) return plan;
  try {
    return JSON.stringify(plan) ?? plan;
  } catch {
    return plan;
  }
}

/**
 * Carries out exactly the sealed plan (an object, or its JSON as text or bytes); returns the report.
 * Journal lines are written and flushed to disk before the deletions they describe are sent. `manifests`: a directory saved
 * by `crawl(..., { saveManifests })`; the manifests found there (checked against their
 * digests) are journaled without a GET each, the others are fetched.
 */
export async function execute(plan, transport, { journalPath, flavour = 'auto', concurrency, onProgress, manifests, retarget = false, signal } = {}) {
  let machine;
  try {
    machine = new wasm.Execute(planJson(plan), { registry: transport.registry, flavour, retarget, runId: newRunId() });
  } catch (e) {
    throw toRegpruneError(e);
  }
  if (manifests !== undefined) {
    const [fs, path] = [await import('node:fs'), await import('node:path')];
    const blobs = path.join(manifests, 'blobs');
    try {
      for (const digest of machine.wantedManifests()) {
        let bytes;
        try {
          bytes = fs.readFileSync(manifestPath(path, blobs, digest));
        } catch (e) {
          if (e.code === 'ENOENT') continue;
          throw e;
        }
        toRegpruneErrorSafe(() => machine.knownManifest(digest, bytes));
      }
    } catch (e) {
      machine.free();
      throw e;
    }
  }
  const fs = journalPath ? await import('node:fs') : undefined;
  const fd = fs?.openSync(journalPath, 'a');
  try {
    const beforeSend = fd === undefined
      ? () => machine.dropJournal()
      : () => {
        const lines = machine.takeJournal();
        if (lines.length) {
          fs.writeSync(fd, lines.map((l) => `${l}\n`).join(''));
          fs.fsyncSync(fd);
        }
      };
    // onProgress gets (finished, total) deletions.
    const progress = onProgress && (() => onProgress(...machine.progress()));
    await run(machine, transport, { concurrency, beforeSend, onProgress: progress, signal });
    return toRegpruneErrorSafe(() => machine.report());
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    machine.free();
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
 * the last run unless `run` names another. Only bytes that hash to their journalled digest are
 * pushed, tags only after their manifest is back by digest, children before their indexes; a
 * torn last line is skipped and reported. Returns the core's report.
 */
export async function undo(journalPath, transport, { run: runId, dryRun = false, retarget = false, concurrency } = {}) {
  const { readFileSync } = await import('node:fs');
  const journal = readFileSync(journalPath);
  let machine;
  try {
    machine = new wasm.Undo(journal, { registry: transport.registry, run: runId, dryRun, retarget });
  } catch (e) {
    throw toRegpruneError(e);
  }
  try {
    await run(machine, transport, { concurrency });
    return toRegpruneErrorSafe(() => machine.report());
  } finally {
    machine.free();
  }
}

/**
 * Reads a distribution registry's storage directory (filesystem driver) into a snapshot: every
 * revision, tagged or not, exact blob sizes, times from the link files (Node only).
 */
export async function readStorage(root, registryName, { saveManifests } = {}) {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const base = path.join(root, 'docker', 'registry', 'v2');
  const reposDir = path.join(base, 'repositories');
  if (!fs.existsSync(reposDir)) throw refuse(`storage: ${reposDir} is not a registry storage directory`);
  const time = (p) => fs.statSync(p).mtime.toISOString();
  const link = (p) => fs.readFileSync(p, 'ascii').trim();
  const repositories = [];
  const wanted = new Set();
  const walk = (dir) => {
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    if (entries.some((e) => e.name === '_manifests' && e.isDirectory())) {
      const name = path.relative(reposDir, dir).split(path.sep).join('/');
      const manifests = path.join(dir, '_manifests');
      const revDir = path.join(manifests, 'revisions', 'sha256');
      const revisions = [];
      for (const hex of fs.existsSync(revDir) ? fs.readdirSync(revDir).sort() : []) {
        const p = path.join(revDir, hex, 'link');
        if (fs.existsSync(p)) {
          const digest = link(p);
          wanted.add(digest);
          revisions.push({ digest, time: time(p) });
        }
      }
      const tagDir = path.join(manifests, 'tags');
      const tags = [];
      for (const tag of fs.existsSync(tagDir) ? fs.readdirSync(tagDir).sort() : []) {
        const p = path.join(tagDir, tag, 'current', 'link');
        if (fs.existsSync(p)) tags.push({ name: tag, digest: link(p), time: time(p) });
      }
      repositories.push({ name, revisions, tags });
    }
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith('_')) walk(path.join(dir, e.name));
  };
  walk(reposDir);
  const blobSizes = {};
  const manifests = {};
  const blobs = path.join(base, 'blobs', 'sha256');
  const savedBlobs = saveManifests === undefined ? undefined : path.join(saveManifests, 'blobs');
  for (const prefix of fs.existsSync(blobs) ? fs.readdirSync(blobs) : []) {
    for (const hex of fs.readdirSync(path.join(blobs, prefix))) {
      const data = path.join(blobs, prefix, hex, 'data');
      if (!fs.existsSync(data)) continue;
      const digest = `sha256:${hex}`;
      blobSizes[digest] = fs.statSync(data).size;
      if (!wanted.has(digest)) continue;
      const raw = fs.readFileSync(data);
      manifests[digest] = raw.toString('utf8');
      if (savedBlobs !== undefined) saveManifest(fs, path, savedBlobs, digest, raw);
    }
  }
  const listing = { repositories, blobSizes, manifests, ...(registryName ? { registry: registryName } : {}) };
  return importSnapshot({ format: 'distributionStorage', listing });
}
