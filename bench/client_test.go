package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

// fakeGateway is a tiny SSE server with the gateway's endpoints: every
// interval it sends one tick per requested symbol, stamped with the time
// it sends it. Per connection, the tick with seq gapAt is skipped and the
// one at mergeAt is sent as merged (3 ticks).
type fakeGateway struct {
	symbols      []string
	interval     time.Duration
	gapAt        uint64
	mergeAt      uint64
	writeTimeout time.Duration // per write; 0: none
}

func (f *fakeGateway) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /v1/symbols", func(w http.ResponseWriter, r *http.Request) {
		var infos []market.SymbolInfo
		for _, s := range f.symbols {
			infos = append(infos, market.SymbolInfo{Symbol: s, Name: s})
		}
		json.NewEncoder(w).Encode(infos)
	})
	mux.HandleFunc("GET /v1/stream", f.stream)
	return mux
}

func (f *fakeGateway) stream(w http.ResponseWriter, r *http.Request) {
	syms := f.symbols
	if q := r.URL.Query().Get("symbols"); q != "" {
		syms = strings.Split(q, ",")
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	seq := make([]uint64, len(syms))
	var snap struct {
		Ticks []market.Tick `json:"ticks"`
	}
	for i, s := range syms {
		seq[i] = 1
		snap.Ticks = append(snap.Ticks, market.Tick{Symbol: s, Seq: 1, Time: time.Now(), Price: 1})
	}
	data, _ := json.Marshal(snap)
	buf := fmt.Appendf(nil, "retry: 1000\n\n: hello\n\nid: e-0\nevent: snapshot\ndata: %s\n\n", data)
	id := 0
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		if f.writeTimeout > 0 {
			rc.SetWriteDeadline(time.Now().Add(f.writeTimeout))
		}
		if _, err := w.Write(buf); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
		buf = buf[:0]
		for i, s := range syms {
			seq[i]++
			tk := market.Tick{Symbol: s, Time: time.Now(), Price: 1, Bid: 1, Ask: 1, Size: 1}
			if seq[i] == f.gapAt {
				seq[i]++
			}
			if seq[i] == f.mergeAt {
				seq[i] += 2
				tk.Merged, tk.High, tk.Low = 3, 1, 1
			}
			tk.Seq = seq[i]
			id++
			buf = fmt.Appendf(buf, "id: e-%d\nevent: tick\ndata: ", id)
			buf = tk.AppendJSON(buf)
			buf = append(buf, "\n\n"...)
		}
	}
}

