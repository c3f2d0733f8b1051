// book.js: the depth ladder of the selected symbol, live from book
// events (docs/api.md, Event types). A book event is a whole state, so
// the ladder shows the newest one as it is: asks from the furthest down
// to the best, the spread, then bids from the best down, each level's
// size also as a bar (widths against the largest level shown). Rows
// carry data-side ("ask", "bid") and data-level (0 at the touch), their
// cells data-field="price" and "size"; the spread row data-field="spread".

import * as fmt from './format.js';
import { $, app } from './model.js';

const LEVELS = 10;
const books = new Map(); // symbol -> newest book
let dirty = true;
let rows = null; // {asks: [{tr, price, size, bar}], bids: [...], spread}

// applyBook keeps b as its symbol's book.
export function applyBook(b) {
  if (!b || !Array.isArray(b.bids) || !Array.isArray(b.asks)) return;
  books.set(b.symbol, b);
  if (b.symbol === app.selected) dirty = true;
}

// forgetBooks drops every book (a reset: the snapshot's replace them).
export function forgetBooks() {
  books.clear();
  dirty = true;
}

// bookSelected redraws the ladder for a new selection.
export function bookSelected() { dirty = true; }

function build(box) {
  const row = (side, k) => {
    const tr = document.createElement('div');
    tr.className = 'lvl ' + side;
    tr.dataset.side = side;
    tr.dataset.level = String(k);
    const bar = document.createElement('i');
    bar.className = 'lvl-bar';
    const price = document.createElement('span');
    price.className = 'num';
    price.dataset.field = 'price';
    const size = document.createElement('span');
    size.className = 'num';
    size.dataset.field = 'size';
    tr.append(bar, price, size);
    return { tr, price, size, bar };
  };
  const r = { asks: [], bids: [], spread: null };
  for (let k = LEVELS - 1; k >= 0; k--) r.asks[k] = row('ask', k);
  for (let k = 0; k < LEVELS; k++) r.bids[k] = row('bid', k);
  const sp = document.createElement('div');
  sp.className = 'lvl spread';
  r.spread = document.createElement('span');
  r.spread.className = 'num';
  r.spread.dataset.field = 'spread';
  sp.append(r.spread);
  for (let k = LEVELS - 1; k >= 0; k--) box.append(r.asks[k].tr);
  box.append(sp);
  for (let k = 0; k < LEVELS; k++) box.append(r.bids[k].tr);
  return r;
}

// renderBook draws the selected symbol's newest book, if it changed.
export function renderBook() {
  if (!dirty) return;
  dirty = false;
  const box = $('#book');
  if (!box) return;
  if (!rows) rows = build(box);
  const sym = app.selected;
  const b = sym ? books.get(sym) : null;
  $('#book-symbol').textContent = sym || '–';
  box.dataset.symbol = b ? sym : '';
  box.dataset.seq = b ? String(b.seq) : '';
  const d = (app.info.get(sym) || {}).decimals ?? 2;
  let most = 1;
  if (b) for (const [, s] of [...b.bids.slice(0, LEVELS), ...b.asks.slice(0, LEVELS)]) most = Math.max(most, s);
  const fill = (r, lvl) => {
    r.tr.hidden = !lvl;
    if (!lvl) return;
    r.price.textContent = fmt.fixed(lvl[0], d);
    r.size.textContent = fmt.fixed(lvl[1], 0);
    r.bar.style.width = `${(100 * lvl[1] / most).toFixed(1)}%`;
  };
  for (let k = 0; k < LEVELS; k++) {
    fill(rows.asks[k], b && b.asks[k]);
    fill(rows.bids[k], b && b.bids[k]);
  }
  rows.spread.textContent = b && b.bids[0] && b.asks[0]
    ? `spread ${fmt.fixed(b.asks[0][0] - b.bids[0][0], d)}` : 'no book yet';
}
