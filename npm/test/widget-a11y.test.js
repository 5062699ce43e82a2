// <regprune-preview> as people meet it, in real headless Chromium: the WebAssembly core fetched
// once (by the worker), the request chosen from what the snapshot can answer, why bytes are not
// exact, warnings grouped, the structured policy editor, a dark scheme, and axe-core finding no
// accessibility violation in any state (empty, loaded, policy rows, an error, dark). The
// screenshots of each state go to artifacts/widget/ (docs/ holds copies).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { serve, launchChromium } from './server.js';

const root = new URL('../..', import.meta.url).pathname;
const out = `${root}artifacts/widget`;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const NOW = '2026-11-27T00:00:00Z';

test('the widget: one .wasm fetch, the request the snapshot can answer, grouped warnings, policy rows, no axe violations', { timeout: 180_000 }, async () => {
  const fetched = [];
  const server = await serve(root, 0, (path) => fetched.push(path));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${server.url}/npm/test/fixtures/widget.html`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    await page.addScriptTag({ content: axeSource });
    const shadow = (sel) => page.locator('regprune-preview').locator(sel);
    const settle = () => page.evaluate(() => document.getElementById('preview').whenSettled());
    const axe = async (state) => {
      const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
        .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`));
      assert.deepEqual(violations, [], `axe in the ${state} state`);
    };
    mkdirSync(out, { recursive: true });
    const shot = (name) => page.screenshot({ path: `${out}/${name}.png`, fullPage: true });

    await axe('empty');
    await shot('empty');

    // An ACR snapshot (tag times): acr purge is the first request shown.
    const example = JSON.parse(readFileSync(`${root}examples/registry.json`, 'utf8'));
    await page.evaluate(([snap, now]) => {
      const el = document.getElementById('preview');
      el.setAttribute('now', now);
      el.snapshot = snap;
      return el.whenSettled();
    }, [JSON.stringify(example), NOW]);
    assert.equal(await shadow('input[name=mode]:checked').getAttribute('value'), 'acr');
    assert.match(await shadow('.status').textContent(), /^\d+ action\(s\), .* reclaimable/);
    await axe('loaded');
    await shot('loaded');
    // The page never loads the core; the worker does, once.
    assert.deepEqual(fetched.filter((p) => p.endsWith('.wasm')), ['/npm/wasm/regprune_bg.wasm']);
    assert.ok(!fetched.includes('/npm/index.js') || fetched.indexOf('/npm/widget-worker.js') < fetched.indexOf('/npm/index.js'), 'index.js only after the worker');

    // A snapshot without tag times (an OCI crawl): purge, which compares manifest times.
    const oci = structuredClone(example);
    for (const r of oci.repositories) for (const t of r.tags) { delete t.lastUpdateTime; delete t.createdTime; }
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    await page.addScriptTag({ content: axeSource });
    await page.evaluate(([snap, now]) => {
      const el = document.getElementById('preview');
      el.setAttribute('now', now);
      el.snapshot = snap;
      return el.whenSettled();
    }, [JSON.stringify(oci), NOW]);
    assert.equal(await shadow('input[name=mode]:checked').getAttribute('value'), 'purge');
    assert.match(await shadow('.source').textContent(), /no tag times/);
    const purged = await page.evaluate(() => document.getElementById('preview').plan);
    assert.equal(purged.operation.op, 'purge');
    assert.ok(purged.actions.length > 0, 'purge finds old manifests on a snapshot without tag times');

    // acr purge on it cannot be evaluated: said once, grouped, and the bytes say why not exact.
    await shadow('input[name=mode][value=acr]').check();
    await settle();
    const acr = await page.evaluate(() => document.getElementById('preview').plan);
    const boxes = await shadow('.warning').count();
    assert.equal(boxes, acr.warnings.length, 'one box per warning');
    assert.equal(new Set(acr.warnings.map((w) => `${w.code} ${w.message}`)).size, acr.warnings.length);
    assert.equal(await shadow('.warning[data-code=requestNotEvaluated]').count(), 1);
    assert.match(await shadow('[data-total=exact]').textContent(), /not exact/);
    assert.match(await shadow('.inexact').textContent(), /could not be evaluated/);

    // The policy editor: rules as rows, each field named; an edit re-plans; JSON as an alternative.
    await shadow('input[name=mode][value=policy]').check();
    await settle();
    assert.ok(await shadow('.rules tbody tr').count() >= 1);
    const older = shadow('.rules tbody tr').first().locator('[data-field=olderThan]');
    await older.fill('1d');
    await page.waitForFunction(() => document.getElementById('preview').plan?.operation.policy?.rules?.[0]?.olderThan === '1d');
    await shadow('button[name=addRule]').click();
    await settle();
    assert.equal((await page.evaluate(() => document.getElementById('preview').plan.operation.policy.rules.length)), await shadow('.rules tbody tr').count());
    await axe('policy rows');
    await shot('policy');
    await shadow('button[name=asJson]').click();
    await shadow('textarea[name=policy]').waitFor({ state: 'visible' });
    assert.match(await shadow('textarea[name=policy]').inputValue(), /"olderThan": "1d"/);
    await shadow('button[name=asRows]').click();

    // An error: readable, announced, and the page stays accessible.
    await shadow('input[name=mode][value=acr]').check();
    await shadow('input[name=command]').fill("acr purge --filter '.*:v1(' --ago 1d");
    await shadow('.error').waitFor({ state: 'visible' });
    assert.equal(await shadow('.error').getAttribute('role'), 'alert');
    await axe('error');
    await shot('error');

    // Dark: the custom properties switch; still no violation (contrast included).
    await shadow('input[name=command]').fill("acr purge --filter '.*:.*' --ago 1d --untagged");
    await shadow('.error').waitFor({ state: 'hidden' });
    await page.evaluate(() => document.getElementById('preview').setAttribute('theme', 'dark'));
    const bg = await page.evaluate(() => getComputedStyle(document.getElementById('preview')).backgroundColor);
    assert.equal(bg, 'rgb(13, 17, 23)');
    await page.evaluate(() => { document.body.style.background = '#0d1117'; document.body.style.color = '#e6edf3'; });
    await axe('dark');
    await shot('dark');

    assert.equal(fetched.filter((p) => p.endsWith('.wasm')).length, 2, 'one fetch for each of the two page loads');
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
