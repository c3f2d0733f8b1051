// Unit test of the reference client web/static/feed.js in node, with a
// fake EventSource and fetch: the gap rule, repeats after a resume, reset,
// the resume id in the URL and the connection states.
//
//   node feed.test.mjs

import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

// web/static has no package.json saying its .js files are modules (it is
// served as is), and node before 20.19 would read feed.js as CommonJS: load
// it from a data: URL, which is always a module. feed.js imports nothing.
const src = await readFile(new URL('../static/feed.js', import.meta.url), 'utf8');
const { Feed, missed } = await import('data:text/javascript;charset=utf-8,' + encodeURIComponent(src));

class FakeEventSource {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = FakeEventSource.CONNECTING;
    this.listeners = {};
    this.onopen = null;
    this.onerror = null;
    FakeEventSource.all.push(this);
  }
  addEventListener(type, f) { (this.listeners[type] ||= []).push(f); }
  close() { this.readyState = FakeEventSource.CLOSED; }
  // Test side:
  open() { this.readyState = FakeEventSource.OPEN; if (this.onopen) this.onopen(); }
  send(type, data, id) {
    for (const f of this.listeners[type] || []) f({ data: JSON.stringify(data), lastEventId: id || '' });
  }
  drop() { this.readyState = FakeEventSource.CONNECTING; if (this.onerror) this.onerror(); }
}
globalThis.EventSource = FakeEventSource;

let fetched; // URLs asked of fetch
let snapshotTicks; // what the fake /v1/snapshot answers
globalThis.fetch = async (u) => {
  fetched.push(String(u));
  return { ok: true, status: 200, json: async () => ({ id: 'e-99', ticks: snapshotTicks }) };
};

const BASE = 'http://127.0.0.1:1/';
const tick = (symbol, seq, extra = {}) => ({ symbol, seq, time: new Date().toISOString(), price: 10, bid: 9.99, ask: 10.01, size: 100, volume: seq * 100, ...extra });
const last = () => FakeEventSource.all[FakeEventSource.all.length - 1];

// recorder is a Feed with every handler writing to one list of events.
function recorder() {
  const got = [];
  const feed = new Feed(BASE, {
    status: (state, text) => got.push(['status', state, text]),
    snapshot: (ticks, o) => got.push(['snapshot', ticks.map((t) => `${t.symbol}:${t.seq}`), o]),
    tick: (t) => got.push(['tick', `${t.symbol}:${t.seq}`]),
    gap: (g) => got.push(['gap', g]),
    reset: (r) => got.push(['reset', r]),
    ignored: (t) => got.push(['ignored', `${t.symbol}:${t.seq}`]),
  });
  const only = (kind) => got.filter((e) => e[0] === kind).map((e) => e.slice(1));
  return { feed, got, only };
}

beforeEach(() => {
  FakeEventSource.all = [];
  fetched = [];
  snapshotTicks = [];
});

test('missed: the gap rule seq - previous seq > (merged || 1)', () => {
  assert.equal(missed(5, { seq: 6 }), 0);
  assert.equal(missed(5, { seq: 8 }), 2);
  assert.equal(missed(5, { seq: 8, merged: 3 }), 0);
  assert.equal(missed(5, { seq: 9, merged: 3 }), 1);
  assert.equal(missed(5, { seq: 7, merged: 4 }) < 0, true, 'an overlap after a resume');
});

