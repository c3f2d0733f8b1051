package gateway

import (
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

// append reports whether it appended, so a stale tail callback (of a hub
// already closed) cannot mark the gateway ready.
func TestHubAppendReports(t *testing.T) {
	h := newHub(16, "ep", 0)
	m := feed.Msg{Seq: 1, Tick: market.Tick{Symbol: "AAA", Seq: 1, Time: time.Now(), Price: 1}}
	if !h.append(m) {
		t.Fatal("first tick not appended")
	}
	if h.append(m) {
		t.Fatal("a repeated sequence reported appended")
	}
	h.close()
	m.Seq = 2
	if h.append(m) || h.lastSeqNow() != 1 {
		t.Fatal("a tick appended to a closed hub")
	}
}
