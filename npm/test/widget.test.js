// <regprune-preview> in real headless Chromium: load, type, see the totals and the list change,
// the same numbers as Node and Python for the same vector, keyboard only, readable errors, a
// 10,000-manifest registry, and a screenshot saved as a build artifact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { plan } from 'regprune';
import { serve, launchChromium } from './server.js';

const root = new URL('../..', import.meta.url).pathname;
const vector = JSON.parse(readFileSync(`${root}tests/vectors/acr-purge-structured-flags.json`, 'utf8'));
const artifacts = `${root}artifacts`;

function pythonPlan(v) {
  const py = `${root}.venv/bin/python`;
  if (!existsSync(py)) return undefined; // `make test` builds it before these tests run
  const script = 'import json,sys,regprune; v=json.load(sys.stdin); print(regprune.plan(v["snapshot"], v["operation"], now=v["now"]).to_json())';
  return JSON.parse(execFileSync(py, ['-c', script], { input: JSON.stringify(v), encoding: 'utf8' }));
}

test('the widget previews live, like Node and Python, by keyboard, with readable errors', { timeout: 120_000 }, async () => {
  const server = await serve(root);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    await page.goto(`${server.url}/npm/demo/index.html`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30_000 });
    const shadow = (sel) => page.locator('regprune-preview').locator(sel);
    const total = async (name) => (await shadow(`[data-total=${name}]`).textContent()).trim();

    // The same vector in the page, in Node and in Python: the same plan.
    await page.evaluate((v) => {
      const el = document.getElementById('preview');
      el.setAttribute('now', v.now);
      el.operation = v.operation;
      el.snapshot = v.snapshot;
      return el.whenSettled();
    }, vector);
    const inPage = await page.evaluate(() => document.getElementById('preview').plan);
    const inNode = plan(vector.snapshot, vector.operation, { now: vector.now });
    assert.equal(inPage.digest, vector.expected.plan.digest);
    assert.equal(inNode.digest, vector.expected.plan.digest);
    const inPython = pythonPlan(vector);
    assert.ok(inPython, 'the Python package is built');
    assert.equal(inPython.digest, inPage.digest);
    assert.equal(await shadow('[data-total=bytes]').getAttribute('data-value'), String(inPython.reclaim.totalBytes));
    assert.equal(await total('manifests'), String(inPython.reclaim.manifests));

    // Typing a filter recomputes: fewer tags match, the totals and the list change.
    const before = { bytes: await total('bytes'), rows: await shadow('.items tbody tr').count() };
    const filter = shadow('textarea[name=filter]');
    await filter.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('app:t[45]');
    await page.waitForFunction((b) => document.getElementById('preview').shadowRoot.querySelector('[data-total=bytes]').textContent !== b, before.bytes);
    const after = { bytes: await total('bytes'), rows: await shadow('.items tbody tr').count() };
    assert.notDeepEqual(after, before);
    assert.match(await page.evaluate(() => document.getElementById('preview').plan.operation.command), /--filter 'app:t\[45\]'/);

    // A bad filter is a readable error in the page, not an exception.
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('app:v1(');
    const error = shadow('.error');
    await error.waitFor({ state: 'visible' });
    assert.match(await error.textContent(), /Cannot plan this request: .*"v1\(" is not a valid pattern/);
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('app:.*');
    await error.waitFor({ state: 'hidden' });

    // Keyboard only: Tab reaches the request kinds; arrows switch to the acr purge command.
    await page.locator('#seed').focus();
    let reached = false;
    for (let i = 0; i < 12 && !reached; i += 1) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.getElementById('preview').shadowRoot.activeElement?.name === 'mode');
    }
    assert.ok(reached, 'the request kinds are reachable with Tab');
    await page.keyboard.press('ArrowRight');
    await shadow('input[name=command]').waitFor({ state: 'visible' });
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.getElementById('preview').shadowRoot.activeElement?.name), 'command');
    await page.keyboard.press('End');
    await page.keyboard.type(' --keep 1');
    await page.waitForFunction(() => document.getElementById('preview').plan?.operation.command?.includes('--keep 1'));

    // 10,000 manifests: parsed once, re-planned as the user types; the time is reported.
    await page.locator('#large').click();
    await page.waitForFunction(() => /10000 manifests/.test(document.getElementById('preview').shadowRoot.querySelector('.source').textContent));
    await page.evaluate(() => document.getElementById('preview').whenSettled());
    // While the worker plans, the page keeps answering: a burst of edits costs the main
    // thread only the rendering of the last answer.
    const busy = await page.evaluate(async () => {
      const el = document.getElementById('preview');
      const t0 = performance.now();
      for (const ago of ['1d', '2d', '3d', '4d', '5d']) el.operation = { op: 'acrPurge', filter: ['.*:.*'], ago, untagged: true };
      return performance.now() - t0;
    });
    console.log(`# five edits cost the main thread ${busy.toFixed(1)} ms in total`);
    const times = [];
    for (const ago of ['10d', '20d', '30d', '60d', '90d', '120d', '200d']) {
      await page.evaluate((ago) => {
        const el = document.getElementById('preview');
        el.operation = { op: 'acrPurge', filter: ['.*:.*'], ago, untagged: true };
        return el.whenSettled();
      }, ago);
      times.push(Number(await page.evaluate(() => document.getElementById('preview').dataset.millis)));
    }
    times.sort((a, b) => a - b);
    console.log(`# widget re-plan on 10,000 manifests: median ${times[3].toFixed(1)} ms (min ${times[0].toFixed(1)}, max ${times[6].toFixed(1)})`);
    assert.ok(Number(await shadow('[data-total=bytes]').getAttribute('data-value')) > 0);

    // Each edit shows its preview first, then its sealed plan follows.
    const order = await page.evaluate(async () => {
      const el = document.getElementById('preview');
      const seen = [];
      el.addEventListener('preview', (e) => seen.push(`preview:${e.detail.actions}`), { once: true });
      el.addEventListener('plan', (e) => seen.push(`plan:${e.detail.actions.length}`), { once: true });
      el.operation = { op: 'acrPurge', filter: ['.*:.*'], ago: '45d', untagged: true };
      await el.whenSettled();
      return seen;
    });
    assert.equal(order.length, 2);
    assert.match(order[0], /^preview:\d+$/);
    assert.equal(order[1].replace('plan', 'preview'), order[0], 'the preview counts what the plan holds');

    // The items table is filtered and sorted in the worker, 50 rows a page: what the page
    // shows is the plan's rows filtered (ignoring case) and sorted as the page itself would.
    await shadow('input[name=itemFilter]').fill('TEAM1/');
    await shadow('select[name=sort]').selectOption('kind');
    await page.evaluate(() => document.getElementById('preview').whenSettled());
    const table = await page.evaluate(() => {
      const el = document.getElementById('preview');
      const p = el.plan;
      const rows = [
        ...p.actions.map((a) => ({ kind: a.type, repository: a.repository, target: a.tag ? `:${a.tag}` : a.digest ?? `${a.manifests.length} manifests`, tags: a.tags.join(', '), reason: a.reason.message, code: a.reason.code })),
        ...p.retained.map((x) => ({ kind: 'retained', repository: x.repository, target: x.tag ? `:${x.tag}` : x.digest ?? '', tags: (x.tags ?? []).join(', '), reason: x.reason.message, code: x.reason.code })),
      ].filter((r) => Object.values(r).some((v) => v.toLowerCase().includes('team1/')));
      const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
      const byRepository = [...rows].sort((a, b) => cmp(a.repository, b.repository) || cmp(a.target, b.target)).slice(0, 50).map((r) => r.target);
      rows.sort((a, b) => cmp(a.kind, b.kind) || cmp(a.repository, b.repository) || cmp(a.target, b.target));
      const shown = [...el.shadowRoot.querySelectorAll('.items tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent));
      return { shown, expected: rows.map((r) => [r.kind, r.repository, r.target, r.tags, r.reason]), byRepository, total: rows.length, more: el.shadowRoot.querySelector('.more').textContent };
    });
    assert.ok(table.total > 200, `${table.total} rows match`);
    assert.deepEqual(table.shown, table.expected.slice(0, 50));
    assert.equal(table.more, `Items 1–50 of ${table.total}`);
    assert.notDeepEqual(table.expected.slice(0, 50).map((r) => r[2]), table.byRepository, 'sorting by kind changes the page');
    // The next page continues it.
    await shadow('button[name=next]').click();
    await page.evaluate(() => document.getElementById('preview').whenSettled());
    const next = await page.evaluate(() => {
      const root = document.getElementById('preview').shadowRoot;
      return { shown: [...root.querySelectorAll('.items tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent)), more: root.querySelector('.more').textContent };
    });
    assert.deepEqual(next.shown, table.expected.slice(50, 100));
    assert.equal(next.more, `Items 51–100 of ${table.total}`);
    await shadow('input[name=itemFilter]').fill('');
    await shadow('select[name=sort]').selectOption('repository');

    // Download: the plan JSON with its digest.
    const [download] = await Promise.all([page.waitForEvent('download'), shadow('button[name=download]').click()]);
    assert.match(download.suggestedFilename(), /^plan-[0-9a-f]{12}\.json$/);

    mkdirSync(artifacts, { recursive: true });
    await page.locator('#seed').click();
    await page.waitForFunction(() => /^4 manifests/.test(document.getElementById('preview').shadowRoot.querySelector('.source').textContent));
    await page.evaluate(() => {
      const el = document.getElementById('preview');
      el.operation = { op: 'acrPurge', filter: ['acr-helloworld:.*'], ago: '30d', keep: 1, untagged: true };
      return el.whenSettled();
    });
    await page.screenshot({ path: `${artifacts}/widget.png`, fullPage: true });
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
