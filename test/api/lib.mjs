// Helpers for the API description tests: run `tickcast serve`, read an
// SSE stream with fetch (recording events, retry lines and comments),
// load the JSON Schemas into Ajv, and walk $refs.

import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');
export const apiDir = path.join(repo, 'api');
export const schemaDir = path.join(apiDir, 'schemas');

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// withTimeout rejects when p has not settled within ms.
export function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, fail) => { t = setTimeout(() => fail(new Error(`${what}: no answer within ${ms} ms`)), ms); }),
  ]);
}

// tickcastBin returns $TICKCAST_BIN, or builds ./cmd/tickcast.
export function tickcastBin() {
  if (process.env.TICKCAST_BIN) return process.env.TICKCAST_BIN;
  const out = path.join(tmpdir(), `tickcast-api-test-${process.pid}`);
  execFileSync('go', ['build', '-o', out, './cmd/tickcast'], { cwd: repo, stdio: 'inherit' });
  return out;
}

// startServer runs `tickcast serve --memory` on a free port and resolves
// once it has printed its URL and /healthz answers 200.
export async function startServer(bin, extra = []) {
  const args = ['serve', '--memory', '--addr', '127.0.0.1:0', '--rate', '500', '--symbols', '5', '--seed', '1', ...extra];
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const s = { proc, args, out: '', url: '' };
  const keep = (b) => { s.out = (s.out + b).slice(-20000); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  s.exited = new Promise((ok) => proc.on('exit', (code, sig) => ok({ code, sig })));
  try {
    let stdout = '';
    s.url = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`no URL on stdout within 20s:\n${s.out}`)), 20000);
      proc.stdout.on('data', (b) => {
        stdout += b;
        const m = stdout.match(/http:\/\/127\.0\.0\.1:(\d+)/);
        if (m) { clearTimeout(timer); ok(m[0]); }
      });
      proc.on('exit', (code) => { clearTimeout(timer); fail(new Error(`tickcast exited (${code}) before printing its URL:\n${s.out}`)); });
    });
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(s.url + '/healthz', { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        if (r.ok) break;
      } catch { /* not yet */ }
      if (i > 100) throw new Error(`/healthz not 200 within 10s:\n${s.out}`);
      await sleep(100);
    }
  } catch (err) {
    await stopServer(s);
    throw err;
  }
  return s;
}

// stopServer sends SIGTERM and waits for the exit (SIGKILL after 10s).
export async function stopServer(s) {
  if (!s || !s.proc) return;
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return s.exited;
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => { try { s.proc.kill('SIGKILL'); } catch { /* gone */ } }, 10000);
  const res = await s.exited;
  clearTimeout(t);
  return res;
}

// get fetches url and returns {status, headers, text, json}, bounded.
export async function request(url, init = {}) {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(10000) });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, text, json };
}

// readStream opens an SSE stream and records what arrives until
// until(rec) is true (checked after each event or comment) or timeoutMs
// passes (an error). rec: {status, headers, events: [{event, id, data,
// raw}], retries: [ms], comments: [text], lines: first raw lines}.
// onEvent(ev, rec) is called for each event.
export async function readStream(url, { headers = {}, until, timeoutMs = 10000, onEvent } = {}) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error('timeout')), timeoutMs);
  const rec = { status: 0, headers: null, events: [], retries: [], comments: [], lines: [] };
  try {
    const r = await fetch(url, { headers, signal: ac.signal });
    rec.status = r.status;
    rec.headers = r.headers;
    if (r.status !== 200) {
      rec.text = await r.text();
      return rec;
    }
    const dec = new TextDecoder();
    let buf = '';
    let cur = { event: '', id: undefined, data: [] };
    let done = false;
    const reader = r.body.getReader();
    while (!done) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (ac.signal.aborted) throw new Error(`stream ${url}: condition not met within ${timeoutMs} ms (${rec.events.length} events, ${rec.comments.length} comments)`);
        throw err;
      }
      if (chunk.done) break;
      buf += dec.decode(chunk.value, { stream: true });
      let i;
      while (!done && (i = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + (buf.startsWith('\r\n', i) ? 2 : 1));
        if (rec.lines.length < 8) rec.lines.push(line);
        if (line === '') {
          if (cur.data.length > 0) {
            const ev = { event: cur.event || 'message', id: cur.id, data: cur.data.join('\n') };
            rec.events.push(ev);
            if (onEvent) onEvent(ev, rec);
            if (until && until(rec)) done = true;
          }
          cur = { event: '', id: undefined, data: [] };
          continue;
        }
        if (line.startsWith(':')) {
          rec.comments.push(line);
          if (until && until(rec)) done = true;
          continue;
        }
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        let value = c < 0 ? '' : line.slice(c + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') cur.event = value;
        else if (field === 'id') cur.id = value;
        else if (field === 'data') cur.data.push(value);
        else if (field === 'retry') rec.retries.push(Number(value));
        else throw new Error(`stream ${url}: unknown SSE field ${JSON.stringify(line)}`);
      }
    }
    if (until && !until(rec)) throw new Error(`stream ${url}: ended before the condition was met (${rec.events.length} events)`);
    return rec;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

