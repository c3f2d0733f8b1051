package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
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

// Options configure a Gateway. Zero fields mean the documented defaults.
type Options struct {
	// WriteTimeout is how long one write to a client may block before
	// the client is disconnected. Default 10s.
	WriteTimeout time.Duration
	// MaxConns caps concurrent SSE connections; past it, new ones get a
	// retry: back-off and are closed. Default 0: no cap.
	MaxConns int
	// Heartbeat is the longest silence before a comment line. Default 15s.
	Heartbeat time.Duration
	// Retry is the reconnection delay sent in retry:. Default 1s.
	Retry time.Duration
	// RingSize is how many recent ticks the gateway holds in memory for
	// fan-out and resumes (rounded up to a power of two). Default 65536.
	RingSize int
	// MergeAfter: a client this many ticks behind the newest gets merged
	// events per symbol instead of every tick. Default 1024 (RingSize/4
	// if that is less).
	MergeAfter int
	// MaxResume caps how many stream messages one resume may replay from
	// JetStream; a client further behind gets a reset. Default 1,000,000.
	MaxResume uint64
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Static serves everything that is not the API (the dashboard).
	Static http.Handler
	// MaxConnsPerIP caps concurrent SSE connections from one remote
	// address: the TCP peer, or behind TrustedProxies the client address
	// they forward. Default 0: no cap.
	MaxConnsPerIP int
	// TrustedProxies are the networks of proxies (nginx, a load
	// balancer) whose X-Forwarded-For the per-IP cap believes.
	TrustedProxies []netip.Prefix
	// AllowedOrigins lists the origins that may read the API from
	// another site (CORS); "*" allows any. Default none: same origin only.
	AllowedOrigins []string
	// Token, when set, is required on /v1/ requests as "Authorization:
	// Bearer <token>" or "?token=<token>"; without it they get 401.
	Token string
	// Routes, if set, adds routes to the router (e.g. the simulator's
	// control endpoint in the all-in-one program). They get the access
	// token check and CORS like /v1/.
	Routes func(r chi.Router)
	// ShutdownSpread: on Shutdown each stream ends at a random moment
	// within this long (with a jittered retry:), so clients do not all
	// reconnect at once. Default 2s.
	ShutdownSpread time.Duration
}

