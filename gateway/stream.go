package gateway

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/tickcast/tickcast/gateway/access"
	"github.com/tickcast/tickcast/httpapi"
)

// testHookRun, set by tests only, runs in serve just before a stream's
// loop starts.
var testHookRun func(*client)

// handleStream serves GET /v1/stream.
func (g *Gateway) handleStream(w http.ResponseWriter, r *http.Request) {
	q, err := parseStreamQuery(r)
	if err != nil {
		g.m.rejected.WithLabelValues("bad_request").Inc()
		g.writeError(w, r, err)
		return
	}
	var ok bool
	if q.syms, ok = g.scope(w, r, q.syms); !ok {
		return
	}
	// hd is what this stream holds, let go in reverse order (release)
	// when it ends, in whichever goroutine serves it, or now if it is
	// not admitted.
	hd := &held{g: g}
	h, idx, reason, err := g.admitStream(r, hd, q.syms)
	if reason != "" || err != nil {
		hd.release()
		if reason != "" {
			g.turnAway(w, r, reason)
		} else {
			g.m.rejected.WithLabelValues("bad_request").Inc()
			g.writeError(w, r, err)
		}
		return
	}
	kinds := q.kinds
	if kinds&kStatus != 0 && len(idx) > 0 {
		idx = append(idx, h.clockIndex()) // the clock comes with status
	}
	c := &client{g: g, h: h, filter: h.newFilter(idx, kinds), throttle: q.throttle}
	c.bk.depth = q.depth
	// The stream's own context: ended when the client goes away, and
	// during its start also when the gateway shuts down or the epoch
	// ends (serve). Of the request's values it keeps only the access
	// grant (endAtExpiry), so the request's contexts (net/http's, chi's
	// route context) are freed once the connection is hijacked.
	base := context.Background()
	if gr := access.GrantOf(r.Context()); gr != nil {
		base = access.WithGrant(base, gr)
	}
	ctx, cancel := context.WithCancelCause(base)
	hd.cancel = cancel
	enc := g.encoding(w, r) // compress.go
	// Only the goroutine path waits on a wake channel; a stream on the
	// event loop is woken by its worker's queue and holds none.
	onGoroutine := func() { c.wakeCh = make(chan struct{}, 1) }
	if r.ProtoMajor != 1 || enc != "" || g.opts.NoEventLoop {
		onGoroutine()
		onGoroutine = func() {}
	}
	hd.cl = c
	out, done, pc, hijacked, err := openSink(w, r, hd, onGoroutine)
	if err != nil {
		hd.release()
		g.log.Debug("stream open failed", "err", err)
		return
	}
	if pc != nil && (enc != "" || g.opts.NoEventLoop) {
		done = pc.End
		pc = nil // compressed streams keep the goroutine path
	}
	out, done = g.compressSink(enc, out, done)
	hd.sinkEnd = done // nil for a stream bound for the event loop: release ends c.pc
	c.out = out
	c.pc = pc
	if hijacked {
		// The connection is ours: serve it from a goroutine of our own
		// and let the handler return, so net/http's per-connection state
		// and the handler's deep stack are freed (about a third of the
		// memory an idle stream held).
		go g.serve(ctx, cancel, c, q.at, hd)
		return
	}
	hd.stopReq = context.AfterFunc(r.Context(), func() { cancel(nil) })
	g.serve(ctx, cancel, c, q.at, hd)
}

// admitStream admits a stream: a connection slot, the per-IP cap, a
// ready hub, its symbols' indexes, and a count in g.clients (Shutdown
// waits for it). What it takes is in hd. A stream it does not admit is
// turned away with a retry: for reason, or answered with err; the
// caller releases hd first.
func (g *Gateway) admitStream(r *http.Request, hd *held, syms []string) (h *hub, idx []int, reason string, err error) {
	if !g.takeConn() {
		return nil, nil, "capacity", nil
	}
	hd.connHeld = true
	if g.opts.MaxConnsPerIP > 0 {
		// Only a cap needs the address kept (r.RemoteAddr's string:
		// 16 bytes a stream for its whole life).
		ip := g.clientIP(r)
		if !g.takeIP(ip) {
			return nil, nil, "per_ip_cap", nil
		}
		hd.ip, hd.ipHeld = ip, true
	}
	h, ok := g.waitReady(r.Context())
	if !ok {
		return nil, nil, "not_ready", nil
	}
	idx, err = g.resolve(r.Context(), h, syms)
	if err != nil && httpapi.StatusOf(err) == http.StatusServiceUnavailable {
		return nil, nil, "not_ready", nil // temporary: never a non-200 on a stream
	}
	if err != nil {
		return nil, nil, "", err
	}
	if !g.enter() {
		return nil, nil, "shutting_down", nil
	}
	hd.entered = true
	return h, idx, "", nil
}

// held is what a stream holds, from its admission to its end: one value
// rather than a list of closures (an idle stream's memory).
type held struct {
	g        *Gateway
	c        *client // set once serve counts it in
	cl       *client // the stream's client, from its sink's opening (Gone, Writable)
	ip       string  // the address counted against MaxConnsPerIP (takeIP)
	connHeld bool    // counted against MaxConns (takeConn)
	ipHeld   bool    // ip is counted
	entered  bool    // counted in g.clients (Shutdown waits for it)
	started  bool    // registered with its hub and tracked (serve)
	cancel   context.CancelCauseFunc
	sinkEnd  func()      // the connection's end (openSink)
	stopReq  func() bool // the request context's AfterFunc, when not hijacked
	stopExp  func()      // the token expiry timer's stop (endAtExpiry)
}

