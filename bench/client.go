package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, up to a minute; longer ones are
// recorded as a minute.
const (
	maxLatencyUs = 60_000_000
	latBatch     = 256                    // latencies a client keeps before taking its shard's lock
	flushEvery   = int64(time.Second / 5) // and at least this often while events arrive
)

// shard gathers the results of a group of clients under one lock, so that
// 10,000 clients need neither 10,000 histograms (~140 KiB each at 3
// significant digits) nor one contended lock.
type shard struct {
	mu        sync.Mutex
	hist      *hdrhistogram.Histogram // window latencies of healthy clients, us
	st        seqStats                // healthy clients, whole run
	slowSt    seqStats                // stalled clients, whole run
	winEvents uint64                  // healthy tick events whose time is in the window
	winTicks  uint64                  // ticks they account for
	winOther  uint64                  // events of other types (quote, trade, bar, ...) received in the window
	events    uint64                  // all tick events, for the live rate
	bad       uint64                  // events that did not parse
	resets    uint64
	snapshots uint64
	wire      uint64 // bytes received in the window
	plain     uint64 // the same, decompressed
}

func newShard() *shard {
	return &shard{hist: hdrhistogram.New(1, maxLatencyUs, 3)}
}

// client is one light SSE client: raw TCP, a hand-written request, the
// incremental Parser, and per-symbol seq state. Only its own goroutine
// touches it, except newest, which the runner reads to see it caught up.
type client struct {
	r     *runner
	sh    *shard
	n     int
	slow  bool
	query string // "/v1/stream?..."
	local *net.TCPAddr

	conn net.Conn
	buf  []byte
	p    Parser
	dec  decoder // with Config.AcceptEncoding (decode.go)

	wire, plain uint64 // bytes read in the window: as received, decompressed

	last  []uint64           // previous seq per symbol of the universe, 0 = none
	extra map[string]*uint64 // symbols outside the universe

	now, ws, we int64 // receive time of the current read; the window
	tc          timeCache

	// pending, flushed into sh
	st                  seqStats
	winEvents, winTicks uint64
	winOther            uint64
	bad, resets, snaps  uint64
	lat                 [latBatch]int64
	nlat                int
	lastFlush           int64

	newest atomic.Int64 // newest tick time seen, Unix ns
	up     atomic.Bool  // the first dial succeeded

	// storm mode
	awaiting bool         // the stream ended in the storm: the next event is the resume
	retry    int32        // the last retry: the server sent, ms; -1: none
	resumeAt atomic.Int64 // when that event came, Unix ns; 0: not yet
}

// feed hands received bytes to the parser, with the receive time and window
// bounds the event handler uses.
func (c *client) feed(b []byte) error {
	c.now = time.Now().UnixNano()
	c.ws, c.we = c.r.winStart.Load(), c.r.winEnd.Load()
	if c.now >= c.ws && c.now < c.we {
		c.plain += uint64(len(b))
	}
	err := c.p.Feed(b)
	if c.now-c.lastFlush > flushEvery {
		c.flush()
	}
	return err
}

// countWire counts bytes received, in the window.
func (c *client) countWire(n int) {
	if now := time.Now().UnixNano(); now >= c.r.winStart.Load() && now < c.r.winEnd.Load() {
		c.wire += uint64(n)
	}
}

// readLoop reads until the connection ends or fails.
func (c *client) readLoop() error {
	if c.dec.on {
		return c.decodeLoop()
	}
	for {
		n, err := c.conn.Read(c.buf)
		if n > 0 {
			ferr := c.feed(c.buf[:n])
			if c.now >= c.ws && c.now < c.we { // as countWire, with feed's clock
				c.wire += uint64(n)
			}
			if ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return err
		}
	}
}

// Event implements Handler.
func (c *client) Event(typ, _, data []byte) {
	if c.awaiting {
		c.awaiting = false
		c.resumeAt.Store(c.now)
	}
	switch string(typ) {
	case "tick":
		c.onTick(data)
	case "snapshot":
		c.onSnapshot(data)
	case "reset":
		c.resets++
		clear(c.last)
		clear(c.extra)
	default: // another event type (--events): counted, not parsed
		if c.r.cfg.Framing == FramingCentrifuge {
			if tick, ok := centrifugePub(data); ok {
				c.onTick(tick)
			}
			return // the connect push and other pushes: not ticks
		}
		if !c.slow && c.now >= c.r.winStart.Load() && c.now < c.r.winEnd.Load() {
			c.winOther++
		}
	}
}

func (c *client) onTick(data []byte) {
	var t tickFields
	if !parseTick(data, &t, &c.tc) {
		c.bad++
		return
	}
	n := c.st.observe(c.slot(t.symbol), t.seq, t.merged)
	if t.timeNs > c.newest.Load() {
		c.newest.Store(t.timeNs)
	}
	if c.slow || t.timeNs < c.ws || t.timeNs >= c.we {
		return
	}
	c.winEvents++
	c.winTicks += n
	c.lat[c.nlat] = (c.now - t.timeNs) / 1000
	c.nlat++
	if c.nlat == latBatch {
		c.flush()
	}
}

