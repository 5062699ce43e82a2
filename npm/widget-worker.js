// The preview widget's worker: keeps the parsed snapshot in WebAssembly memory and plans off
// the page's main thread, so typing stays responsive on large registries.

// The handler is installed before the WebAssembly module loads: messages that arrive while it
// loads wait for it instead of being dropped.
const ready = import('./index.js');
let loaded;

self.onmessage = async (event) => {
  const { LoadedSnapshot } = await ready;
  const { id, kind } = event.data;
  try {
    if (kind === 'load') {
      const next = new LoadedSnapshot(event.data.snapshot);
      loaded?.free();
      loaded = next;
      self.postMessage({ id, manifests: loaded.manifestCount });
    } else if (kind === 'plan') {
      const started = performance.now();
      const json = loaded.planJson(event.data.operation, { now: event.data.now });
      self.postMessage({ id, json, millis: performance.now() - started });
    }
  } catch (e) {
    self.postMessage({ id, error: { message: e.message, code: e.code } });
  }
};
