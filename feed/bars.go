package feed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/market"
)

// BarMsg is one bar read from history, with its position in the ticks
// stream.
type BarMsg struct {
	// Seq is the bar's sequence in the ticks stream (from the sourced
	// copy's Nats-Stream-Source header): a stream resumed after it
	// (id "<epoch>-<Seq>") continues with nothing missed or doubled.
	// After the ticks stream was recreated, older bars carry positions
	// of the earlier stream; 0 if unknown.
	Seq uint64
	Bar market.Bar
}

// Limits of ReadBars.
const (
	DefaultBarsLimit = 500
	MaxBarsLimit     = 100_000
)

// ErrBadRequest is wrapped by ReadBars for a bad symbol or interval.
var ErrBadRequest = errors.New("feed: bad request")

// ReadBars returns symbol's bars of interval ("1s", "1m") whose Start
// is in [from, to), oldest first, from the companion <stream>_BARS
// (bounded by StreamConfig's BarsMaxAge, BarsMaxPerSeries and
// BarsMaxBytes: older bars are gone). A zero from or to leaves that side
// open. When more than limit bars match, it returns the newest limit of
// them (a chart wants the latest; page back by passing the oldest Start
// as the next to). limit <= 0 means DefaultBarsLimit; it is capped at
// MaxBarsLimit. No bars (or no _BARS stream yet): an empty slice.
// A bad symbol or interval: an error wrapping ErrBadRequest.
//
// It reads by time rather than from the start: it guesses where the
// last limit bars begin from the interval (one bar per interval while
// the market is open) and reads back further, doubling, when that
// guess finds too few.
func (c *Conn) ReadBars(ctx context.Context, symbol, interval string, from, to time.Time, limit int) ([]BarMsg, error) {
	d, ok := market.IntervalDuration(interval)
	if !ok || !market.ValidSymbol(symbol) {
		return nil, fmt.Errorf("%w: symbol %q, interval %q", ErrBadRequest, symbol, interval)
	}
	if limit <= 0 {
		limit = DefaultBarsLimit
	}
	limit = min(limit, MaxBarsLimit)
	s, err := c.js.Stream(ctx, c.stream+barsSuffix)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return []BarMsg{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("feed: bars %s %s: %w", symbol, interval, err)
	}
	first := s.CachedInfo().State.FirstTime
	end := to
	if end.IsZero() {
		end = time.Now()
	}
	span := time.Duration(limit+2)*d + 10*time.Second
	for {
		start := end.Add(-span)
		whole := !from.IsZero() && !start.After(from) || !start.After(first)
		if !from.IsZero() && start.Before(from) {
			start = from // a bar is stored after its End, so after its Start
		}
		out, err := c.readBars(ctx, symbol, interval, start, from, to, limit)
		if err != nil {
			return nil, fmt.Errorf("feed: bars %s %s: %w", symbol, interval, err)
		}
		if len(out) >= limit || whole || span > 400*24*time.Hour {
			return out, nil
		}
		span *= 4
	}
}

// readBars reads the bars stored from start on, keeping the newest limit
// whose Start is in [from, to).
func (c *Conn) readBars(ctx context.Context, symbol, interval string, start, from, to time.Time, limit int) ([]BarMsg, error) {
	out := []BarMsg{}
	cons, err := c.js.OrderedConsumer(ctx, c.stream+barsSuffix, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{BarSubject(symbol, interval)},
		DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
		OptStartTime:      &start,
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		return out, nil
	}
	err = readUntil(ctx, cons, func(m jetstream.Msg) (bool, error) {
		md, err := m.Metadata()
		if err != nil {
			return true, err
		}
		b, err := market.DecodeBar(m.Data())
		if err == nil && !b.Start.Before(from) && (to.IsZero() || b.Start.Before(to)) {
			if len(out) == limit {
				copy(out, out[1:])
				out = out[:limit-1]
			}
			out = append(out, BarMsg{Seq: originSeq(m.Headers()), Bar: b})
		}
		done := md.NumPending == 0 || err == nil && !to.IsZero() && !b.Start.Before(to)
		return done, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
