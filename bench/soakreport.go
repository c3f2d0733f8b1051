package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SoakResult is what a soak found (JSON with --json).
type SoakResult struct {
	Config       SoakConfig `json:"-"`
	ElapsedS     float64    `json:"elapsed_s"`
	HistoryCache string     `json:"history_cache"` // "" when the gateway has no --history-cache
	Recreated    bool       `json:"recreated"`
	MarketDays   int        `json:"market_days"` // trading days the market clock went through

	Events    uint64 `json:"events"`     // events checked (every type)
	Lost      uint64 `json:"lost"`       // events missing: seq gaps
	DupBeyond uint64 `json:"dup_beyond"` // repeats or overlaps past a resume's first event of a counter
	Overlaps  uint64 `json:"overlaps"`   // repeats and overlaps the overlap rule allows
	Merged    uint64 `json:"merged"`     // events that came merged

	Resets    map[string]int          `json:"resets"` // by reason
	Snapshots int                     `json:"snapshots"`
	Resumes   map[string]*SoakResumes `json:"resumes"` // by kind

	BarsChecks   int `json:"bars_checks"`
	BarsFailures int `json:"bars_failures"`

	Samples []SoakSample `json:"samples"`
	RSSMax  int64        `json:"rss_max_bytes"`
	// HistoryEvictions is tickcast_history_evictions_total summed over
	// the servers (the index filled and dropped blocks); -1: no metric.
	HistoryEvictions int64 `json:"history_evictions"`
	DiskMax          int64 `json:"disk_max_bytes"`
	DiskBound        int64 `json:"disk_bound_bytes"` // twice the stream's and the bars' bounds, plus 32 MiB

	Failures []string `json:"failures"`
}

// SoakResumes are one kind's resumes.
type SoakResumes struct {
	Count     int     `json:"count"`
	SlowestMs float64 `json:"slowest_ms"` // from the request to its first event
	MeanMs    float64 `json:"mean_ms"`
	Stalled   int     `json:"stalled"` // no event within SoakConfig.Stall
	Expired   int     `json:"expired"` // reset expired: came back after its id left the window
	SlowestID string  `json:"slowest_id"`
	totalMs   float64
}

// SoakSample is the server at one moment.
type SoakSample struct {
	T          float64 `json:"t_s"`
	RSS        int64   `json:"rss_bytes"`
	Disk       int64   `json:"disk_bytes"` // the JetStream store
	WindowMsgs uint64  `json:"window_msgs"`
	Evictions  int64   `json:"history_evictions"` // this server's so far; -1: no metric
}

func (s *soak) failf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.fails) < 20 {
		s.fails = append(s.fails, fmt.Sprintf(format, args...))
	}
}

// detail keeps one of the first losses or repeats for the report.
func (s *soak) detail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.t.details) < 10 {
		s.t.details = append(s.t.details, fmt.Sprintf(format, args...))
	}
}

func (s *soak) resumed(c *soakClient, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.t.resumes[c.kind]
	ms := float64(d) / 1e6
	r.Count++
	r.totalMs += ms
	if ms > r.SlowestMs {
		r.SlowestMs, r.SlowestID = ms, c.resumeID
	}
}

func (s *soak) stalled(c *soakClient, d time.Duration) {
	s.mu.Lock()
	s.t.resumes[c.kind].Stalled++
	s.mu.Unlock()
	s.detail("client %d (%s): no event %.1fs after resuming from %s", c.n, c.kind, d.Seconds(), c.resumeID)
}

func (s *soak) reset(c *soakClient, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.resets[reason]++
	if reason == "expired" && c.resuming {
		s.t.resumes[c.kind].Expired++
	}
}

func (s *soak) snapshot() {
	s.mu.Lock()
	s.t.snapshots++
	s.mu.Unlock()
}

func (s *soak) lost(c *soakClient, key string, prev, seq uint64, merged int64, n uint64) {
	why := ""
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(c.resumeID, "from=")); err == nil {
		if r := s.recreated.Load(); r != 0 && t.UnixNano() < r && c.connected.UnixNano() > r {
			why = " [from= before the recreation]"
			s.mu.Lock()
			s.t.fromRecreated += n
			s.mu.Unlock()
		}
	}
	s.detail("client %d (%s, resumed from %s): lost %d of %s: seq %d after %d (merged %d)%s", c.n, c.kind, c.resumeID, n, key, seq, prev, merged, why)
}

