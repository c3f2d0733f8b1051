// Resume with headless Chromium's native EventSource (Debian's chromium
// driven by playwright-core; no browser download, fresh profile): the page
// keeps a stream open while the server is stopped and restarted on the same
// data and port; the browser reconnects by itself with Last-Event-ID, and
// every tick is accounted for. Then the browser-style first-connection resume
// (?lastEventId= on a new EventSource).
//
//   cd test/clients && npm ci && TICKCAST_BIN=/path/to/tickcast node --test chromium.test.mjs
//
// Without TICKCAST_BIN the test builds ./cmd/tickcast with `go build`.
// CHROMIUM overrides the browser path (default /usr/bin/chromium).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  sleep, tickcastBin, tempDir, removeDir, startServer, stopServer, killServer, checkLog, selfTest, parseId,
} from './lib.mjs';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// In the page: open an EventSource and record into window.__es. A new
// connection (conn) starts at each `open`, whichever EventSource opened it.
function pageOpen(url) {
  const st = window.__es || (window.__es = { log: [], conn: -1, opens: [], errors: [], lastId: '', src: null });
  if (st.src) st.src.close();
  const es = new EventSource(url);
  st.src = es;
  es.addEventListener('open', () => { st.conn++; st.opens.push({ conn: st.conn, at: Date.now() }); });
  es.addEventListener('error', () => { st.errors.push({ at: Date.now(), readyState: es.readyState }); });
  for (const type of ['snapshot', 'tick', 'reset']) {
    es.addEventListener(type, (e) => {
      st.log.push({ conn: st.conn, type, id: e.lastEventId, data: e.data, at: Date.now() });
      st.lastId = e.lastEventId;
    });
  }
}

test('chromium EventSource: resume across a server restart and a client-side reconnect, every tick accounted for', { timeout: 60000 }, async () => {
  const work = await tempDir('tc-clients-chromium-');
  let server;
  let browser;
  try {
    const bin = tickcastBin(work);
    const dataDir = path.join(work, 'data');
    server = await startServer(bin, { dataDir });

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30000,
    });
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // What went on the wire for each stream request (allHeaders includes
    // Last-Event-ID, which the browser adds itself).
    const requests = [];
    page.on('request', (r) => {
      if (!r.url().includes('/v1/stream')) return;
      const q = { url: r.url(), lastEventId: r.headers()['last-event-id'] ?? null, status: null, failure: null, at: Date.now() };
      requests.push(q);
      r.allHeaders().then((h) => { if (h['last-event-id'] !== undefined) q.lastEventId = h['last-event-id']; }, () => {});
    });
    page.on('response', (res) => {
      const q = requests.find((x) => x.url === res.url() && x.status === null && x.failure === null);
      if (q) q.status = res.status();
    });
    page.on('requestfailed', (r) => {
      const q = requests.find((x) => x.url === r.url() && x.status === null && x.failure === null);
      if (q) q.failure = (r.failure() || {}).errorText || 'failed';
    });

    // Same origin as the stream: a page from the server itself.
    const res = await page.goto(server.url + '/healthz');
    assert.equal(res.status(), 200);
    const state = () => page.evaluate(() => window.__es);

    // 1. Snapshot, then ticks for about 2 s.
    await page.evaluate(pageOpen, '/v1/stream');
    await page.waitForFunction(() => window.__es.log.length > 0, null, { timeout: 10000 });
    await sleep(2000);
    let st = await state();
    assert.equal(st.log[0].type, 'snapshot');
    assert.ok(st.log.filter((e) => e.type === 'tick').length > 100, `ticks in 2s at 500/s: ${st.log.length}`);

    // 2. Stop the server (SIGTERM) and start it again on the same data and
    // port; the browser reconnects by itself.
    const port = server.port;
    const reqBefore = requests.length;
    const exit = await stopServer(server);
    assert.deepEqual(exit, { code: 0, sig: null }, `exit after SIGTERM\n${server.out.slice(-2000)}`);
    const stoppedAt = Date.now();
    await page.waitForFunction(() => window.__es.errors.length > 0, null, { timeout: 10000 });
    await sleep(1500);
    server = await startServer(bin, { dataDir, addr: `127.0.0.1:${port}` });
    const restartedAt = Date.now();
    await page.waitForFunction(() => window.__es.log.some((e) => e.conn === 1), null, { timeout: 20000 });
    await sleep(1500);
    st = await state();
    const heldId = st.log.filter((e) => e.conn === 0).pop().id;
    const resumed = st.log.find((e) => e.conn === 1);
    const retries = requests.slice(reqBefore);
    const ok = retries.filter((q) => q.status === 200);
    console.log(`chromium: server down ${restartedAt - stoppedAt}ms; first resumed event ${resumed.at - restartedAt}ms after the restart; ` +
      `errors at ${st.errors.map((e) => `+${e.at - stoppedAt}ms(rs ${e.readyState})`).join(', ')}; ` +
      `${retries.length} request(s) while reconnecting: ${retries.map((q) => `${q.status ?? q.failure}@+${q.at - stoppedAt}ms lei=${q.lastEventId}`).join(', ')}`);
    assert.equal(ok.length, 1, `one successful reconnect: ${JSON.stringify(retries)}`);
    assert.equal(ok[0].lastEventId, heldId, 'the reconnect sent the last id held as Last-Event-ID');
    assert.equal(new URL(ok[0].url).search, '', 'the reconnect used the original URL');
    assert.equal(resumed.type, 'tick', 'first event after the restart');
    assert.ok(parseId(resumed.id).seq > parseId(heldId).seq, `first id ${resumed.id} after the held ${heldId}`);
    assert.equal(await page.evaluate(() => window.__es.src.readyState), 1, 'EventSource OPEN');

    // 3. The browser-style first-connection resume: a new EventSource with
    // ?lastEventId= (a page cannot set the header itself).
    // Close and read the id held in one step: nothing arrives in between.
    const held = await page.evaluate(() => { window.__es.src.close(); return window.__es.lastId; });
    await sleep(300); // ticks go by while nobody listens
    const n = requests.length;
    await page.evaluate(pageOpen, `/v1/stream?lastEventId=${encodeURIComponent(held)}`);
    await page.waitForFunction(() => window.__es.log.some((e) => e.conn === 2), null, { timeout: 10000 });
    await sleep(1000);
    await page.evaluate(() => window.__es.src.close());
    st = await state();
    const q = requests[n];
    assert.equal(q.status, 200);
    assert.equal(q.lastEventId, null, 'a first connection sends no Last-Event-ID header');
    assert.equal(new URL(q.url).searchParams.get('lastEventId'), held);

    // 4. Every tick accounted for, no reset, the checker not vacuous.
    const { errors, stats } = checkLog(st.log);
    console.log(`chromium: ${JSON.stringify({ ...stats, lastSeq: undefined })}`);
    assert.deepEqual(errors, [], 'contiguity');
    assert.equal(stats.connections, 3, 'initial + restart + client-side reconnect');
    assert.equal(stats.resets, 0);
    assert.ok(stats.symbols >= 10, `symbols seen: ${stats.symbols}`);
    assert.deepEqual(selfTest(st.log), []);
    assert.deepEqual(pageErrors, []);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await killServer(server);
    await removeDir(work);
  }
});
