// Types of `regprune/registry`: the adapter that talks to live registries.
import type { Operation, Plan, PlanInput, Snapshot } from './index.js';

export const DEFAULT_CONCURRENCY: number;
export const MAX_CONCURRENCY: number;
/** The largest response body read (a larger one is a `too_large` transport failure). */
export const MAX_BODY: number;

export interface TransportOptions {
  /** Else `REGPRUNE_USERNAME`, else Docker's config.json (the core's credential lookup). */
  username?: string;
  password?: string;
  /** Allow plain HTTP to a non-loopback host. */
  insecure?: boolean;
  /** Injectable `fetch`. Default in Node: undici (HTTPS_PROXY/NO_PROXY, SSL_CERT_FILE); the global `fetch` elsewhere. */
  fetch?: typeof fetch;
  /** Seconds without a byte before a request fails (default 60). */
  timeout?: number;
  /** Seconds a whole request may take (default 300). */
  deadline?: number;
  /** The registry is GitHub's (GitHub Enterprise Server; ghcr.io always is): `GITHUB_TOKEN` and `GH_TOKEN` count as credentials. */
  github?: boolean;
  /** Called with one line per request (method, URL without its query, status, time; never a header or a body). */
  log?: (line: string) => void;
}

/** A request exactly as the core's Session hands it out (authentication included). */
export interface CoreRequest {
  id: number;
  method: 'GET' | 'HEAD' | 'DELETE' | 'PUT' | 'PATCH' | 'POST';
  url: string;
  headers: [string, string][];
  body?: Uint8Array;
}

export interface CoreResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
  /** When `status` is 0: the code of what failed (`ENOTFOUND`, `UND_ERR_SOCKET`, `timeout`, …), for the core to read. */
  failure?: string;
}

export class Transport {
  constructor(baseUrl: string, options?: TransportOptions);
  readonly registry: string;
  /** Where the credentials came from, or `undefined` when none were found. */
  readonly credentialSource?: string;
  /** Where the credential lookup looked when it found nothing. */
  readonly looked: string[];
  /** Sends one request; never resends (the core decides what goes again). */
  send(request: CoreRequest): Promise<CoreResponse>;
  /** Closes idle connections. */
  close(): Promise<void>;
}

export type OutcomeKind = 'done' | 'alreadyGone' | 'skipped' | 'failed' | 'unsupported' | 'notStarted';

export interface Report {
  plan?: string;
  outcomes: { action: number; repository: string; target: string; outcome: OutcomeKind; detail: string; retries: number }[];
  counts: Partial<Record<OutcomeKind, number>>;
  /** The registry the plan was made for, when it was run against another one on purpose. */
  retargeted?: string;
  /** The run was interrupted: what had not started is `notStarted`. */
  interrupted?: boolean;
  /** Every action is done or already gone. */
  complete: boolean;
}

export interface RunOptions {
  /** The registry's API: detected by default. */
  flavour?: 'auto' | 'oci' | 'acr' | 'ghcr' | 'dockerhub';
  concurrency?: number;
  onProgress?: (handled: number) => void;
}

/**
 * `saveManifests` (Node): a directory to save each manifest's bytes in, for `execute`'s `manifests`.
 * GHCR (`flavour: 'ghcr'`, chosen for ghcr.io): `owner` is the user or organisation whose packages
 * are read; `githubApi` the REST API's base URL (GitHub Enterprise Server). Docker Hub
 * (`flavour: 'dockerhub'`, chosen for registry-1.docker.io): `owner` is the namespace, `hubApi`
 * Hub's API (`https://hub.docker.com`).
 */
export function crawl(transport: Transport, options?: RunOptions & {
  repositories?: string[];
  saveManifests?: string;
  /** (Node) A directory an earlier crawl saved with `saveManifests` (it may be the same directory: the CLI's `--cache`): its manifests and image configs (checked against their digests; a damaged file is fetched instead) are not fetched again. */
  manifests?: string;
  /** A line after each response from the core: `crawl: listing (…)`, then `crawl: manifests D/T (F fetched, R reused, N to fetch)`. */
  onStatus?: (line: string) => void;
  owner?: string;
  githubApi?: string;
  hubApi?: string;
  /** Read only the manifests that decide this plan (ACR; the CLI's `--decisions-only`): indexes, and what the plan deletes that may be a referrer. The others stay unread, so reclaimable bytes become an upper bound. */
  decide?: { operation: Operation; now: string; pinned?: string[] };
}): Promise<Snapshot>;
/** `plan`: the sealed plan, as an object or (faster, and exact for any size) its JSON, text or UTF-8 bytes. */
export function execute(
  plan: PlanInput,
  transport: Transport,
  options?: Omit<RunOptions, 'onProgress'> & {
    journalPath?: string;
    onProgress?: (finished: number, total: number) => void;
    /** A directory saved by `crawl`'s `saveManifests`: those manifests are journaled without a GET. */
    manifests?: string;
    /** GHCR: the GitHub REST API's base URL (GitHub Enterprise Server); ghcr.io's is known. */
    githubApi?: string;
    /** Docker Hub: its API's base URL (default `https://hub.docker.com`). */
    hubApi?: string;
    /** Run a plan made for another registry against this transport's (a mirror, a proxy). */
    retarget?: boolean;
    /** Aborting it (Ctrl-C) stops the run: nothing more is sent, and the report lists what never started. */
    signal?: AbortSignal;
  },
): Promise<Report>;
export interface UndoReport {
  /** The run undone (`undefined`: lines written before runs had ids). */
  run?: string;
  plan?: string;
  runs: { run?: string; plan?: string; lines: number }[];
  results: { line: number; repository: string; digest: string; tags: string[]; outcome: 'restored' | 'failed' | 'notStarted'; detail: string }[];
  skippedLines: { line: number; reason: string; torn: boolean }[];
  counts: Record<string, number>;
  /** Every line of the run restored and none refused (a torn last line's deletion never went out). */
  complete: boolean;
}
/** Pushes back one run of a journal (the last unless `run` names another). */
export function undo(
  journalPath: string | Uint8Array,
  transport: Transport,
  options?: { run?: string; dryRun?: boolean; retarget?: boolean; concurrency?: number },
): Promise<UndoReport>;
/** A new run id for journal lines (UTC time and random bits). */
export function newRunId(): string;
export function readStorage(root: string, registryName?: string, options?: { saveManifests?: string }): Promise<Snapshot>;

/** The username that marks the password as an ACR refresh token. */
export const ACR_REFRESH_USER: string;

