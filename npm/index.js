// regprune for JavaScript: a thin wrapper over the WebAssembly build of regprune-core.
// The same file runs in Node 20 and in browsers (as an ES module, no bundler): it loads the
// .wasm next to it, turns core errors into RegpruneError subclasses, and defaults `now` to
// the current time.

import initWasm, * as wasm from './wasm/regprune.js';

const wasmUrl = new URL('./wasm/regprune_bg.wasm', import.meta.url);
if (typeof process !== 'undefined' && process.versions?.node) {
  // Synchronously from the bytes: the async path looks up `Request`, which makes Node load
  // its fetch implementation (~20 ms of start-up for nothing).
  const [{ readFileSync }, { createHash }] = [await import('node:fs'), await import('node:crypto')];
  wasm.initSync({ module: readFileSync(wasmUrl) });
  // Seals (made and checked) and saved manifests are hashed with Node's native sha256.
  wasm.useSha256((bytes) => createHash('sha256').update(bytes).digest());
} else {
  await initWasm({ module_or_path: wasmUrl });
}

/** Base class of every error regprune raises; `code` is the core's stable error code. */
export class RegpruneError extends Error {
  constructor(message, fields = {}) {
    super(message);
    this.name = new.target.name;
    Object.assign(this, fields);
  }
}

/** Input that regprune refuses (a bad digest, name, time, pattern, document …). */
export class InvalidInputError extends RegpruneError {}

const define = (name, base) => ({ [name]: class extends base {} })[name];

export const InvalidDigestError = define('InvalidDigestError', InvalidInputError);
export const InvalidRepositoryNameError = define('InvalidRepositoryNameError', InvalidInputError);
export const InvalidTagError = define('InvalidTagError', InvalidInputError);
export const InvalidReferenceError = define('InvalidReferenceError', InvalidInputError);
export const InvalidTimestampError = define('InvalidTimestampError', InvalidInputError);
export const InvalidJsonError = define('InvalidJsonError', InvalidInputError);
export const DanglingTagError = define('DanglingTagError', InvalidInputError);
export const DuplicateError = define('DuplicateError', InvalidInputError);
export const DigestMismatchError = define('DigestMismatchError', InvalidInputError);
export const UnsupportedManifestError = define('UnsupportedManifestError', InvalidInputError);
export const RepositoryNotFoundError = define('RepositoryNotFoundError', InvalidInputError);
export const ImageNotFoundError = define('ImageNotFoundError', InvalidInputError);
export const InvalidOperationError = define('InvalidOperationError', InvalidInputError);
export const InvalidPatternError = define('InvalidPatternError', InvalidInputError);
export const PatternTooComplexError = define('PatternTooComplexError', InvalidInputError);
export const InvalidDurationError = define('InvalidDurationError', InvalidInputError);
export const InvalidPurgeCommandError = define('InvalidPurgeCommandError', InvalidInputError);
/** A command line the CLI does not accept: an unknown command or option, a bad value. */
export const InvalidArgumentsError = define('InvalidArgumentsError', InvalidInputError);
/** A limit exceeded: a policy's maxDeletions or maxBytes (planning fails closed), or the WebAssembly build's maxSnapshotBytes. */
export const LimitExceededError = define('LimitExceededError', RegpruneError);
/**
 * A registry's answer (or its silence), not the input: `status` is the HTTP status (0 without a
 * response), `path` the request's URL path or the registry's host, `exitCode` what the CLI ends
 * with; never a credential.
 */
export class RegistryError extends RegpruneError {}
export const RegistryUnreachableError = define('RegistryUnreachableError', RegistryError);
export const CredentialsMissingError = define('CredentialsMissingError', RegistryError);
export const AuthenticationFailedError = define('AuthenticationFailedError', RegistryError);
export const ForbiddenError = define('ForbiddenError', RegistryError);
export const NotFoundError = define('NotFoundError', RegistryError);
export const UnsupportedByRegistryError = define('UnsupportedByRegistryError', RegistryError);
export const RateLimitedError = define('RateLimitedError', RegistryError);
export const ServerError = define('ServerError', RegistryError);
export const ProtocolViolationError = define('ProtocolViolationError', RegistryError);

