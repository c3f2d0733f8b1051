// feed.js: the tickcast reference client. Install it as a package (the
// repository's package.json: `npm install github:tickcast/tickcast` or a path
// to a clone; types in api/feed.d.ts; docs/clients.md) or copy this one
// file: it needs only EventSource, fetch and URL (no DOM, no other
// module). It is over 400 lines on purpose: a client to copy must be one
// file.
//
//   import { Feed } from 'tickcast'; // or './feed.js'
//   const feed = new Feed(document.baseURI, {
//     status(state, text) {},        // connecting, live, reconnecting, resumed, reset, error, idle
//     snapshot(ticks, { reset }) {}, // the latest tick per symbol: replace your state with it
//     tick(t) {},                    // a new tick, in order per symbol; repeats never come here
//     gap(g) {},                     // {symbol, missed, prev, next}: seq jumped; tick(t) follows
//     reset({ reason, requested }) {}, // cannot resume exactly: a snapshot follows
//   });
//   feed.open({ symbols: ['AAPL', 'MSFT'], throttle: '250ms' }); // symbols null: all
//   feed.open({ events: ['tick', 'quote', 'bar', 'status'], bars: ['1s', '1m'] }); // other event types
//   feed.open({ events: ['quote', 'book'], depth: 5 }); // books, 5 levels a side (default 10)
//   feed.open({ symbols: null }); // later: another request, resuming from the last id
//   feed.open({ symbols: ['AAPL'], lastId: id }); // continue from an id you kept (e.g. GET /v1/bars's)
//   feed.stop('idle');            // close on purpose; the next open starts over
//
// Every handler is optional. Outside a browser (Node), pass an
// EventSource class: new Feed(base, { EventSource }) with the npm
// `eventsource` package's. Also: ignored(t) for a tick event not passed
// to tick() (a repeat or overlap after a resume), and log(text) for the
// moments worth a line in a connection log.
//
// Other event types (docs/api.md), asked for with open({events: [...]};
// without it the stream carries ticks only, as it always has): quote(q),
// trade(t), bar(b), symbolStatus(s) (a status event: status() is the
// connection's), clock(c) and book(b) (a whole book: replace the
// symbol's; never apply it as a change) get each event of their type in order, repeats skipped by the same gap rule per type (bars per
// symbol and interval, the clock once); gap(g) then has g.type ('tick',
// 'quote', ...). The snapshot's other parts come in its second argument:
// snapshot(ticks, {reset, partial, quotes, bars, statuses, clock, books}). Fields to read: state, text,
// lastId, connections, streamURL (its token redacted); latest(symbol) is
// the last tick held.
//
// Access tokens, when the gateway requires one (docs/api.md, Access
// control), go in the same object:
//
//   new Feed(base, { token: 'eyJ...', ... });            // a fixed token
//   new Feed(base, { tokenProvider: async () => '...' }); // asked before every connection
//
// feed.js puts the token in stream URLs as access_token= (EventSource
// cannot set headers) and sends it on its fetches as Authorization: Bearer
// (authHeaders() gives that header for your own fetches). A gateway ends a
// stream when its token expires, after a complete event, with a retry:.
// EventSource would reconnect by itself with the same URL, so the same
// expired token: with a tokenProvider, feed.js closes it instead and
// reopens the stream itself, with the provider's (fresh) token and
// lastEventId=, so the resume is exact. A 401 (token refused) then asks
// the provider again, with back-off; without a provider a 401 is an
// error, as is a 403 (a symbol the token does not allow) in any case.
//
// What it does, and what your own client must do too:
//
//   - Keep the id of the last event handled (e.lastEventId). EventSource
//     reconnects by itself and sends it as Last-Event-ID; the server then
//     replays what you missed as ordinary tick events (a resume), or sends
//     `reset` and a `snapshot` when it cannot.
//   - When you replace the EventSource yourself (other symbols, another
//     throttle), put the id in the URL as lastEventId= so nothing is lost
//     across the switch; symbols you add get their latest tick from
//     /v1/snapshot at once (snapshot(ticks, {partial: true})).
//   - Per symbol, seq - previous seq == (merged || 1). More is a gap; a seq
//     not above the previous one (only right after a resume) is a tick you
//     already hold: skip it. A snapshot, and above all a reset, replaces
//     the state: no gap is counted across it.
//   - Browsers give up on any non-200 answer; a 400 is a request that will
//     stay wrong, anything else is worth retrying later.

