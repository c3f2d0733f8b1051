// Shared helpers for the real-client resume tests: run `tickcast serve`,
// stop and restart it on the same --data and port, and check a recorded
// event log for contiguity (the contract's "Merged ticks" accounting rule).

import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// tickcastBin returns $TICKCAST_BIN, or builds ./cmd/tickcast into dir.
export function tickcastBin(dir) {
  if (process.env.TICKCAST_BIN) return process.env.TICKCAST_BIN;
  const out = path.join(dir, 'tickcast');
  execFileSync('go', ['build', '-o', out, './cmd/tickcast'], { cwd: repo, stdio: 'inherit' });
  return out;
}

export async function tempDir(prefix) {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export async function removeDir(dir) {
  if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
}

// startServer runs `tickcast serve` on addr with the store in dataDir and
// resolves once it has printed its URL and /healthz answers 200.
export async function startServer(bin, { addr = '127.0.0.1:0', dataDir, rate = 500, seed = 1, extra = [] }) {
  const args = ['serve', '--addr', addr, '--data', dataDir, '--rate', String(rate), '--seed', String(seed), ...extra];
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const s = { proc, args, out: '', url: '', port: 0, exited: null, startedAt: Date.now() };
  const keep = (b) => { s.out = (s.out + b).slice(-20000); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  s.exited = new Promise((ok) => proc.on('exit', (code, sig) => ok({ code, sig })));
  try {
    let stdout = '';
    s.url = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`no URL on stdout within 20s:\n${s.out}`)), 20000);
      proc.stdout.on('data', (b) => {
        stdout += b;
        const m = stdout.match(/http:\/\/127\.0\.0\.1:(\d+)/);
        if (m) { clearTimeout(timer); ok(m[0]); }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`tickcast exited (${code}) before printing its URL:\n${s.out}`));
      });
    });
    s.port = Number(new URL(s.url).port);
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(s.url + '/healthz');
        if (r.ok) break;
      } catch { /* not yet */ }
      if (i > 100) throw new Error(`/healthz not 200 within 10s:\n${s.out}`);
      await sleep(100);
    }
  } catch (err) {
    await killServer(s);
    throw err;
  }
  return s;
}

// stopServer sends SIGTERM and waits for the exit (SIGKILL after 15s).
export async function stopServer(s) {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return s.exited;
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => s.proc.kill('SIGKILL'), 15000);
  const res = await s.exited;
  clearTimeout(t);
  return res;
}

// killServer is for finally blocks: stop it whatever state it is in.
export async function killServer(s) {
  if (!s || !s.proc) return;
  await stopServer(s).catch(() => { try { s.proc.kill('SIGKILL'); } catch { /* gone */ } });
}

const ID_RE = /^([\x21-\x7e]+)-(\d+)$/;

// parseId splits `<epoch>-<seq>`; null when it is not one.
export function parseId(id) {
  const m = ID_RE.exec(id || '');
  return m ? { epoch: m[1], seq: BigInt(m[2]) } : null;
}

