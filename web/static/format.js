// Number and time formatting for the dashboard. Formatters are cached:
// Intl.NumberFormat is slow to build and fast to use.

const fixedCache = new Map();

// decimalsFor returns how many decimals a price on the grid tickSize needs:
// 0.01 -> 2, 0.0001 -> 4, 0.05 -> 2, 0.25 -> 2, 1 -> 0. Unknown -> 2.
export function decimalsFor(tickSize) {
  if (!(tickSize > 0) || !Number.isFinite(tickSize)) return 2;
  for (let d = 0; d <= 8; d++) {
    const scaled = tickSize * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-7 * Math.max(1, scaled)) return d;
  }
  return 8;
}

function fixedFormat(d) {
  let f = fixedCache.get(d);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
    fixedCache.set(d, f);
  }
  return f;
}

// fixed formats v with exactly d decimals and thousands separators.
export function fixed(v, d) {
  if (!Number.isFinite(v)) return '–';
  return fixedFormat(d).format(v);
}

// signed is fixed with an explicit sign: "+1.25", "−0.40" (a real minus,
// as wide as the plus in tabular figures), "0.00".
export function signed(v, d) {
  if (!Number.isFinite(v)) return '–';
  const s = fixedFormat(d).format(Math.abs(v));
  if (Number(s.replace(/,/g, '')) === 0) return s;
  return (v > 0 ? '+' : '\u2212') + s;
}

const compactFmt = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 });
const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

// compact formats a share count: 950, 12.4K, 3.07M.
export function compact(v) {
  if (!Number.isFinite(v)) return '–';
  return compactFmt.format(v);
}

// integer formats a count with thousands separators.
export function integer(v) {
  return intFmt.format(v);
}

// duration formats milliseconds for the latency readout.
export function duration(ms) {
  if (!Number.isFinite(ms)) return '–';
  const a = Math.abs(ms);
  if (a < 10) return ms.toFixed(1) + ' ms';
  if (a < 1000) return Math.round(ms) + ' ms';
  if (a < 60000) return (ms / 1000).toFixed(1) + ' s';
  return Math.round(ms / 60000) + ' min';
}

const pad = (n) => (n < 10 ? '0' : '') + n;

// clock formats a time in ms as local HH:MM:SS.
export function clock(ms) {
  const t = new Date(ms);
  return pad(t.getHours()) + ':' + pad(t.getMinutes()) + ':' + pad(t.getSeconds());
}
