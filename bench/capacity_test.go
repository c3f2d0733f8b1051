package bench

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The search finds the highest passing rate to within searchWithin,
// whether it starts below or above it, in at most searchSteps runs.
func TestSearchRates(t *testing.T) {
	for _, tc := range []struct {
		name         string
		start, limit float64
	}{
		{"from below", 100, 1234},
		{"from above", 5000, 1234},
		{"far below", 10, 5000},
		{"just at it", 1234, 1234},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := 0
			got, err := searchRates(tc.start, func(rate float64) (bool, error) {
				runs++
				return rate <= tc.limit, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got > tc.limit || got*searchWithin*searchGrow < tc.limit {
				t.Errorf("found %g for a limit of %g", got, tc.limit)
			}
			if runs > searchSteps {
				t.Errorf("%d runs", runs)
			}
		})
	}
	got, err := searchRates(100, func(float64) (bool, error) { return false, nil })
	if got != 0 || err != nil {
		t.Errorf("nothing passes: got %g, %v", got, err)
	}
	boom := errors.New("boom")
	if _, err := searchRates(100, func(float64) (bool, error) { return true, boom }); err != boom {
		t.Errorf("error %v, want boom", err)
	}
}

// A step counts towards capacity only with p99 within the bound and
// nothing lost; the line printed names the best step and the first
// failure above it.
func TestCapacityBest(t *testing.T) {
	ok := func(rate float64, p99 int64) *Result {
		return &Result{Rate: rate, Clients: 1000, OfferedPerSec: rate * 1000, DeliveriesPerSec: rate * 1000,
			Latency: Latency{P99: p99}, GatewayCPUUsPerDelivery: 1.5}
	}
	late := ok(1500, 60_000)
	gaps := ok(1200, 20_000)
	gaps.Gaps = 3
	short := ok(1100, 20_000)
	short.DeliveriesPerSec = 0.99 * short.OfferedPerSec
	cut := ok(1050, 20_000)
	cut.Disconnects = 1
	rs := []*Result{ok(500, 10_000), ok(1000, 45_000), late, gaps, short, cut}
	c := Capacity{}
	for _, r := range rs[2:] {
		if c.Fails(r) == "" {
			t.Errorf("rate %g passes", r.Rate)
		}
	}
	if b := c.Best(rs); b != 1 {
		t.Fatalf("best %d, want 1", b)
	}
	var out bytes.Buffer
	c.WriteCapacity(&out, rs)
	if s := out.String(); !strings.Contains(s, "capacity: 1,000,000 deliveries/s with p99 <= 50.0ms and nothing lost: rate 1000 x 1000 clients, p99 45.0ms") ||
		!strings.Contains(s, "first failure above it: rate 1050") {
		t.Errorf("capacity line:\n%s", s)
	}
}