// schemaFiles lists api/schemas/*.json.
export function schemaFiles() {
  return readdirSync(schemaDir).filter((f) => f.endsWith('.json')).sort();
}

export function loadJSON(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

// newAjv returns a strict draft 2020-12 Ajv with date-time and every
// schema file added under its file name (so "$ref": "tick.json" resolves
// as it does next to the files). schemas: {name: schema} overrides.
export function newAjv(overrides = {}) {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  for (const f of schemaFiles()) {
    ajv.addSchema(overrides[f] || loadJSON(path.join(schemaDir, f)), f);
  }
  return ajv;
}

// refsIn returns every $ref value in a parsed document, with its JSON path.
export function refsIn(doc, at = '#') {
  const out = [];
  const walk = (v, p) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${p}/${i}`));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string') out.push({ ref: x, at: p });
        else walk(x, `${p}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      }
    }
  };
  walk(doc, at);
  return out;
}

// pointer resolves a JSON pointer ("/a/b") in doc; undefined if absent.
export function pointer(doc, ptr) {
  if (ptr === '' || ptr === '/') return doc;
  let v = doc;
  for (const raw of ptr.replace(/^\//, '').split('/')) {
    const k = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (v === null || typeof v !== 'object' || !(k in v)) return undefined;
    v = v[k];
  }
  return v;
}

// resolveRef checks that ref, found in the document at file, points at
// something: a file that exists (and, for .json, parses) and the
// fragment inside it. Returns {file, target} or throws.
export function resolveRef(ref, file, docs) {
  const [rel, frag = ''] = ref.split('#');
  const target = rel === '' ? file : path.resolve(path.dirname(file), rel);
  if (!existsSync(target)) throw new Error(`${path.relative(repo, file)}: $ref ${ref}: no file ${path.relative(repo, target)}`);
  let doc = docs.get(target);
  if (doc === undefined) {
    doc = loadJSON(target);
    docs.set(target, doc);
  }
  const v = pointer(doc, frag);
  if (v === undefined) throw new Error(`${path.relative(repo, file)}: $ref ${ref}: #${frag} not found`);
  return { file: target, target: v };
}

// undeclared lists the fields of data that the schema (name: a file in
// schemas/) does not declare, at any depth it describes: a server field
// the descriptions miss.
export function undeclared(name, data) {
  const out = [];
  const load = (n) => loadJSON(path.join(schemaDir, n));
  const walk = (schema, v, p) => {
    while (schema && schema.$ref) schema = load(schema.$ref);
    if (!schema || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      if (schema.items) v.forEach((x, i) => walk(schema.items, x, `${p}[${i}]`));
      return;
    }
    if (!schema.properties) return;
    for (const [k, x] of Object.entries(v)) {
      if (!(k in schema.properties)) out.push(`${p}.${k}`);
      else walk(schema.properties[k], x, `${p}.${k}`);
    }
  };
  walk({ $ref: name }, data, '$');
  return out;
}
