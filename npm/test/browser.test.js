// The same package, loaded from a static server into real headless Chromium, gives the same
// plans as in Node, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as regprune from 'regprune';
import { serve, launchChromium } from './server.js';

const root = new URL('../..', import.meta.url).pathname; // the repository: npm/ and examples/
const vectors = new URL('../../tests/vectors/', import.meta.url).pathname;

test('the package loads in Chromium without a bundler and plans like Node', { timeout: 120_000 }, async () => {
  const server = await serve(root);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/npm/test/fixtures/browser.html`);
    await page.waitForFunction(() => document.title === 'ready', null, { timeout: 30_000 });
    const files = readdirSync(vectors).filter((f) => f.endsWith('.json')).sort();
    let compared = 0;
    for (const file of files) {
      const v = JSON.parse(readFileSync(vectors + file, 'utf8'));
      if (!v.expected.plan) continue;
      const inBrowser = await page.evaluate((v) => {
        const snapshot = v.import ? window.regprune.importSnapshot(v.import) : v.snapshot;
        return window.regprune.planJson(snapshot, v.operation, { now: v.now, pinned: v.pinned ?? [] });
      }, v);
      assert.equal(inBrowser, JSON.stringify(v.expected.plan), file);
      compared += 1;
    }
    assert.ok(compared > 40, `${compared} vectors compared`);
    const error = await page.evaluate(() => {
      try {
        window.regprune.plan('{"repositories": []}', { op: 'deleteImage', image: 'x' });
        return null;
      } catch (e) {
        return { isError: e instanceof Error, isRegprune: e instanceof window.regprune.RegpruneError, code: e.code, name: e.name };
      }
    });
    assert.deepEqual(error, { isError: true, isRegprune: true, code: 'invalid_reference', name: 'InvalidReferenceError' });
    assert.equal(regprune.VERSION, await page.evaluate(() => window.regprune.VERSION));
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
