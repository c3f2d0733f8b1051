// The nginx configuration of docs/deploy.md, against a real nginx (Debian's,
// installed by setup.sh when missing). The configuration is the docs' own
// ```nginx block, read from the markdown at test time; only the upstream
// addresses, the listen port, the certificate paths and what an
// unprivileged nginx in a temporary prefix needs are substituted, so the
// docs and this test cannot drift apart.
//
// Set-up, as in the docs' "Try it locally": `tickcast serve --nats-listen`
// (NATS, the simulator, a gateway), and two `tickcast gateway` processes on
// its NATS, which are nginx's upstream; nginx serves TLS with HTTP/2 on
// 127.0.0.1 with a self-signed certificate made here.
//
// Checks:
//   (a) no buffering: the same event read through nginx and straight from
//       the gateway nginx chose, time-stamped in this process;
//   (d) an idle stream (a halted symbol) stays open through nginx across
//       several heartbeat intervals (--heartbeat 1s), comments arriving;
//   (c) Chromium gets HTTP/2 over TLS from nginx: 8 EventSources on one
//       origin (over HTTP/1.1 only 6 could be open), each receiving ticks;
//   (b) round robin, and a client resumes on the other gateway through
//       nginx with nothing lost when its gateway is stopped (SIGTERM).
//
//   cd test/nginx && npm ci && TICKCAST_BIN=/path/to/tickcast npm test
//
// Without TICKCAST_BIN the test builds ./cmd/tickcast. NGINX and CHROMIUM
// override the binaries (default: nginx on PATH or /usr/sbin/nginx,
// /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { checkLog, selfTest, parseId } from '../clients/lib.mjs';
import {
  sleep, waitFor, freePort, tickcastBin, nginxBin, start, stop, healthy, metric,
  docsNginxBlock, nginxConf, selfSignedCert, streamH1, h2Session, streamH2, h2Get, quantile,
} from './lib.mjs';

const HEARTBEAT_MS = 1000;
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--ignore-certificate-errors',
];

const env = {};

before(async () => {
  env.work = await mkdtemp(path.join(tmpdir(), 'tc-nginx-'));
  await chmod(env.work, 0o755); // nginx's workers run as nobody when the test is root
  const bin = tickcastBin(env.work);
  const natsPort = await freePort();
  env.serve = await start('tickcast serve', bin, [
    'serve', '--nats-listen', `127.0.0.1:${natsPort}`, '--addr', '127.0.0.1:0',
    '--data', path.join(env.work, 'data'), '--rate', '200', '--symbols', '5', '--seed', '1',
  ], { ready: /serving (http:\/\/127\.0\.0\.1:\d+)/ });
  env.serveUrl = env.serve.ready[1];
  await healthy(env.serveUrl);
  env.symbols = (await (await fetch(env.serveUrl + '/v1/symbols')).json()).map((s) => s.symbol);
  assert.equal(env.symbols.length, 5);

  env.gw = [];
  for (const name of ['A', 'B']) {
    const port = await freePort();
    const g = await start(`gateway ${name}`, bin, [
      'gateway', '--nats', `nats://127.0.0.1:${natsPort}`, '--addr', `127.0.0.1:${port}`,
      '--heartbeat', `${HEARTBEAT_MS}ms`, '--shutdown-spread', '500ms',
    ], { ready: /serving (http:\/\/127\.0\.0\.1:\d+)/ });
    g.url = g.ready[1];
    g.addr = `127.0.0.1:${port}`;
    g.gwName = name;
    env.gw.push(g);
    await healthy(g.url);
  }

  const prefix = path.join(env.work, 'nginx');
  await mkdir(prefix);
  env.prefix = prefix;
  const { cert, key } = selfSignedCert(env.work);
  env.ca = await readFile(cert);
  env.tlsPort = await freePort();
  env.block = docsNginxBlock();
  const conf = nginxConf(env.block, {
    upstreams: env.gw.map((g) => g.addr), listenPort: env.tlsPort, cert, key, prefix,
  });
  env.conf = path.join(prefix, 'nginx.conf');
  await writeFile(env.conf, conf);
  const nginx = nginxBin();
  const nargs = ['-p', prefix, '-c', env.conf, '-e', path.join(prefix, 'error.log')];
  // The docs' configuration loads, and without a warning.
  const t = spawnSync(nginx, ['-t', ...nargs], { encoding: 'utf8', timeout: 10000 });
  assert.equal(t.status, 0, `nginx -t rejects the configuration from docs/deploy.md:\n${t.stderr}\n${conf}`);
  assert.doesNotMatch(t.stderr, /\[(warn|emerg|alert|crit|error)\]/, `nginx -t:\n${t.stderr}\n${conf}`);
  env.nginxVersion = spawnSync(nginx, ['-v'], { encoding: 'utf8', timeout: 10000 }).stderr.trim();
  env.nginx = await start('nginx', nginx, nargs);
  env.origin = `https://127.0.0.1:${env.tlsPort}`;
  env.session = await waitFor(async () => {
    if (env.nginx.proc.exitCode !== null) throw new Error(`nginx exited:\n${env.nginx.out}`);
    try { return await h2Session(env.origin, env.ca); } catch { return null; }
  }, 10000, 'nginx accepting TLS', 50);
  const h = await h2Get(env.session, '/healthz');
  assert.equal(h.status, 200, `/healthz through nginx: ${h.status} ${h.body}`);
  console.log(`${env.nginxVersion}; gateways ${env.gw.map((g) => g.addr).join(', ')}; TLS on ${env.tlsPort}`);
}, { timeout: 60000 });

