// Resume with the npm `eventsource` client (Node): a real SSE client, not
// our own parser, reconnecting across a server restart (its own automatic
// reconnect, which sends Last-Event-ID) and across client-side reconnects
// with ?lastEventId= (the browser-style first-connection resume).
//
//   cd test/clients && npm ci && TICKCAST_BIN=/path/to/tickcast node --test eventsource.test.mjs
//
// Without TICKCAST_BIN the test builds ./cmd/tickcast with `go build`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { EventSource } from 'eventsource';
import {
  sleep, tickcastBin, tempDir, removeDir, startServer, stopServer, killServer, checkLog, selfTest, parseId,
} from './lib.mjs';

const EVENT_TYPES = ['snapshot', 'tick', 'reset'];

// Recorder: every EventSource the test opens writes into one log, with a
// connection index that grows at each `open` (whichever object opened it).
function recorder() {
  const r = {
    log: [], // {conn, type, id, data, at}
    conn: -1,
    requests: [], // {url, lastEventId, status, at}
    opens: [], // {conn, at}
    errors: [], // {at, message, code}
    lastId: '',
    afterClose: 0, // events dispatched after close()
  };
  // The client's fetch, wrapped to see what went on the wire.
  r.fetch = async (url, init) => {
    const h = new Headers(init && init.headers);
    const req = { url: String(url), lastEventId: h.get('last-event-id'), status: 0, at: Date.now() };
    r.requests.push(req);
    try {
      const res = await fetch(url, init);
      req.status = res.status;
      return res;
    } catch (e) {
      req.status = 'network error: ' + (e.cause ? e.cause.code || e.cause.message : e.message);
      throw e;
    }
  };
  r.open = (url) => {
    const es = new EventSource(url, { fetch: r.fetch });
    es.addEventListener('open', () => { r.conn++; r.opens.push({ conn: r.conn, at: Date.now() }); });
    es.addEventListener('error', (e) => { r.errors.push({ at: Date.now(), message: e.message, code: e.code }); });
    // The spec dispatches nothing after close(); this client can still
    // dispatch events from a chunk it had already read. Count and ignore
    // them: the next connection resumes from the id held at close().
    let closed = false;
    const close = es.close.bind(es);
    es.close = () => { closed = true; close(); };
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (e) => {
        if (closed) { r.afterClose++; return; }
        r.log.push({ conn: r.conn, type, id: e.lastEventId, data: e.data, at: Date.now() });
        if (e.lastEventId) r.lastId = e.lastEventId;
      });
    }
    return es;
  };
  return r;
}

// waitFor polls cond every 20ms until it holds or ms pass.
async function waitFor(cond, ms, what) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await sleep(20);
  }
}

