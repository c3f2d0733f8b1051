package feed

import (
	"context"
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
	inflight map[string]*pending // by subject; bound: one per subject
}

type pending struct {
	msg *nats.Msg
	ack jetstream.PubAckFuture
	sym string // for errors
}

// NewPipeline returns a Pipeline publishing on c.
func (c *Conn) NewPipeline() *Pipeline {
	return &Pipeline{c: c, inflight: map[string]*pending{}}
}

// Publish sends t once the previous tick of its symbol is stored.
func (p *Pipeline) Publish(ctx context.Context, t market.Tick) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return p.send(ctx, t.Symbol, &nats.Msg{
		Subject: Subject(t.Symbol),
		Data:    t.AppendJSON(make([]byte, 0, 200)),
		Header:  nats.Header{jetstream.MsgIDHeader: []string{t.Symbol + ":" + strconv.FormatUint(t.Seq, 10)}},
	})
}

// send publishes msg once the previous message of its subject is
// stored; sym names it in errors.
func (p *Pipeline) send(ctx context.Context, sym string, msg *nats.Msg) error {
	if err := p.settle(ctx, msg.Subject); err != nil {
		return err
	}
	ack, err := p.c.js.PublishMsgAsync(msg)
	if err != nil {
		// Could not even send (e.g. too many pending): fall back to a
		// synchronous publish, which retries until ctx ends.
		return p.c.publishMsg(ctx, sym, msg)
	}
	p.inflight[msg.Subject] = &pending{msg: msg, ack: ack, sym: sym}
	return nil
}

// settle waits until subject's publish in flight, if any, is stored.
func (p *Pipeline) settle(ctx context.Context, subject string) error {
	pd := p.inflight[subject]
	if pd == nil {
		return nil
	}
	delete(p.inflight, subject)
	sym := pd.sym
	// An ack can be lost for good (the server died, the connection
	// moved to another node): after a while, publish again; the
	// Nats-Msg-Id makes that safe.
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-pd.ack.Ok():
		return nil
	case <-pd.ack.Err():
	case <-t.C:
	case <-ctx.Done():
		return fmt.Errorf("feed: publish %s: %w", sym, ctx.Err())
	}
	return p.c.publishMsg(ctx, sym, pd.msg)
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
// so the same Nats-Msg-Id) until it is stored or ctx ends.
func (c *Conn) publishMsg(ctx context.Context, sym string, msg *nats.Msg) error {
	backoff := 50 * time.Millisecond
	for {
		// A short attempt: a retry is deduplicated by its Nats-Msg-Id,
		// and during a leader change a long wait only stalls the feed.
		actx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.js.PublishMsg(actx, msg)
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
