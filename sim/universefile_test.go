package sim

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickcast/tickcast/market"
)

func TestLoadUniverse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.json")
	const file = `{"symbols": [
	  {"ticker": "ACME", "name": "Acme Corp.", "sector": "Industrials", "prevClose": 12.5,
	   "volatility": 0.4, "tickSize": 0.05, "weight": 7},
	  {"symbol": "AAPL", "sector": "Technology", "prevClose": 200}
	]}`
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	u, w, err := LoadUniverse(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []market.SymbolInfo{
		{Symbol: "ACME", Name: "Acme Corp.", Sector: "Industrials", PrevClose: 12.5, TickSize: 0.05, Volatility: 0.4},
		{Symbol: "AAPL", Name: "AAPL", Sector: "Technology", PrevClose: 200, TickSize: 0.01, Volatility: 0.30},
	}
	if len(u) != 2 || u[0] != want[0] || u[1] != want[1] {
		t.Errorf("universe %+v, want %+v", u, want)
	}
	if w["ACME"] != 7 || w["AAPL"] != DefaultWeight("AAPL") {
		t.Errorf("weights %v", w)
	}
	s := mustNew(t, Config{Seed: 1, Universe: u, Weights: w})
	for i := range 1000 {
		if tk := s.Next(stamp(i)); tk.Symbol == "ACME" && math.Abs(tk.Bid*20-math.Round(tk.Bid*20)) > 1e-9 {
			t.Fatalf("ACME bid %v off its 0.05 grid", tk.Bid)
		}
	}
	// The bare-array form, and /v1/symbols read back.
	u2, _, err := ParseUniverse(strings.NewReader(`[{"symbol":"X","name":"X","sector":"S","prevClose":5,"tickSize":0.01,"volatility":0.2}]`))
	if err != nil || len(u2) != 1 || u2[0].Symbol != "X" {
		t.Errorf("array form: %+v, %v", u2, err)
	}
	if _, _, err := LoadUniverse(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseUniverseErrors(t *testing.T) {
	ok := `"sector":"S","prevClose":10`
	for _, tc := range []struct{ name, in, want string }{
		{"empty", ``, "want a JSON array"},
		{"no symbols", `[]`, "no symbols"},
		{"syntax", "[\n{\"ticker\": \"A\",,}]", "line 2, column"},
		{"wrong type", `[{"ticker":"A","sector":"S","prevClose":"ten"}]`, "line 1, column"},
		{"typo", `[{"ticker":"A",` + ok + `,"prev_close":3}]`, `unknown field "prev_close"`},
		{"typo in object", `{"symbols":[{"ticker":"A",` + ok + `,"vol":3}]}`, `symbols[0]: json: unknown field "vol"`},
		{"unknown top", `{"symbol":[]}`, `unknown field "symbol"`},
		{"no ticker", `[{` + ok + `}]`, "symbols[0]: no ticker"},
		{"ticker and symbol", `[{"ticker":"A","symbol":"B",` + ok + `}]`, `ticker "A" and symbol "B" differ`},
		{"bad ticker", `[{"ticker":"BRK.B",` + ok + `}]`, `symbols[0] (BRK.B): bad symbol "BRK.B"`},
		{"duplicate", `[{"ticker":"A",` + ok + `},{"ticker":"A",` + ok + `}]`, "symbols[1] (A): duplicate of symbols[0]"},
		{"no sector", `[{"ticker":"A","prevClose":10}]`, "(A): no sector"},
		{"no price", `[{"ticker":"A","sector":"S"}]`, "(A): no prevClose"},
		{"negative price", `[{"ticker":"A","sector":"S","prevClose":-1}]`, "prevClose -1 is not a positive price"},
		{"bad tick", `[{"ticker":"A",` + ok + `,"tickSize":-1}]`, "tick size -1"},
		{"bad vol", `[{"ticker":"A",` + ok + `,"volatility":9}]`, "volatility 9 out of range"},
		{"bad weight", `[{"ticker":"A",` + ok + `,"weight":0}]`, "weight 0 is not positive"},
		{"two values", `[{"ticker":"A",` + ok + `}] []`, "more than one JSON value"},
	} {
		_, _, err := ParseUniverse(strings.NewReader(tc.in))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrConfig and %q", tc.name, err, tc.want)
		}
	}
}
