// Helpers for the nginx test: child processes (tickcast, nginx) with
// bounded waits, the nginx configuration taken from docs/deploy.md, a
// self-signed certificate, and SSE readers over HTTP/1.1 (straight to a
// gateway) and HTTP/2 with TLS (through nginx) that time-stamp every event
// and comment as it arrives.

import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');
export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
export const now = () => performance.now();

// withTimeout rejects when p has not settled within ms.
export function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, fail) => { t = setTimeout(() => fail(new Error(`${what}: not within ${ms}ms`)), ms); }),
  ]);
}

// waitFor polls fn until it returns a truthy value (bounded).
export async function waitFor(fn, ms, what, every = 25) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms}ms`);
    await sleep(every);
  }
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
export function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
  });
}

// tickcastBin returns $TICKCAST_BIN, or builds ./cmd/tickcast into dir.
export function tickcastBin(dir) {
  if (process.env.TICKCAST_BIN) return process.env.TICKCAST_BIN;
  const out = path.join(dir, 'tickcast');
  execFileSync('go', ['build', '-o', out, './cmd/tickcast'], { cwd: repo, stdio: 'inherit' });
  return out;
}

// nginxBin: $NGINX, nginx on PATH, or Debian's /usr/sbin/nginx.
export function nginxBin() {
  if (process.env.NGINX) return process.env.NGINX;
  for (const dir of (process.env.PATH || '').split(':').concat('/usr/sbin')) {
    const p = path.join(dir || '.', 'nginx');
    if (existsSync(p)) return p;
  }
  throw new Error('nginx not found (setup.sh installs it)');
}

// start runs a child process and resolves once its combined output matches
// ready (the match is returned as p.ready). Output is kept for messages.
export async function start(name, bin, args, { ready, timeout = 20000 } = {}) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { name, proc, args, out: '', ready: null };
  p.exited = new Promise((ok) => proc.on('exit', (code, sig) => ok({ code, sig })));
  const waiters = [];
  const keep = (b) => {
    p.out = (p.out + b).slice(-30000);
    for (const w of waiters) w();
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  if (!ready) return p;
  try {
    p.ready = await new Promise((ok, fail) => {
      const t = setTimeout(() => fail(new Error(`${name}: not ready within ${timeout}ms:\n${p.out}`)), timeout);
      const check = () => { const m = p.out.match(ready); if (m) { clearTimeout(t); ok(m); } };
      waiters.push(check);
      check();
      p.exited.then(({ code, sig }) => { clearTimeout(t); fail(new Error(`${name} exited (${code ?? sig}) before it was ready:\n${p.out}`)); });
    });
  } catch (err) {
    await stop(p);
    throw err;
  }
  return p;
}

// stop sends SIGTERM and waits for the exit (SIGKILL after 15 s). Safe to
// call on a process that is gone, or on undefined.
export async function stop(p, signal = 'SIGTERM') {
  if (!p || !p.proc) return null;
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return p.exited;
  try { p.proc.kill(signal); } catch { /* gone */ }
  const t = setTimeout(() => { try { p.proc.kill('SIGKILL'); } catch { /* gone */ } }, 15000);
  const res = await p.exited;
  clearTimeout(t);
  return res;
}

// healthy waits for 200 on url + /healthz.
export async function healthy(url, ms = 15000) {
  await waitFor(async () => {
    try { return (await fetch(url + '/healthz')).ok; } catch { return false; }
  }, ms, `${url}/healthz 200`, 100);
}

// metric reads one unlabelled gauge or counter from a gateway's /metrics.
export async function metric(url, name) {
  const body = await (await fetch(url + '/metrics')).text();
  const m = body.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  if (!m) throw new Error(`${name} not in ${url}/metrics`);
  return Number(m[1]);
}

// docsNginxBlock returns the nginx configuration of docs/deploy.md: the
// first ```nginx block of its "## nginx" section, as written.
export function docsNginxBlock(file = path.join(repo, 'docs/deploy.md')) {
  const md = readFileSync(file, 'utf8');
  const sec = md.split(/^## /m).find((s) => /^nginx\s*$/m.test(s.split('\n')[0]));
  if (!sec) throw new Error(`${file}: no "## nginx" section`);
  const m = sec.match(/^```nginx\n([\s\S]*?)^```$/m);
  if (!m) throw new Error(`${file}: no \`\`\`nginx block in the nginx section`);
  return m[1];
}

// replaceEach applies re to text, requiring exactly want matches, so that a
// change to the docs that this test would no longer understand fails loudly
// instead of testing something else.
function replaceEach(text, re, want, fn, what) {
  let n = 0;
  const out = text.replace(re, (...a) => fn(n++, ...a));
  if (n !== want) throw new Error(`docs nginx block: ${what}: ${n} match(es), want ${want}:\n${text}`);
  return out;
}

// nginxConf turns the docs' block into a runnable nginx.conf. Only these
// change: the upstream server addresses (the `server host:port` lines of
// the upstream block), the listen port (on 127.0.0.1), the certificate
// paths; around it go what an unprivileged nginx in a temporary prefix
// needs (pid, logs, temp paths) and the events/http wrapping the docs
// leave to the reader's nginx.conf, with gzip on for text/event-stream so
// that the docs' `gzip off` is put to the test. Everything else is the
// docs' text.
export function nginxConf(block, { upstreams, listenPort, cert, key, prefix }) {
  let b = block;
  b = b.replace(/(upstream\s+\S+\s*\{)([^}]*)\}/, (all, head, body) => {
    const nb = replaceEach(body, /^(\s*server\s+)\S+/gm, upstreams.length, (i, _m, lead) => `${lead}${upstreams[i]}`, 'upstream servers');
    return `${head}${nb}}`;
  });
  b = replaceEach(b, /^(\s*listen\s+)\d+\b/gm, 1, (_i, _m, lead) => `${lead}127.0.0.1:${listenPort}`, 'listen');
  b = replaceEach(b, /^(\s*ssl_certificate\s+)[^;\s]+;/gm, 1, (_i, _m, lead) => `${lead}${cert};`, 'ssl_certificate');
  b = replaceEach(b, /^(\s*ssl_certificate_key\s+)[^;\s]+;/gm, 1, (_i, _m, lead) => `${lead}${key};`, 'ssl_certificate_key');
  const p = (f) => path.join(prefix, f);
  return `# generated by test/nginx from the nginx block of docs/deploy.md
daemon off;
master_process on;
worker_processes 1;
pid ${p('nginx.pid')};
error_log ${p('error.log')} info;
events { worker_connections 1024; }
http {
    log_format up '$remote_addr "$request" $status $server_protocol upstream=$upstream_addr upstream_status=$upstream_status time=$request_time';
    access_log ${p('access.log')} up;
    # As a stock nginx.conf may have it (Debian's has gzip on): the docs'
    # "gzip off" for the stream must hold against it.
    gzip on;
    gzip_types text/event-stream application/json;
    client_body_temp_path ${p('client_body')};
    proxy_temp_path ${p('proxy')};
    fastcgi_temp_path ${p('fastcgi')};
    uwsgi_temp_path ${p('uwsgi')};
    scgi_temp_path ${p('scgi')};

# ---- docs/deploy.md ----
${b}# ---- end of docs/deploy.md ----
}
`;
}

