// The tickcast dashboard: a watchlist, sparklines, a candle chart and the
// connection, on EventSource and the public API only. This file wires the
// view to the feed; the connection, resume and gap rule are all in
// feed.js, the reference client to copy.
//
// Ticks update the model as they arrive (cheap: numbers and candles);
// the DOM and the canvases are touched once per animation frame, for the
// rows that changed. Nothing in the tick path reads layout.
//
// The stream asks for ticks, quotes, 1 s and 1 min bars and status (with
// the market clock); the chart's history comes from /v1/bars, the header's
// market clock from /v1/market (market.js). A gateway that has none of
// these still works: the candles are then folded from ticks.
//
// The other modules, by concern: model.js (view state, settings),
// status.js (header status, feed panel, log), market.js (bar history,
// market clock, trading states), selection.js (quote and chart),
// table.js (rows, sort, filter), controls.js (picker, throttle, theme,
// keyboard), watchlist.js (one row), chart.js, scenario.js, format.js.

import { Feed } from './feed.js';
import { expireFlashes } from './watchlist.js';
import { ScenarioControl } from './scenario.js';
import * as fmt from './format.js';
import { $, app, store, dirty, selectedRow, MAX_SYMBOLS } from './model.js';
import { log, countEvent, showStatus, renderConn, renderStats } from './status.js';
import { chart, select, renderQuote, setRes } from './selection.js';
import * as market from './market.js';
import { applyBook, forgetBooks, renderBook } from './book.js';
import { applySort, renderSortHeaders, syncRows } from './table.js';
import { buildPicker, renderPickerCount, setTheme, wire } from './controls.js';

const base = document.baseURI;

// ---------------------------------------------------------------- access

// The access token, when the gateway requires one: the page's own
// ?access_token= (a JWT) or ?token= (the shared token). feed.js passes it
// on every stream (access_token=) and fetch (Authorization: Bearer).
// With ?token_url=PATH (same origin), a token that has expired, or
// expires within 30 s, is replaced before the next connection by a GET
// of PATH (its body: the token, or JSON {"access_token": ...}); a page
// embedding the dashboard can also hand one over with
// window.tickcast.setToken(token). A stream whose token expires ends
// with a retry:, and feed.js reopens it with the new token from its last
// id.
const pageParams = new URLSearchParams(location.search);
let accessToken = pageParams.get('access_token') || pageParams.get('token') || '';
const tokenURL = (() => {
  const v = pageParams.get('token_url');
  if (!v) return null;
  const u = new URL(v, location.href);
  return u.origin === location.origin ? u : null; // never send anything elsewhere
})();

// tokenExpiry is a JWT's exp in ms, or 0 (not a JWT, or no exp).
function tokenExpiry(tok) {
  try {
    const p = tok.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const exp = JSON.parse(atob(p)).exp;
    return typeof exp === 'number' ? exp * 1000 : 0;
  } catch { return 0; }
}

async function currentToken() {
  const exp = tokenExpiry(accessToken);
  if (tokenURL && (!accessToken || (exp && exp - Date.now() < 30000))) {
    const r = await fetch(tokenURL, { cache: 'no-store', credentials: 'same-origin' });
    if (!r.ok) throw new Error(`token_url: HTTP ${r.status}`);
    const body = (await r.text()).trim();
    let tok = body;
    try { tok = JSON.parse(body).access_token || ''; } catch { /* the body is the token */ }
    if (tok) accessToken = tok;
  }
  const left = tokenExpiry(accessToken);
  if (left && left <= Date.now()) throw new Error('the access token has expired: open the page with a new one');
  return accessToken;
}

const LIVE_SORT_MS = 1000; // re-sort on a live column at most this often

// ---------------------------------------------------------------- ticks

