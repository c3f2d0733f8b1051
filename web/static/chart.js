// Candles, the candle chart and the row sparklines, drawn on canvas by our
// own small code. Nothing here touches the DOM outside its canvases.

import { fixed, compact, clock } from './format.js';

// CandleSeries holds OHLC candles of res milliseconds, keyed by the
// bucket number floor(time / res), keeping at most max candles. Closed
// candles come from the feed's bars (history from /v1/bars, then bar
// events), which replace whatever was there; the candle still forming
// is folded from ticks, as is everything when the gateway sends no bars.
export class CandleSeries {
  constructor(res, max) {
    this.res = res;
    this.max = max;
    this.c = []; // {b, o, h, l, c, v, n, bar}, oldest first
    this.version = 0; // bumped on every change, for redraw checks
    this.barEnd = 0; // end (ms) of the newest bar: older ticks are in bars
    this.bars = 0; // candles taken from bars
  }

  clear() {
    this.c = [];
    this.barEnd = 0;
    this.bars = 0;
    this.version++;
  }

  // bar puts a closed bar of this series' interval ({start, end, open,
  // high, low, close, volume, trades}) in its place: it replaces a candle
  // folded from ticks, or the same bar again; bars may come out of order
  // (history after live ones).
  bar(b) {
    const ms = Date.parse(b.start);
    const end = Date.parse(b.end);
    if (!Number.isFinite(ms) || !(b.close > 0)) return;
    const k = { b: Math.floor(ms / this.res), o: b.open, h: b.high, l: b.low, c: b.close, v: b.volume || 0, n: b.trades || 0, bar: true };
    const c = this.c;
    let i = c.length;
    while (i > 0 && c[i - 1].b > k.b) i--;
    if (i > 0 && c[i - 1].b === k.b) {
      if (!c[i - 1].bar) this.bars++;
      c[i - 1] = k;
    } else {
      if (i === 0 && c.length >= this.max) return; // older than all we keep
      c.splice(i, 0, k);
      this.bars++;
      if (c.length > this.max) this.bars -= c.splice(0, c.length - this.max).filter((x) => x.bar).length;
    }
    if (end > this.barEnd) this.barEnd = end;
    this.version++;
  }

  // add folds one tick in. A merged tick brings the high and low of all
  // the ticks it stands for, so no extreme is lost; its open is unknown,
  // so a candle it starts opens at the previous close (kept within range).
  add(ms, price, high, low, vol, n) {
    if (!Number.isFinite(ms) || !Number.isFinite(price)) return;
    if (ms < this.barEnd) return; // a bar already holds it
    const b = Math.floor(ms / this.res);
    const c = this.c;
    let k = c[c.length - 1];
    if (k && b < k.b) {
      // Older than the newest candle (clock step): fold into its own
      // candle if we still have it, else into the newest.
      for (let i = c.length - 2; i >= 0 && c[i].b >= b; i--) if (c[i].b === b) { k = c[i]; break; }
    } else if (!k || b > k.b) {
      let o = price;
      if (n > 1 && k) o = Math.min(Math.max(k.c, low), high);
      k = { b, o, h: o, l: o, c: price, v: 0, n: 0 };
      c.push(k);
      if (c.length > this.max) this.bars -= c.splice(0, c.length - this.max).filter((x) => x.bar).length;
    }
    if (k.bar) return; // a closed bar is final
    if (high > k.h) k.h = high;
    if (low < k.l) k.l = low;
    if (price > k.h) k.h = price;
    if (price < k.l) k.l = price;
    if (k === c[c.length - 1]) k.c = price;
    k.v += vol;
    k.n += n;
    this.version++;
  }

  last() {
    return this.c[this.c.length - 1];
  }
}

// Rollup shows the candles of a finer series (src) in buckets of res ms,
// computed again only when src changed.
export class Rollup {
  constructor(src, res) {
    this.src = src;
    this.res = res;
    this.made = -1;
    this.cs = [];
  }

  get version() { return this.src.version; }

  get c() {
    if (this.made === this.src.version) return this.cs;
    this.made = this.src.version;
    const out = [];
    let k = null;
    for (const x of this.src.c) {
      const b = Math.floor(x.b * this.src.res / this.res);
      if (!k || b !== k.b) {
        k = { b, o: x.o, h: x.h, l: x.l, c: x.c, v: 0, n: 0 };
        out.push(k);
      }
      if (x.h > k.h) k.h = x.h;
      if (x.l < k.l) k.l = x.l;
      k.c = x.c;
      k.v += x.v;
      k.n += x.n;
    }
    this.cs = out;
    return out;
  }

