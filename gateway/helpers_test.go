package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/internal/ssetest"
	"github.com/tickcast/tickcast/market"
)

// env is a real embedded JetStream server, a gateway reading it and an
// HTTP server on loopback.
type env struct {
	t      testing.TB
	srv    *feed.Server
	conn   *feed.Conn
	src    Source // what the gateway reads: conn, or a wrapper of it
	g      *Gateway
	hs     *httptest.Server
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	seqs map[string]uint64
	last map[string]market.Tick
}

// testSndbuf is the kernel send buffer of test connections: small, so
// slow and stalled clients show up quickly.
var testSndbuf = 16 << 10

var testSymbols = []string{"AAA", "BBB", "CCC", "DDD"}

// testIndexDelay, when set, is the indexDelay of the gateways the env
// starts (< 0: no background indexing). setIndexDelay sets it for one
// test.
var testIndexDelay time.Duration

func setIndexDelay(t testing.TB, d time.Duration) {
	testIndexDelay = d
	t.Cleanup(func() { testIndexDelay = 0 })
}

func newEnv(t testing.TB, opts Options, sc feed.StreamConfig) *env {
	t.Helper()
	return newEnvWith(t, opts, sc, true, nil)
}

// newEnvWith is newEnv, with the simulator's universe stored or not, and
// the gateway's Source wrapped by wrap when set (a real *feed.Conn
// underneath).
func newEnvWith(t testing.TB, opts Options, sc feed.StreamConfig, universe bool, wrap func(*feed.Conn) Source) *env {
	t.Helper()
	srv, err := feed.StartServer(feed.ServerConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	ctx := context.Background()
	conn, err := feed.Connect(ctx, feed.ConnConfig{Server: srv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if _, err := conn.EnsureStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	var u []market.SymbolInfo
	for _, s := range testSymbols {
		u = append(u, market.SymbolInfo{Symbol: s, Name: s + " Inc", Sector: "Test", PrevClose: 100, TickSize: 0.01})
	}
	if universe {
		if err := conn.PutUniverse(ctx, u, 1); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, srv: srv, conn: conn, src: conn, seqs: map[string]uint64{}, last: map[string]market.Tick{}}
	if wrap != nil {
		e.src = wrap(conn)
	}
	e.startGateway(opts)
	return e
}

func (e *env) startGateway(opts Options) {
	e.t.Helper()
	if opts.Logger == nil {
		opts.Logger = discardLogger()
	}
	if opts.ShutdownSpread == 0 {
		opts.ShutdownSpread = 20 * time.Millisecond
	}
	e.g = New(e.src, opts)
	if testIndexDelay != 0 {
		e.g.indexDelay = testIndexDelay
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() { _ = e.g.Run(ctx); close(e.done) }()
	e.hs = httptest.NewUnstartedServer(e.g.Handler())
	e.hs.Listener = LimitSendBuffer(e.hs.Listener, testSndbuf)
	e.hs.Start()
	e.t.Cleanup(e.stopGateway)
	if _, ok := e.g.waitReady(context.Background()); !ok {
		e.t.Fatal("gateway not ready")
	}
}

func (e *env) stopGateway() {
	if e.hs == nil {
		return
	}
	sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
	defer c()
	_ = e.g.Shutdown(sctx)
	e.hs.Close()
	e.cancel()
	<-e.done
	e.hs = nil
}

// publish publishes n ticks round-robin over syms, each symbol's seq
// counting up, and returns them.
func (e *env) publish(n int, syms ...string) []market.Tick {
	e.t.Helper()
	if len(syms) == 0 {
		syms = testSymbols
	}
	out := make([]market.Tick, 0, n)
	for i := 0; i < n; i++ {
		s := syms[i%len(syms)]
		e.mu.Lock()
		e.seqs[s]++
		t := market.Tick{Symbol: s, Seq: e.seqs[s], Time: time.Now().UTC(), Price: 100 + float64(e.seqs[s]%50)/100,
			Bid: 99.99, Ask: 101, Size: 100, Volume: int64(e.seqs[s]) * 100}
		e.last[s] = t
		e.mu.Unlock()
		if err := e.conn.Publish(context.Background(), t); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, t)
	}
	return out
}

// waitHub waits until the gateway's hub holds sequence seq.
func (e *env) waitHub(seq uint64) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if h := e.g.hub.Load(); h != nil && h.lastSeqNow() >= seq {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("hub did not reach seq %d", seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor polls cond until it holds, failing the test after within.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) state() feed.StreamState {
	st, err := e.conn.State(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

type event struct {
	name, id, data string
	at             time.Time // when the client parsed it
}

func (ev event) tick(t testing.TB) market.Tick {
	t.Helper()
	var tk market.Tick
	if err := json.Unmarshal([]byte(ev.data), &tk); err != nil {
		t.Fatalf("tick %q: %v", ev.data, err)
	}
	return tk
}

// stream is an SSE client reading one response.
type stream struct {
	t      testing.TB
	resp   *http.Response
	events chan event
	cancel context.CancelFunc
	retry  string
}

func (e *env) open(query string, header map[string]string) *stream {
	return openURL(e.t, e.hs.URL+"/v1/stream"+query, header)
}

func openURL(t testing.TB, url string, header map[string]string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stream{t: t, resp: resp, events: make(chan event, 100000), cancel: cancel}
	t.Cleanup(s.close)
	if resp.StatusCode != http.StatusOK {
		return s
	}
	go s.read(resp.Body)
	return s
}

func (s *stream) close() {
	s.cancel()
	_ = s.resp.Body.Close()
}

// read parses the event stream strictly (internal/ssetest): a line the
// gateway never sends ends it with a "BAD LINE" event.
func (s *stream) read(body io.Reader) {
	defer close(s.events)
	r := ssetest.Read(body, 1)
	for ev := range r.Events {
		if ev.Type == ssetest.Bad {
			s.events <- event{name: "BAD LINE", data: ev.Data}
			continue
		}
		s.retry = r.Retry()
		s.events <- event{name: ev.Type, id: ev.ID, data: ev.Data, at: ev.At}
	}
	s.retry = r.Retry()
}

func (s *stream) next() event {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("stream ended")
		}
		if ev.name == "BAD LINE" {
			s.t.Fatalf("malformed line %q", ev.data)
		}
		return ev
	case <-time.After(10 * time.Second):
		s.t.Fatal("no event within 10s")
	}
	return event{}
}

// expectEnd waits for the stream to end.
func (s *stream) expectEnd(within time.Duration) {
	s.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-deadline:
			s.t.Fatalf("stream still open after %s", within)
		}
	}
}
