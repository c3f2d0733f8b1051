package bench

// Soak mode (tickcast bench --soak): hours of market in minutes against
// the real binary. It starts `tickcast serve` on a file store with a small
// window (--max-age, --max-bytes), small bar and ring bounds, a fast
// market clock (--speed: trading days roll over every minute or so), the
// default feed's event types, and a small history cache when the gateway
// has --history-cache. Reconnecting clients (soakclient.go) read every
// event type, go away and come back: at once from their last id (head),
// from an id half way through the window (middle), from one in its
// oldest tenth (oldest), and by ?from= with no id (from). Once, at
// RecreateAt, the gateway is stopped, the stream deleted and the gateway
// started again: a new epoch, every client reset once.
//
// It reports lost events (seq gaps of any type and symbol), repeats
// beyond the overlap rule, resets by reason, every kind's resumes and
// the slowest (the time from the request to its first event), the
// server's RSS and disk over time, the trading days that passed; and it
// fails on any loss, a repeat beyond the overlap rule, a resume with no
// event within Stall, a reset other than epoch (after the recreation)
// or expired (an oldest client that came back just too late), a kind
// that never resumed, a failing GET /v1/bars, or a disk past
// twice the bounds (the stream's and the bars').

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tickcast/tickcast/feed"
)

// SoakConfig describes a soak run. Zero fields mean the defaults given
// (the short form `make test` runs).
type SoakConfig struct {
	Duration       time.Duration // the whole run; default 75s
	Clients        int           // reconnecting clients, the kinds in turn; default 8
	Rate           float64       // --rate, trades/s; default 300
	Speed          float64       // --speed; default 1200 (a 16-hour trading day in 48 s)
	QuotesPerTrade float64       // --quotes-per-trade; default 2
	Symbols        int           // --symbols; default 8
	MaxAge         time.Duration // --max-age; default 20s
	MaxBytes       int64         // --max-bytes; default 4 MiB
	BarsMaxBytes   int64         // --bars-max-bytes; default 256 KiB
	BarsPerSeries  int           // --bars-max-per-series; default 120
	Ring           int           // the gateway's --ring; default 2048 (0 or less: its own default)
	HistoryCache   int64         // --history-cache, if the gateway has it; default 128 KiB, under the window's index, so it evicts (negative: not passed)
	Stall          time.Duration // a resume with no event this long fails; default 10s
	RecreateAt     time.Duration // when to recreate the stream; default Duration/2 (negative: never)
	SampleEvery    time.Duration // RSS, disk, window and /v1/bars; default 1s
	Seed           int64         // --seed; default 1

	Exe         string    // the tickcast binary; default os.Executable()
	ServeArgs   []string  // more arguments for serve, after the soak's
	ChildOutput io.Writer // copy of the server's output
	Progress    io.Writer // a line per sample; nil: none
}

