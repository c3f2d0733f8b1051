// The tickcast dashboard: a watchlist, sparklines, a candle chart and the
// connection, on EventSource and the public API only (see feed.js).
//
// Ticks update the model as they arrive (cheap: numbers and candles);
// the DOM and the canvases are touched once per animation frame, for the
// rows that changed. Nothing in the tick path reads layout.

import { Feed } from './feed.js';
import { CandleChart, themeColors } from './chart.js';
import { Row, look, expireFlashes } from './watchlist.js';
import { ScenarioControl } from './scenario.js';
import * as fmt from './format.js';

const $ = (sel) => document.querySelector(sel);
const base = document.baseURI;

const SORT_KEYS = ['symbol', 'name', 'price', 'change', 'pctChange', 'bid', 'ask', 'spread', 'volume'];
const LIVE_SORT_MS = 1000; // re-sort on a live column at most this often
const MAX_SYMBOLS = 100; // the stream's symbols= limit

const store = {
  get(key, def) {
    try {
      const v = localStorage.getItem('tickcast.' + key);
      return v == null ? def : JSON.parse(v);
    } catch { return def; }
  },
  set(key, v) {
    try { localStorage.setItem('tickcast.' + key, JSON.stringify(v)); } catch { /* private mode */ }
  },
};

const app = {
  info: new Map(), // symbol -> /v1/symbols entry + decimals
  universe: [], // symbols in /v1/symbols order
  watched: new Set(),
  rows: new Map(), // symbol -> Row, for watched symbols
  order: [], // rows in their DOM order
  selected: null,
  res: store.get('res', 1000),
  sort: savedSort(store.get('sort', null)),
  filter: '',
  sortedAt: 0,
  sortStale: true,
  gaps: 0,
  gapTicks: 0,
  resets: 0,
  events: 0,
  merged: 0,
  gapLogs: 0,
};

function savedSort(v) {
  return v && SORT_KEYS.includes(v.key) && (v.dir === 1 || v.dir === -1) ? v : { key: null, dir: 1 };
}

// Per-second stats window for #rate and #latency.
const win = { start: performance.now(), events: 0, ticks: 0, lat: [] };

const dirty = new Set(); // rows to render next frame

// ---------------------------------------------------------------- ticks

// applyTick folds one tick into the model. Gap rule (CONTRACT.md): for
// consecutive events of a symbol, seq - previous seq == merged (1 when
// absent). More is a gap; less (only right after a resume) is an overlap
// with ticks we already hold, and a repeated seq is skipped.
function applyTick(t, fromSnapshot) {
  const row = app.rows.get(t.symbol);
  if (!row || !(t.seq > 0)) return;
  const n = t.merged > 1 ? t.merged : 1;
  if (row.seq && t.seq <= row.seq) {
    if (!fromSnapshot) return; // a repeat after a resume
    // A snapshot after a reset replaces our state, even backwards.
    row.tick = t;
    row.seq = t.seq;
    row.volume = t.volume;
    row.halted = t.status === 'halted';
    dirty.add(row);
    return;
  }
  if (row.seq && !fromSnapshot) {
    const missed = t.seq - n - row.seq;
    if (missed > 0) {
      app.gaps++;
      app.gapTicks += missed;
      row.gaps++;
      if (app.gapLogs++ < 20) log(`gap ${t.symbol} · ${missed} tick${missed === 1 ? '' : 's'} missing between seq ${row.seq} and ${t.seq - n + 1}`);
    }
  }
  const ms = Date.parse(t.time);
  const hi = n > 1 && t.high > 0 ? t.high : t.price;
  const lo = n > 1 && t.low > 0 ? t.low : t.price;
  // Volume from the cumulative counter, so overlaps are not counted twice.
  const vol = row.volume != null && t.volume >= row.volume ? t.volume - row.volume : t.size || 0;
  row.c1.add(ms, t.price, hi, lo, vol, n);
  row.c5.add(ms, t.price, hi, lo, vol, n);
  row.tick = t;
  row.seq = t.seq;
  row.volume = t.volume;
  // Halts: a tick with status "halted" starts one, and the next tick
  // (status "open", or merged with later ones) ends it.
  const halted = t.status === 'halted';
  if (halted !== row.halted && !fromSnapshot) log(halted ? `halted · ${t.symbol}` : `reopened · ${t.symbol}`);
  row.halted = halted;
  dirty.add(row);
  if (app.sort.key) app.sortStale = true;
}

