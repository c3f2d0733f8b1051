// The dashboard's view state, shared by its modules: the symbols, the rows
// shown, the selection, sort and filter, the counters of the feed panel,
// and the settings kept in localStorage.

export const SORT_KEYS = ['symbol', 'name', 'price', 'change', 'pctChange', 'bid', 'ask', 'bidSize', 'askSize', 'spread', 'volume'];
export const MAX_SYMBOLS = 100; // the stream's symbols= limit

export const $ = (sel) => document.querySelector(sel);

export const store = {
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

function savedSort(v) {
  return v && SORT_KEYS.includes(v.key) && (v.dir === 1 || v.dir === -1) ? v : { key: null, dir: 1 };
}

export const app = {
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

export const dirty = new Set(); // rows to render next frame

export function selectedRow() {
  return app.selected ? app.rows.get(app.selected) : null;
}
