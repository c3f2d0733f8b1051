package gateway

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/tickcast/tickcast/httpapi"
)

// testHookRun, set by tests only, runs in serve just before a stream's
// loop starts.
var testHookRun func(*client)

// handleStream serves GET /v1/stream.
func (g *Gateway) handleStream(w http.ResponseWriter, r *http.Request) {
	syms, err := parseSymbols(r)
	if err != nil {
		g.m.rejected.WithLabelValues("bad_request").Inc()
		g.writeError(w, r, err)
		return
	}
	var ok bool
	if syms, ok = g.scope(w, r, syms); !ok {
		return
	}
	throttle, err := parseThrottle(r)
	if err != nil {
		g.m.rejected.WithLabelValues("bad_request").Inc()
		g.writeError(w, r, err)
		return
	}
	kinds, err := parseEventTypes(r)
	if err != nil {
		g.m.rejected.WithLabelValues("bad_request").Inc()
		g.writeError(w, r, err)
		return
	}
	from, err := parseFrom(r)
	if err != nil {
		g.m.rejected.WithLabelValues("bad_request").Inc()
		g.writeError(w, r, err)
		return
	}
	lastID, hasID := r.Header.Get("Last-Event-ID"), true
	if lastID == "" {
		lastID = r.URL.Query().Get("lastEventId")
		hasID = lastID != ""
	}

	if !g.takeConn() {
		g.turnAway(w, r, "capacity")
		return
	}
	// release undoes, in reverse order, what this stream holds; it runs
	// when the stream ends, in whichever goroutine serves it.
	holds := make([]func(), 0, 6) // sized: it lives as long as the stream
	release := func() {
		for i := len(holds) - 1; i >= 0; i-- {
			holds[i]()
		}
	}
	holds = append(holds, g.releaseConn)
	ip := g.clientIP(r)
	if !g.takeIP(ip) {
		release()
		g.turnAway(w, r, "per_ip_cap")
		return
	}
	if g.opts.MaxConnsPerIP > 0 {
		holds = append(holds, func() { g.releaseIP(ip) })
	}
	h, ok := g.waitReady(r.Context())
	if !ok {
		release()
		g.turnAway(w, r, "not_ready")
		return
	}
	idx, err := g.resolve(r.Context(), h, syms)
	if err != nil && httpapi.StatusOf(err) == http.StatusServiceUnavailable {
		release()
		g.turnAway(w, r, "not_ready") // temporary: never a non-200 on a stream
		return
	}
	if err != nil {
		release()
		g.m.rejected.WithLabelValues("bad_request").Inc()
		g.writeError(w, r, err)
		return
	}
	if !g.enter() {
		release()
		g.turnAway(w, r, "shutting_down")
		return
	}
	holds = append(holds, g.clients.Done)

	if kinds&kStatus != 0 && len(idx) > 0 {
		idx = append(idx, h.clockIndex()) // the clock comes with status
	}
	c := h.newFilter(idx)
	c.g, c.throttle, c.kinds = g, throttle, kinds
	// The stream's own context: ended when the client goes away, and
	// during its start also when the gateway shuts down or the epoch
	// ends (serve). Of the request's values it keeps only the access
	// grant (endAtExpiry), so the request's contexts (net/http's, chi's
	// route context) are freed once the connection is hijacked.
	base := context.Background()
	if gr, ok := r.Context().Value(grantKey{}).(*grant); ok {
		base = context.WithValue(base, grantKey{}, gr)
	}
	ctx, cancel := context.WithCancelCause(base)
	holds = append(holds, func() { cancel(nil) })
	enc := g.encoding(w, r) // compress.go
	// Only the goroutine path waits on a wake channel; a stream on the
	// event loop is woken by its worker's queue and holds none.
	onGoroutine := func() { c.wakeCh = make(chan struct{}, 1) }
	if r.ProtoMajor != 1 || enc != "" || g.opts.NoEventLoop {
		onGoroutine()
		onGoroutine = func() {}
	}
	out, done, pc, hijacked, err := openSink(w, r, func() { c.notify(evGone); cancel(nil) }, func() { c.notify(evWritable) }, onGoroutine)
	if err != nil {
		release()
		g.log.Debug("stream open failed", "err", err)
		return
	}
	out, done = g.compressSink(enc, out, done)
	holds = append(holds, done)
	c.out = out
	if enc != "" || g.opts.NoEventLoop {
		pc = nil // compressed streams keep the goroutine path
	}
	c.pc = pc
	if hijacked {
		// The connection is ours: serve it from a goroutine of our own
		// and let the handler return, so net/http's per-connection state
		// and the handler's deep stack are freed (about a third of the
		// memory an idle stream held).
		go g.serve(ctx, cancel, c, startAt{lastID, hasID, from}, release)
		return
	}
	stop := context.AfterFunc(r.Context(), func() { cancel(nil) })
	holds = append(holds, func() { stop() })
	g.serve(ctx, cancel, c, startAt{lastID, hasID, from}, release)
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
func (g *Gateway) serve(ctx context.Context, cancel context.CancelCauseFunc, c *client, at startAt, release func()) {
	defer func() {
		if p := recover(); p != nil && p != http.ErrAbortHandler {
			g.log.Error("stream panicked; ended it", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	// What the stream holds is let go in reverse order, when serve
	// returns or, on the event loop, when the worker ends the stream.
	ends := make([]func(), 0, 6) // sized: it lives as long as the stream
	finish := func() {
		for i := len(ends) - 1; i >= 0; i-- {
			ends[i]()
		}
	}
	handedOver := false
	defer func() {
		if !handedOver {
			finish()
		}
	}()
	ends = append(ends, release)
	g.m.conns.Inc()
	g.m.connsTotal.Inc()
	ends = append(ends, g.m.conns.Dec, c.flushCounts)
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
	ends = append(ends, func() { c.h.unregister(c) })
	g.track(c, true)
	ends = append(ends, func() { g.track(c, false) }, g.endAtExpiry(ctx, c))
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
		g.startLoop(c, c.pc, func() {
			defer func() {
				if p := recover(); p != nil {
					g.log.Error("stream end panicked", "panic", p, "stack", string(debug.Stack()))
				}
			}()
			finish()
		})
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