const feed = new Feed(base, {
  snapshot(ticks, { reset }) {
    for (const t of ticks) applyTick(t, true);
    if (reset) app.sortStale = true;
  },
  tick(t) {
    const n = t.merged > 1 ? t.merged : 1;
    win.events++;
    win.ticks += n;
    app.events++;
    if (n > 1) app.merged++;
    if (win.lat.length < 5000) win.lat.push(Date.now() - Date.parse(t.time));
    applyTick(t, false);
  },
  reset() {
    app.resets++;
  },
  log,

});

// ---------------------------------------------------------------- frame

let lastStats = 0;
let lastConn = '';
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

  if (feed.text !== lastConn || conn.dataset.state !== feed.state) {
    lastConn = feed.text;
    conn.dataset.state = feed.state;
    connText.data = feed.text;
  }

  const p = performance.now();
  if (p - lastStats >= 500) {
    lastStats = p;
    renderStats(p);
    scenario.render();
  }
  if (now - lastTitle >= 1000) {
    lastTitle = now;
    const row = selectedRow();
    document.title = row && row.tick ? `${row.sym} ${row.text.price} · tickcast` : 'tickcast';
  }
}

function renderStats(p) {
  const el = p - win.start;
  if (el >= 1000) {
    const rate = win.ticks * 1000 / el;
    const evs = win.events * 1000 / el;
    $('#rate').textContent = `${fmt.integer(rate)} ticks/s` + (win.events !== win.ticks ? ` · ${fmt.integer(evs)} ev/s` : '');
    const lat = win.lat.sort((a, b) => a - b);
    $('#latency').textContent = lat.length ? fmt.duration(lat[lat.length >> 1]) : '–';
    win.start = p;
    win.events = 0;
    win.ticks = 0;
    win.lat = [];
  }
  const g = $('#gaps');
  if (g.dataset.count !== String(app.gaps)) {
    g.dataset.count = String(app.gaps);
    g.textContent = app.gaps ? `${fmt.integer(app.gaps)} (${fmt.integer(app.gapTicks)} ticks)` : '0';
  }
  const id = feed.lastId || '–';
  setText('#last-id', id);
  setText('#n-events', fmt.integer(app.events));
  setText('#n-merged', fmt.integer(app.merged));
  setText('#n-conns', fmt.integer(feed.connections));
  setText('#n-resets', fmt.integer(app.resets));
  const u = feed.es ? new URL(feed.es.url) : null;
  setText('#stream-url', u ? decodeURIComponent(u.pathname + u.search) : '–');
}

function setText(sel, s) {
  const el = $(sel);
  if (el.textContent !== s) el.textContent = s;
}

// log adds a line to the connection log (newest first, bounded).
function log(text) {
  const ol = $('#log');
  const li = document.createElement('li');
  const time = document.createElement('time');
  time.textContent = fmt.clock(Date.now());
  li.append(time, ' ', text);
  ol.prepend(li);
  while (ol.childElementCount > 40) ol.lastElementChild.remove();
}

// ---------------------------------------------------------------- selection, chart

const chart = new CandleChart($('#chart'));
const scenario = new ScenarioControl(base, $('#scenario-ctl'), { selectedSymbol: () => app.selected, log });
const conn = $('#conn-state');
const connText = conn.querySelector('.conn-text').firstChild || conn.querySelector('.conn-text').appendChild(document.createTextNode(''));

function selectedRow() {
  return app.selected ? app.rows.get(app.selected) : null;
}

