// Over 400 lines on purpose: the catch-up tests (restart from memory,
// merged deep resumes, shared reads, floods, lagging gateways, shutdown
// during a catch-up) share the accounting client and Source wrappers
// defined here.

package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickcast/tickcast/bench"
	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/internal/ssetest"
	"github.com/tickcast/tickcast/market"
)

// acct is a light SSE client that checks the contract's accounting as
// it reads: per symbol, seq - previous == merged (1 when absent), from
// a snapshot or from the seqs it resumed with. Many of them fit in a
// test (no per-event channel).
type acct struct {
	t      testing.TB
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	prev     map[string]uint64
	lastID   string
	ticks    int // tick events
	merged   int // of which merged
	resets   int
	snaps    int
	problems []string
	lastAt   time.Time
	maxGap   time.Duration // longest silence between tick events after the first
	comments []string
	retries  []string
}

// openAcct connects to url with Last-Event-ID lastID (if set); prev are
// the per-symbol seqs the client holds.
func openAcct(t testing.TB, url, lastID string, prev map[string]uint64) *acct {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	a := &acct{t: t, cancel: cancel, done: make(chan struct{}), prev: map[string]uint64{}, lastID: lastID}
	for k, v := range prev {
		a.prev[k] = v
	}
	go func() {
		defer close(a.done)
		defer resp.Body.Close()
		a.read(resp.Body)
	}()
	t.Cleanup(a.close)
	return a
}

func (a *acct) close() {
	a.cancel()
	<-a.done
}

func (a *acct) problem(format string, args ...any) {
	if len(a.problems) < 10 {
		a.problems = append(a.problems, fmt.Sprintf(format, args...))
	}
}

func (a *acct) read(body io.Reader) {
	err := ssetest.Scan(body, func(ev ssetest.Event) bool {
		switch ev.Type {
		case ssetest.Comment:
			a.mu.Lock()
			if c := strings.TrimSpace(ev.Data); c != "" {
				a.comments = append(a.comments, c)
			}
			a.mu.Unlock()
		case ssetest.Retry:
			a.mu.Lock()
			a.retries = append(a.retries, ev.Data)
			a.mu.Unlock()
		default:
			a.event(ev.Type, ev.ID, ev.Data)
		}
		return true
	})
	if errors.Is(err, bench.ErrStream) {
		a.mu.Lock()
		a.problem("%v", err)
		a.mu.Unlock()
	}
}

func (a *acct) event(name, id, data string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch name {
	case "snapshot":
		a.snaps++
		var body struct{ Ticks []market.Tick }
		if err := json.Unmarshal([]byte(data), &body); err != nil {
			a.problem("snapshot %v", err)
		}
		for _, tk := range body.Ticks {
			a.prev[tk.Symbol] = tk.Seq
		}
	case "reset":
		a.resets++
		a.prev = map[string]uint64{}
	case "tick":
		var tk market.Tick
		if err := json.Unmarshal([]byte(data), &tk); err != nil {
			a.problem("tick %v", err)
			return
		}
		n := uint64(max(tk.Merged, 1))
		if p, ok := a.prev[tk.Symbol]; ok && tk.Seq-p != n {
			a.problem("%s seq %d after %d, merged %d", tk.Symbol, tk.Seq, p, tk.Merged)
		}
		a.prev[tk.Symbol] = tk.Seq
		a.ticks++
		if tk.Merged > 0 {
			a.merged++
		}
		now := time.Now()
		if !a.lastAt.IsZero() {
			a.maxGap = max(a.maxGap, now.Sub(a.lastAt))
		}
		a.lastAt = now
	default:
		a.problem("event %q", name)
	}
	if id != "" {
		a.lastID = id
	}
}

// waitFor waits until every symbol of want reached its seq.
func (a *acct) waitFor(want map[string]uint64, within time.Duration) {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for {
		a.mu.Lock()
		ok := len(a.problems) == 0
		for s, q := range want {
			if a.prev[s] < q {
				ok = false
			}
		}
		probs := a.problems
		a.mu.Unlock()
		if len(probs) > 0 {
			a.t.Fatalf("stream problems: %v", probs)
		}
		if ok {
			return
		}
		select {
		case <-a.done:
			a.mu.Lock()
			defer a.mu.Unlock()
			a.t.Fatalf("stream ended before %v; at %v (comments %v, retries %v)", want, a.prev, a.comments, a.retries)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.t.Fatalf("not at %v within %s: at %v (ticks %d)", want, within, a.prev, a.ticks)
		}
	}
}