after(async () => {
  if (env.session) env.session.destroy();
  await stop(env.nginx, 'SIGQUIT'); // nginx's graceful stop
  for (const g of env.gw || []) await stop(g);
  await stop(env.serve);
  if (env.work) await rm(env.work, { recursive: true, force: true }).catch(() => {});
}, { timeout: 60000 });

test('the docs\' configuration: loads without a warning; /metrics denied, the API passed through', { timeout: 20000 }, async () => {
  // (nginx -t ran in before(): status 0, no [warn].)
  const m = await h2Get(env.session, '/metrics');
  assert.equal(m.status, 403, '/metrics through nginx');
  assert.equal((await fetch(env.gw[0].url + '/metrics')).status, 200, '/metrics straight from a gateway');
  const snap = await h2Get(env.session, `/v1/snapshot?symbols=${env.symbols[0]}`);
  assert.equal(snap.status, 200);
  assert.ok(parseId(JSON.parse(snap.body).id), `snapshot id: ${snap.body}`);
  const sym = await h2Get(env.session, '/v1/symbols');
  assert.equal(JSON.parse(sym.body).length, 5);
});

// connections reads tickcast_connections from each gateway straight.
async function connections() {
  return Promise.all(env.gw.map((g) => (g.proc.exitCode === null ? metric(g.url, 'tickcast_connections') : 0)));
}

test('(a) no buffering: an event comes through nginx within 100 ms of coming straight from the gateway', { timeout: 30000 }, async () => {
  const sym = env.symbols[0];
  const q = `/v1/stream?symbols=${sym}`;
  const direct = env.gw.map((g) => streamH1(g.url + q));
  const via = [];
  try {
    await Promise.all(direct.map((s) => s.responded));
    await waitFor(() => direct.every((s) => s.events.length > 0), 10000, 'direct streams started');
    await waitFor(async () => (await connections()).every((n) => n === 1), 5000, 'one direct connection per gateway');
    via.push(streamH2(env.session, q, { 'accept-encoding': 'gzip, deflate, br' }));
    const s = via[0];
    await s.responded;
    assert.equal(s.status, 200);
    assert.equal(s.headers['content-type'], 'text/event-stream');
    assert.equal(s.headers['cache-control'], 'no-cache');
    assert.equal(s.headers['content-encoding'], undefined, 'not compressed (the http block has gzip on for text/event-stream)');
    // Which gateway nginx chose: the one with two connections now.
    const conns = await waitFor(async () => { const c = await connections(); return c[0] + c[1] === 3 && c; }, 5000, 'nginx connection at a gateway');
    const chosen = conns.indexOf(2);
    await sleep(2500);
    for (const x of [...direct, s]) x.close();

    const byId = (st) => new Map(st.events.filter((e) => e.type === 'tick').map((e) => [e.id, e]));
    const ref = byId(direct[chosen]);
    const other = byId(direct[1 - chosen]);
    const d = [];
    const dOther = [];
    for (const e of s.events.filter((x) => x.type === 'tick')) {
      const r = ref.get(e.id);
      if (!r) continue;
      assert.equal(e.data, r.data, `same data for id ${e.id}`);
      d.push(e.at - r.at);
      if (other.has(e.id)) dOther.push(e.at - other.get(e.id).at);
    }
    d.sort((x, y) => x - y);
    dOther.sort((x, y) => x - y);
    const f = (v) => v.toFixed(2);
    console.log(`(a) ${d.length} ${sym} ticks through nginx (h2, gateway ${env.gw[chosen].gwName}) vs straight from that gateway: ` +
      `added delay p50 ${f(quantile(d, 0.5))} ms, p99 ${f(quantile(d, 0.99))} ms, max ${f(d[d.length - 1])} ms, min ${f(d[0])} ms; ` +
      `vs the other gateway p50 ${f(quantile(dOther, 0.5))} ms, max ${f(dOther[dOther.length - 1])} ms`);
    assert.ok(d.length >= 50, `matched ticks: ${d.length}`);
    assert.ok(quantile(d, 0.99) <= 100, `p99 nginx-added delay ${quantile(d, 0.99)} ms > 100 ms`);
  } finally {
    for (const x of [...direct, ...via]) x.close();
  }
});

