package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway"
	"github.com/tickcast/tickcast/gateway/access"
	"github.com/tickcast/tickcast/sim"
)

// natsFlags reach an external NATS server or cluster.
type natsFlags struct {
	url, creds, token, ca, cert, key string
}

func (n *natsFlags) register(fs *flag.FlagSet, required bool) {
	help := "NATS server URL(s), comma-separated"
	if !required {
		help += " (default: an embedded server)"
	}
	fs.StringVar(&n.url, "nats", "", help)
	fs.StringVar(&n.creds, "nats-creds", "", "NATS credentials file (.creds)")
	fs.StringVar(&n.token, "nats-token", "", natsTokenUsage)
	fs.StringVar(&n.ca, "nats-ca", "", "CA certificate file to verify the NATS server's TLS")
	fs.StringVar(&n.cert, "nats-cert", "", "client TLS certificate file for NATS")
	fs.StringVar(&n.key, "nats-key", "", "client TLS key file for NATS")
}

func (n *natsFlags) conn(name string) feed.ConnConfig {
	return feed.ConnConfig{URL: n.url, Name: name, CredsFile: n.creds, Token: natsToken(n.token), TLSCA: n.ca, TLSCert: n.cert, TLSKey: n.key}
}

// streamFlags set the stream's retention window and its companions'
// bounds. Zero means feed's default (which for the window depends on
// the storage).
type streamFlags struct {
	maxAge        time.Duration
	maxBytes      byteSize
	replicas      int
	memory        bool
	barsAge       time.Duration
	barsPerSeries int64
	barsBytes     byteSize
}

func (s *streamFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&s.maxAge, "max-age", 0, "keep messages in the stream this long: the resume window (default 1h on disk, 15m with --memory; docs/api.md, Resume window)")
	fs.Var(&s.maxBytes, "max-bytes", "and at most this many bytes, e.g. 4GiB, 512MiB (default 4GiB on disk, which holds the hour at the default feed's peak of ~1.1 MiB/s; 1GiB of RAM with --memory)")
	fs.IntVar(&s.replicas, "replicas", 1, "JetStream replicas of the stream (clusters: 3)")
	fs.BoolVar(&s.memory, "memory", false, "keep the stream in memory instead of on disk (lost on restart)")
	fs.DurationVar(&s.barsAge, "bars-max-age", feed.DefaultBarsMaxAge, "keep bars (GET /v1/bars history) this long, in the stream's <stream>_BARS companion")
	fs.Int64Var(&s.barsPerSeries, "bars-max-per-series", feed.DefaultBarsMaxPerSeries, "and at most this many bars per symbol and interval (21600: 6 hours of 1s bars; 1m bars reach --bars-max-age first)")
	s.barsBytes = feed.DefaultBarsMaxBytes
	fs.Var(&s.barsBytes, "bars-max-bytes", "and at most this many bytes of bars in all, the oldest going first")
}

// ensure creates or updates the stream with these limits. When the
// server cannot reserve the default byte limits (feed.ErrNoRoom: an
// embedded server grants at most 75% of the disk's free space), it
// halves them until they fit, down to 64 MiB for the stream, and warns
// with what it kept: a user who asked for no size still gets a running
// feed, with a shorter window, and is told. Limits the user set are
// never cut.
func (s *streamFlags) ensure(ctx context.Context, conn *feed.Conn, log *slog.Logger) error {
	cfg := s.config()
	_, err := conn.EnsureStream(ctx, cfg)
	if !errors.Is(err, feed.ErrNoRoom) || s.maxBytes != 0 || s.memory {
		return err
	}
	cfg.MaxBytes = feed.DefaultMaxBytes
	barsDefault := cfg.BarsMaxBytes == feed.DefaultBarsMaxBytes
	for errors.Is(err, feed.ErrNoRoom) && cfg.MaxBytes > 64<<20 {
		cfg.MaxBytes /= 2
		if barsDefault {
			cfg.BarsMaxBytes /= 2
		}
		_, err = conn.EnsureStream(ctx, cfg)
	}
	if err == nil {
		log.Warn("not enough free storage for the default window: the stream keeps less (see the stream window lines; free space, or set --max-bytes)",
			"max_bytes", cfg.MaxBytes, "bars_max_bytes", cfg.BarsMaxBytes)
	}
	return err
}