test('snapshot, then ticks: gaps are reported before the tick, merged ticks are not gaps', () => {
  const { feed, only } = recorder();
  feed.open({ symbols: ['AAPL', 'MSFT'], throttle: '250ms' });
  const es = last();
  const u = new URL(es.url);
  assert.equal(u.pathname, '/v1/stream');
  assert.equal(u.searchParams.get('symbols'), 'AAPL,MSFT');
  assert.equal(u.searchParams.get('throttle'), '250ms');
  assert.equal(u.searchParams.get('lastEventId'), null, 'nothing to resume from yet');
  assert.equal(feed.state, 'connecting');

  es.open();
  es.send('snapshot', { ticks: [tick('AAPL', 10), tick('MSFT', 20)] }, 'e-1');
  assert.equal(feed.state, 'live');
  assert.equal(feed.lastId, 'e-1');
  es.send('tick', tick('AAPL', 11), 'e-2');
  es.send('tick', tick('AAPL', 14, { merged: 3 }), 'e-3');
  es.send('tick', tick('MSFT', 23), 'e-4'); // 21 and 22 missing
  es.send('tick', tick('MSFT', 24), 'e-5');
  assert.deepEqual(only('tick').flat(), ['AAPL:11', 'AAPL:14', 'MSFT:23', 'MSFT:24']);
  assert.deepEqual(only('gap').flat(), [{ type: 'tick', symbol: 'MSFT', missed: 2, prev: 20, next: 23 }]);
  assert.equal(feed.latest('MSFT').seq, 24);
  assert.equal(feed.lastId, 'e-5');
  feed.stop('idle');
});

test('after a reconnect, repeated and overlapping ticks are skipped, not gaps', () => {
  const { feed, only, got } = recorder();
  feed.open({ symbols: null });
  const es = last();
  es.open();
  es.send('snapshot', { ticks: [tick('AAPL', 10)] }, 'e-1');
  es.send('tick', tick('AAPL', 11), 'e-2');
  es.drop(); // the browser reconnects by itself with Last-Event-ID: e-2
  assert.equal(feed.state, 'reconnecting');
  es.open();
  es.send('tick', tick('AAPL', 11), 'e-2'); // a repeat
  assert.equal(feed.state, 'resumed');
  es.send('tick', tick('AAPL', 13, { merged: 3 }), 'e-4'); // overlaps 11
  es.send('tick', tick('AAPL', 14), 'e-5');
  assert.deepEqual(only('ignored').flat(), ['AAPL:11']);
  assert.deepEqual(only('tick').flat(), ['AAPL:11', 'AAPL:13', 'AAPL:14']);
  assert.deepEqual(only('gap'), []);
  const states = got.filter((e) => e[0] === 'status').map((e) => e[1]);
  assert.deepEqual([...new Set(states)], ['connecting', 'live', 'reconnecting', 'resumed']);
  feed.stop('idle');
});

test('a reset replaces all state: the snapshot after it may go back, no gap', () => {
  const { feed, only } = recorder();
  feed.open({ symbols: ['AAPL'] });
  const es = last();
  es.open();
  es.send('snapshot', { ticks: [tick('AAPL', 50)] }, 'e-1');
  es.send('reset', { reason: 'id older than the window', requested: 'e-1' }, '');
  assert.equal(feed.state, 'reset');
  assert.equal(feed.latest('AAPL'), undefined, 'state dropped at reset');
  es.send('snapshot', { ticks: [tick('AAPL', 7)] }, 'f-1');
  es.send('tick', tick('AAPL', 8), 'f-2');
  assert.deepEqual(only('reset').flat(), [{ reason: 'id older than the window', requested: 'e-1' }]);
  const snaps = only('snapshot');
  assert.deepEqual(snaps[1], [['AAPL:7'], { reset: true, partial: false }]);
  assert.deepEqual(only('tick').flat(), ['AAPL:8']);
  assert.deepEqual(only('gap'), []);
  assert.equal(feed.state, 'reset', 'the reset stays up a while');
  assert.equal(feed.lastId, 'f-2');
  feed.stop('idle');
});

