// Browser test of the coordinator's preview map (run by tests/integration/test_browser.sh):
//   node preview_test.cjs BASE_URL TILESET SCREENSHOT.png
// Debian's headless Chromium, driven by playwright-core (from <build>/tests/browser, the
// directory in TQ_BROWSER_MODULES), opens BASE_URL/, follows the link to the tileset's map,
// waits until MapLibre has loaded every tile, checks that features were drawn
// (queryRenderedFeatures) at the TileJSON's center and around Paris, that no tile request
// failed, that clicking a feature shows its attributes, and saves a screenshot.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const modules = process.env.TQ_BROWSER_MODULES;
const { chromium } = require(require.resolve('playwright-core', { paths: [modules] }));
const [base, tileset, shot] = process.argv.slice(2);
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
  let context;
  const tileRequests = [];
  const badTiles = [];
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
    const isTile = (url) => /\/\d+\/\d+\/\d+\.(mvt|pbf)(\?|$)/.test(url);
    page.on('requestfailed', (r) => {
      if (isTile(r.url())) badTiles.push(`${r.url()}: ${r.failure() && r.failure().errorText}`);
      else if (!r.url().startsWith(base)) fail(`request outside tileq: ${r.url()}`);
    });
    page.on('response', (r) => {
      if (isTile(r.url())) {
        tileRequests.push(r.url());
        if (r.status() !== 200 && r.status() !== 204) badTiles.push(`${r.url()}: HTTP ${r.status()}`);
      }
    });

    // The index lists the tileset; its link opens the map.
    const index = await page.goto(base + '/', { timeout: TIMEOUT });
    if (index.status() !== 200) fail(`GET / answered ${index.status()}`);
    const link = page.locator(`a.tileset[href="map/${tileset}"]`);
    if ((await link.count()) !== 1) throw new Error(`/ has no link to map/${tileset}`);
    await Promise.all([page.waitForURL(`**/map/${tileset}`, { timeout: TIMEOUT }), link.click()]);
    ok(`/ links to the ${tileset} map`);

    await waitIdle(page, 'initial view');
    let c = await counts(page);
    const n0 = Object.values(c).reduce((a, b) => a + b, 0);
    n0 > 0 ? ok(`initial view (TileJSON center): ${n0} features drawn ${JSON.stringify(c)}`)
           : fail('initial view: no feature drawn');

    // Around Paris, where the demo data is dense: every layer drawn.
    await page.evaluate(() => {
      window.tq.ready = false; // set again by the next 'idle'
      window.tq.map.jumpTo({ center: [2.35, 48.85], zoom: 11 });
    });
    await waitIdle(page, 'Paris z11');
    c = await counts(page);
    for (const layer of ['areas', 'roads', 'places']) {
      (c[layer] || 0) > 0 ? ok(`Paris z11: layer ${layer}: ${c[layer]} features drawn`)
                          : fail(`Paris z11: layer ${layer}: nothing drawn`);
    }

    // A click on a place shows its attributes.
    const pt = await page.evaluate(() => {
      const m = window.tq.map;
      const r = m.getCanvas().getBoundingClientRect();
      // away from the panel (top left) and the controls (top right)
      for (const f of m.queryRenderedFeatures({ layers: ['places-circle'] })) {
        if (f.geometry.type !== 'Point') continue;
        const p = m.project(f.geometry.coordinates);
        if (p.x > 300 && p.x < r.width - 80 && p.y > 200 && p.y < r.height - 20)
          return { x: r.left + p.x, y: r.top + p.y };
      }
      return null;
    });
    if (pt) {
      await page.mouse.click(pt.x, pt.y);
      const info = await page.locator('#info').innerText();
      /name/.test(info) && /kind/.test(info) ? ok(`click shows attributes: ${info.replace(/\s+/g, ' ').slice(0, 120)}`)
                                             : fail(`click on a place: no attributes shown ("${info}")`);
    } else {
      fail('no place feature to click');
    }

    tileRequests.length > 0 ? ok(`${tileRequests.length} tile requests`) : fail('no tile was requested');
    badTiles.length === 0 ? ok('no tile request failed')
                          : fail(`${badTiles.length} tile requests failed: ${badTiles.slice(0, 5).join('; ')}`);
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
