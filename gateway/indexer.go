package gateway

import (
	"context"
	"time"
	"unsafe"
)

// The history index is filled two ways besides catch-ups reading it on
// demand, so that a client far behind finds the blocks it needs already
// summarised (a warm resume, well under a millisecond of CPU per block):
//
//   - liveBlocks summarises each block as the tail reads it, from the
//     ticks the hub is appending anyway, at the cost of one merge step per
//     tick (no JetStream read). It covers everything from the gateway's
//     warm start on.
//   - indexBehind reads the rest of the stream's window (the blocks
//     before the tail's start) from JetStream in the background after
//     the gateway is ready, newest first, one block at a time and paced
//     to a quarter of a core, so it never competes with a reconnect storm
//     for more than one reader.

// liveBlocks builds the summary of the block the tail is in. It is used
// by the tail goroutine only.
type liveBlocks struct {
	b    uint64 // block being built
	next uint64 // the next stream sequence expected; 0 before the first
	ok   bool   // every sequence of block b has been seen from its first
	sum  *blockSum
	at   []int32 // symbol index -> position in sum.syms + 1; 0 if absent
}

// observe takes the stream message seq, the hub's entry e of it, and
// returns block b's summary when seq completes it having seen all of it.
func (lb *liveBlocks) observe(seq uint64, e *entry) (uint64, *blockSum) {
	sym, t := e.sym, &e.tick
	if e.kind != entTick {
		sym = -1 // the tick parts skip it; addOther keeps it
	}
	b := blockOf(seq)
	if lb.sum == nil || b != lb.b {
		from, _ := blockRange(b)
		lb.b, lb.ok = b, seq == from
		lb.sum = &blockSum{tail: newBlockTail()}
		clear(lb.at)
	} else if seq != lb.next {
		lb.ok = false // a message this summary did not see
	}
	lb.next = seq + 1
	if lb.ok && lb.sum.tail != nil && !lb.sum.tail.add(sym, t) {
		lb.sum.tail = nil
	}
	if e.kind != entTick {
		lb.sum.addOther(e)
	}
	if sym >= 0 {
		grow(&lb.at, sym)
		k := lb.at[sym]
		if k == 0 {
			lb.sum.syms = append(lb.sum.syms, symAcc{sym: sym})
			k = int32(len(lb.sum.syms))
			lb.at[sym] = k
		}
		lb.sum.syms[k-1].acc.add(seq, t)
	}
	if _, until := blockRange(b); seq != until || !lb.ok {
		return 0, nil
	}
	s := lb.sum
	lb.sum = nil
	s.bytes = s.sumBytes()
	return b, s
}

// storeSum keeps sum as block b's summary unless one is there, within
// Options.HistoryCacheBytes (the oldest blocks go first, b itself if it
// is the oldest: whoever read it has it from the read, see flight).
func (hi *history) storeSum(b uint64, sum *blockSum) {
	hi.mu.Lock()
	defer hi.mu.Unlock()
	hi.storeSumLocked(b, sum)
}

func (hi *history) storeSumLocked(b uint64, sum *blockSum) {
	if hi.sums[b] != nil {
		return
	}
	hi.sums[b] = sum
	hi.sumBytes += sum.bytes
	for hi.sumBytes > hi.g.opts.HistoryCacheBytes && len(hi.sums) > 1 {
		victim := ^uint64(0)
		for k := range hi.sums {
			victim = min(victim, k)
		}
		hi.sumBytes -= hi.sums[victim].bytes
		delete(hi.sums, victim)
		hi.g.cu.evictions.Inc()
	}
	hi.g.cu.cacheBytes.Set(float64(hi.sumBytes))
}

// has reports whether block b is summarised.
func (hi *history) has(b uint64) bool {
	hi.mu.Lock()
	defer hi.mu.Unlock()
	return hi.sums[b] != nil
}

