// <regprune-preview>: a live, exact delete preview that runs entirely in the page.
//
//   <script type="module" src="./node_modules/regprune/widget.js"></script>
//   <regprune-preview src="snapshot.json"></regprune-preview>
//
// The snapshot comes from the `snapshot` property, the `src` attribute (a URL), or a file the
// user drops or chooses (regprune snapshot JSON, or `az acr manifest list-metadata` output).
// The request is regprune's purge (manifest times), an `acr purge` (its flags or its command
// line; needs tag times, which ACR snapshots have), or a policy (rules as rows, or JSON); the
// first one shown is the one the snapshot can answer. The WebAssembly core is loaded once, in
// a worker, which also parses the snapshot and plans, so the page stays responsive on large
// registries. Each edit shows its preview first (totals, warnings, one page of items), then
// the sealed plan follows (`plan`, the `plan` event, the download). Colours are CSS custom
// properties (`--regprune-*`), with a dark scheme; README.md lists attributes, properties,
// events and parts.

/** Bytes in human units, as the core's text preview writes them. */
export function humanBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(1)} ${units[i]}`;
}

const STYLE = `
:host {
  --regprune-fg: #1b1f24; --regprune-bg: #ffffff; --regprune-muted: #57606a;
  --regprune-border: #d0d7de; --regprune-input-border: #6e7781; --regprune-surface: #f6f8fa;
  --regprune-accent: #0969da; --regprune-danger: #a40e26; --regprune-danger-bg: #ffebe9;
  --regprune-danger-border: #ff8182; --regprune-warn-bg: #fff8c5; --regprune-warn-border: #9a6700;
  --regprune-freed: #cf222e; --regprune-kept: #6e7781;
  display: block; font: 14px/1.4 system-ui, sans-serif; color: var(--regprune-fg); background: var(--regprune-bg);
}
@media (prefers-color-scheme: dark) {
  :host(:not([theme=light])) {
    --regprune-fg: #e6edf3; --regprune-bg: #0d1117; --regprune-muted: #9198a1;
    --regprune-border: #3d444d; --regprune-input-border: #9198a1; --regprune-surface: #161b22;
    --regprune-accent: #4493f8; --regprune-danger: #ffa198; --regprune-danger-bg: #3c1618;
    --regprune-danger-border: #f85149; --regprune-warn-bg: #2e2a1a; --regprune-warn-border: #d29922;
    --regprune-freed: #f85149; --regprune-kept: #9198a1;
  }
}
:host([theme=dark]) {
  --regprune-fg: #e6edf3; --regprune-bg: #0d1117; --regprune-muted: #9198a1;
  --regprune-border: #3d444d; --regprune-input-border: #9198a1; --regprune-surface: #161b22;
  --regprune-accent: #4493f8; --regprune-danger: #ffa198; --regprune-danger-bg: #3c1618;
  --regprune-danger-border: #f85149; --regprune-warn-bg: #2e2a1a; --regprune-warn-border: #d29922;
  --regprune-freed: #f85149; --regprune-kept: #9198a1;
}
* { box-sizing: border-box; }
fieldset { border: 1px solid var(--regprune-border); border-radius: 6px; margin: 0 0 12px; padding: 8px 12px; }
legend { font-weight: 600; padding: 0 4px; }
label { display: inline-flex; gap: 4px; align-items: center; margin: 4px 12px 4px 0; }
input[type=text], input[type=number], textarea, select { font: 13px ui-monospace, monospace; padding: 4px 6px; border: 1px solid var(--regprune-input-border); border-radius: 4px; color: var(--regprune-fg); background: var(--regprune-bg); }
button { font: inherit; color: var(--regprune-fg); background: var(--regprune-surface); border: 1px solid var(--regprune-input-border); border-radius: 4px; padding: 3px 10px; cursor: pointer; }
textarea { width: 100%; min-height: 5em; }
.filter-list { width: 28em; }
:focus-visible { outline: 3px solid var(--regprune-accent); outline-offset: 1px; }
.totals { display: flex; gap: 24px; flex-wrap: wrap; margin: 8px 0 12px; }
.total { background: var(--regprune-surface); border-radius: 6px; padding: 8px 14px; }
.total b { display: block; font-size: 22px; }
.inexact { margin: 0 0 8px; padding-left: 20px; color: var(--regprune-muted); }
.error { color: var(--regprune-danger); background: var(--regprune-danger-bg); border: 1px solid var(--regprune-danger-border); border-radius: 6px; padding: 8px 12px; margin: 8px 0; white-space: pre-wrap; }
.warning { background: var(--regprune-warn-bg); border: 1px solid var(--regprune-warn-border); border-radius: 6px; padding: 6px 10px; margin: 4px 0; }
.warning .count { font-weight: 600; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 14px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--regprune-border); vertical-align: top; }
td.mono { font: 12px ui-monospace, monospace; }
.rules input[type=text] { width: 100%; }
.bar { display: flex; height: 14px; min-width: 2px; border-radius: 3px; overflow: hidden; background: var(--regprune-surface); }
.bar .freed { background: var(--regprune-freed); }
.bar .kept { background: var(--regprune-kept); }
.chart td:first-child { width: 14em; }
.drop { border: 2px dashed var(--regprune-input-border); border-radius: 6px; padding: 8px; text-align: center; color: var(--regprune-muted); margin-bottom: 8px; }
.drop.over { border-color: var(--regprune-accent); color: var(--regprune-accent); }
.muted { color: var(--regprune-muted); }
h2 { font-size: 15px; margin: 14px 0 4px; }
.result[data-stale] { border-left: 4px solid var(--regprune-danger-border); padding-left: 10px; }
.stale { font-weight: 600; margin: 4px 0; }
`;

const RULE_ROW = `
<td><input type="text" data-field="name" aria-label="Rule name"></td>
<td><select data-field="action" aria-label="Action"><option value="delete">delete</option><option value="keep">keep</option></select></td>
<td><input type="text" data-field="tags" aria-label="Tags (globs, comma-separated; empty: any)" placeholder="any"></td>
<td><input type="text" data-field="olderThan" aria-label="Older than (30d, 2w; empty: any age)" size="6" placeholder="any"></td>
<td><input type="number" data-field="keepMostRecent" aria-label="Keep the most recent N" min="0" size="4" placeholder="0"></td>
<td><input type="checkbox" data-field="untagged" aria-label="Untagged manifests only"></td>
<td><button type="button" data-remove aria-label="Remove this rule">Remove</button></td>`;

const TEMPLATE = `
<style>${STYLE}</style>
<div class="drop" part="drop">
  <p>Drop a snapshot here (regprune JSON, or <code>az acr manifest list-metadata</code> output), or
  <button type="button" name="choose">Choose a file…</button></p>
  <input type="file" accept=".json,application/json" hidden tabindex="-1" aria-hidden="true">
  <span class="source muted"></span>
