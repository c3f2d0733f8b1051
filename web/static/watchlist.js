// A watchlist row: one symbol's latest tick and quote, its trading state,
// its candles (1 s and 1 min bars, 5 s rolled up from 1 s), and its <tr>.
// The row is rendered once per animation frame at most (render), only
// writing cells whose text changed.

import { CandleSeries, Rollup, drawSpark } from './chart.js';
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
    this.state = 'open'; // from status events: open, halted, limit_up, limit_down
    this.stateSeq = 0;
    this.band = null; // [low, high] of a limit state
    this.shownState = 'open';
    this.q = null; // {bid, ask, bidSize, askSize}: the newest quote (or tick's quote)
    this.c1 = new CandleSeries(1000, 900);
    this.c5 = new Rollup(this.c1, 5000);
    this.m1 = new CandleSeries(60000, 720);
    this.history = {}; // interval -> bars asked of /v1/bars (limit), so far
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
      case 'bid': return this.q ? this.q.bid : t.bid;
      case 'ask': return this.q ? this.q.ask : t.ask;
      case 'bidSize': return this.q ? this.q.bidSize : null;
      case 'askSize': return this.q ? this.q.askSize : null;
      case 'spread': return this.q ? this.q.ask - this.q.bid : t.ask - t.bid;
      case 'volume': return t.volume;
      default: return null;
    }
  }

  render(now) {
    this.renderState();
    const t = this.tick;
    if (!t) return;
    const d = this.info.decimals;
    const pc = this.info.prevClose;
    const ch = pc ? t.price - pc : null; // null: previous close unknown
    const q = this.q || t;
    this.put('price', fmt.fixed(t.price, d));
    this.put('bid', fmt.fixed(q.bid, d));
    this.put('ask', fmt.fixed(q.ask, d));
    this.put('bidSize', q.bidSize > 0 ? fmt.compact(q.bidSize) : '–');
    this.put('askSize', q.askSize > 0 ? fmt.compact(q.askSize) : '–');
    this.put('spread', fmt.fixed(q.ask - q.bid, d));
    this.put('change', ch === null ? '–' : fmt.signed(ch, d));
    this.put('pctChange', ch === null ? '–' : fmt.signed(ch / pc * 100, 2) + '%');
    this.put('volume', fmt.compact(t.volume));
    this.sign('change', ch);
    this.sign('pctChange', ch);
    const s = this.shown;
    if (s) {
      flash(this.cells.price, t.price - s.price, now, 'flash');
      flash(this.cells.bid, q.bid - s.bid, now, 'tint');
      flash(this.cells.ask, q.ask - s.ask, now, 'tint');
    }
    this.shown = { price: t.price, bid: q.bid, ask: q.ask };
    if (this.gaps && this.tr.dataset.gaps !== String(this.gaps)) this.tr.dataset.gaps = String(this.gaps);
  }

  // tradingState is the state to show: a status event's, or a halt the
  // ticks say (a gateway without status events).
  get tradingState() {
    return this.state !== 'open' ? this.state : this.halted ? 'halted' : 'open';
  }

  // renderState marks the row of a symbol that is not trading freely:
  // data-status="halted" (or limit_up, limit_down) and a badge by the
  // symbol.
  renderState() {
    const st = this.tradingState;
    if (st === this.shownState) return;
    this.shownState = st;
    let badge = this.cells.symbol.querySelector('.badge');
    if (st !== 'open') {
      this.tr.dataset.status = st;
      if (!badge) {
        badge = document.createElement('span');
        this.cells.symbol.appendChild(badge);
      }
      const b = BADGES[st] || BADGES.halted;
      badge.className = 'badge ' + b.cls;
      badge.textContent = b.text;
      badge.title = b.title + (this.band && st !== 'halted' ? ` (band ${this.band[0]} – ${this.band[1]})` : '');
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

const BADGES = {
  halted: { cls: 'halted', text: 'HALTED', title: 'Trading halted: no ticks until it reopens' },
  limit_up: { cls: 'limit', text: 'LIMIT UP', title: 'Limit up: trading paused, a trade would cross the upper band' },
  limit_down: { cls: 'limit', text: 'LIMIT DOWN', title: 'Limit down: trading paused, a trade would cross the lower band' },
};

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
