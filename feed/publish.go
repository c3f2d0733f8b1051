package feed

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// msgID is the header of a message with Nats-Msg-Id
// "<kind>:<sym>[:<sub>]:<seq>" (the kind and its colon left out when
// kind is empty, as for ticks), built with one allocation for the id.
func msgID(kind, sym, sub string, seq uint64) nats.Header {
	b := make([]byte, 0, len(kind)+len(sym)+len(sub)+24)
	if kind != "" {
		b = append(append(b, kind...), ':')
	}
	b = append(b, sym...)
	if sub != "" {
		b = append(append(b, ':'), sub...)
	}
	b = strconv.AppendUint(append(b, ':'), seq, 10)
	return nats.Header{jetstream.MsgIDHeader: []string{string(b)}}
}

// publishMsg publishes synchronously, retrying with the same message (and
// so the same Nats-Msg-Id) until it is stored or ctx ends. sent is when
// msg was first sent: the stream drops a repeated Nats-Msg-Id only
// within its duplicate window (dedupeWindow), so once half of that has
// passed since, a retry first looks at the subject's newest message,
// and if it is msg (an attempt was stored, its ack lost), stops there.
// A publisher that waits for each message before its next (Conn's
// Publish methods) makes that check exact: msg is either its subject's
// newest message or not stored.
func (c *Conn) publishMsg(ctx context.Context, sym string, msg *nats.Msg, sent time.Time) error {
	backoff := 50 * time.Millisecond
	for {
		// A short attempt: a retry is deduplicated by its Nats-Msg-Id,
		// and during a leader change a long wait only stalls the feed.
		actx, cancel := context.WithTimeout(ctx, time.Second)
		var err error
		if time.Since(sent) >= dedupeWindow/2 {
			var stored bool
			if stored, err = c.stored(actx, msg); stored {
				cancel()
				return nil
			}
		}
		if err == nil {
			_, err = c.js.PublishMsg(actx, msg)
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("feed: publish %s: %w", sym, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// stored reports whether msg is the newest message of its subject in
// the stream, by its Nats-Msg-Id; an error when it could not tell.
func (c *Conn) stored(ctx context.Context, msg *nats.Msg) (bool, error) {
	s, err := c.js.Stream(ctx, c.stream)
	if err != nil {
		return false, err
	}
	last, err := s.GetLastMsgForSubject(ctx, msg.Subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	id := msg.Header.Get(jetstream.MsgIDHeader)
	return id != "" && last.Header.Get(jetstream.MsgIDHeader) == id, nil
}
