// Types of the regprune package. The documents are regprune's JSON contract, identical in
// Rust, Python and JavaScript (camelCase keys); see the README for their meaning.

/** `sha256:<64 hex>` (or another OCI digest). */
export type Digest = string;
/** RFC 3339 date-time (or a `YYYY-MM-DD` date, read as midnight UTC). */
export type Timestamp = string;

export interface ChangeableAttributes {
  deleteEnabled?: boolean;
  writeEnabled?: boolean;
  readEnabled?: boolean;
  listEnabled?: boolean;
}

export interface Platform {
  architecture?: string;
  os?: string;
  'os.version'?: string;
  variant?: string;
}

export interface Descriptor {
  mediaType?: string;
  digest: Digest;
  size?: number;
  platform?: Platform;
  artifactType?: string;
}

export interface Manifest {
  digest: Digest;
  mediaType?: string;
  artifactType?: string;
  size?: number;
  imageSize?: number;
  createdTime?: Timestamp;
  lastUpdateTime?: Timestamp;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  changeableAttributes?: ChangeableAttributes;
}

export interface Tag {
  name: string;
  digest: Digest;
  createdTime?: Timestamp;
  lastUpdateTime?: Timestamp;
  changeableAttributes?: ChangeableAttributes;
}

export interface Repository {
  name: string;
  changeableAttributes?: ChangeableAttributes;
  manifests?: Manifest[];
  tags?: Tag[];
}

/** What a registry holds, as far as it was captured. */
export interface Snapshot {
  registry?: string;
  complete?: boolean;
  /** Why it is not complete, where the crawl knows (a repository whose listing failed). */
  incompleteReasons?: string[];
  /** False when the registry's API cannot list untagged manifests (reclaim is an upper bound). */
  untaggedListed?: boolean;
  repositories?: Repository[];
}

/** A snapshot in another tool's format. */
export type ImportDocument =
  | { format: 'acrListMetadata'; repository: string; registry?: string; body: unknown[] }
  | { format: 'acrApi'; bodies: unknown[] }
  | { format: 'distributionStorage'; listing: StorageListing };

/** What an adapter read from a distribution registry's storage directory. */
export interface StorageListing {
  registry?: string;
  repositories: { name: string; revisions: { digest: Digest; time?: Timestamp }[]; tags: { name: string; digest: Digest; time?: Timestamp }[] }[];
  blobSizes: Record<Digest, number>;
  manifests: Record<Digest, string>;
}

export type TimeField = 'lastUpdateTime' | 'createdTime';

export interface Rule {
  name: string;
  action: 'delete' | 'keep';
  repositories?: string[];
  repositoryRegex?: string[];
  tags?: string[];
  tagRegex?: string[];
  tagState?: 'any' | 'tagged' | 'untagged';
  olderThan?: string;
  newerThan?: string;
  timestamp?: TimeField;
  mediaTypes?: string[];
  artifactTypes?: string[];
  keepMostRecent?: number;
}

export interface Policy {
  rules: Rule[];
  protect?: { tags?: string[]; tagRegex?: string[]; digests?: Digest[]; neverEmptyRepository?: boolean };
  limits?: { maxDeletions?: number; maxBytes?: number };
}

/** One request: the ACR guide's deletions, `acr purge`, regprune's purge, or a policy. */
export type Operation =
  | { op: 'deleteRepository'; repository: string }
  | { op: 'deleteImage'; image: string }
  | { op: 'untag'; image: string }
  | { op: 'deleteOlderThan'; repository: string; before: Timestamp; field?: TimeField }
  | { op: 'deleteUntagged'; repository?: string }
  | { op: 'retention'; days: number; enabledAt: Timestamp }
  | {
      op: 'acrPurge';
      command?: string;
      filter?: string[];
      ago?: string;
      keep?: number;
      untagged?: boolean;
      untaggedOnly?: boolean;
      dryRun?: boolean;
      includeLocked?: boolean;
    }
  | {
      op: 'purge';
      filter?: string[];
      ago?: string;
      before?: Timestamp;
      timestamp?: TimeField;
      keep?: number;
      untagged?: boolean;
    }
  | { op: 'policy'; policy: Policy };

export interface PlanOptions {
  /** The time the plan is made for; defaults to now. */
  now?: Date | Timestamp;
  /** Digests that must survive, in any repository. */
  pinned?: Digest[];
}

export type ReasonCode =
  | 'repositoryDeleted' | 'imageNamed' | 'tagNamed' | 'olderThan' | 'untagged'
  | 'retentionExpired' | 'childOfDeletedIndex' | 'referrerOfDeletedSubject' | 'locked'
  | 'pinned' | 'childOfSurvivingIndex' | 'referrerOfSurvivingSubject' | 'tagged'
  | 'missingTimestamp' | 'purgeMatched' | 'keep' | 'acrSkips' | 'ruleMatched' | 'keptByRule'
  | 'protectedTag' | 'lastInRepository';