function select(sym, focus) {
  const old = selectedRow();
  if (old) {
    old.tr.setAttribute('aria-selected', 'false');
    old.tr.tabIndex = -1;
  }
  app.selected = sym;
  const row = selectedRow();
  if (!row) {
    chart.set(null, null);
    $('#chart-symbol').textContent = '–';
    $('#chart-name').textContent = '';
    $('#chart-price').textContent = '–';
    $('#chart-change').textContent = '';
    return;
  }
  row.tr.setAttribute('aria-selected', 'true');
  row.tr.tabIndex = 0;
  if (focus) {
    row.tr.focus({ preventScroll: true });
    row.tr.scrollIntoView({ block: 'nearest' });
  }
  store.set('selected', sym);
  $('#chart-symbol').textContent = sym;
  $('#chart-name').textContent = row.info.name || '';
  chart.set(app.res === 5000 ? row.c5 : row.c1, row.info);
  renderQuote();
}

function renderQuote() {
  const row = selectedRow();
  const badge = $('#chart-status');
  if (badge.hidden !== !(row && row.halted)) badge.hidden = !(row && row.halted);
  if (!row || !row.tick) return;
  $('#chart-price').textContent = row.text.price;
  const ch = $('#chart-change');
  ch.textContent = `${row.text.change} (${row.text.pctChange})`;
  ch.className = 'num ' + (row.cls.change || '');
}

function setRes(res) {
  app.res = res === 5000 ? 5000 : 1000;
  store.set('res', app.res);
  for (const b of document.querySelectorAll('.seg-btn')) b.setAttribute('aria-checked', String(Number(b.dataset.res) === app.res));
  select(app.selected);
}

// ---------------------------------------------------------------- sort, filter

function applySort() {
  app.sortedAt = Date.now();
  app.sortStale = false;
  const { key, dir } = app.sort;
  let rows = app.universe.filter((s) => app.rows.has(s)).map((s) => app.rows.get(s));
  if (key) {
    const str = key === 'symbol' || key === 'name';
    rows = rows.map((r, i) => ({ r, i, v: r.value(key) }));
    rows.sort((a, b) => {
      if (a.v == null || b.v == null) return (a.v == null) - (b.v == null) || a.i - b.i;
      const c = str ? a.v.localeCompare(b.v) : a.v - b.v;
      return c * dir || a.i - b.i;
    });
    rows = rows.map((x) => x.r);
  }
  if (rows.length === app.order.length && rows.every((r, i) => r === app.order[i])) return;
  app.order = rows;
  const body = $('#rows');
  for (const r of rows) body.appendChild(r.tr);
}

function setSort(key) {
  const s = app.sort;
  if (s.key !== key) app.sort = { key, dir: key === 'symbol' || key === 'name' ? 1 : -1 };
  else if ((s.dir === 1) === (key === 'symbol' || key === 'name')) app.sort = { key, dir: -s.dir };
  else app.sort = { key: null, dir: 1 }; // third click: back to the feed's order
  store.set('sort', app.sort);
  renderSortHeaders();
  app.sortStale = true;
  applySort();
}

function renderSortHeaders() {
  for (const th of document.querySelectorAll('th[data-sort]')) {
    const on = th.dataset.sort === app.sort.key;
    th.setAttribute('aria-sort', on ? (app.sort.dir > 0 ? 'ascending' : 'descending') : 'none');
  }
}

function applyFilter() {
  const q = app.filter;
  let shown = 0;
  for (const row of app.rows.values()) {
    const hide = q !== '' && !row.match.includes(q);
    if (row.tr.hidden !== hide) row.tr.hidden = hide;
    if (!hide) shown++;
  }
  const empty = $('#empty');
  if (!app.watched.size) {
    empty.textContent = 'No symbols selected: pick some under “Symbols”.';
    empty.hidden = false;
  } else if (!shown) {
    empty.textContent = `No symbol matches “${app.filter}”.`;
    empty.hidden = false;
  } else empty.hidden = true;
}

// ---------------------------------------------------------------- symbols

