package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

// TestPrevCloseRepublishedAtSessionEnd: when a simulated session rolls
// over, /v1/symbols serves each symbol's new previous close (the last
// price of the session that ended), so "change" on a dashboard counts from
// it rather than from the first close forever.
func TestPrevCloseRepublishedAtSessionEnd(t *testing.T) {
	// A 6.5-hour session in 3 s of real time: a rollover every 3 s.
	p := start(t, "serve", "--memory", "--addr", "127.0.0.1:0", "--symbols", "4", "--rate", "400",
		"--session-minutes", "0.05", "--seed", "11")
	symbols := func() map[string]float64 {
		resp, err := http.Get(p.url + "/v1/symbols")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list []market.SymbolInfo
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, s := range list {
			out[s.Symbol] = s.PrevClose
		}
		return out
	}
	first := symbols()
	if len(first) != 4 {
		t.Fatalf("symbols: %v", first)
	}
	deadline := time.Now().Add(45 * time.Second) // 15 sessions: generous, for a loaded machine; it returns at the first pass
	for {
		changed := 0
		for s, pc := range symbols() {
			if pc != first[s] {
				changed++
			}
		}
		if changed == len(first) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 45 s (15 sessions) %d of %d prevClose values changed: %v then %v", changed, len(first), first, symbols())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