func (s *soak) dup(c *soakClient, key string, prev, seq uint64, merged int64) {
	s.detail("client %d (%s, resumed from %s): %s seq %d (merged %d) after %d, past the resume's first event", c.n, c.kind, c.resumeID, key, seq, merged, prev)
}

func (s *soak) resumeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.t.resumes {
		n += r.Count
	}
	return n
}

// issueCount is how many losses, repeats and stalls were noted.
func (s *soak) issueCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.t.details)
}

// sample measures the server and checks GET /v1/bars.
func (s *soak) sample(ctx context.Context, ch *child, start time.Time, days map[string]bool, res *SoakResult) SoakSample {
	smp := SoakSample{T: time.Since(start).Seconds()}
	smp.RSS, _, _ = procMem(ch.pid())
	smp.Disk = dirSize(s.dir)
	if f, l, ok := s.window(); ok && l >= f {
		smp.WindowMsgs = l - f + 1
	}
	smp.Evictions = s.evictions(ctx)
	if n := len(res.Samples); smp.Evictions >= 0 {
		prev := int64(0)
		if n > 0 && res.Samples[n-1].Evictions >= 0 && res.Samples[n-1].Evictions <= smp.Evictions {
			prev = res.Samples[n-1].Evictions // the same server
		}
		res.HistoryEvictions = max(res.HistoryEvictions, 0) + smp.Evictions - prev
	}
	res.RSSMax = max(res.RSSMax, smp.RSS)
	res.DiskMax = max(res.DiskMax, smp.Disk)
	var mk struct {
		Clock *struct{ MarketTime time.Time }
	}
	if getJSONTo(ctx, s.http, s.url+"/v1/market", &mk) == nil && mk.Clock != nil {
		days[mk.Clock.MarketTime.In(newYork).Format(time.DateOnly)] = true
	}
	var br struct {
		Bars []struct {
			Seq uint64
		}
	}
	err := getJSONTo(ctx, s.http, s.url+"/v1/bars?symbol="+s.sym+"&interval=1s&limit=50", &br)
	if ctx.Err() != nil {
		return smp
	}
	res.BarsChecks++
	for i := 1; err == nil && i < len(br.Bars); i++ {
		if br.Bars[i].Seq <= br.Bars[i-1].Seq {
			err = fmt.Errorf("bars out of order: seq %d after %d", br.Bars[i].Seq, br.Bars[i-1].Seq)
		}
	}
	if err == nil && len(br.Bars) == 0 && smp.T > 5 {
		err = fmt.Errorf("no bars")
	}
	if err != nil {
		res.BarsFailures++
		s.failf("GET /v1/bars at %.0fs: %v", smp.T, err)
	}
	return smp
}

// evictions reads tickcast_history_evictions_total from /metrics; -1
// when the gateway has no such metric.
func (s *soak) evictions(ctx context.Context) int64 {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/metrics", nil)
	resp, err := s.http.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "tickcast_history_evictions_total "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return int64(f)
			}
		}
	}
	return -1
}

var newYork = func() *time.Location {
	if l, err := time.LoadLocation("America/New_York"); err == nil {
		return l
	}
	return time.FixedZone("ET", -5*3600)
}()

