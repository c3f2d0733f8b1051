package gateway

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
)

func liveCount(g *Gateway) int {
	g.liveMu.Lock()
	defer g.liveMu.Unlock()
	return len(g.live)
}

func loopCount(g *Gateway) int {
	g.liveMu.Lock()
	defer g.liveMu.Unlock()
	n := 0
	for c := range g.live {
		if c.lpa.Load() != nil {
			n++
		}
	}
	return n
}

// HTTP/1.1 streams are served by the event loop: no goroutine each.
func TestLoopHoldsNoGoroutinePerStream(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	s := e.open("", nil) // starts the workers and the poller
	s.next()
	runtime.GC()
	base := runtime.NumGoroutine()
	const n = 200
	for range n {
		dialRaw(t, e.hs.URL, "", 0)
	}
	waitFor(t, 10*time.Second, "streams on the loop", func() bool { return loopCount(e.g) == n+1 })
	// Let the handlers' goroutines end (the connection is hijacked and
	// handed over).
	waitFor(t, 10*time.Second, "goroutines to settle", func() bool { return runtime.NumGoroutine() < base+n/10 })
	e.publish(8)
	for range 8 {
		if ev := s.next(); ev.name != "tick" {
			t.Fatalf("got %q", ev.name)
		}
	}
}

// With FlushInterval every tick still arrives, in order.
func TestFlushIntervalLossless(t *testing.T) {
	for _, noLoop := range []bool{false, true} {
		t.Run(fmt.Sprintf("noEventLoop=%v", noLoop), func(t *testing.T) {
			e := newEnv(t, Options{FlushInterval: 30 * time.Millisecond, NoEventLoop: noLoop}, feed.StreamConfig{Memory: true})
			e.publish(4)
			e.waitHub(4)
			s := e.open("", nil)
			s.next() // snapshot
			start := time.Now()
			e.publish(400)
			all := collect(t, s, map[string]uint64{"AAA": 101, "BBB": 101, "CCC": 101, "DDD": 101})
			checkExact(t, all, map[string]uint64{"AAA": 1, "BBB": 1, "CCC": 1, "DDD": 1})
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("400 ticks took %s", d)
			}
		})
	}
}

// Malicious clients cannot stall the workers: while some never read,
// some send a request body without end, some reset the connection in
// the middle of a write and some half-close, a healthy client gets every
// tick, promptly, and the others are all let go.
func TestLoopMaliciousClients(t *testing.T) {
	e := newEnv(t, Options{WriteTimeout: time.Second, MergeAfter: 1 << 14}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	good := e.open("", nil)
	good.next() // snapshot
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	const k = 8
	for range k {
		dialRaw(t, e.hs.URL, "", 2048) // never reads
	}
	for range k {
		c := dialRaw(t, e.hs.URL, "", 0) // sends forever
		wg.Add(1)
		go func() {
			defer wg.Done()
			junk := []byte(strings.Repeat("x", 32<<10))
			for ctx.Err() == nil {
				_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.conn.Write(junk); err != nil && !isTimeout(err) {
					return
				}
			}
		}()
	}
	var resets []*rawClient
	for range k {
		resets = append(resets, dialRaw(t, e.hs.URL, "", 2048))
	}
	for range k {
		c := dialRaw(t, e.hs.URL, "", 0) // reads the head, then half-closes
		_, _ = c.r.ReadString('\n')
		_ = c.conn.(*net.TCPConn).CloseWrite()
	}
	waitFor(t, 10*time.Second, "the streams to start", func() bool { return liveCount(e.g) >= 1+3*k-k })

	// Publish in bursts; the healthy client must see each burst soon.
	want := map[string]uint64{"AAA": 1, "BBB": 1, "CCC": 1, "DDD": 1}
	var got []string
	for round := range 40 {
		if round == 5 {
			for _, c := range resets { // reset while the gateway writes
				_ = c.conn.(*net.TCPConn).SetLinger(0)
				c.conn.Close()
			}
		}
		start := time.Now()
		ticks := e.publish(40)
		for range ticks {
			ev := good.next()
			if ev.name != "tick" {
				t.Fatalf("healthy client got %q", ev.name)
			}
			got = append(got, ev.data)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("round %d: 40 ticks took %s to reach the healthy client", round, d)
		}
	}
	ticks := make([]event, 0, len(got))
	for _, d := range got {
		ticks = append(ticks, event{name: "tick", data: d})
	}
	seen := map[string]uint64{}
	for _, ev := range ticks {
		tk := ev.tick(t)
		if tk.Seq != want[tk.Symbol]+seen[tk.Symbol]+1 {
			t.Fatalf("%s: seq %d, want %d", tk.Symbol, tk.Seq, want[tk.Symbol]+seen[tk.Symbol]+1)
		}
		seen[tk.Symbol]++
	}
	// Every malicious client is let go: the stalled ones by the write
	// timeout (ticks keep coming), the others as soon as they are seen.
	cancel()
	wg.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for liveCount(e.g) > 1 { // the senders never read either: shed too
		if time.Now().After(deadline) {
			t.Fatalf("%d streams still live", liveCount(e.g))
		}
		e.publish(40)
		time.Sleep(50 * time.Millisecond)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// A client whose socket fills and then drains goes on: its throttle
// clock and the flush interval resume (timers that fired while it was
// full are not lost), and it ends up with the newest tick.
func TestLoopDrainResumesTimers(t *testing.T) {
	for _, q := range []string{"?throttle=50ms", ""} {
		t.Run(q, func(t *testing.T) {
			e := newEnv(t, Options{WriteTimeout: 20 * time.Second, FlushInterval: 20 * time.Millisecond}, feed.StreamConfig{Memory: true})
			e.publish(4)
			e.waitHub(4)
			c := dialRaw(t, e.hs.URL, q, 2048)
			waitFor(t, 10*time.Second, "the stream on the loop", func() bool { return loopCount(e.g) == 1 })
			// Fill its socket while it does not read.
			waitFor(t, 15*time.Second, "its socket to fill", func() bool {
				e.publish(200)
				e.g.liveMu.Lock()
				defer e.g.liveMu.Unlock()
				for cl := range e.g.live {
					if lp := cl.lpa.Load(); lp != nil && lp.blocked.Load() {
						return true
					}
				}
				return false
			})
			last := e.publish(1, "AAA")[0]
			want := fmt.Sprintf(`"symbol":"AAA","seq":%d,`, last.Seq)
			_ = c.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			for {
				line, err := c.r.ReadString('\n')
				if err != nil {
					t.Fatalf("reading: %v (no tick AAA %d)", err, last.Seq)
				}
				if strings.Contains(line, want) {
					return
				}
			}
		})
	}
}
