// The simulator's scenario: what GET /v1/sim/scenario says is in force,
// and a picker that POSTs a new one. The control stays hidden when the
// endpoint is not there (404: `tickcast gateway`, or serve with
// --sim-control=false) or not ours to use (401).

const POLL_MS = 3000;

const LABELS = {
  normal: 'normal',
  'flash-crash': 'flash crash',
  halt: 'halt',
  gap: 'gap',
  burst: 'burst ×10',
  quiet: 'quiet',
};

export class ScenarioControl {
  // el: the control's container; selectedSymbol(): the symbol a halt
  // applies to; log(text): a line in the connection log.
  // headers(): extra request headers (the access token's Authorization).
  constructor(base, el, { selectedSymbol, log, headers = () => ({}) }) {
    this.url = new URL('v1/sim/scenario', base);
    this.el = el;
    this.select = el.querySelector('select');
    this.left = el.querySelector('.scn-left');
    this.selectedSymbol = selectedSymbol;
    this.log = log;
    this.headers = headers;
    this.state = null; // the latest scenario from the server
    this.askedAtEnd = false; // polled once when its time was up
    this.timer = 0;
    this.busy = false;
    this.select.addEventListener('change', () => this.post(this.select.value));
  }

  start() {
    this.poll();
  }

  async poll() {
    clearTimeout(this.timer);
    try {
      const r = await fetch(this.url, { cache: 'no-store', headers: this.headers() });
      if (r.status === 404 || r.status === 401 || r.status === 403) {
        this.el.hidden = true;
        return; // not available here: stop asking
      }
      if (r.ok) this.show((await r.json()).scenario);
    } catch { /* the server is away; ask again later */ }
    this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  async post(name) {
    const body = { name };
    if (name === 'halt') {
      const sym = this.selectedSymbol();
      if (sym) body.symbol = sym;
    }
    this.busy = true;
    try {
      const r = await fetch(this.url, {
        method: 'POST',
        headers: { ...this.headers(), 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        cache: 'no-store',
      });
      const j = await r.json().catch(() => ({}));
      if (r.ok && j.scenario) {
        this.log(`scenario · ${describe(j.scenario)}`);
        this.show(j.scenario);
      } else {
        this.log(`scenario ${name} refused · ${j.error || 'HTTP ' + r.status}`);
      }
    } catch (e) {
      this.log(`scenario ${name} · ${e.message}`);
    } finally {
      this.busy = false;
    }
    this.poll(); // pending -> in force, and the timer restarts
  }

  show(sc) {
    if (!sc || typeof sc.name !== 'string') return;
    if (!this.state || this.state.name !== sc.name || this.state.ends !== sc.ends) this.askedAtEnd = false;
    this.state = sc;
    this.el.hidden = false;
    this.el.dataset.name = sc.name;
    if (!this.busy && this.select.value !== sc.name && LABELS[sc.name]) this.select.value = sc.name;
    this.left.title = sc.name === 'normal' ? '' : describe(sc);
    this.render();
  }

  // render updates the time left; call it now and then.
  render() {
    const sc = this.state;
    if (!sc || this.el.hidden) return;
    let text = '';
    if (sc.name !== 'normal') {
      const parts = [];
      if (sc.symbol) parts.push(sc.symbol);
      if (sc.pending) parts.push('starting');
      else if (sc.ends) {
        const s = Math.max(0, Math.ceil((Date.parse(sc.ends) - Date.now()) / 1000));
        parts.push(s >= 120 ? `${Math.round(s / 60)} min` : `${s} s`);
        // Over: ask at once (once) rather than at the next poll.
        if (s === 0 && !this.askedAtEnd) {
          this.askedAtEnd = true;
          setTimeout(() => this.poll(), 300);
        }
      }
      text = parts.join(' · ');
    }
    if (this.left.textContent !== text) this.left.textContent = text;
  }
}

// describe is a scenario in a few words: "halt AAPL for 30s".
function describe(sc) {
  let s = LABELS[sc.name] || sc.name;
  if (sc.symbol) s += ' ' + sc.symbol;
  else if (sc.name === 'gap') s += ' all';
  if (sc.size) s += ` ${sc.size > 0 ? '+' : ''}${(sc.size * 100).toFixed(1)}%`;
  if (sc.duration) s += ` for ${sc.duration}`;
  return s;
}