func (o *Options) setDefaults() {
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	if o.RingSize <= 0 {
		o.RingSize = 1 << 16
	}
	if o.MergeAfter <= 0 {
		o.MergeAfter = max(min(1024, o.RingSize/4), 1)
	}
	if o.MaxResume == 0 {
		o.MaxResume = 1_000_000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ShutdownSpread <= 0 {
		o.ShutdownSpread = 2 * time.Second
	}
}

// Gateway serves the stream over HTTP. Run reads the feed; Handler serves
// clients. One Gateway holds one live JetStream consumer.
type Gateway struct {
	src  Source
	opts Options
	log  *slog.Logger
	m    *metrics

	hub   atomic.Pointer[hub] // current epoch's hub; nil until the first is ready
	ready atomic.Bool         // the hub is caught up and the feed is readable
	conns atomic.Int64

	uniMu      sync.Mutex
	universe   []market.SymbolInfo
	uniFetched time.Time

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
}

// New returns a gateway reading from src.
func New(src Source, opts Options) *Gateway {
	opts.setDefaults()
	g := &Gateway{src: src, opts: opts, log: opts.Logger, m: newMetrics(), shutdown: make(chan struct{}),
		ipConns: map[string]int{}, live: map[*client]struct{}{}}
	g.shutdownCtx, g.shutdownCancel = context.WithCancel(context.Background())
	return g
}

// Run reads the stream into the hub until ctx ends. When the stream is
// recreated it starts a new hub for the new epoch and ends every client
// of the old one (they come back with old ids and get a reset).
func (g *Gateway) Run(ctx context.Context) error {
	hbDone, lagDone := make(chan struct{}), make(chan struct{})
	go func() { g.heartbeats(ctx); close(hbDone) }()
	go func() { g.watchLag(ctx); close(lagDone) }()
	defer func() { <-hbDone; <-lagDone }()
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		err := g.runEpoch(ctx)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, feed.ErrEpochChanged) {
			g.log.Warn("stream recreated: starting a new epoch", "err", err)
			backoff = 250 * time.Millisecond
			continue
		}
		g.log.Warn("reading the stream failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	g.ready.Store(false)
	if h := g.hub.Load(); h != nil {
		h.close()
	}
	return nil
}

func (g *Gateway) runEpoch(ctx context.Context) error {
	g.ready.Store(false)
	st, err := g.src.State(ctx)
	if err != nil {
		return err
	}
	last, err := g.src.LastTicks(ctx)
	if err != nil {
		return err
	}
	h := newHub(g.opts.RingSize, st.Epoch, st.LastSeq)
	g.refreshUniverse(ctx, true)
	h.addSymbols(g.universeSymbols())
	var need uint64 // the hub is ready once it holds every seeded tick
	for _, m := range last {
		h.seed(m)
		need = max(need, m.Seq)
	}
	if old := g.hub.Swap(h); old != nil {
		old.close()
	}
	g.log.Info("reading stream", "epoch", st.Epoch, "first", st.FirstSeq, "last", st.LastSeq, "symbols", len(last))
	if st.LastSeq >= need {
		g.ready.Store(true)
	}
	for {
		after := h.lastSeqNow()
		err := g.src.Tail(ctx, st.Epoch, after, func(m feed.Msg) {
			g.m.ticksIn.Inc()
			h.append(m)
			g.m.lastSeq.Set(float64(m.Seq))
			if m.Seq >= need && !g.ready.Load() {
				g.ready.Store(true)
			}
		}, func(err error) {
			if errors.Is(err, feed.ErrConsumer) {
				g.log.Warn("stream consumer", "err", err)
				return
			}
			g.m.badMsgs.Inc()
			g.log.Warn("skipping a bad stream message", "err", err)
		})
		if ctx.Err() != nil || errors.Is(err, feed.ErrEpochChanged) {
			return err
		}
		if err != nil {
			// Trouble reading (e.g. a consumer that cannot be created
			// during a leader election): keep this epoch's hub and its
			// clients, unless the stream itself is gone or new.
			g.log.Warn("tailing the stream failed; retrying", "err", err)
			sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			cur, serr := g.src.State(sctx)
			cancel()
			if errors.Is(serr, feed.ErrNoStream) || serr == nil && cur.Epoch != st.Epoch {
				return fmt.Errorf("%w: %v", feed.ErrEpochChanged, err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// watchLag updates the consumer-lag gauge every 2s.
func (g *Gateway) watchLag(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h := g.hub.Load()
		if h == nil {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := g.src.State(sctx)
		cancel()
		if err != nil || st.Epoch != h.epoch {
			continue
		}
		if hs := h.lastSeqNow(); st.LastSeq > hs {
			g.m.lag.Set(float64(st.LastSeq - hs))
		} else {
			g.m.lag.Set(0)
		}
	}
}

// track adds or removes a streaming client from the heartbeat sweep.
func (g *Gateway) track(c *client, on bool) {
	g.liveMu.Lock()
	defer g.liveMu.Unlock()
	if on {
		g.live[c] = struct{}{}
	} else {
		delete(g.live, c)
	}
}

// heartbeats wakes every client a few times per heartbeat interval so it
// can send a comment if it has been silent: one goroutine and one timer
// for all clients instead of one each.
func (g *Gateway) heartbeats(ctx context.Context) {
	t := time.NewTicker(g.opts.Heartbeat / 3)
	defer t.Stop()
	var batch []*client
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g.liveMu.Lock()
		batch = batch[:0]
		for c := range g.live {
			batch = append(batch, c)
		}
		g.liveMu.Unlock()
		for _, c := range batch {
			c.notify(evHeartbeat)
		}
	}
}

func (h *hub) lastSeqNow() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastSeq
}

// refreshUniverse reloads the symbol universe if it is older than a
// second (or force).
func (g *Gateway) refreshUniverse(ctx context.Context, force bool) {
	g.uniMu.Lock()
	defer g.uniMu.Unlock()
	if !force && time.Since(g.uniFetched) < time.Second {
		return
	}
	g.uniFetched = time.Now()
	u, err := g.src.Universe(ctx)
	if err != nil {
		if !errors.Is(err, feed.ErrNoUniverse) {
			g.log.Warn("reading the universe failed", "err", err)
		}
		return
	}
	g.universe = u
	if h := g.hub.Load(); h != nil {
		syms := make([]string, len(u))
		for i, s := range u {
			syms[i] = s.Symbol
		}
		h.addSymbols(syms)
	}
}

func (g *Gateway) universeSymbols() []string {
	g.uniMu.Lock()
	defer g.uniMu.Unlock()
	out := make([]string, len(g.universe))
	for i, s := range g.universe {
		out[i] = s.Symbol
	}
	return out
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

// Handler returns the HTTP API and, at /, the dashboard.
func (g *Gateway) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, g.cors)
	r.Group(func(r chi.Router) {
		r.Use(g.auth)
		r.Get("/v1/stream", g.handleStream)
		r.Get("/v1/symbols", g.handleSymbols)
		r.Get("/v1/snapshot", g.handleSnapshot)
		if g.opts.Routes != nil {
			g.opts.Routes(r)
		}
	})
	r.Get("/healthz", g.handleHealth)
	r.Get("/readyz", g.handleReady)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(g.m.reg, promhttp.HandlerOpts{}))
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		if g.opts.Static != nil && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
			g.opts.Static.ServeHTTP(w, req)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
	})
	return r
}

