package gateway

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// The tail summarises each block it reads whole exactly as a read of
// the block from JetStream would, so a catch-up over it reads nothing.
func TestTailSummarisesBlocks(t *testing.T) {
	e := newEnv(t, Options{RingSize: 1024}, feed.StreamConfig{Memory: true})
	e.publish(3*blockSeqs + 100)
	e.waitHub(3*blockSeqs + 100)
	h := e.g.hub.Load()
	live := e.g.history(h)
	fresh := newHistory(e.g, h)
	for b := uint64(0); b < 3; b++ {
		if !live.has(b) {
			t.Fatalf("block %d not summarised by the tail", b)
		}
		want, err := fresh.summary(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		live.mu.Lock()
		got := live.sums[b]
		live.mu.Unlock()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("block %d: the tail's summary differs from the block read from JetStream:\n%+v\n%+v", b, got.syms[0], want.syms[0])
		}
	}
	if live.has(3) {
		t.Fatal("block 3 is not complete but has a summary")
	}
	// A deep merged resume over those blocks reads no block (the first
	// one, partial from 101, comes raw: one read).
	epoch := e.state().Epoch
	before := counterValue(t, e, "tickcast_history_blocks_read_total", "")
	a := openAcct(t, e.hs.URL+"/v1/stream", sse.FormatID(epoch, blockSeqs), seqsAt(blockSeqs, testSymbols))
	a.waitFor(e.seqsOf(testSymbols), 10*time.Second)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.problems) > 0 || a.merged < len(testSymbols) {
		t.Fatalf("problems %v, %d merged events", a.problems, a.merged)
	}
	if got := counterValue(t, e, "tickcast_history_blocks_read_total", ""); got != before {
		t.Fatalf("history blocks read %v, want %v: the tail's summaries were not used", got, before)
	}
}

// A gateway restarted on a stream indexes the history behind its warm
// start in the background once ready, so a client far behind is then
// caught up without reading JetStream.
func TestBackgroundIndexing(t *testing.T) {
	setIndexDelay(t, 10*time.Millisecond)
	e := deepEnv(t, Options{}, func(c *feed.Conn) Source { return c })
	// Behind the warm start (11809-20000): blocks 0, 1 and 2 (which the
	// tail entered mid-way); block 3 the tail summarised itself.
	waitFor(t, 15*time.Second, "blocks 0-3 indexed", func() bool {
		hi := e.g.history(e.g.hub.Load())
		return hi.has(0) && hi.has(1) && hi.has(2) && hi.has(3)
	})
	if got := counterValue(t, e, "tickcast_history_blocks_read_total", ""); got != 3 {
		t.Fatalf("history blocks read %v, want 3", got)
	}
	epoch := e.state().Epoch
	a := openAcct(t, e.hs.URL+"/v1/stream?symbols=AAA,BBB", sse.FormatID(epoch, 4096), seqsAt(4096, []string{"AAA", "BBB"}))
	a.waitFor(e.seqsOf([]string{"AAA", "BBB"}), 10*time.Second)
	a.mu.Lock()
	if len(a.problems) > 0 || a.merged != 2 || a.ticks != 2 {
		t.Fatalf("problems %v, %d events (%d merged), want 2 merged", a.problems, a.ticks, a.merged)
	}
	a.mu.Unlock()
	if got := counterValue(t, e, "tickcast_history_blocks_read_total", ""); got != 3 {
		t.Fatalf("history blocks read %v after the resume, want still 3", got)
	}
}

// BenchmarkTailSummary is what summarising blocks costs the tail per
// tick.
func BenchmarkTailSummary(b *testing.B) {
	ticks := make([]entry, 50)
	for i := range ticks {
		ticks[i] = entry{kind: entTick, sym: i, tick: market.Tick{Symbol: testSymbols[i%len(testSymbols)], Seq: 1, Price: 100, Bid: 99.9, Ask: 100.1, Size: 100, Volume: 1000, Time: time.Now()}}
	}
	var lb liveBlocks
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		lb.observe(uint64(i+1), &ticks[i%len(ticks)])
	}
}
