package main

import (
	"context"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

var natsRE = regexp.MustCompile(`NATS at (nats://\S+)`)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func natsOf(t *testing.T, p *program) *nats.Conn {
	t.Helper()
	m := natsRE.FindStringSubmatch(p.out.String())
	if m == nil {
		t.Fatalf("no NATS URL printed:\n%s", p.out)
	}
	nc, err := nats.Connect(m[1], nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

// A restarted simulator continues every symbol's seq even after all of
// its earlier ticks have left a short --max-age window (issue 13): the
// first tick of each symbol after the restart is its last tick before
// the stop + 1.
func TestRestartAfterWindowContinuesSeq(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--addr", "127.0.0.1:0", "--data", dir, "--max-age", "3s",
		"--nats-listen", freeAddr(t), "--rate", "300", "--symbols", "12", "--session=false"}

	// Run 1: every tick published, seen on core NATS as it is stored.
	p := start(t, args...)
	nc := natsOf(t, p)
	var mu sync.Mutex
	lastOld := map[string]uint64{}
	_, err := nc.Subscribe("ticks.>", func(m *nats.Msg) {
		tk, err := market.DecodeTick(m.Data)
		if err != nil {
			t.Errorf("run 1: %v", err)
			return
		}
		mu.Lock()
		lastOld[tk.Symbol] = max(lastOld[tk.Symbol], tk.Seq)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(lastOld)
		mu.Unlock()
		if n == 12 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run 1: only %d of 12 symbols ticked in 15s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	p.stop()
	stopped := time.Now()
	nc.Close() // after the server is gone: it saw the last ticks
	mu.Lock()
	seen := lastOld
	lastOld = nil
	mu.Unlock()
	// What run 1 stored last, per symbol, read from the store itself: the
	// subscriber above may miss ticks still in flight when the server
	// stopped, so it only checks that the store is not behind it.
	old := storedLast(t, dir)
	for s, q := range seen {
		if old[s] < q {
			t.Fatalf("%s: stored last seq %d, but run 1 published %d", s, old[s], q)
		}
	}

	// Past the window: nothing of run 1 is left in the ticks stream.
	time.Sleep(4 * time.Second)

	// Run 2 on the same data: read the ticks stream from its start.
	p2 := start(t, args...)
	nc2 := natsOf(t, p2)
	defer nc2.Close()
	js, err := jetstream.New(nc2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, "TICKS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"ticks.>"}})
	if err != nil {
		t.Fatal(err)
	}
	it, err := cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	firstNew := map[string]uint64{}
	for len(firstNew) < len(old) {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			t.Fatalf("run 2: %v after %d symbols (%v)", err, len(firstNew), firstNew)
		}
		tk, err := market.DecodeTick(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		if !tk.Time.After(stopped) {
			t.Fatalf("run 2: a tick of run 1 is still in the window: %+v", tk)
		}
		if _, ok := firstNew[tk.Symbol]; !ok {
			firstNew[tk.Symbol] = tk.Seq
		}
	}
	for s, q := range old {
		if firstNew[s] != q+1 {
			t.Errorf("%s: first seq after restart %d, last before %d", s, firstNew[s], q)
		}
	}
}

// storedLast opens the JetStream store in dir with a server of its own
// and returns every symbol's newest stored seq.
func storedLast(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for s, tk := range storedTicks(t, dir) {
		out[s] = tk.Seq
	}
	return out
}

// storedTicks returns every symbol's newest stored tick in the store in
// dir, read with a server of its own.
func storedTicks(t *testing.T, dir string) map[string]market.Tick {
	t.Helper()
	srv, err := feed.StartServer(feed.ServerConfig{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := feed.Connect(ctx, feed.ConnConfig{Server: srv})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	last, err := c.LastTicks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]market.Tick{}
	for s, m := range last {
		out[s] = m.Tick
	}
	return out
}

// A restart on the same store carries on the market clock: the first
// tick of run 2 is no earlier in market time than run 1's last (it used
// to start the trading day again at 09:30).
func TestRestartContinuesMarketTime(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--addr", "127.0.0.1:0", "--data", dir, "--nats-listen", freeAddr(t),
		"--rate", "200", "--symbols", "8", "--speed", "60"}
	marketTimes := func(p *program, what string, until func(time.Time) bool) time.Time {
		t.Helper()
		nc := natsOf(t, p)
		defer nc.Close()
		ch := make(chan time.Time, 1024)
		sub, err := nc.Subscribe("ticks.>", func(m *nats.Msg) {
			if tk, err := market.DecodeTick(m.Data); err == nil {
				select {
				case ch <- tk.MarketTime:
				default:
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case mt := <-ch:
				if until(mt) {
					return mt
				}
			case <-deadline:
				t.Fatalf("%s: no such tick within 20s", what)
			}
		}
	}
	p := start(t, args...)
	var first time.Time
	last := marketTimes(p, "run 1", func(mt time.Time) bool {
		if first.IsZero() {
			first = mt
		}
		return mt.Sub(first) > 5*time.Minute // of market time: 5s at --speed 60
	})
	p.stop()
	old := last
	for _, tk := range storedTicks(t, dir) {
		if tk.MarketTime.After(old) {
			old = tk.MarketTime
		}
	}
	p2 := start(t, args...)
	got := marketTimes(p2, "run 2", func(time.Time) bool { return true })
	if got.Before(old) || got.Sub(old) > 5*time.Minute {
		t.Fatalf("run 2 starts at market time %s; run 1 ended at %s", got.Format(time.RFC3339), old.Format(time.RFC3339))
	}
}
