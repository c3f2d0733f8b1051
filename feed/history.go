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
	cons, err := c.js.CreateConsumer(ctx, c.stream, jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
		AckPolicy:     jetstream.AckNonePolicy,
		// Every subject, so the range stays contiguous when the stream
		// holds other event types between the ticks.
		FilterSubject:     ">",
		InactiveThreshold: 10 * time.Second, // if the delete below is lost
		MemoryStorage:     true,
	})
	if err != nil {
		return fmt.Errorf("feed: read %d-%d: %w", from, until, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = c.js.DeleteConsumer(dctx, c.stream, cons.CachedInfo().Name)
	}()
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
