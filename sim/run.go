package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/tickcast/tickcast/market"
)

// Publisher is where ticks go (implemented by the feed package over
// JetStream). Publish is called from one goroutine at a time.
type Publisher interface {
	Publish(ctx context.Context, t market.Tick) error
}

// Run publishes ticks to pub at the Sim's rate until ctx is cancelled,
// then returns nil. It paces open-loop: each tick is due at start + Due
// (i/Rate for tick i with Regular arrivals and no Session; irregular
// with Poisson arrivals or a Session) and carries that scheduled time,
// so time spent late shows as latency downstream. A tick that is already due (because Publish was slow) is
// published at once: none is skipped, and Run never sleeps to catch up.
// A Publish error ends Run, wrapped as "sim: publish SYMBOL: ...".
//
// If pub is an EventPublisher, Run also publishes quotes, bars, status
// changes and the market clock (see Events), in time order with the
// ticks.
func (s *Sim) Run(ctx context.Context, pub Publisher) error {
	if ep, ok := pub.(EventPublisher); ok {
		return s.runEvents(ctx, ep)
	}
	start := time.Now()
	// One timer, reset for each wait; Stop on return releases it.
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		at := start.Add(s.Due())
		if !waitUntil(ctx, timer, at) {
			return nil
		}
		t := s.Next(at)
		if err := pub.Publish(ctx, t); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sim: publish %s: %w", t.Symbol, err)
		}
	}
}

// waitUntil waits on timer until at (at once if at has passed); false
// if ctx ended first.
func waitUntil(ctx context.Context, timer *time.Timer, at time.Time) bool {
	if d := time.Until(at); d > 0 {
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
		}
	}
	return ctx.Err() == nil
}
