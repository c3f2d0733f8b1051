package gateway

import (
	"errors"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
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
//
// It is 96 bytes, one per idle stream: the poller's connection is c.pc,
// the end is the stream's held (its finish runs what serve would have
// deferred; a method value would cost 16 bytes more), and the moment the
// socket became full is Unix ns.
type loopState struct {
	w  *worker
	hd *held // hd.finish runs what serve would have deferred

	blocked  atomic.Bool // waiting for EPOLLOUT; ticks do not wake it
	finished bool
	since    int64       // when the socket became full, Unix ns; 0: it is not
	wtimer   *time.Timer // write timeout while blocked

	machine machine // the client's (client.machine points here)
}

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

// startLoop hands c over to a worker. hd.finish runs, on the worker,
// once the stream is over.
//
// From here on the stream's bytes go through pc alone, so pc takes the
// connection's descriptor for its own (Detach) and the net.TCPConn the
// handler hijacked is closed: the runtime's state for the connection
// (its poll descriptor, 512 bytes the runtime keeps for reuse and never
// returns, the netFD and addresses, ~0.8 KiB in all) is released for
// the stream's life instead of held beside the poller's. If Detach
// fails (no descriptor left for the duplicate) the stream goes on with
// the net.TCPConn.
func (g *Gateway) startLoop(c *client, hd *held) {
	if c.pc.Detach() == nil {
		c.out = pollSink{c.pc}
	}
	c.lp = &loopState{w: pickWorker(), hd: hd}
	c.machine = &c.lp.machine
	c.lpa.Store(c.lp)
	c.startClock()
	c.signaled.Store(true)
	c.lp.w.push(c)
}

// step drives one turn of the client's state machine (machine.go) on
// its worker, without waiting.
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
		if !c.pc.ArmOut() {
			c.finish(nil) // the client is gone
			return
		}
		if lp.since == 0 {
			lp.since = time.Now().UnixNano()
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

// blockedTurn is the part of a turn only the event loop has: while the
// socket is full the client waits for EPOLLOUT (wait), and it is shed
// when nothing drains for WriteTimeout.
func (lp *loopState) blockedTurn(c *client, ev uint32) (wait bool, err error) {
	if !lp.blocked.Load() {
		return false, nil
	}
	if ev&evWritable == 0 {
		if lp.since != 0 && time.Since(time.Unix(0, lp.since)) >= c.g.opts.WriteTimeout {
			c.g.m.shed.WithLabelValues("write_timeout").Inc()
			return true, errEnded
		}
		return true, nil // still full: wait for EPOLLOUT
	}
	lp.blocked.Store(false)
	return false, nil
}

// flushNB is flush on the loop: it writes what the socket takes and
// keeps the rest in c.buf (errBlocked).
func (c *client) flushNB() error {
	if len(c.buf) == 0 {
		return nil
	}
	n, err := c.pc.Write(c.buf)
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
	if c.lp.since != 0 {
		if now.Sub(time.Unix(0, c.lp.since)) > 100*time.Millisecond {
			c.g.m.stalls.Inc()
		}
		c.lp.since = 0
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
	if lp.wtimer != nil {
		lp.wtimer.Stop()
	}
	c.stopTimers()
	switch {
	case errors.Is(err, errLapped):
		c.g.m.shed.WithLabelValues("lapped").Inc()
	case errors.Is(err, errEpoch):
		c.g.log.Info("ending a stream of a finished epoch")
	}
	if c.buf != nil {
		c.release()
	}
	lp.hd.finish()
}