func (s *streamFlags) config() feed.StreamConfig {
	return feed.StreamConfig{MaxAge: s.maxAge, MaxBytes: int64(s.maxBytes), Replicas: s.replicas, Memory: s.memory,
		BarsMaxAge: s.barsAge, BarsMaxPerSeries: s.barsPerSeries, BarsMaxBytes: int64(s.barsBytes)}
}

// simFlags configure the simulator.
type simFlags struct {
	rate    float64
	seed    int64
	symbols int
	speed   float64
	extras  *simExtras
}

func (s *simFlags) register(fs *flag.FlagSet) {
	fs.Float64Var(&s.rate, "rate", sim.DefaultRate, "ticks per second, all symbols together")
	fs.Int64Var(&s.seed, "seed", 0, "random seed; the same seed gives the same ticks (0: from the clock)")
	fs.IntVar(&s.symbols, "symbols", 0, "simulate only the first N symbols of the default universe (0: all)")
	fs.Float64Var(&s.speed, "speed", 10, "simulated trading seconds per real second (1: real-time volatility; higher: livelier prices)")
	s.extras = registerSimExtras(fs)
}

func (s *simFlags) config() (sim.Config, error) {
	if s.rate <= 0 {
		return sim.Config{}, fmt.Errorf("--rate must be > 0, not %v", s.rate)
	}
	u := sim.DefaultUniverse()
	if s.symbols < 0 || s.symbols > len(u) {
		return sim.Config{}, fmt.Errorf("--symbols must be 0 to %d, not %d", len(u), s.symbols)
	}
	if s.symbols > 0 {
		u = u[:s.symbols]
	}
	seed := s.seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	cfg := sim.Config{Seed: seed, Rate: s.rate, Universe: u, Speed: s.speed}
	if err := s.extras.apply(&cfg); err != nil {
		return sim.Config{}, err
	}
	return cfg, nil
}

// gatewayFlags configure the HTTP gateway.
type gatewayFlags struct {
	addr         string
	writeTimeout time.Duration
	maxConns     int
	heartbeat    time.Duration
	ring         int
	maxResume    uint64
	histCache    byteSize
	logLevel     string
	sndbuf       int
	pprof        string
	gogc         int
	mergeAfter   int
	perIP        int
	proxies      string
	cors         string
	token        string
	jwt          jwtFlags
	readHeader   time.Duration
	spread       time.Duration
	compress     string
	tlsCert      string
	tlsKey       string
	h2c          bool
	flushEvery   time.Duration
	eventLoop    bool
}

