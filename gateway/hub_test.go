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

// The default ring lets a client away a minute resume from memory at
// the default feed's rate at the open (about 4,400 messages a second:
// ticks, quotes, bars): a resume from memory reaches 7/8 of the ring
// back.
func TestDefaultRingHoldsAMinute(t *testing.T) {
	const rate, away = 4400, 60
	o := Options{}
	o.setDefaults()
	h := newHub(o.RingSize, "e", 0)
	for i := uint64(1); i <= uint64(len(h.ring))+rate*away; i++ {
		h.head.Store(i)
		h.ring[i&h.mask].Store(&entry{pos: i, seq: i})
		h.lastSeq = i
	}
	head := h.head.Load()
	if _, ok := h.positionAfterLocked(head - rate*away); !ok {
		t.Fatalf("a ring of %d messages does not hold %d s at %d messages/s", len(h.ring), away, rate)
	}
}

// append is appendSym for tests that only need to know whether it
// appended.
func (h *hub) append(m feed.Msg) bool {
	_, ok := h.appendSym(m)
	return ok
}