// checkLog checks a recorded event log for exact resume.
//
// entries: [{conn, type, id, data}] in arrival order; conn is the index of
// the connection the event arrived on (0 = the first; a new connection
// starts at each `open`). Rules:
//   - no `reset`; conn 0 starts with a snapshot (opts.firstConn0), every
//     later connection with a `tick` (a resume, not a snapshot);
//   - ids are `<epoch>-<seq>`, one epoch throughout, never decreasing
//     within a connection;
//   - per symbol, consecutive events: seq - prev == (merged || 1); the first
//     event of a symbol on a resumed connection may overlap what is held
//     (seq - merged < prev, a duplicate when seq <= prev) but never skip
//     (seq - merged > prev is a gap). A symbol missing from the snapshot has
//     prev = 0 (its first tick is seq 1).
// Returns {errors, stats}; errors is capped so a broken run stays readable.
export function checkLog(entries, opts = {}) {
  const firstConn0 = opts.firstConn0 || 'snapshot';
  const errors = [];
  const err = (m) => { if (errors.length < 30) errors.push(m); else if (errors.length === 30) errors.push('...'); };
  const prev = new Map(); // symbol -> highest seq accounted for
  const lastConn = new Map(); // symbol -> conn of its latest event
  const stats = {
    events: 0, ticks: 0, snapshots: 0, resets: 0, merged: 0, duplicates: 0, overlaps: 0,
    connections: 0, perConn: [], epoch: null, symbols: 0,
  };
  let conn = -1;
  let lastIdSeq = -1n;
  for (const [i, e] of entries.entries()) {
    const where = `event #${i} (conn ${e.conn}, ${e.type}, id ${e.id})`;
    stats.events++;
    if (e.conn !== conn) {
      if (e.conn < conn) err(`${where}: connection index went backwards`);
      conn = e.conn;
      lastIdSeq = -1n;
      stats.connections++;
      stats.perConn[conn] = { first: e.type, events: 0 };
      const want = conn === 0 ? firstConn0 : 'tick';
      if (e.type !== want) err(`${where}: first event of connection ${conn} is ${e.type}, want ${want}`);
    }
    stats.perConn[conn].events++;

    if (e.type === 'reset') {
      stats.resets++;
      err(`${where}: unexpected reset ${e.data}`);
      continue;
    }
    const id = parseId(e.id);
    if (!id) err(`${where}: id is not <epoch>-<seq>`);
    else {
      if (stats.epoch === null) stats.epoch = id.epoch;
      else if (id.epoch !== stats.epoch) err(`${where}: epoch changed from ${stats.epoch} (the stream was not recreated)`);
      if (id.seq < lastIdSeq) err(`${where}: id decreased within a connection`);
      lastIdSeq = id.seq;
    }
    let d;
    try { d = JSON.parse(e.data); } catch { err(`${where}: data is not JSON: ${e.data}`); continue; }

    if (e.type === 'snapshot') {
      stats.snapshots++;
      if (!Array.isArray(d.ticks)) { err(`${where}: snapshot without ticks`); continue; }
      // A snapshot replaces the state (only legitimate as conn 0's first event;
      // anywhere else it has already been reported above).
      for (const t of d.ticks) { prev.set(t.symbol, t.seq); lastConn.set(t.symbol, conn); }
      continue;
    }
    if (e.type !== 'tick') { err(`${where}: unknown event type`); continue; }

    stats.ticks++;
    const m = d.merged === undefined ? 1 : d.merged;
    if (d.merged !== undefined) {
      stats.merged++;
      if (!(Number.isInteger(m) && m >= 2)) err(`${where}: merged=${d.merged}, want an integer >= 2`);
      if (!(d.low <= d.price && d.price <= d.high)) err(`${where}: price ${d.price} outside [low ${d.low}, high ${d.high}]`);
    }
    if (typeof d.symbol !== 'string' || !Number.isInteger(d.seq)) { err(`${where}: tick without symbol/seq: ${e.data}`); continue; }
    const p = prev.has(d.symbol) ? prev.get(d.symbol) : 0;
    const resumedFirst = conn > 0 && lastConn.get(d.symbol) !== conn;
    if (resumedFirst) {
      if (d.seq - m > p) err(`${where}: ${d.symbol} gap after reconnect: held seq ${p}, got seq ${d.seq} (merged ${m}), ${d.seq - m - p} tick(s) missing`);
      if (d.seq <= p) stats.duplicates++;
      else if (d.seq - m < p) stats.overlaps++;
      prev.set(d.symbol, Math.max(p, d.seq));
    } else {
      if (d.seq - p !== m) {
        const kind = d.seq - p > m ? `gap: ${d.seq - p - m} tick(s) missing` : 'duplicate/out of order (not the first event after a reconnect)';
        err(`${where}: ${d.symbol} seq ${d.seq} after ${p} (merged ${m}): ${kind}`);
      }
      prev.set(d.symbol, d.seq);
    }
    lastConn.set(d.symbol, conn);
  }
  stats.symbols = prev.size;
  stats.lastSeq = Object.fromEntries(prev);
  return { errors, stats };
}

// selfTest proves checkLog is not vacuous on a real recorded log: dropping a
// tick in the middle of a connection must be reported as a gap, repeating one
// mid-connection as a duplicate, and a reset as a reset. Returns a list of
// failures (empty when the checker catches all three).
export function selfTest(entries) {
  const failures = [];
  const ticks = entries.map((e, i) => [e, i]).filter(([e]) => e.type === 'tick');
  // A tick whose symbol has a later event on the same connection: dropping
  // it leaves a hole that the next event must reveal.
  const pick = ticks.find(([e, i], k) => k > ticks.length / 2 && entries.slice(i + 1).some((f) => f.conn === e.conn && f.type === 'tick' && JSON.parse(f.data).symbol === JSON.parse(e.data).symbol));
  if (!pick) return ['self-test: no tick to drop'];
  const [victim, at] = pick;
  const dropped = entries.filter((_, i) => i !== at);
  if (!checkLog(dropped).errors.some((m) => /gap/.test(m))) failures.push(`self-test: dropping ${victim.data} was not reported as a gap`);
  const doubled = [...entries.slice(0, at + 1), victim, ...entries.slice(at + 1)];
  if (!checkLog(doubled).errors.some((m) => /duplicate/.test(m))) failures.push('self-test: a mid-connection duplicate was not reported');
  const withReset = [...entries.slice(0, at), { ...victim, type: 'reset', data: '{"reason":"test"}' }, ...entries.slice(at)];
  if (!checkLog(withReset).errors.some((m) => /reset/.test(m))) failures.push('self-test: a reset was not reported');
  return failures;
}
