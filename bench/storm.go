package bench

// Storm mode (Config.RestartAt > 0): a reconnect storm. RestartAt after
// the measured window starts, the gateway child is killed (SIGKILL, or
// SIGTERM for a clean shutdown) and, once it has exited, started again on
// the same file store (never --memory: the stream must survive) and the
// same address, with the same seed and rate; its simulator continues every
// symbol's seq from the stream. Every healthy client reconnects as
// EventSource does: with its own last event id in Last-Event-ID, after
// the server's retry: delay (or Config.ReconnectDelay), and again after
// that delay while the connection is refused; with Config.Absent it first
// stays away that long after the kill, so that it comes back far behind.
//
// A client has resumed when it receives its first event (of any type) on
// a connection made after the kill. The storm reports each client's
// resume latency from the moment the new gateway is ready (its /readyz
// answers 200, polled every 5 ms from the moment it prints its URL; a
// latency below 0, an event that beat the poll, counts as 0) and from the
// kill; when all had resumed; the clients that never did; the new
// gateway's CPU time and peak RSS from its start until all resumed (or
// the run ended); how many resumed in each 100 ms after ready, and the
// reconnect curve: how many had resumed by each 250 ms after ready. Ticks
// lost are the run's seq gaps (healthy clients, whole run, a merged event
// counting as its merged): an exact resume loses none.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StormResult is what storm mode measured, under "storm" in the JSON.
type StormResult struct {
	Signal           string  `json:"signal"` // kill or term
	RestartAtS       float64 `json:"restart_at_s"`
	AbsentS          float64 `json:"absent_s"`
	ReconnectDelayMs float64 `json:"reconnect_delay_ms"` // 0: the server's retry:

	OldPID   int     `json:"old_pid"`
	NewPID   int     `json:"new_pid"`
	ExitS    float64 `json:"exit_s"`  // kill -> the old gateway exited
	URLS     float64 `json:"url_s"`   // kill -> the new one printed its URL
	ReadyS   float64 `json:"ready_s"` // kill -> its /readyz answered 200
	Restarts int     `json:"restart_attempts"`

	Clients      int          `json:"clients"` // healthy clients connected before the kill
	Resumed      int          `json:"resumed"`
	NeverResumed int          `json:"never_resumed"`
	FromReady    StormLatency `json:"from_ready_us"`
	FromKill     StormLatency `json:"from_kill_us"`
	// Until the last client resumed, from ready and from the kill; -1:
	// not all did.
	AllResumedS         float64 `json:"all_resumed_s"`
	AllResumedFromKillS float64 `json:"all_resumed_from_kill_s"`
	FailedAttempts      int64   `json:"failed_attempts"` // reconnects refused or cut before the first event

	TicksLost uint64 `json:"ticks_lost"` // seq gaps, whole run
	GapEvents uint64 `json:"gap_events"`
	Dups      uint64 `json:"dups"`
	Resets    uint64 `json:"resets"`

	// The new gateway from its start until all resumed (or the run ended).
	GatewayCPUS     float64 `json:"gateway_cpu_s"`
	GatewayRSSPeak  int64   `json:"gateway_rss_peak_bytes"`
	GatewaySampledS float64 `json:"gateway_sampled_s"`

	// Curve[i]: clients that resumed in [i*100ms, (i+1)*100ms) after ready.
	Curve []int `json:"curve_100ms"`
	// ResumedBy250[i]: clients resumed within (i+1)*250ms of ready (the
	// reconnect curve, cumulative), up to the last resume.
	ResumedBy250 []int `json:"resumed_by_250ms"`

	Error string `json:"error,omitempty"`
}

// StormLatency is a resume latency summary in microseconds.
type StormLatency struct {
	P50 int64 `json:"p50"`
	P99 int64 `json:"p99"`
	Max int64 `json:"max"`
}

// checkStorm checks the storm settings.
func checkStorm(cfg *Config) error {
	if cfg.RestartAt <= 0 {
		if cfg.Absent != 0 || cfg.ReconnectDelay != 0 || cfg.RestartSignal != "" {
			return errors.New("bench: absent, reconnect delay and restart signal need a restart time")
		}
		return nil
	}
	switch {
	case cfg.RestartSignal != "kill" && cfg.RestartSignal != "term":
		return fmt.Errorf("bench: restart signal %q: want kill or term", cfg.RestartSignal)
	case cfg.Target != "":
		return errors.New("bench: a restart needs the gateway the bench starts, not a target")
	case cfg.Memory:
		return errors.New("bench: a restart needs a file store: the stream must survive it (no --memory)")
	case cfg.Slow > 0:
		return errors.New("bench: a restart does not mix with stalled clients")
	case cfg.RestartAt >= cfg.Duration:
		return fmt.Errorf("bench: restart at %v: must fall inside the %v window", cfg.RestartAt, cfg.Duration)
	case cfg.Absent < 0 || cfg.ReconnectDelay < 0:
		return errors.New("bench: negative absence or reconnect delay")
	}
	return nil
}

// storm is the restart in progress. Its goroutine (run) kills and
// restarts the gateway and samples the new one; halt ends it.
type storm struct {
	b      *benchRun
	sig    syscall.Signal
	addr   string // host:port of the first gateway, for the second
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex // guards what run writes; read through methods or after done
	killAt   time.Time
	exited   bool
	oldCPU   time.Duration // the old gateway's whole life, from its rusage
	exitAt   time.Time
	urlAt    time.Time
	readyAt  time.Time
	restarts int
	gw       *child // the new gateway, or nil
	cpu      time.Duration
	rssPeak  int64
	sampled  time.Duration
	errs     []string
}

