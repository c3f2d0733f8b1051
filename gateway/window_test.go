package gateway

import (
	"net/http"
	"testing"
	"time"
)

// The window cache is bounded by bytes: many large windows never hold
// more than maxWindowBytes (8 MiB), and the newest stay.
func TestWindowCacheBoundedByBytes(t *testing.T) {
	var wc windowCache
	frame := make([]byte, 1<<20)
	for i := 0; i < 100; i++ {
		wc.put(windowKey{throttle: time.Second, from: uint64(i), to: uint64(i + 1), syms: "*"}, &window{frames: frame})
	}
	total := 0
	for k, w := range wc.m {
		total += len(w.frames) + len(k.syms)
	}
	if total > 8<<20 {
		t.Fatalf("cache holds %d MiB of windows, want at most 8", total>>20)
	}
	if wc.get(windowKey{throttle: time.Second, from: 99, to: 100, syms: "*"}) == nil {
		t.Fatal("the newest window was dropped")
	}
	// Many small windows: the bound holds too, and the count adds up.
	for i := 0; i < 200_000; i++ {
		wc.put(windowKey{throttle: time.Millisecond, from: uint64(i), to: uint64(i + 1), syms: "1,2,3"}, &window{frames: make([]byte, 50)})
	}
	if n := len(wc.m); n*(50+5) > 8<<20 || n == 0 {
		t.Fatalf("%d windows", n)
	}
}

// throttle= is rounded up to whole milliseconds and to at least 10ms, so
// clients asking for nearly the same interval share a clock and windows.
func TestThrottleQuantized(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"1ns", 10 * time.Millisecond},
		{"9ms", 10 * time.Millisecond},
		{"1500us", 10 * time.Millisecond},
		{"200ms", 200 * time.Millisecond},
		{"200.0001ms", 201 * time.Millisecond},
		{"1.5s", 1500 * time.Millisecond},
		{"59.9999999s", 60 * time.Second},
		{"60s", 60 * time.Second},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/v1/stream?throttle="+tc.in, nil)
		got, err := parseThrottle(r)
		if err != nil || got != tc.want {
			t.Errorf("throttle=%s: %s (%v), want %s", tc.in, got, err, tc.want)
		}
	}
}
