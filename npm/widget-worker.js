// The preview widget's worker: keeps the parsed snapshot in WebAssembly memory and plans off
// the page's main thread, so typing stays responsive on large registries. For each request it
// answers twice: first the preview (totals, warnings and one page of items: a few kilobytes,
// however large the plan), then the sealed plan's JSON bytes (transferred, not copied), unless
// a newer request came in meanwhile. Pages of items for other filters or orders are answered
// from the plan it keeps.

// The handler is installed before the WebAssembly module loads: messages that arrive while it
// loads wait for it instead of being dropped.
const ready = import('./index.js');
let loaded;
let current;
let latest = 0;

self.onmessage = async (event) => {
  const { LoadedSnapshot } = await ready;
  const { id, kind } = event.data;
  try {
    if (kind === 'load') {
      const next = new LoadedSnapshot(event.data.snapshot);
      loaded?.free();
      current?.free();
      current = undefined;
      loaded = next;
      self.postMessage({ id, kind, manifests: loaded.manifestCount });
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
    self.postMessage({ id, kind: 'error', error: { message: e.message, code: e.code } });
  }
};
