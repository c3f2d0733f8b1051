// The candle chart recipe (docs/charts.md, examples/chart) in headless
// Chromium (Debian's chromium driven by playwright-core): lightweight-charts
// and the tickcast package load from this directory's node_modules (npm,
// not copies in the repository) through a small static server on another
// origin than the gateway's, so --cors-origins is exercised too. The chart
// fills from /v1/bars, continues from bar events with its forming candle
// built from ticks, and survives a gateway restart (EventSource reconnects
// with Last-Event-ID) and a new stream (a reset: history loaded again)
// with no page error ("Cannot update oldest data" above all) and a newest
// candle time that never goes back.
//
//   cd test/examples && npm ci && TICKCAST_BIN=/path/to/tickcast node --test chart.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serveStatic } from '../../examples/chart/serve.mjs';
import { sleep, tickcastBin, tempDir, removeDir, startServer, stopServer, killServer } from '../clients/lib.mjs';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// until polls f (async) every 100 ms until it returns truthy, for at most ms.
async function until(what, ms, f) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

test('candle chart: history, live bars and forming candle, across a reconnect and a reset, no chart error', { timeout: 150000 }, async () => {
  const work = await tempDir('tc-examples-chart-');
  const web = await serveStatic();
  const origin = `http://127.0.0.1:${web.address().port}`;
  let server;
  let browser;
  try {
    const bin = tickcastBin(work);
    const opts = (dir, addr) => ({ dataDir: path.join(work, dir), addr, rate: 400, extra: ['--cors-origins', origin] });
    server = await startServer(bin, opts('data1', '127.0.0.1:0'));
    const addr = `127.0.0.1:${server.port}`;
    const api = server.url + '/';
    // A few closed 1 s bars first, so the chart starts from history.
    await until('3 bars of history', 20000, async () => {
      const r = await fetch(`${api}v1/bars?symbol=AAPL&interval=1s`);
      return r.ok && (await r.json()).bars.length >= 3;
    });

    browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    const pageErrors = [];
    const consoleErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      // The browser's own line for a refused reconnect while the gateway
      // is down is expected; anything else is a failure.
      if (m.type() === 'error' && !/net::ERR_CONNECTION_REFUSED/.test(m.text())) consoleErrors.push(m.text());
    });
    await page.goto(`${origin}/examples/chart/index.html?api=${encodeURIComponent(api)}&symbol=AAPL&interval=1s`);

    // In the page: sample the chart's newest candle every 50 ms and every
    // connection state the recipe reports.
    await until('the chart', 15000, () => page.evaluate(() => !!(window.candles && window.candles.live)));
    await page.evaluate(() => {
      const c = window.candles;
      c.newestSeen = []; c.states = [];
      setInterval(() => {
        const d = c.series.data();
        if (d.length) c.newestSeen.push(d[d.length - 1].time);
        if (c.states[c.states.length - 1] !== c.state) c.states.push(c.state);
      }, 50);
    });
    const chart = () => page.evaluate(() => {
      const c = window.candles;
      const d = c.series.data();
      return { n: d.length, newest: d.length ? d[d.length - 1].time : 0, state: c.state, states: c.states, newestSeen: c.newestSeen, times: d.map((x) => x.time) };
    });

    const first = await chart();
    assert.ok(first.n >= 3, `the chart starts with the history of /v1/bars: ${first.n} candles`);
    const t0 = first.newest;
    await until('live candles (3 s on)', 20000, async () => (await chart()).newest >= t0 + 3);

    // A reconnect: the gateway restarts on the same store and port; the
    // browser's EventSource comes back with Last-Event-ID and resumes.
    await stopServer(server);
    await sleep(1500);
    server = await startServer(bin, opts('data1', addr));
    const t1 = (await chart()).newest;
    await until('candles after the reconnect', 30000, async () => {
      const c = await chart();
      return c.newest >= t1 + 3 && c.state !== 'reconnecting';
    });

    // A reset: a new stream (another store: another epoch) on the same
    // address. The id the browser holds is from the old stream: reset,
    // snapshot, and the recipe loads the history again.
    await stopServer(server);
    server = await startServer(bin, opts('data2', addr));
    const t2 = (await chart()).newest;
    await until('a reset, then candles after it', 40000, async () => {
      const c = await chart();
      return c.states.includes('reset') && c.newest >= t2 + 3;
    });

    // The rule itself, with the real library: candles in an order the
    // live feed rarely makes (a closed bar after the next interval's
    // first tick, a bar older than any on the chart, a repeat). Plain
    // series.update() throws on them; candleSink does not.
    const order = await page.evaluate(async () => {
      const { createChart, CandlestickSeries } = await import('lightweight-charts');
      const { candleSink } = await import('/examples/chart/candles.js');
      const el = document.createElement('div');
      el.style.cssText = 'width:400px;height:200px';
      document.body.append(el);
      const c = (time, close) => ({ time, open: 10, high: 12, low: 9, close });
      const seq = [c(1000, 10), c(1060, 11), c(1000, 10.5), c(940, 10), c(1060, 11.5), c(1120, 11)];
      const naive = createChart(el).addSeries(CandlestickSeries);
      let naiveError = '';
      try { for (const x of seq) naive.update(x); } catch (e) { naiveError = String(e); }
      const series = createChart(el).addSeries(CandlestickSeries);
      const sink = candleSink(series);
      let sinkError = '';
      try { for (const x of seq) sink.put(x); } catch (e) { sinkError = String(e); }
      return { naiveError, sinkError, data: series.data().map((d) => [d.time, d.close]) };
    });
    assert.match(order.naiveError, /Cannot update oldest data/, 'the control: plain update() throws on this order');
    assert.equal(order.sinkError, '', 'candleSink takes any order');
    assert.deepEqual(order.data, [[940, 10], [1000, 10.5], [1060, 11.5], [1120, 11]], 'the chart holds the latest of each time, in order');

    const end = await chart();
    assert.deepEqual(pageErrors, [], 'no page errors (lightweight-charts throws "Cannot update oldest data" on an update older than its newest candle)');
    assert.deepEqual(consoleErrors, [], 'no console errors');
    for (let i = 1; i < end.newestSeen.length; i++) {
      assert.ok(end.newestSeen[i] >= end.newestSeen[i - 1], `the chart's newest candle time went back: ${end.newestSeen[i - 1]} then ${end.newestSeen[i]} (sample ${i})`);
    }
    for (let i = 1; i < end.times.length; i++) assert.ok(end.times[i] > end.times[i - 1], 'candle times strictly increase');
    assert.ok(end.newestSeen.length > 50, `sampled the chart all along: ${end.newestSeen.length} samples`);
    const nowS = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs(end.newest - nowS) <= 5, `the newest candle is now's (UNIX seconds of the wall clock): ${end.newest} vs ${nowS}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await killServer(server);
    web.close();
    await removeDir(work);
  }
});