test('a new request resumes with lastEventId= and fills added symbols from /v1/snapshot', async () => {
  const { feed, only } = recorder();
  feed.open({ symbols: ['AAPL'] });
  let es = last();
  es.open();
  es.send('snapshot', { ticks: [tick('AAPL', 10)] }, 'e-1');
  snapshotTicks = [tick('MSFT', 40)];
  feed.open({ symbols: ['AAPL', 'MSFT'] });
  assert.equal(es.readyState, FakeEventSource.CLOSED, 'the old stream is closed');
  es = last();
  const u = new URL(es.url);
  assert.equal(u.searchParams.get('symbols'), 'AAPL,MSFT');
  assert.equal(u.searchParams.get('lastEventId'), 'e-1');
  await new Promise((ok) => setTimeout(ok, 0));
  assert.deepEqual(fetched.map((f) => new URL(f).search), ['?symbols=MSFT']);
  assert.deepEqual(only('snapshot')[1], [['MSFT:40'], { reset: false, partial: true }]);
  // The stream resumes from e-1: MSFT ticks the snapshot covers are repeats.
  es.open();
  es.send('tick', tick('MSFT', 39), 'e-2');
  es.send('tick', tick('MSFT', 40), 'e-3');
  es.send('tick', tick('MSFT', 41), 'e-4');
  assert.deepEqual(only('ignored').flat(), ['MSFT:39', 'MSFT:40']);
  assert.deepEqual(only('tick').flat(), ['MSFT:41']);
  assert.equal(feed.state, 'live');

  // Dropping a symbol forgets its seq: coming back later is not a gap.
  feed.open({ symbols: ['AAPL'] });
  assert.equal(feed.latest('MSFT'), undefined);

  // After stop, the next open starts over: no resume id.
  feed.stop('idle · no symbols selected');
  assert.equal(feed.state, 'idle');
  assert.equal(feed.streamURL, '');
  feed.open({ symbols: ['MSFT'] });
  assert.equal(new URL(last().url).searchParams.get('lastEventId'), null);
  assert.equal(feed.state, 'connecting');
  feed.stop('idle');
});

test('access tokens: access_token= on streams, Bearer on fetches, a fresh token from the provider on every reopen', async () => {
  const tick0 = (ms) => new Promise((ok) => setTimeout(ok, ms));
  const realFetch = globalThis.fetch;
  const auth = [];
  let status = 200;
  globalThis.fetch = async (u, o = {}) => {
    auth.push((o.headers || {}).Authorization || '');
    return { ok: status === 200, status, json: async () => (status === 200 ? { id: 'e-99', ticks: [] } : { error: 'the access token has expired' }) };
  };
  try {
    // A fixed token: in the URL, redacted in streamURL.
    const fixed = new Feed(BASE, { token: 'T1' });
    fixed.open({ symbols: ['AAPL'] });
    assert.equal(new URL(last().url).searchParams.get('access_token'), 'T1');
    assert.equal(new URL(fixed.streamURL).searchParams.get('access_token'), 'redacted');
    assert.deepEqual(fixed.authHeaders(), { Authorization: 'Bearer T1' });
    // Refused (401) without a provider: an error, not endless retries.
    status = 401;
    last().readyState = FakeEventSource.CLOSED;
    last().onerror();
    await tick0(10);
    assert.equal(fixed.state, 'error');
    assert.match(fixed.text, /expired/);
    assert.deepEqual(auth, ['Bearer T1']);
    fixed.stop('idle');
    status = 200;

    // A provider: asked before every connection.
    let n = 0;
    const feed = new Feed(BASE, { tokenProvider: async () => `P${++n}` });
    feed.open({ symbols: ['AAPL'] });
    assert.equal(FakeEventSource.all.length, 1, 'nothing opened before the provider answered');
    await tick0(0);
    let es = last();
    assert.equal(new URL(es.url).searchParams.get('access_token'), 'P1');
    es.open();
    es.send('snapshot', { ticks: [tick('AAPL', 10)] }, 'e-5');
    es.send('tick', tick('AAPL', 11), 'e-6');
    // The server ends the stream at the token's exp: the browser would
    // retry the same URL; feed.js closes it and reopens with a new token
    // and the last id.
    es.drop();
    assert.equal(es.readyState, FakeEventSource.CLOSED);
    assert.equal(feed.state, 'reconnecting');
    await tick0(1600);
    es = last();
    const u = new URL(es.url);
    assert.equal(u.searchParams.get('access_token'), 'P2');
    assert.equal(u.searchParams.get('lastEventId'), 'e-6');
    es.open();
    es.send('tick', tick('AAPL', 12), 'e-7');
    assert.equal(feed.latest('AAPL').seq, 12);
    feed.stop('idle');
    await tick0(0);
    const before = FakeEventSource.all.length;
    feed.open({ symbols: ['MSFT'] });
    feed.stop('idle'); // before the provider answers: nothing opens
    await tick0(10);
    assert.equal(FakeEventSource.all.length, before);
  } finally {
    globalThis.fetch = realFetch;
  }
});

