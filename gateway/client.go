package gateway

import (
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/gateway/internal/poll"
)

var (
	errLapped = errors.New("client fell further behind than the ring holds")
	errEpoch  = errors.New("stream epoch ended")
)

// client is one SSE connection: its parts, each with one job, embedded
// by value (their fields are the client's; no call through an
// interface on the delivery path). Its goroutine, or its event-loop
// worker, does all the work for it: reads the hub's ring from its
// cursor, filters, merges when needed, and writes; the hub only sets a
// flag and signals.
type client struct {
	g *Gateway
	h *hub

	filter   // what it wants
	wakeup   // how it is woken
	position // where it is in the ring
	output   // what it writes, and where
	merger   // what it has folded and not yet sent (merge.go, events.go, book.go)
	*machine // its turns' timers (machine.go): in its loopState on the event loop, set when the stream starts

	throttle time.Duration // 0: every message
	key      string        // symbol set as a window cache key (throttled clients, window.go)

	// On the event loop (loop.go): lp, set before the hand-over, is the
	// worker's; wakeup.lpa is the same pointer for wake and notify, which
	// run anywhere. Both nil on the goroutine path.
	lp *loopState
	pc *poll.Conn // the poller's connection, when the loop may serve it
}

// filter is what a client wants: its symbols and its event types. A
// filter alone (hub.newFilter) also picks a snapshot's symbols.
type filter struct {
	all    bool   // every symbol
	kinds  uint8  // the event types it wants (k* bits, events.go)
	symIdx []int  // wanted symbol indexes, when !all
	want   []bool // by symbol index, when !all
	// symLast: the hub's chain heads of symIdx's symbols (hub.symLast),
	// when !all.
	symLast []*atomic.Uint64
}

func (f *filter) wants(sym int) bool {
	return f.all || sym < len(f.want) && f.want[sym]
}

// wakeup is how a client is woken: a flag, so that a burst of messages
// wakes it once, the events waiting for its next turn, and where the
// wake-up goes (its channel on the goroutine path, its worker's queue
// on the event loop).
type wakeup struct {
	signaled atomic.Bool   // a wake-up is pending
	events   atomic.Uint32 // ev* bits waiting to be handled (machine.go)
	wakeCh   chan struct{} // capacity 1: one pending wake-up; later ones merge into it
	lpa      atomic.Pointer[loopState]
}

// position is where a client is in the ring.
type position struct {
	cursor  uint64   // ring position consumed up to
	lastSeq uint64   // sequence in the last id sent
	pend    []uint64 // scratch for pending: at most MergeAfter+1 positions
	wakes   int      // wake-ups with something to read (the backlog metric samples them)
}

// output is what a client has to write and where it writes it, with
// the counts it adds to the shared Prometheus counters every 64 writes
// and at the end (shared atomics on every write cost ~5% of CPU).
type output struct {
	out                      sink
	buf                      []byte  // pending output; written when it passes flushSize or the ring is drained
	bufp                     *[]byte // buf's pool handle
	lastWrite                time.Time
	deadline                 int64 // when the write deadline was last set, Unix ns
	nEvents, nBytes, nWrites int
}

// merger holds what a client has folded and not yet sent: ticks, trades
// and quotes by symbol index, books (with the depth it wants), and the
// bars, status and clock events kept whole.
type merger struct {
	acc              []mergeAcc // ticks by symbol index; grown on demand
	active           []int      // symbol indexes with acc[i].n > 0
	tacc             []mergeAcc // trades
	qacc             []quoteAcc
	tactive, qactive []int
	keep             []*entry
	bk               bookMerge // books: depth and merging (book.go)
	items            []mitem   // scratch for mergeItems
}

// flushSize is how much output a client gathers before writing it.
const flushSize = 32 << 10

// bufFree holds write buffers between writes, so an idle client holds
// none (a snapshot alone is ~10 KiB) and a busy one allocates none. It
// is a channel, not a sync.Pool: every garbage collection empties a
// pool, and at a million deliveries a second (a collection every few
// milliseconds) refilling it, and growing each fresh 4 KiB buffer to
// the 32 KiB a write takes, was most of what the gateway allocated, and
// so most of the collections (BENCHMARKS.md, issue 23, session 7).
// Its bound (64 buffers, at most 4 MiB) is far above what is in use at
// once (one per event-loop worker, one per goroutine-path stream
// writing); buffers beyond it are left to the collector.
var bufFree = make(chan *[]byte, 64)

// getBuf returns a free write buffer, empty.
func getBuf() *[]byte {
	select {
	case b := <-bufFree:
		return b
	default:
		b := make([]byte, 0, 4096)
		return &b
	}
}

// putBuf keeps b for reuse, unless it grew past twice flushSize (a
// large snapshot) or enough are kept.
func putBuf(bp *[]byte, b []byte) {
	if cap(b) > 2*flushSize {
		return
	}
	if bp == nil {
		bp = new([]byte)
	}
	*bp = b[:0]
	select {
	case bufFree <- bp:
	default:
	}
}

// grab makes sure c.buf is a pooled buffer (appending to a nil c.buf
// works too; it allocates).
func (o *output) grab() {
	if o.buf == nil {
		o.bufp = getBuf()
		o.buf = (*o.bufp)[:0]
	}
}

// release returns the written buffer to the pool.
func (o *output) release() {
	putBuf(o.bufp, o.buf)
	o.buf, o.bufp = nil, nil
}

func (c *client) wake() {
	if c.signaled.Load() {
		return
	}
	if lp := c.lpa.Load(); lp != nil {
		if !lp.blocked.Load() && c.signaled.CompareAndSwap(false, true) {
			lp.w.push(c)
		}
		return
	}
	if c.signaled.CompareAndSwap(false, true) {
		select {
		case c.wakeCh <- struct{}{}:
		default:
		}
	}
}

// notify records events and makes sure the client wakes up to see them.
func (c *client) notify(ev uint32) {
	c.events.Or(ev)
	if lp := c.lpa.Load(); lp != nil {
		if !c.signaled.Swap(true) {
			lp.w.push(c)
		}
		return
	}
	c.signaled.Store(true)
	select {
	case c.wakeCh <- struct{}{}:
	default:
	}
}

// flush writes the pending output and flushes it to the network, under
// the write timeout.
func (c *client) flush() error {
	if c.lp != nil {
		return c.flushNB()
	}
	if len(c.buf) == 0 {
		return nil
	}
	now := time.Now()
	// Refreshing the deadline costs a timer update, so it is refreshed
	// only every tenth of the timeout (at most every second): a write is
	// cut after at least 90% of WriteTimeout.
	if time.Duration(now.UnixNano()-c.deadline) > min(time.Second, c.g.opts.WriteTimeout/10) {
		_ = c.out.SetWriteDeadline(now.Add(c.g.opts.WriteTimeout))
		c.deadline = now.UnixNano()
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

// appendLeaveRetry appends the retry: a stream leaves with on Shutdown,
// after a complete event: Retry plus 1ms to ShutdownSpread, jittered, in
// whole milliseconds (never Retry itself), so clients do not come back
// all at once.
func (c *client) appendLeaveRetry() {
	c.buf = append(c.buf, "retry: "...)
	c.buf = strconv.AppendInt(c.buf, c.g.opts.Retry.Milliseconds()+1+rand.Int64N(max(c.g.opts.ShutdownSpread.Milliseconds(), 1)), 10)
	c.buf = append(c.buf, "\n\n"...)
}
