package gateway

import (
	"testing"
	"time"

	"github.com/tickcast/tickcast/feed"
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
		a := openAcct(t, e.hs.URL+"/v1/stream?symbols="+q, FormatID(epoch, 2), seqsAt(2, syms))
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
	a := openAcct(t, e.hs.URL+"/v1/stream", FormatID(epoch, 10), seqsAt(10, testSymbols))
	a.waitFor(e.seqsOf(testSymbols), 10*time.Second)
	a.close()
	if got := counterValue(t, e, "tickcast_history_blocks_read_total", ""); got != 1 {
		t.Fatalf("%v history blocks read, want 1", got)
	}
}
