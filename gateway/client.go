package gateway

import (
	"errors"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/market"
)

var (
	errLapped = errors.New("client fell further behind than the ring holds")
	errEpoch  = errors.New("stream epoch ended")
)

// client is one SSE connection. Its goroutine (the HTTP handler's) does
// all the work for it: reads the hub's ring from its cursor, filters,
// merges when needed, and writes; the hub only sets a flag and signals.
type client struct {
	g *Gateway
	h *hub

	all    bool   // every symbol
	symIdx []int  // wanted symbol indexes, when !all
	want   []bool // by symbol index, when !all
	syms   []string

	throttle time.Duration // 0: every tick

	signaled atomic.Bool   // a wake-up is pending
	events   atomic.Uint32 // ev* bits waiting to be handled
	wakeCh   chan struct{} // capacity 1: one pending wake-up; later ones merge into it

	cursor  uint64 // ring position consumed up to
	lastSeq uint64 // sequence in the last id sent

	out       sink
	buf       []byte  // pending output; written when it passes flushSize or the ring is drained
	bufp      *[]byte // buf's pool handle
	lastWrite time.Time
	deadline  time.Time // when the write deadline was last set

	key string     // symbol set as a window cache key (throttled clients)
	acc []mergeAcc // by symbol index, for merging; grown on demand

	// Counts added to the shared Prometheus counters every 64 writes and
	// at the end (shared atomics on every write cost ~5% of CPU).
	nEvents, nBytes, nWrites, wakes int
	active                          []int // symbol indexes with acc[i].n > 0
}

// flushSize is how much output a client gathers before writing it.
const flushSize = 32 << 10

// bufPool holds write buffers between writes, so an idle client holds
// none (a snapshot alone is ~10 KiB) and a busy one allocates none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// grab makes sure c.buf is a pooled buffer (appending to a nil c.buf
// works too; it allocates).
func (c *client) grab() {
	if c.buf == nil {
		c.bufp = bufPool.Get().(*[]byte)
		c.buf = (*c.bufp)[:0]
	}
}

// release returns the written buffer to the pool.
func (c *client) release() {
	if cap(c.buf) <= 2*flushSize {
		if c.bufp == nil {
			c.bufp = new([]byte)
		}
		*c.bufp = c.buf[:0]
		bufPool.Put(c.bufp)
	}
	c.buf, c.bufp = nil, nil
}

func (c *client) wake() {
	if c.signaled.Load() {
		return
	}
	if c.signaled.CompareAndSwap(false, true) {
		select {
		case c.wakeCh <- struct{}{}:
		default:
		}
	}
}

func (c *client) wants(sym int) bool {
	return c.all || sym < len(c.want) && c.want[sym]
}

// pump sends everything the ring holds past the cursor: each tick's
// shared frame, or, when the client is far behind, one merged event per
// symbol.
func (c *client) pump() error {
	head := c.h.head.Load()
	if head <= c.cursor {
		return c.flush() // whatever a resume left in the buffer
	}
	c.grab()
	if c.wakes++; c.wakes%8 == 1 {
		c.g.m.backlog.Observe(float64(head - c.cursor)) // sampled: 1 wake-up in 8
	}
	if head-c.cursor > uint64(c.g.opts.MergeAfter) {
		if err := c.collect(head); err != nil {
			return err
		}
		return c.emitMerged()
	}
	events := 0
	for pos := c.cursor + 1; pos <= head; pos++ {
		e := c.h.at(pos)
		if e == nil {
			return errLapped
		}
		if c.wants(e.sym) {
			c.buf = append(c.buf, e.frame...)
			c.lastSeq = e.seq
			events++
			if len(c.buf) >= flushSize {
				c.cursor = pos
				c.nEvents += events
				events = 0
				if err := c.flush(); err != nil {
					return err
				}
			}
		}
	}
	c.cursor = head
	c.nEvents += events
	return c.flush()
}

// mergeAcc accumulates one symbol's pending ticks.
type mergeAcc struct {
	n         int64 // ticks
	firstSeq  uint64
	last      market.Tick
	high, low float64
	size      int64
}

