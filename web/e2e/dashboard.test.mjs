// Browser test of the tickcast dashboard: the real program, a real
// browser (Debian's chromium driven by playwright-core, no browser
// download), the real network. Over 400 lines on purpose: the checks share
// one browser and one server, and each needs the page state the previous
// one left.
//
//   cd web/e2e && npm install && TICKCAST_BIN=/path/to/tickcast node dashboard.test.mjs
//
// Without TICKCAST_BIN the test builds ./cmd/tickcast with `go build`.
// CHROMIUM overrides the browser path (default /usr/bin/chromium).
// Screenshots go to web/e2e/out/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const outDir = path.join(here, 'out');

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

let bin;
let work; // temp dir: data, browser profile, maybe the binary
let server; // {proc, url, port, out}
let context;
let page;
const consoleErrors = [];
const tolerated = []; // network errors while the server is down on purpose
let serverDown = false;
const streamRequests = []; // {url, lastEventIdHeader}

// ------------------------------------------------------------ server

// startServer runs `tickcast serve` and resolves once it has printed its
// URL and /healthz answers 200.
async function startServer(addr) {
  const proc = spawn(bin, ['serve', '--addr', addr, '--data', path.join(work, 'data')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const s = { proc, out: '', url: '', port: 0, exited: null };
  proc.stdout.on('data', (b) => { s.out += b; });
  proc.stderr.on('data', (b) => { s.out += b; });
  s.exited = new Promise((ok) => proc.on('exit', (code, sig) => ok({ code, sig })));
  let stdout = '';
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no URL on stdout within 30s:\n${s.out}`)), 30000);
    proc.stdout.on('data', (b) => {
      stdout += b;
      const m = stdout.match(/http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        ok(m[0]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`tickcast exited (${code}) before printing its URL:\n${s.out}`));
    });
  });
  s.url = url + '/';
  s.port = Number(new URL(url).port);
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(new URL('healthz', s.url));
      if (r.ok) break;
    } catch { /* not yet */ }
    if (i > 150) throw new Error(`/healthz not 200 within 15s:\n${s.out}`);
    await sleep(100);
  }
  return s;
}

async function stopServer(s) {
  s.proc.kill('SIGTERM');
  const res = await Promise.race([s.exited, sleep(20000).then(() => null)]);
  if (!res) {
    s.proc.kill('SIGKILL');
    throw new Error(`tickcast did not exit within 20s of SIGTERM:\n${s.out.slice(-4000)}`);
  }
  return res;
}

// ------------------------------------------------------------ page helpers

// prices returns {symbol: price text} for every watchlist row.
const prices = () => page.$$eval('tr[data-symbol]', (rows) => Object.fromEntries(
  rows.map((r) => [r.dataset.symbol, r.querySelector('[data-field="price"]').textContent.trim()])));

// expectPricesChange waits until at least `want` rows show a price other
// than in `before`.
async function expectPricesChange(beforeP, want, timeout) {
  await page.waitForFunction(([b, want]) => {
    let n = 0;
    for (const r of document.querySelectorAll('tr[data-symbol]')) {
      const t = r.querySelector('[data-field="price"]').textContent.trim();
      if (t && b[r.dataset.symbol] !== undefined && t !== b[r.dataset.symbol]) n++;
    }
    return n >= want;
  }, [beforeP, want], { timeout, polling: 100 });
}

const gapCount = () => page.$eval('#gaps', (el) => Number(el.dataset.count));
const connText = () => page.$eval('#conn-state', (el) => el.textContent.trim());

// candlePixels counts chart pixels in the theme's up and down colours.
const candlePixels = () => page.$eval('#chart', (cv) => {
  const cs = getComputedStyle(document.documentElement);
  const rgb = (v) => {
    const h = cs.getPropertyValue(v).trim().replace('#', '');
    return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
  };
  const cols = [rgb('--up'), rgb('--down')];
  const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
  let n = 0;
  for (let i = 0; i < px.length; i += 4) {
    for (const c of cols) {
      if (Math.abs(px[i] - c[0]) + Math.abs(px[i + 1] - c[1]) + Math.abs(px[i + 2] - c[2]) < 24) { n++; break; }
    }
  }
  return n;
});

// ------------------------------------------------------------ setup

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tickcast-e2e-'));
  await mkdir(outDir, { recursive: true });
  bin = process.env.TICKCAST_BIN;
  if (!bin) {
    bin = path.join(work, 'tickcast');
    execFileSync('go', ['build', '-o', bin, './cmd/tickcast'], { cwd: repo, stdio: 'inherit' });
  }
  server = await startServer('127.0.0.1:0');

  context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1366, height: 860 },
  });
  page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (serverDown && /net::ERR_|Failed to load resource/.test(text)) tolerated.push(text);
    else consoleErrors.push(text);
  });
  page.on('pageerror', (e) => consoleErrors.push('page error: ' + e.message));
  page.on('request', (r) => {
    if (r.url().includes('/v1/stream')) {
      // allHeaders: what went on the wire, Last-Event-ID included.
      const entry = { url: r.url(), lastEventIdHeader: '' };
      streamRequests.push(entry);
      r.allHeaders().then((h) => { entry.lastEventIdHeader = h['last-event-id'] || ''; }, () => {});
    }
  });
}, { timeout: 180000 });

after(async () => {
  if (context) await context.close().catch(() => {});
  if (server && server.proc.exitCode === null) await stopServer(server).catch(() => {});
  if (work) await rm(work, { recursive: true, force: true }).catch(() => {});
});

// ------------------------------------------------------------ tests

test('the page loads and at least ten prices render and change within five seconds', async () => {
  const symbols = await (await fetch(new URL('v1/symbols', server.url))).json();
  assert.ok(symbols.length >= 10, `want >= 10 symbols from /v1/symbols, got ${symbols.length}`);

  const res = await page.goto(server.url);
  assert.equal(res.status(), 200);
  assert.match(res.headers()['cache-control'] || '', /no-cache/);

  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('tr[data-symbol] [data-field="price"]')];
    return cells.filter((c) => c.textContent.trim() !== '').length >= 10;
  }, null, { timeout: 5000, polling: 50 });
  const first = await prices();
  await expectPricesChange(first, 10, 5000);

  assert.match(await connText(), /live/);
  assert.equal(await page.locator('tr[data-symbol]').count(), symbols.length, 'one row per symbol');

  // Fixed decimals per tick size, tabular figures.
  const dec = (ts) => { const s = String(ts); return s.includes('.') ? s.split('.')[1].length : 0; };
  const now = await prices();
  for (const s of symbols) {
    const p = now[s.symbol];
    if (!p) continue;
    const want = dec(s.tickSize);
    const got = p.includes('.') ? p.split('.')[1].length : 0;
    assert.equal(got, want, `${s.symbol} price ${p}: want ${want} decimals for tick size ${s.tickSize}`);
  }
  const fv = await page.$eval('[data-field="price"]', (el) => getComputedStyle(el).fontVariantNumeric);
  assert.match(fv, /tabular-nums/);

  // The stats fill in within a couple of seconds.
  await page.waitForFunction(() => /\d/.test(document.querySelector('#rate').textContent)
    && /\d/.test(document.querySelector('#latency').textContent), null, { timeout: 4000 });
  assert.equal(await gapCount(), 0, 'no gaps');
});

test('selecting a symbol draws its candles with volume', async () => {
  const sym = await page.$eval('tbody tr[data-symbol]:nth-child(3)', (r) => r.dataset.symbol);
  await page.click(`tr[data-symbol="${sym}"] [data-field="price"]`);
  assert.equal(await page.getAttribute(`tr[data-symbol="${sym}"]`, 'aria-selected'), 'true');
  assert.equal(await page.locator('tr[aria-selected="true"]').count(), 1, 'exactly one selected row');
  await page.waitForFunction((s) => document.querySelector('#chart').dataset.symbol === s, sym, { timeout: 2000 });
  assert.equal(await page.textContent('#chart-symbol'), sym);

  await page.waitForFunction(() => Number(document.querySelector('#chart').dataset.candles) >= 3, null, { timeout: 8000 });
  const px = await candlePixels();
  assert.ok(px >= 50, `want candle-coloured pixels on #chart, got ${px}`);

  // 5 s candles too, then back to 1 s.
  await page.click('.seg-btn[data-res="5000"]');
  await page.waitForFunction(() => Number(document.querySelector('#chart').dataset.candles) >= 1, null, { timeout: 3000 });
  assert.ok(await candlePixels() >= 10, '5s candles drawn');
  await page.click('.seg-btn[data-res="1000"]');
});

test('sorting and filtering the watchlist', async () => {
  // Sort by last price, highest first.
  await page.click('th[data-sort="price"] button');
  await page.waitForFunction(() => document.querySelector('th[data-sort="price"]').getAttribute('aria-sort') === 'descending');
  const num = (s) => Number(s.replace(/,/g, ''));
  const order = await page.$$eval('tbody tr[data-symbol] [data-field="price"]', (c) => c.map((x) => x.textContent));
  const vals = order.map(num);
  let inversions = 0;
  for (let i = 1; i < vals.length; i++) if (vals[i] > vals[i - 1] * 1.01) inversions++;
  assert.equal(inversions, 0, `rows sorted by price, highest first: ${order.join(' ')}`);
  // Third click: back to the feed's order.
  await page.click('th[data-sort="price"] button');
  await page.click('th[data-sort="price"] button');
  assert.equal(await page.getAttribute('th[data-sort="price"]', 'aria-sort'), 'none');

  const sym = await page.$eval('tbody tr[data-symbol]', (r) => r.dataset.symbol);
  await page.fill('#filter', sym.toLowerCase());
  const visible = await page.$$eval('tr[data-symbol]', (rows) => rows.filter((r) => !r.hidden).map((r) => r.dataset.symbol));
  assert.ok(visible.includes(sym) && visible.length < 10, `filter "${sym}" leaves ${visible.join(',')}`);
  await page.fill('#filter', '');
  assert.equal(await page.locator('tr[data-symbol]:not([hidden])').count(), await page.locator('tr[data-symbol]').count());
});

test('the stream follows the symbol selection', async () => {
  const universe = (await (await fetch(new URL('v1/symbols', server.url))).json()).map((s) => s.symbol);
  const rows = () => page.locator('tr[data-symbol]').count();
  await page.click('#picker summary');
  await page.click('[data-pick="none"]');
  await page.waitForFunction(() => document.querySelectorAll('tr[data-symbol]').length === 0, null, { timeout: 3000 });
  await page.waitForFunction(() => /idle/.test(document.querySelector('#conn-state').textContent), null, { timeout: 3000 });

  const pick = universe.slice(0, 3);
  let n = streamRequests.length;
  for (const s of pick) await page.check(`#picker-list input[value="${s}"]`);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-symbol] [data-field="price"]:not(:empty)').length === 3
    && /live/.test(document.querySelector('#conn-state').textContent), null, { timeout: 5000 });
  assert.equal(await rows(), 3);
  let u = new URL(streamRequests[streamRequests.length - 1].url);
  assert.ok(streamRequests.length > n, 'a new stream request');
  assert.equal(u.searchParams.get('symbols'), pick.join(','), `symbols= in ${u}`);

  // One more: the stream switches, resuming from the last id.
  n = streamRequests.length;
  await page.check(`#picker-list input[value="${universe[3]}"]`);
  await page.waitForFunction((s) => {
    const c = document.querySelector(`tr[data-symbol="${s}"] [data-field="price"]`);
    return c && c.textContent.trim() !== '';
  }, universe[3], { timeout: 5000 });
  for (let i = 0; i < 40 && streamRequests.length === n; i++) await sleep(50);
  u = new URL(streamRequests[streamRequests.length - 1].url);
  assert.equal(u.searchParams.get('symbols'), universe.slice(0, 4).join(','), `symbols= in ${u}`);
  assert.match(u.searchParams.get('lastEventId') || '', /-\d+$/, `lastEventId= in ${u}`);
  const b = await prices();
  await expectPricesChange(b, 4, 4000);
  assert.equal(await gapCount(), 0, 'no gaps across symbol switches');

  await page.click('[data-pick="all"]');
  await page.waitForFunction((n) => document.querySelectorAll('tr[data-symbol] [data-field="price"]:not(:empty)').length === n,
    universe.length, { timeout: 5000 });
  u = new URL(streamRequests[streamRequests.length - 1].url);
  assert.equal(u.searchParams.get('symbols'), null, `all symbols: no symbols= in ${u}`);
  await page.click('#picker summary');
  assert.equal(await page.getAttribute('#picker', 'open'), null, 'picker closed');
  assert.equal(await gapCount(), 0);
});

