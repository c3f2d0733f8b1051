package gateway

import (
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
)

// A client of one symbol that stops ticking, while the others tick enough
// to wrap the ring many times, is healthy: it stays connected, is never
// counted as lapped, and gets its symbol's next ticks with no gap.
func TestQuietSymbolClientNotShed(t *testing.T) {
	// The heartbeat sweep, which also wakes the client, is rare here: at
	// a high enough rate the ring wraps between two sweeps anyway.
	e := newEnv(t, Options{RingSize: 256, Heartbeat: 10 * time.Second}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	s := e.open("?symbols=AAA", nil)
	if ev := s.next(); ev.name != "snapshot" {
		t.Fatal(ev)
	}
	e.publish(10*256, "BBB", "CCC", "DDD") // 10 ring lengths
	e.waitHub(4 + 10*256)
	e.publish(5, "AAA")
	want := uint64(2) // the snapshot held AAA seq 1
	for want <= 6 {
		ev := s.next()
		if ev.name != "tick" {
			t.Fatalf("got %s %q, want AAA ticks", ev.name, ev.data)
		}
		tk := ev.tick(t)
		if tk.Symbol != "AAA" || tk.Seq != want || tk.Merged != 0 {
			t.Fatalf("got %+v, want AAA seq %d unmerged", tk, want)
		}
		want++
	}
	if n := counterValue(t, e, "tickcast_shed_total", "lapped"); n != 0 {
		t.Fatalf("shed lapped = %v", n)
	}
}
