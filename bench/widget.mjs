// The preview widget in real headless Chromium: node bench/widget.mjs RUNS
// Loads the demo page, switches to the generated 10,000-manifest registry, then edits the
// request RUNS times; each edit is timed in the page from the change to the rendered answer
// (worker planning, transfer, parse, render), and the worker's own planning time is read
// from the element. Prints {"endToEndMs": [...], "workerMs": [...], "actions": n}.
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
    const endToEndMs = [];
    const workerMs = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      el.operation = { op: 'acrPurge', filter: ['.*:.*'], ago: `${10 + 10 * i}d`, untagged: true };
      await el.whenSettled();
      // The answer is rendered once the next frame is painted.
      await new Promise((r) => requestAnimationFrame(() => r()));
      endToEndMs.push(performance.now() - t0);
      workerMs.push(Number(el.dataset.millis));
    }
    return { endToEndMs, workerMs, actions: el.plan.actions.length };
  }, runs);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  server.close();
}
