// The controls: the symbol picker, the throttle, the theme, the candle
// interval, sorting, the filter and the keyboard. wire connects them once.

import { themeColors } from './chart.js';
import { look } from './watchlist.js';
import { $, app, store, selectedRow } from './model.js';
import { chart, select, setRes } from './selection.js';
import { setSort, applyFilter } from './table.js';

export function buildPicker() {
  const list = $('#picker-list');
  list.textContent = '';
  const sectors = new Map();
  for (const sym of app.universe) {
    const sec = app.info.get(sym).sector || 'Other';
    if (!sectors.has(sec)) sectors.set(sec, []);
    sectors.get(sec).push(sym);
  }
  for (const [sec, syms] of sectors) {
    const h = document.createElement('h3');
    h.textContent = sec;
    const g = document.createElement('div');
    g.className = 'group';
    for (const sym of syms) {
      const label = document.createElement('label');
      label.title = app.info.get(sym).name || sym;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = sym;
      box.checked = app.watched.has(sym);
      label.append(box, sym);
      g.appendChild(label);
    }
    list.append(h, g);
  }
  renderPickerCount();
}

export function renderPickerCount() {
  $('#picker-count').textContent = `${app.watched.size}/${app.universe.length}`;
}

export function setTheme(theme) {
  const light = theme === 'light';
  document.documentElement.dataset.theme = light ? 'light' : 'dark';
  const b = $('#theme');
  b.setAttribute('aria-label', light ? 'Switch to dark theme' : 'Switch to light theme');
  b.setAttribute('aria-pressed', String(light));
  look.colors = themeColors();
  chart.setColors();
  for (const row of app.rows.values()) row.sparkKey = '';
}

function sizeSparks(narrow) {
  look.sparkW = narrow ? 72 : 96;
  for (const row of app.rows.values()) row.sizeSpark();
}

// wire attaches the event handlers. throttle is the throttle to show;
// onThrottle(value) follows a new one, onWatch() a change of app.watched.
export function wire({ throttle: initialThrottle, onThrottle, onWatch }) {
  $('#rows').addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-symbol]');
    if (tr) select(tr.dataset.symbol, true);
  });
  $('#rows').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp' && e.key !== 'Home' && e.key !== 'End') return;
    const vis = app.order.filter((r) => !r.tr.hidden);
    if (!vis.length) return;
    let i = vis.indexOf(selectedRow());
    if (e.key === 'ArrowDown') i = Math.min(vis.length - 1, i + 1);
    else if (e.key === 'ArrowUp') i = Math.max(0, i - 1);
    else i = e.key === 'Home' ? 0 : vis.length - 1;
    e.preventDefault();
    select(vis[i].sym, true);
  });
  for (const th of document.querySelectorAll('th[data-sort] button')) {
    th.addEventListener('click', () => setSort(th.parentElement.dataset.sort));
  }
  $('#filter').addEventListener('input', (e) => {
    app.filter = e.target.value.trim().toLowerCase();
    applyFilter();
  });
  $('#filter').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.target.value = '';
      app.filter = '';
      applyFilter();
    } else if (e.key === 'Enter') {
      const first = app.order.find((r) => !r.tr.hidden);
      if (first) select(first.sym, true);
    }
  });
  const throttle = $('#throttle');
  throttle.value = initialThrottle;
  throttle.addEventListener('change', () => {
    store.set('throttle', throttle.value);
    onThrottle(throttle.value);
  });
  $('#theme').addEventListener('click', () => {
    const next = document.documentElement.dataset.theme === 'light' ? 'dark' : 'light';
    store.set('theme', next);
    setTheme(next);
  });
  for (const b of document.querySelectorAll('.seg-btn')) {
    b.addEventListener('click', () => setRes(Number(b.dataset.res)));
  }
  $('#picker-list').addEventListener('change', (e) => {
    if (e.target.type !== 'checkbox') return;
    if (e.target.checked) app.watched.add(e.target.value);
    else app.watched.delete(e.target.value);
    onWatch();
  });
  for (const b of document.querySelectorAll('[data-pick]')) {
    b.addEventListener('click', () => {
      app.watched = new Set(b.dataset.pick === 'all' ? app.universe : []);
      for (const box of document.querySelectorAll('#picker-list input')) box.checked = app.watched.has(box.value);
      onWatch();
    });
  }
  document.addEventListener('click', (e) => {
    const p = $('#picker');
    if (p.open && !p.contains(e.target)) p.open = false;
  });
  document.addEventListener('keydown', (e) => {
    const p = $('#picker');
    if (e.key === 'Escape' && p.open) {
      p.open = false;
      p.querySelector('summary').focus();
    }
  });
  const narrow = matchMedia('(max-width: 640px)');
  narrow.addEventListener('change', () => sizeSparks(narrow.matches));
  look.sparkW = narrow.matches ? 72 : 96;
}