func (g *gatewayFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.addr, "addr", "127.0.0.1:8080", "HTTP listen address (port 0: any free port)")
	fs.DurationVar(&g.writeTimeout, "write-timeout", 10*time.Second, "disconnect a client whose write blocks this long")
	fs.DurationVar(&g.flushEvery, "flush-interval", 0, "write a client's pending events together at most once per this long (lossless; e.g. 16ms for 60 Hz dashboards); 0: write at once")
	fs.BoolVar(&g.eventLoop, "event-loop", true, "serve HTTP/1.1 streams from a few epoll workers instead of goroutines per connection (Linux; compressed, HTTP/2 and TLS streams keep goroutines)")
	fs.IntVar(&g.maxConns, "max-conns", 0, "cap on concurrent SSE connections (0: none); past it clients are told to retry later")
	fs.DurationVar(&g.heartbeat, "heartbeat", 15*time.Second, "longest silence on a stream before a comment line")
	fs.IntVar(&g.ring, "ring", gateway.DefaultRingSize, "recent stream messages (every event type) held in memory for fan-out and resumes from memory: about 100 s of the default feed at the open, about 600 bytes each when full (~300 MiB)")
	fs.Uint64Var(&g.maxResume, "max-resume", 0, "if set, ids further than this many messages behind get a reset (too_far); 0: any id in the stream's window resumes")
	g.histCache = 64 << 20
	fs.Var(&g.histCache, "history-cache", "bytes of block summaries the history index keeps for resumes from behind the ring, e.g. 64MiB, 256MiB (about 85 KiB per 4096 messages of the default feed: 64 MiB holds ~3.1M); the oldest blocks are dropped first")
	fs.IntVar(&g.sndbuf, "sndbuf", gateway.DefaultSendBuffer, "kernel send buffer per client connection in bytes; small keeps backlogs in the gateway where they are merged (-1: kernel autotuning)")
	fs.StringVar(&g.pprof, "pprof", "", "serve Go's pprof profiles on this separate address (e.g. 127.0.0.1:6060); off by default")
	fs.IntVar(&g.gogc, "gogc", 25, "Go GC target percentage (the GOGC environment variable wins); 25 keeps ~20% less memory per connection than Go's 100, and with the ring full costs serve ~17% more CPU at rest for ~300 MiB less RSS (see BENCHMARKS.md)")
	fs.IntVar(&g.mergeAfter, "merge-after", 1024, "a client this many messages behind (ticks, for a client of ticks of every symbol; its own symbols' messages of its event types, for a client of some) gets merged events per symbol (ticks, trades, quotes, books) until it catches up")
	fs.IntVar(&g.perIP, "max-conns-per-ip", 0, "cap on concurrent SSE connections from one remote address (0: none)")
	fs.StringVar(&g.proxies, "trusted-proxies", "", "comma-separated networks (e.g. 10.0.0.0/8,127.0.0.1/32) of proxies whose X-Forwarded-For the per-IP cap believes")
	fs.StringVar(&g.cors, "cors-origins", "", "comma-separated origins allowed to use the API from other sites (CORS), or *")
	fs.StringVar(&g.token, "token", "", "require this access token on /v1/ (Authorization: Bearer or ?token=); if empty, $TICKCAST_TOKEN (keeps it out of ps)")
	g.jwt.register(fs)
	fs.DurationVar(&g.readHeader, "read-header-timeout", 10*time.Second, "cut connections that take longer to send request headers (slowloris)")
	fs.DurationVar(&g.spread, "shutdown-spread", 2*time.Second, "on shutdown, end streams at random moments within this long, so clients do not reconnect all at once")
	fs.StringVar(&g.compress, "compress", string(gateway.DefaultCompress), "compress streams for clients whose Accept-Encoding offers it: off, gzip, zstd, or auto (zstd or gzip, as the client prefers; zstd costs ~350 KiB per stream, gzip ~5 KiB)")
	fs.StringVar(&g.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM file, chain after the leaf): HTTP/2 and HTTP/1.1 by ALPN; needs --tls-key")
	fs.StringVar(&g.tlsKey, "tls-key", "", "the private key (PEM file) of --tls-cert")
	fs.BoolVar(&g.h2c, "h2c", false, "also accept HTTP/2 in clear text (prior knowledge), for a proxy that speaks it to the gateway; not with --tls-cert")
	fs.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
}

// checkTLS refuses --tls-cert without --tls-key and the reverse, and
// --h2c with TLS.
func (g *gatewayFlags) checkTLS() error {
	switch {
	case g.tlsCert != "" && g.tlsKey == "":
		return fmt.Errorf("%w: --tls-cert needs --tls-key, the certificate's private key", errUsage)
	case g.tlsKey != "" && g.tlsCert == "":
		return fmt.Errorf("%w: --tls-key needs --tls-cert, the certificate it belongs to", errUsage)
	case g.h2c && g.tlsCert != "":
		return fmt.Errorf("%w: --h2c is HTTP/2 in clear text; with --tls-cert HTTP/2 is negotiated by ALPN already: drop --h2c", errUsage)
	}
	return nil
}