test('(d) an idle stream stays open through nginx across several heartbeats', { timeout: 30000 }, async () => {
  const sym = env.symbols[4];
  const post = (body) => fetch(env.serveUrl + '/v1/sim/scenario', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const r = await post({ name: 'halt', symbol: sym, duration: '30s' });
  assert.equal(r.status, 200, await r.text());
  const s = streamH2(env.session, `/v1/stream?symbols=${sym}`);
  try {
    await s.responded;
    assert.equal(s.status, 200);
    // The halt starts at the symbol's next tick: a tick with "halted".
    const halted = (e) => {
      const d = JSON.parse(e.data);
      const ticks = e.type === 'snapshot' ? d.ticks : [d];
      return ticks.some((t) => t.symbol === sym && t.status === 'halted');
    };
    await waitFor(() => s.events.some(halted), 10000, `${sym} halted`);
    const from = s.events.length;
    const t0 = s.chunks[s.chunks.length - 1].at;
    const watch = 4.5 * HEARTBEAT_MS;
    await sleep(watch);
    const c0 = s.comments.filter((c) => c.at > t0);
    assert.ok(!s.closed, `stream closed: ${JSON.stringify(s.error)}`);
    const ticksAfter = s.events.slice(from);
    // Silence: the longest time without a byte, from the halt to now.
    const times = [t0, ...s.chunks.filter((c) => c.at > t0).map((c) => c.at), performance.now()];
    let longest = 0;
    for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i] - times[i - 1]);
    const gaps = c0.map((c, i) => (i ? c.at - c0[i - 1].at : c.at - t0).toFixed(0));
    console.log(`(d) ${sym} halted, stream through nginx open for ${(watch / 1000).toFixed(1)} s (${(watch / HEARTBEAT_MS).toFixed(1)} heartbeat intervals of ${HEARTBEAT_MS} ms): ` +
      `${c0.length} comment line(s) ${JSON.stringify([...new Set(c0.map((c) => c.text))])}, spaced ${gaps.join(', ')} ms; longest silence ${longest.toFixed(0)} ms; ${ticksAfter.length} event(s)`);
    assert.equal(ticksAfter.length, 0, 'no ticks of a halted symbol');
    assert.ok(c0.length >= 4, `comments in ${watch} ms: ${c0.length}`);
    assert.ok(c0.every((c) => c.text.startsWith(':')));
    assert.ok(longest <= 1.5 * HEARTBEAT_MS, `longest silence ${longest} ms with --heartbeat ${HEARTBEAT_MS}ms`);
  } finally {
    s.close();
    await post({ name: 'normal' }).catch(() => {});
  }
});

