// HTTP/2 with real clients against `tickcast serve --tls-cert --tls-key`
// (a self-signed certificate made with openssl at test time): Node's
// http2 module opens 20 streams on one session, and headless Chromium
// opens 20 EventSources to one HTTPS origin, all live at once over one
// h2 connection; the same page over plain HTTP/1.1 gets at most 6 live
// (the browser's per-host connection limit).
//
//   cd test/clients && npm ci && TICKCAST_BIN=/path/to/tickcast node --test http2.test.mjs
//
// Without TICKCAST_BIN the test builds ./cmd/tickcast with `go build`.
// CHROMIUM overrides the browser path (default /usr/bin/chromium).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { sleep, tickcastBin, tempDir, removeDir, startServer, killServer } from './lib.mjs';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--ignore-certificate-errors',
];

// makeCert writes a self-signed certificate for 127.0.0.1 into dir.
function makeCert(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

// withTimeout rejects if p has not settled within ms.
function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, fail) => { t = setTimeout(() => fail(new Error(`${what}: no answer within ${ms}ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

// startTLS runs `tickcast serve` with TLS and resolves once it printed
// its https URL and /healthz answers 200 over HTTP/2.
async function startTLS(bin, { cert, key, dataDir }) {
  const args = ['serve', '--addr', '127.0.0.1:0', '--data', dataDir, '--memory', '--rate', '500', '--seed', '1',
    '--tls-cert', cert, '--tls-key', key];
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const s = { proc, args, out: '', url: '', port: 0 };
  const keep = (b) => { s.out = (s.out + b).slice(-20000); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  s.exited = new Promise((ok) => proc.on('exit', (code, sig) => ok({ code, sig })));
  try {
    s.url = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`no URL within 20s:\n${s.out}`)), 20000);
      let stdout = '';
      proc.stdout.on('data', (b) => {
        stdout += b;
        const m = stdout.match(/https:\/\/127\.0\.0\.1:(\d+)/);
        if (m) { clearTimeout(timer); ok(m[0]); }
      });
      proc.on('exit', (code) => { clearTimeout(timer); fail(new Error(`tickcast exited (${code}):\n${s.out}`)); });
    });
    s.port = Number(new URL(s.url).port);
    const ca = readFileSync(cert);
    for (let i = 0; ; i++) {
      const status = await new Promise((ok) => {
        const c = http2.connect(s.url, { ca });
        c.on('error', () => ok(0));
        const r = c.request({ ':path': '/healthz' });
        r.on('response', (h) => { ok(h[':status']); c.close(); });
        r.on('error', () => ok(0));
        r.end();
      });
      if (status === 200) break;
      if (i > 100) throw new Error(`/healthz not 200 within 10s:\n${s.out}`);
      await sleep(100);
    }
  } catch (err) {
    await killServer(s);
    throw err;
  }
  return s;
}

test('node http2: 20 streams on one session, all receiving ticks at once', { timeout: 60000 }, async () => {
  const work = await tempDir('tc-clients-h2-');
  let server;
  let session;
  try {
    const bin = tickcastBin(work);
    const { cert, key } = makeCert(work);
    server = await startTLS(bin, { cert, key, dataDir: path.join(work, 'data') });
    session = http2.connect(server.url, { ca: readFileSync(cert) });
    await withTimeout(new Promise((ok, fail) => { session.once('connect', ok); session.once('error', fail); }), 10000, 'connect');
    assert.equal(session.alpnProtocol, 'h2');
    const streams = [];
    for (let i = 0; i < 20; i++) {
      const st = { status: 0, ticks: 0, snapshot: false, firstTickAt: 0, buf: '' };
      const req = session.request({ ':path': '/v1/stream', accept: 'text/event-stream' });
      req.setEncoding('utf8');
      req.on('response', (h) => { st.status = h[':status']; st.type = h['content-type']; });
      req.on('data', (chunk) => {
        st.buf += chunk;
        let i;
        while ((i = st.buf.indexOf('\n\n')) >= 0) {
          const ev = st.buf.slice(0, i);
          st.buf = st.buf.slice(i + 2);
          if (ev.startsWith('event: snapshot')) st.snapshot = true;
          if (ev.startsWith('event: tick')) { st.ticks++; if (!st.firstTickAt) st.firstTickAt = Date.now(); }
        }
      });
      req.on('error', (e) => { st.error = e.message; });
      st.req = req;
      streams.push(st);
    }
    const openedAt = Date.now();
    const deadline = openedAt + 10000;
    while (streams.some((st) => st.ticks < 5) && Date.now() < deadline) await sleep(50);
    const late = streams.filter((st) => st.ticks < 5);
    assert.deepEqual(late.map((st) => ({ status: st.status, ticks: st.ticks, error: st.error })), [], 'streams without 5 ticks within 10s');
    for (const st of streams) {
      assert.equal(st.status, 200);
      assert.equal(st.type, 'text/event-stream');
      assert.ok(st.snapshot, 'a snapshot first');
    }
    const last = Math.max(...streams.map((st) => st.firstTickAt)) - openedAt;
    console.log(`node http2: 20 streams on one session; every stream's first tick within ${last}ms of opening`);
    // Still live together a second later.
    const before = streams.map((st) => st.ticks);
    await sleep(1000);
    assert.ok(streams.every((st, i) => st.ticks > before[i]), 'every stream kept receiving');
    for (const st of streams) st.req.close();
  } finally {
    if (session) session.destroy();
    await killServer(server);
    await removeDir(work);
  }
});

// In the page: open n EventSources to url; record when each opens and
// gets its first tick.
function pageOpenMany({ url, n }) {
  window.__many = [];
  for (let i = 0; i < n; i++) {
    const st = { open: 0, tick: 0, ticks: 0, errors: 0 };
    const es = new EventSource(url);
    es.addEventListener('open', () => { if (!st.open) st.open = Date.now(); });
    es.addEventListener('tick', () => { st.ticks++; if (!st.tick) st.tick = Date.now(); });
    es.addEventListener('error', () => { st.errors++; });
    st.es = es;
    window.__many.push(st);
  }
}

// A few busy symbols: 20 streams of every symbol at 500 ticks/s would
// keep the page's main thread too busy to poll.
const STREAM = '/v1/stream?symbols=AAPL,MSFT,NVDA,AMZN';

const manyState = () => window.__many.map(({ open, tick, ticks, errors }) => ({ open, tick, ticks, errors }));

test('chromium: 20 EventSources live at once over HTTP/2; over HTTP/1.1 at most 6', { timeout: 90000 }, async () => {
  const work = await tempDir('tc-clients-h2-chromium-');
  let tlsServer;
  let plainServer;
  let browser;
  try {
    const bin = tickcastBin(work);
    const { cert, key } = makeCert(work);
    tlsServer = await startTLS(bin, { cert, key, dataDir: path.join(work, 'data-tls') });
    plainServer = await startServer(bin, { dataDir: path.join(work, 'data-plain'), extra: ['--memory'] });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30000,
    });

    // HTTPS: one origin, 20 EventSources, all live within a few seconds.
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    // (No CDP Network domain here: it reports every SSE message, and
    // 20 busy streams' worth floods the connection to the browser.)
    const res = await page.goto(tlsServer.url + '/healthz');
    assert.equal(res.status(), 200);
    await page.evaluate(pageOpenMany, { url: STREAM, n: 20 });
    const t0 = Date.now();
    await page.waitForFunction(() => window.__many.every((s) => s.ticks > 0), null, { timeout: 10000, polling: 100 })
      .catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify(await page.evaluate(manyState))}`); });
    const allAt = Date.now() - t0;
    // 20 live at once is more than HTTP/1.1's 6 connections per host
    // allow; and the origin speaks h2 (the page, and a request made now).
    const nextHop = await page.evaluate(async () => {
      await (await fetch('/healthz?after')).text();
      return [performance.getEntriesByType('navigation')[0].nextHopProtocol,
        performance.getEntriesByName(new URL('/healthz?after', location.href).href)[0].nextHopProtocol];
    });
    assert.deepEqual(nextHop, ['h2', 'h2'], 'nextHopProtocol of the page and of a request beside the streams');
    await sleep(1000);
    const st = await page.evaluate(manyState);
    assert.ok(st.every((s) => s.errors === 0), `no errors: ${JSON.stringify(st)}`);
    console.log(`chromium https: 20 EventSources on one origin (nextHopProtocol ${nextHop[0]}), every one ticking within ${allAt}ms of opening`);
    await page.evaluate(() => window.__many.forEach((s) => s.es.close()));
    await page.close();

    // HTTP/1.1: the same page gets 6 connections to the host; the other
    // EventSources wait for one to free.
    const page1 = await browser.newPage();
    page1.setDefaultTimeout(15000);
    await page1.goto(plainServer.url + '/healthz');
    await page1.evaluate(pageOpenMany, { url: STREAM, n: 20 });
    await page1.waitForFunction(() => window.__many.filter((s) => s.ticks > 0).length >= 6, null, { timeout: 10000, polling: 100 });
    await sleep(3000);
    const st1 = await page1.evaluate(manyState);
    const live = st1.filter((s) => s.ticks > 0).length;
    const open = st1.filter((s) => s.open > 0).length;
    console.log(`chromium http/1.1: ${live} of 20 EventSources live after 3s (${open} open)`);
    assert.ok(live <= 6, `at most 6 live over HTTP/1.1, got ${live}`);
    assert.ok(live >= 1);
    await page1.evaluate(() => window.__many.forEach((s) => s.es.close()));
  } finally {
    if (browser) await browser.close().catch(() => {});
    await killServer(tlsServer);
    await killServer(plainServer);
    await removeDir(work);
  }
});
