package bench

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"
)

// Config describes one bench run. Zero fields mean the defaults given.
type Config struct {
	Clients int     // SSE clients, stalled ones included; default 100
	Rate    float64 // ticks/s over all symbols: the started gateway's --rate; with Target, for the report only; default 100

	// Symbols is the size of the published universe: passed to the started
	// gateway as --symbols N; with Target, clients use the first N
	// symbols of /v1/symbols. 0: all.
	Symbols int
	// SymbolList, if set, is the set clients subscribe from instead.
	SymbolList []string
	// PerClientSymbols: 0 means every client asks for the whole set (all
	// symbols); N > 0 gives each client N symbols of the set, round robin.
	PerClientSymbols int
	Throttle         time.Duration // throttle= on every request; 0: none
	Events           string        // events= on every request (e.g. "tick,quote,trade,bar,status"); empty: ticks only

	Slow       float64 // share of clients that connect and never read, 0..1
	SlowRcvBuf int     // SO_RCVBUF of a stalled client, bytes; default 4096

	Duration       time.Duration // measured window; default 10s
	Warmup         time.Duration // before it, excluded; default 2s (negative: none)
	Drain          time.Duration // after it, time for ticks in flight and for finding shed clients; default 3s
	ConnectTimeout time.Duration // for all clients to connect; default 60s

	Target    string // URL of a running gateway; empty: start `tickcast serve`
	TargetPID int    // with Target, its process id, for CPU and RSS; 0: not measured
	Addrs     int    // spread clients over source addresses 127.0.0.1..127.0.0.N; 0 or 1: one

	// For the gateway the bench starts.
	Seed         int64         // --seed; default 1
	Memory       bool          // --memory: in-memory JetStream store
	MaxConns     int           // --max-conns, if > 0
	WriteTimeout time.Duration // --write-timeout, if > 0
	ServeArgs    []string      // more arguments for serve
	Exe          string        // the tickcast binary; default os.Executable()
	ChildEnv     []string      // more environment for it, KEY=VALUE
	ChildOutput  io.Writer     // copy of its stdout and stderr; nil: kept only for errors

	// Storm mode (RestartAt > 0): the started gateway is killed RestartAt
	// after the measured window starts and started again on the same store
	// and address; every client resumes from its last event id. See
	// storm.go.
	RestartAt      time.Duration
	RestartSignal  string        // "kill" (SIGKILL, default) or "term" (SIGTERM, a clean shutdown)
	Absent         time.Duration // clients stay away this long after the kill before reconnecting
	ReconnectDelay time.Duration // in storm mode, between reconnect attempts; 0: the server's retry: (1s if none)

	// AcceptEncoding, "gzip" or "zstd", is sent as Accept-Encoding; the
	// clients decompress what they read (decode.go). Empty: none.
	AcceptEncoding string

	// Flood mode (Flood > 0): this many more clients resume again and
	// again from ids FloodMin to FloodMax ticks behind, reading only
	// their catch-up (flood.go).
	Flood              int
	FloodMin, FloodMax uint64
	// FloodOnce: each flood client resumes once, their starts spread
	// over the window's first second, instead of again and again.
	FloodOnce bool

	// For a server other than tickcast's gateway (bench/peers): if
	// StreamPath is set, every client asks for it (path and query)
	// instead of /v1/stream?...; Framing says how its events carry a
	// tick. The server still answers /healthz and /v1/symbols.
	StreamPath string
	Framing    string // FramingTick (default) or FramingCentrifuge

	ReadBuf  int    // per-client read buffer, bytes; default 8192
	Scenario string // label for the report
}

// Framings: how a server's SSE events carry a tick.
const (
	// FramingTick: tickcast's, "event: tick" with a Tick as data (and
	// snapshot and reset events).
	FramingTick = "tick"
	// FramingCentrifuge: centrifuge's unidirectional SSE (Centrifugo's
	// uni_sse): unnamed events whose data is a push,
	// {"channel":"...","pub":{"data":Tick}}; other pushes are skipped.
	FramingCentrifuge = "centrifuge"
)

func (c *Config) defaults() {
	if c.Clients <= 0 {
		c.Clients = 100
	}
	if c.Rate <= 0 {
		c.Rate = 100
	}
	if c.SlowRcvBuf <= 0 {
		c.SlowRcvBuf = 4096
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	} else if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Drain <= 0 {
		c.Drain = 3 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 60 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.ReadBuf < 512 {
		c.ReadBuf = 8192
	}
	if c.Scenario == "" {
		c.Scenario = "custom"
	}
	if c.Framing == "" {
		c.Framing = FramingTick
	}
	if c.RestartAt > 0 && c.RestartSignal == "" {
		c.RestartSignal = "kill"
	}
}

func checkConfig(cfg *Config) error {
	if cfg.Slow < 0 || cfg.Slow > 1 {
		return fmt.Errorf("bench: slow share %v: want 0 to 1", cfg.Slow)
	}
	if cfg.Addrs > 254 {
		return fmt.Errorf("bench: %d source addresses: at most 254", cfg.Addrs)
	}
	if cfg.Framing != FramingTick && cfg.Framing != FramingCentrifuge {
		return fmt.Errorf("bench: framing %q: want %s or %s", cfg.Framing, FramingTick, FramingCentrifuge)
	}
	switch cfg.AcceptEncoding {
	case "", "gzip", "zstd":
	default:
		return fmt.Errorf("bench: accept encoding %q: want gzip or zstd", cfg.AcceptEncoding)
	}
	if err := checkFlood(cfg); err != nil {
		return err
	}
	if err := checkStorm(cfg); err != nil {
		return err
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && uint64(cfg.Clients)+64 > lim.Cur {
		return fmt.Errorf("bench: %d clients need more open files than this process may have (%d): split them over several bench processes with --target", cfg.Clients, lim.Cur)
	}
	return nil
}

// subscriptionSet returns the symbols clients subscribe from, and whether
// that is the whole universe (so requests can omit symbols=).
func subscriptionSet(cfg *Config, universe []string) ([]string, bool) {
	if len(cfg.SymbolList) > 0 {
		set := make([]string, len(cfg.SymbolList))
		for i, s := range cfg.SymbolList {
			set[i] = strings.ToUpper(strings.TrimSpace(s))
		}
		return set, false
	}
	if cfg.Symbols > 0 && cfg.Symbols < len(universe) {
		return universe[:cfg.Symbols], false
	}
	return universe, true
}
