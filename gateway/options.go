package gateway

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/tickcast/tickcast/gateway/access"
)

// Options configure a Gateway. Zero fields mean the documented defaults.
type Options struct {
	// WriteTimeout is how long one write to a client may block before
	// the client is disconnected. Default 10s.
	WriteTimeout time.Duration
	// MaxConns caps concurrent SSE connections; past it, new ones get a
	// retry: back-off and are closed. Default 0: no cap.
	MaxConns int
	// Heartbeat is the longest silence before a comment line. Default 15s;
	// at least 3ms.
	Heartbeat time.Duration
	// Retry is the reconnection delay sent in retry:. Default 1s.
	Retry time.Duration
	// RingSize is how many recent stream messages (ticks, quotes, bars,
	// status and clock events alike) the gateway holds in memory for
	// fan-out and resumes (rounded up to a power of two). Default
	// DefaultRingSize.
	RingSize int
	// MergeAfter: a client this many messages behind the newest gets
	// merged events per symbol (ticks, trades, quotes, books) instead of
	// every one. It counts ring positions for a client of every symbol
	// (only the ticks, for a client of ticks and trades alone), and its
	// own symbols' messages of the types it asked for, for a client of
	// some symbols. Default 1024 (RingSize/4 if that is less); at
	// most 7/8 of the ring (the most a resume from memory starts behind),
	// so a client merges before the ring laps it.
	MergeAfter int
	// catchupMergeAfter is MergeAfter as asked for, before it is limited
	// by the ring (set by setDefaults).
	catchupMergeAfter int
	// MaxResume, if set, caps how many stream messages behind the newest
	// a resume may be; a client further behind gets a reset "too_far".
	// Default 0: no cap (any id still in the stream's window resumes;
	// one behind the ring is caught up merged, from the history index).
	MaxResume uint64
	// HistoryReaders is how many JetStream reads of history may run at
	// once, for every catch-up together (each read is one short-lived
	// consumer). Default 4.
	HistoryReaders int
	// CatchupWorkers is how many catch-ups from history may run at once;
	// the others wait, first come first served. Default GOMAXPROCS/2
	// (at least 1).
	CatchupWorkers int
	// HistoryCacheBytes bounds the history index's block summaries
	// (about 85-90 KiB per block of 4096 messages, see doc.go; the oldest blocks are
	// dropped first, counted in tickcast_history_evictions_total). A
	// block dropped the moment it is read still serves the catch-ups
	// that waited for it; a resume from further back than the cache
	// holds reads those blocks from JetStream again. Default 64 MiB.
	HistoryCacheBytes int
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
	// JWT, when enabled, also accepts scoped tokens (JSON Web Tokens, see
	// access.JWTConfig) the same ways, and as "?access_token=": each limits
	// /v1/stream, /v1/snapshot and /v1/symbols to the symbols in its
	// claim and ends streams at its exp. Routes need Token.
	JWT access.JWTConfig
	// Routes, if set, adds routes to the router (e.g. the simulator's
	// control endpoint in the all-in-one program). They get the access
	// token check and CORS like /v1/.
	Routes func(r chi.Router)
	// ShutdownSpread: on Shutdown each stream ends at a random moment
	// within this long (with a jittered retry:), so clients do not all
	// reconnect at once. Default 2s.
	ShutdownSpread time.Duration
	// Compress: which Content-Encoding a stream may use when the client's
	// Accept-Encoding offers it (compress.go): CompressOff, CompressGzip,
	// CompressZstd or CompressAuto. Default DefaultCompress; an unknown
	// value is CompressOff.
	Compress Compress
	// FlushInterval, if set, coalesces a client's writes: its pending
	// events are written together at most once per FlushInterval, never
	// held longer, every tick still sent (throttled streams have their
	// own clock and ignore it). Default 0: each wake-up writes at once.
	FlushInterval time.Duration
	// NoEventLoop serves every stream from goroutines of its own, as
	// before the event loop (loop.go). Default false: HTTP/1.1 streams
	// on TCP that are not compressed are served by the event loop.
	NoEventLoop bool
}

// DefaultRingSize is the ring's default length in messages: 524,288
// (2^19). The default simulator's stream takes about 4,400 messages a
// second at the open (ticks, quotes, bars), so the ring holds about two
// minutes of it, and a resume from memory (which leaves out the oldest
// eighth, see positionAfterLocked) reaches back about 100 s: a browser
// tab away a minute comes back from memory, every tick exact, not
// merged from the history index. A message costs about 600 bytes in the
// ring (its parsed form and its encoded frame), so a full ring holds
// about 300 MiB; the ring's 4 MiB of pointers are all it takes before
// it fills. The count is of messages, not of ticks: a feed of ticks
// only reaches back further for the same memory.
const DefaultRingSize = 1 << 19

func (o *Options) setDefaults() {
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	o.Heartbeat = max(o.Heartbeat, 3*time.Millisecond) // the sweep ticks every Heartbeat/3
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	if o.RingSize <= 0 {
		o.RingSize = DefaultRingSize
	}
	ring := 1 // the ring's real length (newHub rounds RingSize up likewise)
	for ring < o.RingSize {
		ring <<= 1
	}
	if o.MergeAfter <= 0 {
		o.MergeAfter = min(1024, ring/4)
	}
	// A catch-up from history cannot be lapped by the ring: it merges
	// only past the threshold asked for.
	o.catchupMergeAfter = max(o.MergeAfter, 1)
	o.MergeAfter = max(min(o.MergeAfter, ring-ring/8), 1)
	if o.HistoryReaders <= 0 {
		o.HistoryReaders = 4
	}
	if o.CatchupWorkers <= 0 {
		o.CatchupWorkers = defaultCatchupWorkers()
	}
	if o.HistoryCacheBytes <= 0 {
		o.HistoryCacheBytes = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ShutdownSpread <= 0 {
		o.ShutdownSpread = 2 * time.Second
	}
	if o.Compress == "" {
		o.Compress = DefaultCompress
	} else if c, ok := ParseCompress(string(o.Compress)); ok {
		o.Compress = c
	} else {
		o.Compress = CompressOff
	}
}