function buildPicker() {
  const list = $('#picker-list');
  list.textContent = '';
  const sectors = new Map();
  for (const sym of app.universe) {
    const sec = app.info.get(sym).sector || 'Other';
    if (!sectors.has(sec)) sectors.set(sec, []);
    sectors.get(sec).push(sym);
  }
  for (const [sec, syms] of sectors) {
    const h = document.createElement('h3');
    h.textContent = sec;
    const g = document.createElement('div');
    g.className = 'group';
    for (const sym of syms) {
      const label = document.createElement('label');
      label.title = app.info.get(sym).name || sym;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = sym;
      box.checked = app.watched.has(sym);
      label.append(box, sym);
      g.appendChild(label);
    }
    list.append(h, g);
  }
  renderPickerCount();
}

function renderPickerCount() {
  $('#picker-count').textContent = `${app.watched.size}/${app.universe.length}`;
}

// streamSymbols is the symbols= list for the watched set: null for all.
function streamSymbols() {
  if (app.watched.size === app.universe.length) return null;
  return app.universe.filter((s) => app.watched.has(s));
}

// syncRows creates and drops rows to match the watched set and returns
// the symbols that are new.
function syncRows() {
  const added = [];
  for (const [sym, row] of app.rows) {
    if (!app.watched.has(sym)) {
      row.tr.remove();
      app.rows.delete(sym);
      dirty.delete(row);
    }
  }
  for (const sym of app.universe) {
    if (app.watched.has(sym) && !app.rows.has(sym)) {
      app.rows.set(sym, new Row(app.info.get(sym)));
      added.push(sym);
    }
  }
  app.order = app.order.filter((r) => app.rows.has(r.sym));
  app.sortStale = true;
  applySort();
  applyFilter();
  if (!app.rows.has(app.selected)) select(app.universe.find((s) => app.rows.has(s)) || null);
  return added;
}

let watchTimer = 0;

// watchChanged follows a change of the watched set: rows now, and (a
// moment later, so quick clicks make one reconnect) the stream, resuming
// from the last id so the symbols we keep lose nothing.
function watchChanged() {
  store.set('watched', app.watched.size === app.universe.length ? null : [...app.watched]);
  renderPickerCount();
  const added = syncRows();
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
    feed.symbols = syms;
    // Coming back from nothing selected, there is no state to carry on:
    // start over with a snapshot rather than replay the idle time.
    if (feed.state === 'idle') feed.lastId = '';
    const hadStream = feed.lastId !== '';
    feed.open(hadStream ? 'switch' : 'first');
    if (hadStream && added.length) fillFromSnapshot(added.filter((s) => app.rows.has(s)));
  }, 300);
}

// fillFromSnapshot shows the latest ticks of newly added symbols at once;
// their stream resumes from our last id, and applyTick skips what the
// snapshot already covers.
async function fillFromSnapshot(syms) {
  if (!syms.length) return;
  for (let i = 0; i < syms.length; i += MAX_SYMBOLS) {
    const u = new URL('v1/snapshot', base);
    u.searchParams.set('symbols', syms.slice(i, i + MAX_SYMBOLS).join(','));
    try {
      const r = await fetch(u, { cache: 'no-store' });
      if (!r.ok) continue;
      const snap = await r.json();
      for (const t of snap.ticks || []) {
        const row = app.rows.get(t.symbol);
        if (row && !row.seq) applyTick(t, true);
      }
    } catch { /* the stream fills the rows anyway */ }
  }
}

// ---------------------------------------------------------------- theme

function setTheme(theme) {
  const light = theme === 'light';
  document.documentElement.dataset.theme = light ? 'light' : 'dark';
  const b = $('#theme');
  b.setAttribute('aria-label', light ? 'Switch to dark theme' : 'Switch to light theme');
  b.setAttribute('aria-pressed', String(light));
  look.colors = themeColors();
  chart.setColors();
  for (const row of app.rows.values()) row.sparkKey = '';
}

function sizeSparks(narrow) {
  look.sparkW = narrow ? 72 : 96;
  for (const row of app.rows.values()) row.sizeSpark();
}

// ---------------------------------------------------------------- wiring