</div>
<label>Repository (for list-metadata output) <input type="text" name="repository" value="" size="20"></label>
<fieldset part="request">
  <legend>Request</legend>
  <div role="radiogroup" aria-label="Kind of request">
    <label><input type="radio" name="mode" value="purge" checked> Purge (manifest times)</label>
    <label><input type="radio" name="mode" value="acrflags"> acr purge flags</label>
    <label><input type="radio" name="mode" value="acr"> acr purge command</label>
    <label><input type="radio" name="mode" value="policy"> Policy</label>
  </div>
  <div data-mode="purge">
    <label>Filters (repository:tag regex, one per line) <textarea name="pfilter" class="filter-list" rows="2">.*:.*</textarea></label>
    <label>Older than <input type="text" name="pago" value="30d" size="8"></label>
    <label>Keep the newest <input type="number" name="pkeep" value="0" min="0" size="4"></label>
    <label><input type="checkbox" name="puntagged"> Untagged manifests too</label>
  </div>
  <div data-mode="acrflags" hidden>
    <label>Filters (repository:tag, one per line) <textarea name="filter" class="filter-list" rows="2">.*:.*</textarea></label>
    <label>Older than (--ago) <input type="text" name="ago" value="30d" size="8"></label>
    <label>Keep <input type="number" name="keep" value="0" min="0" size="4"></label>
    <label><input type="checkbox" name="untagged"> Untagged manifests too</label>
    <label><input type="checkbox" name="includeLocked"> Include locked</label>
  </div>
  <div data-mode="acr" hidden>
    <label style="display:flex">Command <input type="text" name="command" style="flex:1" value="acr purge --filter '.*:.*' --ago 30d --untagged"></label>
  </div>
  <div data-mode="policy" hidden>
    <div data-view="rows">
      <table class="rules"><caption class="muted">Rules, in order (a keep wins over a delete)</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Action</th><th scope="col">Tags</th><th scope="col">Older than</th><th scope="col">Keep newest</th><th scope="col">Untagged</th><th scope="col"><span class="muted">Remove</span></th></tr></thead>
        <tbody></tbody></table>
      <button type="button" name="addRule">Add a rule</button>
      <button type="button" name="asJson">Edit as JSON</button>
    </div>
    <div data-view="json" hidden>
      <label style="display:block">Policy JSON <textarea name="policy" rows="8"></textarea></label>
      <button type="button" name="asRows">Edit as rows</button>
    </div>
  </div>
