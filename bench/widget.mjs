// The preview widget in real headless Chromium: node bench/widget.mjs RUNS
// Loads the demo page, switches to the generated 10,000-manifest registry, then edits the
// request RUNS times for each of two requests: the worst case (an acrPurge of every tag older
// than N days, with untagged: tens of thousands of actions) and a typical cleanup (untagged
// manifests older than N days). Each edit is timed in the page from the change to the frame
// that shows its preview, and to the arrival of its sealed plan; the worker's preview and seal
// and the main thread's render are read from the element. Prints {"<case>": {"endToEndMs":
// [...], "sealedMs": [...], "workerMs": [...], "sealMs": [...], "renderMs": [...], "actions": n}}.
import { serve, launchChromium } from '../npm/test/server.js';

const runs = Number(process.argv[2] ?? 15);
const root = new URL('..', import.meta.url).pathname;
const server = await serve(root);
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/npm/demo/index.html`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 60_000 });
  await page.locator('#large').click();
  await page.waitForFunction(() => /10000 manifests/.test(document.getElementById('preview').shadowRoot.querySelector('.source').textContent), null, { timeout: 60_000 });
  const result = await page.evaluate(async (runs) => {
    const el = document.getElementById('preview');
    await el.whenSettled();
    const cases = {
      worst: (i) => ({ op: 'acrPurge', filter: ['.*:.*'], ago: `${10 + 10 * i}d`, untagged: true }),
      typical: (i) => ({ op: 'acrPurge', filter: ['.*:^$'], ago: `${30 + 10 * i}d`, untagged: true }),
    };
    const out = {};
    for (const [name, operation] of Object.entries(cases)) {
      const [endToEndMs, sealedMs, workerMs, sealMs, renderMs] = [[], [], [], [], []];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const shown = new Promise((r) => el.addEventListener('preview', r, { once: true }));
        el.operation = operation(i);
        await shown;
        // The preview is rendered once the next frame is painted.
        await new Promise((r) => requestAnimationFrame(() => r()));
        endToEndMs.push(performance.now() - t0);
        await el.whenSettled();
        sealedMs.push(performance.now() - t0);
        workerMs.push(Number(el.dataset.millis));
        sealMs.push(Number(el.dataset.sealMillis));
        renderMs.push(Number(el.dataset.renderMillis));
      }
      out[name] = { endToEndMs, sealedMs, workerMs, sealMs, renderMs, actions: el.plan.actions.length };
    }
    return out;
  }, runs);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  server.close();
}
