// The preview widget in real headless Chromium: node bench/widget.mjs RUNS
// Loads the demo page, switches to the generated 10,000-manifest registry, then edits the
// request RUNS times for each of two requests: the worst case (an acrPurge of every tag older
// than N days, with untagged: tens of thousands of actions) and a typical cleanup (untagged
// manifests older than N days). Each edit is timed in the page from the change to the painted
// answer; the worker's planning and the main thread's parse + render are read from the
// element. Prints {"<case>": {"endToEndMs": [...], "workerMs": [...], "renderMs": [...],
// "actions": n}}.
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
      const endToEndMs = [];
      const workerMs = [];
      const renderMs = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        el.operation = operation(i);
        await el.whenSettled();
        // The answer is rendered once the next frame is painted.
        await new Promise((r) => requestAnimationFrame(() => r()));
        endToEndMs.push(performance.now() - t0);
        workerMs.push(Number(el.dataset.millis));
        renderMs.push(Number(el.dataset.renderMillis));
      }
      out[name] = { endToEndMs, workerMs, renderMs, actions: el.plan.actions.length };
    }
    return out;
  }, runs);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  server.close();
}
