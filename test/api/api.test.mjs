// Over 400 lines on purpose: one run of the binary provokes every
// response and event, validated in order against the documents.
// The API descriptions in api/ against the real binary: every REST
// response and SSE event the tests provoke is validated (Ajv, strict,
// draft 2020-12) against the schema that openapi.yaml or asyncapi.yaml
// names for it, must not carry fields the schema does not declare, and
// is then written into a TypeScript file typed with api/tickcast.d.ts,
// which must compile with tsc --strict.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHmac } from 'node:crypto';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import {
  apiDir, schemaDir, repo, tickcastBin, startServer, stopServer, request, readStream,
  schemaFiles, loadJSON, newAjv, refsIn, resolveRef, undeclared, withTimeout, sleep,
} from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const genDir = path.join(here, 'gen');

// The TypeScript type of each schema file (api/tickcast.d.ts).
const TS_TYPE = {
  'bar.json': 'Bar',
  'book.json': 'Book',
  'bars-response.json': 'BarsResponse',
  'clock.json': 'Clock',
  'duration.json': 'Duration',
  'error.json': 'ErrorBody',
  'event-id.json': 'EventId',
  'health-unavailable.json': 'HealthUnavailableResponse',
  'health.json': 'HealthResponse',
  'market-response.json': 'MarketResponse',
  'quote.json': 'Quote',
  'ready.json': 'ReadyResponse',
  'reset-event.json': 'ResetEvent',
  'scenario-reply.json': 'ScenarioReply',
  'scenario-state.json': 'ScenarioState',
  'scenario.json': 'ScenarioRequest',
  'snapshot-event.json': 'SnapshotEvent',
  'snapshot-response.json': 'SnapshotResponse',
  'status.json': 'Status',
  'symbol-info.json': 'SymbolInfo',
  'symbols.json': 'SymbolsResponse',
  'tick.json': 'Tick',
  'trade.json': 'Trade',
};
// Schemas no run of this test sees a real value of (a 503 of /healthz
// needs a gateway that cannot read its stream).
const NOT_CAPTURED = new Set(['health-unavailable.json']);

const openapiFile = path.join(apiDir, 'openapi.yaml');
const asyncapiFile = path.join(apiDir, 'asyncapi.yaml');
const openapi = YAML.parse(readFileSync(openapiFile, 'utf8'));
const asyncapi = YAML.parse(readFileSync(asyncapiFile, 'utf8'));

const ajv = newAjv();
const captured = []; // {schema, data, what}
const events = []; // {event, id, data}

let srv; // the main server
let authSrv; // --token and HS256 JWTs, no scenario control
const jwtSecret = 'an HS256 secret of at least 32 bytes, for test/api only';

// jwt signs claims with HS256 (docs/api.md, Access control).
function jwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', jwtSecret).update(head).digest('base64url')}`;
}

before(async () => {
  const bin = tickcastBin();
  const secretFile = path.join(mkdtempSync(path.join(tmpdir(), 'tc-api-')), 'jwt.secret');
  writeFileSync(secretFile, jwtSecret, { mode: 0o600 });
  [srv, authSrv] = await Promise.all([
    startServer(bin, ['--heartbeat', '600ms']),
    startServer(bin, ['--token', 'sekrit', '--sim-control=false', '--jwt-hs256-secret-file', secretFile]),
  ]);
});

after(async () => {
  await Promise.all([stopServer(srv), stopServer(authSrv)]);
});

// validate checks data against schema (a file name in api/schemas) and
// that it carries no field the schema does not declare; it records data
// for the TypeScript check.
function validate(schema, data, what) {
  const v = ajv.getSchema(schema);
  assert.ok(v, `no schema ${schema}`);
  if (!v(data)) {
    assert.fail(`${what}: does not match ${schema}: ${ajv.errorsText(v.errors, { separator: '; ' })}\n  data: ${JSON.stringify(data).slice(0, 600)}`);
  }
  const extra = undeclared(schema, data);
  assert.deepEqual(extra, [], `${what}: fields the schema ${schema} does not declare: ${extra.join(', ')}`);
  captured.push({ schema, data, what });
}

