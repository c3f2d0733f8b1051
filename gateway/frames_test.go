package gateway

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/ssetest"
	"github.com/tickcast/tickcast/market"
)

// parseEvents parses b with the module's strict test reader.
func parseEvents(t *testing.T, b []byte) []ssetest.Event {
	t.Helper()
	evs, err := ssetest.Parse(b)
	if err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return evs
}

func TestSnapshotFrame(t *testing.T) {
	ticks := []market.Tick{{Symbol: "A", Seq: 1, Time: time.Unix(1, 0), Price: 1}, {Symbol: "B", Seq: 2, Time: time.Unix(2, 0), Price: 2}}
	evs := parseEvents(t, appendSnapshot(nil, "ep", 9, ticks))
	if len(evs) != 1 || evs[0].Type != "snapshot" || evs[0].ID != "ep-9" || !strings.HasPrefix(evs[0].Data, `{"ticks":[{"symbol":"A"`) {
		t.Fatalf("%q", evs)
	}
	evs = parseEvents(t, appendReset(nil, resetMalformed, "bad\nid\x00"+strings.Repeat("x", 1000)))
	if len(evs) != 1 || evs[0].Type != "reset" || evs[0].ID != "" || strings.Contains(evs[0].Data, "\n") {
		t.Fatalf("%q", evs)
	}
	if len(strconv.Quote(evs[0].Data)) > 400 {
		t.Fatalf("reset echoes too much: %d bytes", len(evs[0].Data))
	}
}
