// A little over 400 lines: Run and its named phases (setup, clients,
// connect, measure, drain, aggregate) read best in order in one file.

package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

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
	if cfg.RestartAt > 0 {
		progress = &lockedWriter{w: progress} // shared with the storm goroutine
	}
	b := &benchRun{cfg: cfg, r: newRunner(cfg), progress: progress}
	defer b.stopGateway()
	if err := b.setup(ctx); err != nil {
		return nil, err
	}
	if cfg.RestartAt > 0 {
		b.st = newStorm(b)
	}
	if err := b.makeClients(); err != nil {
		return nil, err
	}
	b.startClients(ctx)
	defer b.stopClients()
	if err := b.connect(ctx); err != nil {
		return nil, err
	}
	if err := b.measure(ctx); err != nil {
		return nil, err
	}
	if err := b.drain(ctx); err != nil {
		return nil, err
	}
	b.aggregate()
	return b.res, nil
}

// benchRun is one Run in progress: what its phases hand each other, in
// the order Run calls them.
type benchRun struct {
	cfg      Config
	r        *runner
	progress io.Writer
	res      *Result

	// setup
	gw       *child // the gateway Run started, or nil
	pid      int    // the gateway's process id; 0: not measured
	universe []string
	set      []string // the symbols clients subscribe from
	all      bool     // set is the whole universe

	// makeClients
	shards  []*shard
	clients []*client
	nslow   int

	// startClients: one goroutine per client, ended by stopClients
	cancelClients context.CancelFunc
	wg, slowWG    sync.WaitGroup
	drainStart    chan struct{} // closed when the drain begins
	drainEnd      atomic.Int64  // Unix ns

	// connect
	pr *progressLine

	// measure
	winEnd time.Time
	st     *storm // storm mode: the restart, started by measure
	base   string // the gateway's http://host:port
	fl     *flood // flood mode, started by measure
}

// setup starts the gateway unless cfg.Target is given, waits for it to be
// healthy, and reads the symbol universe.
func (b *benchRun) setup(ctx context.Context) error {
	cfg, r := &b.cfg, b.r
	base, pid := cfg.Target, cfg.TargetPID
	if base == "" {
		fmt.Fprintf(b.progress, "bench: starting gateway: serve %s\n", strings.Join(serveArgs(cfg, "<tmp>"), " ")[len("serve "):])
		ch, err := startChild(ctx, cfg)
		if err != nil {
			return err
		}
		b.gw = ch
		base, pid = ch.url, ch.pid()
		fmt.Fprintf(b.progress, "bench: gateway pid %d at %s\n", pid, base)
	}
	b.pid = pid
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("bench: target %q: want http://HOST:PORT", base)
	}
	r.hostport = u.Host
	if u.Port() == "" {
		r.hostport = net.JoinHostPort(u.Hostname(), "80")
	}
	base = "http://" + u.Host
	b.base = base
	if err := waitHealthy(ctx, base, 30*time.Second); err != nil {
		return err
	}
	universe, err := fetchSymbols(ctx, base)
	if err != nil {
		return err
	}
	r.index = make(map[string]int32, len(universe))
	for i, s := range universe {
		r.index[s] = int32(i)
	}
	b.universe = universe
	b.set, b.all = subscriptionSet(cfg, universe)
	if len(b.set) == 0 {
		return errors.New("bench: no symbols to subscribe to")
	}

	b.res = &Result{
		Scenario: cfg.Scenario, Target: base, Clients: cfg.Clients, Rate: cfg.Rate, AcceptEncoding: cfg.AcceptEncoding,
		Universe: len(universe), DurationS: cfg.Duration.Seconds(), WarmupS: cfg.Warmup.Seconds(),
		CPUs: runtime.NumCPU(),
	}
	b.res.EventTypes = cfg.Events
	if b.gw != nil {
		b.res.ServeArgs = strings.Join(cfg.ServeArgs, " ")
	}
	if cfg.Throttle > 0 {
		b.res.Throttle = cfg.Throttle.String()
	}
	return nil
}

// stopGateway stops the gateway setup started, if any, and the one the
// storm started in its place.
func (b *benchRun) stopGateway() {
	if b.st != nil {
		b.st.stop()
	}
	if b.gw != nil {
		b.gw.stop()
	}
}