func newStorm(b *benchRun) *storm {
	sig := syscall.SIGKILL
	if b.cfg.RestartSignal == "term" {
		sig = syscall.SIGTERM
	}
	return &storm{b: b, sig: sig, addr: b.r.hostport, done: make(chan struct{})}
}

// start starts the storm goroutine: the kill comes at at.
func (s *storm) start(ctx context.Context, at time.Time) {
	ctx, s.cancel = context.WithCancel(ctx)
	go s.run(ctx, at)
}

// halt ends the storm goroutine and waits for it; the new gateway stays.
func (s *storm) halt() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
}

// stop halts the storm and stops the new gateway, if any.
func (s *storm) stop() {
	s.halt()
	s.mu.Lock()
	gw := s.gw
	s.mu.Unlock()
	if gw != nil {
		gw.stop()
	}
}

func (s *storm) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err.Error())
	s.mu.Unlock()
	s.b.r.noteErr(err)
}

func (s *storm) logf(format string, args ...any) {
	fmt.Fprintf(s.b.progress, "bench: storm: "+format+"\n", args...)
}

func (s *storm) run(ctx context.Context, at time.Time) {
	defer close(s.done)
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	old := s.b.gw
	kill := time.Now()
	s.mu.Lock()
	s.killAt = kill
	s.mu.Unlock()
	s.b.r.stormKill.Store(kill.UnixNano()) // before the signal: every stream that ends now is the storm's
	s.logf("%s to gateway pid %d", sigName(s.sig), old.pid())
	within := 10 * time.Second
	if s.sig == syscall.SIGTERM {
		within = 30 * time.Second // the shutdown spread and the drain of the stream
	}
	if err := old.signalWait(s.sig, within); err != nil {
		s.fail(fmt.Errorf("bench: storm: old gateway: %w", err))
	}
	cpu := old.cpu()
	s.mu.Lock()
	s.exited, s.oldCPU, s.exitAt = true, cpu, time.Now()
	s.mu.Unlock()

	// Start again on the same store and address. The port is free once
	// the old process is gone; retry a little in case it is not yet.
	var gw *child
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
		var err error
		gw, err = spawnChild(ctx, &s.b.cfg, old.dir, "--addr", s.addr)
		if err == nil {
			break
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			s.fail(fmt.Errorf("bench: storm: restart: %w", err))
			return
		}
		if !strings.Contains(err.Error(), "address already in use") {
			s.fail(fmt.Errorf("bench: storm: restart: %w", err))
			return
		}
		time.Sleep(50 * time.Millisecond) // spawnChild removed nothing it did not own; the store stays
	}
	s.mu.Lock()
	s.gw, s.urlAt = gw, time.Now()
	s.mu.Unlock()
	s.logf("gateway pid %d at %s after %.2fs", gw.pid(), gw.url, time.Since(kill).Seconds())

	if err := waitReady(ctx, "http://"+s.addr, 60*time.Second); err != nil {
		if ctx.Err() == nil {
			s.fail(fmt.Errorf("bench: storm: %w", err))
		}
	} else {
		s.mu.Lock()
		s.readyAt = time.Now()
		s.mu.Unlock()
		s.logf("ready %.2fs after the kill", time.Since(kill).Seconds())
	}

	// Sample the new gateway until every client has resumed or the run
	// ends.
	pid := gw.pid()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		cpu, _ := procCPU(pid)
		_, hwm, _ := procMem(pid)
		all := s.allResumed()
		s.mu.Lock()
		if cpu > 0 {
			s.cpu = cpu
		}
		s.rssPeak = max(s.rssPeak, hwm)
		s.sampled = time.Since(s.urlAt)
		s.mu.Unlock()
		if all {
			s.logf("all clients resumed %.2fs after the kill", time.Since(kill).Seconds())
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// allResumed reports whether every healthy client that connected has
// resumed.
func (s *storm) allResumed() bool {
	for _, c := range s.b.clients {
		if c.up.Load() && c.resumeAt.Load() == 0 {
			return false
		}
	}
	return true
}

// gatewayPID is the pid of the gateway now running (0: none).
func (s *storm) gatewayPID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gw != nil {
		return s.gw.pid()
	}
	if s.exited {
		return 0
	}
	return s.b.pid
}

// windowCPU is the gateways' CPU time since the old one had used cpu0:
// the old one's to its end, then the new one's.
func (s *storm) windowCPU(cpu0 time.Duration) time.Duration {
	s.mu.Lock()
	exited, oldCPU, gw := s.exited, s.oldCPU, s.gw
	s.mu.Unlock()
	if !exited {
		cpu, _ := procCPU(s.b.pid)
		return cpu - cpu0
	}
	total := oldCPU - cpu0
	if gw != nil {
		cpu, _ := procCPU(gw.pid())
		total += cpu
	}
	return total
}

// waitReady polls GET /readyz every 5 ms until it answers 200.
func waitReady(ctx context.Context, base string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: time.Second}).DialContext}}
	defer hc.CloseIdleConnections()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/readyz", nil)
		resp, err := hc.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s/readyz not ready within %v: %v", base, within, last)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// lockedWriter serialises writes: in storm mode the storm goroutine and
// the progress line share the progress writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