</fieldset>
<div class="error" part="error" role="alert" hidden></div>
<p class="status muted" part="status" role="status"></p>
<section class="result">
  <p class="stale" hidden>Shown below: the last request that could be planned.</p>
  <div class="totals" part="totals">
    <div class="total">Reclaimable <b data-total="bytes">–</b><span class="muted" data-total="exact"></span></div>
    <div class="total">Manifests deleted <b data-total="manifests">–</b></div>
    <div class="total">Tags removed <b data-total="tags">–</b></div>
    <div class="total">Retained <b data-total="retained">–</b></div>
  </div>
  <ul class="inexact" hidden></ul>
  <div class="warnings" part="warnings"></div>
  <h2>Per repository: reclaimable vs retained</h2>
  <table class="chart" part="chart"><caption class="muted">Reclaimable and retained bytes per repository (largest first)</caption><tbody></tbody></table>
  <h2>Actions and retained items</h2>
  <label>Show items matching <input type="text" name="itemFilter" placeholder="repository, tag, digest, reason…" size="30"></label>
  <label>Sort by <select name="sort"><option value="repository">repository</option><option value="kind">kind</option><option value="reason">reason</option></select></label>
  <button type="button" name="download">Download plan JSON</button>
  <table class="items" part="items"><thead><tr><th scope="col">Kind</th><th scope="col">Repository</th><th scope="col">Target</th><th scope="col">Tags</th><th scope="col">Reason</th></tr></thead><tbody></tbody></table>
  <p class="pager"><button type="button" name="previous">Previous</button> <span class="muted more"></span> <button type="button" name="next">Next</button></p>