  last() {
    const c = this.c;
    return c[c.length - 1];
  }
}

// colors reads the theme's custom properties (see style.css).
export function themeColors() {
  const cs = getComputedStyle(document.documentElement);
  const v = (name) => cs.getPropertyValue(name).trim();
  return {
    bg: v('--panel'), text: v('--text'), muted: v('--muted'), axis: v('--axis'),
    grid: v('--grid'), border: v('--border'), up: v('--up'), down: v('--down'),
    accent: v('--accent'), panel2: v('--panel-2'),
  };
}

const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const AXIS_W = 68; // right price axis
const TIME_H = 20; // bottom time axis
const LEGEND_H = 22; // OHLC legend on top
const SLOT = 9; // CSS px per candle

// CandleChart draws the selected symbol's candles with volume bars and
// scrolls with the clock. Call frame(now) from requestAnimationFrame: it
// redraws only when the data, the second, the size or the hover changed.
export class CandleChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { alpha: false });
    this.w = 0;
    this.h = 0;
    this.dpr = 1;
    this.series = null;
    this.info = null;
    this.colors = themeColors();
    this.hover = null; // {x, y} in CSS px
    this.drawn = { version: -1, bucket: -1, series: null };
    this.dirty = true;
    this.candles = 0;
    new ResizeObserver((entries) => {
      const r = entries[0].contentRect;
      this.resize(r.width, r.height);
    }).observe(canvas);
    canvas.addEventListener('pointermove', (e) => {
      const r = canvas.getBoundingClientRect();
      this.hover = { x: e.clientX - r.left, y: e.clientY - r.top };
      this.dirty = true;
    });
    canvas.addEventListener('pointerleave', () => { this.hover = null; this.dirty = true; });
  }

  resize(w, h) {
    this.dpr = window.devicePixelRatio || 1;
    this.w = Math.floor(w);
    this.h = Math.floor(h);
    this.canvas.width = Math.max(1, Math.round(this.w * this.dpr));
    this.canvas.height = Math.max(1, Math.round(this.h * this.dpr));
    this.dirty = true;
  }

  // set shows a series; info is the symbol's /v1/symbols entry plus
  // decimals.
  set(series, info) {
    this.series = series;
    this.info = info;
    this.canvas.dataset.symbol = info ? info.symbol : '';
    this.dirty = true;
  }

  setColors() {
    this.colors = themeColors();
    this.dirty = true;
  }

  frame(now) {
    const s = this.series;
    const bucket = s ? Math.floor(now / s.res) : -1;
    const version = s ? s.version : -1;
    if (!this.dirty && this.drawn.series === s && this.drawn.version === version && this.drawn.bucket === bucket) return;
    this.dirty = false;
    this.drawn = { version, bucket, series: s };
    this.draw(now);
  }

  draw(now) {
    const { ctx, w, h, colors: col } = this;
    if (w < 40 || h < 60) return;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = col.bg;
    ctx.fillRect(0, 0, w, h);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';

    const s = this.series;
    const info = this.info;
    const plotR = w - AXIS_W;
    const top = LEGEND_H;
    const priceH = Math.round((h - top - TIME_H) * 0.74);
    const priceBot = top + priceH;
    const volTop = priceBot + 10;
    const volBot = h - TIME_H - 2;
    const n = Math.max(1, Math.floor(plotR / SLOT));
    const last = s && s.last();
    const nowB = Math.max(s ? Math.floor(now / s.res) : 0, last ? last.b : 0);
    const firstB = nowB - n + 1;

    let i = s ? s.c.length : 0;
    while (i > 0 && s.c[i - 1].b >= firstB) i--;
    const vis = s ? s.c.slice(i) : [];
    this.candles = vis.length;
    if (this.canvas.dataset.candles !== String(vis.length)) this.canvas.dataset.candles = String(vis.length);
    const fromBars = String(vis.filter((k) => k.bar).length);
    if (this.canvas.dataset.bars !== fromBars) this.canvas.dataset.bars = fromBars;

    // Frame: axis separator and volume separator.
    ctx.fillStyle = col.grid;
    ctx.fillRect(plotR, top, 1, volBot - top);
    ctx.fillRect(0, volTop - 5, plotR, 1);

    if (!vis.length || !info) {
      ctx.fillStyle = col.muted;
      ctx.textAlign = 'center';
      ctx.fillText(info ? 'waiting for ticks…' : 'select a symbol', plotR / 2, top + priceH / 2);
      return;
    }

    const d = info.decimals;
    let lo = Infinity;
    let hi = -Infinity;
    let maxV = 0;
    for (const k of vis) {
      if (k.l < lo) lo = k.l;
      if (k.h > hi) hi = k.h;
      if (k.v > maxV) maxV = k.v;
    }
    const tick = info.tickSize > 0 ? info.tickSize : 0.01;
    if (hi - lo < tick * 4) {
      const mid = (hi + lo) / 2;
      lo = mid - tick * 2;
      hi = mid + tick * 2;
    }
    const pad = (hi - lo) * 0.08;
    lo -= pad;
    hi += pad;
    const y = (p) => top + (hi - p) / (hi - lo) * priceH;
    const xOf = (b) => plotR - (nowB - b + 0.5) * SLOT;

    // Price grid and axis labels (not under the last-price tag).
    const lc = vis[vis.length - 1];
    const ly = Math.round(y(lc.c)) + 0.5;
    const step = niceStep((hi - lo) / Math.max(2, Math.floor(priceH / 32)), tick);
    ctx.textAlign = 'left';
    for (let p = Math.ceil(lo / step) * step; p <= hi; p += step) {
      const yy = Math.round(y(p)) + 0.5;
      ctx.fillStyle = col.grid;
      ctx.fillRect(0, yy, plotR, 1);
      ctx.fillStyle = col.axis;
      if (Math.abs(yy - ly) > 16) ctx.fillText(fixed(p, d), plotR + 6, yy);
    }

    // Time grid: a label every `every` candles, on round times.
    const every = labelEvery(s.res);
    ctx.textAlign = 'center';
    for (let b = Math.ceil(firstB / every) * every; b <= nowB; b += every) {
      const x = Math.round(xOf(b)) + 0.5;
      ctx.fillStyle = col.grid;
      ctx.fillRect(x, top, 1, volBot - top);
      ctx.fillStyle = col.axis;
      if (x > 26) ctx.fillText(clock(b * s.res), x, h - TIME_H / 2);
    }

    // Candles and volume bars.
    const bw = Math.max(1, SLOT - 3);
    const volH = Math.max(1, volBot - volTop);
    for (const k of vis) {
      const x = Math.round(xOf(k.b));
      const up = k.c >= k.o;
      ctx.fillStyle = up ? col.up : col.down;
      const yh = y(k.h);
      const yl = y(k.l);
      ctx.fillRect(x, Math.round(yh), 1, Math.max(1, Math.round(yl - yh)));
      const yo = y(k.o);
      const yc = y(k.c);
      ctx.fillRect(x - (bw >> 1), Math.round(Math.min(yo, yc)), bw, Math.max(1, Math.round(Math.abs(yc - yo))));
      if (maxV > 0) {
        const vh = Math.max(1, Math.round(k.v / maxV * volH));
        ctx.globalAlpha = 0.55;
        ctx.fillRect(x - (bw >> 1), volBot - vh, bw, vh);
        ctx.globalAlpha = 1;
      }
    }

    // Last price: a dashed line and a tag on the axis.
    const lastColor = lc.c >= lc.o ? col.up : col.down;
    ctx.strokeStyle = lastColor;
    ctx.setLineDash([3, 3]);
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, ly);
    ctx.lineTo(plotR, ly);
    ctx.stroke();
    ctx.setLineDash([]);
    this.tag(fixed(lc.c, d), ly, lastColor, '#fff');

    // Hover: crosshair, the price under the pointer, the candle's OHLC.
    let shown = lc;
    const hv = this.hover;
    if (hv && hv.x < plotR && hv.y > top && hv.y < volBot) {
      const b = nowB - Math.floor((plotR - hv.x) / SLOT);
      const hx = Math.round(xOf(b)) + 0.5;
      ctx.strokeStyle = col.axis;
      ctx.setLineDash([2, 3]);
      ctx.beginPath();
      ctx.moveTo(hx, top);
      ctx.lineTo(hx, volBot);
      if (hv.y < priceBot) {
        ctx.moveTo(0, Math.round(hv.y) + 0.5);
        ctx.lineTo(plotR, Math.round(hv.y) + 0.5);
      }
      ctx.stroke();
      ctx.setLineDash([]);
      if (hv.y < priceBot) this.tag(fixed(hi - (hv.y - top) / priceH * (hi - lo), d), Math.round(hv.y) + 0.5, col.panel2, col.text);
      shown = vis.find((k) => k.b === b) || null;
    }
    this.legend(shown, s.res, d);
  }

  // tag draws a price label on the right axis.
  tag(text, yy, bg, fg) {
    const { ctx, w } = this;
    const x = w - AXIS_W + 1;
    ctx.fillStyle = bg;
    ctx.fillRect(x, yy - 9, AXIS_W - 1, 18);
    ctx.fillStyle = fg;
    ctx.textAlign = 'left';
    ctx.fillText(text, x + 5, yy);
  }

  legend(k, res, d) {
    const { ctx, colors: col } = this;
    const yy = LEGEND_H / 2 + 1;
    let x = 6;
    ctx.textAlign = 'left';
    const put = (text, color) => {
      ctx.fillStyle = color;
      ctx.fillText(text, x, yy);
      x += ctx.measureText(text).width + 4;
    };
    put(`${this.info.symbol} · ${res >= 60000 ? res / 60000 + 'm' : res / 1000 + 's'}`, col.text);
    x += 6;
    if (!k) return;
    const c = k.c >= k.o ? col.up : col.down;
    if (this.w >= 480) {
      put(clock(k.b * res), col.muted);
      x += 4;
    }
    for (const [label, v] of [['O', k.o], ['H', k.h], ['L', k.l], ['C', k.c]]) {
      put(label, col.muted);
      put(fixed(v, d), c);
      x += 2;
    }
    put('V', col.muted);
    put(compact(k.v), col.text);
  }
}