// waitEnd waits for the server to end the stream.
func (a *acct) waitEnd(within time.Duration) {
	a.t.Helper()
	select {
	case <-a.done:
	case <-time.After(within):
		a.t.Fatalf("stream still open after %s", within)
	}
}

func (e *env) seqsOf(syms []string) map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]uint64{}
	for _, s := range syms {
		out[s] = e.seqs[s]
	}
	return out
}

// seqsAt is, per symbol, the seq of its newest tick at or before stream
// sequence seq, for ticks published round-robin over testSymbols from
// an empty stream.
func seqsAt(seq uint64, syms []string) map[string]uint64 {
	out := map[string]uint64{}
	for i, s := range testSymbols {
		for _, w := range syms {
			if w == s && seq > uint64(i) {
				out[s] = (seq-uint64(i)-1)/uint64(len(testSymbols)) + 1
			}
		}
	}
	return out
}

func symsOf(q string) []string {
	if q == "" {
		return testSymbols
	}
	return strings.Split(q, ",")
}

// A gateway restarted on the same stream (a new Gateway) fills its ring
// from JetStream before it takes streams: 200 clients that were
// connected before resume from memory with nothing lost.
func TestRestartResumesFromMemory(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	e.publish(400)
	e.waitHub(400)
	subsets := []string{"", "AAA", "BBB,CCC", "DDD,AAA,BBB"}
	const n = 200
	clients := make([]*acct, n)
	for i := range clients {
		clients[i] = openAcct(t, e.hs.URL+"/v1/stream?symbols="+subsets[i%len(subsets)], "", nil)
	}
	e.publish(400)
	for i, a := range clients {
		a.waitFor(e.seqsOf(symsOf(subsets[i%len(subsets)])), 10*time.Second)
	}
	e.stopGateway() // each stream ends with a retry:
	for _, a := range clients {
		a.waitEnd(5 * time.Second)
	}
	e.publish(400) // while no gateway runs
	e.startGateway(Options{})
	resumed := make([]*acct, n)
	for i, a := range clients {
		a.mu.Lock()
		resumed[i] = openAcct(t, e.hs.URL+"/v1/stream?symbols="+subsets[i%len(subsets)], a.lastID, a.prev)
		a.mu.Unlock()
	}
	e.publish(40) // and live after
	for i, a := range resumed {
		a.waitFor(e.seqsOf(symsOf(subsets[i%len(subsets)])), 10*time.Second)
		a.mu.Lock()
		if a.snaps != 0 || a.resets != 0 || a.merged != 0 {
			t.Errorf("client %d: %d snapshots, %d resets, %d merged", i, a.snaps, a.resets, a.merged)
		}
		a.mu.Unlock()
	}
	if got := counterValue(t, e, "tickcast_resumes_total", "memory"); got != n {
		t.Fatalf("resumes from memory %v, want %d", got, n)
	}
}

// deepEnv publishes enough that an early id is far behind a ring that
// still holds a block boundary.
func deepEnv(t testing.TB, opts Options, src func(*feed.Conn) Source) *env {
	t.Helper()
	if opts.RingSize == 0 {
		opts.RingSize = 8192
	}
	e := newEnv(t, opts, feed.StreamConfig{Memory: true})
	e.publish(20_000)
	e.waitHub(20_000)
	if src != nil {
		e.stopGateway()
		e.startGatewaySource(opts, src(e.conn))
		e.waitHub(20_000)
	}
	return e
}

// startGatewaySource starts a gateway on src instead of the env's conn.
func (e *env) startGatewaySource(opts Options, src Source) {
	e.t.Helper()
	opts.Logger = discardLogger()
	if opts.ShutdownSpread == 0 {
		opts.ShutdownSpread = 20 * time.Millisecond
	}
	e.g = New(src, opts)
	if testIndexDelay != 0 {
		e.g.indexDelay = testIndexDelay
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() { _ = e.g.Run(ctx); close(e.done) }()
	e.hs = httptestServerOf(e.g)
	e.t.Cleanup(e.stopGateway)
	if _, ok := e.g.waitReady(context.Background()); !ok {
		e.t.Fatal("gateway not ready")
	}
}

// A resume from far behind the ring comes back merged per symbol with
// exact accounting, about one event per symbol, then live ticks.
func TestDeepResumeMerged(t *testing.T) {
	e := deepEnv(t, Options{}, nil)
	epoch := e.state().Epoch
	for _, tc := range []struct{ name, query string }{
		{"all", ""},
		{"two", "AAA,CCC"},
		{"throttled", "BBB,DDD&throttle=100ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			syms := symsOf(strings.Split(tc.query, "&")[0])
			before := counterValue(t, e, "tickcast_resumes_total", "jetstream")
			a := openAcct(t, e.hs.URL+"/v1/stream?symbols="+tc.query, sse.FormatID(epoch, 101), seqsAt(101, syms))
			a.waitFor(e.seqsOf(syms), 10*time.Second)
			a.mu.Lock()
			if a.ticks > 2*len(syms) || a.merged < len(syms) || a.resets+a.snaps != 0 {
				t.Fatalf("%d events (%d merged), %d resets, %d snapshots for %d symbols", a.ticks, a.merged, a.resets, a.snaps, len(syms))
			}
			a.mu.Unlock()
			e.publish(8)
			a.waitFor(e.seqsOf(syms), 10*time.Second)
			if got := counterValue(t, e, "tickcast_resumes_total", "jetstream"); got != before+1 {
				t.Fatalf("resumes from jetstream %v, want %v", got, before+1)
			}
			st := e.state()
			e.waitHub(st.LastSeq)
		})
	}
}