// dirSize is the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// finish fills in the tallies and the failures.
func (s *soak) finish(res *SoakResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.t
	res.Events, res.Lost, res.DupBeyond = t.st.Events, t.st.Gaps, t.dupBad
	res.Overlaps = t.st.Dups + t.st.Overlaps - t.dupBad
	res.Merged = t.st.Merged
	res.Resets, res.Snapshots, res.Resumes = t.resets, t.snapshots, t.resumes
	for _, r := range t.resumes {
		if r.Count > 0 {
			r.MeanMs = r.totalMs / float64(r.Count)
		}
	}
	fails := append([]string{}, s.fails...)
	if res.Lost > 0 {
		fails = append(fails, fmt.Sprintf("lost %d events", res.Lost))
	}
	if t.fromRecreated > 0 {
		fails = append(fails, fmt.Sprintf("%d of them by ?from= a moment before the stream was recreated: "+
			"the gateway started at the new stream's first message where the contract wants reset expired", t.fromRecreated))
	}
	if res.DupBeyond > 0 {
		fails = append(fails, fmt.Sprintf("%d events repeated past a resume's first event of their counter", res.DupBeyond))
	}
	for _, k := range reportKinds {
		r := t.resumes[k]
		if r.Stalled > 0 {
			fails = append(fails, fmt.Sprintf("%d resumes of %s clients stalled (no event within %v)", r.Stalled, k, s.cfg.Stall))
		}
		if r.Count == 0 {
			fails = append(fails, fmt.Sprintf("no resume of a %s client completed", k))
		}
	}
	for reason, n := range t.resets {
		if reason != "epoch" && reason != "expired" {
			fails = append(fails, fmt.Sprintf("%d resets %q", n, reason))
		}
	}
	if n := t.resets["epoch"]; n > s.cfg.Clients && res.Recreated {
		fails = append(fails, fmt.Sprintf("%d epoch resets for %d clients and one recreation", n, s.cfg.Clients))
	} else if n > 0 && !res.Recreated {
		fails = append(fails, fmt.Sprintf("%d epoch resets with no recreation", n))
	}
	if res.DiskMax > res.DiskBound {
		fails = append(fails, fmt.Sprintf("disk %s past the bound %s: storage grows", fmtBytes(float64(res.DiskMax)), fmtBytes(float64(res.DiskBound))))
	}
	if len(fails) > 0 && len(t.details) > 0 {
		fails = append(fails, "first: "+strings.Join(t.details, "; "))
	}
	res.Failures = fails
}

// WriteTable prints the result.
func (r *SoakResult) WriteTable(w io.Writer) {
	c := &r.Config
	cache := r.HistoryCache
	if cache == "" {
		cache = "(the gateway has no --history-cache)"
	}
	fmt.Fprintf(w, "soak: %.0fs, %d clients, rate %g, speed %g, window %v / %s, ring %d, history cache %s\n",
		r.ElapsedS, c.Clients, c.Rate, c.Speed, c.MaxAge, fmtBytes(float64(c.MaxBytes)), c.Ring, cache)
	fmt.Fprintf(w, "market days   %d   stream recreated %v\n", r.MarketDays, r.Recreated)
	fmt.Fprintf(w, "events        %d (merged %d)\n", r.Events, r.Merged)
	fmt.Fprintf(w, "lost          %d\n", r.Lost)
	fmt.Fprintf(w, "dup beyond    %d   (overlaps allowed: %d)\n", r.DupBeyond, r.Overlaps)
	reasons := make([]string, 0, len(r.Resets))
	for k, n := range r.Resets {
		reasons = append(reasons, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(reasons)
	fmt.Fprintf(w, "resets        %s   snapshots %d\n", strings.Join(reasons, ", "), r.Snapshots)
	fmt.Fprintf(w, "%-8s %7s %10s %10s %8s %8s\n", "resume", "count", "mean", "slowest", "stalled", "expired")
	for _, k := range reportKinds {
		if x := r.Resumes[k]; x != nil {
			fmt.Fprintf(w, "%-8s %7d %8.0fms %8.0fms %8d %8d\n", k, x.Count, x.MeanMs, x.SlowestMs, x.Stalled, x.Expired)
		}
	}
	fmt.Fprintf(w, "/v1/bars      %d checks, %d failed\n", r.BarsChecks, r.BarsFailures)
	fmt.Fprintf(w, "server        RSS max %s, disk max %s (bound %s), history index evictions %d\n", fmtBytes(float64(r.RSSMax)), fmtBytes(float64(r.DiskMax)), fmtBytes(float64(r.DiskBound)), r.HistoryEvictions)
	step := max(1, len(r.Samples)/10)
	for i := 0; i < len(r.Samples); i += step {
		x := r.Samples[i]
		fmt.Fprintf(w, "  %6.0fs  RSS %10s  disk %10s  window %8d msgs\n", x.T, fmtBytes(float64(x.RSS)), fmtBytes(float64(x.Disk)), x.WindowMsgs)
	}
	if len(r.Failures) > 0 {
		fmt.Fprintf(w, "FAILED:\n  %s\n", strings.Join(r.Failures, "\n  "))
	} else {
		fmt.Fprintln(w, "PASS: no loss, no repeat past the overlap rule, no stalled resume")
	}
}