test('stopping and restarting the server shows reconnecting, then resumed, with no gap', async () => {
  await page.evaluate(() => {
    const el = document.querySelector('#conn-state');
    window.__states = [];
    const rec = () => {
      const t = el.textContent.trim();
      if (window.__states[window.__states.length - 1] !== t) window.__states.push(t);
    };
    rec();
    new MutationObserver(rec).observe(el, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  const port = server.port;
  serverDown = true;
  const exit = await stopServer(server);
  assert.equal(exit.code, 0, `tickcast exit status after SIGTERM: ${JSON.stringify(exit)}\n${server.out.slice(-2000)}`);
  await page.waitForFunction(() => window.__states.some((s) => /reconnecting/.test(s)), null, { timeout: 10000 });
  await sleep(1500); // really down for a while

  const before = await prices();
  server = await startServer(`127.0.0.1:${port}`);
  await page.waitForFunction(() => {
    const i = window.__states.findIndex((s) => /reconnecting/.test(s));
    return i >= 0 && window.__states.slice(i + 1).some((s) => /resumed/.test(s));
  }, null, { timeout: 20000 });
  serverDown = false;
  const states = await page.evaluate(() => window.__states);
  assert.ok(!states.some((s) => /reset/.test(s)), `no reset on a restart with the same data dir: ${states.join(' → ')}`);

  await expectPricesChange(before, 10, 5000);
  await page.waitForFunction(() => /caught up|nothing missed|^live/.test(document.querySelector('#conn-state').textContent.trim()), null, { timeout: 15000 });
  assert.equal(await gapCount(), 0, `no gap across the restart (states: ${states.join(' → ')})`);
  // The browser's own reconnect sent the id the page held.
  assert.ok(streamRequests.some((r) => /^[\x21-\x7e]+-\d+$/.test(r.lastEventIdHeader)),
    `a reconnect carried Last-Event-ID: ${JSON.stringify(streamRequests)}`);
});

test('switching throttle resumes from the last id and keeps the table current', async () => {
  for (const th of ['250ms', '1s', '100ms', '0']) {
    const n = streamRequests.length;
    await page.selectOption('#throttle', th);
    await page.waitForFunction(() => true); // let the change handler run
    for (let i = 0; i < 50 && streamRequests.length === n; i++) await sleep(50);
    const req = streamRequests.slice(n).map((r) => new URL(r.url));
    assert.ok(req.length > 0, `a new stream request after choosing throttle ${th}`);
    const u = req[req.length - 1];
    assert.equal(u.searchParams.get('throttle') || '0', th, `throttle= in ${u}`);
    assert.match(u.searchParams.get('lastEventId') || '', /^[\x21-\x7e]+-\d+$/, `lastEventId= in ${u}`);

    const b = await prices();
    await expectPricesChange(b, 10, th === '1s' ? 4000 : 3000);
    if (th !== '0') {
      // Merged events: fewer events than ticks, in a stats window that
      // began after the switch.
      await sleep(2100);
      assert.match(await page.textContent('#rate'), /ticks\/s · \d+ ev\/s/, `merged events with throttle ${th}`);
    }
    assert.equal(await gapCount(), 0, `no gaps with throttle ${th}`);
    assert.match(await connText(), /live|resumed/);
  }
});

test('a reset replaces the state without counting gaps', async () => {
  // Make the next stream request resume from an id the server cannot
  // honour (malformed): it must answer reset, then a snapshot.
  let rewritten = 0;
  await page.route('**/v1/stream?*', (route) => {
    const u = new URL(route.request().url());
    if (rewritten === 0 && u.searchParams.has('lastEventId')) {
      rewritten++;
      u.searchParams.set('lastEventId', 'not-an-id');
      return route.continue({ url: u.href });
    }
    return route.continue();
  });
  await page.evaluate(() => { window.__states = []; });
  await page.selectOption('#throttle', '250ms');
  await page.waitForFunction(() => window.__states.some((s) => /reset/.test(s)), null, { timeout: 5000 });
  await page.unroute('**/v1/stream?*');
  assert.equal(rewritten, 1);
  await page.waitForFunction(() => document.querySelector('#n-resets').textContent === '1', null, { timeout: 2000 });
  assert.match(await page.textContent('#log'), /reset · .*requested not-an-id/);
  const b = await prices();
  await expectPricesChange(b, 10, 4000);
  assert.equal(await gapCount(), 0, 'a reset is not a gap');
  await page.selectOption('#throttle', '0');
  await page.waitForFunction(() => /live/.test(document.querySelector('#conn-state').textContent), null, { timeout: 10000 });
});

test('a halt shows on its row; the scenario control shows and sets the scenario', async () => {
  const api = new URL('v1/sim/scenario', server.url);
  await page.waitForFunction(() => !document.querySelector('#scenario-ctl').hidden, null, { timeout: 5000 });
  assert.equal(await page.inputValue('#scenario'), 'normal');

  // Halt the third row's symbol for a few seconds, from outside the page
  // (status events end it as soon as it reopens, not at the next trade).
  const sym = await page.$eval('tbody tr[data-symbol]:nth-child(3)', (r) => r.dataset.symbol);
  let r = await fetch(api, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'halt', symbol: sym, duration: '8s' }), // long enough for the checks below on a loaded machine
  });
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal((await r.json()).scenario.symbol, sym);
  const row = `tr[data-symbol="${sym}"]`;
  await page.waitForFunction((row) => {
    const tr = document.querySelector(row);
    return tr.dataset.status === 'halted' && /HALTED/.test(tr.querySelector('[data-field="symbol"]').textContent);
  }, row, { timeout: 3000, polling: 50 });
  assert.equal(await page.locator('tr[data-status="halted"]').count(), 1, 'only the halted symbol is marked');
  // Its last price stands while others move.
  const haltedAt = await page.textContent(`${row} [data-field="price"]`);
  const others = await prices();
  await sleep(1000);
  assert.equal(await page.textContent(`${row} [data-field="price"]`), haltedAt, 'no price change while halted');
  await expectPricesChange(others, 5, 3000);
  await page.waitForFunction(() => document.querySelector('#scenario-ctl').dataset.name === 'halt'
    && document.querySelector('#scenario').value === 'halt', null, { timeout: 4000, polling: 100 });
  assert.match(await page.textContent('#scenario-ctl .scn-left'), new RegExp(sym));
  assert.match(await page.textContent('#log'), new RegExp(`halted · ${sym}`));
  // Selected, its quote says so too.
  await page.click(`${row} [data-field="price"]`);
  assert.equal(await page.isVisible('#chart-status'), true, 'HALTED by the selected quote');

  // It reopens by itself: the mark goes, the row trades again, no gap.
  await page.waitForFunction((row) => !document.querySelector(row).dataset.status, row, { timeout: 12000, polling: 50 });
  assert.equal(await page.locator(`${row} .badge`).count(), 0);
  assert.equal(await page.isVisible('#chart-status'), false);
  assert.match(await page.textContent('#log'), new RegExp(`reopened · ${sym}`));
  await page.waitForFunction(() => document.querySelector('#scenario-ctl').dataset.name === 'normal', null, { timeout: 5000 });
  assert.equal(await gapCount(), 0, 'a halt is not a gap');

  // The picker: a burst, seen by the server, then back to normal.
  await page.selectOption('#scenario', 'burst');
  await page.waitForFunction(() => document.querySelector('#scenario-ctl').dataset.name === 'burst', null, { timeout: 4000 });
  r = await (await fetch(api)).json();
  assert.equal(r.scenario.name, 'burst');
  assert.match(await page.textContent('#log'), /scenario · burst/);
  await page.selectOption('#scenario', 'normal');
  await page.waitForFunction(() => document.querySelector('#scenario-ctl').dataset.name === 'normal', null, { timeout: 4000 });
  assert.equal((await (await fetch(api)).json()).scenario.name, 'normal');
  assert.equal(await gapCount(), 0, 'no gaps through a burst');
});

test('screenshots: desktop dark, light theme, phone width', async () => {
  await sleep(1500); // let candles and sparklines fill a little more
  await page.screenshot({ path: path.join(outDir, 'dashboard.png') });

  await page.click('#theme');
  assert.equal(await page.getAttribute('html', 'data-theme'), 'light');
  await sleep(400);
  await page.screenshot({ path: path.join(outDir, 'dashboard-light.png') });
  await page.click('#theme');
  assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');

  await page.setViewportSize({ width: 390, height: 844 });
  await sleep(600);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at phone width (overflow ${overflow}px)`);
  await page.screenshot({ path: path.join(outDir, 'dashboard-phone.png'), fullPage: false });
  await page.setViewportSize({ width: 1366, height: 860 });
});

test('no console errors', async () => {
  assert.deepEqual(consoleErrors, [], 'console errors and page errors');
  for (const t of tolerated) console.log(`# tolerated while the server was down: ${t}`);
});
