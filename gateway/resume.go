package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
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
	resetTooFar:    "the event id is further behind than this gateway resumes (its max-resume); start from a snapshot",
}

// start positions c: a snapshot for a new client, a resume for an id
// that can be honoured exactly, else a reset then a snapshot. It writes
// what it has to and registers c with the hub. ctx ends when the client
// goes, the gateway shuts down or the epoch ends (serve); an error means
// c is not registered.
func (g *Gateway) start(ctx context.Context, c *client, at startAt) error {
	h := c.h
	lastID, hasID := at.lastID, at.hasID
	if !hasID && !at.from.IsZero() {
		return g.startFrom(ctx, c, at.from)
	}
	if !hasID {
		return g.snapshot(c)
	}
	epoch, seq, err := sse.ParseID(lastID)
	switch {
	case err != nil:
		return g.reset(c, resetMalformed, lastID)
	case epoch != h.epoch:
		if err := g.checkHubEpoch(ctx, h); err != nil {
			return err
		}
		return g.reset(c, resetEpoch, lastID)
	}
	return g.resumeAfter(ctx, c, seq, lastID)
}

// checkHubEpoch returns errLagging when the stream's epoch is no longer
// hub h's: the stream was recreated and this gateway has not moved on
// yet. An id of another epoch than the hub's may be older (a reset
// "epoch" is right) or newer (another gateway already reads the new
// stream: a reset would hand the client a snapshot of the deleted one),
// and only the stream can tell; a hub behind the stream answers neither
// and sends the client back with retry: to come again once it has
// caught up. The state is at most stateMaxAge old.
func (g *Gateway) checkHubEpoch(ctx context.Context, h *hub) error {
	st, err := g.recentState(ctx)
	if err != nil {
		return err
	}
	if st.Epoch != h.epoch {
		return fmt.Errorf("%w: the stream's epoch is %s, this gateway still reads %s", errLagging, st.Epoch, h.epoch)
	}
	return nil
}

// resumeAfter starts c after stream sequence seq of its hub's epoch:
// from memory if the ring covers it, else from history; requested (the
// id or ?from= asked for) goes into any reset.
func (g *Gateway) resumeAfter(ctx context.Context, c *client, seq uint64, requested string) error {
	h := c.h
	if seq > h.lastSeqNow() {
		// Ahead of this gateway: "ahead" only if ahead of the stream;
		// else wait for our tail, and if it lags send the client back
		// with retry: and its id (errLagging), never backwards.
		reason, err := g.awaitHub(ctx, h, seq)
		if err != nil {
			return err
		}
		if reason != "" {
			return g.reset(c, reason, requested)
		}
	}
	covered, behind, err := h.joinAfter(c, seq)
	if err != nil {
		return err
	}
	if covered {
		g.m.resumes.WithLabelValues("memory").Inc()
		// The first turn sends the rest at once; a throttled client's
		// retry: line goes now, not with its first window.
		if c.throttle > 0 {
			if err := c.flush(); err != nil {
				h.unregister(c)
				return err
			}
		}
		return nil
	}
	if g.opts.MaxResume > 0 && behind > g.opts.MaxResume {
		return g.reset(c, resetTooFar, requested)
	}
	return g.catchUp(ctx, c, seq, requested)
}

// snapshot registers c at the hub's head and writes the snapshot event.
func (g *Gateway) snapshot(c *client) error {
	h := c.h
	if err := h.joinAtHead(c); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		h.unregister(c)
		return err
	}
	return nil
}

// TimeSeeker is what ?from= needs from the feed beyond Source for a
// moment the ring no longer covers: the sequence of the first message
// stored at or after t, with the stream's epoch (feed.Conn.SeqAt), or
// an error wrapping feed.ErrTooOld if the stream no longer holds t.
type TimeSeeker interface {
	SeqAt(ctx context.Context, t time.Time) (seq uint64, epoch string, err error)
}

// startFrom starts c at the first message at or after t (?from=): no
// snapshot, the stream's events from that moment on. The ring answers
// for the moments it covers; older ones are found in JetStream by time
// and started as a resume after the message just before (resumeAfter:
// merged per symbol when far behind, as any deep resume). A
// moment the stream no longer holds gets a reset "expired" and a
// snapshot.
func (g *Gateway) startFrom(ctx context.Context, c *client, t time.Time) error {
	h := c.h
	from := t.UTC().Format(time.RFC3339Nano)
	covered, err := h.joinAt(c, t)
	if err != nil {
		return err
	}
	if !covered {
		ts, can := g.src.(TimeSeeker)
		if !can {
			return g.reset(c, resetExpired, from)
		}
		seq, epoch, err := ts.SeqAt(ctx, t)
		switch {
		case errors.Is(err, feed.ErrTooOld):
			return g.reset(c, resetExpired, from)
		case err != nil:
			return err
		case epoch != h.epoch:
			return fmt.Errorf("%w: the stream's epoch is %s, this gateway still reads %s", errLagging, epoch, h.epoch)
		}
		return g.resumeAfter(ctx, c, seq-1, from)
	}
	g.m.resumes.WithLabelValues("memory").Inc()
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
	if len(requested) > 2*sse.MaxIDLen {
		requested = requested[:2*sse.MaxIDLen]
	}
	data, _ := json.Marshal(struct {
		Reason    string `json:"reason"`
		Detail    string `json:"detail"`
		Requested string `json:"requested"`
	}{reason, resetText[reason], requested})
	return sse.AppendEvent(dst, "reset", "", data)
}

func appendSnapshot(dst []byte, epoch string, seq uint64, ticks []market.Tick) []byte {
	dst = append(dst, "event: snapshot\nid: "...)
	dst = sse.AppendID(dst, epoch, seq)
	dst = append(dst, "\ndata: {\"ticks\":["...)
	for i := range ticks {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = ticks[i].AppendJSON(dst)
	}
	return append(dst, "]}\n\n"...)
}