// Concurrent resumes from the same region of history read it from
// JetStream once. The gateway restarts on the stream with background
// indexing off, so the history behind its warm start is cold.
func TestConcurrentDeepResumesReadOnce(t *testing.T) {
	setIndexDelay(t, -1)
	e := deepEnv(t, Options{}, func(c *feed.Conn) Source { return c })
	epoch := e.state().Epoch
	const n = 30
	var clients []*acct
	for i := 0; i < n; i++ {
		clients = append(clients, openAcct(t, e.hs.URL+"/v1/stream", sse.FormatID(epoch, 101), seqsAt(101, testSymbols)))
	}
	for _, a := range clients {
		a.waitFor(e.seqsOf(testSymbols), 15*time.Second)
	}
	// The warm start read 11809-20000 (the ring's 8192): block 3
	// (12289-16384) was summarised by the tail; blocks 0 (from 102, read
	// whole), 1 and 2 come from JetStream, once each.
	if got := counterValue(t, e, "tickcast_history_blocks_read_total", ""); got != 3 {
		t.Fatalf("history blocks read %v, want 3 (once each)", got)
	}
	// Again: from the cache.
	a := openAcct(t, e.hs.URL+"/v1/stream", sse.FormatID(epoch, 5000), seqsAt(5000, testSymbols))
	a.waitFor(e.seqsOf(testSymbols), 10*time.Second)
	if got := counterValue(t, e, "tickcast_history_blocks_read_total", ""); got != 3 {
		t.Fatalf("history blocks read %v after a cached resume, want 3", got)
	}
}