// deref follows a local "#/..." $ref in an OpenAPI/AsyncAPI document.
function deref(doc, v) {
  while (v && typeof v.$ref === 'string' && v.$ref.startsWith('#/')) {
    v = v.$ref.slice(2).split('/').reduce((o, k) => (o ? o[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), doc);
  }
  return v;
}

function schemaName(ref, where) {
  assert.ok(typeof ref === 'string' && ref.startsWith('schemas/'), `${where}: schema is not a $ref to schemas/ (${ref})`);
  return ref.slice('schemas/'.length);
}

// restSchema returns the schema file openapi.yaml names for a response.
function restSchema(route, method, status, ctype) {
  const where = `openapi.yaml ${method.toUpperCase()} ${route} ${status}`;
  let resp;
  if (route === null) {
    resp = deref(openapi, openapi.components.responses.NotFound);
  } else if (status === 405 && !openapi.paths[route]?.[method]) {
    // A method the path does not take: the shared 405 response.
    assert.ok(openapi.paths[route], `openapi.yaml has no path ${route}`);
    resp = deref(openapi, openapi.components.responses.MethodNotAllowed);
  } else {
    const op = openapi.paths[route]?.[method];
    assert.ok(op, `openapi.yaml has no ${method.toUpperCase()} ${route}`);
    resp = deref(openapi, op.responses[String(status)]);
  }
  assert.ok(resp, `${where}: not described`);
  const media = resp.content?.[ctype];
  assert.ok(media, `${where}: no ${ctype} content (has ${Object.keys(resp.content || {}).join(', ')})`);
  return media.schema?.$ref ? schemaName(media.schema.$ref, where) : null;
}

// checkREST fetches and checks one response against openapi.yaml.
async function checkREST(base, route, { method = 'get', pathAndQuery = route, status, init = {}, ctype = 'application/json' }) {
  const r = await request(base + pathAndQuery, { method: method.toUpperCase(), ...init });
  const what = `${method.toUpperCase()} ${pathAndQuery}`;
  assert.equal(r.status, status, `${what}: status ${r.status}, want ${status}: ${r.text.slice(0, 300)}`);
  const got = (r.headers.get('content-type') || '').split(';')[0].trim();
  assert.equal(got, ctype, `${what}: Content-Type ${r.headers.get('content-type')}`);
  const schema = restSchema(route, method, status, ctype);
  if (ctype === 'application/json') {
    assert.ok(r.json !== undefined, `${what}: body is not JSON: ${r.text.slice(0, 200)}`);
    assert.ok(schema, `${what}: openapi.yaml names no schema`);
    validate(schema, r.json, what);
  }
  return r;
}

// eventSchema returns the payload schema asyncapi.yaml names for an event.
function eventSchema(name) {
  const msgs = asyncapi.channels.stream.messages;
  const m = deref(asyncapi, msgs[name]);
  assert.ok(m, `asyncapi.yaml: no message ${name} on channel stream`);
  assert.equal(m.name, name, `asyncapi.yaml: message ${name} is named ${m.name}`);
  return schemaName(m.payload?.schema?.$ref, `asyncapi.yaml message ${name}`);
}

// checkEvents validates every event of a recorded stream.
function checkEvents(rec, what) {
  for (const [i, ev] of rec.events.entries()) {
    const w = `${what} event #${i} (${ev.event}, id ${ev.id})`;
    assert.ok(['snapshot', 'tick', 'reset', 'quote', 'trade', 'bar', 'status', 'clock', 'book'].includes(ev.event), `${w}: unknown event name`);
    let data;
    try { data = JSON.parse(ev.data); } catch { assert.fail(`${w}: data is not JSON: ${ev.data}`); }
    validate(eventSchema(ev.event), data, w);
    if (ev.event === 'reset') {
      assert.equal(ev.id, undefined, `${w}: a reset carries no id`);
    } else {
      validate('event-id.json', ev.id, `${w} id`);
    }
    events.push({ event: ev.event, id: ev.id, data });
  }
  for (const c of rec.comments) {
    assert.ok([':', ': capacity', ': per_ip_cap', ': not_ready', ': shutting_down'].includes(c), `${what}: comment ${JSON.stringify(c)} not described`);
  }
}

function checkStreamHeaders(rec, what) {
  assert.equal(rec.status, 200, `${what}: status ${rec.status}: ${rec.text}`);
  assert.equal(rec.headers.get('content-type'), 'text/event-stream', `${what}: Content-Type`);
  assert.equal(rec.headers.get('cache-control'), 'no-cache', `${what}: Cache-Control`);
  assert.equal(rec.headers.get('x-accel-buffering'), 'no', `${what}: X-Accel-Buffering`);
  assert.equal(rec.lines[0], 'retry: 1000', `${what}: first line`);
  assert.equal(rec.retries[0], 1000);
  restSchema('/v1/stream', 'get', 200, 'text/event-stream');
}

const count = (rec, f) => rec.events.filter(f).length;

test('the documents parse, and every $ref resolves to an existing schema', () => {
  assert.equal(openapi.openapi, '3.1.0');
  assert.equal(asyncapi.asyncapi, '3.0.0');
  const docs = new Map([[openapiFile, openapi], [asyncapiFile, asyncapi]]);
  const reached = new Set();
  const queue = [openapiFile, asyncapiFile];
  const seen = new Set();
  let nRefs = 0;
  while (queue.length) {
    const file = queue.shift();
    if (seen.has(file)) continue;
    seen.add(file);
    const doc = docs.get(file) || loadJSON(file);
    docs.set(file, doc);
    for (const { ref, at } of refsIn(doc)) {
      nRefs++;
      const { file: target } = resolveRef(ref, file, docs);
      if (target !== file) {
        assert.equal(path.dirname(target), schemaDir, `${path.relative(repo, file)} ${at}: $ref ${ref} points outside api/schemas`);
        reached.add(path.basename(target));
        queue.push(target);
      }
    }
  }
  assert.ok(nRefs > 20, `only ${nRefs} $refs found`);
  const files = schemaFiles();
  assert.deepEqual([...reached].sort(), files, 'every schema file is referenced from openapi.yaml or asyncapi.yaml (directly or through another schema)');
  assert.deepEqual(Object.keys(TS_TYPE).sort(), files, 'every schema file has a TypeScript type in this test');

  for (const f of files) {
    const s = loadJSON(path.join(schemaDir, f));
    assert.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema', `${f}: $schema`);
    assert.ok(ajv.getSchema(f), `${f} does not compile`);
    for (const [i, ex] of (s.examples || []).entries()) {
      assert.ok(ajv.getSchema(f)(ex), `${f}: examples[${i}] does not match: ${ajv.errorsText(ajv.getSchema(f).errors)}`);
    }
  }

  // The REST surface and the stream, as the gateway serves them.
  assert.deepEqual(Object.keys(openapi.paths).sort(),
    ['/healthz', '/metrics', '/readyz', '/v1/bars', '/v1/market', '/v1/sim/scenario', '/v1/snapshot', '/v1/stream', '/v1/symbols']);
  assert.deepEqual(Object.keys(openapi.paths['/v1/sim/scenario']).sort(), ['get', 'post']);
  const stream = openapi.paths['/v1/stream'].get;
  assert.ok(stream.responses['200'].content['text/event-stream'], 'the stream is text/event-stream');
  assert.match(stream.description, /asyncapi\.yaml/);
  const params = stream.parameters.map((p) => deref(openapi, p)).map((p) => `${p.in}:${p.name}`).sort();
  assert.deepEqual(params, ['header:Last-Event-ID', 'query:access_token', 'query:bars', 'query:depth', 'query:events', 'query:from', 'query:lastEventId', 'query:symbols', 'query:throttle', 'query:token']);
  assert.deepEqual(Object.keys(openapi.components.securitySchemes).sort(), ['bearer', 'queryAccessToken', 'queryToken']);
  // Every /v1/ operation takes both query spellings of the token and
  // answers 401; those a scoped token can refuse also describe 403.
  for (const [route, ops] of Object.entries(openapi.paths)) {
    if (!route.startsWith('/v1/')) continue;
    for (const [method, op] of Object.entries(ops)) {
      const names = (op.parameters || []).map((p) => deref(openapi, p).name);
      assert.ok(names.includes('access_token') && names.includes('token'), `${method} ${route}: access_token and token parameters`);
      assert.ok(op.responses['401'], `${method} ${route}: 401 described`);
    }
  }
  for (const [route, method] of [['/v1/stream', 'get'], ['/v1/snapshot', 'get'], ['/v1/bars', 'get'], ['/v1/sim/scenario', 'get'], ['/v1/sim/scenario', 'post']]) {
    assert.ok(openapi.paths[route][method].responses['403'], `${method} ${route}: 403 described`);
  }
  // Every turn-away comment docs/api.md names is in the AsyncAPI enum.
  const comments = deref(asyncapi, asyncapi.components.schemas.Heartbeat).enum;
  for (const c of [': capacity', ': per_ip_cap', ': not_ready', ': shutting_down', ': lagging', ': unavailable']) {
    assert.ok(comments.includes(c), `asyncapi.yaml Heartbeat enum lacks "${c}"`);
  }

  assert.equal(asyncapi.channels.stream.address, '/v1/stream');
  const names = ['bar', 'book', 'clock', 'quote', 'reset', 'snapshot', 'status', 'tick', 'trade'];
  assert.deepEqual(Object.keys(asyncapi.channels.stream.messages).sort(), names);
  for (const name of names) {
    const m = deref(asyncapi, asyncapi.channels.stream.messages[name]);
    // The message's SSE header `event` is exactly its own name.
    const h = deref(asyncapi, m.headers);
    const eventOf = (x) => x?.properties?.event?.const;
    const named = eventOf(h) ?? (h.allOf || []).map((x) => eventOf(deref(asyncapi, x))).find((x) => x !== undefined);
    assert.equal(named, name, `asyncapi.yaml message ${name}: its headers' event is const ${name}`);
    for (const ex of m.examples || []) assert.equal(ex.headers?.event, name, `asyncapi.yaml message ${name}: example header event`);
    const v = ajv.getSchema(eventSchema(name));
    for (const [i, ex] of (m.examples || []).entries()) {
      assert.ok(v(ex.payload), `asyncapi.yaml message ${name} example ${i}: ${ajv.errorsText(v.errors)}`);
      if (ex.headers?.id) assert.ok(ajv.getSchema('event-id.json')(ex.headers.id), `asyncapi.yaml ${name} example ${i}: id`);
    }
  }
  // OpenAPI JSON examples match their schemas.
  for (const [name, resp] of Object.entries(openapi.components.responses)) {
    const media = resp.content?.['application/json'];
    if (media?.example) {
      const v = ajv.getSchema(schemaName(media.schema.$ref, name));
      assert.ok(v(media.example), `openapi.yaml response ${name} example: ${ajv.errorsText(v.errors)}`);
    }
  }
});

test('REST bodies match their schemas', async () => {
  const b = srv.url;
  const syms = await checkREST(b, '/v1/symbols', { status: 200 });
  assert.ok(syms.json.length >= 5, 'at least 5 symbols');
  validate('symbol-info.json', syms.json[0], 'GET /v1/symbols [0]');
  const snap = await checkREST(b, '/v1/snapshot', { status: 200 });
  assert.ok(snap.json.ticks.length >= 1);
  validate('event-id.json', snap.json.id, 'snapshot id');
  const two = await checkREST(b, '/v1/snapshot', { pathAndQuery: `/v1/snapshot?symbols=${syms.json[0].symbol.toLowerCase()},${syms.json[1].symbol}`, status: 200 });
  assert.deepEqual(two.json.ticks.map((t) => t.symbol).sort(), [syms.json[0].symbol, syms.json[1].symbol].sort());
  await checkREST(b, '/healthz', { status: 200 });
  await checkREST(b, '/readyz', { status: 200 });
  await checkREST(b, '/v1/sim/scenario', { status: 200 });
  await checkREST(b, '/v1/market', { status: 200 });
  const sym = syms.json[0].symbol;
  const deadline = Date.now() + 15000;
  let bars;
  do { // the first 1s bars close a second or two after start
    bars = await checkREST(b, '/v1/bars', { pathAndQuery: `/v1/bars?symbol=${sym}&interval=1s`, status: 200 });
    if (bars.json.bars.length > 0) break;
    await new Promise((r) => setTimeout(r, 250));
  } while (Date.now() < deadline);
  assert.ok(bars.json.bars.length > 0, 'GET /v1/bars has bars');
  await checkREST(b, '/v1/bars', { pathAndQuery: `/v1/bars?symbol=${sym}&interval=2m`, status: 400 });
  const m = await checkREST(b, '/metrics', { status: 200, ctype: 'text/plain' });
  assert.match(m.text, /^tickcast_connections \d+$/m);
});

test('errors are JSON {"error": string} with the statuses described', async () => {
  const b = srv.url;
  await checkREST(b, '/v1/snapshot', { pathAndQuery: '/v1/snapshot?symbols=ZZZ', status: 400 });
  await checkREST(b, '/v1/snapshot', { pathAndQuery: '/v1/snapshot?symbols=no!', status: 400 });
  const many = Array.from({ length: 101 }, (_, i) => `S${i}`).join(',');
  await checkREST(b, '/v1/snapshot', { pathAndQuery: `/v1/snapshot?symbols=${many}`, status: 400 });
  await checkREST(b, '/v1/stream', { pathAndQuery: '/v1/stream?symbols=ZZZ', status: 400 });
  await checkREST(b, '/v1/stream', { pathAndQuery: '/v1/stream?throttle=fast', status: 400 });
  await checkREST(b, '/v1/stream', { pathAndQuery: '/v1/stream?throttle=61s', status: 400 });
  await checkREST(b, null, { pathAndQuery: '/v1/no-such-thing', status: 404 });
  await checkREST(b, '/v1/stream', { method: 'post', status: 405 });
  await checkREST(b, '/v1/symbols', { method: 'delete', status: 405 });

  // Scenario bodies: what the schema refuses, the server refuses too.
  const post = (body, ct = 'application/json') => ({ method: 'post', init: { headers: { 'content-type': ct }, body: JSON.stringify(body) } });
  const scen = ajv.getSchema('scenario.json');
  for (const body of [{ name: 'no-such-scenario' }, { name: 'halt', duraton: '1s' }, { name: 'burst', size: 5 }]) {
    assert.ok(!scen(body), `scenario.json accepts ${JSON.stringify(body)}, which the server refuses`);
    await checkREST(b, '/v1/sim/scenario', { ...post(body), status: 400 });
  }
  await checkREST(b, '/v1/sim/scenario', { ...post({ name: 'normal' }, 'text/plain'), status: 400 });
});

test('access token: 401 without it, bearer or ?token= with it; 404 with no simulator', async () => {
  const b = authSrv.url;
  const r = await checkREST(b, '/v1/symbols', { status: 401 });
  assert.match(r.headers.get('www-authenticate') || '', /^Bearer/);
  await checkREST(b, '/v1/snapshot', { status: 401, init: { headers: { authorization: 'Bearer wrong' } } });
  await checkREST(b, '/v1/stream', { status: 401 });
  await checkREST(b, '/v1/symbols', { pathAndQuery: '/v1/symbols?token=sekrit', status: 200 });
  await checkREST(b, '/v1/snapshot', { status: 200, init: { headers: { authorization: 'Bearer sekrit' } } });
  await checkREST(b, '/v1/sim/scenario', { pathAndQuery: '/v1/sim/scenario?token=sekrit', status: 404 });
  await checkREST(b, '/healthz', { status: 200 });
  const rec = await readStream(`${b}/v1/stream?token=sekrit`, { until: (x) => x.events.length >= 3 });
  checkStreamHeaders(rec, 'stream with ?token=');
  checkEvents(rec, 'stream with ?token=');
  await checkREST(b, '/v1/symbols', { pathAndQuery: '/v1/symbols?access_token=sekrit', status: 200 });
  const rec2 = await readStream(`${b}/v1/stream?access_token=sekrit`, { until: (x) => x.events.length >= 3 });
  checkEvents(rec2, 'stream with ?access_token=');
});

test('scoped token (JWT): 403 for a symbol outside its claim, as openapi.yaml describes', async () => {
  const b = authSrv.url;
  const syms = (await (await fetch(`${b}/v1/symbols?token=sekrit`)).json()).map((x) => x.symbol);
  const tok = jwt({ sub: 'test', symbols: [syms[0]], exp: Math.floor(Date.now() / 1000) + 600 });
  const bearer = { headers: { authorization: `Bearer ${tok}` } };
  await checkREST(b, '/v1/snapshot', { pathAndQuery: `/v1/snapshot?symbols=${syms[0]}`, status: 200, init: bearer });
  const no = await checkREST(b, '/v1/snapshot', { pathAndQuery: `/v1/snapshot?symbols=${syms[1]}`, status: 403, init: bearer });
  assert.equal(no.json.symbol, syms[1], 'the 403 names the symbol');
  await checkREST(b, '/v1/stream', { pathAndQuery: `/v1/stream?symbols=${syms[1]}&access_token=${tok}`, status: 403 });
  await checkREST(b, '/v1/bars', { pathAndQuery: `/v1/bars?symbol=${syms[1]}&interval=1m`, status: 403, init: bearer });
});

test('stream: a snapshot, then ticks', async () => {
  const rec = await readStream(`${srv.url}/v1/stream`, { until: (x) => x.events.length >= 60 });
  checkStreamHeaders(rec, 'stream');
  assert.equal(rec.events[0].event, 'snapshot');
  assert.ok(JSON.parse(rec.events[0].data).ticks.length >= 5);
  assert.ok(rec.events.slice(1).every((e) => e.event === 'tick'));
  checkEvents(rec, 'stream');
});

test('stream: every event type (events=tick,quote,trade,bar,status&bars=1s&throttle=100ms)', async () => {
  // The names seen so far, kept as they come: scanning every event
  // recorded at each one would fall behind the stream on a busy machine.
  const seen = new Set();
  // Throttled, so a client on a busy machine keeps up with the feed
  // until the clock's next event (unthrottled quotes come in
  // events=quote,book below).
  const rec = await readStream(`${srv.url}/v1/stream?events=tick,quote,trade,bar,status&bars=1s&throttle=100ms`, {
    timeoutMs: 35000, // clock events come every 10s, late on a busy machine
    onEvent: (ev) => seen.add(ev.event),
    until: () => ['tick', 'quote', 'trade', 'bar', 'clock'].every((n) => seen.has(n)),
  });
  checkStreamHeaders(rec, 'stream with every type');
  assert.equal(rec.events[0].event, 'snapshot');
  // Up to 500 of each type are checked and kept for tsc.
  const per = {};
  rec.events = rec.events.filter((e) => (per[e.event] = (per[e.event] || 0) + 1) <= 500);
  checkEvents(rec, 'stream with every type');
});

test('stream: books with their quotes (events=quote,book&depth=5)', async () => {
  const rec = await readStream(`${srv.url}/v1/stream?events=quote,book&depth=5`, {
    until: (x) => count(x, (e) => e.event === 'book') >= 10,
  });
  checkStreamHeaders(rec, 'book stream');
  assert.equal(rec.events[0].event, 'snapshot');
  checkEvents(rec, 'book stream');
  for (const e of rec.events.filter((x) => x.event === 'book')) {
    const b = JSON.parse(e.data);
    assert.ok(b.bids.length === 5 && b.asks.length === 5, `depth 5: ${e.data}`);
    assert.ok(b.bids[0][0] < b.asks[0][0], `not crossed: ${e.data}`);
  }
  const snap = await readStream(`${srv.url}/v1/stream?events=book&depth=2`, { until: (x) => x.events.length >= 1 });
  checkEvents(snap, 'book snapshot');
  assert.ok(JSON.parse(snap.events[0].data).books.length > 0, 'the snapshot has books');
  const bad = await request(`${srv.url}/v1/stream?events=book&depth=11`);
  assert.equal(bad.status, 400);
});

test('stream: throttled ticks are merged', async () => {
  const rec = await readStream(`${srv.url}/v1/stream?throttle=200ms`, {
    until: (x) => count(x, (e) => e.event === 'tick' && JSON.parse(e.data).merged !== undefined) >= 5,
  });
  checkStreamHeaders(rec, 'throttled stream');
  checkEvents(rec, 'throttled stream');
});

test('stream: resets (malformed, epoch, ahead), and an exact resume', async () => {
  const snap = await request(`${srv.url}/v1/snapshot`);
  const [epoch] = snap.json.id.split('-');
  const cases = [
    { reason: 'malformed', headers: { 'Last-Event-ID': 'not an id' }, q: '' },
    { reason: 'epoch', headers: {}, q: '?lastEventId=00000000-5' },
    { reason: 'ahead', headers: { 'Last-Event-ID': `${epoch}-99999999999` }, q: '' },
  ];
  for (const c of cases) {
    const rec = await readStream(`${srv.url}/v1/stream${c.q}`, { headers: c.headers, until: (x) => x.events.length >= 3 });
    checkStreamHeaders(rec, `reset ${c.reason}`);
    assert.deepEqual(rec.events.slice(0, 2).map((e) => e.event), ['reset', 'snapshot'], `reset ${c.reason}: events`);
    assert.equal(JSON.parse(rec.events[0].data).reason, c.reason);
    checkEvents(rec, `reset ${c.reason}`);
  }
  await sleep(200);
  const rec = await readStream(`${srv.url}/v1/stream?lastEventId=${snap.json.id}`, { until: (x) => x.events.length >= 5 });
  assert.equal(rec.events[0].event, 'tick', 'a resume starts with ticks');
  checkEvents(rec, 'resume');
});

test('stream: a halt shows status halted, then a heartbeat comment, then open', async () => {
  const b = srv.url;
  const sym = (await request(`${b}/v1/symbols`)).json[1].symbol;
  let posted = false;
  let reply;
  const body = { name: 'halt', symbol: sym, duration: '2s' };
  validate('scenario.json', body, 'POST /v1/sim/scenario body');
  validate('duration.json', body.duration, 'scenario duration');
  const state = { halted: -1, comment: -1, open: -1 };
  const rec = await readStream(`${b}/v1/stream?symbols=${sym}`, {
    timeoutMs: 20000,
    onEvent: (ev, x) => {
      if (!posted) {
        posted = true;
        reply = checkREST(b, '/v1/sim/scenario', {
          method: 'post', status: 200,
          init: { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
        });
        reply.catch(() => {});
      }
      if (ev.event !== 'tick') return;
      const st = JSON.parse(ev.data).status;
      if (st === 'halted' && state.halted < 0) state.halted = x.events.length;
      if (st === 'open' && state.halted >= 0 && state.open < 0) state.open = x.events.length;
    },
    until: (x) => {
      if (state.halted >= 0 && state.comment < 0 && x.comments.length > 0) state.comment = x.events.length;
      return state.open >= 0;
    },
  });
  const r = await withTimeout(reply, 10000, 'POST /v1/sim/scenario');
  assert.equal(r.json.scenario.name, 'halt');
  assert.equal(r.json.scenario.symbol, sym);
  checkStreamHeaders(rec, 'halt stream');
  assert.ok(state.comment >= 0 && state.comment <= state.open, `a heartbeat comment during the halt (halted at event ${state.halted}, comment after ${state.comment}, open at ${state.open}); comments ${JSON.stringify(rec.comments)}`);
  checkEvents(rec, 'halt stream');
  const now = await checkREST(b, '/v1/sim/scenario', { status: 200 });
  validate('scenario-state.json', now.json.scenario, 'GET /v1/sim/scenario .scenario');
});

test('stream: status events mark a halt and its end (events=status)', async () => {
  const b = srv.url;
  const sym = (await request(`${b}/v1/symbols`)).json[2].symbol;
  let posted = false;
  let reply;
  const states = [];
  const rec = await readStream(`${b}/v1/stream?symbols=${sym}&events=status`, {
    timeoutMs: 20000,
    onEvent: (ev) => {
      if (!posted) {
        posted = true;
        reply = checkREST(b, '/v1/sim/scenario', {
          method: 'post', status: 200,
          init: { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'halt', symbol: sym, duration: '1s' }) },
        });
        reply.catch(() => {});
      }
      if (ev.event === 'status') states.push(JSON.parse(ev.data).state);
    },
    until: () => states.includes('halted') && states.lastIndexOf('open') > states.indexOf('halted'),
  });
  await withTimeout(reply, 10000, 'POST /v1/sim/scenario');
  assert.ok(states.includes('halted'), `status states ${JSON.stringify(states)}`);
  checkEvents(rec, 'status stream');
});