// applyTick folds one tick the feed passed on into its row. The feed has
// already skipped repeats and reported gaps; a snapshot tick that is not
// newer than the row's replaces it (a reset goes back) without a candle.
function applyTick(t, fromSnapshot) {
  const row = app.rows.get(t.symbol);
  if (!row) return;
  const n = t.merged > 1 ? t.merged : 1;
  if (row.seq && t.seq <= row.seq) {
    if (!fromSnapshot) return;
    row.tick = t;
    row.seq = t.seq;
    row.volume = t.volume;
    row.halted = t.status === 'halted';
    if (row.q) { row.q.bid = t.bid; row.q.ask = t.ask; }
    dirty.add(row);
    return;
  }
  const ms = Date.parse(t.time);
  const hi = n > 1 && t.high > 0 ? t.high : t.price;
  const lo = n > 1 && t.low > 0 ? t.low : t.price;
  // Volume from the cumulative counter, so overlaps are not counted twice.
  const vol = row.volume != null && t.volume >= row.volume ? t.volume - row.volume : t.size || 0;
  row.c1.add(ms, t.price, hi, lo, vol, n);
  row.m1.add(ms, t.price, hi, lo, vol, n);
  row.tick = t;
  if (row.q) { row.q.bid = t.bid; row.q.ask = t.ask; } // the quote at this trade
  row.seq = t.seq;
  row.volume = t.volume;
  // Halts: a tick with status "halted" starts one, and the next tick
  // (status "open", or merged with later ones) ends it; status events say
  // it too (market.applyStatus), whichever comes first is logged.
  const was = row.tradingState;
  row.halted = t.status === 'halted';
  const now = row.tradingState;
  if (now !== was && !fromSnapshot) log(now === 'open' ? `reopened · ${t.symbol}` : `${now.replace('_', ' ')} · ${t.symbol}`);
  dirty.add(row);
  if (app.sort.key) app.sortStale = true;
}

// applyQuote shows a quote's bid, ask and sizes on its row.
function applyQuote(q) {
  const row = app.rows.get(q.symbol);
  if (!row) return;
  row.q = { bid: q.bid, ask: q.ask, bidSize: q.bidSize, askSize: q.askSize };
  dirty.add(row);
  if (app.sort.key) app.sortStale = true;
}

// applyBar puts a closed bar in its row's candles.
function applyBar(b) {
  const row = app.rows.get(b.symbol);
  if (!row) return;
  if (b.interval === '1s') row.c1.bar(b);
  else if (b.interval === '1m') row.m1.bar(b);
}

// forgetAll drops every row's market state, for a reset: the snapshot
// that comes with it, and history read again, replace it.
function forgetAll() {
  for (const row of app.rows.values()) {
    market.forgetHistory(row);
    row.seq = 0;
    row.volume = null;
    row.q = null;
    row.state = 'open';
    row.stateSeq = 0;
    row.band = null;
    row.halted = false;
    row.shown = null;
    dirty.add(row);
  }
  market.forgetClock();
}

const feed = new Feed(base, {
  token: accessToken,
  tokenProvider: accessToken || tokenURL ? currentToken : undefined,
  status: showStatus,
  snapshot(ticks, { reset, quotes, bars, statuses, clock, books }) {
    if (reset) {
      forgetAll();
      forgetBooks();
    }
    for (const b of books || []) applyBook(b);
    for (const t of ticks) applyTick(t, true);
    for (const q of quotes || []) applyQuote(q);
    for (const b of bars || []) applyBar(b);
    for (const s of statuses || []) market.applyStatus(s, true);
    if (clock) market.applyClock(clock, reset);
    if (reset) {
      app.sortStale = true;
      for (const row of app.rows.values()) market.loadRowHistory(row);
      market.loadChartHistory(selectedRow());
    }
  },
  tick(t) {
    countEvent(t);
    applyTick(t, false);
  },
  quote: applyQuote,
  bar: applyBar,
  symbolStatus(s) { market.applyStatus(s, false); },
  clock(c) { market.applyClock(c, false); },
  book: applyBook,
  ignored(t) {
    if (t) countEvent(t); // the stats count every event received
  },
  gap({ type, symbol, interval, missed, prev, next }) {
    const row = app.rows.get(symbol);
    if (!row && type !== 'clock') return;
    app.gaps++;
    app.gapTicks += missed;
    if (row) row.gaps++;
    const what = type === 'tick' ? 'tick' : type === 'bar' ? `${interval} bar` : type;
    if (app.gapLogs++ < 20) log(`gap ${symbol || type} · ${missed} ${what}${missed === 1 ? '' : 's'} missing between seq ${prev} and ${next}`);
  },
  reset() {
    app.resets++;
  },
  log,
});
showStatus(feed.state, feed.text);
market.setup(base, () => feed.authHeaders(), log);
window.tickcast = { setToken(tok) { accessToken = String(tok || ''); feed.token = accessToken; } };

const scenario = new ScenarioControl(base, $('#scenario-ctl'), { selectedSymbol: () => app.selected, log, headers: () => feed.authHeaders() });

// ---------------------------------------------------------------- frame

let lastStats = 0;
let lastTitle = 0;

