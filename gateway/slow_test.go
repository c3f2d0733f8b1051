// A little over 400 lines: the slow-consumer tests (throttle, merging,
// shedding, shared windows) share the raw client defined here.

package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/internal/ssetest"
	"github.com/tickcast/tickcast/market"
)

// account checks the merged-tick rule for one stream of ticks: for
// consecutive events of a symbol, seq - previous seq == merged (1 when
// absent), high >= price >= low. It returns the last tick per symbol.
func account(t *testing.T, ticks []market.Tick, prev map[string]uint64) (map[string]market.Tick, int) {
	t.Helper()
	last := map[string]market.Tick{}
	merged := 0
	for _, tk := range ticks {
		step := uint64(1)
		if tk.Merged != 0 {
			if tk.Merged < 2 || !(tk.High >= tk.Price && tk.Price >= tk.Low) {
				t.Fatalf("bad merged tick %+v", tk)
			}
			step = uint64(tk.Merged)
			merged++
		}
		if p, ok := prev[tk.Symbol]; ok && tk.Seq-p != step {
			t.Fatalf("%s: seq %d after %d with merged %d", tk.Symbol, tk.Seq, p, tk.Merged)
		}
		prev[tk.Symbol] = tk.Seq
		last[tk.Symbol] = tk
	}
	return last, merged
}

func TestThrottle(t *testing.T) {
	// A ring large enough to still hold every tick at the end, so the
	// test can look up when the hub appended each.
	e := newEnv(t, Options{RingSize: 1 << 18}, feed.StreamConfig{})
	e.publish(4)
	e.waitHub(4)
	const throttle = 200 * time.Millisecond
	s := e.open("?throttle=200ms", nil)
	snap := s.next()
	if snap.name != "snapshot" {
		t.Fatal(snap)
	}
	prev := map[string]uint64{"AAA": 1, "BBB": 1, "CCC": 1, "DDD": 1}
	end := time.Now().Add(1500 * time.Millisecond)
	for n := 0; time.Now().Before(end) && n < 100_000; n += 40 {
		e.publish(40)
	}
	e.mu.Lock()
	want := map[string]uint64{}
	final := map[string]market.Tick{}
	for s, q := range e.seqs {
		want[s] = q
		final[s] = e.last[s]
	}
	e.mu.Unlock()
	var ticks []market.Tick
	got := map[string]uint64{}
	for done := false; !done; {
		ev := s.next()
		tk := ev.tick(t)
		ticks = append(ticks, tk)
		got[tk.Symbol] = tk.Seq
		done = true
		for sym, q := range want {
			if got[sym] < q {
				done = false
			}
		}
	}
	last, merged := account(t, ticks, prev)
	if merged == 0 {
		t.Fatal("no merged ticks at a high rate with throttle")
	}
	for sym, tk := range final {
		l := last[sym]
		if l.Seq != tk.Seq || l.Price != tk.Price || l.Volume != tk.Volume || l.Bid != tk.Bid || l.Ask != tk.Ask {
			t.Fatalf("%s: last event %+v, last published %+v", sym, l, tk)
		}
	}
	// At most one event per symbol per window: an event's newest tick was
	// appended by the hub before the boundary the event was sent at, and
	// after the previous one, on the clock the gateway uses (multiples of
	// the interval since the Unix epoch), so consecutive events of a
	// symbol have their newest ticks in increasing windows. This is the
	// gateway's own record, not arrival times on a busy machine.
	h := e.g.hub.Load()
	appended := map[string]int64{} // "SYM seq" -> hub time
	for pos := h.head.Load(); pos > 0; pos-- {
		en := h.at(pos)
		if en == nil {
			t.Fatalf("ring position %d is gone: ring too small for the test", pos)
		}
		appended[fmt.Sprint(en.tick.Symbol, " ", en.tick.Seq)] = en.at
	}
	window := map[string]int64{}
	for _, tk := range ticks {
		at, ok := appended[fmt.Sprint(tk.Symbol, " ", tk.Seq)]
		if !ok {
			t.Fatalf("%s seq %d is not in the hub", tk.Symbol, tk.Seq)
		}
		w := (monoBase.UnixNano() + at) / int64(throttle)
		if p, ok := window[tk.Symbol]; ok && w <= p {
			t.Fatalf("%s: two events in window %d (seq %d)", tk.Symbol, w, tk.Seq)
		}
		window[tk.Symbol] = w
	}
	t.Logf("%d events for %d ticks (%d merged events)", len(ticks), sumSeqs(want)-4, merged)
}

