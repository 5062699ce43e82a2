// Types of `regprune/widget`: the <regprune-preview> element.
import type { Operation, Plan, PlanSummary, Snapshot } from './index.js';

/** Bytes in human units (`21.8 MiB`). */
export function humanBytes(n: number): string;

/**
 * `<regprune-preview src="snapshot.json" now="…" theme="light|dark">`: a live, exact delete
 * preview. The WebAssembly core loads once, in the element's worker, which also parses the
 * snapshot. Colours are the custom properties `--regprune-*` (see README); parts: `drop`,
 * `request`, `error`, `status`, `totals`, `warnings`, `chart`, `items`.
 */
export class RegprunePreview extends HTMLElement {
  /** A snapshot object, its JSON text, or `az acr manifest list-metadata` output (an array);
   * parsed in the worker. Unless the user or `operation` chose one, the request shown first is
   * the one the snapshot can answer (`acr purge` with tag times, else `purge`). */
  set snapshot(input: Snapshot | string | unknown[]);
  /** Sets the request form: `purge`, `acrPurge` flags or command, or a `policy` (as rows when
   * its rules fit them, else as JSON). */
  set operation(op: Operation);
  /** The latest sealed plan (parsed when first read). */
  readonly plan: Plan | undefined;
  /** Resolves when the latest change has been previewed and its plan sealed (or refused). */
  whenSettled(): Promise<void>;
  addEventListener<K extends keyof RegprunePreviewEventMap>(type: K, listener: (this: RegprunePreview, ev: RegprunePreviewEventMap[K]) => unknown, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}

/** Events of `<regprune-preview>`: `preview` when an edit's totals and items are shown (the
 * worker's summary), then `plan` when its sealed plan arrives (parsed when `detail` is read). */
export interface RegprunePreviewEventMap extends HTMLElementEventMap {
  preview: CustomEvent<PlanSummary>;
  plan: Event & { readonly detail: Plan };
}

declare global {
  interface HTMLElementTagNameMap {
    'regprune-preview': RegprunePreview;
  }
}