// TestClientKnownEvents runs one client against a server that writes a
// fixed script, checking every count.
func TestClientKnownEvents(t *testing.T) {
	tick := func(sym string, seq uint64, merged int64) string {
		tk := market.Tick{Symbol: sym, Seq: seq, Time: time.Now(), Price: 2, Merged: merged}
		return string(tk.AppendJSON(nil))
	}
	script := []string{
		"retry: 2000\n: comment\n\n",
		"id: e-1\nevent: snapshot\ndata: {\"ticks\":[" + tick("AAA", 10, 0) + "," + tick("BBB", 5, 0) + "]}\n\n",
		"id: e-2\nevent: tick\ndata: " + tick("AAA", 11, 0) + "\n\n",
		"id: e-3\r\nevent: tick\r\ndata: " + tick("BBB", 6, 0) + "\r\n\r\n",
		"id: e-4\nevent: tick\ndata: " + tick("AAA", 13, 0) + "\n\n", // gap of 1
		"id: e-5\nevent: tick\ndata: " + tick("AAA", 13, 0) + "\n\n", // duplicate
		"id: e-6\nevent: tick\ndata: " + tick("BBB", 9, 3) + "\n\n",  // merged, exact
		"id: e-7\nevent: tick\ndata: " + tick("AAA", 20, 3) + "\n\n", // merged after a gap of 4
		"id: e-8\nevent: tick\ndata: not json\n\n",
		"id: e-9\nevent: tick\ndata: " + tick("ZZZ", 1, 0) + "\n\n", // not in the universe
		"id: e-10\nevent: tick\ndata: " + tick("ZZZ", 2, 0),         // split mid-event
		"\n\n",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/stream" || r.Header.Get("Last-Event-ID") != "" {
			http.Error(w, "bad request", 400)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		for _, s := range script {
			io.WriteString(w, s)
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()

	c := testClient(t, srv.URL, []string{"AAA", "BBB"})
	if err := c.dial(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.readLoop(); err != io.EOF {
		t.Fatalf("readLoop: %v, want io.EOF at the end of the chunked body", err)
	}
	c.conn.Close()
	c.flush()
	want := seqStats{Events: 8, Ticks: 11, Gaps: 5, GapEvents: 2, Dups: 1, Merged: 6, MergedEvents: 2}
	if got := c.sh.st; got != want {
		t.Errorf("stats\n got %+v\nwant %+v", got, want)
	}
	if c.sh.bad != 1 || c.sh.snapshots != 1 || c.p.Retry != 2000 || string(c.p.LastID()) != "e-10" {
		t.Errorf("bad %d snapshots %d retry %d last id %q", c.sh.bad, c.sh.snapshots, c.p.Retry, c.p.LastID())
	}
	if n := c.sh.hist.TotalCount(); n != 8 {
		t.Errorf("%d latencies recorded, want 8", n)
	}
	if c.sh.winTicks != 11 {
		t.Errorf("window ticks %d, want 11", c.sh.winTicks)
	}
}

func testClient(t *testing.T, base string, universe []string) *client {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{hostport: u.Host, index: map[string]int32{}}
	for i, s := range universe {
		r.index[s] = int32(i)
	}
	r.makeControls()
	r.winStart.Store(0)
	r.winEnd.Store(1<<63 - 1)
	c := &client{r: r, sh: newShard(), query: "/v1/stream", buf: make([]byte, 512), last: make([]uint64, len(universe))}
	c.p.Reset(c, true)
	return c
}

func TestCheckHead(t *testing.T) {
	for _, tt := range []struct {
		head    string
		chunked bool
		ok      bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n", true, true},
		{"HTTP/1.1 200 OK\r\ncontent-type: TEXT/EVENT-STREAM; charset=utf-8\r\n", false, true},
		{"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n", false, false},
		{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n", false, false},
		{"garbage\r\n", false, false},
	} {
		chunked, _, err := checkHead([]byte(tt.head))
		if (err == nil) != tt.ok || chunked != tt.chunked {
			t.Errorf("%q: chunked %v err %v", tt.head, chunked, err)
		}
	}
}

func TestRunAgainstTarget(t *testing.T) {
	fg := &fakeGateway{symbols: []string{"AAA", "BBB", "CCC"}, interval: 10 * time.Millisecond, gapAt: 30, mergeAt: 60}
	srv := httptest.NewServer(fg.handler())
	defer srv.Close()
	cfg := Config{Target: srv.URL, Clients: 6, PerClientSymbols: 2, Duration: 800 * time.Millisecond,
		Warmup: 100 * time.Millisecond, Drain: 300 * time.Millisecond, Scenario: "test"}
	var progress strings.Builder
	res, err := Run(context.Background(), cfg, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 6 || res.ConnectErrors != 0 || res.Disconnects != 0 {
		t.Fatalf("connections: %+v", res)
	}
	// Every client sees seq 30 skipped and seq 60-62 merged, on both its symbols.
	if res.Gaps != 12 || res.GapEvents != 12 || res.Merged != 36 || res.MergedEvents != 12 || res.Dups != 0 || res.BadEvents != 0 {
		t.Errorf("seq: gaps %d/%d merged %d/%d dups %d bad %d", res.Gaps, res.GapEvents, res.Merged, res.MergedEvents, res.Dups, res.BadEvents)
	}
	if res.Delivered == 0 || res.Latency.P50 <= 0 || res.Latency.Max < res.Latency.P99 || res.Latency.P50 > 500_000 {
		t.Errorf("delivered %d latency %+v", res.Delivered, res.Latency)
	}
	if res.SymbolsPerClient != 2 || res.Universe != 3 {
		t.Errorf("symbols per client %v universe %d", res.SymbolsPerClient, res.Universe)
	}
	if !strings.Contains(progress.String(), "connected 6/6") {
		t.Errorf("progress: %q", progress.String())
	}
	var table strings.Builder
	res.WriteTable(&table)
	if !strings.Contains(table.String(), "p99.9") {
		t.Errorf("table: %s", table.String())
	}
	if _, err := json.Marshal(res); err != nil {
		t.Fatal(err)
	}
}

// TestRunSlowClientsShed: stalled clients fill their buffers, the server's
// write times out, and the bench finds them shed; the healthy ones are not.
func TestRunSlowClientsShed(t *testing.T) {
	fg := &fakeGateway{symbols: []string{"AAA", "BBB", "CCC", "DDD"}, interval: time.Millisecond, writeTimeout: 200 * time.Millisecond}
	srv := httptest.NewUnstartedServer(fg.handler())
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		c.(*net.TCPConn).SetWriteBuffer(4096) // so a stalled reader blocks writes soon
		return ctx
	}
	srv.Start()
	defer srv.Close()
	cfg := Config{Target: srv.URL, Clients: 4, Slow: 0.5, Duration: 1500 * time.Millisecond,
		Warmup: -1, Drain: 500 * time.Millisecond}
	res, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.SlowClients != 2 || res.Shed != 2 || res.Disconnects != 0 {
		t.Errorf("slow %d shed %d disconnects %d; errors %v", res.SlowClients, res.Shed, res.Disconnects, res.Errors)
	}
	if res.Delivered == 0 || res.Gaps != 0 {
		t.Errorf("healthy clients: delivered %d gaps %d", res.Delivered, res.Gaps)
	}
}

// TestRunChild runs the bench the way tickcast does, with the gateway as a
// child process: this test binary, acting as a fake `tickcast serve`.
func TestRunChild(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Exe: exe, ChildEnv: []string{"BENCH_FAKE_SERVE=1"}, Clients: 4, Rate: 300, Symbols: 3,
		Memory: true, Duration: time.Second, Warmup: 200 * time.Millisecond, Drain: 300 * time.Millisecond}
	res, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 4 || res.Delivered == 0 || res.Gaps != 0 {
		t.Errorf("connected %d delivered %d gaps %d", res.Connected, res.Delivered, res.Gaps)
	}
	if res.RSSBytes <= 0 || res.RSSPeakBytes < res.RSSBytes || res.GatewayCPUS < 0 {
		t.Errorf("gateway rss %d peak %d cpu %v", res.RSSBytes, res.RSSPeakBytes, res.GatewayCPUS)
	}
	// Memory per connection both right after the connect burst and at the
	// window's end, the streams settled.
	if want := float64(res.RSSBytes-res.RSSBaseBytes) / float64(res.Connected); res.RSSPerConnEnd != want {
		t.Errorf("rss per conn at the end %v, want %v", res.RSSPerConnEnd, want)
	}
	// The bench measures itself beside the gateway.
	if res.BenchCPUS <= 0 || res.BenchCPUUsPerDelivery <= 0 || res.GatewayCPUUsPerDelivery != res.CPUUsPerDelivery {
		t.Errorf("bench cpu %v s, %v us/delivery; gateway %v us/delivery (cpu_us_per_delivery %v)",
			res.BenchCPUS, res.BenchCPUUsPerDelivery, res.GatewayCPUUsPerDelivery, res.CPUUsPerDelivery)
	}
	if m := res.Machine; m == nil || (len(m.Reasons) > 0) != res.Saturated {
		t.Errorf("machine %+v, saturated %v", res.Machine, res.Saturated)
	}
	// 300 ticks/s over 3 symbols: 100/s each; 4 clients on all 3 symbols.
	if res.OfferedPerSec != 1200 {
		t.Errorf("offered %v, want 1200", res.OfferedPerSec)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("BENCH_FAKE_SERVE") == "1" {
		fakeServe(os.Args[1:])
		return
	}
	os.Exit(m.Run())
}

// fakeServe is a stand-in for `tickcast serve`: it takes --rate and
// --symbols, prints its URL and serves until SIGTERM.
func fakeServe(args []string) {
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprintln(os.Stderr, "fake serve: want the serve command, got", args)
		os.Exit(2)
	}
	rate, nsym := 100.0, 5
	for i := 1; i+1 < len(args); i++ {
		switch args[i] {
		case "--rate":
			rate, _ = strconv.ParseFloat(args[i+1], 64)
		case "--symbols":
			nsym, _ = strconv.Atoi(args[i+1])
		}
	}
	fg := &fakeGateway{interval: time.Duration(float64(nsym) / rate * float64(time.Second))}
	for i := 0; i < nsym; i++ {
		fg.symbols = append(fg.symbols, "S"+strconv.Itoa(i))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("fake: serving http://%s/\n", ln.Addr())
	srv := &http.Server{Handler: fg.handler()}
	go srv.Serve(ln)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	os.Exit(0)
}
