package feed

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/market"
)

// Sentinel errors, wrapped so errors.Is works.
var (
	// ErrEpochChanged is returned by Tail when the stream it was reading
	// was deleted or recreated: positions from before are meaningless.
	ErrEpochChanged = errors.New("feed: stream epoch changed")
	// ErrTooOld is returned by Replay when the start sequence is no
	// longer in the stream.
	ErrTooOld = errors.New("feed: start sequence no longer in the stream")
	// ErrConsumer wraps trouble Tail's consumer reported and recovers
	// from by itself (passed to Tail's bad callback, for logging).
	ErrConsumer = errors.New("feed: consumer")

	errStalled = errors.New("feed: tail stalled")
)

// stallAfter: a tail that has received nothing for this long while the
// stream holds newer messages is restarted. nats.go's ordered consumer
// waits 10s for a consumer re-creation that can go unanswered during a
// leader change.
const stallAfter = 2 * time.Second

// tailCheckEvery is how often Tail checks the stream's epoch and whether
// it has stalled; each check waits at most tailCheckTimeout for the
// stream's info (during a leader election it may not come).
const (
	tailCheckEvery   = time.Second
	tailCheckTimeout = 1500 * time.Millisecond
)

// Msg is one tick read from the stream, with its position. Tail and
// ReadRange also pass the stream's other messages (quotes, bars, status,
// the clock) as a Msg with Subject and Data set and a zero Tick; a tick
// has an empty Subject.
type Msg struct {
	Seq  uint64 // stream sequence; 0 for a tick LastTicks knows only from the companion stream
	Tick market.Tick
	// Subject and Data: a message of another event type, undecoded.
	Subject string
	Data    []byte
}

// IsTick reports whether m is a tick (not another event type).
func (m *Msg) IsTick() bool { return m.Subject == "" }

// Publish stores t in the stream on ticks.<SYMBOL> and waits for the
// stream's acknowledgement, retrying with the same Nats-Msg-Id until ctx
// ends, so a retried tick is stored once and per-symbol order is kept.
func (c *Conn) Publish(ctx context.Context, t market.Tick) error {
	if err := t.Validate(); err != nil {
		return err
	}
	msg := &nats.Msg{
		Subject: Subject(t.Symbol),
		Data:    t.AppendJSON(make([]byte, 0, 200)),
		Header:  msgID("", t.Symbol, "", t.Seq),
	}
	return c.publishMsg(ctx, t.Symbol, msg, time.Now())
}

func toMsg(m jetstream.Msg) (Msg, *jetstream.MsgMetadata, error) {
	md, err := m.Metadata()
	if err != nil {
		return Msg{}, nil, fmt.Errorf("feed: metadata: %w", err)
	}
	t, err := market.DecodeTick(m.Data())
	if err != nil {
		return Msg{Seq: md.Sequence.Stream}, md, fmt.Errorf("feed: %s seq %d: %w", m.Subject(), md.Sequence.Stream, err)
	}
	return Msg{Seq: md.Sequence.Stream, Tick: t}, md, nil
}

