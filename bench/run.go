package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
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

	ReadBuf  int    // per-client read buffer, bytes; default 8192
	Scenario string // label for the report
}

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
}

// Latency is a latency summary in microseconds.
type Latency struct {
	P50  int64   `json:"p50"`
	P90  int64   `json:"p90"`
	P99  int64   `json:"p99"`
	P999 int64   `json:"p999"`
	Max  int64   `json:"max"`
	Mean float64 `json:"mean"`
}

// Result is what one run measured. Deliveries count ticks to clients, a
// merged event counting the ticks it stands for; only ticks whose
// scheduled time falls in the measured window count, and each one's
// latency (receipt and parse minus that time) is in Latency. Seq checks
// (gaps and the rest) cover the whole run.
type Result struct {
	Scenario         string  `json:"scenario"`
	Target           string  `json:"target"`
	Clients          int     `json:"clients"`
	SlowClients      int     `json:"slow_clients"`
	Rate             float64 `json:"rate"`
	Universe         int     `json:"universe"`           // symbols the gateway publishes
	SymbolsPerClient float64 `json:"symbols_per_client"` // mean
	Throttle         string  `json:"throttle,omitempty"`
	DurationS        float64 `json:"duration_s"`
	WarmupS          float64 `json:"warmup_s"`

	Delivered        uint64  `json:"delivered"`
	Events           uint64  `json:"events"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	OfferedPerSec    float64 `json:"offered_per_sec"` // what the rate and subscriptions imply
	Latency          Latency `json:"latency_us"`

	Gaps         uint64 `json:"gaps"` // missing ticks (healthy clients)
	GapEvents    uint64 `json:"gap_events"`
	Dups         uint64 `json:"dups"`
	Overlaps     uint64 `json:"overlaps"`
	Merged       uint64 `json:"merged"` // ticks that arrived in merged events
	MergedEvents uint64 `json:"merged_events"`
	BadEvents    uint64 `json:"bad_events"`
	Resets       uint64 `json:"resets"`
	Snapshots    uint64 `json:"snapshots"`
	SlowGaps     uint64 `json:"slow_gaps"`   // missing ticks seen by stalled clients when they read at last
	SlowMerged   uint64 `json:"slow_merged"` // ticks merged for stalled clients

	Connected     int   `json:"connected"`
	ConnectErrors int   `json:"connect_errors"`
	Disconnects   int64 `json:"disconnects"` // healthy clients' streams that ended
	Reconnects    int64 `json:"reconnects"`
	Shed          int64 `json:"shed"`    // stalled clients whose connection the gateway closed
	Lagging       int   `json:"lagging"` // healthy clients with ticks of the window still missing after the drain

	GatewayCPUS      float64  `json:"gateway_cpu_s"` // in the measured window
	CPUUsPerDelivery float64  `json:"cpu_us_per_delivery"`
	RSSBytes         int64    `json:"rss_bytes"`      // at the end of the window
	RSSPeakBytes     int64    `json:"rss_peak_bytes"` // VmHWM
	RSSBaseBytes     int64    `json:"rss_base_bytes"` // before clients connected
	RSSPerConnBytes  float64  `json:"rss_per_conn_bytes"`
	BenchCPUS        float64  `json:"bench_cpu_s"` // this process, in the window
	CPUs             int      `json:"cpus"`
	Errors           []string `json:"errors,omitempty"` // the first few client errors
}

type runner struct {
	cfg      Config
	hostport string
	index    map[string]int32 // symbol -> index in the universe; read-only once clients start

	winStart, winEnd atomic.Int64 // Unix ns; winStart is MaxInt64 until set

	connected, connDone, connectErrs atomic.Int64
	disconnects, reconnects, shed    atomic.Int64

	ctlSlow, ctlFast func(network, address string, c syscall.RawConn) error

	errMu sync.Mutex
	errs  []string
}

const maxErrs = 5

func (r *runner) errList() []string {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return append([]string(nil), r.errs...)
}

func (r *runner) noteErr(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if len(r.errs) < maxErrs {
		r.errs = append(r.errs, err.Error())
	}
}

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT: bind a source address
// without reserving a port until connect, so the port space is per
// destination.
const ipBindAddressNoPort = 24

func (r *runner) control(slow bool) func(string, string, syscall.RawConn) error {
	if slow {
		return r.ctlSlow
	}
	return r.ctlFast
}

func (r *runner) makeControls() {
	mk := func(slow bool) func(string, string, syscall.RawConn) error {
		if !slow && r.cfg.Addrs <= 1 {
			return nil
		}
		return func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				if slow {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, r.cfg.SlowRcvBuf)
				}
				if serr == nil && r.cfg.Addrs > 1 {
					serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
				}
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	r.ctlSlow, r.ctlFast = mk(true), mk(false)
}

// Run runs one benchmark: it starts the gateway (unless cfg.Target is
// set), connects the clients, waits out the warm-up, measures for
// cfg.Duration, drains, and stops everything it started. A line a second
// goes to progress (nil: none).
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Result, error) {
	cfg.defaults()
	if progress == nil {
		progress = io.Discard
	}
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg}
	r.makeControls()
	r.winStart.Store(1<<63 - 1)
	r.winEnd.Store(1<<63 - 1)

	base, pid := cfg.Target, cfg.TargetPID
	if base == "" {
		fmt.Fprintf(progress, "bench: starting gateway: serve %s\n", strings.Join(serveArgs(&cfg, "<tmp>"), " ")[len("serve "):])
		ch, err := startChild(ctx, &cfg)
		if err != nil {
			return nil, err
		}
		defer ch.stop()
		base, pid = ch.url, ch.pid()
		fmt.Fprintf(progress, "bench: gateway pid %d at %s\n", pid, base)
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("bench: target %q: want http://HOST:PORT", base)
	}
	r.hostport = u.Host
	if u.Port() == "" {
		r.hostport = net.JoinHostPort(u.Hostname(), "80")
	}
	base = "http://" + u.Host
	if err := waitHealthy(ctx, base, 30*time.Second); err != nil {
		return nil, err
	}
	universe, err := fetchSymbols(ctx, base)
	if err != nil {
		return nil, err
	}
	r.index = make(map[string]int32, len(universe))
	for i, s := range universe {
		r.index[s] = int32(i)
	}
	set, all := subscriptionSet(&cfg, universe)
	if len(set) == 0 {
		return nil, errors.New("bench: no symbols to subscribe to")
	}

	res := &Result{
		Scenario: cfg.Scenario, Target: base, Clients: cfg.Clients, Rate: cfg.Rate,
		Universe: len(universe), DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds(),
		CPUs: runtime.NumCPU(),
	}
	if cfg.Throttle > 0 {
		res.Throttle = cfg.Throttle.String()
	}

	nshards := max(4, 4*runtime.GOMAXPROCS(0))
	shards := make([]*shard, nshards)
	for i := range shards {
		shards[i] = newShard()
	}
	nslow := int(cfg.Slow*float64(cfg.Clients) + 0.5)
	res.SlowClients = nslow
	clients := make([]*client, cfg.Clients)
	var symTotal int
	for i := range clients {
		syms := set
		if k := cfg.PerClientSymbols; k > 0 && k < len(set) {
			syms = make([]string, k)
			for j := range syms {
				syms[j] = set[(i*k+j)%len(set)]
			}
		} else if all {
			syms = nil // no symbols= : everything
		}
		if len(syms) > 100 {
			return nil, fmt.Errorf("bench: %d symbols per client: the gateway takes at most 100 (use --per-client-symbols or no symbol list)", len(syms))
		}
		n := len(syms)
		if syms == nil {
			n = len(set)
		}
		// stalled clients are spread evenly among the others
		slow := nslow > 0 && (i*nslow)/cfg.Clients != ((i+1)*nslow)/cfg.Clients
		if !slow {
			symTotal += n
		}
		c := &client{r: r, sh: shards[i%nshards], n: i, slow: slow,
			query: streamQuery(syms, cfg.Throttle), buf: make([]byte, cfg.ReadBuf),
			last: make([]uint64, len(universe))}
		if cfg.Addrs > 1 {
			c.local = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%cfg.Addrs))}
		}
		c.p.Reset(c, true)
		clients[i] = c
	}
	healthy := cfg.Clients - nslow
	if healthy > 0 {
		res.SymbolsPerClient = float64(symTotal) / float64(healthy)
	}
	res.OfferedPerSec = cfg.Rate * float64(symTotal) / float64(len(universe))

	if pid > 0 {
		res.RSSBaseBytes, _, _ = procMem(pid)
	}

	// Clients: one goroutine each, owned by Run: cancelClients and
	// wg.Wait end them, on every return path.
	clientCtx, cancelClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancelClients()
		wg.Wait()
	}()
	drain := make(chan struct{})
	var drainEnd atomic.Int64
	deadline := func() time.Time { return time.Unix(0, drainEnd.Load()) }
	sem := make(chan struct{}, 64) // dials in flight; the rest wait their turn
	var slowWG sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		if c.slow {
			slowWG.Add(1)
		}
		go func() {
			defer wg.Done()
			if c.slow {
				defer slowWG.Done()
			}
			select {
			case sem <- struct{}{}:
			case <-clientCtx.Done():
				r.connDone.Add(1)
				return
			}
			err := c.dial(clientCtx)
			<-sem
			if err != nil {
				r.connectErrs.Add(1)
				r.noteErr(fmt.Errorf("client %d: %w", c.n, err))
				r.connDone.Add(1)
				return
			}
			c.up.Store(true)
			r.connected.Add(1)
			r.connDone.Add(1)
			if c.slow {
				c.runSlow(clientCtx, drain, deadline)
			} else {
				c.run(clientCtx)
			}
		}()
	}

	start := time.Now()
	pr := &progressLine{w: progress, shards: shards, r: r, start: start, total: cfg.Clients}
	if err := r.waitConnected(ctx, cfg, pr); err != nil {
		return nil, err
	}
	res.Connected = int(r.connected.Load())
	res.ConnectErrors = int(r.connectErrs.Load())
	if res.Connected == 0 {
		return nil, fmt.Errorf("bench: no client connected: %s", strings.Join(r.errList(), "; "))
	}
	if pid > 0 && res.Connected > 0 {
		rss, _, _ := procMem(pid)
		res.RSSPerConnBytes = float64(rss-res.RSSBaseBytes) / float64(res.Connected)
	}

	// The window, by tick time.
	t0 := time.Now()
	ws, we := t0.Add(cfg.Warmup), t0.Add(cfg.Warmup+cfg.Duration)
	r.winEnd.Store(we.UnixNano())
	r.winStart.Store(ws.UnixNano())
	warm := time.NewTimer(cfg.Warmup)
	defer warm.Stop()
	end := time.NewTimer(cfg.Warmup + cfg.Duration)
	defer end.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	pr.phase = "warm-up"
	var cpu0, self0 time.Duration
	self := os.Getpid()
measure:
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-warm.C:
			if pid > 0 {
				cpu0, _ = procCPU(pid)
			}
			self0, _ = procCPU(self)
			pr.phase = "measure"
		case <-end.C:
			if pid > 0 {
				cpu1, _ := procCPU(pid)
				res.GatewayCPUS = (cpu1 - cpu0).Seconds()
				res.RSSBytes, res.RSSPeakBytes, _ = procMem(pid)
			}
			self1, _ := procCPU(self)
			res.BenchCPUS = (self1 - self0).Seconds()
			break measure
		case <-tick.C:
			pr.print()
		}
	}

	// Drain: let ticks of the window still in flight arrive, and let the
	// stalled clients read to see whether they were shed.
	pr.phase = "drain"
	drainEnd.Store(time.Now().Add(cfg.Drain).UnixNano())
	close(drain)
	weNs := we.UnixNano()
	for {
		lagging := 0
		for _, c := range clients {
			if !c.slow && c.up.Load() && c.newest.Load() < weNs {
				lagging++
			}
		}
		res.Lagging = lagging
		if time.Now().UnixNano() >= drainEnd.Load() || (lagging == 0 && nslow == 0) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	slowWG.Wait()
	cancelClients()
	wg.Wait()
	pr.phase = "done"
	pr.print()

	total := hdrhistogram.New(1, maxLatencyUs, 3)
	var st, slowSt seqStats
	for _, sh := range shards {
		total.Merge(sh.hist)
		st.add(&sh.st)
		slowSt.add(&sh.slowSt)
		res.Delivered += sh.winTicks
		res.Events += sh.winEvents
		res.BadEvents += sh.bad
		res.Resets += sh.resets
		res.Snapshots += sh.snapshots
	}
	res.Latency = Latency{
		P50: total.ValueAtQuantile(50), P90: total.ValueAtQuantile(90),
		P99: total.ValueAtQuantile(99), P999: total.ValueAtQuantile(99.9),
		Max: total.Max(), Mean: total.Mean(),
	}
	res.DeliveriesPerSec = float64(res.Delivered) / cfg.Duration.Seconds()
	res.Gaps, res.GapEvents, res.Dups, res.Overlaps = st.Gaps, st.GapEvents, st.Dups, st.Overlaps
	res.Merged, res.MergedEvents = st.Merged, st.MergedEvents
	res.SlowGaps, res.SlowMerged = slowSt.Gaps, slowSt.Merged
	res.Disconnects, res.Reconnects, res.Shed = r.disconnects.Load(), r.reconnects.Load(), r.shed.Load()
	if res.Delivered > 0 {
		res.CPUUsPerDelivery = res.GatewayCPUS * 1e6 / float64(res.Delivered)
	}
	res.Errors = r.errList()
	return res, nil
}

func checkConfig(cfg *Config) error {
	if cfg.Slow < 0 || cfg.Slow > 1 {
		return fmt.Errorf("bench: slow share %v: want 0 to 1", cfg.Slow)
	}
	if cfg.Addrs > 254 {
		return fmt.Errorf("bench: %d source addresses: at most 254", cfg.Addrs)
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

func (r *runner) waitConnected(ctx context.Context, cfg Config, pr *progressLine) error {
	pr.phase = "connect"
	timeout := time.NewTimer(cfg.ConnectTimeout)
	defer timeout.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	last := time.Now()
	for r.connDone.Load() < int64(cfg.Clients) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			r.noteErr(fmt.Errorf("only %d of %d clients connected within %v", r.connected.Load(), cfg.Clients, cfg.ConnectTimeout))
			return nil
		case now := <-poll.C:
			if now.Sub(last) >= time.Second {
				pr.print()
				last = now
			}
		}
	}
	return nil
}
