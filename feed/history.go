package feed

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/market"
)

// ReadRange calls fn for every tick stored from sequence from to
// until, both included, in stream order, each sequence exactly once:
// with the tick (a message of another event type, such as a quote, with
// Msg.Subject and Msg.Data set and a nil bad), or with a non-nil bad (wrapping market.ErrInvalidTick)
// for a message that is not a valid tick. It reads with one short-lived
// consumer, deleted when it returns (so readers never pile up against
// the server's consumer limit).
//
// It returns an error wrapping ErrTooOld if the stream no longer holds
// from, or loses a sequence of the range while it reads: the first
// message it reads must be from itself, and every next one the one
// after, so history that ages out during a read is never skipped
// silently. until must not be beyond the stream's last sequence.
func (c *Conn) ReadRange(ctx context.Context, from, until uint64, fn func(m Msg, bad error) error) error {
	if from > until {
		return nil
	}
	if from == 0 {
		from = 1
	}
	cons, done, err := c.tempConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
	})
	if err != nil {
		return fmt.Errorf("feed: read %d-%d: %w", from, until, err)
	}
	defer done()
	next := from
	idle := 0
	for next <= until {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := cons.Fetch(int(min(until-next+1, 4096)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return fmt.Errorf("feed: read %d-%d: %w", from, until, err)
		}
		got := 0
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("feed: read %d-%d: metadata: %w", from, until, err)
			}
			seq := md.Sequence.Stream
			if seq < next {
				continue
			}
			if seq != next {
				return fmt.Errorf("feed: read %d-%d: got sequence %d, want %d: %w", from, until, seq, next, ErrTooOld)
			}
			got++
			if seq > until {
				break
			}
			msg := Msg{Seq: seq}
			var bad error
			if !strings.HasPrefix(m.Subject(), SubjectPrefix) {
				msg.Subject, msg.Data = m.Subject(), m.Data() // a quote, bar, status or clock
			} else if msg.Tick, bad = market.DecodeTick(m.Data()); bad != nil {
				bad = fmt.Errorf("feed: %s seq %d: %w", m.Subject(), seq, bad)
			}
			if err := fn(msg, bad); err != nil {
				return err
			}
			next = seq + 1
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("feed: read %d-%d: %w", from, until, err)
		}
		if got > 0 {
			idle = 0
			continue
		}
		// Nothing came: the range may have aged out, or be beyond the
		// stream.
		st, err := c.State(ctx)
		if err != nil {
			return err
		}
		if st.FirstSeq > next {
			return fmt.Errorf("feed: read %d-%d: stream starts at %d: %w", from, until, st.FirstSeq, ErrTooOld)
		}
		if st.LastSeq < until {
			return fmt.Errorf("feed: read %d-%d: stream ends at %d", from, until, st.LastSeq)
		}
		if idle++; idle >= 3 {
			return fmt.Errorf("feed: read %d-%d: no message for %s at %d", from, until, 3*2*time.Second, next)
		}
	}
	return nil
}

// SeqAt returns the sequence of the first message the stream stored at
// or after t (LastSeq+1 if none has been yet), with the stream's epoch,
// for a stream that starts at a moment in the past (?from=). It uses
// JetStream's own index by time: a short-lived consumer that starts by
// time, deleted when it returns. The time is the one the server stored
// each message at, a little after the event's own time (its publish
// latency).
//
// It returns an error wrapping ErrTooOld if the stream no longer holds
// t: the first message at or after t is the oldest the stream still
// holds, and older ones were removed (they may have been after t); or
// t is before the stream was created (an earlier incarnation of it may
// have held messages after t).
func (c *Conn) SeqAt(ctx context.Context, t time.Time) (seq uint64, epoch string, err error) {
	s, err := c.js.Stream(ctx, c.stream)
	if err != nil {
		return 0, "", fmt.Errorf("feed: stream %s: %w", c.stream, err)
	}
	info := s.CachedInfo()
	epoch = EpochOf(info.Config.Name, info.Created)
	st := info.State
	if t.Before(info.Created) {
		// An earlier incarnation of the stream may have held it: what
		// came after t there is gone.
		return 0, epoch, fmt.Errorf("feed: %s is before the stream was created (%s): %w", t.Format(time.RFC3339Nano), info.Created.Format(time.RFC3339Nano), ErrTooOld)
	}
	if st.Msgs == 0 || st.LastSeq == 0 {
		if st.FirstSeq > 1 && t.Before(st.LastTime) {
			return 0, epoch, fmt.Errorf("feed: no message at or after %s in the stream (empty since %s): %w", t.Format(time.RFC3339Nano), st.LastTime.Format(time.RFC3339Nano), ErrTooOld)
		}
		return st.LastSeq + 1, epoch, nil
	}
	if !t.After(st.FirstTime) {
		if st.FirstSeq > 1 {
			return 0, epoch, fmt.Errorf("feed: %s is before the stream's oldest message (%s): %w", t.Format(time.RFC3339Nano), st.FirstTime.Format(time.RFC3339Nano), ErrTooOld)
		}
		return 1, epoch, nil
	}
	if t.After(st.LastTime) {
		return st.LastSeq + 1, epoch, nil
	}
	cons, done, err := c.tempConsumer(ctx, jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime:  &t,
	})
	if err != nil {
		return 0, epoch, fmt.Errorf("feed: seek %s: %w", t.Format(time.RFC3339Nano), err)
	}
	defer done()
	if ci := cons.CachedInfo(); ci.NumPending == 0 {
		return ci.Delivered.Stream + 1, epoch, nil
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		return 0, epoch, fmt.Errorf("feed: seek %s: %w", t.Format(time.RFC3339Nano), err)
	}
	if m, ok := <-batch.Messages(); ok {
		md, err := m.Metadata()
		if err != nil {
			return 0, epoch, fmt.Errorf("feed: seek %s: metadata: %w", t.Format(time.RFC3339Nano), err)
		}
		return md.Sequence.Stream, epoch, nil
	}
	if err := batch.Error(); err != nil {
		return 0, epoch, fmt.Errorf("feed: seek %s: %w", t.Format(time.RFC3339Nano), err)
	}
	return 0, epoch, fmt.Errorf("feed: seek %s: no message came", t.Format(time.RFC3339Nano))
}

// tempConsumer creates a short-lived consumer of every subject (so a
// read stays contiguous when other event types lie between the ticks)
// with no acks, in memory, and returns it with a func that deletes it.
// One per read keeps readers from piling up against the server's
// consumer limit; InactiveThreshold removes it if the delete is lost.
func (c *Conn) tempConsumer(ctx context.Context, cfg jetstream.ConsumerConfig) (jetstream.Consumer, func(), error) {
	cfg.AckPolicy = jetstream.AckNonePolicy
	cfg.FilterSubject = ">"
	cfg.InactiveThreshold = 10 * time.Second
	cfg.MemoryStorage = true
	cons, err := c.js.CreateConsumer(ctx, c.stream, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cons, func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = c.js.DeleteConsumer(dctx, c.stream, cons.CachedInfo().Name)
	}, nil
}
