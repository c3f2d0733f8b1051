package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// The storm's figures: gathered from the clients into a StormResult,
// and its rows of the table.

// result halts the storm and sums it up from the clients (stopped by
// now) and res, the run's result so far.
func (s *storm) result(res *Result) *StormResult {
	s.halt()
	cfg := &s.b.cfg
	out := &StormResult{Signal: cfg.RestartSignal, RestartAtS: cfg.RestartAt.Seconds(), AbsentS: cfg.Absent.Seconds(),
		ReconnectDelayMs: float64(cfg.ReconnectDelay) / 1e6, OldPID: s.b.pid,
		AllResumedS: -1, AllResumedFromKillS: -1,
		TicksLost: res.Gaps, GapEvents: res.GapEvents, Dups: res.Dups, Resets: res.Resets,
		FailedAttempts: s.b.r.stormFailed.Load()}
	s.mu.Lock()
	defer s.mu.Unlock()
	out.Error = strings.Join(s.errs, "; ")
	out.Restarts = s.restarts
	if s.killAt.IsZero() {
		if out.Error == "" {
			out.Error = "the run ended before the kill"
		}
		return out
	}
	since := func(t time.Time) float64 {
		if t.IsZero() {
			return -1
		}
		return t.Sub(s.killAt).Seconds()
	}
	out.ExitS, out.URLS, out.ReadyS = since(s.exitAt), since(s.urlAt), since(s.readyAt)
	if s.gw != nil {
		out.NewPID = s.gw.pid()
	}
	out.GatewayCPUS, out.GatewayRSSPeak, out.GatewaySampledS = s.cpu.Seconds(), s.rssPeak, s.sampled.Seconds()

	ready := s.readyAt
	if ready.IsZero() {
		ready = s.killAt // no ready moment: latencies from ready are from the kill
	}
	var fromReady, fromKill []int64
	var last int64
	for _, c := range s.b.clients {
		if c.slow || !c.up.Load() {
			continue
		}
		out.Clients++
		at := c.resumeAt.Load()
		if at == 0 {
			continue
		}
		out.Resumed++
		last = max(last, at)
		fr := max(0, at-ready.UnixNano())
		fromReady = append(fromReady, fr/1000)
		fromKill = append(fromKill, (at-s.killAt.UnixNano())/1000)
		i := int(fr / int64(100*time.Millisecond))
		for len(out.Curve) <= i {
			out.Curve = append(out.Curve, 0)
		}
		out.Curve[i]++
	}
	out.NeverResumed = out.Clients - out.Resumed
	out.ResumedBy250 = cumulative(fromReady, 250*time.Millisecond)
	out.FromReady, out.FromKill = summarize(fromReady), summarize(fromKill)
	if out.NeverResumed == 0 && out.Resumed > 0 {
		out.AllResumedS = max(0, float64(last-ready.UnixNano())/1e9)
		out.AllResumedFromKillS = float64(last-s.killAt.UnixNano()) / 1e9
	}
	return out
}

// cumulative returns, for each step after ready up to the last resume,
// how many of the latencies v (microseconds) are within it.
func cumulative(v []int64, step time.Duration) []int {
	var out []int
	for _, us := range v {
		i := int(time.Duration(us) * time.Microsecond / step)
		for len(out) <= i {
			out = append(out, 0)
		}
		out[i]++
	}
	for i := 1; i < len(out); i++ {
		out[i] += out[i-1]
	}
	return out
}

// summarize returns p50, p99 and max of v (sorted in place).
func summarize(v []int64) StormLatency {
	if len(v) == 0 {
		return StormLatency{}
	}
	slices.Sort(v)
	q := func(p float64) int64 {
		i := int(p*float64(len(v))+0.999999) - 1
		return v[min(max(i, 0), len(v)-1)]
	}
	return StormLatency{P50: q(0.50), P99: q(0.99), Max: v[len(v)-1]}
}

// writeTable writes the storm's lines of the table.
func (s *StormResult) writeTable(w io.Writer) {
	sig := "SIGKILL"
	if s.Signal == "term" {
		sig = "SIGTERM"
	}
	fmt.Fprintf(w, "  storm\t%s at %gs into the window", sig, s.RestartAtS)
	if s.AbsentS > 0 {
		fmt.Fprintf(w, ", clients away %gs", s.AbsentS)
	}
	fmt.Fprintf(w, "\texited %.2fs, up %.2fs, ready %.2fs after the kill\n", s.ExitS, s.URLS, s.ReadyS)
	all := "not all resumed"
	if s.AllResumedS >= 0 {
		all = fmt.Sprintf("all in %.2fs after ready (%.2fs after the kill)", s.AllResumedS, s.AllResumedFromKillS)
	}
	fmt.Fprintf(w, "  resumed\t%d of %d, never %d: %s\t%d failed attempts\n",
		s.Resumed, s.Clients, s.NeverResumed, all, s.FailedAttempts)
	fmt.Fprintf(w, "  resume latency\tfrom ready p50 %s  p99 %s  max %s\tfrom the kill p50 %s  p99 %s  max %s\n",
		fmtUs(s.FromReady.P50), fmtUs(s.FromReady.P99), fmtUs(s.FromReady.Max),
		fmtUs(s.FromKill.P50), fmtUs(s.FromKill.P99), fmtUs(s.FromKill.Max))
	if len(s.ResumedBy250) > 0 {
		// The reconnect curve: clients resumed by each 250 ms after
		// ready, at most 20 points (every k-th step past 5 s).
		k := (len(s.ResumedBy250) + 19) / 20
		var b strings.Builder
		for i := k - 1; i < len(s.ResumedBy250); i += k {
			fmt.Fprintf(&b, "%gs %d  ", float64(i+1)*0.25, s.ResumedBy250[i])
		}
		if n := len(s.ResumedBy250); (n-1)%k != k-1 {
			fmt.Fprintf(&b, "%gs %d", float64(n)*0.25, s.ResumedBy250[n-1])
		}
		fmt.Fprintf(w, "  resumed by	%s	after ready\n", strings.TrimSpace(b.String()))
	}
	fmt.Fprintf(w, "  resume exactness\tticks lost %d (in %d events), dups %d, resets %d\t\n", s.TicksLost, s.GapEvents, s.Dups, s.Resets)
	until := "to all resumed"
	if s.AllResumedS < 0 {
		until = "to the end of the run: not all resumed"
	}
	fmt.Fprintf(w, "  new gateway\tcpu %.2fs, peak rss %s\tover its first %.2fs (%s)\n",
		s.GatewayCPUS, fmtBytes(float64(s.GatewayRSSPeak)), s.GatewaySampledS, until)
	if s.Error != "" {
		fmt.Fprintf(w, "  storm error\t%s\t\n", s.Error)
	}
}
