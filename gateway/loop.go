package gateway

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/gateway/internal/poll"
)

// The event loop: HTTP/1.1 streams on a hijacked TCP connection, not
// compressed, are served without a goroutine of their own. A few fan-out
// workers (one per core, shared by every Gateway of the process) run a
// client's step when it is woken (new ticks, its events, its socket
// draining); a step writes without blocking (poll.Conn.Write). A client whose
// socket is full keeps the unsent rest in its buffer, asks the poller for
// EPOLLOUT and is not woken by ticks until the socket drains; the ticks it
// missed meanwhile are merged per symbol as on the goroutine path (pump),
// and it is shed when nothing drains for WriteTimeout.

// errBlocked: the socket took only part of a write; the rest waits in
// c.buf for the socket to drain.
var errBlocked = errors.New("socket full")

// loopState is a client's state on the event loop; only its worker
// touches it (after the serving goroutine hands the client over).
type loopState struct {
	w   *worker
	pc  *poll.Conn
	end func() // runs what serve would have deferred

	blocked  atomic.Bool // waiting for EPOLLOUT; ticks do not wake it
	since    time.Time   // when the socket became full
	wtimer   *time.Timer // write timeout while blocked
	ftimer   *time.Timer // --flush-interval: the next write
	fpending bool        // ftimer is armed
	clockDue bool        // ttimer fired; its work is not done yet
	ttimer   *time.Timer // throttled clients: their clock
	next     time.Time   // throttled clients: the window's end
	leave    *time.Timer // shutdown: the moment to leave
	finished bool
}

// Events of the loop only.
const (
	evWritable     = 1 << (iota + 8) // the socket drained
	evWriteTimeout                   // check whether the write timeout passed
	evFlush                          // the flush interval is over
	evClock                          // a throttled client's clock
)

type worker struct {
	mu  sync.Mutex
	q   []*client // bound: each client at most once (client.signaled), so at most the clients
	sig chan struct{}
}

var (
	workersOnce sync.Once
	workers     []*worker
	workerNext  atomic.Uint32
)

// pickWorker returns a worker, round robin, starting them on first use:
// GOMAXPROCS goroutines for the process's life, as the poller's.
func pickWorker() *worker {
	workersOnce.Do(func() {
		n := max(runtime.GOMAXPROCS(0), 1)
		for range n {
			w := &worker{sig: make(chan struct{}, 1)}
			workers = append(workers, w)
			go w.run()
		}
	})
	return workers[int(workerNext.Add(1))%len(workers)]
}

func (w *worker) push(c *client) {
	w.mu.Lock()
	w.q = append(w.q, c)
	w.mu.Unlock()
	select {
	case w.sig <- struct{}{}:
	default:
	}
}

func (w *worker) run() {
	var batch []*client
	for range w.sig {
		w.mu.Lock()
		batch, w.q = w.q, batch[:0]
		w.mu.Unlock()
		for _, c := range batch {
			c.step()
		}
		clear(batch)
	}
}

// sweepLoop notifies ev to every live stream bound for the event loop,
// of hub h (nil: of any). Such streams hold no callbacks of their own on
// the gateway's shutdown and their epoch's end (two context.AfterFuncs
// and their closures, ~400 bytes a stream): one sweep each reaches them
// all (registered in New and runEpoch); track tells a stream that
// starts after its sweep.
func (g *Gateway) sweepLoop(h *hub, ev uint32) {
	g.liveMu.Lock()
	defer g.liveMu.Unlock()
	for c := range g.live {
		if c.pc != nil && (h == nil || c.h == h) {
			c.notify(ev)
		}
	}
}

// startLoop hands c over to a worker. end runs, on the worker, once the
// stream is over.
func (g *Gateway) startLoop(c *client, pc *poll.Conn, end func()) {
	c.lp = &loopState{w: pickWorker(), pc: pc, end: end}
	c.lpa.Store(c.lp)
	if c.throttle > 0 {
		now := time.Now()
		c.lp.next = nextBoundary(now, c.throttle)
		c.lp.ttimer = time.AfterFunc(min(c.lp.next.Sub(now), 250*time.Millisecond), func() { c.notify(evClock) })
	}
	c.signaled.Store(true)
	c.lp.w.push(c)
}

// step is one turn of the client on its worker: the loop body of run,
// without waiting.
func (c *client) step() {
	lp := c.lp
	if lp.finished {
		return
	}
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil && p != http.ErrAbortHandler {
				c.g.log.Error("stream panicked; ended it", "panic", p, "stack", string(debug.Stack()))
				err = errEnded
			}
		}()
		c.signaled.Store(false)
		err = c.turn()
	}()
	switch {
	case err == nil:
	case errors.Is(err, errBlocked):
		if !lp.pc.ArmOut() {
			c.finish(nil) // the client is gone
			return
		}
		if lp.since.IsZero() {
			lp.since = time.Now()
			if lp.wtimer == nil {
				lp.wtimer = time.AfterFunc(c.g.opts.WriteTimeout, func() { c.notify(evWriteTimeout) })
			} else {
				lp.wtimer.Reset(c.g.opts.WriteTimeout)
			}
		}
		lp.blocked.Store(true)
	default:
		c.finish(err)
	}
}