/** The error class of every core error code. */
export const ERROR_CLASSES = Object.freeze({
  invalid_digest: InvalidDigestError,
  invalid_repository_name: InvalidRepositoryNameError,
  invalid_tag: InvalidTagError,
  invalid_reference: InvalidReferenceError,
  invalid_timestamp: InvalidTimestampError,
  invalid_json: InvalidJsonError,
  dangling_tag: DanglingTagError,
  duplicate: DuplicateError,
  digest_mismatch: DigestMismatchError,
  unsupported_manifest: UnsupportedManifestError,
  repository_not_found: RepositoryNotFoundError,
  image_not_found: ImageNotFoundError,
  invalid_operation: InvalidOperationError,
  invalid_pattern: InvalidPatternError,
  pattern_too_complex: PatternTooComplexError,
  invalid_duration: InvalidDurationError,
  invalid_purge_command: InvalidPurgeCommandError,
  limit_exceeded: LimitExceededError,
  invalid_arguments: InvalidArgumentsError,
  registry_unreachable: RegistryUnreachableError,
  credentials_missing: CredentialsMissingError,
  authentication_failed: AuthenticationFailedError,
  forbidden: ForbiddenError,
  not_found: NotFoundError,
  unsupported_by_registry: UnsupportedByRegistryError,
  rate_limited: RateLimitedError,
  server_error: ServerError,
  protocol_violation: ProtocolViolationError,
});

/** Every error code the core can raise. */
export const ERROR_CODES = Object.freeze(wasm.errorCodes());

/** The RegpruneError subclass for an error thrown by the WebAssembly core (others unchanged). */
export function toRegpruneError(e) {
  const Class = e && typeof e.code === 'string' && !(e instanceof RegpruneError) ? ERROR_CLASSES[e.code] : undefined;
  if (!Class) return e;
  const { message, name: _name, stack: _stack, ...fields } = { ...e, message: e.message };
  return new Class(message, fields);
}

/** Runs `fn`, turning a core error into its RegpruneError subclass. */
function call(fn) {
  try {
    return fn();
  } catch (e) {
    throw toRegpruneError(e);
  }
}

function options(opts = {}) {
  const now = opts.now ?? new Date();
  return {
    now: now instanceof Date ? now.toISOString() : String(now),
    pinned: opts.pinned ?? [],
  };
}

/**
 * A snapshot parsed once and kept in WebAssembly memory, to plan against it many times.
 * Call `free()` when done with a large one (otherwise the garbage collector frees it).
 */
