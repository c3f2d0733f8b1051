package sim

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

// recorder is a fake Publisher that keeps what it is given.
type recorder struct {
	mu    sync.Mutex
	ticks []market.Tick
	hook  func(n int) error // called with the count so far, if set
}

func (r *recorder) Publish(ctx context.Context, t market.Tick) error {
	r.mu.Lock()
	r.ticks = append(r.ticks, t)
	n := len(r.ticks)
	r.mu.Unlock()
	if r.hook != nil {
		return r.hook(n)
	}
	return nil
}

func (r *recorder) got() []market.Tick {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]market.Tick(nil), r.ticks...)
}

// runFor runs s into pub for about d, cancels it and returns how long it
// ran; Run must return nil promptly.
func runFor(t *testing.T, s *Sim, pub Publisher, d time.Duration) time.Duration {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- s.Run(ctx, pub) }()
	time.Sleep(d)
	cancel()
	elapsed := time.Since(start)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	return elapsed
}

// checkSchedule checks that ticks carry the schedule: consecutive times
// one interval apart, none skipped.
func checkSchedule(t *testing.T, ticks []market.Tick, rate float64) {
	t.Helper()
	interval := time.Duration(float64(time.Second) / rate)
	for i := 1; i < len(ticks); i++ {
		if d := ticks[i].Time.Sub(ticks[i-1].Time); d < interval-time.Microsecond || d > interval+time.Microsecond {
			t.Fatalf("tick %d at +%v after tick %d: want %v", i, d, i-1, interval)
		}
	}
}

func TestRunPaces(t *testing.T) {
	const rate = 1000
	s := mustNew(t, Config{Seed: 1, Rate: rate})
	rec := &recorder{}
	elapsed := runFor(t, s, rec, time.Second)
	ticks := rec.got()
	want := rate * elapsed.Seconds()
	t.Logf("%d ticks in %v at rate %d", len(ticks), elapsed, rate)
	// Generous: the machine may be busy, but open-loop pacing can never
	// run ahead of the schedule.
	if n := float64(len(ticks)); n < 0.3*want || n > want+2 {
		t.Errorf("%d ticks in %v, want about %.0f", len(ticks), elapsed, want)
	}
	checkSchedule(t, ticks, rate)
	for i, tk := range ticks {
		if err := tk.Validate(); err != nil {
			t.Fatalf("tick %d: %v", i, err)
		}
	}
}

func TestRunCatchesUpWhenLate(t *testing.T) {
	const rate = 2000
	s := mustNew(t, Config{Seed: 1, Rate: rate})
	// The first publish stalls for 200ms: the 400 ticks due meanwhile
	// must all follow at once, with their scheduled times.
	rec := &recorder{hook: func(n int) error {
		if n == 1 {
			time.Sleep(200 * time.Millisecond)
		}
		return nil
	}}
	elapsed := runFor(t, s, rec, 500*time.Millisecond)
	ticks := rec.got()
	want := rate * elapsed.Seconds()
	t.Logf("%d ticks in %v at rate %d, after a 200ms stall", len(ticks), elapsed, rate)
	if n := float64(len(ticks)); n < 0.75*want || n > want+2 {
		t.Errorf("%d ticks in %v, want about %.0f: the stall was not caught up", len(ticks), elapsed, want)
	}
	checkSchedule(t, ticks, rate)
}

func TestRunStopsOnCancelWhileWaiting(t *testing.T) {
	s := mustNew(t, Config{Seed: 1, Rate: 0.01}) // one tick every 100s
	rec := &recorder{}
	runFor(t, s, rec, 50*time.Millisecond)
	if n := len(rec.got()); n != 1 {
		t.Errorf("%d ticks, want the first one only", n)
	}
}

func TestRunPublishError(t *testing.T) {
	s := mustNew(t, Config{Seed: 1, Rate: 100_000})
	boom := errors.New("boom")
	var last string
	rec := &recorder{}
	rec.hook = func(n int) error {
		if n == 5 {
			last = rec.got()[4].Symbol
			return boom
		}
		return nil
	}
	err := s.Run(context.Background(), rec)
	if !errors.Is(err, boom) || err.Error() != "sim: publish "+last+": boom" {
		t.Errorf("Run: %v, want sim: publish %s: boom", err, last)
	}
}

func TestRunCancelledPublishIsNotAnError(t *testing.T) {
	s := mustNew(t, Config{Seed: 1, Rate: 100_000})
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{hook: func(n int) error {
		if n == 10 {
			cancel()
			return ctx.Err()
		}
		return nil
	}}
	if err := s.Run(ctx, rec); err != nil {
		t.Errorf("Run: %v, want nil after cancel", err)
	}
	if n := len(rec.got()); n != 10 {
		t.Errorf("%d ticks published, want 10", n)
	}
}
