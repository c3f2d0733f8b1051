// The selected symbol: its row's highlight, the quote above the chart and
// the candle chart (1 s, 5 s or 1 min candles; their history from
// /v1/bars, market.js).

import { CandleChart } from './chart.js';
import { loadChartHistory } from './market.js';
import { $, app, store, selectedRow } from './model.js';
import { bookSelected } from './book.js';

const RES = [1000, 5000, 60000];

// seriesFor is the row's candle series for the chart's interval.
export function seriesFor(row) {
  return app.res === 60000 ? row.m1 : app.res === 5000 ? row.c5 : row.c1;
}

export const chart = new CandleChart($('#chart'));

export function select(sym, focus) {
  const old = selectedRow();
  if (old) {
    old.tr.setAttribute('aria-selected', 'false');
    old.tr.tabIndex = -1;
  }
  app.selected = sym;
  bookSelected();
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
  chart.set(seriesFor(row), row.info);
  loadChartHistory(row);
  renderQuote();
}

export function renderQuote() {
  const row = selectedRow();
  const badge = $('#chart-status');
  const st = row ? row.tradingState : 'open';
  if (badge.hidden !== (st === 'open')) badge.hidden = st === 'open';
  if (st !== 'open') {
    const text = st === 'limit_up' ? 'LIMIT UP' : st === 'limit_down' ? 'LIMIT DOWN' : 'HALTED';
    if (badge.textContent !== text) badge.textContent = text;
    badge.className = 'badge ' + (st === 'halted' ? 'halted' : 'limit');
  }
  if (!row || !row.tick) return;
  $('#chart-price').textContent = row.text.price;
  const ch = $('#chart-change');
  ch.textContent = `${row.text.change} (${row.text.pctChange})`;
  ch.className = 'num ' + (row.cls.change || '');
}

export function setRes(res) {
  app.res = RES.includes(res) ? res : 1000;
  store.set('res', app.res);
  for (const b of document.querySelectorAll('.seg-btn')) b.setAttribute('aria-checked', String(Number(b.dataset.res) === app.res));
  select(app.selected);
}