// handleReady says whether this gateway should get new clients: it
// reads the stream and is not shutting down (a load balancer's check).
func (g *Gateway) handleReady(w http.ResponseWriter, r *http.Request) {
	select {
	case <-g.shutdown:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	default:
	}
	if g.hub.Load() == nil || !g.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (g *Gateway) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := g.hub.Load()
	if h == nil || !g.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	st, err := g.src.State(ctx)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "stream unreadable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "epoch": st.Epoch, "lastSeq": st.LastSeq, "hubSeq": h.lastSeqNow()})
}

func (g *Gateway) handleSymbols(w http.ResponseWriter, r *http.Request) {
	g.refreshUniverse(r.Context(), false)
	g.uniMu.Lock()
	out := append([]market.SymbolInfo(nil), g.universe...)
	g.uniMu.Unlock()
	known := map[string]bool{}
	for _, s := range out {
		known[s.Symbol] = true
	}
	// Symbols seen on the stream but not in the universe still exist.
	if h := g.hub.Load(); h != nil {
		h.mu.Lock()
		for i, s := range h.symNames {
			if !known[s] && h.latest[i] != nil {
				out = append(out, market.SymbolInfo{Symbol: s, PrevClose: h.latest[i].tick.Price})
			}
		}
		h.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, out)
}

// resolve validates requested symbols against the hub's known symbols,
// refreshing the universe once if one is unknown. It returns the indexes.
func (g *Gateway) resolve(ctx context.Context, h *hub, syms []string) ([]int, error) {
	for attempt := 0; ; attempt++ {
		idx := make([]int, 0, len(syms))
		var unknown string
		h.mu.Lock()
		for _, s := range syms {
			i, ok := h.symIndex[s]
			if !ok {
				unknown = s
				break
			}
			idx = append(idx, i)
		}
		h.mu.Unlock()
		if unknown == "" {
			return idx, nil
		}
		if attempt > 0 {
			return nil, badRequest("unknown symbol %q: GET /v1/symbols lists them", unknown)
		}
		g.refreshUniverse(ctx, false)
	}
}

func (g *Gateway) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	syms, err := parseSymbols(r)
	if err != nil {
		g.writeError(w, r, err)
		return
	}
	h, ok := g.waitReady(r.Context())
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the gateway is not reading the stream yet; try again"})
		return
	}
	idx, err := g.resolve(r.Context(), h, syms)
	if err != nil {
		g.writeError(w, r, err)
		return
	}
	c := newFilter(h, idx)
	st, err := g.src.State(r.Context())
	if err != nil {
		g.writeError(w, r, err)
		return
	}
	h.mu.Lock()
	ticks := h.snapshotLocked(c)
	id := FormatID(h.epoch, h.lastSeq)
	h.mu.Unlock()
	if ticks == nil {
		ticks = []market.Tick{}
	}
	first := st.FirstSeq
	if first > 0 {
		first--
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "first": FormatID(h.epoch, first), "ticks": ticks})
}

// newFilter builds a client value carrying only a symbol filter.
func newFilter(h *hub, idx []int) *client {
	c := &client{h: h, all: len(idx) == 0, symIdx: idx}
	h.mu.Lock()
	c.want = make([]bool, len(h.symNames))
	h.mu.Unlock()
	for _, i := range idx {
		c.want[i] = true
	}
	return c
}

// waitReady waits up to 5s for the hub to be ready.
func (g *Gateway) waitReady(ctx context.Context) (*hub, bool) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if h := g.hub.Load(); h != nil && g.ready.Load() {
			return h, true
		}
		if time.Now().After(deadline) {
			return nil, false
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(50 * time.Millisecond):
		}
	}
}
