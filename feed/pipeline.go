package feed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
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
// It takes the stream's acknowledgements itself, on one subscription to
// an inbox of its own (reply "<inbox>.<slot>.<gen>"), and reads of each
// only whether it is an error: at the default rates it handles some
// 3,000 a second, which nats.go's PublishMsgAsync (a future, two
// channels and a JSON decode per ack) made the simulator's main cost.
//
// It copies each quote and book subject's newest message into the
// companion <stream>_LAST (LastCopyPrefix), which the server does not
// source them into: at most once every copyEvery (a core publish of the
// subjects that changed, piggybacked on a send) and at Close (each
// acknowledged). So after a clean stop the companion holds every
// subject's newest; after a crash, what was newest up to copyEvery
// before, which matters only for a subject all of whose messages leave
// the window before a simulator restarts (it then repeats up to
// copyEvery of that subject's counters). A copy may be of a message
// still in flight, which a crash can keep from being stored: a gap of
// one in that counter.
//
// A Pipeline is used from one goroutine. Close waits for what is in
// flight.
type Pipeline struct {
	c     *Conn
	slots map[string]*slot        // by subject; bound: one per subject
	all   atomic.Pointer[[]*slot] // by index, for onAck; copy on write
	inbox string                  // "<inbox>.", the prefix of reply subjects
	sub   *nats.Subscription      // on <inbox>.>, made on first use
	timer *time.Timer             // the ack wait of settle, reused
	key   []byte                  // scratch: a subject or a Nats-Msg-Id being built
	// copiedAt is when copyLast last ran.
	copiedAt time.Time
}

// copyEvery is how often a Pipeline copies the quotes and books that
// changed into <stream>_LAST.
const copyEvery = time.Second

// slot is one subject's publish in flight, if any.
type slot struct {
	idx int
	sym string // for errors
	// msg is the subject's message: in flight when busy, else the last
	// one sent, stored. The next message of the subject reuses it (its
	// Data, its Header) once that one is stored: a symbol's quotes cost
	// no new buffers, header map or subject string each.
	msg  *nats.Msg
	sent time.Time // its first send (see publishMsg)
	busy bool
	// gen is the generation of the publish in flight, 0 when none is
	// awaited. onAck claims it (CompareAndSwap to 0) and then sends the
	// outcome on done; settle, giving up, claims it too or, if onAck
	// was first, receives what onAck sends. So done never holds an
	// outcome of another publish.
	gen  atomic.Uint64
	done chan bool // bound 1: the one claimed outcome (true: stored)
	next uint64    // the last generation used
	// copyTo is the subject of its copy in <stream>_LAST for a quote or
	// book subject ("" for others), and copied the generation copied.
	copyTo string
	copied uint64
}

// ackWait is how long settle waits for an acknowledgement before it
// publishes again.
const ackWait = 2 * time.Second

// NewPipeline returns a Pipeline publishing on c.
func (c *Conn) NewPipeline() *Pipeline {
	p := &Pipeline{c: c, slots: map[string]*slot{}}
	p.all.Store(&[]*slot{})
	return p
}

// Publish sends t once the previous tick of its symbol is stored.
func (p *Pipeline) Publish(ctx context.Context, t market.Tick) error {
	if err := t.Validate(); err != nil {
		return err
	}
	s, m, err := p.next(ctx, SubjectPrefix, t.Symbol, "")
	if err != nil {
		return err
	}
	m.Data = t.AppendJSON(m.Data[:0])
	p.setID(m, "", t.Symbol, "", t.Seq)
	return p.send(ctx, t.Symbol, s, m)
}

// next returns the slot of the subject prefix+sym[+"."+sub] once the
// previous message of that subject is stored, and the message to fill
// (Data, then setID) and send: the slot's own, reused. Without a slot
// (no subscription for acks could be made) the slot is nil and the
// message a new one, to be published synchronously.
func (p *Pipeline) next(ctx context.Context, prefix, sym, sub string) (*slot, *nats.Msg, error) {
	p.key = append(append(p.key[:0], prefix...), sym...)
	if sub != "" {
		p.key = append(append(p.key, '.'), sub...)
	}
	s := p.slots[string(p.key)] // no allocation for the lookup
	if s == nil {
		var err error
		if s, err = p.newSlot(string(p.key)); err != nil {
			return nil, &nats.Msg{Subject: string(p.key), Header: nats.Header{jetstream.MsgIDHeader: []string{""}}}, nil
		}
	}
	if err := p.settle(ctx, s); err != nil {
		return nil, nil, err
	}
	return s, s.msg, nil
}

