// The selected symbol: its row's highlight, the quote above the chart and
// the candle chart (1 s or 5 s candles).

import { CandleChart } from './chart.js';
import { $, app, store, selectedRow } from './model.js';

export const chart = new CandleChart($('#chart'));

export function select(sym, focus) {
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

export function renderQuote() {
  const row = selectedRow();
  const badge = $('#chart-status');
  if (badge.hidden !== !(row && row.halted)) badge.hidden = !(row && row.halted);
  if (!row || !row.tick) return;
  $('#chart-price').textContent = row.text.price;
  const ch = $('#chart-change');
  ch.textContent = `${row.text.change} (${row.text.pctChange})`;
  ch.className = 'num ' + (row.cls.change || '');
}

export function setRes(res) {
  app.res = res === 5000 ? 5000 : 1000;
  store.set('res', app.res);
  for (const b of document.querySelectorAll('.seg-btn')) b.setAttribute('aria-checked', String(Number(b.dataset.res) === app.res));
  select(app.selected);
}