test('other event types: events= and bars= in the URL, the snapshot\'s parts, the gap rule per type, repeats skipped, reset clears', () => {
  const got = [];
  const feed = new Feed(BASE, {
    status: (state) => got.push(['conn', state]),
    snapshot: (ticks, o) => got.push(['snapshot', o]),
    quote: (q) => got.push(['quote', `${q.symbol}:${q.seq}`]),
    bar: (b) => got.push(['bar', `${b.symbol}:${b.interval}:${b.seq}`]),
    symbolStatus: (s) => got.push(['symbolStatus', `${s.symbol}:${s.state}`]),
    clock: (c) => got.push(['clock', `${c.seq}:${c.phase}`]),
    gap: (g) => got.push(['gap', g]),
  });
  feed.open({ events: ['tick', 'quote', 'bar', 'status'], bars: ['1s', '1m'] });
  let es = last();
  let u = new URL(es.url);
  assert.equal(u.searchParams.get('events'), 'tick,quote,bar,status');
  assert.equal(u.searchParams.get('bars'), '1s,1m');
  es.open();
  const q = (symbol, seq, extra = {}) => ({ symbol, seq, time: new Date().toISOString(), bid: 9.99, ask: 10.01, bidSize: 300, askSize: 500, ...extra });
  const bar = (symbol, interval, seq) => ({ symbol, interval, seq, start: new Date(Date.now() - 1000).toISOString(), end: new Date().toISOString(), open: 1, high: 1, low: 1, close: 1, volume: 0, trades: 0 });
  const clk = { seq: 4, time: new Date().toISOString(), marketTime: new Date().toISOString(), phase: 'regular', speed: 10 };
  es.send('snapshot', { ticks: [tick('AAPL', 10)], quotes: [q('AAPL', 7)], bars: [bar('AAPL', '1s', 3), bar('AAPL', '1m', 1)], statuses: [], clock: clk }, 'e-1');
  const snap = got.find((e) => e[0] === 'snapshot')[1];
  assert.equal(snap.quotes.length, 1);
  assert.equal(snap.bars.length, 2);
  assert.equal(snap.clock.seq, 4);
  assert.equal(feed.state, 'live');

  es.send('quote', q('AAPL', 7), 'e-2'); // the snapshot's: a repeat
  es.send('quote', q('AAPL', 8), 'e-3');
  es.send('quote', q('AAPL', 12, { merged: 4 }), 'e-4'); // 9-12 merged: no gap
  es.send('quote', q('AAPL', 14), 'e-5'); // 13 missing
  es.send('bar', bar('AAPL', '1s', 4), 'e-6');
  es.send('bar', bar('AAPL', '1m', 2), 'e-7'); // its own counter
  es.send('bar', bar('AAPL', '1s', 6), 'e-8'); // 5 missing
  es.send('status', { symbol: 'AAPL', seq: 1, time: new Date().toISOString(), state: 'halted' }, 'e-9');
  es.send('clock', { ...clk, seq: 5, phase: 'after' }, 'e-10');
  assert.equal(feed.lastId, 'e-10');
  const kinds = (k) => got.filter((e) => e[0] === k).map((e) => e[1]);
  assert.deepEqual(kinds('quote'), ['AAPL:8', 'AAPL:12', 'AAPL:14']);
  assert.deepEqual(kinds('bar'), ['AAPL:1s:4', 'AAPL:1m:2', 'AAPL:1s:6']);
  assert.deepEqual(kinds('symbolStatus'), ['AAPL:halted']);
  assert.deepEqual(kinds('clock'), ['5:after']);
  assert.deepEqual(kinds('gap').map((g) => `${g.type}:${g.symbol}:${g.interval || ''}:${g.missed}`), ['quote:AAPL::1', 'bar:AAPL:1s:1']);
  assert.ok(!got.some((e) => e[0] === 'conn' && e[1] !== 'connecting' && e[1] !== 'live'), 'status() is the connection\'s only');

  // A reset: counters start over from the snapshot that follows.
  es.send('reset', { reason: 'expired' }, 'e-11');
  es.send('snapshot', { ticks: [], quotes: [q('AAPL', 2)], bars: [], statuses: [], clock: { ...clk, seq: 1 } }, 'e-12');
  es.send('quote', q('AAPL', 3), 'e-13');
  es.send('clock', { ...clk, seq: 2 }, 'e-14');
  assert.deepEqual(kinds('quote').slice(-1), ['AAPL:3']);
  assert.deepEqual(kinds('clock').slice(-1), ['2:regular']);
  assert.equal(kinds('gap').length, 2, 'no gap across a reset');
  assert.equal(got.filter((e) => e[0] === 'snapshot')[1][1].reset, true);

  // Without events= the URL is today's.
  feed.stop('idle');
  feed.set({ events: null });
  feed.open({});
  es = last();
  u = new URL(es.url);
  assert.equal(u.searchParams.get('events'), null);
  assert.equal(u.searchParams.get('bars'), null);
});

