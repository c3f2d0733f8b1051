package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// Capacity is the highest delivery rate a gateway sustains with every
// tick delivered in time. A step passes when its p99 is at most P99Max
// and nothing was lost: no gap, no healthy client cut or still lagging
// after the drain, no client that failed to connect, and at least 99.9%
// of the offered deliveries counted.
type Capacity struct {
	P99Max time.Duration // default 50ms
}

// DefaultP99Max is Capacity's latency bound unless one is given.
const DefaultP99Max = 50 * time.Millisecond

func (c Capacity) p99Max() time.Duration {
	if c.P99Max <= 0 {
		return DefaultP99Max
	}
	return c.P99Max
}

// Fails returns why r does not pass, or "" if it does.
func (c Capacity) Fails(r *Result) string {
	var why []string
	if lim := c.p99Max(); time.Duration(r.Latency.P99)*time.Microsecond > lim {
		why = append(why, fmt.Sprintf("p99 %s > %s", fmtUs(r.Latency.P99), fmtUs(lim.Microseconds())))
	}
	if r.OfferedPerSec > 0 && r.DeliveriesPerSec < 0.999*r.OfferedPerSec {
		why = append(why, fmt.Sprintf("delivered %.1f%% of offered", 100*r.DeliveriesPerSec/r.OfferedPerSec))
	}
	if r.Gaps > 0 {
		why = append(why, fmt.Sprintf("%d ticks lost (gaps)", r.Gaps))
	}
	if r.Disconnects > 0 || r.ConnectErrors > 0 {
		why = append(why, fmt.Sprintf("%d clients cut, %d failed to connect", r.Disconnects, r.ConnectErrors))
	}
	if r.Lagging > 0 {
		why = append(why, fmt.Sprintf("%d clients still lagging after the drain", r.Lagging))
	}
	return strings.Join(why, ", ")
}

// Best returns the index of the passing step with the most deliveries per
// second, or -1.
func (c Capacity) Best(rs []*Result) int {
	best := -1
	for i, r := range rs {
		if c.Fails(r) == "" && (best < 0 || r.DeliveriesPerSec > rs[best].DeliveriesPerSec) {
			best = i
		}
	}
	return best
}

// Capacity search: from cfg.Rate, the rate grows by searchGrow per step
// until a step fails, then the gap between the last pass and the first
// failure is halved (geometrically) until it is within searchWithin, at
// most searchSteps runs in all.
const (
	searchGrow   = 2
	searchWithin = 1.1
	searchSteps  = 12
)

// SearchCapacity finds the highest --rate at which c passes, one Run per
// step (each from a fresh gateway unless cfg.Target is set), and returns
// the steps by rate. A step that fails to run ends the search with the
// steps so far and the error.
func SearchCapacity(ctx context.Context, cfg Config, c Capacity, progress io.Writer) ([]*Result, error) {
	if progress == nil {
		progress = io.Discard
	}
	var out []*Result
	run := func(rate float64) (bool, error) {
		step := cfg
		step.Rate = rate
		fmt.Fprintf(progress, "bench: capacity step %d: rate=%g\n", len(out)+1, rate)
		r, err := Run(ctx, step, progress)
		if err != nil {
			return false, fmt.Errorf("bench: capacity rate=%g: %w", rate, err)
		}
		out = append(out, r)
		why := c.Fails(r)
		verdict := "pass"
		if why != "" {
			verdict = "fail: " + why
		}
		fmt.Fprintf(progress, "bench: capacity step %d: rate=%g, %s deliveries/s, p99 %s: %s\n",
			len(out), rate, fmtCount(r.DeliveriesPerSec), fmtUs(r.Latency.P99), verdict)
		return why == "", nil
	}
	_, err := searchRates(cfg.Rate, run)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Rate < out[j].Rate })
	return out, err
}

// searchRates runs try at rates from start, growing until one fails, then
// narrowing between the highest pass and the lowest failure, and returns
// the highest rate that passed (0: none).
func searchRates(start float64, try func(rate float64) (bool, error)) (float64, error) {
	rate := start
	if rate <= 0 {
		rate = 100
	}
	lo, hi := 0.0, 0.0 // the highest passing rate, the lowest failing one
	for n := 0; n < searchSteps; n++ {
		switch {
		case hi == 0: // growing
		case lo == 0: // the first step failed: go down
			if hi <= 1 {
				return 0, nil
			}
			rate = math.Max(1, math.Round(hi/searchGrow/searchGrow))
		default: // narrowing
			rate = math.Round(math.Sqrt(lo * hi))
			if hi/lo <= searchWithin || rate <= lo || rate >= hi {
				return lo, nil
			}
		}
		ok, err := try(rate)
		if err != nil {
			return lo, err
		}
		if ok {
			lo = rate
			if hi == 0 {
				rate = math.Round(rate * searchGrow)
			}
		} else {
			hi = rate
		}
	}
	return lo, nil
}

// WriteCapacity writes the capacity line for a sweep's or search's steps:
// the best passing step, and the first failure above it.
func (c Capacity) WriteCapacity(w io.Writer, rs []*Result) {
	lim := fmtUs(c.p99Max().Microseconds())
	b := c.Best(rs)
	if b < 0 {
		fmt.Fprintf(w, "capacity: no step passed (p99 <= %s, nothing lost)\n", lim)
	} else {
		r := rs[b]
		fmt.Fprintf(w, "capacity: %s deliveries/s with p99 <= %s and nothing lost: rate %g x %d clients, p99 %s, gateway %.2f us/delivery",
			fmtCount(r.DeliveriesPerSec), lim, r.Rate, r.Clients, fmtUs(r.Latency.P99), r.GatewayCPUUsPerDelivery)
		if r.Merged > 0 {
			fmt.Fprintf(w, ", %d ticks merged (accounted, not lost)", r.Merged)
		}
		if r.ServeArgs != "" {
			fmt.Fprintf(w, ", serve %s", r.ServeArgs)
		}
		if r.Saturated {
			fmt.Fprint(w, " (machine saturated)")
		}
		fmt.Fprintln(w)
	}
	sorted := append([]*Result(nil), rs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].OfferedPerSec < sorted[j].OfferedPerSec })
	for _, r := range sorted {
		if b >= 0 && r.OfferedPerSec <= rs[b].OfferedPerSec {
			continue
		}
		if why := c.Fails(r); why != "" {
			fmt.Fprintf(w, "  first failure above it: rate %g (offered %s/s): %s\n", r.Rate, fmtCount(r.OfferedPerSec), why)
			return
		}
	}
}
