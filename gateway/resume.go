package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

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
