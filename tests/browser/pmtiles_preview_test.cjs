// Browser test of the preview page showing a PMTiles archive with no tileq server in the path
// (run by tests/integration/test_export_browser.sh):
//   node pmtiles_preview_test.cjs PAGE_URL SCREENSHOT.png
// PAGE_URL is the preview page served by a static server (nginx), ending in
// ?pmtiles=ARCHIVE_URL. Headless Chromium (playwright-core from $TQ_BROWSER_MODULES) opens it,
// waits until MapLibre has loaded every tile through the pmtiles protocol, checks that every
// demo layer drew features around Lisbon and Paris, that the archive was read with range
// requests (206) and that no request failed, and saves a screenshot.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const modules = process.env.TQ_BROWSER_MODULES;
const { chromium } = require(require.resolve('playwright-core', { paths: [modules] }));
const [pageUrl, shot] = process.argv.slice(2);
const TIMEOUT = 120000;
const failures = [];
const fail = (m) => { failures.push(m); console.log('FAIL: ' + m); };
const ok = (m) => console.log('ok: ' + m);

async function waitIdle(page, what) {
  await page.waitForFunction(() => {
    const tq = window.tq;
    if (tq && tq.error) return true;
    return tq && tq.map && tq.ready && tq.map.loaded() && tq.map.areTilesLoaded();
  }, null, { timeout: TIMEOUT, polling: 200 });
  const err = await page.evaluate(() => window.tq.error);
  if (err) fail(`${what}: the page reports an error: ${err}`);
}

async function counts(page) {
  return page.evaluate(() => {
    const byLayer = {};
    for (const f of window.tq.map.queryRenderedFeatures()) {
      if (f.source === 'tq') byLayer[f.sourceLayer] = (byLayer[f.sourceLayer] || 0) + 1;
    }
    return byLayer;
  });
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-chromium-'));
  const origin = new URL(pageUrl).origin;
  let context;
  const ranges = [];
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.TQ_CHROMIUM || '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1024, height: 768 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync',
             '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
    });
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (m) => console.log(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => fail('page error: ' + e.message));
    page.on('requestfailed', (r) => fail(`request failed: ${r.url()}: ${r.failure() && r.failure().errorText}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) fail(`request outside the static server: ${r.url()}`);
    });
    page.on('response', (r) => {
      if (/\.pmtiles(\?|$)/.test(r.url())) ranges.push([r.status(), r.request().headers().range || '']);
      else if (r.status() >= 400 && !/favicon/.test(r.url())) fail(`${r.url()}: HTTP ${r.status()}`);
    });

    const res = await page.goto(pageUrl, { timeout: TIMEOUT });
    if (res.status() !== 200) fail(`GET ${pageUrl} answered ${res.status()}`);
    await waitIdle(page, 'initial view');
    const src = await page.evaluate(() => window.tq.pmtiles || null);
    src ? ok(`the page reads ${src}`) : fail('the page did not take the pmtiles parameter');
    let c = await counts(page);
    const n0 = Object.values(c).reduce((a, b) => a + b, 0);
    n0 > 0 ? ok(`initial view (the archive's center): ${n0} features drawn ${JSON.stringify(c)}`)
           : fail('initial view: no feature drawn');

    for (const [name, center, zoom] of [['Lisbon z8', [-9.14, 38.72], 8], ['Paris z8', [2.35, 48.85], 8]]) {
      await page.evaluate(([ce, z]) => {
        window.tq.ready = false;
        window.tq.map.jumpTo({ center: ce, zoom: z });
      }, [center, zoom]);
      await waitIdle(page, name);
      c = await counts(page);
      for (const layer of ['areas', 'roads', 'places']) {
        (c[layer] || 0) > 0 ? ok(`${name}: layer ${layer}: ${c[layer]} features drawn`)
                            : fail(`${name}: layer ${layer}: nothing drawn`);
      }
    }
    // Every read of a byte range got 206 (the reader may also make one plain request first).
    const asked = ranges.filter(([, range]) => range);
    asked.length > 1 && asked.every(([s]) => s === 206)
      ? ok(`the archive was read with ${asked.length} range requests, each answered 206` +
           ` (${ranges.length - asked.length} without a range)`)
      : fail(`archive responses: ${JSON.stringify(ranges)} (expected 206 for each range)`);
    await page.screenshot({ path: shot });
    ok(`screenshot: ${shot}`);
  } catch (e) {
    fail(String(e && e.stack || e));
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
  if (failures.length) {
    console.log(`${failures.length} check(s) failed`);
    process.exit(1);
  }
  console.log('all checks passed');
})();