test('book events: depth= in the URL, whole books in order, the snapshot\'s books, the gap rule', () => {
  const got = [];
  const feed = new Feed(BASE, {
    snapshot: (ticks, o) => got.push(['snapshot', o]),
    book: (b) => got.push(['book', `${b.symbol}:${b.seq}:${b.bids.length}`]),
    gap: (g) => got.push(['gap', `${g.type}:${g.symbol}:${g.missed}`]),
  });
  feed.open({ events: ['quote', 'book'], depth: 3 });
  const es = last();
  const u = new URL(es.url);
  assert.equal(u.searchParams.get('events'), 'quote,book');
  assert.equal(u.searchParams.get('depth'), '3');
  es.open();
  const book = (symbol, seq, extra = {}) => ({ symbol, seq, time: new Date().toISOString(), marketTime: new Date().toISOString(),
    bids: [[9.99, 300], [9.98, 500], [9.97, 900]], asks: [[10.01, 200], [10.02, 700], [10.03, 400]], ...extra });
  es.send('snapshot', { ticks: [], quotes: [], books: [book('AAPL', 5)] }, 'e-1');
  const snap = got.find((e) => e[0] === 'snapshot')[1];
  assert.equal(snap.books.length, 1);
  es.send('book', book('AAPL', 5), 'e-2'); // the snapshot's: a repeat
  es.send('book', book('AAPL', 6), 'e-3');
  es.send('book', book('AAPL', 9, { merged: 3 }), 'e-4'); // 7-9 merged: no gap
  es.send('book', book('AAPL', 11), 'e-5'); // 10 missing
  assert.equal(feed.lastId, 'e-5');
  assert.deepEqual(got.filter((e) => e[0] === 'book').map((e) => e[1]), ['AAPL:6:3', 'AAPL:9:3', 'AAPL:11:3']);
  assert.deepEqual(got.filter((e) => e[0] === 'gap').map((e) => e[1]), ['book:AAPL:1']);
  feed.stop('idle');
});
