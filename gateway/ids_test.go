package gateway

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// A tick and its trade never share an id a resume would skip the trade
// from: a client cut right after the tick resumes from the tick's id
// and gets the trade (and the tick again, an allowed overlap). Live,
// from history (every tick), and ids never decrease.
func TestTickAndTradeIDs(t *testing.T) {
	e := newEnv(t, Options{RingSize: 64, MergeAfter: 1 << 20}, feed.StreamConfig{Memory: true})
	e.publish(4)
	e.waitHub(4)
	const q = "?events=tick,trade&symbols=AAA"
	s := e.open(q, nil)
	if ev := s.next(); ev.name != "snapshot" {
		t.Fatalf("got %s", ev.name)
	}
	e.publish(4) // AAA's tick 2 at stream sequence 5
	tick, trade := s.next(), s.next()
	if tick.name != "tick" || trade.name != "trade" {
		t.Fatalf("got %s, %s; want tick, trade", tick.name, trade.name)
	}
	_, ts, _ := sse.ParseID(tick.id)
	_, rs, _ := sse.ParseID(trade.id)
	if ts >= rs {
		t.Fatalf("tick id %s, trade id %s: a resume from the tick's id skips the trade", tick.id, trade.id)
	}
	check := func(name string, s *stream, seq uint64) {
		t.Helper()
		ev := s.next()
		if ev.name == "tick" {
			ev = s.next()
		}
		if ev.name != "trade" || !strings.Contains(ev.data, `"seq":`+strconv.FormatUint(seq, 10)) {
			t.Fatalf("%s: got %s %s, want AAA's trade %d", name, ev.name, ev.data, seq)
		}
	}
	check("from memory", e.open(q, map[string]string{"Last-Event-ID": tick.id}), 2)
	// From history (the ring holds 64): every tick, not merged.
	e.publish(400)
	e.waitHub(408)
	h := e.open(q, map[string]string{"Last-Event-ID": tick.id})
	check("from history", h, 2)
	last := uint64(0)
	for i := 0; i < 40; i++ {
		ev := h.next()
		_, seq, err := sse.ParseID(ev.id)
		if err != nil || seq < last {
			t.Fatalf("id %s after %d", ev.id, last)
		}
		if ev.name == "tick" {
			next := h.next()
			_, nseq, _ := sse.ParseID(next.id)
			if next.name != "trade" || nseq <= seq {
				t.Fatalf("from history: tick %s then %s %s", ev.id, next.name, next.id)
			}
			seq = nseq
		}
		last = seq
	}
}

// ?from= inside the ring starts at the first message in stream order
// whose time is at or after the moment, though event times do not
// follow stream order (publishers and event types differ in clocks).
func TestFromInRingFirstInStreamOrder(t *testing.T) {
	e := newEnv(t, Options{}, feed.StreamConfig{Memory: true})
	base := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	offsets := []int{0, 10, 1, 2, 3, 4, 6, 7, 8} // seconds; the second message is early
	for i, off := range offsets {
		tk := market.Tick{Symbol: "AAA", Seq: uint64(i + 1), Time: base.Add(time.Duration(off) * time.Second),
			Price: 100, Bid: 99.99, Ask: 100.01, Size: 100, Volume: int64(i+1) * 100}
		if err := e.conn.Publish(context.Background(), tk); err != nil {
			t.Fatal(err)
		}
	}
	e.waitHub(uint64(len(offsets)))
	s := e.open("?symbols=AAA&from="+base.Add(5*time.Second).Format(time.RFC3339), nil)
	for want := uint64(2); want <= uint64(len(offsets)); want++ {
		ev := s.next()
		if ev.name != "tick" || ev.tick(t).Seq != want {
			t.Fatalf("got %s %s, want tick %d (from the first at or after the moment in stream order)", ev.name, ev.data, want)
		}
	}
}
