package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Flood mode (Config.Flood > 0): besides the measured clients, Flood
// adversarial clients resume again and again from ids FloodMin to
// FloodMax ticks behind the stream's newest, each reading until it has
// its merged catch-up (one event per symbol, or a reset), then closing
// and starting over, for the whole measured window. The healthy clients'
// latency with and without them is the fairness figure: deep resumes
// must not take the gateway from live clients.

// FloodResult is what the flood did in the measured window.
type FloodResult struct {
	Clients   int          `json:"clients"`
	Once      bool         `json:"once"` // each client resumed once, else again and again
	MinBack   uint64       `json:"min_back"`
	MaxBack   uint64       `json:"max_back"`
	Resumes   int64        `json:"resumes"`    // catch-ups completed in the window
	PerSec    float64      `json:"per_sec"`    // of them
	Resets    int64        `json:"resets"`     // resumes answered with a reset
	Errors    int64        `json:"errors"`     // attempts that failed (connect, read, early close)
	CatchupMs StormLatency `json:"catchup_ms"` // request to the last merged event, ms
}

type flood struct {
	b      *benchRun
	base   string
	last   atomic.Uint64 // the stream's newest seq, from /v1/snapshot
	epoch  atomic.Pointer[string]
	ws, we time.Time

	resumes, resets, errs atomic.Int64
	mu                    sync.Mutex
	took                  []int64 // ms, resumes completed in the window
	wg                    sync.WaitGroup
}

func checkFlood(cfg *Config) error {
	if cfg.Flood < 0 {
		return fmt.Errorf("bench: flood %d: want >= 0", cfg.Flood)
	}
	if cfg.Flood > 0 && (cfg.FloodMin == 0 || cfg.FloodMax < cfg.FloodMin) {
		return fmt.Errorf("bench: flood depth %d-%d: want 1 <= min <= max", cfg.FloodMin, cfg.FloodMax)
	}
	return nil
}

// ParseDepth parses "MIN-MAX" ticks back.
func ParseDepth(s string) (lo, hi uint64, err error) {
	a, b, ok := strings.Cut(s, "-")
	if ok {
		lo, err = strconv.ParseUint(a, 10, 64)
		if err == nil {
			hi, err = strconv.ParseUint(b, 10, 64)
		}
	}
	if !ok || err != nil || lo == 0 || hi < lo {
		return 0, 0, fmt.Errorf("flood depth %q: want MIN-MAX ticks back, e.g. 100000-1000000", s)
	}
	return lo, hi, nil
}

// startFlood starts the flood for the window ws to we.
func (b *benchRun) startFlood(ctx context.Context, base string, ws, we time.Time) *flood {
	f := &flood{b: b, base: base, ws: ws, we: we}
	if err := f.refresh(ctx); err != nil {
		b.r.noteErr(fmt.Errorf("flood: %w", err))
	}
	ctx, cancel := context.WithDeadline(ctx, we)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer cancel()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := f.refresh(ctx); err != nil && ctx.Err() == nil {
					f.fail(err)
				}
			}
		}
	}()
	tr := &http.Transport{MaxIdleConnsPerHost: -1, DisableKeepAlives: true, DisableCompression: true}
	hc := &http.Client{Transport: tr}
	for i := 0; i < b.cfg.Flood; i++ {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(b.cfg.Seed)))
			if b.cfg.FloodOnce {
				select {
				case <-ctx.Done():
				case <-time.After(time.Until(ws) + time.Duration(i)*time.Second/time.Duration(b.cfg.Flood)):
					f.once(ctx, hc, rng)
				}
				return
			}
			for ctx.Err() == nil {
				f.once(ctx, hc, rng)
			}
		}()
	}
	return f
}

// refresh reads the stream's newest id.
func (f *flood) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/v1/snapshot", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var snap struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		return err
	}
	epoch, seq, ok := strings.Cut(snap.ID, "-")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil {
		return fmt.Errorf("snapshot id %q", snap.ID)
	}
	f.epoch.Store(&epoch)
	f.last.Store(n)
	return nil
}

// once is one adversarial resume.
func (f *flood) once(ctx context.Context, hc *http.Client, rng *rand.Rand) {
	cfg := &f.b.cfg
	last, ep := f.last.Load(), f.epoch.Load()
	if ep == nil || last <= cfg.FloodMin {
		f.fail(fmt.Errorf("the stream holds %d ticks, fewer than %d", last, cfg.FloodMin))
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		return
	}
	back := cfg.FloodMin + rng.Uint64N(cfg.FloodMax-cfg.FloodMin+1)
	from := last - min(back, last-1)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.base+streamQuery(f.b.set, 0, ""), nil)
	req.Header.Set("Last-Event-ID", *ep+"-"+strconv.FormatUint(from, 10))
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			f.fail(err)
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.fail(fmt.Errorf("stream from %d: status %d", from, resp.StatusCode))
		return
	}
	br := bufio.NewReaderSize(resp.Body, 32<<10)
	want := len(f.b.set)
	for n := 0; n < want; {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if ctx.Err() == nil && err != io.EOF {
				f.fail(err)
			} else if err == io.EOF {
				f.fail(fmt.Errorf("stream from %d closed after %d of %d events)", from, n, want)) // a retry: back-off
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
			return
		}
		switch {
		case bytes.Equal(line, []byte("event: tick\n")):
			n++
		case bytes.Equal(line, []byte("event: reset\n")):
			f.resets.Add(1)
			n = want
		}
	}
	if now := time.Now(); now.After(f.ws) && now.Before(f.we) {
		f.resumes.Add(1)
		f.mu.Lock()
		f.took = append(f.took, now.Sub(t0).Milliseconds())
		f.mu.Unlock()
	}
}

// fail counts a failed attempt; the first few go to the report's errors.
func (f *flood) fail(err error) {
	if f.errs.Add(1) <= 3 {
		f.b.r.noteErr(fmt.Errorf("flood: %w", err))
	}
}

// result waits for the flood to end and reports it.
func (f *flood) result() *FloodResult {
	f.wg.Wait()
	cfg := &f.b.cfg
	f.mu.Lock()
	defer f.mu.Unlock()
	return &FloodResult{
		Clients: cfg.Flood, Once: cfg.FloodOnce, MinBack: cfg.FloodMin, MaxBack: cfg.FloodMax,
		Resumes: f.resumes.Load(), PerSec: float64(f.resumes.Load()) / f.we.Sub(f.ws).Seconds(),
		Resets: f.resets.Load(), Errors: f.errs.Load(), CatchupMs: summarize(f.took),
	}
}

// writeTable writes the flood's line of the table.
func (r *FloodResult) writeTable(w io.Writer) {
	fmt.Fprintf(w, "  flood\t%d clients resuming %d-%d ticks back: %d catch-ups (%.0f/s), %d resets, %d errors\tcatch-up p50 %dms p99 %dms max %dms\n",
		r.Clients, r.MinBack, r.MaxBack, r.Resumes, r.PerSec, r.Resets, r.Errors, r.CatchupMs.P50, r.CatchupMs.P99, r.CatchupMs.Max)
}