func (g *gatewayFlags) options(log *slog.Logger) (gateway.Options, error) {
	if err := g.checkTLS(); err != nil {
		return gateway.Options{}, err
	}
	var proxies []netip.Prefix
	for _, p := range splitList(g.proxies) {
		if !strings.Contains(p, "/") {
			if a, err := netip.ParseAddr(p); err == nil {
				p = netip.PrefixFrom(a, a.BitLen()).String()
			}
		}
		pf, err := netip.ParsePrefix(p)
		if err != nil {
			return gateway.Options{}, fmt.Errorf("%w: --trusted-proxies: %v", errUsage, err)
		}
		proxies = append(proxies, pf)
	}
	jwtc, err := g.jwt.config()
	if err != nil {
		return gateway.Options{}, err
	}
	compress, ok := gateway.ParseCompress(g.compress)
	if !ok {
		return gateway.Options{}, fmt.Errorf("%w: --compress %q: want off, gzip, zstd or auto", errUsage, g.compress)
	}
	return gateway.Options{
		JWT:          jwtc,
		Compress:     compress,
		WriteTimeout: g.writeTimeout,
		MaxConns:     g.maxConns,
		Heartbeat:    g.heartbeat,
		RingSize:     g.ring,
		MaxResume:    g.maxResume,

		HistoryCacheBytes: int(g.histCache),
		MergeAfter:        g.mergeAfter,
		Logger:            log,

		FlushInterval: g.flushEvery,
		NoEventLoop:   !g.eventLoop,

		MaxConnsPerIP:  g.perIP,
		AllowedOrigins: splitList(g.cors),
		Token:          g.accessToken(),
		ShutdownSpread: g.spread,
		TrustedProxies: proxies,
	}, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// parse parses args, printing usage on --help.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return fmt.Errorf("%w: %v", errFlags, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

const natsTokenUsage = "NATS authorization token (a tickcast serve's --nats-token); if empty, $TICKCAST_NATS_TOKEN (keeps it out of ps)"

// natsToken is the flag's value, or $TICKCAST_NATS_TOKEN.
func natsToken(flagValue string) string {
	return cmp.Or(flagValue, os.Getenv("TICKCAST_NATS_TOKEN"))
}

// loopback reports whether a listen address (host:port) accepts
// connections from this machine only. An empty host listens everywhere.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// accessToken is --token, or $TICKCAST_TOKEN.
func (g *gatewayFlags) accessToken() string { return cmp.Or(g.token, os.Getenv("TICKCAST_TOKEN")) }

// jwtFlags configure scoped access tokens (JWTs).
type jwtFlags struct {
	secretFile, publicKey, audience, issuer string
}

func (j *jwtFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&j.secretFile, "jwt-hs256-secret-file", "", "accept HS256 access tokens (JWTs) signed with the secret in this file (at least 32 bytes; a trailing newline is dropped); if empty, $TICKCAST_JWT_SECRET holds the secret itself")
	fs.StringVar(&j.publicKey, "jwt-public-key", "", "accept RS256 (RSA keys) and ES256 (P-256 keys) access tokens (JWTs) verified with the public keys in this PEM file")
	fs.StringVar(&j.audience, "jwt-audience", "", "if set, access tokens must carry this audience (aud)")
	fs.StringVar(&j.issuer, "jwt-issuer", "", "if set, access tokens must carry this issuer (iss)")
}

// config reads the secret and the keys, and checks them as the gateway will.
func (j *jwtFlags) config() (access.JWTConfig, error) {
	var c access.JWTConfig
	switch {
	case j.secretFile != "":
		b, err := os.ReadFile(j.secretFile)
		if err != nil {
			return c, fmt.Errorf("%w: --jwt-hs256-secret-file: %v", errUsage, err)
		}
		c.HS256Secret = []byte(strings.TrimRight(string(b), "\r\n"))
	case os.Getenv("TICKCAST_JWT_SECRET") != "":
		c.HS256Secret = []byte(os.Getenv("TICKCAST_JWT_SECRET"))
	}
	if j.publicKey != "" {
		b, err := os.ReadFile(j.publicKey)
		if err != nil {
			return c, fmt.Errorf("%w: --jwt-public-key: %v", errUsage, err)
		}
		if c.PublicKeys, err = access.ParsePublicKeys(b); err != nil {
			return c, fmt.Errorf("%w: --jwt-public-key %s: %v", errUsage, j.publicKey, err)
		}
	}
	if !c.Enabled() && (j.audience != "" || j.issuer != "") {
		return c, fmt.Errorf("%w: --jwt-audience and --jwt-issuer need --jwt-hs256-secret-file, $TICKCAST_JWT_SECRET or --jwt-public-key", errUsage)
	}
	c.Audience, c.Issuer = j.audience, j.issuer
	if err := c.Check(); err != nil {
		return c, fmt.Errorf("%w: access tokens: %v", errUsage, err)
	}
	return c, nil
}
