// The market data beside ticks: bar history from GET /v1/bars for the
// candles, the simulated market clock and phase in the header (GET
// /v1/market, then clock events, extrapolated with speed), and the
// symbols' trading states (status events). Every part is optional: a
// gateway without /v1/bars (404) or without these events leaves the
// dashboard as it was, candles folded from ticks.

import { $, app, dirty } from './model.js';

// How many bars to ask for: every row's 1 s bars for its sparkline and a
// first chart, the selected symbol's for the whole chart (1 s, and the
// 5 s candles rolled up from them) and its 1 min bars.
const ROW_1S = 120;
const CHART_1S = 900;
const CHART_1M = 720;

const api = { base: document.baseURI, headers: () => ({}), log: () => {} };
let noBars = false; // /v1/bars answered 404: an older gateway, stop asking
let probe = null; // the first request's promise: the others wait for it

// setup gives the module the API base, the auth headers and the log.
export function setup(base, headers, log) {
  api.base = base;
  api.headers = headers;
  api.log = log;
}

// loadBars fills row's candles of interval with up to limit bars from
// /v1/bars, once per row, interval and limit (again after a reset).
export async function loadBars(row, interval, limit) {
  if (noBars || (row.history[interval] || 0) >= limit) return;
  row.history[interval] = limit;
  // One request first, so an older gateway answers one 404, not one per row.
  if (!probe) {
    let done;
    probe = new Promise((ok) => { done = ok; });
    await fetchBars(row, interval, limit);
    done();
    return;
  }
  await probe;
  if (!noBars) await fetchBars(row, interval, limit);
}

async function fetchBars(row, interval, limit) {
  const u = new URL('v1/bars', api.base);
  u.searchParams.set('symbol', row.sym);
  u.searchParams.set('interval', interval);
  u.searchParams.set('limit', String(limit));
  let body;
  try {
    const r = await fetch(u, { cache: 'no-store', headers: api.headers() });
    if (r.status === 404 || r.status === 403) {
      // 404: an older gateway; 403: not for this access token. Either
      // way the candles come from the stream alone.
      if (!noBars) api.log(`no bar history ${r.status === 404 ? 'on this gateway' : 'for this access token'} · candles from the stream`);
      noBars = true;
      return;
    }
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    body = await r.json();
  } catch (err) {
    row.history[interval] = 0; // ask again next time
    api.log(`bar history ${row.sym} ${interval} · ${err && err.message ? err.message : err}`);
    return;
  }
  if (app.rows.get(row.sym) !== row || row.history[interval] !== limit) return; // dropped or reset meanwhile
  const series = interval === '1m' ? row.m1 : row.c1;
  for (const b of Array.isArray(body.bars) ? body.bars : []) if (b && b.interval === interval) series.bar(b);
  dirty.add(row);
}

// loadRowHistory is what every row gets: its recent 1 s bars.
export function loadRowHistory(row) {
  return loadBars(row, '1s', ROW_1S);
}

// loadChartHistory is what the selected row gets: a chart's worth.
export function loadChartHistory(row) {
  if (!row) return;
  loadBars(row, '1s', CHART_1S);
  loadBars(row, '1m', CHART_1M);
}

// forgetHistory drops a row's candles and what it asked for, after a
// reset: the state is replaced, history included.
export function forgetHistory(row) {
  row.c1.clear();
  row.m1.clear();
  row.history = {};
}

// ------------------------------------------------------------ status

// applyStatus sets a symbol's trading state from a status event (or the
// snapshot's, or /v1/market's); older ones than held are ignored.
export function applyStatus(s, quiet) {
  const row = app.rows.get(s.symbol);
  if (!row || !(s.seq > 0) || s.seq < row.stateSeq) return;
  const was = row.tradingState;
  row.stateSeq = s.seq;
  row.state = ['halted', 'limit_up', 'limit_down'].includes(s.state) ? s.state : 'open';
  row.band = s.bandLow > 0 && s.bandHigh > 0 ? [s.bandLow, s.bandHigh] : null;
  if (row.state === 'open') row.halted = false; // the tick that ends a halt may come later
  const now = row.tradingState;
  if (!quiet && now !== was) {
    const why = s.reason ? ` · ${s.reason}` : '';
    api.log(now === 'open' ? `reopened · ${s.symbol}${why}` : `${now.replace('_', ' ')} · ${s.symbol}${why}`);
  }
  dirty.add(row);
}

// ------------------------------------------------------------ clock

const PHASES = { pre: 'pre-market', regular: 'open', after: 'after-hours', closed: 'closed' };
const clockFmt = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/New_York', weekday: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});

// The newest clock: market time at wall time, speed, phase.
const clk = { seq: 0, wall: 0, market: 0, speed: 0, phase: '', next: 0, nextPhase: '' };
let shownClock = '';

// applyClock takes a clock event, the snapshot's or /v1/market's clock.
export function applyClock(c, force) {
  if (!c || typeof c.phase !== 'string') return;
  if (!force && c.seq > 0 && c.seq < clk.seq) return;
  const wall = Date.parse(c.time);
  const market = Date.parse(c.marketTime);
  if (!Number.isFinite(wall) || !Number.isFinite(market)) return;
  if (clk.phase && c.phase !== clk.phase) api.log(`market ${PHASES[c.phase] || c.phase}`);
  clk.seq = c.seq || clk.seq;
  clk.wall = wall;
  clk.market = market;
  clk.speed = c.speed > 0 ? c.speed : 0;
  clk.phase = c.phase;
  clk.nextPhase = c.nextPhase || '';
  const next = Date.parse(c.nextPhaseAt);
  clk.next = Number.isFinite(next) && next > market ? next : 0;
  shownClock = ''; // draw again
}

// forgetClock drops the clock (a reset): the snapshot brings the next.
export function forgetClock() {
  clk.seq = 0;
}

// renderClock draws the header's market clock, extrapolated to now: once
// per frame, writing only when the second shown changed.
export function renderClock(now) {
  const box = $('#market');
  if (!clk.phase) return;
  let t = clk.market + Math.max(0, now - clk.wall) * clk.speed;
  if (clk.next && t > clk.next) t = clk.next; // the next clock event says what follows
  const text = clockFmt.format(t) + ' ET';
  if (text === shownClock) return;
  shownClock = text;
  if (box.hidden) box.hidden = false;
  const phase = box.querySelector('[data-field="phase"]');
  const label = PHASES[clk.phase] || clk.phase;
  if (phase.textContent !== label) phase.textContent = label;
  if (box.dataset.phase !== clk.phase) box.dataset.phase = clk.phase;
  box.querySelector('[data-field="clock"]').textContent = text;
  box.title = `Simulated market clock (US Eastern), ${clk.speed > 0 ? `${+clk.speed.toFixed(2)}× real time` : 'stopped'}`
    + (clk.nextPhase && clk.next ? ` · ${PHASES[clk.nextPhase] || clk.nextPhase} at ${clockFmt.format(clk.next)}` : '');
}

// loadMarket reads GET /v1/market once: the clock and the states not
// open, before the stream's snapshot (which brings them too) arrives.
export async function loadMarket() {
  try {
    const r = await fetch(new URL('v1/market', api.base), { cache: 'no-store', headers: api.headers() });
    if (!r.ok) return; // an older gateway: no clock in the header
    const body = await r.json();
    if (body.clock) applyClock(body.clock, false);
    for (const s of Array.isArray(body.statuses) ? body.statuses : []) if (s && typeof s.symbol === 'string') applyStatus(s, true);
  } catch { /* the stream brings them */ }
}
