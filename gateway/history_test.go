package gateway

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// With a history index too small to keep more than one block, a resume
// from the oldest id still completes, exactly: a block that was read is
// used by whoever read it (or waited for its read), whether or not the
// cache keeps it, and a prefetched block is not read twice.
func TestTinyHistoryCacheResumesFromOldest(t *testing.T) {
	e := newEnv(t, Options{RingSize: 4096, HistoryCacheBytes: 1}, feed.StreamConfig{Memory: true})
	const n = 6*blockSeqs + 100
	e.publish(n)
	e.waitHub(n)
	epoch := e.state().Epoch
	for _, q := range []string{"", "AAA,CCC"} {
		syms := symsOf(q)
		before := counterValue(t, e, "tickcast_history_blocks_read_total", "")
		a := openAcct(t, e.hs.URL+"/v1/stream?symbols="+q, sse.FormatID(epoch, 2), seqsAt(2, syms))
		a.waitFor(e.seqsOf(syms), 15*time.Second)
		a.mu.Lock()
		if a.resets+a.snaps != 0 || a.merged < len(syms) {
			t.Fatalf("%q: %d resets, %d snapshots, %d merged events", q, a.resets, a.snaps, a.merged)
		}
		a.mu.Unlock()
		a.close()
		// Blocks 0-5 lie behind the ring; the cache keeps one: each of the
		// others is read once, never twice.
		if got := counterValue(t, e, "tickcast_history_blocks_read_total", "") - before; got > 6 {
			t.Fatalf("%q: %v history blocks read for 6 blocks", q, got)
		}
	}
	if got := counterValue(t, e, "tickcast_history_evictions_total", ""); got == 0 {
		t.Fatal("no eviction counted with a one-byte history cache")
	}
}

// A merged catch-up whose whole history lies in the stream's first,
// incomplete block reads that block only (no block past the stream's
// end is prefetched).
func TestCatchUpInFirstBlockReadsOnlyIt(t *testing.T) {
	e := newEnv(t, Options{RingSize: 256, MergeAfter: 16}, feed.StreamConfig{Memory: true})
	e.publish(3000)
	e.waitHub(3000)
	epoch := e.state().Epoch
	a := openAcct(t, e.hs.URL+"/v1/stream", sse.FormatID(epoch, 10), seqsAt(10, testSymbols))
	a.waitFor(e.seqsOf(testSymbols), 10*time.Second)
	a.close()
	if got := counterValue(t, e, "tickcast_history_blocks_read_total", ""); got != 1 {
		t.Fatalf("%v history blocks read, want 1", got)
	}
}

// A deep resume of a client of bars (quotes, status: every type but
// ticks) is folded from the history index's summaries like one of
// ticks, not read raw block by block, and still gets every bar.
func TestDeepResumeOfBarsUsesSummaries(t *testing.T) {
	e := newEnv(t, Options{RingSize: 1024}, feed.StreamConfig{})
	m := newMixed()
	e.publishMixed(m, 520)
	if n := e.state().LastSeq; n < 3*blockSeqs+300 {
		e.publish(int(3*blockSeqs + 300 - n)) // a block boundary in the ring
	}
	st := e.state()
	e.waitHub(st.LastSeq)
	var history []feed.BarMsg
	waitFor(t, 10*time.Second, "bars in history", func() bool {
		var err error
		history, err = e.conn.ReadBars(context.Background(), "AAA", market.Interval1s, time.Time{}, time.Time{}, 5000)
		return err == nil && len(history) == int(m.bars1s["AAA"])
	})
	var want []uint64
	for _, b := range history {
		if b.Seq > blockSeqs {
			want = append(want, b.Bar.Seq)
		}
	}
	before := counterValue(t, e, "tickcast_history_blocks_read_total", "")
	resume := func() {
		t.Helper()
		s := e.open("?events=bar&bars=1s&symbols=AAA", map[string]string{"Last-Event-ID": sse.FormatID(st.Epoch, blockSeqs)})
		last := uint64(0)
		for i, w := range want {
			ev := s.next()
			_, id, _ := sse.ParseID(ev.id)
			var b market.Bar
			if err := json.Unmarshal([]byte(ev.data), &b); err != nil || ev.name != "bar" || b.Seq != w || b.Interval != market.Interval1s || id < last {
				t.Fatalf("bar %d: got %s %s %s after id %d, want 1s bar %d", i, ev.name, ev.id, ev.data, last, w)
			}
			last = id
		}
		s.close()
	}
	resume()
	if got := counterValue(t, e, "tickcast_history_blocks_read_total", ""); got != before {
		t.Fatalf("%v history blocks read: the tail's summaries were not used", got-before)
	}
	// Sent in bounded batches (here of 16 bars and what a block adds),
	// the resume is the same.
	defer func(n int) { keepFlushAt = n }(keepFlushAt)
	keepFlushAt = 16
	resume()
}
