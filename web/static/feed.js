// Feed keeps one EventSource open on /v1/stream and tracks the connection
// as a user sees it. It is the part of the dashboard to copy when you write
// your own client:
//
//   - Keep the id of the last event you handled (e.lastEventId).
//   - EventSource reconnects by itself and sends that id as Last-Event-ID;
//     the server then replays what you missed as ordinary tick events (a
//     resume), or sends `reset` followed by a `snapshot` when it cannot.
//   - When you replace the EventSource yourself (other symbols, another
//     throttle), put the id in the URL as lastEventId= so nothing is lost
//     across the switch.
//   - Browsers give up on any non-200 answer; a 400 is a request that will
//     stay wrong, anything else is worth retrying later.
//
// States (Feed.state): connecting, live, reconnecting, resumed, reset,
// error, idle. Feed.text is the line to show for it. Handlers get the data:
// snapshot(ticks, {reset}), tick(tick), reset({reason, requested}), and
// log(text) for the moments worth a line in a connection log.

const CAUGHT_UP_MS = 1000; // a resumed tick this close to now is live again
const CATCH_UP_LIMIT_MS = 20000; // give up measuring catch-up (clock skew)
const HOLD_MS = 6000; // how long "resumed ..." or "reset ..." stays up
const IDLE_RESUME_MS = 3000; // reconnected but nothing to replay: live
const MAX_BACKOFF_MS = 15000;

export class Feed {
  constructor(base, handlers) {
    this.base = base;
    this.h = handlers;
    this.symbols = null; // null: all symbols; else a sorted array
    this.throttle = '0';
    this.lastId = '';
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
  }

  // url is the stream URL for the current symbols and throttle, resuming
  // from the last id (the Last-Event-ID header of an automatic reconnect
  // takes precedence over the lastEventId query parameter on the server).
  url() {
    const u = new URL('v1/stream', this.base);
    if (this.symbols) u.searchParams.set('symbols', this.symbols.join(','));
    if (this.throttle && this.throttle !== '0') u.searchParams.set('throttle', this.throttle);
    if (this.lastId) u.searchParams.set('lastEventId', this.lastId);
    return u.href;
  }

  // open replaces the connection. mode is 'first', 'switch' (symbols or
  // throttle changed: stays "live") or 'reconnect' (shows "resumed").
  open(mode) {
    this.close();
    this.stopped = false;
    this.mode = mode;
    this.firstEvent = true;
    this.pendingReset = null;
    this.catching = false;
    if (mode === 'first') this.set('connecting', 'connecting');
    const url = this.url();
    if (mode === 'switch') this.log(`switched · ${this.describe()} · from ${this.lastId}`);
    else if (mode === 'reconnect') this.log('reopening the stream');
    const es = new EventSource(url);
    this.es = es;
    this.connections++;
    es.addEventListener('snapshot', (e) => { if (es === this.es) this.onSnapshot(e); });
    es.addEventListener('tick', (e) => { if (es === this.es) this.onTick(e); });
    es.addEventListener('reset', (e) => { if (es === this.es) this.onReset(e); });
    es.onopen = () => { if (es === this.es) this.onOpen(); };
    es.onerror = () => { if (es === this.es) this.onError(es); };
  }

  close() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  // stop closes the stream on purpose (nothing selected).
  stop(text) {
    this.close();
    this.stopped = true;
    clearTimeout(this.holdTimer);
    this.set('idle', text);
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

  log(text) {
    if (this.h.log) this.h.log(text);
  }

  set(state, text) {
    this.state = state;
    this.text = text;
  }

  // hold shows a passing state for a while, then "live".
  hold(state, text) {
    this.set(state, text);
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      if (this.state === state && this.es) this.set('live', 'live');
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
    const ticks = Array.isArray(data.ticks) ? data.ticks : [];
    this.log(`${reset ? 'snapshot after reset' : this.mode === 'first' ? 'connected' : 'reconnected'} · ${this.describe()} · snapshot of ${ticks.length}`);
    this.h.snapshot(ticks, { reset: !!reset });
    if (reset) this.hold('reset', 'reset · ' + (reset.reason || 'state replaced'));
    else if (first) {
      clearTimeout(this.holdTimer);
      this.set('live', 'live');
    }
  }

  onTick(e) {
    if (e.lastEventId) this.lastId = e.lastEventId;
    const t = JSON.parse(e.data);
    if (this.firstEvent) {
      this.began();
      if (this.mode === 'reconnect') {
        this.catching = true;
        this.caught = 0;
        this.catchStart = Date.now();
        this.set('resumed', 'resumed · catching up');
      } else {
        clearTimeout(this.holdTimer);
        this.set('live', 'live');
      }
    }
    if (this.catching) {
      const now = Date.now();
      if (now - Date.parse(t.time) <= CAUGHT_UP_MS || now - this.catchStart > CATCH_UP_LIMIT_MS) {
        this.catching = false;
        const n = this.caught;
        this.hold('resumed', n === 0 ? 'resumed · nothing missed'
          : `resumed · ${n.toLocaleString('en-US')} tick${n === 1 ? '' : 's'} caught up`);
        this.log(this.text + this.offline());
      } else {
        this.caught += t.merged > 1 ? t.merged : 1;
        this.text = `resumed · catching up ${this.caught.toLocaleString('en-US')} ticks`;
      }
    }
    this.h.tick(t);
  }

  onReset(e) {
    if (e.lastEventId) this.lastId = e.lastEventId;
    let data = {};
    try { data = JSON.parse(e.data); } catch { /* a reset is a reset */ }
    this.began();
    this.catching = false;
    this.pendingReset = data;
    this.set('reset', 'reset · ' + (data.reason || 'state replaced'));
    this.log(`reset · ${data.reason || 'no reason given'} · requested ${data.requested || '–'}`);
    this.h.reset(data);
  }

  onError(es) {
    clearTimeout(this.idleTimer);
    this.catching = false;
    if (es.readyState === EventSource.CONNECTING) {
      // The browser retries by itself, sending Last-Event-ID.
      if (this.state !== 'reconnecting') {
        this.lostAt = Date.now();
        this.log('connection lost · the browser reconnects with Last-Event-ID');
      }
      this.mode = 'reconnect';
      this.firstEvent = true;
      this.set('reconnecting', 'reconnecting');
      return;
    }
    // CLOSED: the browser gave up (a non-200 answer). Ask the API why:
    // a 400 stays wrong; anything else (a restart, a proxy) is retried.
    if (this.state !== 'reconnecting') {
      this.lostAt = Date.now();
      this.log('stream closed by the browser · retrying');
    }
    this.es = null;
    this.set('reconnecting', 'reconnecting');
    this.probe();
  }

  async probe() {
    const u = new URL('v1/snapshot', this.base);
    if (this.symbols) u.searchParams.set('symbols', this.symbols.join(','));
    try {
      const r = await fetch(u, { cache: 'no-store' });
      if (r.status === 400) {
        let msg = 'bad request';
        try { msg = (await r.json()).error || msg; } catch { /* keep msg */ }
        this.set('error', 'error · ' + msg);
        this.log(`stream refused · 400 · ${msg}`);
        return;
      }
    } catch { /* the server is away: retry below */ }
    if (this.es || this.stopped) return; // reopened or stopped meanwhile
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open('reconnect'), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }
}