// A flood of deep resumes is bounded: the JetStream readers stay at the
// pool's size and a live client keeps receiving ticks throughout.
func TestDeepResumeFloodBounded(t *testing.T) {
	var reads *countedReads
	e := deepEnv(t, Options{HistoryReaders: 2, CatchupWorkers: 1}, func(c *feed.Conn) Source {
		reads = &countedReads{Conn: c}
		return reads
	})
	epoch := e.state().Epoch
	live := openAcct(t, e.hs.URL+"/v1/stream?symbols=AAA", "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	var pub sync.WaitGroup
	pub.Add(1)
	go func() {
		defer pub.Done()
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for ctx.Err() == nil {
			<-tk.C
			e.publish(4)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	const n = 100
	var flood []*acct
	for i := 0; i < n; i++ {
		from := uint64(101 + i*131) // spread over blocks 0-3
		flood = append(flood, openAcct(t, e.hs.URL+"/v1/stream", sse.FormatID(epoch, from), seqsAt(from, testSymbols)))
	}
	want := e.seqsOf(testSymbols)
	for _, a := range flood {
		a.waitFor(want, 30*time.Second)
	}
	cancel()
	pub.Wait()
	live.waitFor(e.seqsOf([]string{"AAA"}), 10*time.Second)
	live.mu.Lock()
	gap := live.maxGap
	live.mu.Unlock()
	if gap > 3*time.Second { // generous: -race and a shared CPU; the benchmark measures latency
		t.Errorf("the live client went %s without a tick during the flood", gap)
	}
	if peak := reads.peak.Load(); peak > 2 {
		t.Errorf("%d history readers at once, want at most 2", peak)
	}
	if got := counterValue(t, e, "tickcast_history_blocks_read_total", ""); got > 8 {
		t.Errorf("history blocks read %v for %d resumes over 4 blocks", got, n)
	}
	t.Logf("live client's longest silence %s; blocks read %v", gap, counterValue(t, e, "tickcast_history_blocks_read_total", ""))
}

// countedReads is the real feed, counting the most history reads at
// once.
type countedReads struct {
	*feed.Conn
	now, peak atomic.Int64
}

func (c *countedReads) ReadRange(ctx context.Context, from, until uint64, fn func(feed.Msg, error) error) error {
	n := c.now.Add(1)
	defer c.now.Add(-1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return c.Conn.ReadRange(ctx, from, until, fn)
}

// failingReads is the real feed whose history reads fail as JetStream
// does at its consumer limit.
type failingReads struct {
	*feed.Conn
	fail atomic.Bool
}

func (f *failingReads) ReadRange(ctx context.Context, from, until uint64, fn func(feed.Msg, error) error) error {
	if f.fail.Load() {
		return errors.New("nats: API error: code=400 err_code=10026 description=maximum consumers limit reached")
	}
	return f.Conn.ReadRange(ctx, from, until, fn)
}

// A stream that cannot start ends with a comment and a retry:, never a
// bare close; the client comes back with the same id and resumes.
func TestStartFailureGetsRetry(t *testing.T) {
	var src *failingReads
	e := deepEnv(t, Options{}, func(c *feed.Conn) Source { src = &failingReads{Conn: c}; return src })
	epoch := e.state().Epoch
	src.fail.Store(true)
	a := openAcct(t, e.hs.URL+"/v1/stream?symbols=AAA", sse.FormatID(epoch, 101), seqsAt(101, []string{"AAA"}))
	a.waitEnd(10 * time.Second)
	a.mu.Lock()
	if a.ticks+a.resets+a.snaps != 0 || len(a.retries) != 2 || len(a.comments) == 0 || a.comments[len(a.comments)-1] != "unavailable" {
		t.Fatalf("events %d, resets %d, snapshots %d, retries %v, comments %v", a.ticks, a.resets, a.snaps, a.retries, a.comments)
	}
	id, prev := a.lastID, a.prev
	a.mu.Unlock()
	if id != sse.FormatID(epoch, 101) {
		t.Fatalf("last id %q", id)
	}
	src.fail.Store(false)
	b := openAcct(t, e.hs.URL+"/v1/stream?symbols=AAA", id, prev)
	b.waitFor(e.seqsOf([]string{"AAA"}), 10*time.Second)
	if got := counterValue(t, e, "tickcast_rejected_total", "unavailable"); got != 1 {
		t.Fatalf("rejected unavailable %v", got)
	}
}

// heldTail is the real feed whose Tail delivery can be held back, as in
// a gateway whose tail stalls.
type heldTail struct {
	*feed.Conn
	mu   sync.RWMutex // held for writing: delivery waits
	held atomic.Bool
}

func (h *heldTail) Tail(ctx context.Context, epoch string, after uint64, fn func(feed.Msg), bad func(error)) error {
	return h.Conn.Tail(ctx, epoch, after, func(m feed.Msg) {
		h.mu.RLock()
		defer h.mu.RUnlock()
		fn(m)
	}, bad)
}

func (h *heldTail) hold()    { h.mu.Lock(); h.held.Store(true) }
func (h *heldTail) release() { h.held.Store(false); h.mu.Unlock() }

// An id the stream holds but a lagging gateway has not read yet is
// never "ahead": the stream ends with a retry: and the client comes
// back with the same id. Only an id beyond the stream gets "ahead".
func TestLaggingGatewayNeverSendsBack(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	e.publish(40)
	e.waitHub(40)
	conn2, err := feed.Connect(context.Background(), feed.ConnConfig{Server: e.srv})
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	src := &heldTail{Conn: conn2}
	g2 := New(src, Options{Logger: discardLogger(), ShutdownSpread: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = g2.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	url2 := httptestServer(t, g2)
	if _, ok := g2.waitReady(ctx); !ok {
		t.Fatal("second gateway not ready")
	}
	for g2.hub.Load().lastSeqNow() < 40 {
		time.Sleep(5 * time.Millisecond)
	}
	src.hold()
	released := false
	defer func() {
		if !released {
			src.release()
		}
	}()
	e.publish(40)
	e.waitHub(80)
	epoch := e.state().Epoch
	id := sse.FormatID(epoch, 76) // AAA seq 19 on gateway 1
	a := openAcct(t, url2+"/v1/stream?symbols=AAA", id, map[string]uint64{"AAA": 19})
	a.waitEnd(10 * time.Second)
	a.mu.Lock()
	if a.resets != 0 || a.snaps != 0 || a.ticks != 0 || len(a.comments) == 0 || a.comments[len(a.comments)-1] != "lagging" || len(a.retries) != 2 {
		t.Fatalf("resets %d, snapshots %d, ticks %d, comments %v, retries %v", a.resets, a.snaps, a.ticks, a.comments, a.retries)
	}
	a.mu.Unlock()
	// Beyond the stream: ahead.
	b := openAcct(t, url2+"/v1/stream?symbols=AAA", sse.FormatID(epoch, 1000), nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		r := b.resets
		b.mu.Unlock()
		if r == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no reset for an id beyond the stream")
		}
		time.Sleep(5 * time.Millisecond)
	}
	src.release()
	released = true
	c := openAcct(t, url2+"/v1/stream?symbols=AAA", id, map[string]uint64{"AAA": 19})
	c.waitFor(e.seqsOf([]string{"AAA"}), 10*time.Second)
}

// blockedReads is the real feed whose history reads block until their
// context ends.
type blockedReads struct {
	*feed.Conn
	started chan struct{}
}

func (b *blockedReads) ReadRange(ctx context.Context, from, until uint64, fn func(feed.Msg, error) error) error {
	select {
	case b.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// A client inside a catch-up ends promptly on Shutdown, with a retry:.
func TestShutdownDuringCatchUp(t *testing.T) {
	src := &blockedReads{started: make(chan struct{}, 1)}
	e := deepEnv(t, Options{}, func(c *feed.Conn) Source { src.Conn = c; return src })
	a := openAcct(t, e.hs.URL+"/v1/stream", sse.FormatID(e.state().Epoch, 101), nil)
	select {
	case <-src.started:
	case <-time.After(10 * time.Second):
		t.Fatal("no history read started")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.g.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	a.waitEnd(5 * time.Second)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("shutdown took %s", took)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.retries) != 2 || a.ticks+a.resets+a.snaps != 0 {
		t.Fatalf("retries %v, events %d", a.retries, a.ticks+a.resets+a.snaps)
	}
}

// When the stream is recreated, streams of the old epoch end with a
// retry: spread over ShutdownSpread.
func TestEpochEndSpreadsRetry(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	e.stopGateway()
	e.startGateway(Options{ShutdownSpread: 10 * time.Second})
	e.publish(8)
	e.waitHub(8)
	var clients []*acct
	for i := 0; i < 20; i++ {
		clients = append(clients, openAcct(t, e.hs.URL+"/v1/stream", "", nil))
	}
	for _, a := range clients {
		a.waitFor(e.seqsOf(testSymbols), 5*time.Second)
	}
	ctx := context.Background()
	if err := e.conn.DeleteStream(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.conn.EnsureStream(ctx, feed.StreamConfig{Memory: true}); err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for _, a := range clients {
		a.waitEnd(15 * time.Second)
		a.mu.Lock()
		if len(a.retries) != 2 {
			t.Fatalf("retries %v", a.retries)
		}
		distinct[a.retries[1]] = true
		a.mu.Unlock()
	}
	if len(distinct) < 10 {
		t.Fatalf("retry values not spread: %v", distinct)
	}
}

func httptestServerOf(g *Gateway) *httptest.Server {
	hs := httptest.NewUnstartedServer(g.Handler())
	hs.Listener = LimitSendBuffer(hs.Listener, testSndbuf)
	hs.Start()
	return hs
}

// A merged catch-up that takes long sends what it folded as it goes
// (here after every block), each send exact: per symbol seq - previous
// == merged, no reset, up to the head.
func TestDeepResumeSendsAsItGoes(t *testing.T) {
	defer func(d time.Duration) { catchupProgress = d }(catchupProgress)
	catchupProgress = 0
	e := deepEnv(t, Options{}, nil)
	syms := symsOf("")
	a := openAcct(t, e.hs.URL+"/v1/stream", sse.FormatID(e.state().Epoch, 101), seqsAt(101, syms))
	a.waitFor(e.seqsOf(syms), 10*time.Second)
	a.mu.Lock()
	defer a.mu.Unlock()
	// History (101, 12288] is 3 blocks behind the ring of 8192: a send
	// after each, one event per symbol each, then the ring's part.
	if a.merged < 3*len(syms) || a.resets+a.snaps != 0 || len(a.problems) > 0 {
		t.Fatalf("%d events (%d merged), %d resets, %d snapshots for %d symbols; %v", a.ticks, a.merged, a.resets, a.snaps, len(syms), a.problems)
	}
}