// selfSignedCert makes an EC P-256 certificate for 127.0.0.1 in dir.
export function selfSignedCert(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { cert, key };
}

// sseParser feeds raw body text and calls onEvent({id, type, data, at}) for
// each dispatched event and onComment({text, at}) for each comment line.
// Events with no data are not dispatched (the retry: preamble).
function sseParser(onEvent, onComment) {
  let buf = '';
  let cur = { id: '', type: '', data: [] };
  return (text, at) => {
    buf += text;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      if (line === '') {
        if (cur.data.length) onEvent({ id: cur.id, type: cur.type || 'message', data: cur.data.join('\n'), at });
        cur = { id: '', type: '', data: [] };
      } else if (line.startsWith(':')) {
        onComment({ text: line, at });
      } else {
        const c = line.indexOf(':');
        const f = c < 0 ? line : line.slice(0, c);
        let v = c < 0 ? '' : line.slice(c + 1);
        if (v.startsWith(' ')) v = v.slice(1);
        if (f === 'id') cur.id = v;
        else if (f === 'event') cur.type = v;
        else if (f === 'data') cur.data.push(v);
      }
    }
  };
}

// A stream records what arrives: events, comments, raw chunks, each with
// its arrival time (performance.now(), ms). s.done resolves at the end of
// the body ({ended: true}) or on an error ({error}).
function newStream(label) {
  const s = { label, status: 0, headers: {}, events: [], comments: [], chunks: [], bytes: 0, closed: false, error: null, openedAt: now() };
  s.feed = sseParser((e) => s.events.push(e), (c) => s.comments.push(c));
  s.done = new Promise((ok) => { s.finish = (r) => { if (!s.closed) { s.closed = true; s.endedAt = now(); ok(r); } }; });
  s.onData = (b) => {
    const at = now();
    const text = b.toString('utf8');
    s.bytes += b.length;
    s.chunks.push({ at, text });
    s.feed(text, at);
  };
  return s;
}