const CAUGHT_UP_MS = 1000; // a resumed tick this close to now is live again
const CATCH_UP_LIMIT_MS = 20000; // give up measuring catch-up (clock skew)
const HOLD_MS = 6000; // how long "resumed ..." or "reset ..." stays up
const IDLE_RESUME_MS = 3000; // reconnected but nothing to replay: live
const MAX_BACKOFF_MS = 15000;
const REOPEN_MS = 1000; // with a tokenProvider: reopen this long after a drop (plus jitter)
const CONNECTING = 0; // EventSource.CONNECTING, also for classes without the static

// OTHER_TYPES are the event types besides tick, snapshot and reset, each
// passed to the handler of its name (status: symbolStatus) by onOther. A
// new event type of the API is one more entry here (and its handler in
// api/feed.d.ts).
const OTHER_TYPES = ['quote', 'trade', 'bar', 'status', 'clock', 'book'];

// missed is the gap rule: how many ticks of a symbol are missing between
// the previous seq held and tick t. More than 0 is a gap; 0 is the next
// tick; less than 0 overlaps ticks already held (after a resume).
export function missed(prevSeq, t) {
  return t.seq - (t.merged > 1 ? t.merged : 1) - prevSeq;
}

export class Feed {
  constructor(base, handlers = {}) {
    this.base = base;
    this.h = handlers;
    this.symbols = null; // null: all symbols; else an array
    this.asked = null; // the symbols of the latest connection
    this.throttle = '0';
    this.lastId = '';
    this.held = new Map(); // symbol -> latest tick: the per-symbol state
    this.seen = new Map(); // 'quote:AAPL', 'bar:AAPL:1s', 'clock', ... -> latest seq of other types
    this.events = null; // null: ticks only (no events=); else e.g. ['tick', 'quote']
    this.bars = null; // bar intervals (bars=), null: the server's default
    this.depth = null; // book levels a side (depth=), null: the server's default (10)
    this.es = null;
    this.state = 'connecting';
    this.text = 'connecting';
    this.mode = 'first'; // how the current connection began: first, reconnect, switch
    this.firstEvent = true;
    this.pendingReset = null;
    this.catching = false;
    this.caught = 0;
    this.catchStart = 0;
    this.backoff = 1000;
    this.retryTimer = 0;
    this.holdTimer = 0;
    this.idleTimer = 0;
    this.connections = 0;
    this.stopped = false;
    this.lostAt = 0;
    this.token = handlers.token || '';
    this.tokenProvider = typeof handlers.tokenProvider === 'function' ? handlers.tokenProvider : null;
    this.gen = 0; // connections asked for: a late token for an older one is dropped
    this.EventSource = handlers.EventSource || globalThis.EventSource;
  }

  // authHeaders is the Authorization header for a fetch of the API: {}
  // without a token.
  authHeaders() {
    return this.token ? { Authorization: 'Bearer ' + this.token } : {};
  }

  // latest is the last tick held for symbol, or undefined.
  latest(symbol) {
    return this.held.get(symbol);
  }

  // streamURL is the URL of the open stream, '' when there is none.
  get streamURL() {
    if (!this.es) return '';
    const u = new URL(this.es.url);
    if (u.searchParams.has('access_token')) u.searchParams.set('access_token', 'redacted');
    return u.href;
  }

