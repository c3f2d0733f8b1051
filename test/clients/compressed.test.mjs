// Compressed streams with real clients: the npm `eventsource` client (its
// fetch, undici, decompresses gzip) and headless Chromium's native
// EventSource (gzip or zstd, as it offers) read a Content-Encoding stream
// from `tickcast serve --compress auto` and resume across a server restart
// with Last-Event-ID, every tick accounted for. That the stream was really
// compressed is checked on the response header and on the gateway's
// tickcast_compressed_streams_total.
//
//   cd test/clients && npm ci && TICKCAST_BIN=/path/to/tickcast node --test compressed.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { EventSource } from 'eventsource';
import { chromium } from 'playwright-core';
import {
  sleep, tickcastBin, tempDir, removeDir, startServer, stopServer, killServer, checkLog, selfTest,
} from './lib.mjs';

const EXTRA = ['--compress', 'auto'];

async function waitFor(cond, ms, what) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await sleep(20);
  }
}

// compressedStreams reads tickcast_compressed_streams_total{encoding=enc}.
async function compressedStreams(url, enc) {
  const ctl = AbortSignal.timeout(5000);
  const text = await (await fetch(url + '/metrics', { signal: ctl })).text();
  const m = text.match(new RegExp(`^tickcast_compressed_streams_total\\{encoding="${enc}"\\} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : 0;
}

test('eventsource: a gzip stream, resumed across a server restart', { timeout: 60000 }, async () => {
  const work = await tempDir('tc-clients-gz-');
  let server;
  let es;
  try {
    const bin = tickcastBin(work);
    const dataDir = path.join(work, 'data');
    server = await startServer(bin, { dataDir, extra: EXTRA });
    const log = [];
    const responses = []; // {status, encoding, lastEventId}
    let conn = -1;
    const myFetch = async (url, init) => {
      const res = await fetch(url, init);
      const h = new Headers(init && init.headers);
      responses.push({ status: res.status, encoding: res.headers.get('content-encoding'), lastEventId: h.get('last-event-id') });
      return res;
    };
    es = new EventSource(server.url + '/v1/stream', { fetch: myFetch });
    es.addEventListener('open', () => { conn++; });
    for (const type of ['snapshot', 'tick', 'reset']) {
      es.addEventListener(type, (e) => log.push({ conn, type, id: e.lastEventId, data: e.data, at: Date.now() }));
    }
    await waitFor(() => log.filter((e) => e.type === 'tick').length > 200, 10000, 'ticks');
    assert.equal(responses[0].encoding, 'gzip', `Content-Encoding: ${JSON.stringify(responses)}`);
    assert.ok(await compressedStreams(server.url, 'gzip') >= 1, 'the gateway counted a gzip stream');

    const port = server.port;
    const exit = await stopServer(server);
    assert.deepEqual(exit, { code: 0, sig: null });
    await sleep(1000);
    server = await startServer(bin, { dataDir, addr: `127.0.0.1:${port}`, extra: EXTRA });
    await waitFor(() => log.filter((e) => e.conn === 1 && e.type === 'tick').length > 200, 15000, 'ticks after the restart');
    es.close();
    const ok = responses.filter((q) => q.status === 200);
    assert.equal(ok.length, 2, JSON.stringify(responses));
    assert.equal(ok[1].encoding, 'gzip');
    assert.equal(ok[1].lastEventId, log.filter((e) => e.conn === 0).pop().id, 'resumed with the last id held');
    assert.ok(await compressedStreams(server.url, 'gzip') >= 1, 'the restarted gateway counted a gzip stream');
    const { errors, stats } = checkLog(log);
    console.log(`eventsource gzip: ${JSON.stringify({ ...stats, lastSeq: undefined })}`);
    assert.deepEqual(errors, [], 'contiguity');
    assert.equal(stats.connections, 2);
    assert.equal(stats.resets, 0);
    assert.deepEqual(selfTest(log), []);
  } finally {
    if (es) es.close();
    await killServer(server);
    await removeDir(work);
  }
});

test('chromium EventSource: a compressed stream, resumed across a server restart', { timeout: 60000 }, async () => {
  const work = await tempDir('tc-clients-gz-chromium-');
  let server;
  let browser;
  try {
    const bin = tickcastBin(work);
    const dataDir = path.join(work, 'data');
    server = await startServer(bin, { dataDir, extra: EXTRA });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 30000,
    });
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    const streams = []; // {status, encoding, accept, lastEventId}
    page.on('response', async (res) => {
      if (!res.url().includes('/v1/stream')) return;
      const q = { status: res.status(), encoding: res.headers()['content-encoding'] ?? null, accept: null, lastEventId: null };
      streams.push(q);
      const h = await res.request().allHeaders().catch(() => ({}));
      q.accept = h['accept-encoding'] ?? null;
      q.lastEventId = h['last-event-id'] ?? null;
    });
    assert.equal((await page.goto(server.url + '/healthz')).status(), 200);
    await page.evaluate(() => {
      const st = window.__es = { log: [], conn: -1 };
      const es = new EventSource('/v1/stream');
      st.src = es;
      es.addEventListener('open', () => { st.conn++; });
      for (const type of ['snapshot', 'tick', 'reset']) {
        es.addEventListener(type, (e) => st.log.push({ conn: st.conn, type, id: e.lastEventId, data: e.data, at: Date.now() }));
      }
    });
    await page.waitForFunction(() => window.__es.log.filter((e) => e.type === 'tick').length > 200, null, { timeout: 10000 });
    await waitFor(() => streams.length > 0 && streams[0].accept !== null, 5000, 'the request headers');
    // Chromium 123+ offers zstd, which auto prefers on a tie.
    const want = /\bzstd\b/.test(streams[0].accept) ? 'zstd' : 'gzip';
    assert.equal(streams[0].encoding, want, `Accept-Encoding ${streams[0].accept}: ${JSON.stringify(streams)}`);
    assert.ok(await compressedStreams(server.url, want) >= 1, `the gateway counted a ${want} stream`);

    const port = server.port;
    const exit = await stopServer(server);
    assert.deepEqual(exit, { code: 0, sig: null });
    await sleep(1000);
    server = await startServer(bin, { dataDir, addr: `127.0.0.1:${port}`, extra: EXTRA });
    await page.waitForFunction(() => window.__es.log.filter((e) => e.conn === 1 && e.type === 'tick').length > 200, null, { timeout: 20000 });
    const st = await page.evaluate(() => { window.__es.src.close(); return window.__es; });
    await waitFor(() => streams.filter((q) => q.status === 200 && q.accept !== null).length >= 2, 5000, 'the reconnect headers');
    const ok = streams.filter((q) => q.status === 200);
    assert.equal(ok[1].encoding, want, JSON.stringify(streams));
    assert.equal(ok[1].lastEventId, st.log.filter((e) => e.conn === 0).pop().id, 'resumed with the last id held');
    const { errors, stats } = checkLog(st.log);
    console.log(`chromium ${want} (Accept-Encoding: ${streams[0].accept}): ${JSON.stringify({ ...stats, lastSeq: undefined })}`);
    assert.deepEqual(errors, [], 'contiguity');
    assert.equal(stats.connections, 2);
    assert.equal(stats.resets, 0);
    assert.deepEqual(selfTest(st.log), []);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await killServer(server);
    await removeDir(work);
  }
});