// streamH1 opens an SSE stream over plain HTTP/1.1 (straight to a gateway).
export function streamH1(url, headers = {}) {
  const s = newStream(url);
  const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
    s.status = res.statusCode;
    s.headers = res.headers;
    s.httpVersion = res.httpVersion;
    res.on('data', s.onData);
    res.on('end', () => s.finish({ ended: true }));
    res.on('error', (error) => { s.error = error; s.finish({ error }); });
  });
  req.on('error', (error) => { s.error = error; s.finish({ error }); });
  s.close = () => { req.destroy(); s.finish({ closed: true }); };
  s.responded = waitFor(() => s.status || s.closed, 10000, `response from ${url}`);
  return s;
}

// h2Session connects to an HTTP/2 server with TLS, trusting ca.
export async function h2Session(origin, ca) {
  const session = http2.connect(origin, { ca });
  session.on('error', () => {});
  await withTimeout(new Promise((ok, fail) => { session.once('connect', ok); session.once('error', fail); }), 10000, `h2 connect to ${origin}`);
  return session;
}

// streamH2 opens an SSE stream as one HTTP/2 stream of session.
export function streamH2(session, pathAndQuery, headers = {}) {
  const s = newStream(pathAndQuery);
  const req = session.request({ ':path': pathAndQuery, accept: 'text/event-stream', ...headers });
  req.on('response', (h) => { s.status = h[':status']; s.headers = h; s.httpVersion = '2'; });
  req.on('data', s.onData);
  req.on('end', () => s.finish({ ended: true }));
  req.on('error', (error) => { s.error = error; s.finish({ error }); });
  req.on('close', () => s.finish({ ended: true }));
  s.close = () => { req.close(http2.constants.NGHTTP2_CANCEL); s.finish({ closed: true }); };
  s.responded = waitFor(() => s.status || s.closed, 10000, `h2 response for ${pathAndQuery}`);
  return s;
}

// h2Get fetches a small resource over an HTTP/2 session: {status, headers, body}.
export function h2Get(session, pathAndQuery, headers = {}) {
  return withTimeout(new Promise((ok, fail) => {
    const req = session.request({ ':path': pathAndQuery, ...headers });
    let h = {};
    let body = '';
    req.on('response', (x) => { h = x; });
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => ok({ status: h[':status'], headers: h, body }));
    req.on('error', fail);
  }), 10000, `h2 GET ${pathAndQuery}`);
}

// quantile of a sorted array (nearest rank).
export function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