func (c *client) onSnapshot(data []byte) {
	c.snaps++
	arr, ok := snapshotTicks(data)
	if !ok {
		c.bad++
		return
	}
	var t tickFields
	pos := 0
	for {
		el, ok := nextElem(arr, &pos)
		if !ok {
			return
		}
		if !parseTick(el, &t, &c.tc) {
			c.bad++
			continue
		}
		*c.slot(t.symbol) = t.seq
	}
}

// slot returns the previous-seq cell of a symbol.
func (c *client) slot(sym []byte) *uint64 {
	if i, ok := c.r.index[string(sym)]; ok {
		return &c.last[i]
	}
	if p, ok := c.extra[string(sym)]; ok {
		return p
	}
	if c.extra == nil {
		c.extra = make(map[string]*uint64)
	}
	p := new(uint64)
	c.extra[string(sym)] = p
	return p
}

// flush moves the pending counts and latencies into the shard.
func (c *client) flush() {
	c.lastFlush = c.now
	sh := c.sh
	sh.mu.Lock()
	for _, v := range c.lat[:c.nlat] {
		if v < 0 {
			v = 0
		} else if v > maxLatencyUs {
			v = maxLatencyUs
		}
		sh.hist.RecordValue(v)
	}
	if c.slow {
		sh.slowSt.add(&c.st)
	} else {
		sh.st.add(&c.st)
	}
	sh.events += c.st.Events
	sh.winEvents += c.winEvents
	sh.winTicks += c.winTicks
	sh.winOther += c.winOther
	sh.bad += c.bad
	sh.resets += c.resets
	sh.snapshots += c.snaps
	sh.wire += c.wire
	sh.plain += c.plain
	sh.mu.Unlock()
	c.wire, c.plain = 0, 0
	c.nlat = 0
	c.st = seqStats{}
	c.winEvents, c.winTicks, c.winOther, c.bad, c.resets, c.snaps = 0, 0, 0, 0, 0, 0
}

// run reads a connected healthy client until ctx ends, reconnecting (with
// its last event id, as EventSource does) when the gateway closes it.
func (c *client) run(ctx context.Context) {
	defer c.flush()
	for {
		stop := context.AfterFunc(ctx, c.unblock(c.conn))
		err := c.readLoop()
		stop()
		c.conn.Close()
		if ctx.Err() != nil {
			return
		}
		c.r.disconnects.Add(1)
		if c.p.Retry >= 0 {
			c.retry = int32(min(c.p.Retry, 1<<30))
		}
		kill := c.r.stormKill.Load()
		if kill > 0 && c.resumeAt.Load() == 0 {
			if c.awaiting {
				c.r.stormFailed.Add(1) // a reconnect cut before its first event
			}
			c.awaiting = true // the storm's: expected, not an error
		} else {
			c.r.noteErr(fmt.Errorf("client %d: stream ended: %w", c.n, err))
		}
		for {
			delay := c.reconnectDelay()
			if c.awaiting {
				delay = max(delay, time.Until(time.Unix(0, kill).Add(c.r.cfg.Absent)))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			if err := c.dial(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				if c.awaiting {
					c.r.stormFailed.Add(1)
				} else {
					c.r.noteErr(fmt.Errorf("client %d: reconnect: %w", c.n, err))
				}
				continue
			}
			c.r.reconnects.Add(1)
			break
		}
	}
}

// reconnectDelay is how long a client waits before (re)dialing. In storm
// mode it is what EventSource waits: the last retry: the server sent (1s
// if none; at least 10 ms), or Config.ReconnectDelay.
func (c *client) reconnectDelay() time.Duration {
	if c.r.cfg.RestartAt <= 0 {
		delay := 100 * time.Millisecond
		if rt := time.Duration(c.p.Retry) * time.Millisecond; rt > delay {
			delay = min(rt, 5*time.Second)
		}
		return delay
	}
	if d := c.r.cfg.ReconnectDelay; d > 0 {
		return d
	}
	if c.retry < 0 {
		return time.Second
	}
	return max(time.Duration(c.retry)*time.Millisecond, 10*time.Millisecond)
}

// runSlow holds a stalled client's connection unread until drain is
// closed, then reads until deadline to find whether the gateway shed it
// (closed it) in the meantime.
func (c *client) runSlow(ctx context.Context, drain <-chan struct{}, deadline func() time.Time) {
	defer c.flush()
	defer c.conn.Close()
	select {
	case <-ctx.Done():
		return
	case <-drain:
	}
	stop := context.AfterFunc(ctx, c.unblock(c.conn))
	defer stop()
	c.conn.SetReadDeadline(deadline())
	err := c.readHead()
	if err == nil {
		err = c.readLoop()
	}
	var ne net.Error
	switch {
	case ctx.Err() != nil:
	case errors.As(err, &ne) && ne.Timeout():
		// still connected when the drain ended: not shed
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		c.r.shed.Add(1)
	case err != nil:
		c.r.shed.Add(1)
		c.r.noteErr(fmt.Errorf("stalled client %d: %w", c.n, err))
	}
}

// unblock returns a func that makes a blocked Read on conn return.
func (c *client) unblock(conn net.Conn) func() {
	return func() { conn.SetReadDeadline(time.Unix(1, 0)) }
}
