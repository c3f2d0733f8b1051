// Browser test of the dashboard with scoped access tokens: the real
// program with an HS256 secret, Debian's chromium, the page opened with
// ?access_token=<a JWT for three symbols>. The rows of those symbols
// render and update; when the token expires the stream ends, the page is
// handed a new token (window.tickcast.setToken) and resumes without a gap.
//
//   cd web/e2e && npm install && TICKCAST_BIN=/path/to/tickcast node token.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const SECRET = 'e2e-secret-0123456789abcdef0123456789';

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

// jwt signs claims with HS256.
function jwt(claims) {
  const head = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64(claims);
  return head + '.' + createHmac('sha256', SECRET).update(head).digest('base64url');
}
const inSeconds = (s) => Math.floor(Date.now() / 1000) + s;

let work;
let proc;
let out = '';
let base;
let context;
let page;
const consoleErrors = [];
const streams = []; // stream request URLs
const barRequests = []; // {url, auth} of /v1/bars and /v1/market

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tickcast-token-'));
  let bin = process.env.TICKCAST_BIN;
  if (!bin) {
    bin = path.join(work, 'tickcast');
    execFileSync('go', ['build', '-o', bin, './cmd/tickcast'], { cwd: repo, stdio: 'inherit' });
  }
  proc = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--memory', '--data', path.join(work, 'data')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TICKCAST_JWT_SECRET: SECRET },
  });
  proc.stderr.on('data', (b) => { out += b; });
  base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no URL within 30s:\n${out}`)), 30000);
    proc.stdout.on('data', (b) => {
      out += b;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (m) { clearTimeout(timer); ok(m[0] + '/'); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); fail(new Error(`tickcast exited (${code}):\n${out}`)); });
  });
  for (let i = 0; ; i++) {
    try { if ((await fetch(new URL('healthz', base))).ok) break; } catch { /* not yet */ }
    if (i > 150) throw new Error(`/healthz not 200 within 15s:\n${out}`);
    await sleep(100);
  }
  context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => {
    // The scenario control is the shared token's: a scoped one gets 403
    // and the control hides (the browser logs the 403).
    if (m.type() === 'error' && !(m.location().url || '').includes('/v1/sim/scenario')) consoleErrors.push(m.text() + ' ' + m.location().url);
  });
  page.on('pageerror', (e) => consoleErrors.push('page error: ' + e.message));
  page.on('request', (r) => {
    if (r.url().includes('/v1/stream')) streams.push(r.url());
    if (r.url().includes('/v1/bars') || r.url().includes('/v1/market')) {
      const entry = { url: r.url(), auth: '' };
      barRequests.push(entry);
      r.allHeaders().then((h) => { entry.auth = h.authorization || ''; }, () => {});
    }
  });
}, { timeout: 120000 });

after(async () => {
  if (context) await context.close().catch(() => {});
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM');
    await Promise.race([new Promise((ok) => proc.on('exit', ok)), sleep(20000)]);
  }
  if (work) await rm(work, { recursive: true, force: true }).catch(() => {});
});

const rows = () => page.$$eval('tr[data-symbol]', (rs) => Object.fromEntries(
  rs.map((r) => [r.dataset.symbol, r.querySelector('[data-field="price"]').textContent.trim()])));

test('the API refuses the page without a token and narrows it to the token\'s symbols', async () => {
  assert.equal((await fetch(new URL('v1/symbols', base))).status, 401);
  const all = await (await fetch(new URL('v1/symbols', base), { headers: { Authorization: 'Bearer ' + jwt({ symbols: '*', exp: inSeconds(60) }) } })).json();
  assert.ok(all.length > 3);
  const r = await fetch(new URL('v1/snapshot?symbols=' + all[3].symbol, base), {
    headers: { Authorization: 'Bearer ' + jwt({ symbols: all.slice(0, 3).map((s) => s.symbol), exp: inSeconds(60) }) },
  });
  assert.equal(r.status, 403);
  assert.equal((await r.json()).symbol, all[3].symbol);
});

test('the dashboard with ?access_token= for three symbols shows those rows, updating; at expiry a new token resumes it', async () => {
  const all = await (await fetch(new URL('v1/symbols', base), { headers: { Authorization: 'Bearer ' + jwt({ symbols: '*', exp: inSeconds(60) }) } })).json();
  const three = all.slice(0, 3).map((s) => s.symbol).sort();
  const tok = jwt({ symbols: three, exp: inSeconds(5) });
  const res = await page.goto(base + '?access_token=' + tok);
  assert.equal(res.status(), 200);

  await page.waitForFunction((n) => {
    const cells = [...document.querySelectorAll('tr[data-symbol] [data-field="price"]')];
    return cells.length === n && cells.every((c) => c.textContent.trim() !== '');
  }, 3, { timeout: 10000, polling: 100 });
  assert.deepEqual(Object.keys(await rows()).sort(), three);
  const first = await rows();
  await page.waitForFunction((b) => [...document.querySelectorAll('tr[data-symbol]')].some(
    (r) => r.querySelector('[data-field="price"]').textContent.trim() !== b[r.dataset.symbol]), first, { timeout: 10000, polling: 100 });
  assert.ok(streams.length >= 1 && new URL(streams[0]).searchParams.get('access_token') === tok, 'the stream carries the token');
  assert.equal(await page.$eval('#stream-url', (el, t) => el.textContent.includes(t), tok), false, 'the page does not show the token');

  // The market data works behind the token too: sizes from quotes, the
  // clock, candles with history from /v1/bars (sent with the token).
  await page.waitForFunction(() => [...document.querySelectorAll('tr[data-symbol] [data-field="bidSize"]')]
    .every((c) => /^\d/.test(c.textContent.trim())), null, { timeout: 5000, polling: 100 });
  await page.waitForFunction(() => !document.querySelector('#market').hidden, null, { timeout: 5000 });
  await page.waitForFunction(() => Number(document.querySelector('#chart').dataset.bars) >= 1, null, { timeout: 5000, polling: 100 });
  assert.ok(barRequests.some((r) => r.url.includes('/v1/bars')) && barRequests.some((r) => r.url.includes('/v1/market')), JSON.stringify(barRequests));
  assert.ok(barRequests.every((r) => r.auth === 'Bearer ' + tok && !r.url.includes(tok)), 'history and market asked with Authorization: Bearer');

  // Hand over a fresh token before the first expires; the stream ends at
  // exp (about 5 s) and feed.js reopens it with the new one, from its id.
  const fresh = jwt({ symbols: three, exp: inSeconds(300) });
  await page.evaluate((t) => window.tickcast.setToken(t), fresh);
  await page.waitForFunction(() => document.querySelector('#n-conns').textContent.trim() === '2', null, { timeout: 15000, polling: 100 });
  const reopened = new URL(streams[streams.length - 1]);
  assert.equal(reopened.searchParams.get('access_token'), fresh);
  assert.ok(reopened.searchParams.get('lastEventId'), 'reopened from the last id');
  const after = await rows();
  await page.waitForFunction((b) => [...document.querySelectorAll('tr[data-symbol]')].some(
    (r) => r.querySelector('[data-field="price"]').textContent.trim() !== b[r.dataset.symbol]), after, { timeout: 10000, polling: 100 });
  await page.waitForFunction(() => /live|resumed/.test(document.querySelector('#conn-state').textContent), null, { timeout: 10000, polling: 100 });
  assert.equal(await page.$eval('#gaps', (el) => Number(el.dataset.count)), 0, 'no gap across the token change');
  assert.equal(await page.$eval('#n-resets', (el) => el.textContent.trim()), '0', 'resumed, not reset');
  assert.doesNotMatch(out, new RegExp(tok.split('.')[2]), 'the token is not in the server log');
});

test('no console errors', () => {
  assert.deepEqual(consoleErrors, []);
});
