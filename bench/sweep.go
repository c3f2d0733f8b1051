package bench

import (
	"context"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
)

// SweepParams are the parameters Sweep can step.
const (
	SweepRate    = "rate"
	SweepClients = "clients"
)

// ParseSweep parses "rate=100,500,1000" or "clients=100,1000,5000".
func ParseSweep(s string) (param string, values []float64, err error) {
	param, list, ok := strings.Cut(s, "=")
	if !ok || (param != SweepRate && param != SweepClients) {
		return "", nil, fmt.Errorf("bench: sweep %q: want rate=V1,V2 or clients=N1,N2 (any number of values)", s)
	}
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || (param == SweepClients && v != math.Trunc(v)) {
			return "", nil, fmt.Errorf("bench: sweep %q: bad value %q", s, f)
		}
		values = append(values, v)
	}
	return param, values, nil
}

// Sweep runs one benchmark per value of param (SweepRate or SweepClients),
// each from a fresh gateway unless cfg.Target is set, and returns the
// results of the steps that ran. A failed step ends the sweep, with the
// results so far and the error.
func Sweep(ctx context.Context, cfg Config, param string, values []float64, progress io.Writer) ([]*Result, error) {
	if progress == nil {
		progress = io.Discard
	}
	var out []*Result
	for i, v := range values {
		c := cfg
		switch param {
		case SweepRate:
			c.Rate = v
		case SweepClients:
			c.Clients = int(v)
		default:
			return nil, fmt.Errorf("bench: sweep: unknown parameter %q", param)
		}
		fmt.Fprintf(progress, "bench: sweep step %d/%d: %s=%g\n", i+1, len(values), param, v)
		r, err := Run(ctx, c, progress)
		if err != nil {
			return out, fmt.Errorf("bench: sweep %s=%g: %w", param, v, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Knee returns the index of the first step where the gateway stops
// keeping up: deliveries below 95% of those offered, a gap, or p99 over
// four times the first step's (and over 1 ms); -1 if none.
func Knee(rs []*Result) int {
	for i, r := range rs {
		base := rs[0].Latency.P99
		if r.OfferedPerSec > 0 && r.DeliveriesPerSec < 0.95*r.OfferedPerSec ||
			r.Gaps > 0 || (i > 0 && r.Latency.P99 > 4*base && r.Latency.P99 > 1000) {
			return i
		}
	}
	return -1
}

// WriteSweepSVG draws p50, p90, p99 and p99.9 latency against the swept
// parameter (log scales), marking the knee.
func WriteSweepSVG(w io.Writer, param string, rs []*Result) error {
	const W, H, ml, mr, mt, mb = 820, 500, 80, 150, 50, 60
	pw, ph := float64(W-ml-mr), float64(H-mt-mb)
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = sweepX(param, r)
	}
	series := []struct {
		name  string
		color string
		get   func(*Result) int64
	}{
		{"p50", "#2b8cbe", func(r *Result) int64 { return r.Latency.P50 }},
		{"p90", "#31a354", func(r *Result) int64 { return r.Latency.P90 }},
		{"p99", "#fe9929", func(r *Result) int64 { return r.Latency.P99 }},
		{"p99.9", "#de2d26", func(r *Result) int64 { return r.Latency.P999 }},
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
	}
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, r := range rs {
		for _, s := range series {
			v := math.Max(float64(s.get(r)), 1)
			ymin, ymax = math.Min(ymin, v), math.Max(ymax, v)
		}
	}
	if len(rs) == 0 {
		xmin, xmax, ymin, ymax = 1, 10, 1, 10
	}
	lx0, lx1 := math.Log10(xmin), math.Log10(xmax)
	if lx1-lx0 < 1e-9 {
		lx0, lx1 = lx0-0.5, lx1+0.5
	}
	pad := (lx1 - lx0) * 0.05
	lx0, lx1 = lx0-pad, lx1+pad
	ly0, ly1 := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
	if ly1 <= ly0 {
		ly1 = ly0 + 1
	}
	px := func(x float64) float64 { return ml + (math.Log10(x)-lx0)/(lx1-lx0)*pw }
	py := func(y float64) float64 { return mt + ph - (math.Log10(math.Max(y, 1))-ly0)/(ly1-ly0)*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	title := "tickcast bench: latency against " + sweepXLabel(param)
	if len(rs) > 0 {
		title += fmt.Sprintf(" (%s)", html.EscapeString(rs[0].Scenario))
	}
	fmt.Fprintf(&b, `<text x="%d" y="25" font-size="15" font-weight="bold">%s</text>`+"\n", ml, title)
	// y grid: decades, labelled in us/ms/s
	for e := ly0; e <= ly1; e++ {
		y := mt + ph - (e-ly0)/(ly1-ly0)*ph
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", ml, ml+pw, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", ml-6, y+4, fmtUs(int64(math.Pow(10, e))))
	}
	// x ticks at the steps
	for _, x := range xs {
		X := px(x)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#eee"/>`+"\n", X, X, mt, mt+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", X, mt+ph+16, fmtCount(x))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#444"/>`+"\n", ml, mt, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", ml+pw/2, H-15, sweepXLabel(param))
	fmt.Fprintf(&b, `<text x="18" y="%.1f" text-anchor="middle" transform="rotate(-90 18 %.1f)">latency (tick time to client parse)</text>`+"\n", mt+ph/2, mt+ph/2)
	if k := Knee(rs); k >= 0 {
		X := px(xs[k])
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#888" stroke-dasharray="5,4"/>`+"\n", X, X, mt, mt+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#555">knee</text>`+"\n", X+4, mt+14)
	}
	for si, s := range series {
		var pts []string
		for i, r := range rs {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[i]), py(float64(s.get(r)))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
		for i, r := range rs {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %s at %s</title></circle>`+"\n",
				px(xs[i]), py(float64(s.get(r))), s.color, s.name, fmtUs(s.get(r)), fmtCount(xs[i]))
		}
		ly := float64(mt + 20 + 22*si)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", ml+pw+15, ml+pw+40, ly, ly, s.color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", ml+pw+46, ly+4, s.name)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// sweepX is a step's position on the x axis: the offered deliveries per
// second when stepping the rate, the client count when stepping clients.
func sweepX(param string, r *Result) float64 {
	if param == SweepClients {
		return float64(r.Clients)
	}
	return math.Max(r.OfferedPerSec, 1)
}

func sweepXLabel(param string) string {
	if param == SweepClients {
		return "clients"
	}
	return "offered deliveries/s"
}

// WriteSweepHTML writes a page with the chart and a table of the steps.
func WriteSweepHTML(w io.Writer, param string, rs []*Result) error {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>tickcast bench sweep</title>\n")
	b.WriteString("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #ddd}</style></head><body>\n")
	if err := WriteSweepSVG(&b, param, rs); err != nil {
		return err
	}
	b.WriteString("<table><tr><th>clients</th><th>rate</th><th>offered/s</th><th>delivered/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>gaps</th><th>merged</th><th>gateway CPU us/delivery</th><th>gateway RSS</th></tr>\n")
	knee := Knee(rs)
	for i, r := range rs {
		style := ""
		if i == knee {
			style = ` style="background:#fee"`
		}
		fmt.Fprintf(&b, "<tr%s><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%.2f</td><td>%s</td></tr>\n",
			style, r.Clients, fmtCount(r.Rate), fmtCount(r.OfferedPerSec), fmtCount(r.DeliveriesPerSec),
			fmtUs(r.Latency.P50), fmtUs(r.Latency.P90), fmtUs(r.Latency.P99), fmtUs(r.Latency.P999), fmtUs(r.Latency.Max),
			r.Gaps, r.Merged, r.CPUUsPerDelivery, fmtBytes(float64(r.RSSBytes)))
	}
	b.WriteString("</table>\n</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
