// The preview widget's worker: the only place the WebAssembly core is loaded (the page never
// imports it), where the snapshot is parsed and kept, and where plans are made, off the page's
// main thread, so typing stays responsive on large registries. For each request it answers
// twice: first the preview (totals, warnings and one page of items: a few kilobytes, however
// large the plan), then the sealed plan's JSON bytes (transferred, not copied), unless a newer
// request came in meanwhile. Pages of items for other filters or orders are answered from the
// plan it keeps.

// The handler is installed before the WebAssembly module loads: messages that arrive while it
// loads wait for it instead of being dropped.
const ready = import('./index.js');
let loaded;
let current;
let latest = 0;

/** What the page shows about a snapshot before any plan: counts, each repository's bytes
 * (distinct blobs and manifests), and what its times can answer. */
function describe(doc) {
  const repoBytes = [];
  let manifests = 0;
  let tagTimes = false;
  for (const repo of doc.repositories ?? []) {
    const seen = new Set();
    let bytes = 0;
    for (const m of repo.manifests ?? []) {
      manifests += 1;
      bytes += m.size ?? 0;
      for (const b of [m.config, ...(m.layers ?? [])]) {
        if (b && !seen.has(b.digest)) { seen.add(b.digest); bytes += b.size ?? 0; }
      }
    }
    tagTimes ||= (repo.tags ?? []).some((t) => t.lastUpdateTime);
    repoBytes.push([repo.name, bytes]);
  }
  return { manifests, repositories: repoBytes.length, repoBytes, tagTimes, api: doc.api ?? null };
}

self.onmessage = async (event) => {
  const { LoadedSnapshot, importSnapshot, ERROR_CLASSES } = await ready;
  const { id, kind } = event.data;
  try {
    if (kind === 'load') {
      // Parsed here, not on the page: a regprune snapshot, or `az acr manifest list-metadata`
      // output (an array) for the repository the page names.
      const input = event.data.snapshot;
      let doc = typeof input === 'string' ? JSON.parse(input) : input;
      if (Array.isArray(doc)) doc = importSnapshot({ format: 'acrListMetadata', repository: event.data.repository || 'repository', body: doc });
      const next = new LoadedSnapshot(typeof input === 'string' && !Array.isArray(doc) ? input : doc);
      loaded?.free();
      current?.free();
      current = undefined;
      loaded = next;
      self.postMessage({ id, kind, ...describe(doc) });
    } else if (kind === 'plan') {
      latest = id;
      const started = performance.now();
      const preview = loaded.preview(event.data.operation, { now: event.data.now });
      const previous = current;
      current = preview;
      const summary = preview.summary();
      const page = preview.items(event.data.query);
      self.postMessage({ id, kind: 'preview', summary, page, millis: performance.now() - started });
      // The previous plan is freed once the preview is on its way.
      previous?.free();
      setTimeout(() => {
        if (latest !== id || current !== preview) return;
        const sealing = performance.now();
        const bytes = preview.sealedJson();
        self.postMessage({ id, kind: 'plan', bytes, millis: performance.now() - sealing }, [bytes.buffer]);
      }, 0);
    } else if (kind === 'items') {
      self.postMessage({ id, kind, page: current?.items(event.data.query) });
    }
  } catch (e) {
    const known = Boolean(e?.code && ERROR_CLASSES[e.code]) || e instanceof SyntaxError;
    self.postMessage({ id, kind: 'error', error: { message: e.message, code: e.code, known } });
  }
};
