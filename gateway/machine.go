package gateway

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// A client's state machine: every rule of a stream's life after its
// start (gone, the epoch's end, leaving, shutdown, heartbeat, the flush
// interval, the throttle clock, the token's expiry) is written once, in
// turn. Two drivers run it: run, on the stream's own goroutine (HTTP/2,
// compressed streams, --event-loop=false), which waits on c.wakeCh; and
// step, on an event-loop worker (loop.go), which the worker calls when
// the client is woken and which writes without blocking. They differ
// only in how they wait and write; what happens on each event is here.

// Events other than new messages, set in client.events by whoever
// notices them (context callbacks, sweeps, timers, the poller); the
// client acts on them at its next turn.
const (
	evGone         = 1 << iota // the request's context ended: client gone
	evEpoch                    // the hub's epoch is over
	evShutdown                 // the gateway is shutting down
	evLeave                    // this client's moment to leave has come (shutdown spread, token expiry)
	evHeartbeat                // time to check whether a comment is due
	evFlush                    // --flush-interval: the next write is due
	evClock                    // a throttled client's clock
	evWritable                 // the event loop: the socket drained
	evWriteTimeout             // the event loop: check whether the write timeout passed
)

// errEnded ends a stream with nothing more to say about it.
var errEnded = errors.New("stream ended")

// machine is the state of a client's turns: its timers, each of which
// only notifies an event. It is not in the client itself: a stream on
// the event loop keeps it in its loopState (so an idle stream's two
// allocations stay within the size classes they had), one on its own
// goroutine gets one when run starts.
type machine struct {
	ftimer   *time.Timer // --flush-interval: the next write
	ttimer   *time.Timer // throttled clients: their clock
	leave    *time.Timer // shutdown: the moment to leave
	next     time.Time   // throttled clients: the window's end
	fpending bool        // ftimer is armed
	clockDue bool        // ttimer fired; its work is not done yet
}

// startClock starts a throttled client's clock; the first turn comes at
// once either way.
func (c *client) startClock() {
	if c.throttle > 0 {
		now := time.Now()
		c.next = nextBoundary(now, c.throttle)
		c.ttimer = time.AfterFunc(min(c.next.Sub(now), 250*time.Millisecond), func() { c.notify(evClock) })
	}
}

// stopTimers stops the machine's timers at the stream's end.
func (c *client) stopTimers() {
	for _, t := range []*time.Timer{c.ftimer, c.ttimer, c.leave} {
		if t != nil {
			t.Stop()
		}
	}
}

// turn is one turn of the state machine: it acts on the events noticed
// since the last one, then sends what is due. A non-nil error ends the
// stream (errBlocked, on the event loop, only waits for the socket).
func (c *client) turn() error {
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
		c.fpending = false
	}
	if ev&evClock != 0 {
		c.clockDue = true
	}
	if ev&evShutdown != 0 && c.leave == nil {
		// Leave at a random moment within the spread: clients do not
		// all reconnect at once.
		c.leave = time.AfterFunc(rand.N(c.g.opts.ShutdownSpread), func() { c.notify(evLeave) })
	}
	if c.lp != nil {
		if wait, err := c.lp.blockedTurn(c, ev); wait || err != nil {
			return err
		}
	}
	if len(c.buf) > 0 {
		// What a start left, or the rest of a write the socket did not
		// take.
		if err := c.flush(); err != nil {
			return err
		}
	}
	if ev&evHeartbeat != 0 && time.Since(c.lastWrite) >= c.g.opts.Heartbeat*2/3 {
		c.buf = append(c.buf, ":\n\n"...)
		if err := c.flush(); err != nil {
			return err
		}
	}
	if c.throttle > 0 {
		return c.clockTurn()
	}
	if d := c.g.opts.FlushInterval; d > 0 {
		// Lossless coalescing: at most one write per d; what comes
		// meanwhile waits for the timer, never longer than d.
		if wait := d - time.Since(c.lastWrite); wait > 0 {
			if !c.fpending {
				c.fpending = true
				if c.ftimer == nil {
					c.ftimer = time.AfterFunc(wait, func() { c.notify(evFlush) })
				} else {
					c.ftimer.Reset(wait)
				}
			}
			return nil
		}
	}
	return c.pump()
}

// clockTurn is a throttled client's turn: at its window's end it sends
// the window; within a long window, far behind, it folds what it has
// pending, so the ring cannot lap its cursor.
func (c *client) clockTurn() error {
	if !c.clockDue {
		return nil
	}
	c.clockDue = false
	var err error
	now := time.Now()
	if !now.Before(c.next) {
		err = c.emitWindow(c.next)
		c.next = nextBoundary(now, c.throttle)
	} else if head := c.h.head.Load(); head-c.cursor > uint64(len(c.h.ring)/4) {
		err = c.collect(head)
	}
	c.ttimer.Reset(min(time.Until(c.next), 250*time.Millisecond))
	return err
}

// run drives the state machine on the stream's own goroutine until the
// stream ends. It waits on one channel: wake-ups from the hub, and from
// context callbacks, the heartbeat sweep and the timers, which set
// c.events first (one channel is far cheaper to wait on than a select
// over six).
func (c *client) run(ctx context.Context) error {
	defer context.AfterFunc(ctx, func() { c.notify(evGone) })()
	defer context.AfterFunc(c.g.shutdownCtx, func() { c.notify(evShutdown) })()
	defer context.AfterFunc(c.h.ctx, func() { c.notify(evEpoch) })()
	c.machine = new(machine)
	c.startClock()
	defer c.stopTimers()
	for {
		if err := c.turn(); err != nil {
			return err
		}
		<-c.wakeCh
		c.signaled.Store(false)
	}
}