func sumSeqs(m map[string]uint64) int {
	n := 0
	for _, v := range m {
		n += int(v)
	}
	return n
}

// rawClient is an SSE client on a bare TCP socket with a small receive
// buffer, so that when it stops reading the gateway's writes block soon.
type rawClient struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t *testing.T, url, query string, rcvbuf int) *rawClient {
	t.Helper()
	addr := strings.TrimPrefix(url, "http://")
	d := net.Dialer{Control: nil}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tc := c.(*net.TCPConn)
	if rcvbuf > 0 {
		_ = tc.SetReadBuffer(rcvbuf)
	}
	fmt.Fprintf(c, "GET /v1/stream%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", query, addr)
	t.Cleanup(func() { c.Close() })
	return &rawClient{conn: c, r: bufio.NewReaderSize(c, 4096)}
}

func TestSlowReaderGetsMergedTicks(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		syms        []string // nil: all
	}{
		{"all symbols", "", nil},
		// A client of some symbols is merged by its own symbols' backlog.
		{"some symbols", "?symbols=AAA,CCC", []string{"AAA", "CCC"}},
	} {
		t.Run(tc.name, func(t *testing.T) { testSlowReader(t, tc.query, tc.syms) })
	}
}

func testSlowReader(t *testing.T, query string, syms []string) {
	e := newEnv(t, Options{MergeAfter: 64}, feed.StreamConfig{})
	e.publish(4)
	e.waitHub(4)
	rc := dialRaw(t, e.hs.URL, query, 4096)
	// Read slowly: a few hundred bytes at a time with pauses, while the
	// feed publishes as fast as it can.
	var events []ssetest.Event
	var mu sync.Mutex
	readerDone := make(chan struct{})
	startReading := make(chan struct{})
	go func(startReading <-chan struct{}) {
		defer close(readerDone)
		// Stalled at first, so a backlog builds up whatever the
		// machine's speed; then slow.
		<-startReading
		resp, err := http.ReadResponse(rc.r, nil)
		if err != nil {
			return
		}
		_ = ssetest.Scan(slowReader{resp.Body}, func(ev ssetest.Event) bool {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
			return true
		})
	}(startReading)
	// Stalled until 3,000 ticks (about 500 KB, far beyond the socket
	// buffers) are out, however slowly this machine publishes; then 1s
	// more of publishing while the client reads slowly.
	var end time.Time
	for published := 0; end.IsZero() || time.Now().Before(end); published += 100 {
		e.publish(100)
		if startReading != nil && published >= 3000 {
			close(startReading)
			startReading = nil
			end = time.Now().Add(time.Second)
		}
	}
	e.mu.Lock()
	final := map[string]market.Tick{}
	for s, tk := range e.last {
		if syms == nil || slices.Contains(syms, s) {
			final[s] = tk
		}
	}
	e.mu.Unlock()
	// Wait until the client has the final tick of every symbol.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		snap, ticks := parseRawTicks(t, events)
		mu.Unlock()
		prev := map[string]uint64{}
		for _, tk := range snap {
			prev[tk.Symbol] = tk.Seq
		}
		last, merged := account(t, ticks, prev)
		ok := true
		for sym, tk := range final {
			if last[sym].Seq != tk.Seq {
				ok = false
			} else if l := last[sym]; l.Price != tk.Price || l.Volume != tk.Volume {
				t.Fatalf("%s: final %+v, published %+v", sym, l, tk)
			}
		}
		if ok {
			if merged == 0 {
				t.Fatal("a slow reader got no merged ticks")
			}
			t.Logf("%d events, %d merged, for %d ticks", len(ticks), merged, sumTicks(final))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slow reader did not catch up: %d events", len(ticks))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sumTicks(m map[string]market.Tick) int {
	n := 0
	for _, tk := range m {
		n += int(tk.Seq)
	}
	return n
}

// slowReader reads at most 512 bytes at a time, 2ms apart.
type slowReader struct{ r io.Reader }

func (s slowReader) Read(b []byte) (int, error) {
	time.Sleep(2 * time.Millisecond)
	return s.r.Read(b[:min(len(b), 512)])
}

// parseRawTicks extracts the snapshot's ticks and the tick events from
// the events a raw client read.
func parseRawTicks(t *testing.T, events []ssetest.Event) (snap, out []market.Tick) {
	t.Helper()
	for _, ev := range events {
		switch ev.Type {
		case "tick":
			out = append(out, event{data: ev.Data}.tick(t))
		case "snapshot":
			snap = snapTicks(t, event{data: ev.Data})
		}
	}
	return snap, out
}

func TestStalledClientsAreShedOthersUnharmed(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	e := newEnv(t, Options{WriteTimeout: time.Second, MergeAfter: 1 << 14}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	runtime.GC()
	baseG := runtime.NumGoroutine()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	good := []*stream{e.open("", nil), e.open("?symbols=AAA,BBB", nil)}
	for _, s := range good {
		s.next() // snapshot
	}
	var stalled []*rawClient
	for i := 0; i < 50; i++ {
		stalled = append(stalled, dialRaw(t, e.hs.URL, "", 2048))
	}
	// Publish fast until every stalled client has been cut.
	ctx, cancel := context.WithCancel(context.Background())
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for ctx.Err() == nil {
			e.publish(50)
		}
	}()
	start := time.Now()
	for counterValue(t, e, "tickcast_shed_total", "write_timeout") < 50 {
		if time.Since(start) > 60*time.Second {
			cancel()
			t.Fatalf("only %v of 50 stalled clients shed", counterValue(t, e, "tickcast_shed_total", "write_timeout"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("50 stalled clients shed %s after they connected", time.Since(start).Round(time.Millisecond))
	cancel()
	<-pubDone
	// The healthy clients saw every tick, in order, none merged.
	e.mu.Lock()
	want := map[string]uint64{}
	for s, q := range e.seqs {
		want[s] = q
	}
	e.mu.Unlock()
	all := collect(t, good[0], want)
	checkExact(t, all, map[string]uint64{"AAA": 1, "BBB": 1, "CCC": 1, "DDD": 1})
	two := collect(t, good[1], map[string]uint64{"AAA": want["AAA"], "BBB": want["BBB"]})
	checkExact(t, two, map[string]uint64{"AAA": 1, "BBB": 1})
	for _, s := range good {
		s.close()
	}
	for _, c := range stalled {
		c.conn.Close()
	}
	// Goroutines and heap come back.
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		g := runtime.NumGoroutine()
		if g <= baseG+5 && ms.HeapInuse < base.HeapInuse+64<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines %d (base %d), heap %d MiB (base %d MiB)", g, baseG, ms.HeapInuse>>20, base.HeapInuse>>20)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Clients with the same throttle and symbols send the same merged
// windows, built once: byte-identical events, the cache counted.
func TestThrottleWindowsShared(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	var clients []*stream
	for i := 0; i < 3; i++ {
		s := e.open("?throttle=100ms&symbols=AAA,BBB,CCC", nil)
		if ev := s.next(); ev.name != "snapshot" {
			t.Fatal(ev)
		}
		clients = append(clients, s)
	}
	end := time.Now().Add(time.Second)
	for time.Now().Before(end) {
		e.publish(20)
	}
	e.mu.Lock()
	want := map[string]uint64{"AAA": e.seqs["AAA"], "BBB": e.seqs["BBB"], "CCC": e.seqs["CCC"]}
	e.mu.Unlock()
	var tails [][]string
	for _, s := range clients {
		var evs []string
		got := map[string]uint64{}
		for got["AAA"] < want["AAA"] || got["BBB"] < want["BBB"] || got["CCC"] < want["CCC"] {
			ev := s.next()
			tk := ev.tick(t)
			got[tk.Symbol] = tk.Seq
			evs = append(evs, ev.id+" "+ev.data)
		}
		tails = append(tails, evs[len(evs)-6:])
	}
	for i := 1; i < len(tails); i++ {
		for k := range tails[0] {
			if tails[i][k] != tails[0][k] {
				t.Fatalf("client %d differs from client 0 in the last windows:\n%s\n%s", i, tails[i][k], tails[0][k])
			}
		}
	}
	if n := counterValue(t, e, "tickcast_throttle_window_shared_total", ""); n == 0 {
		t.Fatal("no window was shared")
	}
}