// makeClients builds the clients, stalled ones spread evenly among the
// others, each with its symbols, and the shards they report into.
func (b *benchRun) makeClients() error {
	cfg, res, set := &b.cfg, b.res, b.set
	nshards := max(4, 4*runtime.GOMAXPROCS(0))
	b.shards = make([]*shard, nshards)
	for i := range b.shards {
		b.shards[i] = newShard()
	}
	nslow := int(cfg.Slow*float64(cfg.Clients) + 0.5)
	b.nslow = nslow
	res.SlowClients = nslow
	b.clients = make([]*client, cfg.Clients)
	var symTotal int
	for i := range b.clients {
		syms := set
		if k := cfg.PerClientSymbols; k > 0 && k < len(set) {
			syms = make([]string, k)
			for j := range syms {
				syms[j] = set[(i*k+j)%len(set)]
			}
		} else if b.all {
			syms = nil // no symbols= : everything
		}
		if len(syms) > 100 {
			return fmt.Errorf("bench: %d symbols per client: the gateway takes at most 100 (use --per-client-symbols or no symbol list)", len(syms))
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
		query := cfg.StreamPath
		if query == "" {
			query = streamQuery(syms, cfg.Throttle, cfg.Events)
		}
		c := &client{r: b.r, sh: b.shards[i%nshards], n: i, slow: slow,
			query: query, buf: make([]byte, cfg.ReadBuf),
			last: make([]uint64, len(b.universe)), retry: -1}
		if cfg.Addrs > 1 {
			c.local = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%cfg.Addrs))}
		}
		c.p.Reset(c, true)
		b.clients[i] = c
	}
	healthy := cfg.Clients - nslow
	if healthy > 0 {
		res.SymbolsPerClient = float64(symTotal) / float64(healthy)
	}
	res.OfferedPerSec = cfg.Rate * float64(symTotal) / float64(len(b.universe))
	return nil
}

// startClients notes the gateway's memory before any client connects,
// then starts one goroutine per client: it dials (at most 64 dials in
// flight) and reads until stopClients. Run owns these goroutines:
// stopClients ends them, on every return path.
func (b *benchRun) startClients(ctx context.Context) {
	if b.pid > 0 {
		b.res.RSSBaseBytes, _, _ = procMem(b.pid)
	}
	clientCtx, cancel := context.WithCancel(ctx)
	b.cancelClients = cancel
	b.drainStart = make(chan struct{})
	sem := make(chan struct{}, 64) // dials in flight; the rest wait their turn
	for _, c := range b.clients {
		b.wg.Add(1)
		if c.slow {
			b.slowWG.Add(1)
		}
		go b.runClient(clientCtx, c, sem)
	}
}

// runClient is one client's goroutine.
func (b *benchRun) runClient(ctx context.Context, c *client, sem chan struct{}) {
	r := b.r
	defer b.wg.Done()
	if c.slow {
		defer b.slowWG.Done()
	}
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		r.connDone.Add(1)
		return
	}
	err := c.dial(ctx)
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
		c.runSlow(ctx, b.drainStart, b.drainDeadline)
	} else {
		c.run(ctx)
	}
}

// drainDeadline is when the drain ends, for the stalled clients.
func (b *benchRun) drainDeadline() time.Time { return time.Unix(0, b.drainEnd.Load()) }

// stopClients cancels the clients and waits for their goroutines.
func (b *benchRun) stopClients() {
	b.cancelClients()
	b.wg.Wait()
}

// connect waits for the clients to connect (or fail, or time out) and
// notes how many did and the memory each cost the gateway.
func (b *benchRun) connect(ctx context.Context) error {
	r, res := b.r, b.res
	b.pr = &progressLine{w: b.progress, shards: b.shards, r: r, start: time.Now(), total: b.cfg.Clients}
	if err := r.waitConnected(ctx, b.cfg, b.pr); err != nil {
		return err
	}
	res.Connected = int(r.connected.Load())
	res.ConnectErrors = int(r.connectErrs.Load())
	if res.Connected == 0 {
		return fmt.Errorf("bench: no client connected: %s", strings.Join(r.errList(), "; "))
	}
	if b.pid > 0 && res.Connected > 0 {
		// Sampled the moment the last client is in: the connect burst's
		// garbage (net/http's per-connection buffers, the request, the
		// handshake's stacks) is still in the gateway's heap or not yet
		// returned to the OS. measure samples again at the window's end
		// (RSSPerConnEnd), the streams settled.
		rss, _, _ := procMem(b.pid)
		res.RSSPerConnBytes = float64(rss-res.RSSBaseBytes) / float64(res.Connected)
	}
	return nil
}

