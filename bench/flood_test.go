package bench

import (
	"context"
	"testing"
	"time"
)

func TestParseDepth(t *testing.T) {
	for _, tc := range []struct {
		in     string
		lo, hi uint64
		ok     bool
	}{
		{"100000-1000000", 100000, 1000000, true},
		{"5-5", 5, 5, true},
		{"0-10", 0, 0, false},
		{"10-5", 0, 0, false},
		{"10", 0, 0, false},
		{"a-b", 0, 0, false},
	} {
		lo, hi, err := ParseDepth(tc.in)
		if (err == nil) != tc.ok || tc.ok && (lo != tc.lo || hi != tc.hi) {
			t.Errorf("ParseDepth(%q) = %d, %d, %v", tc.in, lo, hi, err)
		}
	}
}

// TestFlood runs a real gateway with 20 flood clients resuming from
// behind its ring: they complete catch-ups (each one event per symbol),
// and the healthy clients still get every tick.
func TestFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs tickcast serve")
	}
	exe := buildTickcast(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := Config{Exe: exe, Clients: 20, Rate: 2000, Duration: 5 * time.Second, Warmup: 2 * time.Second,
		Flood: 20, FloodMin: 500, FloodMax: 3000, Scenario: "flood", ServeArgs: []string{"--ring", "256"}}
	res, err := Run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Flood
	if f == nil {
		t.Fatal("no flood result")
	}
	if f.Resumes < 20 || f.Resets != 0 {
		t.Fatalf("flood: %+v; want at least 20 catch-ups and no resets; errors %q", *f, res.Errors)
	}
	if res.Gaps != 0 || res.Delivered == 0 {
		t.Fatalf("healthy clients: %d gaps, %d delivered", res.Gaps, res.Delivered)
	}
}
