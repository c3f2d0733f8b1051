package sim

import (
	"context"
	"testing"

	"github.com/tickcast/tickcast/market"
)

type discardEvents struct{}

func (discardEvents) Publish(context.Context, market.Tick) error         { return nil }
func (discardEvents) PublishQuote(context.Context, market.Quote) error   { return nil }
func (discardEvents) PublishBar(context.Context, market.Bar) error       { return nil }
func (discardEvents) PublishStatus(context.Context, market.Status) error { return nil }
func (discardEvents) PublishClock(context.Context, market.Clock) error   { return nil }

// BenchmarkEventsPerTick is Run's work per tick with every event type
// (quotes at the default 8 per trade, 1 s and 1 min bars, LULD, the
// clock) into a publisher that discards them: the simulator's side of
// the publish path, against BenchmarkNext's ticks alone.
func BenchmarkEventsPerTick(b *testing.B) {
	ctx := context.Background()
	s := mustNew(b, Config{Seed: 1, Session: &Session{Extended: true}, Arrivals: Poisson, LULD: true})
	var pub discardEvents
	e := s.newEvState(t0, pub)
	if err := e.announce(ctx, s, pub, t0, s.clk); err != nil {
		b.Fatal(err)
	}
	e.schedulePhase(s)
	quotes := 0
	b.ReportAllocs()
	for b.Loop() {
		at := t0.Add(s.Due())
		for q := wallAt(t0, e.qdue); q.Before(at); q = wallAt(t0, e.qdue) {
			_ = e.quote(ctx, s, pub, q)
			quotes++
		}
		for k := range e.bars {
			for !e.bars[k].next.After(at) {
				_ = e.closeBars(ctx, s, pub, k)
			}
		}
		if e.phaseAt.Before(at) {
			e.baseWall, e.baseMkt = e.phaseAt, e.nextClk.marketTime(0)
			_ = e.announce(ctx, s, pub, e.phaseAt, e.nextClk)
			e.schedulePhase(s)
		}
		_ = e.tick(ctx, s, pub, at)
	}
}