  // set records what the next connection asks for, without connecting:
  // symbols (an array, or null for all) and throttle ('0', '250ms', ...).
  // events (an array of event types, or null: ticks only) and bars (bar
  // intervals), depth (book levels a side) too, and lastId: an id to
  // resume from (e.g. the id of GET /v1/bars, or one kept across a
  // remount), '' to start over.
  set({ symbols, throttle, events, bars, depth, lastId } = {}) {
    if (lastId !== undefined) this.lastId = lastId || '';
    if (symbols !== undefined) this.symbols = symbols;
    if (throttle !== undefined) this.throttle = throttle;
    if (events !== undefined) this.events = events;
    if (bars !== undefined) this.bars = bars;
    if (depth !== undefined) this.depth = depth;
  }

  // open (re)connects with the current or given request. With an id to
  // resume from, it resumes ("switch": the state stays "live") and fills
  // symbols added to the request from /v1/snapshot; the first time, and
  // after stop, it starts over with a snapshot.
  open(opts) {
    const had = this.asked;
    if (this.stopped) this.lastId = ''; // nothing to carry on after idle (unless opts.lastId)
    this.set(opts);
    const resume = this.lastId !== '';
    this.connect(resume ? 'switch' : 'first');
    if (resume) this.fill(had);
  }

  // stop closes the stream on purpose (nothing to ask for); text is the
  // state's text, e.g. "idle · no symbols selected".
  stop(text) {
    this.close();
    this.stopped = true;
    this.held.clear();
    this.seen.clear();
    clearTimeout(this.holdTimer);
    this.setState('idle', text);
  }

  // requestURL is the stream URL for the current symbols and throttle,
  // resuming from the last id (the Last-Event-ID header of an automatic
  // reconnect takes precedence over the lastEventId query parameter).
  requestURL() {
    const u = new URL('v1/stream', this.base);
    if (this.symbols) u.searchParams.set('symbols', this.symbols.join(','));
    if (this.throttle && this.throttle !== '0') u.searchParams.set('throttle', this.throttle);
    if (this.events && this.events.length) u.searchParams.set('events', this.events.join(','));
    if (this.events && this.events.includes('bar') && this.bars && this.bars.length) u.searchParams.set('bars', this.bars.join(','));
    if (this.events && this.events.includes('book') && this.depth) u.searchParams.set('depth', String(this.depth));
    if (this.lastId) u.searchParams.set('lastEventId', this.lastId);
    if (this.token) u.searchParams.set('access_token', this.token);
    return u.href;
  }

  // connect replaces the connection. mode is 'first', 'switch' (symbols or
  // throttle changed: stays "live") or 'reconnect' (shows "resumed").
  connect(mode) {
    this.close();
    this.stopped = false;
    this.mode = mode;
    this.firstEvent = true;
    this.pendingReset = null;
    this.catching = false;
    if (mode === 'first') this.setState('connecting', 'connecting');
    this.asked = this.symbols;
    if (mode === 'switch') {
      this.log(`switched · ${this.describe()} · from ${this.lastId}`);
      // Symbols no longer asked for: their seq will not continue.
      if (this.symbols) {
        const keep = new Set(this.symbols);
        for (const sym of this.held.keys()) if (!keep.has(sym)) this.held.delete(sym);
        for (const k of this.seen.keys()) if (k !== 'clock' && !keep.has(k.split(':')[1])) this.seen.delete(k);
      }
    } else if (mode === 'reconnect') this.log('reopening the stream');
    if (!this.tokenProvider) {
      this.openStream();
      return;
    }
    // Ask for the token first; a newer connect or a stop meanwhile wins.
    const gen = ++this.gen;
    Promise.resolve().then(() => this.tokenProvider()).then((tok) => {
      if (gen !== this.gen || this.stopped || this.es) return;
      this.token = tok || '';
      this.openStream();
    }, (err) => {
      if (gen !== this.gen || this.stopped) return;
      this.log(`no access token · ${err && err.message ? err.message : err} · retrying`);
      this.setState('reconnecting', 'reconnecting');
      this.retryLater();
    });
  }

