// Types of `regprune/widget`: the <regprune-preview> element.
import type { Operation, Plan, Snapshot } from './index.js';

/** Bytes in human units (`21.8 MiB`). */
export function humanBytes(n: number): string;

/** `<regprune-preview src="snapshot.json" now="…">`: a live, exact delete preview. */
export class RegprunePreview extends HTMLElement {
  /** A snapshot object, its JSON text, or `az acr manifest list-metadata` output (an array). */
  set snapshot(input: Snapshot | string | unknown[]);
  /** Sets the request form: `acrPurge` flags or command, or a `policy`. */
  set operation(op: Operation);
  /** The current plan. */
  readonly plan: Plan | undefined;
  /** Resolves when the latest change has been planned (or refused). */
  whenSettled(): Promise<void>;
}

declare global {
  interface HTMLElementTagNameMap {
    'regprune-preview': RegprunePreview;
  }
}