// LastTicks returns the newest tick of every symbol ever stored: per
// symbol, whichever has the higher tick seq of the newest tick in the
// ticks stream and the one the companion stream <stream>_LAST kept
// (see EnsureStream). A tick from the ticks stream comes with its stream
// sequence; a tick known only from the companion (it has left the
// window, or the stream was recreated since) has Seq 0: it is at no
// position of the ticks stream. Without a companion (a stream made by an
// older tickcast), only the ticks stream counts. Malformed messages are
// skipped.
//
// Transient errors (no leader, no answer in time) are retried with
// backoff for up to 30 s or until ctx ends; permanent ones, such as a
// missing ticks stream (wrapping ErrNoStream), fail at once.
func (c *Conn) LastTicks(ctx context.Context) (map[string]Msg, error) {
	var out map[string]Msg
	err := retry(ctx, 5*time.Second, func(ctx context.Context) error {
		var err error
		out, err = c.lastTicks(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("feed: last ticks: %w", err)
	}
	return out, nil
}

func (c *Conn) lastTicks(ctx context.Context) (map[string]Msg, error) {
	out, err := c.lastPerSubject(ctx, c.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("feed: stream %s: %w: %w", c.stream, ErrNoStream, err)
	}
	if err != nil {
		return nil, err
	}
	kept, err := c.lastPerSubject(ctx, c.stream+lastSuffix)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, err
	}
	for sym, m := range kept {
		if cur, ok := out[sym]; !ok || m.Tick.Seq > cur.Tick.Seq {
			out[sym] = Msg{Tick: m.Tick} // Seq 0: not in the ticks stream
		}
	}
	return out, nil
}

// lastPerSubject reads the newest tick of every subject of a stream.
func (c *Conn) lastPerSubject(ctx context.Context, stream string) (map[string]Msg, error) {
	out := map[string]Msg{}
	s, err := c.js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	if st := s.CachedInfo().State; st.LastSeq == 0 || st.FirstSeq > st.LastSeq || st.Msgs == 0 {
		return out, nil
	}
	cons, err := c.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{SubjectPrefix + ">"},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return nil, err
	}
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		return out, nil
	}
	err = readUntil(ctx, cons, func(m jetstream.Msg) (bool, error) {
		msg, md, err := toMsg(m)
		if md == nil {
			return true, err
		}
		if err == nil {
			out[msg.Tick.Symbol] = msg
		}
		return md.NumPending == 0, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readUntil feeds an ordered consumer's messages to fn until fn says it
// is done or fails. It fails if no message comes for 10 s.
func readUntil(ctx context.Context, cons jetstream.Consumer, fn func(jetstream.Msg) (bool, error)) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(500))
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		if err != nil {
			return err
		}
		done, err := fn(m)
		if err != nil || done {
			return err
		}
	}
}

// MsgError is a stream message Tail skipped as malformed: its sequence
// was read (a reader waiting to reach it can go on), its content not.
type MsgError struct {
	Seq uint64
	Err error
}

func (e *MsgError) Error() string { return fmt.Sprintf("feed: message %d: %v", e.Seq, e.Err) }
func (e *MsgError) Unwrap() error { return e.Err }

// Tail calls fn, from one goroutine, for every message stored after
// sequence after, in stream order, until ctx ends or it stalls (it
// returns nil; call it again from the last sequence received) or the
// stream is deleted or recreated (it returns ErrEpochChanged). epoch is
// the epoch the caller expects; a tick of any other epoch never reaches
// fn. Malformed ticks are passed to bad, as a *MsgError with their
// sequence, and skipped. Messages of the
// other event types reach fn undecoded (Msg.Subject, Msg.Data).
func (c *Conn) Tail(ctx context.Context, epoch string, after uint64, fn func(Msg), bad func(error)) error {
	// Every subject: the gateway serves every event type, and the stall
	// check below compares the newest sequence received with the
	// stream's.
	cons, err := c.js.OrderedConsumer(ctx, c.stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   after + 1,
	})
	if err != nil {
		return fmt.Errorf("feed: tail: %w", err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lastConsumer := ""
	var delivered atomic.Uint64 // newest stream sequence received
	var arrived atomic.Int64    // when, Unix ns
	delivered.Store(after)
	arrived.Store(time.Now().UnixNano())
	var serverSeen atomic.Uint64 // the consumer's delivered stream sequence at the last stall check
	serverSeen.Store(after)
	check := func() bool { // epoch unchanged and not stalled
		sctx, scancel := context.WithTimeout(ctx, tailCheckTimeout)
		defer scancel()
		st, err := c.State(sctx)
		if errors.Is(err, jetstream.ErrStreamNotFound) || err == nil && st.Epoch != epoch {
			cancel(ErrEpochChanged)
			return false
		}
		if err == nil && st.LastSeq > delivered.Load() && time.Since(time.Unix(0, arrived.Load())) > stallAfter {
			// The stream moved on; if only with other event types
			// (quotes, bars, the clock), the consumer has no tick
			// pending and is fine. One that cannot say is lost. A
			// consumer that delivered past what fn has seen is moving:
			// its messages wait in this process, busy (a reconnect
			// storm) or starved of CPU, and a new consumer would only
			// read them again; so is one whose delivered sequence moved
			// since the last check.
			ictx, icancel := context.WithTimeout(ctx, tailCheckTimeout)
			info, ierr := cons.Info(ictx)
			icancel()
			moving := ierr == nil && (info.Delivered.Stream > delivered.Load() || info.Delivered.Stream > serverSeen.Load())
			if ierr == nil {
				serverSeen.Store(max(serverSeen.Load(), info.Delivered.Stream))
			}
			if ierr != nil || info.NumPending > 0 && !moving {
				cancel(errStalled)
				return false
			}
		}
		return true // a transient error: the periodic check tries again
	}
	// gate lets Tail return only once no callback runs, and none starts
	// after: fn is never called after Tail returns (nats.go's Stop does
	// not wait for a callback in progress).
	var gate sync.RWMutex
	stopped := false
	defer func() {
		gate.Lock()
		stopped = true
		gate.Unlock()
	}()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		gate.RLock()
		defer gate.RUnlock()
		if stopped || ctx.Err() != nil {
			return
		}
		var msg Msg
		var md *jetstream.MsgMetadata
		var err error
		if !strings.HasPrefix(m.Subject(), SubjectPrefix) {
			md, err = m.Metadata() // another event type: passed undecoded
			msg = Msg{Subject: m.Subject(), Data: m.Data()}
			if md != nil {
				msg.Seq = md.Sequence.Stream
			}
		} else {
			msg, md, err = toMsg(m)
		}
		if md == nil {
			bad(err)
			return
		}
		delivered.Store(md.Sequence.Stream)
		arrived.Store(time.Now().UnixNano())
		// The ordered consumer recreates its server-side consumer after
		// any trouble; if the stream was recreated meanwhile, its
		// sequences belong to another epoch. Check before trusting it.
		if md.Consumer != lastConsumer {
			if lastConsumer != "" && !check() {
				return
			}
			lastConsumer = md.Consumer
		}
		if err != nil {
			bad(&MsgError{Seq: md.Sequence.Stream, Err: err})
			return
		}
		fn(msg)
	}, jetstream.PullMaxMessages(1000),
		// Notice a lost consumer in 2s rather than the default 10s.
		jetstream.PullHeartbeat(time.Second),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			bad(fmt.Errorf("%w: %v", ErrConsumer, err))
		}))
	if err != nil {
		return fmt.Errorf("feed: tail: %w", err)
	}
	defer func() {
		// Stop can block for as long as nats.go takes to recreate a lost
		// consumer (a 10 s request during a leader change): do not wait
		// more than a moment. The gate above keeps a late callback out.
		stopped := make(chan struct{})
		go func() { cc.Stop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(500 * time.Millisecond):
		}
	}()
	t := time.NewTicker(tailCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			switch cause := context.Cause(ctx); {
			case errors.Is(cause, ErrEpochChanged):
				return fmt.Errorf("feed: tail %s: %w", c.stream, cause)
			case errors.Is(cause, errStalled):
				bad(fmt.Errorf("%w: no message for %s while the stream moved on: restarting the tail", ErrConsumer, stallAfter))
			}
			return nil
		case <-t.C:
			check()
		}
	}
}

