// <regprune-preview>: a live, exact delete preview that runs entirely in the page.
//
//   <script type="module" src="./node_modules/regprune/widget.js"></script>
//   <regprune-preview src="snapshot.json"></regprune-preview>
//
// The snapshot comes from the `snapshot` property, the `src` attribute (a URL), or a file the
// user drops (regprune snapshot JSON, or `az acr manifest list-metadata` output). The request
// is a purge form, an `acr purge` command line, or a policy JSON; the plan is recomputed as
// the user types. The snapshot is parsed once, in a worker's WebAssembly memory, and plans are
// computed there, so typing stays responsive on large registries. Each edit shows its preview
// first (totals, warnings, one page of items: the worker keeps the plan and sends only what is
// shown), then the sealed plan follows (`plan`, the `plan` event, the download).

import { importSnapshot, RegpruneError, ERROR_CLASSES } from './index.js';

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
:host { display: block; font: 14px/1.4 system-ui, sans-serif; color: #1b1f24; }
* { box-sizing: border-box; }
fieldset { border: 1px solid #d0d7de; border-radius: 6px; margin: 0 0 12px; padding: 8px 12px; }
legend { font-weight: 600; padding: 0 4px; }
label { display: inline-flex; gap: 4px; align-items: center; margin: 4px 12px 4px 0; }
input[type=text], input[type=number], textarea { font: 13px ui-monospace, monospace; padding: 4px 6px; border: 1px solid #8c959f; border-radius: 4px; }
textarea { width: 100%; min-height: 5em; }
.filter-list { width: 28em; }
:focus-visible { outline: 3px solid #0969da; outline-offset: 1px; }
.totals { display: flex; gap: 24px; flex-wrap: wrap; margin: 8px 0 12px; }
.total { background: #f6f8fa; border-radius: 6px; padding: 8px 14px; }
.total b { display: block; font-size: 22px; }
.error { color: #a40e26; background: #ffebe9; border: 1px solid #ff8182; border-radius: 6px; padding: 8px 12px; margin: 8px 0; white-space: pre-wrap; }
.warning { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 6px 10px; margin: 4px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 14px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th button { font: inherit; font-weight: 600; background: none; border: 0; cursor: pointer; padding: 0; }
td.mono { font: 12px ui-monospace, monospace; }
.bar { display: flex; height: 14px; min-width: 2px; border-radius: 3px; overflow: hidden; background: #eaeef2; }
.bar .freed { background: #cf222e; }
.bar .kept { background: #8c959f; }
.chart td:first-child { width: 14em; }
.drop { border: 2px dashed #8c959f; border-radius: 6px; padding: 8px; text-align: center; color: #57606a; }
.drop.over { border-color: #0969da; color: #0969da; }
.muted { color: #57606a; }
`;

const TEMPLATE = `
<style>${STYLE}</style>
<div class="drop" part="drop" tabindex="0" role="button" aria-label="Load a snapshot: drop a file here, or press Enter to choose one">
  Drop a snapshot (regprune JSON or <code>az acr manifest list-metadata</code> output), or press Enter to choose a file.
  <label>Repository (for list-metadata output) <input type="text" name="repository" value="" size="20"></label>
  <input type="file" accept=".json,application/json" hidden>
  <span class="source muted"></span>
</div>
<fieldset>
  <legend>Request</legend>
  <div role="radiogroup" aria-label="Kind of request">
    <label><input type="radio" name="mode" value="purge" checked> Purge form</label>
    <label><input type="radio" name="mode" value="acr"> acr purge command</label>
    <label><input type="radio" name="mode" value="policy"> Policy JSON</label>
  </div>
  <div data-mode="purge">
    <label>Filters (repository:tag, one per line) <textarea name="filter" class="filter-list" rows="2">.*:.*</textarea></label>
    <label>Older than (--ago) <input type="text" name="ago" value="30d" size="8"></label>
    <label>Keep <input type="number" name="keep" value="0" min="0" size="4"></label>
    <label><input type="checkbox" name="untagged"> Untagged manifests too</label>
    <label><input type="checkbox" name="includeLocked"> Include locked</label>
  </div>
  <div data-mode="acr" hidden>
    <label style="display:block">Command <input type="text" name="command" style="width:100%" value="acr purge --filter '.*:.*' --ago 30d --untagged"></label>
  </div>
  <div data-mode="policy" hidden>
    <textarea name="policy" rows="8">{"rules": [{"name": "old-untagged", "action": "delete", "tagState": "untagged", "olderThan": "14d"}]}</textarea>
  </div>
</fieldset>
<div class="error" role="alert" hidden></div>
<section class="result" aria-live="polite">
  <div class="totals">
    <div class="total">Reclaimable <b data-total="bytes">–</b><span class="muted" data-total="exact"></span></div>
    <div class="total">Manifests deleted <b data-total="manifests">–</b></div>
    <div class="total">Tags removed <b data-total="tags">–</b></div>
    <div class="total">Retained <b data-total="retained">–</b></div>
  </div>
  <div class="warnings"></div>
  <h3>Per repository: reclaimable vs retained</h3>
  <table class="chart"><tbody></tbody></table>
  <h3>Actions and retained items</h3>
  <label>Show items matching <input type="text" name="itemFilter" placeholder="repository, tag, digest, reason…" size="30"></label>
  <label>Sort by <select name="sort"><option value="repository">repository</option><option value="kind">kind</option><option value="reason">reason</option></select></label>
  <button type="button" name="download">Download plan JSON</button>
  <table class="items"><thead><tr><th>Kind</th><th>Repository</th><th>Target</th><th>Tags</th><th>Reason</th></tr></thead><tbody></tbody></table>
  <p class="pager"><button type="button" name="previous">Previous</button> <span class="muted more"></span> <button type="button" name="next">Next</button></p>
</section>
`;

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

/** The bytes each repository's manifests reference (distinct blobs and manifests). */
function repositoryBytes(snapshot) {
  const out = new Map();
  for (const repo of snapshot.repositories ?? []) {
    const seen = new Set();
    let bytes = 0;
    for (const m of repo.manifests ?? []) {
      bytes += m.size ?? 0;
      for (const b of [m.config, ...(m.layers ?? [])]) {
        if (b && !seen.has(b.digest)) { seen.add(b.digest); bytes += b.size ?? 0; }
      }
    }
    out.set(repo.name, bytes);
  }
  return out;
}

export class RegprunePreview extends HTMLElement {
  static observedAttributes = ['src', 'now'];
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
      else if (e.target.name === 'mode') this.#switchMode();
      else if (e.target.name !== 'repository') this.#schedule();
    });
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
    drop.addEventListener('keydown', (e) => { if ((e.key === 'Enter' || e.key === ' ') && e.target === drop) { e.preventDefault(); file.click(); } });
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

  /** The snapshot: an object, JSON text, or list-metadata output (an array). */
  set snapshot(input) {
    try {
      let doc = typeof input === 'string' ? JSON.parse(input) : input;
      if (Array.isArray(doc)) {
        const repository = this.#root.querySelector('input[name=repository]').value || 'repository';
        doc = importSnapshot({ format: 'acrListMetadata', repository, body: doc });
      }
      this.#repoBytes = repositoryBytes(doc);
      const manifests = (doc.repositories ?? []).reduce((n, r) => n + (r.manifests?.length ?? 0), 0);
      text(this.#root.querySelector('.source'), `${manifests} manifests in ${doc.repositories?.length ?? 0} repositories`);
      this.#loaded = false;
      this.#pending();
      this.#planId = ++this.#ids;
      this.#awaitingPlan = true;
      this.#worker.postMessage({ id: this.#planId, kind: 'load', snapshot: typeof input === 'string' && !Array.isArray(doc) ? input : JSON.stringify(doc) });
    } catch (e) {
      this.#error(e.message);
    }
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
      const Class = ERROR_CLASSES[msg.error.code];
      this.#error(Class ? msg.error.message : `unexpected: ${msg.error.message}`);
      if (msg.id === this.#planId) this.#awaitingPlan = false;
      if (msg.id === this.#viewId) this.#awaitingView = false;
    } else if (msg.id === this.#planId && msg.kind === 'load') {
      this.#loaded = true;
      this.#awaitingPlan = false;
      this.#recompute();
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
    if (op.op === 'policy') {
      $('input[value=policy]').checked = true;
      $('textarea[name=policy]').value = JSON.stringify(op.policy, null, 2);
    } else if (op.command) {
      $('input[value=acr]').checked = true;
      $('input[name=command]').value = op.command;
    } else {
      $('input[value=purge]').checked = true;
      $('textarea[name=filter]').value = (op.filter ?? []).join('\n');
      $('input[name=ago]').value = op.ago ?? '';
      $('input[name=keep]').value = String(op.keep ?? 0);
      $('input[name=untagged]').checked = Boolean(op.untagged);
      $('input[name=includeLocked]').checked = Boolean(op.includeLocked);
    }
    this.#switchMode();
  }

  #readFile(file) {
    const repo = this.#root.querySelector('input[name=repository]');
    if (!repo.value) repo.value = file.name.replace(/\.json$/i, '');
    file.text().then((t) => { this.snapshot = t; });
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
        throw new RegpruneError(`the policy is not JSON: ${e.message}`, { code: 'invalid_json', path: 'policy' });
      }
      return { op: 'policy', policy };
    }
    const filter = $('textarea[name=filter]').value.split('\n').map((s) => s.trim()).filter(Boolean);
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
      this.#error(e instanceof RegpruneError ? e.message : `unexpected: ${e.message}`);
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
    this.#root.querySelector('.result').style.opacity = message ? '0.45' : '';
  }

  /** Totals, warnings and the per-repository chart, from the worker's summary. */
  #render(r) {
    const $ = (s) => this.#root.querySelector(s);
    text($('[data-total=bytes]'), humanBytes(r.totalBytes));
    text($('[data-total=exact]'), r.exact ? ' exact' : ' upper bound or unknown (see warnings)');
    $('[data-total=bytes]').dataset.value = String(r.totalBytes);
    text($('[data-total=manifests]'), String(r.manifests));
    text($('[data-total=tags]'), String(r.tags));
    text($('[data-total=retained]'), String(r.retained));
    const warnings = $('.warnings');
    warnings.replaceChildren(...r.warnings.map((w) => {
      const d = text(document.createElement('div'), `${w.message}${w.itemCount ? ` (${w.items.join(', ')}${w.itemCount > w.items.length ? ', …' : ''})` : ''}`);
      d.className = 'warning';
      d.setAttribute('role', 'note');
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