// full reports whether the summaries are within a block's worth of
// their bound, so that reading another would drop one.
func (hi *history) full() bool {
	hi.mu.Lock()
	defer hi.mu.Unlock()
	return hi.sumBytes+hi.maxSumBytesLocked() > hi.g.opts.HistoryCacheBytes
}

func (hi *history) maxSumBytesLocked() int {
	most := 64 + 64*int(unsafe.Sizeof(symAcc{})) + blockSeqs*tailBytesPerTick
	for _, s := range hi.sums {
		most = max(most, s.bytes)
	}
	return most
}

// indexDuty is the share of one core the background indexer may use:
// after a block that took d to read it rests d*(1/indexDuty - 1).
const indexDuty = 0.25

// indexBehind summarises the complete blocks of the stream's window
// from first up to the block holding before (the tail's start: the tail
// summarises only blocks it read from their first message), newest
// first, until ctx ends, the index is full or they are all summarised.
func (g *Gateway) indexBehind(ctx context.Context, h *hub, first, before uint64) {
	if before < first || before == 0 {
		return
	}
	hi := g.history(h)
	lowest := blockOf(max(first, 1))
	if from, _ := blockRange(lowest); from < first {
		lowest++ // its start has aged out: it can only be read in part
	}
	start := time.Now()
	n := 0
	for b := int64(blockOf(before)); b >= int64(lowest); b-- {
		if ctx.Err() != nil || hi.full() {
			break
		}
		if _, until := blockRange(uint64(b)); until > h.lastSeqNow() || hi.has(uint64(b)) {
			continue // not complete yet, or done
		}
		t0 := time.Now()
		if _, err := hi.summary(ctx, uint64(b)); err != nil {
			if ctx.Err() == nil {
				g.log.Debug("background indexing stopped", "block", b, "err", err)
			}
			break
		}
		n++
		rest := time.Duration(float64(time.Since(t0)) * (1/indexDuty - 1))
		select {
		case <-ctx.Done():
		case <-time.After(rest):
		}
	}
	if n > 0 {
		g.log.Info("indexed history behind the tail", "blocks", n, "took", time.Since(start).Round(time.Millisecond))
	}
}

// The other event types in block summaries (blockSum.quotes, kept).

// symQuote is one symbol's quotes in a block.
type symQuote struct {
	sym int
	acc quoteAcc
}

// addOther records the next message of another type than tick: a quote
// or a book into its symbol's accumulator, anything else kept whole.
func (s *blockSum) addOther(e *entry) {
	if e.kind == entBook {
		s.addBook(e.seq, e.sym, &e.bk.b)
		return
	}
	if e.kind != entQuote {
		s.kept = append(s.kept, e)
		return
	}
	s.quotes[s.quoteAt(e.sym)].acc.add(e.seq, e.q, e.q.Merged)
}

// quoteAt returns the index of symbol sym's quotes in s.quotes, adding
// it if it is not there.
func (s *blockSum) quoteAt(sym int) int {
	if s.qat == nil {
		s.qat = map[int]int{}
	}
	k, ok := s.qat[sym]
	if !ok {
		k = len(s.quotes)
		s.qat[sym] = k
		s.quotes = append(s.quotes, symQuote{sym: sym})
	}
	return k
}

// foldOthers adds the block's quotes, books, bars, status and clock events
// that c wants to its pending merge, as foldEntry would each message.
func (s *blockSum) foldOthers(c *client) {
	if c.kinds&kQuote != 0 {
		for i := range s.quotes {
			if q := &s.quotes[i]; c.wants(q.sym) {
				c.foldQuoteAcc(q.sym, &q.acc)
			}
		}
	}
	if c.kinds&kBook != 0 {
		for i := range s.books {
			if bk := &s.books[i]; c.wants(bk.sym) {
				c.foldBookAcc(bk.sym, &bk.acc)
			}
		}
	}
	for _, e := range s.kept {
		if e.mask&c.kinds != 0 && c.wants(e.sym) {
			c.keepEntry(e)
		}
	}
}