// Replay calls fn for every tick of the given symbols (all when empty)
// stored from sequence from to sequence until, both included, in stream
// order. It returns ErrTooOld if the stream no longer holds from:
// JetStream would silently start at its first sequence instead.
func (c *Conn) Replay(ctx context.Context, from, until uint64, symbols []string, fn func(Msg) error) error {
	if from > until {
		return nil
	}
	subjects := []string{SubjectPrefix + ">"}
	if len(symbols) > 0 {
		subjects = subjects[:0]
		for _, s := range symbols {
			subjects = append(subjects, Subject(s))
		}
	}
	cons, err := c.js.OrderedConsumer(ctx, c.stream, jetstream.OrderedConsumerConfig{
		FilterSubjects:    subjects,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("feed: replay from %d: %w", from, err)
	}
	checked := false
	check := func() error {
		if checked {
			return nil
		}
		checked = true
		st, err := c.State(ctx)
		if err != nil {
			return err
		}
		if st.FirstSeq > from {
			return fmt.Errorf("feed: replay from %d, stream starts at %d: %w", from, st.FirstSeq, ErrTooOld)
		}
		return nil
	}
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		return check()
	}
	err = readUntil(ctx, cons, func(m jetstream.Msg) (bool, error) {
		msg, md, err := toMsg(m)
		if md == nil {
			return true, err
		}
		// Checked after the first message arrived: the stream's first
		// sequence only grows, so if it is still <= from now, nothing
		// from `from` on had gone when we read it.
		if err := check(); err != nil {
			return true, err
		}
		if msg.Seq > until {
			return true, nil
		}
		if err == nil {
			if err := fn(msg); err != nil {
				return true, err
			}
		}
		return msg.Seq >= until || md.NumPending == 0, nil
	})
	if err != nil {
		return fmt.Errorf("feed: replay from %d: %w", from, err)
	}
	return check()
}