func (c *SoakConfig) defaults() {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Duration <= 0 {
		c.Duration = 75 * time.Second
	}
	if c.Clients <= 0 {
		c.Clients = 8
	}
	def(&c.Rate, 300)
	def(&c.Speed, 1200)
	if c.QuotesPerTrade == 0 {
		c.QuotesPerTrade = 2
	}
	if c.Symbols <= 0 {
		c.Symbols = 8
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 20 * time.Second
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 4 << 20
	}
	if c.BarsMaxBytes <= 0 {
		c.BarsMaxBytes = 256 << 10
	}
	if c.BarsPerSeries <= 0 {
		c.BarsPerSeries = 120
	}
	if c.Ring == 0 {
		c.Ring = 2048
	}
	if c.HistoryCache == 0 {
		c.HistoryCache = 128 << 10
	}
	if c.Stall <= 0 {
		c.Stall = 10 * time.Second
	}
	if c.RecreateAt == 0 {
		c.RecreateAt = c.Duration / 2
	}
	if c.SampleEvery <= 0 {
		c.SampleEvery = time.Second
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
}

// soak is a run in progress.
type soak struct {
	cfg  SoakConfig
	http *http.Client
	url  string
	dir  string
	sym  string // the symbol whose bars it checks: the universe's first

	mu    sync.Mutex
	upCh  chan struct{} // closed while the gateway serves
	fails []string
	t     soakTally

	first, last atomic.Uint64 // the window, from /v1/snapshot; last 0: unknown
	recreated   atomic.Int64  // when the stream was deleted, Unix ns; 0: not yet
}

// Soak runs a soak and returns what it found; the error lists every
// failure.
func Soak(ctx context.Context, cfg SoakConfig) (*SoakResult, error) {
	cfg.defaults()
	s := &soak{cfg: cfg, http: &http.Client{}, upCh: make(chan struct{})}
	s.t.resets = map[string]int{}
	s.t.resumes = map[string]*SoakResumes{}
	for _, k := range reportKinds {
		s.t.resumes[k] = &SoakResumes{}
	}
	dir, err := os.MkdirTemp("", "tickcast-soak-")
	if err != nil {
		return nil, fmt.Errorf("bench: soak: %w", err)
	}
	defer os.RemoveAll(dir)
	s.dir = dir
	args, cache := s.serveArgs()
	bcfg := &Config{Exe: cfg.Exe, Rate: cfg.Rate, Seed: cfg.Seed, Symbols: cfg.Symbols, ServeArgs: args, ChildOutput: cfg.ChildOutput}
	ch, err := spawnChild(ctx, bcfg, dir)
	if err != nil {
		return nil, err
	}
	defer func() { ch.signalWait(syscall.SIGTERM, 10*time.Second) }()
	s.url = ch.url
	if err := waitHealthy(ctx, s.url, 60*time.Second); err != nil {
		return nil, err
	}
	syms, err := fetchSymbols(ctx, s.url)
	if err != nil || len(syms) == 0 {
		return nil, fmt.Errorf("bench: soak: no symbols: %v", err)
	}
	s.sym = syms[0]
	res := &SoakResult{Config: cfg, HistoryCache: cache, HistoryEvictions: -1, DiskBound: 2*(cfg.MaxBytes+cfg.BarsMaxBytes) + 32<<20}
	close(s.upCh)

	runCtx, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		c := newSoakClient(s, i)
		wg.Add(1)
		go func() { // owned by Soak: ends with runCtx
			defer wg.Done()
			c.run(runCtx)
			s.mu.Lock()
			s.t.st.add(&c.st)
			s.t.dupBad += c.dupBad
			s.mu.Unlock()
		}()
	}
	wg.Add(1)
	go func() { // owned by Soak: ends with runCtx
		defer wg.Done()
		s.probeEdge(runCtx)
	}()
	start := time.Now()
	recreate := time.NewTimer(cfg.RecreateAt)
	if cfg.RecreateAt < 0 {
		recreate.Stop()
	}
	defer recreate.Stop()
	tick := time.NewTicker(cfg.SampleEvery)
	defer tick.Stop()
	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
	days := map[string]bool{}
loop:
	for {
		select {
		case <-runCtx.Done():
			break loop
		case <-poll.C:
			s.pollWindow(runCtx)
		case <-tick.C:
			smp := s.sample(runCtx, ch, start, days, res)
			res.Samples = append(res.Samples, smp)
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "[%5.1fs] rss %s  disk %s  window %d msgs  days %d  resumes %d  issues %d\n",
					smp.T, fmtBytes(float64(smp.RSS)), fmtBytes(float64(smp.Disk)), smp.WindowMsgs, len(days), s.resumeCount(), s.issueCount())
			}
		case <-recreate.C:
			nch, err := s.recreate(runCtx, ch, bcfg)
			if nch != nil {
				ch = nch // stopped by the deferred signalWait
			}
			if err != nil {
				s.failf("recreating the stream: %v", err)
				break loop
			}
			res.Recreated = true
		case <-ch.done:
			s.failf("the server exited (%v); its output:\n%s", ch.err, ch.tail.String())
			break loop
		}
	}
	stop()
	wg.Wait()
	res.MarketDays = len(days)
	res.ElapsedS = time.Since(start).Seconds()
	s.finish(res)
	if len(res.Failures) > 0 {
		return res, fmt.Errorf("bench: soak failed: %s", strings.Join(res.Failures, "; "))
	}
	return res, nil
}

// serveArgs returns the soak's arguments for serve (after serveArgs',
// which they override) and the history cache passed ("" if none).
func (s *soak) serveArgs() ([]string, string) {
	c := &s.cfg
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	args := []string{"--session=true", "--arrivals", "poisson", "--bars", "1s,1m",
		"--quotes-per-trade", f(c.QuotesPerTrade), "--speed", f(c.Speed),
		"--max-age", c.MaxAge.String(), "--max-bytes", strconv.FormatInt(c.MaxBytes, 10),
		"--bars-max-bytes", strconv.FormatInt(c.BarsMaxBytes, 10), "--bars-max-per-series", strconv.Itoa(c.BarsPerSeries)}
	if c.Ring > 0 && s.hasFlag("ring") {
		args = append(args, "--ring", strconv.Itoa(c.Ring))
	}
	cache := ""
	if c.HistoryCache > 0 && s.hasFlag("history-cache") {
		cache = strconv.FormatInt(c.HistoryCache, 10)
		args = append(args, "--history-cache", cache)
	}
	return append(args, c.ServeArgs...), cache
}