</section>
`;

/** The policy the editor starts with: what a nightly job usually wants. */
const DEFAULT_POLICY = { rules: [
  { name: 'untagged', action: 'delete', tagState: 'untagged', olderThan: '14d' },
  { name: 'old-builds', action: 'delete', tags: ['build-*', 'pr-*'], olderThan: '30d', keepMostRecent: 3 },
] };

/** A page-side error (the worker's own are classified there). */
class RequestError extends Error {}

/** Rows per page of the items table: a page of 200 rows with their sentences took the browser
 * longer to lay out and paint than the worker took to plan (bench/FINDINGS.md). */
const SHOWN = 50;

/** The `plan` event: its `detail` is the sealed plan, parsed when first read. */
class PlanEvent extends Event {
  #read;
  constructor(read) {
    super('plan');
    this.#read = read;
  }
  get detail() {
    return this.#read();
  }
}

function text(el, value) {
  el.textContent = value;
  return el;
}

export class RegprunePreview extends HTMLElement {
  static observedAttributes = ['src', 'now'];
  /** The mode the user picked (then a new snapshot keeps it); unset: chosen per snapshot. */
  #chosenMode;
  #root;
  #worker;
  #loaded = false;
  /** Request ids: the latest plan request's, and the latest request for a page of items. */
  #ids = 0;
  #planId = 0;
  #viewId = 0;
  #awaitingPlan = false;
  #awaitingView = false;
  /** Resolves when no planning is outstanding; `#settle` resolves it. */
  #settled;
  #settle = () => {};
  #repoBytes = new Map();
  #snapshotInfo;
  /** An `operation` was set from code: it decides the mode. */
  #operationSet = false;
  /** The sealed plan's JSON bytes, and the plan parsed from them when first read. */
  #bytes;
  #plan;
  #timer;
  /** The first item shown: a new plan, filter or order starts again at 0. */
  #offset = 0;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    this.#root.innerHTML = TEMPLATE;
    this.#worker = new Worker(new URL('./widget-worker.js', import.meta.url), { type: 'module' });
    this.#worker.onmessage = (e) => this.#answer(e.data);
    this.#worker.onerror = (e) => {
      this.#error(`the planning worker failed: ${e.message ?? 'unknown error'}`);
      this.#settle();
    };
    const $ = (s) => this.#root.querySelector(s);
    this.#root.addEventListener('input', (e) => {
      if (e.target.name === 'itemFilter' || e.target.name === 'sort') {
        this.#offset = 0;
        this.#requestItems();
      }
      else if (e.target.name === 'mode') {
        this.#chosenMode = e.target.value;
        this.#switchMode();
      } else if (e.target.dataset?.field) this.#rowsToJson();
      else if (e.target.name !== 'repository') this.#schedule();
    });
    $('button[name=addRule]').addEventListener('click', () => {
      this.#addRule({ name: `rule-${this.#root.querySelectorAll('.rules tbody tr').length + 1}`, action: 'delete', olderThan: '30d' }).querySelector('input').focus();
      this.#rowsToJson();
    });
    $('.rules tbody').addEventListener('click', (e) => {
      if (!e.target.closest('[data-remove]')) return;
      e.target.closest('tr').remove();
      this.#rowsToJson();
    });
    $('button[name=asJson]').addEventListener('click', () => this.#policyView('json', true));
    $('button[name=asRows]').addEventListener('click', () => this.#policyView('rows', true));
    this.#setPolicy(DEFAULT_POLICY);
    $('button[name=download]').addEventListener('click', () => this.#download());
    $('button[name=previous]').addEventListener('click', () => {
      this.#offset = Math.max(0, this.#offset - SHOWN);
      this.#requestItems();
    });
    $('button[name=next]').addEventListener('click', () => {
      this.#offset += SHOWN;
      this.#requestItems();
    });
    const drop = $('.drop');
    const file = $('input[type=file]');
    $('button[name=choose]').addEventListener('click', () => file.click());
    file.addEventListener('change', () => file.files[0] && this.#readFile(file.files[0]));
    drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      if (e.dataTransfer.files[0]) this.#readFile(e.dataTransfer.files[0]);
    });
  }

  attributeChangedCallback(name, _old, value) {
    if (name === 'src' && value) {
      fetch(value).then((r) => r.text()).then((t) => { this.snapshot = t; }, (e) => this.#error(`could not load ${value}: ${e.message}`));
    } else if (name === 'now') this.#schedule();
  }

  /** The snapshot: an object, JSON text or bytes, or list-metadata output (an array). It is
   * handed to the worker as it is, and parsed there. */
  set snapshot(input) {
    text(this.#root.querySelector('.source'), 'reading…');
    this.#loaded = false;
    this.#pending();
    this.#planId = ++this.#ids;
    this.#awaitingPlan = true;
    const repository = this.#root.querySelector('input[name=repository]').value;
    this.#worker.postMessage({ id: this.#planId, kind: 'load', snapshot: input, repository });
  }

  /** The latest sealed plan (read-only), parsed from the worker's bytes when first read. */
  get plan() {
    if (this.#plan === undefined && this.#bytes) this.#plan = JSON.parse(new TextDecoder().decode(this.#bytes));
    return this.#plan;
  }

  /** Resolves when the latest change has been planned and sealed (or refused). */
  whenSettled() {
    return this.#settled ?? Promise.resolve();
  }

  /** Marks work outstanding, until `#settle()`. */
  #pending() {
    if (this.#settled) return;
    this.#settled = new Promise((resolve) => {
      this.#settle = () => {
        this.#settled = undefined;
        this.#settle = () => {};
        resolve();
      };
    });
  }

  /** An answer from the worker: only answers to the latest requests are shown. */
  #answer(msg) {
    if (msg.kind === 'error' && (msg.id === this.#planId || msg.id === this.#viewId)) {
      this.#error(msg.error.known ? msg.error.message : `unexpected: ${msg.error.message}`);
      if (msg.id === this.#planId) this.#awaitingPlan = false;
      if (msg.id === this.#viewId) this.#awaitingView = false;
    } else if (msg.id === this.#planId && msg.kind === 'load') {
      this.#loaded = true;
      this.#awaitingPlan = false;
      this.#repoBytes = new Map(msg.repoBytes);
      this.#snapshotInfo = msg;
      text(this.#root.querySelector('.source'), `${msg.manifests} manifests in ${msg.repositories} repositories${msg.tagTimes ? '' : ' (no tag times: acr purge cannot judge ages here)'}`);
      // The request this snapshot can answer: acr purge needs tag times (ACR has them); an
      // OCI crawl has manifest times only, which purge and policies compare.
      if (this.#chosenMode === undefined && !this.#operationSet) {
        this.#root.querySelector(`input[name=mode][value=${msg.tagTimes ? 'acr' : 'purge'}]`).checked = true;
        this.#switchMode();
      } else this.#recompute();
    } else if (msg.id === this.#planId && msg.kind === 'preview') {
      const started = performance.now();
      this.dataset.millis = String(msg.millis);
      this.#error(null);
      this.#render(msg.summary);
      if (msg.id === this.#viewId) {
        this.#renderItems(msg.page);
        this.#awaitingView = false;
      }
      this.dataset.renderMillis = String(performance.now() - started);
      this.dispatchEvent(new CustomEvent('preview', { detail: msg.summary }));
    } else if (msg.id === this.#planId && msg.kind === 'plan') {
      this.#bytes = msg.bytes;
      this.#plan = undefined;
      this.dataset.sealMillis = String(msg.millis);
      this.#awaitingPlan = false;
      this.dispatchEvent(new PlanEvent(() => this.plan));
    } else if (msg.id === this.#viewId && msg.kind === 'items') {
      if (msg.page) this.#renderItems(msg.page);
      this.#awaitingView = false;
    }
    if (!this.#awaitingPlan && !this.#awaitingView) this.#settle();
  }

  /** Sets the request form from an operation (`acrPurge` fields or command, or `policy`). */
  set operation(op) {
    const $ = (s) => this.#root.querySelector(s);
    this.#operationSet = true;
    if (op.op === 'policy') {
      $('input[value=policy]').checked = true;
      this.#setPolicy(op.policy);
    } else if (op.op === 'purge') {
      $('input[value=purge]').checked = true;
      $('textarea[name=pfilter]').value = (op.filter ?? []).join('\n');
      $('input[name=pago]').value = op.ago ?? '';
      $('input[name=pkeep]').value = String(op.keep ?? 0);
      $('input[name=puntagged]').checked = Boolean(op.untagged);
    } else if (op.command) {
      $('input[value=acr]').checked = true;
      $('input[name=command]').value = op.command;
    } else {
      $('input[value=acrflags]').checked = true;
      $('textarea[name=filter]').value = (op.filter ?? []).join('\n');
      $('input[name=ago]').value = op.ago ?? '';
      $('input[name=keep]').value = String(op.keep ?? 0);
      $('input[name=untagged]').checked = Boolean(op.untagged);
      $('input[name=includeLocked]').checked = Boolean(op.includeLocked);
    }
    this.#switchMode();
  }

  /** Fills the policy editor (rows and JSON) from a policy. */
  #setPolicy(policy) {
    this.#root.querySelector('textarea[name=policy]').value = JSON.stringify(policy, null, 2);
    const simple = this.#jsonToRows();
    this.#policyView(simple ? 'rows' : 'json');
  }

  /** Rows from the JSON, when every rule fits the rows' fields; false otherwise. */
  #jsonToRows() {
    let policy;
    try {
      policy = JSON.parse(this.#root.querySelector('textarea[name=policy]').value);
    } catch {
      return false;
    }
    const fits = (r) => Object.keys(r).every((k) => ['name', 'action', 'tags', 'olderThan', 'keepMostRecent', 'tagState'].includes(k)) && (r.tagState ?? 'any') !== 'tagged';
    const rules = policy?.rules;
    if (!Array.isArray(rules) || !rules.every(fits) || Object.keys(policy).some((k) => k !== 'rules')) return false;
    this.#root.querySelector('.rules tbody').replaceChildren();
    for (const r of rules) this.#addRule(r);
    return true;
  }

  #addRule(rule) {
    const tr = document.createElement('tr');
    tr.innerHTML = RULE_ROW;
    const field = (n) => tr.querySelector(`[data-field=${n}]`);
    field('name').value = rule.name ?? '';
    field('action').value = rule.action ?? 'delete';
    field('tags').value = (rule.tags ?? []).join(', ');
    field('olderThan').value = rule.olderThan ?? '';
    field('keepMostRecent').value = rule.keepMostRecent === undefined ? '' : String(rule.keepMostRecent);
    field('untagged').checked = rule.tagState === 'untagged';
    this.#root.querySelector('.rules tbody').append(tr);
    return tr;
  }

  /** The rows, written into the JSON the request is made from. */
  #rowsToJson() {
    const rules = [...this.#root.querySelectorAll('.rules tbody tr')].map((tr) => {
      const v = (n) => tr.querySelector(`[data-field=${n}]`);
      const rule = { name: v('name').value.trim(), action: v('action').value };
      const tags = v('tags').value.split(',').map((t) => t.trim()).filter(Boolean);
      if (tags.length) rule.tags = tags;
      if (v('untagged').checked) rule.tagState = 'untagged';
      if (v('olderThan').value.trim()) rule.olderThan = v('olderThan').value.trim();
      if (v('keepMostRecent').value !== '') rule.keepMostRecent = Number(v('keepMostRecent').value);
      return rule;
    });
    this.#root.querySelector('textarea[name=policy]').value = JSON.stringify({ rules }, null, 2);
    this.#schedule();
  }

  /** Shows the policy as rows or as JSON; rows only when the JSON fits them. */
  #policyView(view, focus = false) {
    const $ = (s) => this.#root.querySelector(s);
    if (view === 'rows' && !this.#jsonToRows()) {
      this.#error('this policy has fields the rows cannot show (or is not JSON): edit it as JSON');
      return;
    }
    $('[data-view=rows]').hidden = view !== 'rows';
    $('[data-view=json]').hidden = view !== 'json';
    if (focus) $(view === 'rows' ? 'button[name=asJson]' : 'textarea[name=policy]').focus();
  }

  #readFile(file) {
    const repo = this.#root.querySelector('input[name=repository]');
    if (!repo.value) repo.value = file.name.replace(/\.json$/i, '');
    file.arrayBuffer().then((b) => { this.snapshot = new TextDecoder().decode(b); });
  }

  #switchMode() {
    const mode = this.#root.querySelector('input[name=mode]:checked').value;
    for (const el of this.#root.querySelectorAll('[data-mode]')) el.hidden = el.dataset.mode !== mode;
    this.#recompute();
  }

  #schedule() {
    clearTimeout(this.#timer);
    this.#pending();
    this.#timer = setTimeout(() => this.#recompute(), 60);
  }

  #operation() {
    const $ = (s) => this.#root.querySelector(s);
    const mode = $('input[name=mode]:checked').value;
    if (mode === 'acr') return { op: 'acrPurge', command: $('input[name=command]').value };
    if (mode === 'policy') {
      let policy;
      try {
        policy = JSON.parse($('textarea[name=policy]').value);
      } catch (e) {
        throw new RequestError(`the policy is not JSON: ${e.message}`);
      }
      return { op: 'policy', policy };
    }
    const lines = (name) => $(`textarea[name=${name}]`).value.split('\n').map((s) => s.trim()).filter(Boolean);
    if (mode === 'purge') {
      const op = { op: 'purge', filter: lines('pfilter'), ago: $('input[name=pago]').value.trim(), keep: Number($('input[name=pkeep]').value || 0) };
      if ($('input[name=puntagged]').checked) op.untagged = true;
      return op;
    }
    const filter = lines('filter');
    const op = { op: 'acrPurge', filter, ago: $('input[name=ago]').value.trim(), keep: Number($('input[name=keep]').value || 0) };
    if ($('input[name=untagged]').checked) op.untagged = true;
    if ($('input[name=includeLocked]').checked) op.includeLocked = true;
    return op;
  }

  #recompute() {
    if (!this.#loaded) return;
    this.#pending();
    this.#offset = 0;
    // Answers still on their way are stale from here on.
    this.#planId = ++this.#ids;
    this.#viewId = this.#planId;
    try {
      const now = this.getAttribute('now') ?? new Date().toISOString();
      this.#worker.postMessage({ id: this.#planId, kind: 'plan', operation: this.#operation(), now, query: this.#query() });
      this.#awaitingPlan = true;
      this.#awaitingView = true;
    } catch (e) {
      this.#awaitingPlan = false;
      this.#awaitingView = false;
      this.#error(e instanceof RequestError ? e.message : `unexpected: ${e.message}`);
      this.#settle();
    }
  }

  /** The items table's filter and order. */
  #query() {
    const $ = (s) => this.#root.querySelector(s);
    return { matching: $('input[name=itemFilter]').value.trim(), sort: $('select[name=sort]').value, offset: this.#offset, limit: SHOWN };
  }

  /** Asks the worker for the page of items the filter and order now select (from the plan
   * it holds: it answers in order, so after any plan requested before). */
  #requestItems() {
    if (!this.#loaded) return;
    this.#pending();
    this.#viewId = ++this.#ids;
    this.#awaitingView = true;
    this.#worker.postMessage({ id: this.#viewId, kind: 'items', query: this.#query() });
  }

  #error(message) {
    const el = this.#root.querySelector('.error');
    el.hidden = !message;
    el.textContent = message ? `Cannot plan this request: ${message}` : '';
    // The result below is the last request that could be planned: marked, not dimmed (dimmed
    // text would be unreadable).
    const result = this.#root.querySelector('.result');
    result.toggleAttribute('data-stale', Boolean(message));
    this.#root.querySelector('.stale').hidden = !message;
  }

  /** Totals, warnings and the per-repository chart, from the worker's summary. */
  #render(r) {
    const $ = (s) => this.#root.querySelector(s);
    text($('[data-total=bytes]'), humanBytes(r.totalBytes));
    text($('[data-total=exact]'), r.exact ? ' exact' : ' not exact (why: below)');
    const inexact = $('.inexact');
    inexact.hidden = r.exact;
    inexact.replaceChildren(...(r.exact ? [] : r.inexactReasons.map((why) => text(document.createElement('li'), why))));
    text($('.status'), `${r.actions} action(s), ${humanBytes(r.totalBytes)} reclaimable${r.exact ? '' : ' (not exact)'}, ${r.retained} retained, ${r.warnings.length} warning(s)`);
    $('[data-total=bytes]').dataset.value = String(r.totalBytes);
    text($('[data-total=manifests]'), String(r.manifests));
    text($('[data-total=tags]'), String(r.tags));
    text($('[data-total=retained]'), String(r.retained));
    const warnings = $('.warnings');
    // One box per warning (the core gathers repeated ones, with every item), its count and
    // first items.
    warnings.replaceChildren(...r.warnings.map((w) => {
      const d = document.createElement('div');
      d.className = 'warning';
      d.setAttribute('role', 'note');
      d.dataset.code = w.code;
      if (w.itemCount > 1) d.append(text(document.createElement('span'), `${w.itemCount} items: `));
      d.firstChild?.classList.add('count');
      d.append(w.message);
      if (w.itemCount) d.append(` (${w.items.join(', ')}${w.itemCount > w.items.length ? `, and ${w.itemCount - w.items.length} more` : ''})`);
      return d;
    }));
    const rows = [];
    const freedBy = new Map(r.byRepository.map((x) => [x.repository, x.blobBytes + x.manifestBytes]));
    const names = [...new Set([...this.#repoBytes.keys()])].sort((a, b) => (freedBy.get(b) ?? 0) - (freedBy.get(a) ?? 0) || a.localeCompare(b));
    const max = Math.max(1, ...names.map((n) => this.#repoBytes.get(n) ?? 0));
    for (const name of names.slice(0, 30)) {
      const freed = freedBy.get(name) ?? 0;
      const kept = Math.max(0, (this.#repoBytes.get(name) ?? 0) - freed);
      const tr = document.createElement('tr');
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.style.width = `${Math.max(1, ((freed + kept) / max) * 100)}%`;
      bar.setAttribute('role', 'img');
      bar.setAttribute('aria-label', `${name}: ${humanBytes(freed)} reclaimable, ${humanBytes(kept)} retained`);
      const f = document.createElement('span');
      f.className = 'freed';
      f.style.flex = String(freed);
      const k = document.createElement('span');
      k.className = 'kept';
      k.style.flex = String(kept);
      bar.append(f, k);
      const cells = [text(document.createElement('td'), name), document.createElement('td'), text(document.createElement('td'), `${humanBytes(freed)} / ${humanBytes(kept)}`)];
      cells[1].append(bar);
      tr.append(...cells);
      rows.push(tr);
    }
    $('.chart tbody').replaceChildren(...rows);
  }

  /** A page of items from the worker: filtered and sorted there, in code-point order. */
  #renderItems(page) {
    const $ = (s) => this.#root.querySelector(s);
    const rows = page.items.map((i) => {
      const tr = document.createElement('tr');
      tr.dataset.kind = i.kind;
      const target = text(document.createElement('td'), i.target);
      target.className = 'mono';
      tr.append(text(document.createElement('td'), i.kind), text(document.createElement('td'), i.repository), target, text(document.createElement('td'), i.tags), text(document.createElement('td'), i.reason));
      return tr;
    });
    $('.items tbody').replaceChildren(...rows);
    const first = Math.min(this.#offset + 1, page.total);
    text($('.more'), `Items ${first}–${this.#offset + rows.length} of ${page.total}`);
    $('button[name=previous]').disabled = this.#offset === 0;
    $('button[name=next]').disabled = this.#offset + rows.length >= page.total;
  }

  async #download() {
    await this.whenSettled();
    const bytes = this.#bytes;
    if (!bytes) return;
    // The worker's bytes as they are: the bytes the plan's digest seals (a re-serialization
    // could differ, e.g. in sizes above 2^53). The digest is the last member.
    const digest = /"digest":"(?:sha256:)?([0-9a-f]{12})/.exec(new TextDecoder().decode(bytes.subarray(-100)))?.[1] ?? 'unsealed';
    const blob = new Blob([bytes, '\n'], { type: 'application/json' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `plan-${digest}.json`;
    this.#root.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
}

if (!customElements.get('regprune-preview')) customElements.define('regprune-preview', RegprunePreview);
