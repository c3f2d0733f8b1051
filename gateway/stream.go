package gateway

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"strconv"

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
	depth, err := parseDepth(r, kinds)
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
	var holds []func()
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
	holds = append(holds, func() { g.releaseIP(ip) })
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
	c.g, c.syms, c.throttle, c.kinds, c.from = g, syms, throttle, kinds, from
	c.bk.depth = depth
	c.wakeCh = make(chan struct{}, 1)
	// The stream's own context: ended when the client goes away. Of the
	// request's values it keeps only the access grant (endAtExpiry), so
	// the request's contexts (net/http's, chi's route context) are freed
	// once the connection is hijacked.
	base := context.Background()
	if gr, ok := r.Context().Value(grantKey{}).(*grant); ok {
		base = context.WithValue(base, grantKey{}, gr)
	}
	ctx, cancel := context.WithCancel(base)
	holds = append(holds, cancel)
	enc := g.encoding(w, r) // compress.go
	out, done, pc, hijacked, err := openSink(w, r, func() { c.notify(evGone); cancel() }, func() { c.notify(evWritable) })
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
		go g.serve(ctx, c, lastID, hasID, release)
		return
	}
	stop := context.AfterFunc(r.Context(), cancel)
	holds = append(holds, func() { stop() })
	g.serve(ctx, c, lastID, hasID, release)
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
func (g *Gateway) serve(ctx context.Context, c *client, lastID string, hasID bool, release func()) {
	defer func() {
		if p := recover(); p != nil && p != http.ErrAbortHandler {
			g.log.Error("stream panicked; ended it", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	// What the stream holds is let go in reverse order, when serve
	// returns or, on the event loop, when the worker ends the stream.
	var ends []func()
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
	// on Shutdown and with the epoch, with a retry: (startFailed).
	sctx, cancel := context.WithCancelCause(ctx)
	stopS := context.AfterFunc(g.shutdownCtx, func() { cancel(errShuttingDown) })
	stopH := context.AfterFunc(c.h.ctx, func() { cancel(errEpoch) })
	err := g.start(sctx, c, lastID, hasID)
	stopS()
	stopH()
	if err != nil && sctx.Err() != nil {
		err = context.Cause(sctx)
	}
	cancel(nil)
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
		// the end, so it needs no callback of its own here.
		s2 := context.AfterFunc(g.shutdownCtx, func() { c.notify(evShutdown) })
		s3 := context.AfterFunc(c.h.ctx, func() { c.notify(evEpoch) })
		ends = append(ends, func() { s2(); s3() })
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
