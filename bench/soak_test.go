package bench

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestSoakShort is the short soak: about 75 s of a real tickcast serve
// playing a trading day every 48 s into a 20 s / 4 MiB window with a
// small ring, 8 clients going away and coming back from their last id
// at once, from the middle and the oldest tenth of the window and by
// ?from=, the stream recreated half way. No event may be lost or
// repeated past the overlap rule, no resume may stall, storage stays
// bounded.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tickcast serve for 75 s")
	}
	exe := buildTickcast(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	// Stall 20 s: a livelocked resume never answers; a loaded machine
	// answers a deep resume within a few seconds.
	res, err := Soak(ctx, SoakConfig{Exe: exe, Stall: 20 * time.Second})
	if res != nil {
		res.WriteTable(&out)
		t.Logf("\n%s", out.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	if !res.Recreated || res.Resets["epoch"] == 0 {
		t.Errorf("the stream was not recreated under the clients: recreated %v, epoch resets %d", res.Recreated, res.Resets["epoch"])
	}
	if res.MarketDays < 2 {
		t.Errorf("the market went through %d trading days, want at least 2", res.MarketDays)
	}
	if res.Events == 0 || res.BarsChecks == 0 {
		t.Errorf("nothing checked: %d events, %d /v1/bars checks", res.Events, res.BarsChecks)
	}
}