// setID sets m's Nats-Msg-Id to "<kind>:<sym>[:<sub>]:<seq>" (the kind
// and its colon left out when kind is empty, as for ticks; the sym and
// its colon when sym is empty, as for the clock), with one allocation.
func (p *Pipeline) setID(m *nats.Msg, kind, sym, sub string, seq uint64) {
	p.key = appendID(p.key[:0], kind, sym, sub, seq)
	m.Header[jetstream.MsgIDHeader][0] = string(p.key)
}

// appendID appends the Nats-Msg-Id setID describes.
func appendID(b []byte, kind, sym, sub string, seq uint64) []byte {
	if kind != "" {
		b = append(append(b, kind...), ':')
	}
	if sym != "" {
		b = append(append(b, sym...), ':')
	}
	if sub != "" {
		b = append(append(b, sub...), ':')
	}
	return strconv.AppendUint(b, seq, 10)
}

// msgID is the header of a message with Nats-Msg-Id
// "<kind>:<sym>[:<sub>]:<seq>" (the kind and its colon left out when
// kind is empty, as for ticks), built with one allocation for the id.
func msgID(kind, sym, sub string, seq uint64) nats.Header {
	b := appendID(make([]byte, 0, len(kind)+len(sym)+len(sub)+24), kind, sym, sub, seq)
	return nats.Header{jetstream.MsgIDHeader: []string{string(b)}}
}

// send publishes m, the message next returned with s, filled in; sym
// names it in errors. Any message type goes through it: m carries its
// subject, data and Nats-Msg-Id.
func (p *Pipeline) send(ctx context.Context, sym string, s *slot, m *nats.Msg) error {
	if s == nil {
		if copiedToLast(m.Subject) {
			return p.c.publishKept(ctx, sym, m)
		}
		return p.c.publishMsg(ctx, sym, m, time.Now())
	}
	s.next++
	g := s.next
	m.Reply = p.replyTo(s.idx, g)
	s.gen.Store(g)
	s.sym, s.sent = sym, time.Now()
	if err := p.c.nc.PublishMsg(m); err != nil {
		// Could not even send (e.g. the reconnect buffer is full): fall
		// back to a synchronous publish, which retries until ctx ends.
		p.abandon(s, g)
		m.Reply = ""
		return p.c.publishMsg(ctx, sym, m, s.sent)
	}
	s.busy = true
	if s.sent.Sub(p.copiedAt) >= copyEvery {
		p.copyLast()
	}
	return nil
}

// copyLast copies the message of every quote and book subject sent since
// its last copy into <stream>_LAST, without waiting: a copy lost on the
// way is made again by the next round or Close.
func (p *Pipeline) copyLast() {
	p.copiedAt = time.Now()
	for _, s := range *p.all.Load() {
		if s.copyTo == "" || s.copied == s.next {
			continue
		}
		// nats.go copies Data into its buffer before PublishMsg returns.
		if err := p.c.nc.PublishMsg(&nats.Msg{Subject: s.copyTo, Data: s.msg.Data}); err != nil {
			return
		}
		s.copied = s.next
	}
}

// newSlot makes subject's slot, with the message it will reuse,
// subscribing to the acks on first use.
func (p *Pipeline) newSlot(subject string) (*slot, error) {
	if p.sub == nil {
		inbox := p.c.nc.NewInbox() + "."
		sub, err := p.c.nc.Subscribe(inbox+">", p.onAck)
		if err != nil {
			return nil, err
		}
		p.inbox, p.sub = inbox, sub
	}
	all := *p.all.Load()
	s := &slot{idx: len(all), done: make(chan bool, 1),
		msg: &nats.Msg{Subject: subject, Header: nats.Header{jetstream.MsgIDHeader: []string{""}}}}
	if copiedToLast(subject) {
		s.copyTo = LastCopyPrefix + subject
	}
	grown := append(all[:len(all):len(all)], s) // copy on write
	p.all.Store(&grown)
	p.slots[subject] = s
	return s, nil
}