// errEnded ends a stream with nothing more to say about it.
var errEnded = errors.New("stream ended")

func (c *client) turn() error {
	lp := c.lp
	ev := c.events.Swap(0)
	switch {
	case ev&evGone != 0:
		return errEnded
	case ev&evEpoch != 0:
		c.buf = c.g.appendSpreadRetry(c.buf) // no stampede (catchup.go)
		_ = c.flush()
		return errEpoch
	case ev&evLeave != 0:
		c.appendLeaveRetry()
		_ = c.flush()
		return errEnded
	}
	// Timers that fired while the socket was full are remembered, so
	// their work is done once it drains.
	if ev&evFlush != 0 {
		lp.fpending = false
	}
	if ev&evClock != 0 {
		lp.clockDue = true
	}
	if ev&evShutdown != 0 && lp.leave == nil {
		lp.leave = time.AfterFunc(rand.N(c.g.opts.ShutdownSpread), func() { c.notify(evLeave) })
	}
	if lp.blocked.Load() {
		if ev&evWritable == 0 {
			if !lp.since.IsZero() && time.Since(lp.since) >= c.g.opts.WriteTimeout {
				c.g.m.shed.WithLabelValues("write_timeout").Inc()
				return errEnded
			}
			return nil // still full: wait for EPOLLOUT
		}
		lp.blocked.Store(false)
	}
	if len(c.buf) > 0 {
		if err := c.flush(); err != nil { // the rest of a write the socket did not take
			return err
		}
	}
	if ev&evHeartbeat != 0 && time.Since(c.lastWrite) >= c.g.opts.Heartbeat*2/3 {
		c.buf = append(c.buf, ":\n\n"...)
		if err := c.flush(); err != nil {
			return err
		}
	}
	if d := c.g.opts.FlushInterval; d > 0 && c.throttle == 0 {
		// Lossless coalescing: at most one write per d; what comes
		// meanwhile waits for the timer, never longer than d.
		if wait := d - time.Since(c.lastWrite); wait > 0 {
			if !lp.fpending {
				lp.fpending = true
				if lp.ftimer == nil {
					lp.ftimer = time.AfterFunc(wait, func() { c.notify(evFlush) })
				} else {
					lp.ftimer.Reset(wait)
				}
			}
			return nil
		}
	}
	if c.throttle > 0 {
		if !lp.clockDue {
			return nil
		}
		lp.clockDue = false
		var err error
		now := time.Now()
		if !now.Before(lp.next) {
			err = c.emitWindow(lp.next)
			lp.next = nextBoundary(now, c.throttle)
		} else if head := c.h.head.Load(); head-c.cursor > uint64(len(c.h.ring)/4) {
			err = c.collect(head)
		}
		lp.ttimer.Reset(min(time.Until(lp.next), 250*time.Millisecond))
		return err
	}
	return c.pump()
}

// flushNB is flush on the loop: it writes what the socket takes and
// keeps the rest in c.buf (errBlocked).
func (c *client) flushNB() error {
	if len(c.buf) == 0 {
		return nil
	}
	n, err := c.lp.pc.Write(c.buf)
	c.nBytes += n
	if err != nil {
		c.release()
		return err
	}
	now := time.Now()
	if n < len(c.buf) {
		rest := copy(c.buf, c.buf[n:])
		c.buf = c.buf[:rest]
		if n > 0 {
			c.lastWrite = now
		}
		return errBlocked
	}
	if !c.lp.since.IsZero() {
		if now.Sub(c.lp.since) > 100*time.Millisecond {
			c.g.m.stalls.Inc()
		}
		c.lp.since = time.Time{}
		c.lp.wtimer.Stop()
	}
	if c.nWrites++; c.nWrites >= 64 {
		c.flushCounts()
	}
	c.release()
	c.lastWrite = now
	return nil
}

// finish ends a client on the loop: what serve defers, in its order.
func (c *client) finish(err error) {
	lp := c.lp
	lp.finished = true
	for _, t := range []*time.Timer{lp.wtimer, lp.ftimer, lp.ttimer, lp.leave} {
		if t != nil {
			t.Stop()
		}
	}
	switch {
	case errors.Is(err, errLapped):
		c.g.m.shed.WithLabelValues("lapped").Inc()
	case errors.Is(err, errEpoch):
		c.g.log.Info("ending a stream of a finished epoch")
	}
	if c.buf != nil {
		c.release()
	}
	lp.end()
}