export interface Reason {
  code: ReasonCode;
  message: string;
  /** The policy rule that decided. */
  rule?: string;
}

export interface Action {
  type: 'untag' | 'deleteManifest' | 'deleteRepository';
  repository: string;
  digest?: Digest;
  tag?: string;
  mediaType?: string;
  tags: string[];
  manifests?: Digest[];
  reason: Reason;
  cascadeOf?: Digest;
  unlock?: boolean;
}

export interface Retained {
  repository: string;
  digest?: Digest;
  tag?: string;
  tags?: string[];
  reason: Reason;
}

export interface Warning {
  code: string;
  message: string;
  items?: string[];
}

export interface RepositoryReclaim {
  repository: string;
  manifests: number;
  tags: number;
  blobBytes: number;
  blobCount: number;
  manifestBytes: number;
}

export interface Reclaim {
  exact: boolean;
  inexactReasons?: string[];
  manifests: number;
  tags: number;
  totalBytes: number;
  blobBytes: number;
  blobCount: number;
  manifestBytes: number;
  shallowImageBytes?: number;
  byRepository: RepositoryReclaim[];
  shared: { bytes: number; blobCount: number; with: { repository: string; bytes: number; blobCount: number }[] };
}

/** What a request would do, and why; `digest` seals it for exact execution. */
export interface Plan {
  version: number;
  registry?: string;
  operation: Operation;
  now: Timestamp;
  pinned?: Digest[];
  actions: Action[];
  retained: Retained[];
  reclaim: Reclaim;
  warnings: Warning[];
  digest?: Digest;
}

/** A snapshot as JSON text, JSON bytes, or an object. */
export type SnapshotInput = Snapshot | string | Uint8Array;
/** A plan as an object, or its JSON as text or UTF-8 bytes. */
export type PlanInput = Plan | string | Uint8Array;

export interface GeneratorOptions {
  seed?: number;
  manifests: number;
  repositories?: number;
}

/** Every core error code. */
export type ErrorCode =
  | 'invalid_digest' | 'invalid_repository_name' | 'invalid_tag' | 'invalid_reference'
  | 'invalid_timestamp' | 'invalid_json' | 'dangling_tag' | 'duplicate' | 'digest_mismatch'
  | 'unsupported_manifest' | 'repository_not_found' | 'image_not_found' | 'invalid_operation'
  | 'invalid_pattern' | 'pattern_too_complex' | 'invalid_duration' | 'invalid_purge_command'
  | 'limit_exceeded'
  | 'invalid_arguments'
  | 'registry_unreachable'
  | 'credentials_missing'
  | 'authentication_failed'
  | 'forbidden'
  | 'not_found'
  | 'unsupported_by_registry'
  | 'rate_limited'
  | 'server_error'
  | 'protocol_violation';

/** Base class of every error regprune raises. Fields of the core variant are copied on. */
export class RegpruneError extends Error {
  readonly code: ErrorCode;
  /** Where in the input the problem is (`repositories[3].tags[7].digest`). */
  readonly path: string;
  readonly value?: string;
  readonly [field: string]: unknown;
  constructor(message: string, fields?: Record<string, unknown>);
}
/** Input that regprune refuses. */
export class InvalidInputError extends RegpruneError {}
export class InvalidDigestError extends InvalidInputError {}
export class InvalidRepositoryNameError extends InvalidInputError {}
export class InvalidTagError extends InvalidInputError {}
export class InvalidReferenceError extends InvalidInputError {}
export class InvalidTimestampError extends InvalidInputError {}
export class InvalidJsonError extends InvalidInputError {}
export class DanglingTagError extends InvalidInputError {}
export class DuplicateError extends InvalidInputError {}
export class DigestMismatchError extends InvalidInputError {}
export class UnsupportedManifestError extends InvalidInputError {}
export class RepositoryNotFoundError extends InvalidInputError {}
export class ImageNotFoundError extends InvalidInputError {}
export class InvalidOperationError extends InvalidInputError {}
export class InvalidPatternError extends InvalidInputError {}
export class PatternTooComplexError extends InvalidInputError {}
export class InvalidDurationError extends InvalidInputError {}
export class InvalidPurgeCommandError extends InvalidInputError {}
/** A policy limit the plan would exceed: planning fails closed. */
export class LimitExceededError extends RegpruneError {}
export class InvalidArgumentsError extends InvalidInputError {}
/** A registry's answer (or its silence), not the input. */
export class RegistryError extends RegpruneError {
  /** The HTTP status; 0 when there was no response. */
  status: number;
  /** What the CLI ends with: 3 unreachable, 4 denied, 5 the registry failed. */
  exitCode: number;
}
export class RegistryUnreachableError extends RegistryError {}
export class CredentialsMissingError extends RegistryError {}
export class AuthenticationFailedError extends RegistryError {}
export class ForbiddenError extends RegistryError {}
export class NotFoundError extends RegistryError {}
export class UnsupportedByRegistryError extends RegistryError {}
export class RateLimitedError extends RegistryError {}
export class ServerError extends RegistryError {}
export class ProtocolViolationError extends RegistryError {}


