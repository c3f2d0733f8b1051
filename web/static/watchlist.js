// A watchlist row: one symbol's latest tick, its candles, and its <tr>.
// The row is rendered once per animation frame at most (render), only
// writing cells whose text changed.

import { CandleSeries, drawSpark } from './chart.js';
import * as fmt from './format.js';

const FLASH_MS = 120; // a changed cell stays lit this long, then fades (CSS)
const SPARK_MS = 500; // redraw a row's sparkline at most this often

// look is what rows draw with; app.js keeps it current.
export const look = { sparkW: 96, sparkH: 22, colors: null };

const flashing = new Map(); // td -> time its flash ends

// expireFlashes ends the flashes that are due; call it once per frame.
export function expireFlashes(now) {
  for (const [td, until] of flashing) {
    if (now >= until) {
      td.classList.remove('flash-up', 'flash-down', 'tint-up', 'tint-down');
      flashing.delete(td);
    }
  }
}

export class Row {
  constructor(info) {
    this.info = info;
    this.sym = info.symbol;
    this.tick = null; // latest tick
    this.shown = null; // tick last rendered (for flash direction)
    this.seq = 0; // latest seq seen; 0: none yet
    this.volume = null;
    this.gaps = 0;
    this.halted = false; // from tick.status: "halted" until a tick without it
    this.shownHalted = false;
    this.c1 = new CandleSeries(1000, 900);
    this.c5 = new CandleSeries(5000, 720);
    this.sparkAt = 0;
    this.sparkKey = '';
    this.text = {};
    this.cls = {};

    const tr = document.querySelector('#row-tpl').content.firstElementChild.cloneNode(true);
    tr.dataset.symbol = this.sym;
    tr.id = 'row-' + this.sym;
    this.tr = tr;
    this.cells = {};
    for (const td of tr.querySelectorAll('[data-field]')) {
      td.appendChild(document.createTextNode(''));
      this.cells[td.dataset.field] = td;
    }
    this.spark = tr.querySelector('canvas.spark');
    this.sizeSpark();
    this.put('symbol', this.sym);
    this.put('name', info.name || '');
    this.cells.name.title = info.sector ? `${info.name} · ${info.sector}` : info.name || '';
    this.match = `${this.sym} ${info.name || ''} ${info.sector || ''}`.toLowerCase();
  }

  sizeSpark() {
    const dpr = window.devicePixelRatio || 1;
    this.spark.width = Math.round(look.sparkW * dpr);
    this.spark.height = Math.round(look.sparkH * dpr);
    this.sparkKey = '';
  }

  // put sets a cell's text if it changed (one Text node write).
  put(field, s) {
    if (this.text[field] === s) return;
    this.text[field] = s;
    this.cells[field].firstChild.data = s;
  }

  // sign colours a cell by the sign of v, touching classList only on change.
  sign(field, v) {
    const c = v > 0 ? 'pos' : v < 0 ? 'neg' : '';
    if (this.cls[field] === c) return;
    const td = this.cells[field];
    if (this.cls[field]) td.classList.remove(this.cls[field]);
    if (c) td.classList.add(c);
    this.cls[field] = c;
  }

  value(key) {
    const t = this.tick;
    if (key === 'symbol') return this.sym;
    if (key === 'name') return this.info.name || '';
    if (!t) return null;
    const pc = this.info.prevClose;
    switch (key) {
      case 'price': return t.price;
      case 'change': return pc ? t.price - pc : null; // null: previous close unknown
      case 'pctChange': return pc ? (t.price - pc) / pc : null;
      case 'bid': return t.bid;
      case 'ask': return t.ask;
      case 'spread': return t.ask - t.bid;
      case 'volume': return t.volume;
      default: return null;
    }
  }

  render(now) {
    const t = this.tick;
    if (!t) return;
    const d = this.info.decimals;
    const pc = this.info.prevClose;
    const ch = pc ? t.price - pc : null; // null: previous close unknown
    this.put('price', fmt.fixed(t.price, d));
    this.put('bid', fmt.fixed(t.bid, d));
    this.put('ask', fmt.fixed(t.ask, d));
    this.put('spread', fmt.fixed(t.ask - t.bid, d));
    this.put('change', ch === null ? '–' : fmt.signed(ch, d));
    this.put('pctChange', ch === null ? '–' : fmt.signed(ch / pc * 100, 2) + '%');
    this.put('volume', fmt.compact(t.volume));
    this.sign('change', ch);
    this.sign('pctChange', ch);
    const s = this.shown;
    if (s) {
      flash(this.cells.price, t.price - s.price, now, 'flash');
      flash(this.cells.bid, t.bid - s.bid, now, 'tint');
      flash(this.cells.ask, t.ask - s.ask, now, 'tint');
    }
    this.shown = t;
    if (this.gaps && this.tr.dataset.gaps !== String(this.gaps)) this.tr.dataset.gaps = String(this.gaps);
    if (this.halted !== this.shownHalted) this.renderHalt();
  }

  // renderHalt marks the row of a halted symbol: data-status="halted"
  // and a HALTED badge by the symbol.
  renderHalt() {
    this.shownHalted = this.halted;
    const badge = this.cells.symbol.querySelector('.badge');
    if (this.halted) {
      this.tr.dataset.status = 'halted';
      if (!badge) {
        const b = document.createElement('span');
        b.className = 'badge halted';
        b.textContent = 'HALTED';
        b.title = 'Trading halted: no ticks until it reopens';
        this.cells.symbol.appendChild(b);
      }
    } else {
      delete this.tr.dataset.status;
      if (badge) badge.remove();
    }
  }

  drawSpark(now) {
    const key = this.c1.version + ':' + Math.floor(now / 1000);
    if (key === this.sparkKey || now - this.sparkAt < SPARK_MS) return;
    this.sparkKey = key;
    this.sparkAt = now;
    drawSpark(this.spark, this.c1, now, look.sparkW, look.sparkH, look.colors);
  }
}

// flash lights a cell that moved: kind 'flash' lights the background (the
// last price), 'tint' only the figures (bid, ask), so the screen stays calm
// at several ticks a second per symbol.
function flash(td, delta, now, kind) {
  if (!delta) return;
  const up = delta > 0;
  td.classList.remove(kind + (up ? '-down' : '-up'));
  td.classList.add(kind + (up ? '-up' : '-down'));
  flashing.set(td, now + FLASH_MS);
}