export class LoadedSnapshot {
  #inner;
  constructor(input) {
    this.#inner = call(() => new wasm.ParsedSnapshot(input));
  }
  /** Plans `operation`; `options.now` defaults to the current time. */
  plan(operation, opts) {
    return call(() => this.#inner.plan(operation, options(opts)));
  }
  /** Plans and returns the plan's JSON text exactly as the core writes it. */
  planJson(operation, opts) {
    return call(() => this.#inner.planJson(operation, options(opts)));
  }
  /**
   * Plans `operation` for a preview: the plan stays in WebAssembly memory, unsealed; read its
   * summary and pages of its items, and seal it (`sealedJson()`) only to save it.
   */
  preview(operation, opts) {
    return new PlanPreview(call(() => this.#inner.preview(operation, options(opts))));
  }
  /** The reclaim of a plan's actions against this snapshot. */
  reclaim(plan) {
    return call(() => this.#inner.reclaim(plan));
  }
  /** The snapshot as a plain object. */
  toObject() {
    return call(() => this.#inner.toObject());
  }
  /** Number of manifests. */
  get manifestCount() {
    return this.#inner.manifestCount;
  }
  /** Releases the WebAssembly memory now. */
  free() {
    this.#inner.free();
  }
}

/**
 * A plan held for a preview (from `LoadedSnapshot.preview`): a 30,000-action plan need not be
 * copied out, nor sealed, to show its totals and its first rows. Call `free()` when done.
 */
export class PlanPreview {
  #inner;
  constructor(inner) {
    this.#inner = inner;
  }
  /** Totals, reclaim per repository, warnings (each with its first five items). */
  summary() {
    return call(() => this.#inner.summary());
  }
  /** `{total, items}`: the items matching `query.matching`, sorted by `query.sort`, one page. */
  items(query) {
    return call(() => this.#inner.items(query));
  }
  /** The sealed plan's JSON as UTF-8 bytes, exactly as the core writes it. */
  sealedJson() {
    return this.#inner.sealedJson();
  }
  /** Releases the WebAssembly memory now. */
  free() {
    this.#inner.free();
  }
}

/** Parses a snapshot (object, JSON string or JSON bytes) once, for repeated planning. */
export function loadSnapshot(input) {
  return input instanceof LoadedSnapshot ? input : new LoadedSnapshot(input);
}

function withSnapshot(snapshot, fn) {
  if (snapshot instanceof LoadedSnapshot) return fn(snapshot);
  const loaded = new LoadedSnapshot(snapshot);
  try {
    return fn(loaded);
  } finally {
    loaded.free();
  }
}

/** Plans `operation` against `snapshot` (object, JSON string, bytes or LoadedSnapshot). */
export function plan(snapshot, operation, opts) {
  return withSnapshot(snapshot, (s) => s.plan(operation, opts));
}

/** Like `plan`, returning the core's JSON text of the plan. */
export function planJson(snapshot, operation, opts) {
  return withSnapshot(snapshot, (s) => s.planJson(operation, opts));
}

/** What `plan`'s actions give back against `snapshot`. */
export function reclaim(snapshot, plan) {
  return withSnapshot(snapshot, (s) => s.reclaim(plan));
}

/** A snapshot from any importer document: `{format: "acrListMetadata" | "acrApi", …}`. */
export function importSnapshot(document) {
  return call(() => wasm.importSnapshot(document));
}

/** Reads manifest bytes (Uint8Array); `digest`, when given, must match them. */
export function parseManifest(bytes, { digest, contentType } = {}) {
  return call(() => wasm.parseManifest(bytes, digest, contentType));
}

/** The image configs a storage listing wants read into its `configs` (their `created` is
 * the build time); used by `readStorage`. */
export function storageWantedConfigs(listing) {
  return call(() => wasm.storageWantedConfigs(JSON.stringify(listing)));
}

/** `text` safe to print on a terminal: control characters and bidi overrides escaped. */
export function escapeControls(text) {
  return wasm.escapeControls(String(text));
}

/**
 * The human preview of a plan: totals, bytes per repository, the actions grouped by repository
 * (the first `limit`, all when not given), retained items, grouped warnings.
 */
export function renderText(plan, { limit } = {}) {
  return call(() => wasm.renderText(plan, limit ?? undefined));
}

/**
 * The plan (and an execution's report, when given) as a GitHub-flavoured Markdown job summary:
 * totals, bytes per repository, the first `limit` (default 20) actions with reasons, retained
 * items, warnings grouped by code. The same bytes as Python's `render_markdown`.
 */
export function renderMarkdown(plan, report, { limit } = {}) {
  return call(() => wasm.renderMarkdown(plan, report ?? null, limit));
}

/** GitHub workflow-command annotation lines for a plan's warnings and a report's failures. */
export function renderAnnotations(plan, report) {
  return call(() => wasm.renderAnnotations(plan, report ?? null));
}

/** The digest a plan must carry (sha256 of its canonical JSON without `digest`). */
export function planDigest(plan) {
  return call(() => wasm.planDigest(plan));
}

/** Whether `plan.digest` matches the plan: nothing was edited since it was made. */
/**
 * Throws `InvalidOperationError` unless `plan` is exactly what its own operation, time and pins
 * give against `snapshot`: a plan edited and sealed again, or made from other evidence.
 */
export function checkEvidence(plan, snapshot) {
  call(() => wasm.checkEvidence(plan, snapshot));
}

export function verifyPlan(plan) {
  return call(() => wasm.verifyPlan(plan));
}

/** A deterministic synthetic registry, as JSON text. */
export function generateJson(opts) {
  return call(() => wasm.generateJson(opts));
}

/** A deterministic synthetic registry, as an object. */
export function generate(opts) {
  return JSON.parse(generateJson(opts));
}

/** The version of the regprune core inside. */
export const VERSION = wasm.version();