test('(c) Chromium gets HTTP/2 with TLS from nginx: 8 EventSources on one origin all receive ticks', { timeout: 45000 }, async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, timeout: 30000,
  });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const responses = [];
    cdp.on('Network.responseReceived', (e) => responses.push({ url: e.response.url, status: e.response.status, protocol: e.response.protocol }));

    const res = await page.goto(env.origin + '/healthz');
    assert.equal(res.status(), 200);
    const s = env.symbols;
    const urls = [...s.map((x) => `/v1/stream?symbols=${x}`), `/v1/stream?symbols=${s[0]},${s[1]}`, `/v1/stream?symbols=${s[2]},${s[3]}`, '/v1/stream'];
    assert.equal(urls.length, 8);
    await page.evaluate((list) => {
      window.__es = list.map((u) => {
        const st = { url: u, open: false, log: [], errors: 0 };
        const es = new EventSource(u);
        st.src = es;
        es.onopen = () => { st.open = true; };
        es.onerror = () => { st.errors++; };
        for (const type of ['snapshot', 'tick', 'reset']) es.addEventListener(type, (e) => st.log.push({ conn: 0, type, id: e.lastEventId, data: e.data }));
        return st;
      });
    }, urls);
    await page.waitForFunction(() => window.__es.every((st) => st.open && st.log.filter((e) => e.type === 'tick').length >= 5), null, { timeout: 15000 });
    const protocols = await page.evaluate(async () => {
      await (await fetch('/v1/snapshot')).json();
      const nav = performance.getEntriesByType('navigation')[0];
      const snap = performance.getEntriesByType('resource').find((e) => e.name.includes('/v1/snapshot'));
      return { navigation: nav && nav.nextHopProtocol, snapshot: snap && snap.nextHopProtocol };
    });
    const st = await page.evaluate(() => window.__es.map((x) => { x.src.close(); return { url: x.url, log: x.log, errors: x.errors }; }));
    const streams = responses.filter((r) => r.url.includes('/v1/stream'));
    let curl = 'curl not run';
    try {
      curl = execFileSync('curl', ['-sk', '--http2', '--max-time', '1', '-o', '/dev/null', '-w', 'HTTP/%{http_version} %{response_code}',
        env.origin + `/v1/stream?symbols=${s[0]}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch (err) { curl = String(err.stdout || '').trim() || 'curl failed'; } // --max-time ends the stream with exit 28
    console.log(`(c) chromium: page nextHopProtocol ${protocols.navigation}, fetch ${protocols.snapshot}; ` +
      `${streams.length} EventSource responses: ${[...new Set(streams.map((r) => `${r.status} ${r.protocol}`))].join(', ')}; ` +
      `ticks per stream ${st.map((x) => x.log.filter((e) => e.type === 'tick').length).join(', ')}; curl --http2: ${curl}`);
    assert.equal(protocols.navigation, 'h2');
    assert.equal(protocols.snapshot, 'h2');
    assert.equal(streams.length, 8, JSON.stringify(responses));
    for (const r of streams) {
      assert.equal(r.status, 200, r.url);
      assert.equal(r.protocol, 'h2', r.url);
    }
    for (const x of st) {
      assert.equal(x.errors, 0, `${x.url}: EventSource errors`);
      const { errors } = checkLog(x.log);
      assert.deepEqual(errors, [], `${x.url}: contiguity`);
    }
    if (curl !== 'curl not run' && curl !== 'curl failed') assert.match(curl, /^HTTP\/2 200/);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close().catch(() => {});
  }
});

test('(b) round robin, and a resume on the other gateway through nginx when the first is stopped, nothing lost', { timeout: 45000 }, async () => {
  const log = [];
  const record = (s, conn) => () => s.events.filter((e) => ['snapshot', 'tick', 'reset'].includes(e.type)).map((e) => ({ conn, type: e.type, id: e.id, data: e.data }));
  await waitFor(async () => (await connections()).every((n) => n === 0), 5000, 'no connections left from earlier tests');
  const accessLog = async () => (await readFile(path.join(env.prefix, 'access.log'), 'utf8')).split('\n').filter((l) => l.includes('"GET /v1/stream HTTP/2.0"'));
  const before = (await accessLog()).length;

  // Two streams through nginx at once land on different gateways.
  const s0 = streamH2(env.session, '/v1/stream');
  await s0.responded;
  assert.equal(s0.status, 200);
  const first = await waitFor(async () => { const c = await connections(); return c[0] + c[1] === 1 && c; }, 5000, 'stream 0 at a gateway');
  const x = first.indexOf(1); // the gateway holding stream 0
  const other = streamH2(env.session, '/v1/stream?symbols=' + env.symbols[0]);
  await other.responded;
  const both = await waitFor(async () => { const c = await connections(); return c[0] + c[1] === 2 && c; }, 5000, 'second stream at a gateway');
  other.close();
  assert.deepEqual(both, [1, 1], 'round robin: the second stream went to the other gateway');

  await sleep(1500);
  // Stop the gateway holding stream 0 (a rolling restart): it ends the
  // stream after a complete event; the client resumes through nginx.
  const stoppedAt = performance.now();
  const exit = await stop(env.gw[x]);
  assert.deepEqual(exit, { code: 0, sig: null }, `gateway ${env.gw[x].gwName} exit\n${env.gw[x].out.slice(-2000)}`);
  await Promise.race([s0.done, sleep(3000)]);
  assert.ok(s0.closed, 'stream 0 ended by the gateway shutdown');
  log.push(...record(s0, 0)());
  const held0 = log[log.length - 1].id;

  // Two resumes in a row, each from the last id held, both through nginx.
  const resumes = [];
  let held = held0;
  for (const conn of [1, 2]) {
    const s = streamH2(env.session, '/v1/stream', { 'last-event-id': held });
    await s.responded;
    assert.equal(s.status, 200, `resume ${conn}`);
    await waitFor(() => s.events.length >= 20, 10000, `resume ${conn}: events`);
    await sleep(500);
    s.close();
    const got = record(s, conn)();
    assert.equal(got[0].type, 'tick', `resume ${conn} starts with a tick, not a snapshot or reset`);
    assert.ok(parseId(got[0].id).seq > parseId(held).seq, `resume ${conn}: first id ${got[0].id} after ${held}`);
    log.push(...got);
    resumes.push({ conn, from: held, first: got[0].id, events: got.length });
    held = got[got.length - 1].id;
  }
  const gap = performance.now() - stoppedAt;

  const { errors, stats } = checkLog(log);
  assert.deepEqual(errors, [], 'contiguity across the two gateways');
  assert.equal(stats.resets, 0);
  assert.equal(stats.duplicates, 0, 'a resume from an exact id repeats nothing');
  assert.equal(stats.connections, 3);
  assert.equal(stats.symbols, 5);
  assert.deepEqual(selfTest(log), []);

  // nginx's access log: which upstream served each stream request (a
  // request retried on another upstream lists both, the failed one first).
  const y = 1 - x;
  const access = await waitFor(async () => {
    const lines = await accessLog(); // stream 0, then the two resumes
    return lines.length >= before + 3 && lines.slice(-2);
  }, 5000, 'access log lines of the resumes');
  const ups = access.map((l) => l.match(/upstream=(.*) upstream_status=(\S.*) time=/)).map((m) => ({ addr: m[1], status: m[2] }));
  const errorLog = await readFile(path.join(env.prefix, 'error.log'), 'utf8');
  const refused = errorLog.split('\n').filter((l) => /\[error\].*upstream/.test(l) && l.includes(env.gw[x].addr));
  console.log(`(b) stream 0 on gateway ${env.gw[x].gwName} (${stats.perConn[0].events} events), gateway stopped; resumes ${JSON.stringify(resumes)}; ` +
    `nginx upstreams of the resumes: ${ups.map((u) => `${u.addr} [${u.status}]`).join(' | ')}; ` +
    `nginx's error log: ${JSON.stringify(refused.map((l) => l.replace(/^.*\[error\] \S+ /, '').replace(/, client:.*$/, '')))}; ${stats.ticks} ticks, ${stats.merged} merged, ${stats.duplicates} duplicates, 0 gaps, 0 resets; ` +
    `stop to second resume done ${gap.toFixed(0)} ms`);
  for (const u of ups) assert.ok(u.addr.endsWith(env.gw[y].addr), `resume served by the running gateway ${env.gw[y].addr}: ${u.addr}`);
  // Round robin sends the first resume to the stopped gateway; nginx
  // retries it on the other (proxy_next_upstream error).
  assert.equal(ups[0].addr, `${env.gw[x].addr}, ${env.gw[y].addr}`, 'first resume retried on the other gateway');
  assert.ok(refused.length >= 1, 'nginx logged the failed attempt at the stopped gateway');
});
