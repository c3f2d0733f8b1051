package feed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/market"
)

// Pipeline publishes without waiting for each acknowledgement: up to
// pipelineWindow messages are in flight at once, of any subjects, and
// the stream stores them in the order they were published, every one
// once. That order holds through failures because the messages form a
// chain: each carries, besides its Nats-Msg-Id, the id of the message
// published before it as Nats-Expected-Last-Msg-Id, and the stream
// refuses a message whose predecessor is not the newest it holds. So
// when one is refused or lost, every later one is refused too, and the
// Pipeline resends from there, in order, once it has read from the
// stream's newest message how far the chain got (recover). The stream
// must have no other publisher (run one simulator per stream).
//
// It takes the stream's acknowledgements itself, on one subscription to
// an inbox of its own (reply "<inbox>.<n>"), reading of each only
// whether it is an error: at the default rates some 3,000 a second,
// which nats.go's PublishMsgAsync (a future, two channels and a JSON
// decode per ack) made the simulator's main cost.
//
// A Pipeline is used from one goroutine. Close waits for what is in
// flight.
type Pipeline struct {
	c      *Conn
	q      []*inflight // oldest first; bound: pipelineWindow
	lastID string      // the Nats-Msg-Id of the newest message in the chain
	n      uint64      // messages sent, for reply subjects
	inbox  string      // "<inbox>.", the prefix of reply subjects
	sub    *nats.Subscription
	timer  *time.Timer   // reap's wait, reused
	acked  chan struct{} // bound 1: a nudge that an ack came; a full one drops the nudge

	mu    sync.Mutex
	byNum map[uint64]*inflight // what onAck can resolve; bound: pipelineWindow
}

// inflight is one message sent and not yet known stored.
type inflight struct {
	msg  *nats.Msg
	sym  string // for errors
	id   string // its Nats-Msg-Id
	n    uint64
	sent time.Time
	res  atomic.Int32 // waiting, stored or refused
}

const (
	waiting int32 = iota
	stored
	refused
)

// pipelineWindow is how many messages may be in flight; at the default
// rates a few are, and a burst waits for acks only past this many.
// ackWait is how long the oldest waits for its ack before the Pipeline
// recovers as from a refusal.
const (
	pipelineWindow = 1024
	ackWait        = 2 * time.Second
)

// NewPipeline returns a Pipeline publishing on c.
func (c *Conn) NewPipeline() *Pipeline {
	return &Pipeline{c: c, acked: make(chan struct{}, 1), byNum: map[uint64]*inflight{}}
}

// Publish sends t behind every message published before it.
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

// send publishes msg behind every message sent before; sym names it in
// errors. Any message type goes through it: msg carries its subject,
// data and Nats-Msg-Id.
func (p *Pipeline) send(ctx context.Context, sym string, msg *nats.Msg) error {
	if err := p.reap(ctx, len(p.q) >= pipelineWindow); err != nil {
		return err
	}
	if p.sub == nil {
		inbox := p.c.nc.NewInbox() + "."
		sub, err := p.c.nc.Subscribe(inbox+"*", p.onAck)
		if err != nil {
			return fmt.Errorf("feed: publish %s: %w", sym, err)
		}
		p.inbox, p.sub = inbox, sub
	}
	p.n++
	f := &inflight{msg: msg, sym: sym, id: msg.Header.Get(jetstream.MsgIDHeader), n: p.n, sent: time.Now()}
	chain(msg, p.lastID)
	msg.Reply = string(strconv.AppendUint(append(make([]byte, 0, len(p.inbox)+20), p.inbox...), f.n, 10))
	p.mu.Lock()
	p.byNum[f.n] = f
	p.mu.Unlock()
	p.q = append(p.q, f)
	p.lastID = f.id
	if err := p.c.nc.PublishMsg(msg); err != nil {
		f.res.Store(refused) // not sent (e.g. the reconnect buffer is full): the next reap recovers
	}
	return nil
}

// chain sets msg's Nats-Expected-Last-Msg-Id to prev (none if empty).
func chain(msg *nats.Msg, prev string) {
	if prev == "" {
		msg.Header.Del(jetstream.ExpectedLastMsgIDHeader)
		return
	}
	msg.Header.Set(jetstream.ExpectedLastMsgIDHeader, prev)
}