function wire() {
  $('#rows').addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-symbol]');
    if (tr) select(tr.dataset.symbol, true);
  });
  $('#rows').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Home' && e.key !== 'End') return;
    const vis = app.order.filter((r) => !r.tr.hidden);
    if (!vis.length) return;
    let i = vis.indexOf(selectedRow());
    if (e.key === 'ArrowDown') i = Math.min(vis.length - 1, i + 1);
    else if (e.key === 'ArrowUp') i = Math.max(0, i - 1);
    else i = e.key === 'Home' ? 0 : vis.length - 1;
    e.preventDefault();
    select(vis[i].sym, true);
  });
  for (const th of document.querySelectorAll('th[data-sort] button')) {
    th.addEventListener('click', () => setSort(th.parentElement.dataset.sort));
  }
  $('#filter').addEventListener('input', (e) => {
    app.filter = e.target.value.trim().toLowerCase();
    applyFilter();
  });
  $('#filter').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.target.value = '';
      app.filter = '';
      applyFilter();
    } else if (e.key === 'Enter') {
      const first = app.order.find((r) => !r.tr.hidden);
      if (first) select(first.sym, true);
    }
  });
  const throttle = $('#throttle');
  throttle.value = feed.throttle;
  throttle.addEventListener('change', () => {
    feed.throttle = throttle.value;
    store.set('throttle', throttle.value);
    if (feed.state !== 'idle') feed.open(feed.lastId ? 'switch' : 'first');
  });
  $('#theme').addEventListener('click', () => {
    const next = document.documentElement.dataset.theme === 'light' ? 'dark' : 'light';
    store.set('theme', next);
    setTheme(next);
  });
  for (const b of document.querySelectorAll('.seg-btn')) {
    b.addEventListener('click', () => setRes(Number(b.dataset.res)));
  }
  $('#picker-list').addEventListener('change', (e) => {
    if (e.target.type !== 'checkbox') return;
    if (e.target.checked) app.watched.add(e.target.value);
    else app.watched.delete(e.target.value);
    watchChanged();
  });
  for (const b of document.querySelectorAll('[data-pick]')) {
    b.addEventListener('click', () => {
      app.watched = new Set(b.dataset.pick === 'all' ? app.universe : []);
      for (const box of document.querySelectorAll('#picker-list input')) box.checked = app.watched.has(box.value);
      watchChanged();
    });
  }
  document.addEventListener('click', (e) => {
    const p = $('#picker');
    if (p.open && !p.contains(e.target)) p.open = false;
  });
  document.addEventListener('keydown', (e) => {
    const p = $('#picker');
    if (e.key === 'Escape' && p.open) {
      p.open = false;
      p.querySelector('summary').focus();
    }
  });
  const narrow = matchMedia('(max-width: 640px)');
  narrow.addEventListener('change', () => sizeSparks(narrow.matches));
  look.sparkW = narrow.matches ? 72 : 96;
}

async function loadSymbols() {
  for (let wait = 500; ; wait = Math.min(wait * 2, 8000)) {
    try {
      const r = await fetch(new URL('v1/symbols', base), { cache: 'no-store' });
      if (r.ok) return await r.json();
      feed.set('error', `error · /v1/symbols: HTTP ${r.status}`);
    } catch {
      feed.set('reconnecting', 'reconnecting');
    }
    await new Promise((ok) => setTimeout(ok, wait));
  }
}

async function main() {
  setTheme(store.get('theme', 'dark'));
  const th = store.get('throttle', '0');
  feed.throttle = ['0', '100ms', '250ms', '1s'].includes(th) ? th : '0';
  wire();
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
  syncRows();
  const sel = store.get('selected', null);
  select(app.rows.has(sel) ? sel : app.universe.find((s) => app.rows.has(s)) || null);

  feed.symbols = streamSymbols();
  if (feed.symbols && feed.symbols.length > MAX_SYMBOLS) feed.stop(`idle · pick at most ${MAX_SYMBOLS} symbols, or all`);
  else feed.open('first');
}

main();