test('eventsource: resume across a server restart and client-side reconnects, every tick accounted for', { timeout: 60000 }, async () => {
  const work = await tempDir('tc-clients-es-');
  let server;
  let es;
  try {
    const bin = tickcastBin(work);
    const dataDir = path.join(work, 'data');
    server = await startServer(bin, { dataDir });
    const streamURL = server.url + '/v1/stream';
    const r = recorder();

    // 1. Snapshot, then ticks for about 2 s.
    es = r.open(streamURL);
    await waitFor(() => r.log.length > 0, 10000, 'the first event');
    await sleep(2000);
    assert.equal(r.log[0].type, 'snapshot', 'first event without an id to resume from');
    assert.ok(r.log.filter((e) => e.type === 'tick').length > 100, `ticks in 2s at 500/s: ${r.log.length}`);

    // 2a. The server goes away (SIGTERM) and comes back on the same data
    // and port; the client's own reconnect must carry Last-Event-ID.
    const port = server.port;
    const exit = await stopServer(server);
    assert.deepEqual(exit, { code: 0, sig: null }, `exit after SIGTERM\n${server.out.slice(-2000)}`);
    const stoppedAt = Date.now();
    const reqBefore = r.requests.length;
    await sleep(1500); // down for a while: the client retries and fails
    server = await startServer(bin, { dataDir, addr: `127.0.0.1:${port}` });
    const restartedAt = Date.now();
    await waitFor(() => r.log.some((e) => e.conn === 1), 15000, 'the automatic reconnect after the restart');
    const resumedAt = r.log.find((e) => e.conn === 1).at;
    const heldId = r.log.filter((e) => e.conn === 0).pop().id; // the last id before the cut
    await sleep(1500);
    const retries = r.requests.slice(reqBefore);
    const ok = retries.filter((q) => q.status === 200);
    assert.equal(ok.length, 1, `one successful reconnect: ${JSON.stringify(retries)}`);
    assert.equal(ok[0].lastEventId, heldId, 'the reconnect sent the last id held as Last-Event-ID');
    assert.ok(retries.every((q) => q.lastEventId === heldId), `every retry carried Last-Event-ID ${heldId}: ${JSON.stringify(retries)}`);
    assert.equal(es.readyState, EventSource.OPEN);
    console.log(`eventsource: server down ${restartedAt - stoppedAt}ms, first resumed event ${resumedAt - restartedAt}ms after the restart; ` +
      `${retries.length} request(s) while reconnecting: ${retries.map((q) => `${q.status}@+${q.at - stoppedAt}ms`).join(', ')}`);

    // 2b. Client-side reconnects: close, and open a new EventSource with
    // ?lastEventId= (no header on a first connection).
    for (let k = 0; k < 4; k++) {
      es.close();
      const held = r.lastId;
      await sleep(100 + k * 200); // ticks go by while nobody listens
      const n = r.log.length;
      const conn = r.conn;
      es = r.open(`${streamURL}?lastEventId=${encodeURIComponent(held)}`);
      await waitFor(() => r.conn > conn && r.log.length > n, 10000, `client-side reconnect ${k + 1}`);
      const q = r.requests[r.requests.length - 1];
      assert.equal(q.status, 200);
      assert.equal(q.lastEventId, null, 'a first connection sends no Last-Event-ID header');
      assert.equal(new URL(q.url).searchParams.get('lastEventId'), held);
      const first = r.log[n];
      assert.equal(first.type, 'tick', `first event after client-side reconnect ${k + 1}`);
      assert.ok(parseId(first.id).seq > parseId(held).seq, `first id ${first.id} after the held ${held}`);
      await sleep(700);
    }
    es.close();

    // 3. Every tick accounted for.
    const { errors, stats } = checkLog(r.log);
    console.log(`eventsource: ${JSON.stringify({ ...stats, lastSeq: undefined, afterClose: r.afterClose })}`);
    assert.deepEqual(errors, [], 'contiguity');
    assert.equal(stats.connections, 6, 'initial + restart + 4 client-side reconnects');
    assert.equal(stats.resets, 0);
    assert.ok(stats.symbols >= 10, `symbols seen: ${stats.symbols}`);
    assert.ok(r.requests.every((q) => q.status === 200 || String(q.status).startsWith('network error')),
      `statuses: ${JSON.stringify(r.requests.map((q) => q.status))}`);
    // And the checker would have caught a hole.
    assert.deepEqual(selfTest(r.log), []);
  } finally {
    if (es) es.close();
    await killServer(server);
    await removeDir(work);
  }
});

test('eventsource: a malformed lastEventId gets 200, reset, then a snapshot', { timeout: 30000 }, async () => {
  const work = await tempDir('tc-clients-es-');
  let server;
  const sources = [];
  try {
    const bin = tickcastBin(work);
    server = await startServer(bin, { dataDir: path.join(work, 'data') });
    const streamURL = server.url + '/v1/stream';
    await sleep(300);

    // ?lastEventId=garbage, and the same in a Last-Event-ID header (set
    // through the client's fetch hook, as a reconnect would send it).
    const cases = [
      { name: 'query', url: `${streamURL}?lastEventId=garbage`, header: null },
      { name: 'header', url: streamURL, header: 'garbage' },
      { name: 'header wins over query', url: `${streamURL}?lastEventId=${encodeURIComponent('x-1')}`, header: 'garbage' },
    ];
    for (const c of cases) {
      const r = recorder();
      const inner = r.fetch;
      r.fetch = (url, init) => {
        const headers = new Headers(init && init.headers);
        if (c.header !== null) headers.set('Last-Event-ID', c.header);
        return inner(url, { ...init, headers });
      };
      const es = r.open(c.url);
      sources.push(es);
      await waitFor(() => r.log.filter((e) => e.type === 'tick').length >= 5, 10000, `${c.name}: reset, snapshot, ticks`);
      es.close();
      assert.equal(r.requests[0].status, 200, c.name);
      assert.deepEqual(r.log.slice(0, 2).map((e) => e.type), ['reset', 'snapshot'], `${c.name}: first events`);
      const reset = JSON.parse(r.log[0].data);
      assert.equal(reset.requested, 'garbage', `${c.name}: reset.requested`);
      assert.equal(typeof reset.reason, 'string');
      assert.ok(reset.reason.length > 0);
      assert.ok(parseId(r.log[1].id), `${c.name}: the snapshot has an id`);
      // After the reset the stream is an ordinary one: contiguous from the snapshot.
      const { errors } = checkLog(r.log.slice(1));
      assert.deepEqual(errors, [], `${c.name}: contiguity after the reset`);
      assert.equal(r.log.filter((e) => e.type === 'reset').length, 1);
    }
  } finally {
    for (const es of sources) es.close();
    await killServer(server);
    await removeDir(work);
  }
});