func (a *mergeAcc) add(seq uint64, t *market.Tick) {
	n := t.Merged
	if n < 1 {
		n = 1
	}
	hi, lo := t.Price, t.Price
	if t.Merged > 0 {
		hi, lo = max(t.High, t.Price), min(t.Low, t.Price)
	}
	if a.n == 0 {
		a.firstSeq, a.high, a.low, a.size = seq, hi, lo, 0
	}
	a.n += n
	a.last = *t
	a.high, a.low = max(a.high, hi), min(a.low, lo)
	a.size += t.Size
}

// tick returns the merged tick: the newest tick's fields, plus merged,
// high, low and the summed size when it stands for more than one.
func (a *mergeAcc) tick() market.Tick {
	t := a.last
	if a.n >= 2 {
		t.Merged, t.High, t.Low, t.Size = a.n, a.high, a.low, a.size
	}
	return t
}

// collect folds the ring's entries up to head into the accumulators.
func (c *client) collect(head uint64) error {
	for pos := c.cursor + 1; pos <= head; pos++ {
		e := c.h.at(pos)
		if e == nil {
			return errLapped
		}
		if c.wants(e.sym) {
			c.fold(e.sym, e.seq, &e.tick)
		}
	}
	if head > c.cursor {
		if e := c.h.at(head); e != nil {
			c.cursor = head
			c.lastSeq = max(c.lastSeq, e.seq)
		}
	}
	return nil
}

// fold adds a tick of symbol index sym to its accumulator.
func (c *client) fold(sym int, seq uint64, t *market.Tick) {
	if sym >= len(c.acc) {
		c.acc = append(c.acc, make([]mergeAcc, sym+1-len(c.acc))...)
	}
	a := &c.acc[sym]
	if a.n == 0 {
		c.active = append(c.active, sym)
	}
	a.add(seq, t)
}

// emitMerged writes one event per symbol with pending ticks. Events go in
// order of their first pending tick, and each carries as id the sequence
// just before the first pending tick of the symbols still to come (the
// last carries the position read up to), so any id the client holds is a
// cursor from which a resume loses nothing.
func (c *client) emitMerged() error {
	if len(c.active) == 0 {
		return nil
	}
	c.grab()
	c.encodeMerged()
	return c.flush()
}

// encodeMerged appends the merged events (see emitMerged) to c.buf and
// clears the accumulators; it returns how many events and ticks.
func (c *client) encodeMerged() (events, merged int) {
	sort.Slice(c.active, func(i, j int) bool { return c.acc[c.active[i]].firstSeq < c.acc[c.active[j]].firstSeq })
	var js []byte
	for k, sym := range c.active {
		a := &c.acc[sym]
		id := c.lastSeq
		if k+1 < len(c.active) {
			id = c.acc[c.active[k+1]].firstSeq - 1
		}
		t := a.tick()
		if a.n >= 2 {
			merged += int(a.n)
		}
		js = t.AppendJSON(js[:0])
		c.buf = appendTickEvent(c.buf, c.h.epoch, id, js)
		*a = mergeAcc{}
	}
	events = len(c.active)
	c.nEvents += events
	c.g.m.mergedTicks.Add(float64(merged))
	c.active = c.active[:0]
	return events, merged
}

// flush writes the pending output and flushes it to the network, under
// the write timeout.
func (c *client) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	now := time.Now()
	// Refreshing the deadline costs a timer update, so it is refreshed
	// only every tenth of the timeout (at most every second): a write is
	// cut after at least 90% of WriteTimeout.
	if now.Sub(c.deadline) > min(time.Second, c.g.opts.WriteTimeout/10) {
		_ = c.out.SetWriteDeadline(now.Add(c.g.opts.WriteTimeout))
		c.deadline = now
	}
	err := c.out.write(c.buf)
	if time.Since(now) > 100*time.Millisecond {
		c.g.m.stalls.Inc()
	}
	c.nBytes += len(c.buf)
	if c.nWrites++; c.nWrites >= 64 {
		c.flushCounts()
	}
	c.release()
	c.lastWrite = now
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.g.m.shed.WithLabelValues("write_timeout").Inc()
		}
		return err
	}
	return nil
}

// flushCounts adds the client's pending counts to the gateway's metrics.
func (c *client) flushCounts() {
	c.g.m.events.Add(float64(c.nEvents))
	c.g.m.bytes.Add(float64(c.nBytes))
	c.g.m.writes.Add(float64(c.nWrites))
	c.nEvents, c.nBytes, c.nWrites = 0, 0, 0
}
