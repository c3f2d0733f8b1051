// candles.js: a live candle chart of one symbol with TradingView's
// lightweight-charts (npm), filled from GET /v1/bars, continued from `bar`
// events, and its forming candle built from ticks. The recipe is
// docs/charts.md; test/examples/chart.test.mjs runs it in Chromium across
// a gateway restart (reconnect) and a new stream (reset).
//
//   import { createChart, CandlestickSeries } from 'lightweight-charts';
//   import { Feed } from 'tickcast';
//   import { liveCandles } from './candles.js';
//   const chart = createChart(document.getElementById('chart'));
//   const series = chart.addSeries(CandlestickSeries);
//   const live = await liveCandles({ base: 'http://127.0.0.1:8080/', symbol: 'AAPL', interval: '1m', series, Feed });
//   // live.stop() when done
//
// The one rule lightweight-charts enforces: series.update() never takes a
// time older than the newest candle on the chart ("Cannot update oldest
// data"). Here every candle goes through candleSink's put(), which keeps
// its own map of candles by time and picks update(), update(c, true) (a
// candle already on the chart) or setData() (replace all), so no order of
// events, reconnect or reset can break that rule.

// unixSeconds is what a chart's `time` wants: UNIX seconds (UTC) of an
// RFC 3339 UTC instant, fractions cut. Bars and ticks carry wall-clock
// instants (`start`, `time`); `marketStart`/`marketTime` are the
// simulated market's clock, which runs at --speed and is not for the axis.
export function unixSeconds(rfc3339) {
  return Math.floor(Date.parse(rfc3339.slice(0, 19) + 'Z') / 1000);
}

const SECONDS = { '1s': 1, '1m': 60 };

// toCandle is a bar as lightweight-charts wants it.
export function toCandle(b) {
  return { time: unixSeconds(b.start), open: b.open, high: b.high, low: b.low, close: b.close };
}

// candleSink keeps series in time order whatever order candles come in:
// put(c) shows one candle, replace(list) sets them all. It is the one
// place that calls series.update or series.setData.
export function candleSink(series) {
  const candles = new Map(); // time -> candle: what the chart shows
  let newest = -Infinity; // the newest time on the chart

  function put(c) {
    const had = candles.has(c.time);
    candles.set(c.time, c);
    if (c.time >= newest) {
      series.update(c); // the forming candle, or a new one
      newest = c.time;
    } else if (had) {
      series.update(c, true); // a candle already shown: the closed bar replaces what ticks built
    } else {
      redraw(); // an older time the chart lacks: set the whole series again
    }
  }

  function redraw() {
    const all = [...candles.values()].sort((a, b) => a.time - b.time);
    series.setData(all);
    newest = all.length ? all[all.length - 1].time : -Infinity;
  }

  // replace sets the chart to list, keeping the candles newer than its
  // last (formed while list was loading).
  function replace(list) {
    const last = list.length ? list[list.length - 1].time : -Infinity;
    const since = [...candles.values()].filter((c) => c.time > last);
    candles.clear();
    for (const c of [...list, ...since]) candles.set(c.time, c);
    redraw();
  }

  function clear() {
    candles.clear();
    redraw();
  }

  return { put, replace, clear, candles, get newest() { return newest; } };
}

// liveCandles fills series with symbol's bars of interval ('1s' or '1m')
// and keeps it live. Feed is the class from the tickcast package (passed
// in so this file has no import to resolve); options go to new Feed (a
// token, an EventSource class in Node). onChange(candle) is called after
// every change of the chart, for tests and status lines.
export async function liveCandles({ base, symbol, interval = '1m', series, Feed, limit = 500, options = {}, onChange = () => {} }) {
  const step = SECONDS[interval];
  if (!step) throw new Error(`interval ${interval}: want 1s or 1m`);
  const sink = candleSink(series);
  const { candles } = sink;
  const put = (c) => { sink.put(c); onChange(c); };

  // history replaces everything with GET /v1/bars and returns its id, the
  // position the stream continues from with nothing missed or doubled.
  async function history() {
    const u = new URL('v1/bars', base);
    u.searchParams.set('symbol', symbol);
    u.searchParams.set('interval', interval);
    u.searchParams.set('limit', String(limit));
    const r = await fetch(u, { cache: 'no-store', headers: feed.authHeaders() });
    if (!r.ok) throw new Error(`GET /v1/bars: ${r.status} ${await r.text()}`);
    const body = await r.json();
    sink.replace(body.bars.map(toCandle));
    return body.id;
  }

  // tick folds a trade into the forming candle of its interval. Ticks of
  // an interval whose bar has come are late (an overlap after a resume):
  // the bar is the whole truth for it, so they are left out.
  const closed = new Set(); // times whose bar has come
  function tick(t) {
    const time = Math.floor(unixSeconds(t.time) / step) * step;
    if (closed.has(time) || time < sink.newest) return;
    const hi = t.high ?? t.price; // a merged tick carries its high and low
    const lo = t.low ?? t.price;
    const c = candles.get(time);
    put(c ? { time, open: c.open, high: Math.max(c.high, hi), low: Math.min(c.low, lo), close: t.price }
      : { time, open: t.price, high: hi, low: lo, close: t.price });
  }

  function bar(b) {
    if (b.symbol !== symbol || b.interval !== interval) return;
    const c = toCandle(b);
    closed.add(c.time);
    if (closed.size > 2 * limit) closed.delete(closed.values().next().value);
    put(c);
  }

  let refill = Promise.resolve();
  const feed = new Feed(base, {
    ...options,
    tick,
    bar,
    // After a reset (another stream, or an id out of its window) the
    // history is replaced too: load it again. Events meanwhile go on
    // through put(), and what the new history holds wins.
    snapshot(ticks, { reset }) {
      if (!reset) return;
      closed.clear();
      sink.clear(); // empty until the new history comes
      refill = history().catch((err) => console.warn('tickcast: bars after a reset:', err.message));
    },
  });
  const id = await history();
  feed.open({ symbols: [symbol], events: ['tick', 'bar'], bars: [interval], lastId: id });
  return {
    feed,
    candles,
    get newest() { return sink.newest; },
    refilled: () => refill,
    stop() { feed.stop('idle'); },
  };
}