// hasFlag reports whether the binary's serve has a flag.
func (s *soak) hasFlag(name string) bool {
	exe := s.cfg.Exe
	if exe == "" {
		exe, _ = os.Executable()
	}
	out, _ := exec.Command(exe, "serve", "--help").CombinedOutput()
	return strings.Contains(string(out), "-"+name+" ")
}

// recreate stops the server, deletes the stream on its store (the
// companions stay, as after an operator's delete), and starts it again
// on the same address.
func (s *soak) recreate(ctx context.Context, ch *child, bcfg *Config) (*child, error) {
	s.mu.Lock()
	s.upCh = make(chan struct{})
	s.mu.Unlock()
	s.last.Store(0)
	if err := ch.signalWait(syscall.SIGTERM, 20*time.Second); err != nil {
		return nil, err
	}
	s.recreated.Store(time.Now().UnixNano())
	srv, err := feed.StartServer(feed.ServerConfig{StoreDir: s.dir})
	if err != nil {
		return nil, err
	}
	conn, err := feed.Connect(ctx, feed.ConnConfig{Server: srv, Name: "tickcast soak"})
	if err == nil {
		err = conn.DeleteStream(ctx)
		conn.Close()
	}
	srv.Shutdown()
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(s.url)
	nch, err := spawnChild(ctx, bcfg, s.dir, "--addr", u.Host)
	if err != nil {
		return nil, err
	}
	if err := waitHealthy(ctx, s.url, 60*time.Second); err != nil {
		return nch, err
	}
	s.mu.Lock()
	close(s.upCh)
	s.mu.Unlock()
	return nch, nil
}

// awaitUp waits while the gateway is down; false when ctx ended.
func (s *soak) awaitUp(ctx context.Context) bool {
	s.mu.Lock()
	up := s.upCh
	s.mu.Unlock()
	select {
	case <-up:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *soak) base() string { return s.url }

// window returns the stream's first and last sequence, as last polled.
func (s *soak) window() (first, last uint64, ok bool) {
	l := s.last.Load()
	return s.first.Load(), l, l > 0
}

// pollWindow reads the window from GET /v1/snapshot.
func (s *soak) pollWindow(ctx context.Context) {
	var snap struct{ ID, First string }
	if getJSONTo(ctx, s.http, s.url+"/v1/snapshot", &snap) != nil {
		return
	}
	f, ok1 := idSeq([]byte(snap.First))
	l, ok2 := idSeq([]byte(snap.ID))
	if ok1 && ok2 {
		s.first.Store(f + 1) // first is the id before the oldest held
		s.last.Store(l)
	}
}

// getJSONTo GETs url and decodes its JSON body into v.
func getJSONTo(ctx context.Context, hc *http.Client, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return decodeJSON(resp.Body, v)
}

// probeEdge resumes from the oldest id the window holds every 3 s, and
// times its first event.
func (s *soak) probeEdge(ctx context.Context) {
	for sleepFor(ctx, 3*time.Second) {
		if !s.awaitUp(ctx) {
			return
		}
		var snap struct{ First string }
		if getJSONTo(ctx, s.http, s.url+"/v1/snapshot", &snap) != nil || snap.First == "" {
			continue
		}
		c := &soakClient{s: s, kind: kindEdge, n: -1, resumeID: snap.First, keys: map[string]*soakKey{}}
		d, reason, err := s.firstEvent(ctx, snap.First, c)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			continue // the gateway went down (the recreation)
		case d > s.cfg.Stall:
			s.stalled(c, d)
		default:
			c.resuming = true
			s.resumed(c, d)
			if reason != "" {
				s.reset(c, reason)
			}
		}
	}
}

// firstEvent opens a tick stream from id and returns how long its first
// event took, and the reason if it was a reset.
func (s *soak) firstEvent(ctx context.Context, id string, c *soakClient) (time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Stall+time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/v1/stream?events=tick,quote,bar,status", nil)
	req.Header.Set("Last-Event-ID", id)
	begin := time.Now()
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	h := &firstHandler{}
	var p Parser
	p.Reset(h, false)
	buf := make([]byte, 16<<10)
	for h.typ == "" {
		n, err := resp.Body.Read(buf)
		p.Feed(buf[:n])
		if err != nil && h.typ == "" {
			if ctx.Err() != nil {
				return time.Since(begin), "", nil // no event: stalled
			}
			return 0, "", err // ended: lagging, shutting down
		}
	}
	if h.typ == "reset" {
		var r struct{ Reason string }
		json.Unmarshal([]byte(h.data), &r)
		return time.Since(begin), r.Reason, nil
	}
	return time.Since(begin), "", nil
}

// firstHandler keeps the first event.
type firstHandler struct{ typ, data string }

func (h *firstHandler) Event(typ, _, data []byte) {
	if h.typ == "" {
		h.typ, h.data = string(typ), string(data)
	}
}