  // openStream opens the EventSource for the current request.
  openStream() {
    const url = this.requestURL();
    const es = new this.EventSource(url);
    this.es = es;
    this.connections++;
    es.addEventListener('snapshot', (e) => { if (es === this.es) this.onSnapshot(e); });
    es.addEventListener('tick', (e) => { if (es === this.es) this.onTick(e); });
    for (const type of OTHER_TYPES) {
      es.addEventListener(type, (e) => { if (es === this.es) this.onOther(type, e); });
    }
    es.addEventListener('reset', (e) => { if (es === this.es) this.onReset(e); });
    es.onopen = () => { if (es === this.es) this.onOpen(); };
    es.onerror = () => { if (es === this.es) this.onError(es); };
  }

  close() {
    this.gen++;
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  // fill shows symbols added to a resumed request at once: their latest
  // ticks from /v1/snapshot, for those the stream has not delivered yet.
  // The stream resumes from before them, so what the snapshot covers
  // comes again as repeats, and is skipped.
  async fill(had) {
    const now = this.symbols;
    if (had === null) return; // all symbols before: nothing is new
    const added = now ? now.filter((s) => !had.includes(s)) : null; // null: all
    if (added && !added.length) return;
    const u = new URL('v1/snapshot', this.base);
    if (added) u.searchParams.set('symbols', added.join(','));
    let ticks;
    try {
      const r = await fetch(u, { cache: 'no-store', headers: this.authHeaders() });
      if (!r.ok) return;
      ticks = valid((await r.json()).ticks);
    } catch { return; /* the stream fills them anyway */ }
    const want = this.symbols ? new Set(this.symbols) : null; // the request may have changed since
    ticks = ticks.filter((t) => (!want || want.has(t.symbol)) && !this.held.has(t.symbol));
    if (!ticks.length) return;
    for (const t of ticks) this.held.set(t.symbol, t);
    this.emit('snapshot', ticks, { reset: false, partial: true });
  }

  // describe is the current request in words.
  describe() {
    const syms = this.symbols ? `${this.symbols.length} symbol${this.symbols.length === 1 ? '' : 's'}` : 'all symbols';
    return `${syms}, throttle ${this.throttle === '0' ? 'off' : this.throttle}`;
  }

  // offline says how long the stream was away, for the log.
  offline() {
    if (!this.lostAt) return '';
    const s = (Date.now() - this.lostAt) / 1000;
    this.lostAt = 0;
    return ` · offline ${s.toFixed(1)} s`;
  }

  emit(name, ...args) {
    const f = this.h[name];
    if (f) f(...args);
  }

  log(text) {
    this.emit('log', text);
  }

  setState(state, text) {
    this.state = state;
    this.text = text;
    this.emit('status', state, text);
  }

  // hold shows a passing state for a while, then "live".
  hold(state, text) {
    this.setState(state, text);
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      if (this.state === state && this.es) this.setState('live', 'live');
    }, HOLD_MS);
  }

  // began is called with the first event of every connection.
  began() {
    this.firstEvent = false;
    this.backoff = 1000;
    clearTimeout(this.idleTimer);
  }

  onOpen() {
    if (this.mode !== 'reconnect' || !this.firstEvent) return;
    // Nothing may be waiting to be replayed (a quiet symbol set): then the
    // resume is complete as soon as the server has accepted it.
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.firstEvent && this.es) {
        this.began();
        this.hold('resumed', 'resumed · nothing missed');
        this.log('resumed · nothing to replay' + this.offline());
      }
    }, IDLE_RESUME_MS);
  }

  onSnapshot(e) {
    if (e.lastEventId) this.lastId = e.lastEventId;
    const data = JSON.parse(e.data);
    const reset = this.pendingReset;
    this.pendingReset = null;
    const first = this.firstEvent;
    this.began();
    const ticks = valid(data.ticks);
    const extra = { reset: !!reset, partial: false };
    if (this.events) {
      // The other types' newest, each the state to continue from.
      if (reset) this.seen.clear();
      extra.quotes = valid(data.quotes);
      extra.bars = valid(data.bars);
      extra.statuses = valid(data.statuses);
      extra.clock = data.clock && typeof data.clock === 'object' ? data.clock : null;
      extra.books = valid(data.books);
      for (const b of extra.books) this.seen.set(seenKey('book', b), b.seq);
      for (const q of extra.quotes) this.seen.set(seenKey('quote', q), q.seq);
      for (const b of extra.bars) this.seen.set(seenKey('bar', b), b.seq);
      for (const s of extra.statuses) this.seen.set(seenKey('status', s), s.seq);
      if (extra.clock && extra.clock.seq > 0) this.seen.set('clock', extra.clock.seq);
    }
    this.log(`${reset ? 'snapshot after reset' : this.mode === 'first' ? 'connected' : 'reconnected'} · ${this.describe()} · snapshot of ${ticks.length}`);
    // The stream continues from these ticks: no gap is counted across them.
    for (const t of ticks) this.held.set(t.symbol, t);
    this.emit('snapshot', ticks, extra);
    if (reset) this.hold('reset', 'reset · ' + (reset.reason || 'state replaced'));
    else if (first) {
      clearTimeout(this.holdTimer);
      this.setState('live', 'live');
    }
  }

  onTick(e) {
    if (e.lastEventId) this.lastId = e.lastEventId;
    const t = JSON.parse(e.data);
    this.arrived(t, true);
    this.take(t);
  }

  // onOther takes an event of another type (quote, trade, bar, status,
  // clock, book), with the same gap rule per type, symbol (and bar interval).
  onOther(type, e) {
    if (e.lastEventId) this.lastId = e.lastEventId;
    let v;
    try { v = JSON.parse(e.data); } catch { return; }
    this.arrived(v, false);
    if (!v || !(v.seq > 0) || (type !== 'clock' && typeof v.symbol !== 'string')) return;
    const key = seenKey(type, v);
    const prev = this.seen.get(key);
    if (prev !== undefined && v.seq <= prev) return; // a repeat after a resume
    this.seen.set(key, v.seq);
    if (prev !== undefined) {
      const n = missed(prev, v);
      if (n > 0) this.emit('gap', { type, symbol: v.symbol || '', interval: v.interval, missed: n, prev, next: prev + n + 1 });
    }
    this.emit(type === 'status' ? 'symbolStatus' : type, v);
  }

  // arrived handles the first event of a connection and the catch-up
  // after a resume; tick says whether t is a tick (counted as caught up).
  arrived(t, tick) {
    if (this.firstEvent) {
      this.began();
      if (this.mode === 'reconnect') {
        this.catching = true;
        this.caught = 0;
        this.catchStart = Date.now();
        this.setState('resumed', 'resumed · catching up');
      } else {
        clearTimeout(this.holdTimer);
        this.setState('live', 'live');
      }
    }
    if (this.catching && t) {
      const now = Date.now();
      const at = Date.parse(t.time || t.end);
      if (!tick && !(now - at <= CAUGHT_UP_MS)) return;
      if (now - at <= CAUGHT_UP_MS || now - this.catchStart > CATCH_UP_LIMIT_MS) {
        this.catching = false;
        const n = this.caught;
        this.hold('resumed', n === 0 ? 'resumed · nothing missed'
          : `resumed · ${n.toLocaleString('en-US')} tick${n === 1 ? '' : 's'} caught up`);
        this.log(this.text + this.offline());
      } else {
        this.caught += t.merged > 1 ? t.merged : 1;
        this.setState('resumed', `resumed · catching up ${this.caught.toLocaleString('en-US')} ticks`);
      }
    }
  }

  // take applies the gap rule to a tick event and passes it on.
  take(t) {
    const prev = t && this.held.get(t.symbol);
    if (!t || typeof t.symbol !== 'string' || !(t.seq > 0) || (prev && t.seq <= prev.seq)) {
      this.emit('ignored', t); // a repeat after a resume (or no seq at all)
      return;
    }
    this.held.set(t.symbol, t);
    if (prev) {
      const n = missed(prev.seq, t);
      if (n > 0) this.emit('gap', { type: 'tick', symbol: t.symbol, missed: n, prev: prev.seq, next: prev.seq + n + 1 });
    }
    this.emit('tick', t);
  }

  onReset(e) {
    if (e.lastEventId) this.lastId = e.lastEventId;
    let data = {};
    try { data = JSON.parse(e.data); } catch { /* a reset is a reset */ }
    this.began();
    this.catching = false;
    this.pendingReset = data;
    this.held.clear(); // replaced by the snapshot that follows
    this.seen.clear();
    this.setState('reset', 'reset · ' + (data.reason || 'state replaced'));
    this.log(`reset · ${data.reason || 'no reason given'} · requested ${data.requested || '–'}`);
    this.emit('reset', data);
  }

  onError(es) {
    clearTimeout(this.idleTimer);
    this.catching = false;
    if (es.readyState === CONNECTING && this.tokenProvider) {
      // The stream ended (its token may have expired): reopen it here, with
      // a token from the provider and lastEventId=, not the browser's retry
      // of the old URL.
      es.close();
      this.es = null;
      if (this.state !== 'reconnecting') {
        this.lostAt = Date.now();
        this.log('connection lost · reopening with a fresh token');
      }
      this.mode = 'reconnect';
      this.setState('reconnecting', 'reconnecting');
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.connect('reconnect'), REOPEN_MS + Math.random() * 500);
      return;
    }
    if (es.readyState === CONNECTING) {
      // The browser retries by itself, sending Last-Event-ID.
      if (this.state !== 'reconnecting') {
        this.lostAt = Date.now();
        this.log('connection lost · the browser reconnects with Last-Event-ID');
      }
      this.mode = 'reconnect';
      this.firstEvent = true;
      this.setState('reconnecting', 'reconnecting');
      return;
    }
    // CLOSED: the browser gave up (a non-200 answer). Ask the API why:
    // a 400 stays wrong; anything else (a restart, a proxy) is retried.
    if (this.state !== 'reconnecting') {
      this.lostAt = Date.now();
      this.log('stream closed by the browser · retrying');
    }
    this.es = null;
    this.setState('reconnecting', 'reconnecting');
    this.probe();
  }

  async probe() {
    const u = new URL('v1/snapshot', this.base);
    if (this.symbols) u.searchParams.set('symbols', this.symbols.join(','));
    try {
      const r = await fetch(u, { cache: 'no-store', headers: this.authHeaders() });
      // 400 and 403 stay wrong; so does 401, unless a provider may give
      // another token.
      if (r.status === 400 || r.status === 403 || (r.status === 401 && !this.tokenProvider)) {
        let msg = r.status === 400 ? 'bad request' : 'access token refused';
        try { msg = (await r.json()).error || msg; } catch { /* keep msg */ }
        this.setState('error', 'error · ' + msg);
        this.log(`stream refused · ${r.status} · ${msg}`);
        return;
      }
      if (r.status === 401) this.log('access token refused · asking for another');
    } catch { /* the server is away: retry below */ }
    if (this.es || this.stopped) return; // reopened or stopped meanwhile
    this.retryLater();
  }

  // retryLater reconnects after the back-off, doubling it.
  retryLater() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect('reconnect'), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }
}

// valid keeps the events of a snapshot that a client can follow.
function valid(ticks) {
  return Array.isArray(ticks) ? ticks.filter((t) => t && typeof t.symbol === 'string' && t.seq > 0) : [];
}

// seenKey is the counter an event of another type counts on: per type
// and symbol, per interval for bars, one for the clock. A trade counts
// on its tick's seq, apart from tick events.
function seenKey(type, v) {
  if (type === 'clock') return 'clock';
  return type === 'bar' ? `bar:${v.symbol}:${v.interval}` : `${type}:${v.symbol}`;
}
