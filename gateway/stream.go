package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

// handleStream serves GET /v1/stream.
func (g *Gateway) handleStream(w http.ResponseWriter, r *http.Request) {
	syms, err := parseSymbols(r)
	if err != nil {
		g.m.rejected.WithLabelValues("bad_request").Inc()
		g.writeError(w, r, err)
		return
	}
	throttle, err := parseThrottle(r)
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

	if n := g.conns.Add(1); g.opts.MaxConns > 0 && n > int64(g.opts.MaxConns) {
		g.conns.Add(-1)
		g.turnAway(w, "capacity")
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
	holds = append(holds, func() { g.conns.Add(-1) })
	ip := g.clientIP(r)
	if !g.takeIP(ip) {
		release()
		g.turnAway(w, "per_ip_cap")
		return
	}
	holds = append(holds, func() { g.releaseIP(ip) })
	h, ok := g.waitReady(r.Context())
	if !ok {
		release()
		g.turnAway(w, "not_ready")
		return
	}
	idx, err := g.resolve(r.Context(), h, syms)
	if err != nil {
		release()
		g.m.rejected.WithLabelValues("bad_request").Inc()
		g.writeError(w, r, err)
		return
	}
	if !g.enter() {
		release()
		g.turnAway(w, "shutting_down")
		return
	}
	holds = append(holds, g.clients.Done)

	c := newFilter(h, idx)
	c.g, c.syms, c.throttle = g, syms, throttle
	c.wakeCh = make(chan struct{}, 1)
	// The stream's own context: ended when the client goes away.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	holds = append(holds, cancel)
	out, done, hijacked, err := openSink(w, r, func() { c.notify(evGone); cancel() })
	if err != nil {
		release()
		g.log.Debug("stream open failed", "err", err)
		return
	}
	holds = append(holds, done)
	c.out = out
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
func (g *Gateway) serve(ctx context.Context, c *client, lastID string, hasID bool, release func()) {
	defer release()
	g.m.conns.Inc()
	g.m.connsTotal.Inc()
	defer g.m.conns.Dec()
	defer c.flushCounts()
	c.buf = append(c.buf, "retry: "...)
	c.buf = strconv.AppendInt(c.buf, g.opts.Retry.Milliseconds(), 10)
	c.buf = append(c.buf, "\n\n"...)

	if err := g.start(ctx, c, lastID, hasID); err != nil {
		g.log.Debug("stream start ended", "err", err)
		return
	}
	defer c.h.unregister(c)
	g.track(c, true)
	defer g.track(c, false)
	err := c.run(ctx)
	switch {
	case errors.Is(err, errLapped):
		g.m.shed.WithLabelValues("lapped").Inc()
	case errors.Is(err, errEpoch):
		g.log.Info("ending a stream of a finished epoch")
	}
}

func sseHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
}

// turnAway answers a stream request the gateway will not serve now with
// 200, a jittered retry: and a close, so EventSource comes back later.
// A non-200 would make a browser stop for good.
func (g *Gateway) turnAway(w http.ResponseWriter, reason string) {
	g.m.rejected.WithLabelValues(reason).Inc()
	sseHeaders(w)
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusOK)
	ms := g.opts.Retry.Milliseconds() + 1000 + rand.Int64N(4000)
	_, _ = w.Write([]byte(": " + reason + "\nretry: " + strconv.FormatInt(ms, 10) + "\n\n"))
}

// enter counts a client in unless the gateway is shutting down.
func (g *Gateway) enter() bool {
	select {
	case <-g.shutdown:
		return false
	default:
	}
	g.enterMu.Lock() // orders Add against Shutdown's Wait
	defer g.enterMu.Unlock()
	select {
	case <-g.shutdown:
		return false
	default:
	}
	g.clients.Add(1)
	return true
}

// Reasons a resume request gets a reset.
const (
	resetMalformed = "malformed"
	resetEpoch     = "epoch"
	resetAhead     = "ahead"
	resetExpired   = "expired"
	resetTooFar    = "too_far"
)

var resetText = map[string]string{
	resetMalformed: "the event id is not one this feed issues",
	resetEpoch:     "the event id is from an earlier incarnation of the stream",
	resetAhead:     "the event id is ahead of the stream",
	resetExpired:   "the ticks after the event id are no longer in the stream's window",
	resetTooFar:    "the event id is too far behind to replay; start from a snapshot",
}