// onAck takes an acknowledgement (on a nats.go goroutine): a PubAck's
// JSON, an error's ({"error":{...}}), or an empty status message (no
// responders). One for a message no longer awaited is dropped.
func (p *Pipeline) onAck(m *nats.Msg) {
	n, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, p.inbox), 10, 64)
	if err != nil {
		return
	}
	p.mu.Lock()
	f := p.byNum[n]
	p.mu.Unlock()
	if f == nil {
		return
	}
	if len(m.Data) > 0 && !bytes.Contains(m.Data, []byte(`"error"`)) {
		f.res.Store(stored)
	} else {
		f.res.Store(refused)
	}
	select {
	case p.acked <- struct{}{}:
	default:
	}
}

// reap drops the oldest messages while they are stored; with wait, it
// waits until the oldest is, or recovers if it was refused or its ack
// is late.
func (p *Pipeline) reap(ctx context.Context, wait bool) error {
	for len(p.q) > 0 {
		f := p.q[0]
		switch f.res.Load() {
		case stored:
			p.pop(1)
			continue
		case refused:
			return p.recover(ctx)
		}
		left := ackWait - time.Since(f.sent)
		if left <= 0 {
			return p.recover(ctx)
		}
		if !wait {
			return nil
		}
		if p.timer == nil {
			p.timer = time.NewTimer(left)
		} else {
			p.timer.Reset(left)
		}
		select {
		case <-p.acked:
		case <-p.timer.C:
		case <-ctx.Done():
			p.timer.Stop()
			return fmt.Errorf("feed: publish %s: %w", f.sym, ctx.Err())
		}
		p.timer.Stop()
	}
	return nil
}

// pop drops the k oldest messages.
func (p *Pipeline) pop(k int) {
	p.mu.Lock()
	for _, f := range p.q[:k] {
		delete(p.byNum, f.n)
	}
	p.mu.Unlock()
	clear(p.q[:k])
	p.q = p.q[k:]
	if len(p.q) == 0 {
		p.q = p.q[:0:0] // let the array go rather than creep along it
	}
}

// recover reads the stream's newest message: if it is one in flight,
// that one and all before it are stored. It resends the rest in order,
// each waiting for its ack, chained from the newest; on any failure it
// reads the stream again, until ctx ends. The acks still to come of
// what was in flight are dropped.
func (p *Pipeline) recover(ctx context.Context) error {
	backoff := 50 * time.Millisecond
	for {
		err := p.resend(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("feed: publish %s: %w", p.q[0].sym, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (p *Pipeline) resend(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, time.Second)
	last, err := p.c.newestID(actx)
	cancel()
	if err != nil {
		return err
	}
	for j := len(p.q) - 1; j >= 0; j-- {
		if p.q[j].id == last {
			p.pop(j + 1)
			break
		}
	}
	p.mu.Lock()
	clear(p.byNum) // their acks no longer count
	p.mu.Unlock()
	for len(p.q) > 0 {
		f := p.q[0]
		chain(f.msg, last)
		f.msg.Reply = ""
		actx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := p.c.js.PublishMsg(actx, f.msg)
		cancel()
		if err != nil {
			return err
		}
		last = f.id
		p.q = p.q[1:]
	}
	p.q = p.q[:0:0]
	p.lastID = last
	return nil
}

// newestID returns the Nats-Msg-Id of the stream's newest message, ""
// when it holds none.
func (c *Conn) newestID(ctx context.Context) (string, error) {
	s, err := c.js.Stream(ctx, c.stream)
	if err != nil {
		return "", err
	}
	last := s.CachedInfo().State.LastSeq
	if last == 0 {
		return "", nil
	}
	m, err := s.GetMsg(ctx, last)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", nil // it left the window (the stream is empty)
	}
	if err != nil {
		return "", err
	}
	return m.Header.Get(jetstream.MsgIDHeader), nil
}

// Close waits for every publish in flight (resending what failed) or
// ctx, then stops taking acks.
func (p *Pipeline) Close(ctx context.Context) error {
	err := p.reap(ctx, true)
	if p.sub != nil {
		if uerr := p.sub.Unsubscribe(); uerr != nil && err == nil {
			err = fmt.Errorf("feed: pipeline: %w", uerr)
		}
		p.sub = nil
	}
	return err
}