test('Ajv rejects a wrong tick (self-test)', () => {
  const t = events.find((e) => e.event === 'tick').data;
  const v = ajv.getSchema('tick.json');
  for (const bad of [{ ...t, seq: String(t.seq) }, { ...t, seq: 0 }, { ...t, symbol: 'aapl' }, { ...t, status: 'paused' },
    { ...t, merged: 3 }, { ...t, time: 'yesterday' }, { ...t, size: 1.5 }]) {
    assert.equal(v(bad), false, `tick.json accepts ${JSON.stringify(bad)}`);
  }
});

function tsc(file) {
  const bin = path.join(here, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((ok) => {
    execFile(process.execPath, [bin, '--noEmit', '--strict', '--target', 'es2022', '--module', 'esnext',
      '--moduleResolution', 'bundler', file], { timeout: 120000 }, (err, stdout, stderr) => {
      ok({ code: err ? (err.code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

test('the captured responses and events compile against api/tickcast.d.ts (tsc --strict)', async () => {
  rmSync(genDir, { recursive: true, force: true });
  mkdirSync(genDir, { recursive: true });
  const types = [...new Set(Object.values(TS_TYPE))].sort();
  const have = new Set(captured.map((c) => c.schema));
  const missing = Object.keys(TS_TYPE).filter((s) => !have.has(s) && !NOT_CAPTURED.has(s));
  assert.deepEqual(missing, [], 'a real value of every schema was captured');
  assert.ok(events.some((e) => e.event === 'reset') && events.some((e) => e.data.merged) && events.some((e) => e.data.status === 'halted')
    && events.some((e) => e.data.status === 'open'), 'captured resets, merged ticks and status ticks');

  // Keep the file readable: every value that is not a plain tick, and
  // some plain ticks.
  let plain = 0;
  const keep = (d) => d.merged || d.status || plain++ < 40;
  const lines = [
    '// Generated by test/api/api.test.mjs from a real run of tickcast: do not edit.',
    `import type { ${[...types, 'StreamEvent', 'MergedTick'].join(', ')} } from "../../../api/tickcast";`,
    '',
  ];
  let n = 0;
  for (const c of captured) {
    if (c.schema === 'tick.json' && !keep(c.data)) continue;
    lines.push(`// ${c.what.replace(/\s+/g, ' ').slice(0, 150)}`);
    lines.push(`export const v${n++}: ${TS_TYPE[c.schema]} = ${JSON.stringify(c.data)};`);
  }
  plain = 0;
  for (const e of events) {
    if (e.event === 'tick' && !keep(e.data)) continue;
    lines.push(`export const e${n++}: StreamEvent = ${JSON.stringify(e)};`);
    if (e.event === 'tick' && e.data.merged) lines.push(`export const m${n++}: MergedTick = ${JSON.stringify(e.data)};`);
  }
  const file = path.join(genDir, 'captured.ts');
  writeFileSync(file, lines.join('\n') + '\n');
  const res = await tsc(file);
  assert.equal(res.code, 0, `tsc --strict failed on ${path.relative(repo, file)}:\n${res.out.slice(0, 4000)}`);

  // Self-test: the declarations are not vacuous.
  const t = events.find((e) => e.event === 'tick').data;
  const bad = path.join(genDir, 'wrong.ts');
  writeFileSync(bad, [
    'import type { Tick, ResetEvent, StreamEvent } from "../../../api/tickcast";',
    `export const a: Tick = ${JSON.stringify({ ...t, seq: String(t.seq) })};`,
    `export const b: Tick = ${JSON.stringify({ ...t, status: 'paused' })};`,
    'export const c: ResetEvent = {"reason":"lost","detail":"","requested":""};',
    `export const d: StreamEvent = {"event":"quote","id":"x-1","data":${JSON.stringify(t)}};`,
    '',
  ].join('\n'));
  const wrong = await tsc(bad);
  assert.notEqual(wrong.code, 0, 'tsc accepted wrong values');
  for (const line of [2, 3, 4, 5]) assert.match(wrong.out, new RegExp(`wrong\\.ts\\(${line},`), `tsc did not flag line ${line} of wrong.ts:\n${wrong.out}`);
});
