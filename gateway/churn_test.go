package gateway

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// A client cut off at random moments while ticks flow at >= 1,000/s
// resumes each time from the last id it parsed, sometimes from the
// gateway's memory and sometimes (when it stayed away longer than the
// ring holds) from JetStream. Per symbol, the seqs it saw must account
// for every tick published: none lost, none repeated.
func TestResumeUnderChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	e := newEnv(t, Options{RingSize: 256, MergeAfter: 1 << 20}, feed.StreamConfig{})
	e.publish(4)
	e.waitHub(4)
	ctx, cancel := context.WithCancel(context.Background())
	// One publisher per symbol keeps each symbol's order; together they
	// aim at 2,000 ticks/s.
	var pubs sync.WaitGroup
	var published atomic.Int64
	for _, sym := range testSymbols {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for ctx.Err() == nil {
				<-tick.C
				e.publish(5, sym)
				published.Add(5)
			}
		}()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	prev := map[string]uint64{}
	lastID := ""
	var events int
	start := time.Now()
	for round := 0; round <= 20; round++ {
		var s *stream
		if lastID == "" {
			s = e.open("", nil)
			snap := s.next()
			if snap.name != "snapshot" {
				t.Fatalf("first event %s", snap.name)
			}
			for _, tk := range snapTicks(t, snap) {
				prev[tk.Symbol] = tk.Seq
			}
			lastID = snap.id
		} else {
			s = e.open("?lastEventId="+lastID, nil)
		}
		cut := time.After(time.Duration(rng.IntN(150)) * time.Millisecond)
	read:
		for {
			select {
			case ev, ok := <-s.events:
				if !ok {
					t.Fatal("stream ended")
				}
				if ev.name != "tick" {
					t.Fatalf("round %d: %s event %s", round, ev.name, ev.data)
				}
				tk := ev.tick(t)
				if p, ok := prev[tk.Symbol]; ok && tk.Seq != p+1 {
					t.Fatalf("round %d: %s seq %d after %d", round, tk.Symbol, tk.Seq, p)
				}
				prev[tk.Symbol] = tk.Seq
				lastID = ev.id
				events++
			case <-cut:
				break read
			}
		}
		s.close()
		// Stay away a while: on odd rounds until the gateway's ring (256
		// ticks) no longer holds the position, so JetStream must replay.
		if round%2 == 0 {
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		} else {
			_, seq, _ := sse.ParseID(lastID)
			target := seq + 300 + uint64(rng.IntN(300))
			waitFor(t, 10*time.Second, "the hub passing the ring", func() bool { return e.g.hub.Load().lastSeqNow() >= target })
		}
	}
	cancel()
	pubs.Wait()
	elapsed := time.Since(start)
	rate := float64(published.Load()) / elapsed.Seconds()
	// Finally, catch up to the end and compare with what was published.
	e.mu.Lock()
	want := map[string]uint64{}
	for s, q := range e.seqs {
		want[s] = q
	}
	e.mu.Unlock()
	s := e.open("?lastEventId="+lastID, nil)
	checkExact(t, collect(t, s, want), prev)
	mem, js := counterValue(t, e, "tickcast_resumes_total", "memory"), counterValue(t, e, "tickcast_resumes_total", "jetstream")
	t.Logf("%d ticks published in %s (%.0f/s), %d events read live, resumes: %v from memory, %v from JetStream",
		published.Load(), elapsed.Round(time.Millisecond), rate, events, mem, js)
	if rate < 1000 {
		t.Logf("note: publishing reached only %.0f ticks/s on this machine", rate)
	}
	if mem == 0 || js == 0 {
		t.Fatalf("churn did not exercise both resume paths (memory %v, jetstream %v)", mem, js)
	}
}

func snapTicks(t *testing.T, ev event) []market.Tick {
	t.Helper()
	var body struct{ Ticks []market.Tick }
	if err := jsonUnmarshal(ev.data, &body); err != nil {
		t.Fatal(err)
	}
	return body.Ticks
}