// measure sets the window, by tick time, waits out the warm-up and the
// measured window, and takes the gateway's and this process's CPU over
// the window and the gateway's memory at its end.
func (b *benchRun) measure(ctx context.Context) error {
	cfg, res, pid, pr := &b.cfg, b.res, b.pid, b.pr
	t0 := time.Now()
	ws, we := t0.Add(cfg.Warmup), t0.Add(cfg.Warmup+cfg.Duration)
	b.winEnd = we
	b.r.winEnd.Store(we.UnixNano())
	b.r.winStart.Store(ws.UnixNano())
	warm := time.NewTimer(cfg.Warmup)
	defer warm.Stop()
	end := time.NewTimer(cfg.Warmup + cfg.Duration)
	defer end.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	pr.phase = "warm-up"
	if b.st != nil {
		b.st.start(ctx, ws.Add(cfg.RestartAt))
	}
	if cfg.Flood > 0 {
		b.fl = b.startFlood(ctx, b.base, ws, we)
	}
	var cpu0, self0 time.Duration
	var mw *machineWindow // the window's machine watch, started with it
	defer func() {
		if mw != nil && res.Machine == nil {
			mw.probe.stop()
		}
	}()
	startWindow := func() {
		if pid > 0 {
			cpu0, _ = procCPU(pid)
		}
		self0 = selfCPU()
		mw = startMachineWindow()
		pr.phase = "measure"
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-warm.C:
			startWindow()
		case <-end.C:
			if mw == nil { // both timers were due at once: the window starts now
				startWindow()
			}
			if pid > 0 && b.st != nil { // the storm may have replaced the gateway
				res.GatewayCPUS = b.st.windowCPU(cpu0).Seconds()
				res.RSSBytes, res.RSSPeakBytes, _ = procMem(b.st.gatewayPID())
			} else if pid > 0 {
				cpu1, _ := procCPU(pid)
				res.GatewayCPUS = (cpu1 - cpu0).Seconds()
				res.RSSBytes, res.RSSPeakBytes, _ = procMem(pid)
				if res.Connected > 0 && res.RSSBytes > 0 {
					res.RSSPerConnEnd = float64(res.RSSBytes-res.RSSBaseBytes) / float64(res.Connected)
				}
			}
			res.BenchCPUS = (selfCPU() - self0).Seconds()
			res.Machine = mw.end(res.GatewayCPUS, res.BenchCPUS, cfg.Duration, res.CPUs)
			res.Saturated = len(res.Machine.Reasons) > 0
			if b.fl != nil {
				res.Flood = b.fl.result()
			}
			return nil
		case <-tick.C:
			pr.print()
		}
	}
}

// drain lets ticks of the window still in flight arrive, and lets the
// stalled clients read to see whether they were shed; then it stops the
// clients.
func (b *benchRun) drain(ctx context.Context) error {
	res, pr := b.res, b.pr
	pr.phase = "drain"
	b.drainEnd.Store(time.Now().Add(b.cfg.Drain).UnixNano())
	close(b.drainStart)
	weNs := b.winEnd.UnixNano()
	for {
		lagging := 0
		for _, c := range b.clients {
			if !c.slow && c.up.Load() && c.newest.Load() < weNs {
				lagging++
			}
		}
		res.Lagging = lagging
		if time.Now().UnixNano() >= b.drainEnd.Load() || (lagging == 0 && b.nslow == 0) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	b.slowWG.Wait()
	b.stopClients()
	pr.phase = "done"
	pr.print()
	return nil
}

// aggregate folds the shards' counts and latencies into the result.
func (b *benchRun) aggregate() {
	res := b.res
	total := hdrhistogram.New(1, maxLatencyUs, 3)
	var st, slowSt seqStats
	for _, sh := range b.shards {
		total.Merge(sh.hist)
		st.add(&sh.st)
		slowSt.add(&sh.slowSt)
		res.Delivered += sh.winTicks
		res.Events += sh.winEvents
		res.OtherEvents += sh.winOther
		res.BadEvents += sh.bad
		res.Resets += sh.resets
		res.Snapshots += sh.snapshots
		res.WireBytes += sh.wire
		res.PlainBytes += sh.plain
	}
	if res.Delivered > 0 {
		res.WireBytesPerDelivery = float64(res.WireBytes) / float64(res.Delivered)
	}
	res.Latency = Latency{
		P50: total.ValueAtQuantile(50), P90: total.ValueAtQuantile(90),
		P99: total.ValueAtQuantile(99), P999: total.ValueAtQuantile(99.9),
		Max: total.Max(), Mean: total.Mean(),
	}
	res.DeliveriesPerSec = float64(res.Delivered) / b.cfg.Duration.Seconds()
	res.Gaps, res.GapEvents, res.Dups, res.Overlaps = st.Gaps, st.GapEvents, st.Dups, st.Overlaps
	res.Merged, res.MergedEvents = st.Merged, st.MergedEvents
	res.SlowGaps, res.SlowMerged = slowSt.Gaps, slowSt.Merged
	res.Disconnects, res.Reconnects, res.Shed = b.r.disconnects.Load(), b.r.reconnects.Load(), b.r.shed.Load()
	if res.Delivered > 0 {
		res.CPUUsPerDelivery = res.GatewayCPUS * 1e6 / float64(res.Delivered)
		res.GatewayCPUUsPerDelivery = res.CPUUsPerDelivery
		res.BenchCPUUsPerDelivery = res.BenchCPUS * 1e6 / float64(res.Delivered)
	}
	if b.st != nil {
		res.Storm = b.st.result(res)
	}
	res.Errors = b.r.errList()
}