func (p *Pipeline) replyTo(idx int, gen uint64) string {
	b := make([]byte, 0, len(p.inbox)+24)
	b = strconv.AppendInt(append(b, p.inbox...), int64(idx), 10)
	return string(strconv.AppendUint(append(b, '.'), gen, 10))
}

// onAck takes an acknowledgement (on a nats.go goroutine): a PubAck's
// JSON, an error's ({"error":{...}}), or an empty status message (no
// responders). A late ack of a publish settle gave up on finds its
// generation gone and is dropped.
func (p *Pipeline) onAck(m *nats.Msg) {
	rest, ok := strings.CutPrefix(m.Subject, p.inbox)
	i, g, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return
	}
	idx, err1 := strconv.Atoi(i)
	gen, err2 := strconv.ParseUint(g, 10, 64)
	all := *p.all.Load()
	if err1 != nil || err2 != nil || idx < 0 || idx >= len(all) || gen == 0 {
		return
	}
	s := all[idx]
	if !s.gen.CompareAndSwap(gen, 0) {
		return
	}
	s.done <- len(m.Data) > 0 && !bytes.Contains(m.Data, []byte(`"error"`))
}

// abandon stops awaiting generation g's ack; it returns the ack's
// outcome if onAck had claimed it first (else false).
func (p *Pipeline) abandon(s *slot, g uint64) bool {
	if s.gen.CompareAndSwap(g, 0) {
		return false
	}
	return <-s.done
}

// settle waits until the slot's publish in flight, if any, is stored.
func (p *Pipeline) settle(ctx context.Context, s *slot) error {
	if !s.busy {
		return nil
	}
	s.busy = false
	g := s.next
	select {
	case ok := <-s.done: // mostly: the ack came while the symbol's next event was due
		if ok {
			return nil
		}
		return p.c.publishMsg(ctx, s.sym, p.plain(s), s.sent)
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
	case ok := <-s.done:
		if ok {
			return nil
		}
	case <-p.timer.C:
		if p.abandon(s, g) {
			return nil
		}
	case <-ctx.Done():
		p.abandon(s, g)
		return fmt.Errorf("feed: publish %s: %w", s.sym, ctx.Err())
	}
	return p.c.publishMsg(ctx, s.sym, p.plain(s), s.sent)
}

// plain returns the slot's message without its reply subject, for a
// synchronous retry (which makes its own).
func (p *Pipeline) plain(s *slot) *nats.Msg {
	s.msg.Reply = ""
	return s.msg
}

// Close waits for every publish in flight (retrying failures) or ctx,
// copies the quotes and books not yet copied into <stream>_LAST and
// waits for those, then stops taking acks.
func (p *Pipeline) Close(ctx context.Context) error {
	var first error
	for _, s := range p.slots {
		if err := p.settle(ctx, s); err != nil && first == nil {
			first = err
		}
	}
	for _, s := range p.slots {
		if s.copyTo == "" || s.copied == s.next {
			continue
		}
		err := retry(ctx, 5*time.Second, func(ctx context.Context) error {
			_, err := p.c.js.PublishMsg(ctx, &nats.Msg{Subject: s.copyTo, Data: s.msg.Data})
			return err
		})
		if err != nil && first == nil {
			first = fmt.Errorf("feed: pipeline: copying %s's newest into %s%s (the publisher's NATS user needs publish permission on %s>): %w",
				s.msg.Subject, p.c.stream, lastSuffix, LastCopyPrefix, err)
		}
		s.copied = s.next
	}
	if p.sub != nil {
		if err := p.sub.Unsubscribe(); err != nil && first == nil {
			first = fmt.Errorf("feed: pipeline: %w", err)
		}
		p.sub = nil
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
