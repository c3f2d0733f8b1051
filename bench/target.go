package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// waitHealthy polls GET /healthz until it answers 200.
func waitHealthy(ctx context.Context, base string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: %s/healthz not healthy within %v: %v", base, within, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fetchSymbols reads the universe from GET /v1/symbols.
func fetchSymbols(ctx context.Context, base string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/symbols", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: get symbols: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: get symbols: status %s", resp.Status)
	}
	var infos []struct {
		Symbol string `json:"symbol"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&infos); err != nil {
		return nil, fmt.Errorf("bench: get symbols: %w", err)
	}
	syms := make([]string, 0, len(infos))
	for _, in := range infos {
		syms = append(syms, in.Symbol)
	}
	return syms, nil
}

// progressLine prints the live line: elapsed, connected, deliveries/s, p99.
type progressLine struct {
	w      io.Writer
	shards []*shard
	r      *runner
	start  time.Time
	total  int
	phase  string

	lastT      time.Time
	lastEvents uint64
	tmp        *hdrhistogram.Histogram
}

func (p *progressLine) print() {
	if p.tmp == nil {
		p.tmp = hdrhistogram.New(1, maxLatencyUs, 3)
	}
	p.tmp.Reset()
	var events, gaps uint64
	for _, sh := range p.shards {
		sh.mu.Lock()
		p.tmp.Merge(sh.hist)
		events += sh.events
		gaps += sh.st.Gaps
		sh.mu.Unlock()
	}
	now := time.Now()
	rate := 0.0
	if !p.lastT.IsZero() {
		rate = float64(events-p.lastEvents) / now.Sub(p.lastT).Seconds()
	}
	p.lastT, p.lastEvents = now, events
	p99 := "-"
	if p.tmp.TotalCount() > 0 {
		p99 = fmtUs(p.tmp.ValueAtQuantile(99))
	}
	fmt.Fprintf(p.w, "[%6.1fs] %-8s connected %d/%d  events/s %s  p99 %s  gaps %d  disconnects %d\n",
		now.Sub(p.start).Seconds(), p.phase, p.r.connected.Load(), p.total,
		fmtCount(rate), p99, gaps, p.r.disconnects.Load())
}
