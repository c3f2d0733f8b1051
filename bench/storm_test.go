package bench

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// buildTickcast builds the real tickcast binary for tests that need a
// real `tickcast serve` child.
func buildTickcast(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build tickcast:", err)
	}
	exe := filepath.Join(t.TempDir(), "tickcast")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", exe, "github.com/tickcast/tickcast/cmd/tickcast")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// TestStormRestart kills a real gateway under 50 clients and starts it
// again on the same store: every client must resume from its last event
// id with no tick lost, after SIGKILL and after SIGTERM, and after SIGKILL
// when the clients stay away 1.5s (so they resume from far behind).
func TestStormRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs tickcast serve")
	}
	exe := buildTickcast(t)
	for _, tc := range []struct {
		sig    string
		absent time.Duration
	}{{"kill", 0}, {"term", 0}, {"kill", 1500 * time.Millisecond}} {
		sig := tc.sig
		name := sig
		if tc.absent > 0 {
			name += "-absent"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			// The drain outlasts a SIGTERM restart (up to 2s of shutdown
			// spread, then the start) on a loaded machine, so every client
			// has resumed and caught up before lagging is counted.
			cfg := Config{Exe: exe, Clients: 50, Rate: 200, Duration: 6 * time.Second, Warmup: 500 * time.Millisecond,
				Drain: 6 * time.Second, RestartAt: 2 * time.Second, RestartSignal: sig, Absent: tc.absent, Scenario: "storm-" + name}
			res, err := Run(ctx, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			st := res.Storm
			if st == nil {
				t.Fatal("no storm result")
			}
			b, _ := json.Marshal(st)
			t.Logf("storm: %s", b)
			var table strings.Builder
			res.WriteTable(&table)
			t.Logf("\n%s", table.String())
			if st.Error != "" {
				t.Errorf("storm error: %s", st.Error)
			}
			if st.Clients != 50 || st.Resumed != 50 || st.NeverResumed != 0 || st.AllResumedS < 0 {
				t.Errorf("resumed %d of %d, never %d, all resumed %vs", st.Resumed, st.Clients, st.NeverResumed, st.AllResumedS)
			}
			if res.Gaps != 0 || st.TicksLost != 0 || res.Resets != 0 {
				t.Errorf("ticks lost %d (gaps %d), resets %d: not an exact resume", st.TicksLost, res.Gaps, res.Resets)
			}
			if st.ReadyS < st.URLS || st.URLS < st.ExitS || st.NewPID == 0 || st.NewPID == st.OldPID {
				t.Errorf("restart timeline: exit %v url %v ready %v, pids %d -> %d", st.ExitS, st.URLS, st.ReadyS, st.OldPID, st.NewPID)
			}
			if st.FromKill.Max < st.FromReady.Max || st.FromReady.P50 > st.FromReady.P99 || st.FromReady.P99 > st.FromReady.Max {
				t.Errorf("latencies: from ready %+v from kill %+v", st.FromReady, st.FromKill)
			}
			if st.FromKill.P50 < tc.absent.Microseconds() {
				t.Errorf("resumed %vus after the kill, before the %v absence ended", st.FromKill.P50, tc.absent)
			}
			sum := 0
			for _, n := range st.Curve {
				sum += n
			}
			if sum != st.Resumed {
				t.Errorf("curve %v sums to %d, want %d", st.Curve, sum, st.Resumed)
			}
			if n := len(st.ResumedBy250); n == 0 || st.ResumedBy250[n-1] != st.Resumed {
				t.Errorf("reconnect curve %v does not end at the %d resumed", st.ResumedBy250, st.Resumed)
			}
			if st.GatewayCPUS <= 0 || st.GatewayRSSPeak <= 0 || res.GatewayCPUS <= 0 {
				t.Errorf("gateway cpu %v rss %d; window cpu %v", st.GatewayCPUS, st.GatewayRSSPeak, res.GatewayCPUS)
			}
			if res.Delivered == 0 || res.Lagging != 0 {
				t.Errorf("delivered %d lagging %d", res.Delivered, res.Lagging)
			}
		})
	}
}

func TestCheckStorm(t *testing.T) {
	base := Config{RestartAt: time.Second, RestartSignal: "kill", Duration: 5 * time.Second}
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"ok", func(*Config) {}, true},
		{"term", func(c *Config) { c.RestartSignal = "term"; c.Absent = time.Second }, true},
		{"signal", func(c *Config) { c.RestartSignal = "hup" }, false},
		{"memory", func(c *Config) { c.Memory = true }, false},
		{"target", func(c *Config) { c.Target = "http://127.0.0.1:1" }, false},
		{"slow", func(c *Config) { c.Slow = 0.1 }, false},
		{"late", func(c *Config) { c.RestartAt = c.Duration }, false},
		{"absent without restart", func(c *Config) { c.RestartAt, c.RestartSignal, c.Absent = 0, "", time.Second }, false},
		{"no storm", func(c *Config) { *c = Config{} }, true},
	} {
		c := base
		tt.mod(&c)
		if err := checkStorm(&c); (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestSummarize(t *testing.T) {
	v := make([]int64, 200)
	for i := range v {
		v[i] = int64(200 - i)
	}
	if got := summarize(v); got != (StormLatency{P50: 100, P99: 198, Max: 200}) {
		t.Errorf("summarize: %+v", got)
	}
	if got := summarize(nil); got != (StormLatency{}) {
		t.Errorf("summarize(nil): %+v", got)
	}
}

// The reconnect curve counts, for each 250 ms after ready, the clients
// resumed by then, and the table prints it.
func TestStormReconnectCurve(t *testing.T) {
	us := []int64{0, 100_000, 249_999, 250_000, 900_000}
	got := cumulative(us, 250*time.Millisecond)
	if want := []int{3, 4, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("curve %v, want %v", got, want)
	}
	var b strings.Builder
	(&StormResult{Signal: "kill", Resumed: 5, Clients: 5, ResumedBy250: got}).writeTable(&b)
	if !strings.Contains(b.String(), "resumed by\t0.25s 3  0.5s 4  0.75s 4  1s 5\tafter ready") {
		t.Fatalf("table:\n%s", b.String())
	}
}
