// Browser test of the dashboard's market data (issue 15): candles from
// GET /v1/bars on load and from bar events after, bid/ask sizes from
// quotes, the market clock and phase from GET /v1/market and clock
// events, halted and limit-up states from status events, a reload after
// a gateway restart, and a reset that replaces it all. The real program
// (a data dir, so a restart keeps the stream), Debian's chromium.
//
//   cd web/e2e && npm install && TICKCAST_BIN=/path/to/tickcast node market.test.mjs

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
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

let bin;
let work;
let server; // {proc, url, out, exited}
let context;
let page;
const consoleErrors = [];
let serverDown = false;
const barRequests = []; // URLs of GET /v1/bars
const streamURLs = [];

async function startServer(addr) {
  const proc = spawn(bin, ['serve', '--addr', addr, '--data', path.join(work, 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const s = { proc, out: '', url: '', exited: null };
  proc.stderr.on('data', (b) => { s.out += b; });
  s.exited = new Promise((ok) => proc.on('exit', (code, sig) => ok({ code, sig })));
  s.url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no URL within 30s:\n${s.out}`)), 30000);
    proc.stdout.on('data', (b) => {
      s.out += b;
      const m = s.out.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (m) { clearTimeout(timer); ok(m[0] + '/'); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); fail(new Error(`tickcast exited (${code}):\n${s.out}`)); });
  });
  for (let i = 0; ; i++) {
    try { if ((await fetch(new URL('healthz', s.url))).ok) break; } catch { /* not yet */ }
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
    throw new Error('tickcast did not exit within 20s of SIGTERM');
  }
  return res;
}

const chartData = () => page.$eval('#chart', (c) => ({ symbol: c.dataset.symbol, candles: Number(c.dataset.candles || 0), bars: Number(c.dataset.bars || 0) }));
const gapCount = () => page.$eval('#gaps', (el) => Number(el.dataset.count));
// sizes: {symbol: [bidSize text, askSize text]}
const sizes = () => page.$$eval('tr[data-symbol]', (rows) => Object.fromEntries(rows.map((r) => [r.dataset.symbol,
  [r.querySelector('[data-field="bidSize"]').textContent.trim(), r.querySelector('[data-field="askSize"]').textContent.trim()]])));
const SIZE = /^\d+(\.\d+)?K?$/; // 300, 1.2K

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tickcast-market-'));
  await mkdir(path.join(here, 'out'), { recursive: true });
  bin = process.env.TICKCAST_BIN;
  if (!bin) {
    bin = path.join(work, 'tickcast');
    execFileSync('go', ['build', '-o', bin, './cmd/tickcast'], { cwd: repo, stdio: 'inherit' });
  }
  server = await startServer('127.0.0.1:0');
  context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'],
    viewport: { width: 1366, height: 860 },
  });
  page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (serverDown && /net::ERR_|Failed to load resource/.test(m.text())) return;
    consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push('page error: ' + e.message));
  page.on('request', (r) => {
    if (r.url().includes('/v1/bars')) barRequests.push(r.url());
    if (r.url().includes('/v1/stream')) streamURLs.push(r.url());
  });
}, { timeout: 180000 });

after(async () => {
  if (context) await context.close().catch(() => {});
  if (server && server.proc.exitCode === null) await stopServer(server).catch(() => {});
  if (work) await rm(work, { recursive: true, force: true }).catch(() => {});
});

test('a page load mid-session has chart history from /v1/bars before any live bar, then live bars', async () => {
  await sleep(8000); // the session runs a while before anyone looks
  const sym = (await (await fetch(new URL('v1/symbols', server.url))).json())[0].symbol;
  const hist = await (await fetch(new URL(`v1/bars?symbol=${sym}&interval=1s&limit=900`, server.url))).json();
  assert.ok(hist.bars.length >= 5, `/v1/bars has history: ${hist.bars.length} bars`);

  // The first load gets no bar events at all (the stream asks for the
  // other types only), so every bar candle on the chart is history.
  let routed = 0;
  await page.route('**/v1/stream?*', (route) => {
    const u = new URL(route.request().url());
    routed++;
    u.searchParams.set('events', 'tick,quote,status');
    u.searchParams.delete('bars');
    return route.continue({ url: u.href });
  });
  await page.goto(server.url);
  await page.waitForFunction((s) => document.querySelector('#chart').dataset.symbol === s, sym, { timeout: 5000 });
  await page.waitForFunction(() => Number(document.querySelector('#chart').dataset.bars) >= 5, null, { timeout: 3000, polling: 50 });
  assert.ok(barRequests.some((u) => new URL(u).searchParams.get('symbol') === sym), 'the chart asked /v1/bars');
  assert.ok(routed >= 1, 'the stream asked for no bar events on this load');
  await page.unroute('**/v1/stream?*');

  // A normal load: history, then bar events add candles as they close.
  const n = barRequests.length;
  await page.reload();
  await page.waitForFunction(() => Number(document.querySelector('#chart').dataset.bars) >= 5, null, { timeout: 3000, polling: 50 });
  assert.ok(barRequests.length > n, 'history asked again on reload');
  assert.match(new URL(streamURLs[streamURLs.length - 1]).searchParams.get('events'), /bar/);
  assert.equal(new URL(streamURLs[streamURLs.length - 1]).searchParams.get('bars'), '1s,1m');
  const b0 = (await chartData()).bars;
  await page.waitForFunction((b0) => Number(document.querySelector('#chart').dataset.bars) >= b0 + 2, b0, { timeout: 6000, polling: 100 });

  // 5 s candles (rolled up from 1 s bars) and 1 min candles draw too.
  await page.click('.seg-btn[data-res="5000"]');
  await page.waitForFunction(() => Number(document.querySelector('#chart').dataset.candles) >= 2, null, { timeout: 3000 });
  await page.click('.seg-btn[data-res="60000"]');
  await page.waitForFunction(() => Number(document.querySelector('#chart').dataset.candles) >= 1, null, { timeout: 3000 });
  await page.click('.seg-btn[data-res="1000"]');
  assert.equal(await gapCount(), 0, 'no gaps');
});

test('the watchlist shows bid and ask sizes from quotes', async () => {
  await page.waitForFunction((re) => {
    const r = new RegExp(re);
    let n = 0;
    for (const tr of document.querySelectorAll('tr[data-symbol]')) {
      if (r.test(tr.querySelector('[data-field="bidSize"]').textContent.trim())
        && r.test(tr.querySelector('[data-field="askSize"]').textContent.trim())) n++;
    }
    return n >= 10;
  }, SIZE.source, { timeout: 5000, polling: 100 });
  // They change as quotes come (quotes outnumber trades).
  const b = await sizes();
  await page.waitForFunction((b) => {
    let n = 0;
    for (const tr of document.querySelectorAll('tr[data-symbol]')) {
      const s = [tr.querySelector('[data-field="bidSize"]').textContent.trim(), tr.querySelector('[data-field="askSize"]').textContent.trim()];
      const o = b[tr.dataset.symbol];
      if (o && (s[0] !== o[0] || s[1] !== o[1])) n++;
    }
    return n >= 5;
  }, b, { timeout: 5000, polling: 100 });
});

test('the header shows the market phase and clock, ticking with speed', async () => {
  const m = await (await fetch(new URL('v1/market', server.url))).json();
  assert.ok(m.clock && m.clock.phase, `/v1/market has a clock: ${JSON.stringify(m)}`);
  const names = { pre: 'pre-market', regular: 'open', after: 'after-hours', closed: 'closed' };
  await page.waitForFunction(() => !document.querySelector('#market').hidden, null, { timeout: 5000 });
  assert.equal(await page.getAttribute('#market', 'data-phase'), m.clock.phase);
  assert.equal(await page.textContent('[data-field="phase"]'), names[m.clock.phase]);
  const c0 = await page.textContent('[data-field="clock"]');
  assert.match(c0, /^\w{3} \d\d:\d\d:\d\d ET$/);
  // At --speed 10 the market clock moves ten seconds a second: extrapolated
  // between clock events (one every 10 s).
  await sleep(1200);
  const c1 = await page.textContent('[data-field="clock"]');
  const secs = (c) => { const [h, mi, s] = c.split(' ')[1].split(':').map(Number); return h * 3600 + mi * 60 + s; };
  const d = secs(c1) - secs(c0);
  assert.ok(d >= 8 && d <= 20, `the clock moved ${d} market seconds in 1.2 s (${c0} → ${c1})`);
});

test('a halted symbol and a limit-up symbol show on their rows, from status events', async () => {
  const api = new URL('v1/sim/scenario', server.url);
  const syms = await page.$$eval('tbody tr[data-symbol]', (rs) => rs.map((r) => r.dataset.symbol));
  const halted = syms[2];
  let r = await fetch(api, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'halt', symbol: halted, duration: '3s' }) });
  assert.equal(r.status, 200, await r.clone().text());
  const row = `tr[data-symbol="${halted}"]`;
  await page.waitForFunction((row) => {
    const tr = document.querySelector(row);
    return tr.dataset.status === 'halted' && /HALTED/.test(tr.querySelector('.badge')?.textContent || '');
  }, row, { timeout: 4000, polling: 50 });
  await page.waitForFunction((row) => !document.querySelector(row).dataset.status, row, { timeout: 8000, polling: 50 });
  assert.match(await page.textContent('#log'), new RegExp(`reopened · ${halted}`));

  // A 20% jump crosses the symbol's 5% band: limit up (a LULD pause).
  const jump = syms[4];
  await page.click(`tr[data-symbol="${jump}"] [data-field="price"]`);
  r = await fetch(api, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'gap', symbol: jump, size: 0.2, duration: '5s' }) });
  assert.equal(r.status, 200, await r.clone().text());
  const jrow = `tr[data-symbol="${jump}"]`;
  await page.waitForFunction((row) => {
    const tr = document.querySelector(row);
    return tr.dataset.status === 'limit_up' && /LIMIT UP/.test(tr.querySelector('.badge')?.textContent || '');
  }, jrow, { timeout: 5000, polling: 50 });
  assert.match(await page.getAttribute(`${jrow} .badge`, 'title'), /band \d/);
  assert.equal(await page.isVisible('#chart-status'), true);
  assert.equal(await page.textContent('#chart-status'), 'LIMIT UP');
  assert.match(await page.textContent('#log'), new RegExp(`limit up · ${jump}`));
  // It ends by itself (about 5 s of wall time at speed 10).
  await page.waitForFunction((row) => !document.querySelector(row).dataset.status, jrow, { timeout: 15000, polling: 100 });
  assert.equal(await page.isVisible('#chart-status'), false);
  await fetch(api, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'normal' }) });
  assert.equal(await gapCount(), 0, 'no gaps');
});

test('a reload after a gateway restart shows history, sizes and the clock again', async () => {
  const sym = (await chartData()).symbol;
  const port = new URL(server.url).port;
  serverDown = true;
  const exit = await stopServer(server);
  assert.equal(exit.code, 0);
  server = await startServer(`127.0.0.1:${port}`);
  const n = barRequests.length;
  await page.reload();
  serverDown = false;
  await page.waitForFunction((s) => document.querySelector('#chart').dataset.symbol === s, sym, { timeout: 5000 }).catch(async (err) => {
    throw new Error(`${err.message}: chart ${JSON.stringify(await chartData())}, want ${sym}; rows ${await page.locator('tr[data-symbol]').count()}; log ${await page.textContent('#log')}`);
  });
  // The bars from before the restart are history now.
  await page.waitForFunction(() => Number(document.querySelector('#chart').dataset.bars) >= 10, null, { timeout: 5000, polling: 50 });
  assert.ok(barRequests.length > n);
  await page.waitForFunction(() => /live/.test(document.querySelector('#conn-state').textContent), null, { timeout: 5000 });
  await page.waitForFunction((re) => [...document.querySelectorAll('tr[data-symbol] [data-field="bidSize"]')]
    .filter((c) => new RegExp(re).test(c.textContent.trim())).length >= 10, SIZE.source, { timeout: 5000, polling: 100 });
  await page.waitForFunction(() => !document.querySelector('#market').hidden, null, { timeout: 5000 });
  const b0 = (await chartData()).bars;
  await page.waitForFunction((b0) => Number(document.querySelector('#chart').dataset.bars) >= b0 + 2, b0, { timeout: 6000, polling: 100 });
  assert.equal(await gapCount(), 0, 'no gaps');
});

test('a reset replaces the state: history again, sizes and clock from the new snapshot', async () => {
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
  const n = barRequests.length;
  await page.selectOption('#throttle', '250ms');
  await page.waitForFunction(() => document.querySelector('#n-resets').textContent === '1', null, { timeout: 5000 });
  await page.unroute('**/v1/stream?*');
  assert.equal(rewritten, 1);
  // The candles were dropped and read again from /v1/bars.
  await page.waitForFunction(() => Number(document.querySelector('#chart').dataset.bars) >= 10, null, { timeout: 5000, polling: 50 });
  assert.ok(barRequests.length > n, 'history read again after the reset');
  await page.waitForFunction((re) => [...document.querySelectorAll('tr[data-symbol] [data-field="askSize"]')]
    .filter((c) => new RegExp(re).test(c.textContent.trim())).length >= 10, SIZE.source, { timeout: 5000, polling: 100 });
  assert.match(await page.textContent('[data-field="clock"]'), /\d\d:\d\d:\d\d ET/);
  // The ladder is the new snapshot's book, then live again.
  const sym = (await chartData()).symbol;
  await page.waitForFunction((s) => document.querySelector('#book').dataset.symbol === s, sym, { timeout: 5000, polling: 50 });
  const b = await readBook();
  assert.equal(b.asks.length + b.bids.length, 20, 'a whole book after the reset');
  assert.equal(await gapCount(), 0, 'a reset is not a gap');
  await page.selectOption('#throttle', '0');
  await page.screenshot({ path: path.join(here, 'out', 'dashboard-market.png') });
});

// readBook reads the depth ladder (book.js): its symbol and seq, and the
// levels shown, by side and level (0 at the touch).
const readBook = () => page.$eval('#book', (box) => {
  const num = (el) => Number(el.textContent.replace(/,/g, ''));
  const side = (name) => [...box.querySelectorAll(`.lvl[data-side="${name}"]`)].filter((r) => !r.hidden)
    .map((r) => ({ level: Number(r.dataset.level), price: num(r.querySelector('[data-field="price"]')),
      size: num(r.querySelector('[data-field="size"]')), bar: parseFloat(r.querySelector('.lvl-bar').style.width) }))
    .sort((a, b) => a.level - b.level);
  const order = [...box.children].filter((r) => !r.hidden).map((r) => r.dataset.side || 'spread');
  return { symbol: box.dataset.symbol, seq: Number(box.dataset.seq), asks: side('ask'), bids: side('bid'), order,
    spread: box.querySelector('[data-field="spread"]').textContent };
});

test('the depth ladder shows the selected symbol\'s book live: asks above the spread, bids below, sizes as bars', async () => {
  const sym = (await chartData()).symbol;
  await page.waitForFunction((s) => document.querySelector('#book').dataset.symbol === s, sym, { timeout: 5000, polling: 50 });
  assert.match(new URL(streamURLs[streamURLs.length - 1]).searchParams.get('events'), /book/);
  const b = await readBook();
  assert.equal(b.asks.length, 10, 'ten ask levels');
  assert.equal(b.bids.length, 10, 'ten bid levels');
  for (let k = 1; k < 10; k++) {
    assert.ok(b.asks[k].price > b.asks[k - 1].price, `asks rise away from the touch: ${JSON.stringify(b.asks)}`);
    assert.ok(b.bids[k].price < b.bids[k - 1].price, `bids fall away from the touch: ${JSON.stringify(b.bids)}`);
  }
  assert.ok(b.bids[0].price < b.asks[0].price, 'never crossed');
  assert.deepEqual(b.order, [...Array(10).fill('ask'), 'spread', ...Array(10).fill('bid')], 'asks above the spread, bids below');
  const spread = Number(b.spread.replace(/^spread /, '').replace(/,/g, ''));
  assert.ok(Math.abs(spread - (b.asks[0].price - b.bids[0].price)) < 1e-6, `spread ${b.spread} for ${b.bids[0].price} / ${b.asks[0].price}`);
  const all = [...b.asks, ...b.bids];
  assert.ok(all.every((l) => l.size > 0 && l.bar > 0 && l.bar <= 100), 'every level has a size and a bar');
  assert.equal(Math.max(...all.map((l) => l.bar)), 100, 'the largest level has the full bar');
  // Live: newer books come.
  await page.waitForFunction((seq) => Number(document.querySelector('#book').dataset.seq) > seq, b.seq, { timeout: 5000, polling: 50 });
  // Another selection shows that symbol's book.
  const other = await page.$$eval('tr[data-symbol]', (rows, s) => rows.map((r) => r.dataset.symbol).find((x) => x !== s), sym);
  await page.click(`tr[data-symbol="${other}"] [data-field="price"]`);
  await page.waitForFunction((s) => document.querySelector('#book').dataset.symbol === s && document.querySelector('#book-symbol').textContent === s,
    other, { timeout: 5000, polling: 50 });
  assert.equal((await readBook()).bids.length, 10);
  await page.click(`tr[data-symbol="${sym}"] [data-field="price"]`);
});

test('no console errors', () => {
  assert.deepEqual(consoleErrors, []);
});
