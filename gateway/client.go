package gateway

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/gateway/internal/poll"
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
	// symLast: the hub's chain heads of symIdx's symbols (hub.symLast),
	// when !all. pend: scratch for pending, at most MergeAfter+1 positions.
	symLast []*atomic.Uint64
	pend    []uint64

	throttle time.Duration // 0: every tick
	kinds    uint8         // the event types it wants (k* bits, events.go)

	signaled atomic.Bool   // a wake-up is pending
	events   atomic.Uint32 // ev* bits waiting to be handled
	wakeCh   chan struct{} // capacity 1: one pending wake-up; later ones merge into it

	cursor  uint64 // ring position consumed up to
	lastSeq uint64 // sequence in the last id sent

	out       sink
	buf       []byte  // pending output; written when it passes flushSize or the ring is drained
	bufp      *[]byte // buf's pool handle
	lastWrite time.Time
	deadline  int64 // when the write deadline was last set, Unix ns

	key string     // symbol set as a window cache key (throttled clients)
	acc []mergeAcc // by symbol index, for merging; grown on demand
	// Merging of the other types (events.go): trades and quotes by
	// symbol index, and the bars, status and clock events kept whole.
	tacc             []mergeAcc
	qacc             []quoteAcc
	tactive, qactive []int
	keep             []*entry
	bk               bookMerge // books: depth and merging (book.go)
	items            []mitem   // scratch for encodeMerged

	// Counts added to the shared Prometheus counters every 64 writes and
	// at the end (shared atomics on every write cost ~5% of CPU).
	nEvents, nBytes, nWrites, wakes int
	active                          []int // symbol indexes with acc[i].n > 0

	// On the event loop (loop.go): lp, set before the hand-over, is the
	// worker's; lpa is the same pointer for wake and notify, which run
	// anywhere. Both nil on the goroutine path.
	lp  *loopState
	lpa atomic.Pointer[loopState]
	pc  *poll.Conn // the poller's connection, when the loop may serve it
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

func (c *client) wants(sym int) bool {
	return c.all || sym < len(c.want) && c.want[sym]
}

// Events other than new ticks, set in client.events by whoever notices
// them; the client's loop acts on them after its next wake-up.
const (
	evGone      = 1 << iota // the request's context ended: client gone
	evEpoch                 // the hub's epoch is over
	evShutdown              // the gateway is shutting down
	evLeave                 // this client's moment to leave has come
	evHeartbeat             // time to check whether a comment is due
)

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

// run is the client's loop. It waits on one channel: wake-ups from the
// hub, and from context callbacks, the heartbeat sweep and timers, which
// set c.events first (one channel is far cheaper to wait on than a
// select over six). Throttled clients also wait on their clock.
func (c *client) run(ctx context.Context) error {
	defer context.AfterFunc(ctx, func() { c.notify(evGone) })()
	defer context.AfterFunc(c.g.shutdownCtx, func() { c.notify(evShutdown) })()
	defer context.AfterFunc(c.h.ctx, func() { c.notify(evEpoch) })()
	var timer *time.Timer
	var timerC <-chan time.Time
	var next time.Time
	if c.throttle > 0 {
		now := time.Now()
		next = nextBoundary(now, c.throttle)
		timer = time.NewTimer(min(next.Sub(now), 250*time.Millisecond))
		defer timer.Stop()
		timerC = timer.C
	} else if err := c.pump(); err != nil {
		return err
	}
	for {
		var err error
		if timerC == nil {
			<-c.wakeCh
		} else {
			select {
			case <-c.wakeCh:
			case now := <-timerC:
				if !now.Before(next) {
					err = c.emitWindow(next)
					next = nextBoundary(now, c.throttle)
				} else if head := c.h.head.Load(); head-c.cursor > uint64(len(c.h.ring)/4) {
					// Far behind within a long window: fold now, so the
					// ring cannot lap the cursor.
					err = c.collect(head)
				}
				timer.Reset(min(time.Until(next), 250*time.Millisecond))
				if err != nil {
					return err
				}
				continue
			}
		}
		c.signaled.Store(false)
		if ev := c.events.Swap(0); ev != 0 {
			switch {
			case ev&evGone != 0:
				return nil
			case ev&evEpoch != 0:
				c.buf = c.g.appendSpreadRetry(c.buf) // no stampede (catchup.go)
				_ = c.flush()
				return errEpoch
			case ev&evLeave != 0:
				c.appendLeaveRetry()
				return c.flush()
			}
			if ev&evShutdown != 0 {
				// Leave at a random moment within the spread: clients
				// do not all reconnect at once.
				t := time.AfterFunc(rand.N(c.g.opts.ShutdownSpread), func() { c.notify(evLeave) })
				defer t.Stop()
			}
			if ev&evHeartbeat != 0 && time.Since(c.lastWrite) >= c.g.opts.Heartbeat*2/3 {
				c.buf = append(c.buf, ":\n\n"...)
				if err := c.flush(); err != nil {
					return err
				}
			}
		}
		if c.throttle == 0 {
			if d := c.g.opts.FlushInterval; d > 0 {
				// Lossless coalescing: at most one write per d.
				if wait := d - time.Since(c.lastWrite); wait > 0 {
					time.Sleep(wait)
				}
			}
			err = c.pump()
		}
		if err != nil {
			return err
		}
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