export const ERROR_CLASSES: Readonly<Record<ErrorCode, typeof RegpruneError>>;
export const ERROR_CODES: readonly ErrorCode[];
export const VERSION: string;

/** A snapshot parsed once and kept in WebAssembly memory, for repeated planning. */
export class LoadedSnapshot {
  constructor(input: SnapshotInput);
  plan(operation: Operation, options?: PlanOptions): Plan;
  planJson(operation: Operation, options?: PlanOptions): string;
  /** Plans for a preview: the plan stays in WebAssembly memory, unsealed. */
  preview(operation: Operation, options?: PlanOptions): PlanPreview;
  reclaim(plan: PlanInput): Reclaim;
  toObject(): Snapshot;
  readonly manifestCount: number;
  free(): void;
}

/** Which items of a plan, in which order, which page (`review::ItemQuery`). */
export interface ItemQuery {
  /** Only items with this text in a cell, ignoring case. */
  matching?: string;
  /** Sorted by this, then repository, then target, then plan order (default `repository`). */
  sort?: 'repository' | 'kind' | 'reason';
  offset?: number;
  /** Default 200. */
  limit?: number;
}

/** A row of a plan's review table: an action or a retained item, in words. */
export interface Item {
  kind: Action['type'] | 'retained';
  repository: string;
  /** `:tag`, the digest, or `N manifests`. */
  target: string;
  /** Comma-separated. */
  tags: string;
  reason: string;
  code: ReasonCode;
}

/** What a preview shows above its items. */
export interface PlanSummary {
  actions: number;
  retained: number;
  manifests: number;
  tags: number;
  totalBytes: number;
  exact: boolean;
  inexactReasons: string[];
  byRepository: RepositoryReclaim[];
  warnings: Array<{ code: Warning['code']; message: string; items: string[]; itemCount: number }>;
}

/** A plan held for a preview (`LoadedSnapshot.preview`). */
export class PlanPreview {
  summary(): PlanSummary;
  items(query?: ItemQuery): { total: number; items: Item[] };
  /** The sealed plan's JSON, UTF-8. */
  sealedJson(): Uint8Array;
  free(): void;
}

export function loadSnapshot(input: SnapshotInput | LoadedSnapshot): LoadedSnapshot;
export function plan(snapshot: SnapshotInput | LoadedSnapshot, operation: Operation, options?: PlanOptions): Plan;
export function planJson(snapshot: SnapshotInput | LoadedSnapshot, operation: Operation, options?: PlanOptions): string;
export function reclaim(snapshot: SnapshotInput | LoadedSnapshot, plan: PlanInput): Reclaim;
export function importSnapshot(document: ImportDocument): Snapshot;
export function parseManifest(bytes: Uint8Array, options?: { digest?: Digest; contentType?: string }): Manifest;
/** The human preview: totals, bytes per repository, actions grouped by repository (the first `limit`; all by default), retained, grouped warnings. */
/** The image configs a storage listing wants read into its `configs` (used by `readStorage`). */
export function storageWantedConfigs(listing: object): string[];
export function renderText(plan: PlanInput, options?: { limit?: number }): string;
/** The plan (and an execution's report) as a GitHub-flavoured Markdown job summary. */
export function renderMarkdown(plan: PlanInput, report?: object | string | null, options?: { limit?: number }): string;
/** GitHub workflow-command annotation lines (`::warning …`, `::error …`). */
export function renderAnnotations(plan: PlanInput, report?: object | string | null): string;
/** `text` safe to print on a terminal: control characters (ESC, CR, …) and bidi overrides escaped. */
export function escapeControls(text: string): string;
export function planDigest(plan: PlanInput): Digest;
export function verifyPlan(plan: PlanInput): boolean;
/** Throws `InvalidOperationError` unless the plan is exactly what its operation gives against the snapshot. */
export function checkEvidence(plan: PlanInput, snapshot: SnapshotInput): void;
export function generateJson(options: GeneratorOptions): string;
export function generate(options: GeneratorOptions): Snapshot;

/** The RegpruneError subclass for an error thrown by the WebAssembly core (others unchanged). */
export function toRegpruneError(e: unknown): unknown;
