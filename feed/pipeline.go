package feed

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/market"
)

// Pipeline publishes ticks without waiting for each acknowledgement,
// while keeping every symbol's ticks in order in the stream: a symbol has
// at most one publish in flight, and a failed one is retried (same
// Nats-Msg-Id, so it is stored once) before that symbol's next tick goes
// out. Different symbols overlap, so the publisher is not paced by one
// round trip per tick.
//
// A Pipeline is used from one goroutine. Close waits for what is in
// flight.
type Pipeline struct {
	c        *Conn
	inflight map[string]pending // by subject; bound: one per subject
	timer    *time.Timer        // the ack wait of settle, reused
}

type pending struct {
	msg  *nats.Msg
	ack  jetstream.PubAckFuture
	sym  string    // for errors
	sent time.Time // the first send (see publishMsg)
}

// ackWait is how long settle waits for an acknowledgement before it
// publishes again.
const ackWait = 2 * time.Second

// NewPipeline returns a Pipeline publishing on c.
func (c *Conn) NewPipeline() *Pipeline {
	return &Pipeline{c: c, inflight: map[string]pending{}}
}

// Publish sends t once the previous tick of its symbol is stored.
func (p *Pipeline) Publish(ctx context.Context, t market.Tick) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return p.send(ctx, t.Symbol, &nats.Msg{
		Subject: Subject(t.Symbol),
		Data:    t.AppendJSON(make([]byte, 0, 200)),
		Header:  msgID("", t.Symbol, "", t.Seq),
	})
}

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

// send publishes msg once the previous message of its subject is
// stored; sym names it in errors. Any message type goes through it:
// msg carries its subject, data and Nats-Msg-Id.
func (p *Pipeline) send(ctx context.Context, sym string, msg *nats.Msg) error {
	if err := p.settle(ctx, msg.Subject); err != nil {
		return err
	}
	sent := time.Now()
	ack, err := p.c.js.PublishMsgAsync(msg)
	if err != nil {
		// Could not even send (e.g. too many pending): fall back to a
		// synchronous publish, which retries until ctx ends.
		return p.c.publishMsg(ctx, sym, msg, sent)
	}
	p.inflight[msg.Subject] = pending{msg: msg, ack: ack, sym: sym, sent: sent}
	return nil
}

// settle waits until subject's publish in flight, if any, is stored.
func (p *Pipeline) settle(ctx context.Context, subject string) error {
	pd, ok := p.inflight[subject]
	if !ok {
		return nil
	}
	delete(p.inflight, subject)
	okc := pd.ack.Ok()
	select {
	case <-okc: // mostly: the ack came while the symbol's next event was due
		return nil
	default:
	}
	// An ack can be lost for good (the server died, the connection
	// moved to another node): after a while, publish again; the
	// Nats-Msg-Id makes that safe.
	if p.timer == nil {
		p.timer = time.NewTimer(ackWait)
	} else {
		p.timer.Reset(ackWait)
	}
	defer p.timer.Stop()
	select {
	case <-okc:
		return nil
	case <-pd.ack.Err():
	case <-p.timer.C:
	case <-ctx.Done():
		return fmt.Errorf("feed: publish %s: %w", pd.sym, ctx.Err())
	}
	return p.c.publishMsg(ctx, pd.sym, pd.msg, pd.sent)
}

// Close waits for every publish in flight (retrying failures) or ctx.
func (p *Pipeline) Close(ctx context.Context) error {
	var first error
	for subj := range p.inflight {
		if err := p.settle(ctx, subj); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// publishMsg publishes synchronously, retrying with the same message (and
// so the same Nats-Msg-Id) until it is stored or ctx ends. sent is when
// msg was first sent: the stream drops a repeated Nats-Msg-Id only
// within its duplicate window (dedupeWindow), so once half of that has
// passed since, a retry first looks at the subject's newest message,
// and if it is msg (an attempt was stored, its ack lost), stops there.
// One publish in flight per subject makes that check exact: msg is
// either the subject's newest message or not stored.
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
