package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/sim"
)

// scenarioReply is a /v1/sim/scenario response.
type scenarioReply struct {
	Scenario struct {
		Name, Symbol  string
		Duration      string
		Size          float64
		Pending       bool
		Started, Ends time.Time
	}
	Error string
}

// call makes a request to the program and decodes the JSON reply.
func (p *program) call(method, path, contentType, body string, header http.Header) (int, scenarioReply) {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.url+path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r scenarioReply
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusUnauthorized {
		if err := json.Unmarshal(b, &r); err != nil {
			p.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, r
}

const jsonType = "application/json"

// nextTick waits for the next tick event of ch.
func nextTick(t *testing.T, ch <-chan sse, within time.Duration) (tick, string) {
	t.Helper()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev.name != "tick" {
				continue
			}
			var tk struct {
				tick
				Status string `json:"status"`
			}
			if err := json.Unmarshal([]byte(ev.data), &tk); err != nil {
				t.Fatal(err)
			}
			return tk.tick, tk.Status
		case <-time.After(within):
			t.Fatalf("no tick within %v", within)
		}
	}
}

// TestScenarioControl sets a scenario over HTTP in the whole program and
// watches it on the stream. The HTTP API's own cases (errors, defaults)
// are sim/simhttp's tests.
func TestScenarioControl(t *testing.T) {
	p := start(t, "--addr", "127.0.0.1:0", "--memory", "--rate", "200", "--symbols", "5",
		"--seed", "3", "--session=false", "--arrivals", "regular")
	code, r := p.call("GET", "/v1/sim/scenario", "", "", nil)
	if code != 200 || r.Scenario.Name != "normal" {
		t.Fatalf("GET: %d %+v, want 200 normal", code, r)
	}

	// Halt a symbol for a second, watching its stream.
	sym := "MSFT"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := readSSE(t, ctx, p.url+"/v1/stream?symbols="+sym, nil)
	seqs, _ := snapshotOf(t, ch)
	last, _ := nextTick(t, ch, 10*time.Second)
	if s, ok := seqs[sym]; ok && last.Seq != s+1 {
		t.Fatalf("seq %d after the snapshot's %d", last.Seq, s)
	}
	code, r = p.call("POST", "/v1/sim/scenario", "application/json; charset=utf-8", `{"name":"halt","symbol":"msft","duration":"1s","size":0.1}`, nil)
	if code != 200 || r.Scenario.Name != "halt" || r.Scenario.Symbol != sym || r.Scenario.Duration != "1s" {
		t.Fatalf("POST halt: %d %+v", code, r)
	}
	var halted tick
	for {
		tk, status := nextTick(t, ch, 10*time.Second)
		if tk.Seq != last.Seq+1 {
			t.Fatalf("seq %d after %d", tk.Seq, last.Seq)
		}
		last = tk
		if status == "halted" {
			halted = tk
			break
		}
		if status != "" {
			t.Fatalf("status %q before the halt", status)
		}
	}
	if *halted.Size != 0 {
		t.Errorf("halted tick with size %d, want 0", *halted.Size)
	}
	if code, r := p.call("GET", "/v1/sim/scenario", "", "", nil); code != 200 || r.Scenario.Name != "halt" || r.Scenario.Ends.Sub(r.Scenario.Started) != time.Second {
		t.Errorf("GET during the halt: %d %+v", code, r)
	}
	open, status := nextTick(t, ch, 10*time.Second)
	if status != "open" || open.Seq != halted.Seq+1 {
		t.Fatalf("after the halted tick: seq %d status %q, want seq %d open", open.Seq, status, halted.Seq+1)
	}
	// Tick times come from a schedule in float seconds: allow a
	// microsecond of rounding below the second.
	if d := open.Time.Sub(halted.Time); d < time.Second-time.Microsecond || d > time.Second+50*time.Millisecond {
		t.Errorf("halted for %v, want 1s", d)
	}
	if move := *open.Price / *halted.Price; move < 1.08 || move > 1.12 {
		t.Errorf("reopened at %.3f times the halted price, want about 1.1", move)
	}
	if _, r := p.call("GET", "/v1/sim/scenario", "", "", nil); r.Scenario.Name != "normal" {
		t.Errorf("GET after the halt: %+v, want normal", r)
	}
}

func TestScenarioFlagAndGuards(t *testing.T) {
	// A halt from the start, with a token, and the control turned off.
	p := start(t, "--addr", "127.0.0.1:0", "--memory", "--rate", "200", "--symbols", "5", "--token", "s3cret",
		"--scenario", `{"name":"halt","symbol":"AAPL","duration":"1h"}`)
	if code, _ := p.call("GET", "/v1/sim/scenario", "", "", nil); code != 401 {
		t.Errorf("GET without the token: %d, want 401", code)
	}
	if code, _ := p.call("POST", "/v1/sim/scenario", jsonType, `{"name":"normal"}`, nil); code != 401 {
		t.Errorf("POST without the token: %d, want 401", code)
	}
	auth := http.Header{"Authorization": {"Bearer s3cret"}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, r := p.call("GET", "/v1/sim/scenario", "", "", auth)
		if code == 200 && r.Scenario.Name == "halt" && r.Scenario.Symbol == "AAPL" && !r.Scenario.Pending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET: %d %+v, want the halt from --scenario in force", code, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The snapshot shows AAPL halted.
	resp, err := http.Get(p.url + "/v1/snapshot?symbols=AAPL&token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	var snap struct {
		Ticks []struct{ Symbol, Status string }
	}
	err = json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	if err != nil || len(snap.Ticks) != 1 || snap.Ticks[0].Status != "halted" {
		t.Errorf("snapshot of AAPL: %+v %v, want it halted", snap, err)
	}
	p.stop()

	off := start(t, "--addr", "127.0.0.1:0", "--memory", "--rate", "50", "--symbols", "2", "--sim-control=false")
	if code, _ := off.call("GET", "/v1/sim/scenario", "", "", nil); code != 404 {
		t.Errorf("GET with --sim-control=false: %d, want 404", code)
	}
	if code, _ := off.call("POST", "/v1/sim/scenario", jsonType, `{"name":"burst"}`, nil); code != 404 {
		t.Errorf("POST with --sim-control=false: %d, want 404", code)
	}
	off.stop()

	// A bad --scenario is a usage error, found before anything starts.
	for _, bad := range []string{"meltdown", `{"name":"halt","symbol":"ZZZZ"}`, `{"name":"gap","size":3}`, "/no/such/file.json"} {
		err := run(context.Background(), []string{"--memory", "--scenario", bad}, io.Discard, io.Discard)
		if !errors.Is(err, errUsage) {
			t.Errorf("--scenario %s: %v, want a usage error", bad, err)
		}
	}
}

func TestReadScenarios(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/script.json"
	script := `[{"at":"0s","name":"quiet","duration":"30s"},{"at":"1m","name":"halt","symbol":"AAPL"},{"at":"2m","name":"flash-crash"}]`
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want int
	}{{"burst", 1}, {"Flash-Crash", 1}, {`{"name":"gap"}`, 1}, {script, 3}, {file, 3}} {
		got, err := readScenarios(tc.in)
		if err != nil || len(got) != tc.want {
			t.Errorf("readScenarios(%.40s): %v, %v; want %d", tc.in, got, err, tc.want)
		}
		if _, err := sim.New(sim.Config{Scenarios: got}); err != nil {
			t.Errorf("readScenarios(%.40s): %v", tc.in, err)
		}
	}
}