// Gone and Writable make h the poll.Handler of the stream's connection
// (a pointer, where two closures cost 40 bytes a stream): the client
// closed, so its context ends; its full socket drained.
func (h *held) Gone()     { h.cl.notify(evGone); h.cancel(nil) }
func (h *held) Writable() { h.cl.notify(evWritable) }

// release lets go of what h holds, in the reverse order of taking it.
func (h *held) release() {
	g := h.g
	if h.started {
		h.stopExp()
		g.track(h.c, false)
		h.c.h.unregister(h.c)
	}
	if h.c != nil {
		h.c.flushCounts()
		g.m.conns.Dec()
	}
	if h.stopReq != nil {
		h.stopReq()
	}
	if h.sinkEnd != nil {
		h.sinkEnd()
	} else if h.cl != nil && h.cl.pc != nil {
		h.cl.pc.End()
	}
	if h.cancel != nil {
		h.cancel(nil)
	}
	if h.entered {
		g.clients.Done()
	}
	if h.ipHeld {
		g.releaseIP(h.ip)
	}
	if h.connHeld {
		g.releaseConn()
	}
}

// finish is release on the event loop's worker, which recovers a panic
// in it.
func (h *held) finish() {
	defer func() {
		if p := recover(); p != nil {
			h.g.log.Error("stream end panicked", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	h.release()
}

// startAt is where a stream asks to start: its last event id, if any, and
// ?from= (zero: none). Kept apart from the client value, which lives as
// long as the stream.
type startAt struct {
	lastID string
	hasID  bool
	from   time.Time
}

// serve runs one stream from its first event to its end.
//
// A panic in it ends only this stream: it is logged with its stack once
// every deferred release has run (the hub's registration, the counts,
// what admission took, the connection's end). On HTTP/1.1 serve runs on
// a goroutine of its own after the hijack, outside net/http's recovery,
// where a panic would end the process; on HTTP/2 it runs in the handler,
// and recovering here ends the stream cleanly (END_STREAM, so the browser
// reconnects after retry:) instead of with net/http's RST_STREAM.
func (g *Gateway) serve(ctx context.Context, cancel context.CancelCauseFunc, c *client, at startAt, hd *held) {
	defer func() {
		p := recover()
		if p != nil && !hd.started {
			// A start that panicked after it joined the hub (in a
			// catch-up) must not leave the hub waking a dead client
			// until the epoch ends; unregister does nothing for a
			// client that is not in the hub.
			c.h.unregister(c)
		}
		if p != nil && p != http.ErrAbortHandler {
			g.log.Error("stream panicked; ended it", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	// What the stream holds is let go in reverse order (held.release),
	// when serve returns or, on the event loop, when the worker ends the
	// stream.
	handedOver := false
	defer func() {
		if !handedOver {
			hd.release()
		}
	}()
	g.m.conns.Inc()
	g.m.connsTotal.Inc()
	hd.c = c
	c.buf = append(c.buf, "retry: "...)
	c.buf = strconv.AppendInt(c.buf, g.opts.Retry.Milliseconds(), 10)
	c.buf = append(c.buf, "\n\n"...)

	// Starting (a catch-up from history, a wait for the tail) also ends
	// on Shutdown and with the epoch, with a retry: (startFailed). They
	// cancel the stream's context itself, with their cause: a context
	// of its own for the start would leave ctx a map of children and a
	// channel for the stream's life (~370 bytes an idle stream).
	stopS := context.AfterFunc(g.shutdownCtx, func() { cancel(errShuttingDown) })
	stopH := context.AfterFunc(c.h.ctx, func() { cancel(errEpoch) })
	err := g.start(ctx, c, at)
	// A stop that comes too late (false) means its cancel is on its way.
	notS, notH := !stopS(), !stopH()
	if ctx.Err() != nil || notS || notH {
		if err == nil {
			c.h.unregister(c) // started, but ended meanwhile
		}
		switch {
		case ctx.Err() != nil:
			err = context.Cause(ctx)
		case notS:
			err = errShuttingDown
		default:
			err = errEpoch
		}
	}
	if err != nil {
		g.startFailed(ctx, c, err)
		return
	}
	g.track(c, true)
	hd.stopExp = g.endAtExpiry(ctx, c)
	hd.started = true
	if testHookRun != nil {
		testHookRun(c)
	}
	if c.pc != nil {
		// The event loop (loop.go): this goroutine ends here.
		// ctx ends only by gone (which notifies evGone itself) and at
		// the end, so it needs no callback of its own here; the
		// gateway's shutdown and the epoch's end reach the stream by a
		// sweep of the live streams (sweepLoop, track).
		handedOver = true
		g.startLoop(c, hd)
		return
	}
	err = c.run(ctx)
	switch {
	case errors.Is(err, errLapped):
		g.m.shed.WithLabelValues("lapped").Inc()
	case errors.Is(err, errEpoch):
		g.log.Info("ending a stream of a finished epoch")
	}
}
