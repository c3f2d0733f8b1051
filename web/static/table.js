// The watchlist table as a whole: which rows it has (the watched set),
// their order (sort) and which are shown (filter). One row is watchlist.js.

import { Row } from './watchlist.js';
import { $, app, store, dirty } from './model.js';
import { select } from './selection.js';

export function applySort() {
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

export function setSort(key) {
  const s = app.sort;
  if (s.key !== key) app.sort = { key, dir: key === 'symbol' || key === 'name' ? 1 : -1 };
  else if ((s.dir === 1) === (key === 'symbol' || key === 'name')) app.sort = { key, dir: -s.dir };
  else app.sort = { key: null, dir: 1 }; // third click: back to the feed's order
  store.set('sort', app.sort);
  renderSortHeaders();
  app.sortStale = true;
  applySort();
}

export function renderSortHeaders() {
  for (const th of document.querySelectorAll('th[data-sort]')) {
    const on = th.dataset.sort === app.sort.key;
    th.setAttribute('aria-sort', on ? (app.sort.dir > 0 ? 'ascending' : 'descending') : 'none');
  }
}

export function applyFilter() {
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

// syncRows creates and drops rows to match the watched set and returns
// the symbols that are new.
export function syncRows() {
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
