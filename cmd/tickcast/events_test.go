package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tickcast/tickcast/market"
)

// eventSeqs follows every event subject on core NATS and keeps, per
// counter, the first and last seq seen.
type eventSeqs struct {
	mu          sync.Mutex
	first, last map[string]uint64
	bad         []string
}

func followEvents(t *testing.T, nc *nats.Conn) *eventSeqs {
	t.Helper()
	e := &eventSeqs{first: map[string]uint64{}, last: map[string]uint64{}}
	for _, subj := range []string{"quotes.>", "bars.>", "status.>", "market.>"} {
		_, err := nc.Subscribe(subj, func(m *nats.Msg) {
			var key string
			var seq uint64
			var err error
			switch {
			case strings.HasPrefix(m.Subject, "quotes."):
				var q market.Quote
				q, err = market.DecodeQuote(m.Data)
				key, seq = "q/"+q.Symbol, q.Seq
			case strings.HasPrefix(m.Subject, "bars."):
				var b market.Bar
				b, err = market.DecodeBar(m.Data)
				key, seq = "b/"+b.Symbol+"/"+b.Interval, b.Seq
			case strings.HasPrefix(m.Subject, "status."):
				var s market.Status
				s, err = market.DecodeStatus(m.Data)
				key, seq = "s/"+s.Symbol, s.Seq
			default:
				var c market.Clock
				c, err = market.DecodeClock(m.Data)
				key, seq = "clock", c.Seq
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			if err != nil {
				e.bad = append(e.bad, m.Subject+": "+err.Error())
				return
			}
			if _, ok := e.first[key]; !ok {
				e.first[key] = seq
			}
			e.last[key] = max(e.last[key], seq)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *eventSeqs) has(prefix string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k := range e.last {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// The simulator publishes quotes, bars and the clock into the stream,
// and a restarted one continues each counter (and the halt's status
// counter) from where the last one stopped.
func TestEventsCountersContinueAfterRestart(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--addr", "127.0.0.1:0", "--data", dir, "--nats-listen", freeAddr(t), "--rate", "300", "--symbols", "4",
		"--bars", "1s", "--scenario", `{"name":"halt","symbol":"AAPL","duration":"1s"}`}
	run := func(wait func(*eventSeqs) bool) *eventSeqs {
		t0 := time.Now()
		p := start(t, args...)
		defer func() { t.Logf("run took %v", time.Since(t0)) }()
		nc := natsOf(t, p)
		e := followEvents(t, nc)
		deadline := time.Now().Add(45 * time.Second) // generous, for a loaded machine: it returns at the first pass
		for !wait(e) {
			if time.Now().After(deadline) {
				e.mu.Lock()
				t.Fatalf("events after 45s: %v", e.last)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("events ready after %v", time.Since(t0))
		p.stop()
		nc.Close()
		e.mu.Lock()
		defer e.mu.Unlock()
		if len(e.bad) > 0 {
			t.Fatalf("malformed events: %v", e.bad[:1])
		}
		return e
	}
	ready := func(e *eventSeqs) bool { return e.has("q/") && e.has("b/") && e.has("s/AAPL") }
	e1 := run(ready)
	e2 := run(ready)
	for key, last := range e1.last {
		first, ok := e2.first[key]
		if !ok {
			continue // a quiet counter that run 2 did not reach
		}
		if first <= last {
			t.Errorf("%s: run 2 started at seq %d, run 1 had reached %d", key, first, last)
		}
	}
}
