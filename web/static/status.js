// The header's status (connection state, latency, rate, gaps) and the
// feed panel (stream URL, last id, counters, connection log). The state
// comes from the Feed's status callback and is drawn once per frame.

import { $, app } from './model.js';
import * as fmt from './format.js';

// Per-second stats window for #rate and #latency.
const win = { start: performance.now(), events: 0, ticks: 0, lat: [] };

// countEvent counts one tick event for the stats, repeats included.
export function countEvent(t) {
  const n = t.merged > 1 ? t.merged : 1;
  win.events++;
  win.ticks += n;
  app.events++;
  if (n > 1) app.merged++;
  if (win.lat.length < 5000) win.lat.push(Date.now() - Date.parse(t.time));
}

const conn = $('#conn-state');
const connText = conn.querySelector('.conn-text').firstChild || conn.querySelector('.conn-text').appendChild(document.createTextNode(''));
const shown = { state: conn.dataset.state, text: connText.data };
let lastConn = '';

// showStatus sets the connection state to show at the next frame.
export function showStatus(state, text) {
  shown.state = state;
  shown.text = text;
}

// renderConn draws the connection state if it changed; once per frame.
export function renderConn() {
  if (shown.text !== lastConn || conn.dataset.state !== shown.state) {
    lastConn = shown.text;
    conn.dataset.state = shown.state;
    connText.data = shown.text;
  }
}

// renderStats updates the figures; every half second or so.
export function renderStats(p, feed) {
  const el = p - win.start;
  if (el >= 1000) {
    const rate = win.ticks * 1000 / el;
    const evs = win.events * 1000 / el;
    $('#rate').textContent = `${fmt.integer(rate)} ticks/s` + (win.events !== win.ticks ? ` · ${fmt.integer(evs)} ev/s` : '');
    const lat = win.lat.sort((a, b) => a - b);
    $('#latency').textContent = lat.length ? fmt.duration(lat[lat.length >> 1]) : '–';
    win.start = p;
    win.events = 0;
    win.ticks = 0;
    win.lat = [];
  }
  const g = $('#gaps');
  if (g.dataset.count !== String(app.gaps)) {
    g.dataset.count = String(app.gaps);
    g.textContent = app.gaps ? `${fmt.integer(app.gaps)} (${fmt.integer(app.gapTicks)} missed)` : '0';
  }
  const id = feed.lastId || '–';
  setText('#last-id', id);
  setText('#n-events', fmt.integer(app.events));
  setText('#n-merged', fmt.integer(app.merged));
  setText('#n-conns', fmt.integer(feed.connections));
  setText('#n-resets', fmt.integer(app.resets));
  const u = feed.streamURL ? new URL(feed.streamURL) : null;
  setText('#stream-url', u ? decodeURIComponent(u.pathname + u.search) : '–');
}

function setText(sel, s) {
  const el = $(sel);
  if (el.textContent !== s) el.textContent = s;
}

// log adds a line to the connection log (newest first, bounded).
export function log(text) {
  const ol = $('#log');
  const li = document.createElement('li');
  const time = document.createElement('time');
  time.textContent = fmt.clock(Date.now());
  li.append(time, ' ', text);
  ol.prepend(li);
  while (ol.childElementCount > 40) ol.lastElementChild.remove();
}
