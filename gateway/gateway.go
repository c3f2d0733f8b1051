package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

// Source is what the gateway needs from the feed: the stream's state,
// its newest ticks, a live tail, a bounded replay for resumes, and the
// symbol universe. *feed.Conn implements it.
type Source interface {
	State(ctx context.Context) (feed.StreamState, error)
	LastTicks(ctx context.Context) (map[string]feed.Msg, error)
	Tail(ctx context.Context, epoch string, after uint64, fn func(feed.Msg), bad func(error)) error
	Replay(ctx context.Context, from, until uint64, symbols []string, fn func(feed.Msg) error) error
	Universe(ctx context.Context) ([]market.SymbolInfo, error)
}

// Gateway serves the stream over HTTP. Run reads the feed; Handler serves
// clients. One Gateway holds one live JetStream consumer.
// defaultIndexDelay is Gateway.indexDelay's value.
const defaultIndexDelay = 3 * time.Second

type Gateway struct {
	src  Source
	opts Options
	log  *slog.Logger
	m    *metrics

	stc stateCache // the stream's state for catch-ups (catchpool.go)

	// indexDelay is how long after the gateway is ready it starts to
	// index the history behind its tail (indexer.go): a restart's
	// reconnect storm comes first. defaultIndexDelay; tests change it
	// before Run (< 0: never).
	indexDelay time.Duration

	hub   atomic.Pointer[hub] // current epoch's hub; nil until the first is ready
	ready atomic.Bool         // the hub is caught up and the feed is readable
	// readyMu guards readyCh: closed while ready, so that streams waiting
	// for readiness (waitReady) wait on it, not on a timer each.
	readyMu sync.Mutex
	readyCh chan struct{}
	conns   atomic.Int64

	uniMu      sync.Mutex
	universe   []market.SymbolInfo
	uniFetched time.Time     // when the last finished load of the universe started
	uniErr     error         // that load's error
	uniLoad    *universeLoad // the load in flight, if any

	// shutdown is closed by Shutdown: streams end with complete events.
	shutdown       chan struct{}
	enterMu        sync.Mutex      // orders clients.Add (enter) before clients.Wait (Shutdown)
	shutdownCtx    context.Context // cancelled with shutdown closing
	shutdownCancel context.CancelFunc

	liveMu       sync.Mutex
	live         map[*client]struct{} // every streaming client, for heartbeats
	shutdownOnce sync.Once
	clients      sync.WaitGroup

	ipMu    sync.Mutex
	ipConns map[string]int // open SSE connections per remote address

	cu *catchups // catch-ups from history (history.go)
}

// New returns a gateway reading from src.
func New(src Source, opts Options) *Gateway {
	opts.setDefaults()
	g := &Gateway{src: src, opts: opts, log: opts.Logger, m: newMetrics(), shutdown: make(chan struct{}),
		ipConns: map[string]int{}, live: map[*client]struct{}{}, readyCh: make(chan struct{}), indexDelay: defaultIndexDelay}
	g.shutdownCtx, g.shutdownCancel = context.WithCancel(context.Background())
	context.AfterFunc(g.shutdownCtx, func() { g.sweepLoop(nil, evShutdown) })
	g.cu = newCatchups(opts, g.m.reg)
	return g
}

// Handler returns the HTTP API and, at /, the dashboard.
func (g *Gateway) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, g.cors)
	r.Group(func(r chi.Router) {
		r.Use(g.auth)
		r.Get("/v1/stream", g.handleStream)
		r.Get("/v1/symbols", g.handleSymbols)
		r.Get("/v1/snapshot", g.handleSnapshot)
		r.Get("/v1/bars", g.handleBars)
		r.Get("/v1/market", g.handleMarket)
		if g.opts.Routes != nil {
			g.opts.Routes(r)
		}
	})
	r.Get("/healthz", g.handleHealth)
	r.Get("/readyz", g.handleReady)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(g.m.reg, promhttp.HandlerOpts{}))
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		api := strings.HasPrefix(req.URL.Path, "/v1/")
		if !api && g.opts.Static != nil && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
			g.opts.Static.ServeHTTP(w, req)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint: the API is listed in docs/api.md"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": req.Method + " is not allowed here"})
	})
	return r
}

// Shutdown ends every stream after its current event and waits for the
// handlers to return, or for ctx.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.shutdownOnce.Do(func() {
		g.enterMu.Lock() // see enter
		close(g.shutdown)
		g.shutdownCancel()
		g.enterMu.Unlock()
	})
	done := make(chan struct{})
	go func() { g.clients.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