// niceStep rounds a raw grid step up to 1, 2 or 5 times a power of ten,
// and to a whole number of ticks.
function niceStep(raw, tick) {
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  const step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  return Math.max(tick, Math.round(step / tick) * tick);
}

// labelEvery is how many candles apart time labels sit (>= ~70px).
function labelEvery(res) {
  const minCandles = Math.ceil(70 / SLOT);
  const secs = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
  for (const s of secs) {
    const k = s * 1000 / res;
    if (k >= minCandles && Number.isInteger(k)) return k;
  }
  return minCandles;
}

// drawSpark draws the closes of the last `slots` candles of series on a
// small canvas (w x h CSS px), newest at the right, with a faint area.
export function drawSpark(canvas, series, now, w, h, col) {
  const ctx = canvas.getContext('2d');
  const dpr = window.devicePixelRatio || 1;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const c = series.c;
  const slots = 60;
  const last = series.last();
  if (!last) return;
  const nowB = Math.max(Math.floor(now / series.res), last.b);
  const firstB = nowB - slots + 1;
  let i = c.length;
  while (i > 0 && c[i - 1].b >= firstB) i--;
  if (c.length - i < 1) return;
  let lo = Infinity;
  let hi = -Infinity;
  for (let j = i; j < c.length; j++) {
    if (c[j].c < lo) lo = c[j].c;
    if (c[j].c > hi) hi = c[j].c;
  }
  if (hi === lo) { hi += 1e-9; lo -= 1e-9; }
  const dx = w / slots;
  const X = (b) => w - (nowB - b + 0.5) * dx;
  const Y = (p) => 2 + (hi - p) / (hi - lo) * (h - 4);
  const up = last.c >= c[i].o;
  const color = up ? col.up : col.down;
  ctx.beginPath();
  ctx.moveTo(X(c[i].b), Y(c[i].c));
  for (let j = i + 1; j < c.length; j++) ctx.lineTo(X(c[j].b), Y(c[j].c));
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.25;
  ctx.lineJoin = 'round';
  ctx.stroke();
  ctx.lineTo(X(last.b), h);
  ctx.lineTo(X(c[i].b), h);
  ctx.closePath();
  ctx.globalAlpha = 0.12;
  ctx.fillStyle = color;
  ctx.fill();
  ctx.globalAlpha = 1;
  ctx.beginPath();
  ctx.arc(X(last.b), Y(last.c), 1.75, 0, Math.PI * 2);
  ctx.fill();
}