// start positions c: a snapshot for a new client, a resume for an id
// that can be honoured exactly, else a reset then a snapshot. It writes
// what it has to and registers c with the hub.
func (g *Gateway) start(ctx context.Context, c *client, lastID string, hasID bool) error {
	h := c.h
	if !hasID {
		return g.snapshot(c)
	}
	epoch, seq, err := ParseID(lastID)
	switch {
	case err != nil:
		return g.reset(c, resetMalformed, lastID)
	case epoch != h.epoch:
		return g.reset(c, resetEpoch, lastID)
	}
	waitUntil := time.Now().Add(3 * time.Second)
	for {
		h.mu.Lock()
		if seq > h.lastSeq {
			h.mu.Unlock()
			// Another gateway may be ahead of this one: wait for ours to
			// catch up if the stream has the sequence, else reset.
			st, err := g.src.State(ctx)
			if err != nil {
				return err
			}
			if st.Epoch != epoch {
				return g.reset(c, resetEpoch, lastID)
			}
			if seq > st.LastSeq || time.Now().After(waitUntil) {
				return g.reset(c, resetAhead, lastID)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		if pos, ok := h.positionAfterLocked(seq); ok {
			c.cursor, c.lastSeq = pos, seq
			ok := h.registerLocked(c)
			h.mu.Unlock()
			if !ok {
				return errEpoch
			}
			g.m.resumes.WithLabelValues("memory").Inc()
			return nil
		}
		behind := h.lastSeq - seq
		h.mu.Unlock()
		if behind > g.opts.MaxResume {
			return g.reset(c, resetTooFar, lastID)
		}
		return g.replay(ctx, c, seq, lastID)
	}
}

// replay resumes c from seq with history read from JetStream: it joins
// the hub first (so nothing published meanwhile is missed), replays up to
// the sequence it joined at, then the run loop continues from the ring.
func (g *Gateway) replay(ctx context.Context, c *client, seq uint64, lastID string) error {
	h := c.h
	st, err := g.src.State(ctx)
	if err != nil {
		return err
	}
	if seq+1 < st.FirstSeq {
		return g.reset(c, resetExpired, lastID)
	}
	h.mu.Lock()
	c.cursor, c.lastSeq = h.head.Load(), seq
	until := h.lastSeq
	snap, snapSeq := h.snapshotLocked(c), h.lastSeq
	index := make(map[string]int, len(h.symIndex))
	for s, i := range h.symIndex {
		index[s] = i
	}
	ok := h.registerLocked(c)
	h.mu.Unlock()
	if !ok {
		return errEpoch
	}
	start := time.Now()
	var js []byte
	n := 0
	err = g.src.Replay(ctx, seq+1, until, c.syms, func(m feed.Msg) error {
		n++
		if c.throttle > 0 {
			if i, ok := index[m.Tick.Symbol]; ok {
				c.fold(i, m.Seq, &m.Tick)
			}
			return nil
		}
		js = m.Tick.AppendJSON(js[:0])
		c.buf = appendTickEvent(c.buf, h.epoch, m.Seq, js)
		c.lastSeq = m.Seq
		c.nEvents++
		if len(c.buf) >= flushSize {
			return c.flush()
		}
		return nil
	})
	g.m.resumeTicks.Add(float64(n))
	if errors.Is(err, feed.ErrTooOld) && n == 0 {
		h.unregister(c)
		g.m.resets.WithLabelValues(resetExpired).Inc()
		c.buf = appendReset(c.buf, resetExpired, lastID)
		c.lastSeq = snapSeq
		c.buf = appendSnapshot(c.buf, h.epoch, snapSeq, snap)
		h.mu.Lock()
		ok := h.registerLocked(c)
		h.mu.Unlock()
		if !ok {
			return errEpoch
		}
		return c.flush()
	}
	if err != nil {
		h.unregister(c)
		return err
	}
	c.lastSeq = max(c.lastSeq, until)
	if c.throttle > 0 {
		if err := c.emitMerged(); err != nil {
			h.unregister(c)
			return err
		}
	}
	g.m.resumes.WithLabelValues("jetstream").Inc()
	g.log.Debug("resumed from jetstream", "from", seq, "until", until, "ticks", n, "took", time.Since(start))
	return nil
}

// snapshot registers c at the hub's head and writes the snapshot event.
func (g *Gateway) snapshot(c *client) error {
	h := c.h
	h.mu.Lock()
	c.cursor, c.lastSeq = h.head.Load(), h.lastSeq
	c.buf = appendSnapshot(c.buf, h.epoch, h.lastSeq, h.snapshotLocked(c))
	ok := h.registerLocked(c)
	h.mu.Unlock()
	if !ok {
		return errEpoch
	}
	if err := c.flush(); err != nil {
		h.unregister(c)
		return err
	}
	return nil
}

func (g *Gateway) reset(c *client, reason, requested string) error {
	g.m.resets.WithLabelValues(reason).Inc()
	c.buf = appendReset(c.buf, reason, requested)
	return g.snapshot(c)
}

func appendReset(dst []byte, reason, requested string) []byte {
	if len(requested) > 2*MaxIDLen {
		requested = requested[:2*MaxIDLen]
	}
	data, _ := json.Marshal(struct {
		Reason    string `json:"reason"`
		Detail    string `json:"detail"`
		Requested string `json:"requested"`
	}{reason, resetText[reason], requested})
	return appendEvent(dst, "reset", "", data)
}

func appendSnapshot(dst []byte, epoch string, seq uint64, ticks []market.Tick) []byte {
	dst = append(dst, "event: snapshot\nid: "...)
	dst = appendID(dst, epoch, seq)
	dst = append(dst, "\ndata: {\"ticks\":["...)
	for i := range ticks {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = ticks[i].AppendJSON(dst)
	}
	return append(dst, "]}\n\n"...)
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
				return errEpoch
			case ev&evLeave != 0:
				// Leave after a complete event with a jittered retry:.
				c.buf = append(c.buf, "retry: "...)
				c.buf = strconv.AppendInt(c.buf, (c.g.opts.Retry + rand.N(c.g.opts.ShutdownSpread)).Milliseconds(), 10)
				c.buf = append(c.buf, "\n\n"...)
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
			err = c.pump()
		}
		if err != nil {
			return err
		}
	}
}

// nextBoundary is the first multiple of d (since the Unix epoch) after t:
// every client with the same throttle emits on the same clock.
func nextBoundary(t time.Time, d time.Duration) time.Time {
	d = max(d, 10*time.Millisecond)
	return t.Truncate(d).Add(d)
}
