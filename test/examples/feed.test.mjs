// The `tickcast` package (the repository root's package.json, installed
// here from its path as an app would from a path or a git URL) in Node,
// against the real binary: Feed with the npm eventsource client, every
// event type's gap rule across a gateway restart, and a stream continued
// from the id of GET /v1/bars with nothing missed or doubled.
//
//   cd test/examples && npm ci && TICKCAST_BIN=/path/to/tickcast node --test feed.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { EventSource } from 'eventsource';
import { Feed, missed } from 'tickcast';
import { sleep, tickcastBin, tempDir, removeDir, startServer, stopServer, killServer } from '../clients/lib.mjs';

async function until(what, ms, f) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

// record opens a Feed that records what reaches each handler.
function record(base, request) {
  const got = { states: [], snapshots: [], ticks: [], quotes: [], bars: [], gaps: [], resets: [] };
  const feed = new Feed(base, {
    EventSource,
    status: (s) => got.states.push(s),
    snapshot: (ticks, extra) => got.snapshots.push({ ticks, extra }),
    tick: (t) => got.ticks.push(t),
    quote: (q) => got.quotes.push(q),
    bar: (b) => got.bars.push(b),
    gap: (g) => got.gaps.push(g),
    reset: (r) => got.resets.push(r),
  });
  feed.open(request);
  return { feed, got };
}

test('package: the gap rule is exported', () => {
  assert.equal(missed(10, { seq: 11 }), 0);
  assert.equal(missed(10, { seq: 14, merged: 4 }), 0);
  assert.equal(missed(10, { seq: 13 }), 2);
});

test('package: Feed in Node resumes across a gateway restart with no gap of any type', { timeout: 90000 }, async () => {
  const work = await tempDir('tc-examples-feed-');
  let server;
  let rec;
  try {
    const bin = tickcastBin(work);
    const dataDir = path.join(work, 'data');
    server = await startServer(bin, { dataDir, rate: 300 });
    const base = server.url + '/';
    rec = record(base, { symbols: ['AAPL', 'MSFT'], events: ['tick', 'quote', 'bar'], bars: ['1s'] });
    const { feed, got } = rec;
    await until('live ticks, quotes and bars', 20000, () => got.ticks.length >= 5 && got.quotes.length >= 5 && got.bars.length >= 2);
    assert.equal(got.snapshots.length, 1, 'one snapshot on the first connection');
    assert.ok(got.states.includes('live'));

    await stopServer(server);
    const before = { ticks: got.ticks.length, bars: got.bars.length };
    server = await startServer(bin, { dataDir, addr: `127.0.0.1:${server.port}`, rate: 300 });
    await until('the resume', 30000, () => got.states.includes('resumed') && got.ticks.length > before.ticks + 5 && got.bars.length > before.bars + 2);

    assert.deepEqual(got.gaps, [], 'no gap of any type across the restart');
    assert.deepEqual(got.resets, [], 'no reset');
    assert.equal(got.snapshots.length, 1, 'the reconnect resumes: no second snapshot');
    const bySym = new Map();
    for (const t of got.ticks) {
      const prev = bySym.get(t.symbol);
      if (prev !== undefined) assert.equal(missed(prev, t), 0, `${t.symbol} seq ${t.seq} after ${prev}`);
      bySym.set(t.symbol, t.seq);
    }
    assert.match(feed.lastId, /^[0-9a-v]+-\d+$/, 'lastId is the id of the last event');
    feed.stop('idle');
    assert.equal(feed.state, 'idle');
  } finally {
    if (rec) rec.feed.stop('idle');
    await killServer(server);
    await removeDir(work);
  }
});

test('package: open({lastId}) with the id of GET /v1/bars continues the bars with nothing missed or doubled', { timeout: 60000 }, async () => {
  const work = await tempDir('tc-examples-bars-');
  let server;
  let rec;
  try {
    const bin = tickcastBin(work);
    server = await startServer(bin, { dataDir: path.join(work, 'data'), rate: 300 });
    const base = server.url + '/';
    const hist = await until('bars of history', 20000, async () => {
      const r = await fetch(`${base}v1/bars?symbol=AAPL&interval=1s`);
      const body = r.ok ? await r.json() : null;
      return body && body.bars.length >= 2 ? body : null;
    });
    rec = record(base, { symbols: ['AAPL'], events: ['bar'], bars: ['1s'], lastId: hist.id });
    const { got } = rec;
    await until('3 live bars', 20000, () => got.bars.length >= 3);
    assert.equal(got.snapshots.length, 0, 'a stream from an id starts with no snapshot');
    const last = hist.bars[hist.bars.length - 1];
    assert.equal(got.bars[0].seq, last.seq + 1, `the first bar follows the history's last (${last.seq})`);
    assert.ok(Date.parse(got.bars[0].start) >= Date.parse(last.end), 'and starts where it ended');
    assert.deepEqual(got.gaps, []);
  } finally {
    if (rec) rec.feed.stop('idle');
    await killServer(server);
    await removeDir(work);
  }
});