function frame() {
  requestAnimationFrame(frame);
  const now = Date.now();

  for (const row of dirty) row.render(now);
  if (dirty.has(selectedRow())) renderQuote();
  dirty.clear();

  expireFlashes(now);

  for (const row of app.order) if (!row.tr.hidden) row.drawSpark(now);

  if (app.sort.key && app.sortStale && now - app.sortedAt >= LIVE_SORT_MS) applySort();

  chart.frame(now);
  market.renderClock(now);
  renderBook();

  renderConn();

  const p = performance.now();
  if (p - lastStats >= 500) {
    lastStats = p;
    renderStats(p, feed);
    scenario.render();
  }
  if (now - lastTitle >= 1000) {
    lastTitle = now;
    const row = selectedRow();
    document.title = row && row.tick ? `${row.sym} ${row.text.price} · tickcast` : 'tickcast';
  }
}

// ---------------------------------------------------------------- symbols

// streamSymbols is the symbols= list for the watched set: null for all.
function streamSymbols() {
  if (app.watched.size === app.universe.length) return null;
  return app.universe.filter((s) => app.watched.has(s));
}

let watchTimer = 0;

// watchChanged follows a change of the watched set: rows now, and (a
// moment later, so quick clicks make one reconnect) the stream, resuming
// from the last id so the symbols we keep lose nothing.
function watchChanged() {
  store.set('watched', app.watched.size === app.universe.length ? null : [...app.watched]);
  renderPickerCount();
  // A row dropped and added back while the stream still carries its
  // symbol starts from the tick the feed holds.
  for (const sym of syncRows()) {
    const t = feed.latest(sym);
    if (t) applyTick(t, true);
    market.loadRowHistory(app.rows.get(sym));
  }
  clearTimeout(watchTimer);
  watchTimer = setTimeout(() => {
    const syms = streamSymbols();
    if (syms && syms.length === 0) {
      feed.stop('idle · no symbols selected');
      return;
    }
    if (syms && syms.length > MAX_SYMBOLS) {
      feed.stop(`idle · pick at most ${MAX_SYMBOLS} symbols, or all`);
      return;
    }
    // Resumes from the last id (symbols added come from /v1/snapshot at
    // once); after idle, starts over with a snapshot.
    feed.open({ symbols: syms });
  }, 300);
}

async function loadSymbols() {
  for (let wait = 500; ; wait = Math.min(wait * 2, 8000)) {
    try {
      const r = await fetch(new URL('v1/symbols', base), { cache: 'no-store', headers: feed.authHeaders() });
      if (r.ok) return await r.json();
      showStatus('error', `error · /v1/symbols: HTTP ${r.status}`);
    } catch {
      showStatus('reconnecting', 'reconnecting');
    }
    await new Promise((ok) => setTimeout(ok, wait));
  }
}

async function main() {
  setTheme(store.get('theme', 'dark'));
  const th = store.get('throttle', '0');
  feed.set({ throttle: ['0', '100ms', '250ms', '1s'].includes(th) ? th : '0', events: ['tick', 'quote', 'bar', 'status', 'book'], bars: ['1s', '1m'] });
  wire({
    throttle: feed.throttle,
    onThrottle(value) {
      feed.set({ throttle: value });
      if (feed.state !== 'idle') feed.open();
    },
    onWatch: watchChanged,
  });
  renderSortHeaders();
  setRes(app.res);
  requestAnimationFrame(frame);
  scenario.start();

  const list = await loadSymbols();
  for (const s of Array.isArray(list) ? list : []) {
    if (!s || typeof s.symbol !== 'string' || app.info.has(s.symbol)) continue;
    app.info.set(s.symbol, { ...s, decimals: fmt.decimalsFor(s.tickSize) });
    app.universe.push(s.symbol);
  }
  const saved = store.get('watched', null);
  const keep = Array.isArray(saved) ? saved.filter((s) => app.info.has(s)) : [];
  app.watched = new Set(keep.length ? keep : app.universe);
  buildPicker();
  const sel = store.get('selected', null);
  if (app.info.has(sel)) app.selected = sel; // so syncRows keeps it, not the first row
  syncRows();
  select(app.rows.has(sel) ? sel : app.universe.find((s) => app.rows.has(s)) || null);

  for (const row of app.rows.values()) market.loadRowHistory(row);
  market.loadMarket();

  const symbols = streamSymbols();
  if (symbols && symbols.length > MAX_SYMBOLS) {
    feed.set({ symbols });
    feed.stop(`idle · pick at most ${MAX_SYMBOLS} symbols, or all`);
  } else feed.open({ symbols });
}

main();
