package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

// The history index serves catch-ups from behind the ring. History is
// cut into fixed blocks of blockSeqs stream sequences: block b holds
// sequences b*blockSeqs+1 to (b+1)*blockSeqs. Each block is read from
// JetStream at most once while it is cached (single flight: concurrent
// wanters wait for the one read), through a small pool of readers, so
// the number of JetStream consumers is bounded by Options.HistoryReaders
// whatever the number of clients. A block read whole leaves a summary:
// one merge accumulator per symbol (n, first sequence, newest tick,
// high, low, summed size), which is all a merged catch-up needs; and for
// a while its raw messages, for catch-ups that start inside it or want
// every tick.
const blockSeqs = 4096

// RangeReader is what the history index needs from the feed beyond
// Source: reading a range of sequences exactly (feed.Conn.ReadRange). A
// Source without it is read with Replay.
type RangeReader interface {
	ReadRange(ctx context.Context, from, until uint64, fn func(m feed.Msg, bad error) error) error
}

// rawMsg is one stream message of a raw block; sym < 0 for one that was
// neither a valid tick nor an event the gateway knows. e is set for a
// message of another event type (a quote, bar, status, the clock): its
// hub-style entry, frame encoded; summaries leave those out.
type rawMsg struct {
	seq  uint64
	sym  int
	tick market.Tick
	e    *entry
}

// rawBlock is a contiguous run of messages of one block, from to until.
type rawBlock struct {
	from, until uint64
	msgs        []rawMsg // msgs[i].seq == from+i
}

// symAcc is one symbol's share of a block summary.
type symAcc struct {
	sym int
	acc mergeAcc
}

// blockSum is a whole block, merged per symbol, and what a merged
// catch-up starting inside the block needs to fold the rest of it
// exactly without reading it again: each message's symbol, price and
// size (18 bytes a message; nil when the block holds already merged
// ticks, which need more).
type blockSum struct {
	syms  []symAcc
	tail  *blockTail
	bytes int
	// The other event types, so that a merged catch-up of a client of
	// quotes, bars or status uses summaries too: each symbol's quotes
	// merged (as a client merges them), and the bar, status and clock
	// entries, which are never merged, in stream order (indexer.go).
	quotes []symQuote
	qat    map[int]int // symbol -> index in quotes; only while building
	books  []symBook   // each symbol's books merged (book.go)
	bkat   map[int]int // symbol -> index in books; only while building
	kept   []*entry
}

type blockTail struct {
	sym   []int16 // by offset in the block; -1: not a tick
	price []float64
	size  []int64
}

func newBlockTail() *blockTail {
	return &blockTail{sym: make([]int16, 0, blockSeqs), price: make([]float64, 0, blockSeqs), size: make([]int64, 0, blockSeqs)}
}

// add records the next message of the block; it reports false (and the
// tail must be dropped) for one it cannot stand for.
func (bt *blockTail) add(sym int, t *market.Tick) bool {
	if sym < 0 {
		bt.sym, bt.price, bt.size = append(bt.sym, -1), append(bt.price, 0), append(bt.size, 0)
		return true
	}
	if sym > 1<<15-1 || t.Merged > 0 {
		return false
	}
	bt.sym, bt.price, bt.size = append(bt.sym, int16(sym)), append(bt.price, t.Price), append(bt.size, t.Size)
	return true
}

const tailBytesPerMsg = 2 + 8 + 8

// sumBytes is what s holds, for the cache bound. It ends the build.
func (s *blockSum) sumBytes() int {
	s.qat, s.bkat = nil, nil
	n := 64 + len(s.syms)*int(unsafe.Sizeof(symAcc{}))
	n += len(s.quotes) * int(unsafe.Sizeof(symQuote{})+unsafe.Sizeof(market.Quote{})+8)
	for i := range s.books {
		n += int(unsafe.Sizeof(symBook{})+unsafe.Sizeof(entry{})+unsafe.Sizeof(bookEnt{})) + cap(s.books[i].acc.last.frame) + 8
	}
	for _, e := range s.kept {
		n += int(unsafe.Sizeof(entry{})) + cap(e.frame) + 8
	}
	for i := range s.syms {
		n += len(s.syms[i].acc.last.Symbol) + len(s.syms[i].acc.last.Status)
	}
	if s.tail != nil {
		n += cap(s.tail.sym) * tailBytesPerMsg
	}
	return n
}

// foldTail folds block b's messages after sequence from, to the block's
// end, into c, exactly (the same as folding each tick), in order of
// each symbol's first tick after from. It reports false when s has no
// tail to do it with.
func (s *blockSum) foldTail(c *client, b, from uint64) bool {
	bt := s.tail
	bFrom, _ := blockRange(b)
	if bt == nil || len(bt.sym) != blockSeqs || from+1 < bFrom {
		return false
	}
	type part struct {
		n, size   int64
		first     uint64
		high, low float64
	}
	parts := map[int]*part{}
	var order []int
	for i := int(from + 1 - bFrom); i < blockSeqs; i++ {
		sym := int(bt.sym[i])
		if sym < 0 || !c.wants(sym) {
			continue
		}
		p := parts[sym]
		if p == nil {
			p = &part{first: bFrom + uint64(i), high: bt.price[i], low: bt.price[i]}
			parts[sym] = p
			order = append(order, sym)
		}
		p.n++
		p.size += bt.size[i]
		p.high, p.low = max(p.high, bt.price[i]), min(p.low, bt.price[i])
	}
	at := make(map[int]*mergeAcc, len(s.syms))
	for i := range s.syms {
		at[s.syms[i].sym] = &s.syms[i].acc
	}
	for _, sym := range order {
		p, whole := parts[sym], at[sym]
		if whole == nil {
			return false // cannot be: every tick's symbol is in the summary
		}
		acc := mergeAcc{n: p.n, firstSeq: p.first, lastSeq: whole.lastSeq, last: whole.last,
			high: p.high, low: p.low, size: p.size}
		c.foldAcc(sym, &acc)
	}
	return true
}

// flight is one read of a block in progress. Whoever waited for it
// takes its result from the flight, not from the cache: the cache may
// drop a block the moment it is stored (the lowest goes first), and a
// reader that looked it up again would read it again, forever.
type flight struct {
	done chan struct{} // closed when the read ends; the fields below are set before
	raw  *rawBlock     // what was read; nil on error
	sum  *blockSum     // its summary, for a whole block
	err  error
}

// history is the index of one epoch (one hub). Bounds: summaries up to
// Options.HistoryCacheBytes (the oldest blocks are dropped first, and
// any block that left the stream's window); maxRawBlocks raw blocks, the
// least recently used dropped first.
type history struct {
	g *Gateway
	h *hub

	mu       sync.Mutex
	sums     map[uint64]*blockSum
	sumBytes int
	raws     map[uint64]*rawBlock
	rawUse   map[uint64]uint64 // block -> last use (a counter)
	useClock uint64
	flights  map[uint64]*flight
}

const maxRawBlocks = 8

func newHistory(g *Gateway, h *hub) *history {
	return &history{g: g, h: h, sums: map[uint64]*blockSum{}, raws: map[uint64]*rawBlock{},
		rawUse: map[uint64]uint64{}, flights: map[uint64]*flight{}}
}

func blockOf(seq uint64) uint64                { return (seq - 1) / blockSeqs }
func blockRange(b uint64) (from, until uint64) { return b*blockSeqs + 1, (b + 1) * blockSeqs }

// trim drops every block that left the stream's window (ends before
// first).
func (hi *history) trim(first uint64) {
	hi.mu.Lock()
	defer hi.mu.Unlock()
	for b, s := range hi.sums {
		if _, until := blockRange(b); until < first {
			hi.sumBytes -= s.bytes
			delete(hi.sums, b)
		}
	}
	for b := range hi.raws {
		if _, until := blockRange(b); until < first {
			delete(hi.raws, b)
			delete(hi.rawUse, b)
		}
	}
	hi.g.cu.cacheBytes.Set(float64(hi.sumBytes))
}

// summary returns block b merged per symbol, reading it if needed.
// The block's summary comes from the cache, from the read another
// reader is doing (its flight), or from this caller's own read: never
// looked up again after a read, so eviction cannot starve it.
func (hi *history) summary(ctx context.Context, b uint64) (*blockSum, error) {
	for {
		hi.mu.Lock()
		if s := hi.sums[b]; s != nil {
			hi.mu.Unlock()
			return s, nil
		}
		if f := hi.flights[b]; f != nil {
			hi.mu.Unlock()
			if err := waitFlight(ctx, f); err != nil {
				return nil, err
			}
			if f.sum != nil {
				return f.sum, nil
			}
			continue // a partial read, or one that failed: read it ourselves
		}
		f := &flight{done: make(chan struct{})}
		hi.flights[b] = f
		hi.mu.Unlock()
		from, until := blockRange(b)
		if err := hi.read(ctx, b, from, until, f); err != nil {
			return nil, err
		}
		return f.sum, nil
	}
}

// raw returns messages of block b covering from to until (within the
// block), reading them if needed; like summary, from the cache, another
// reader's flight or its own read.
func (hi *history) raw(ctx context.Context, b, from, until uint64) (*rawBlock, error) {
	bFrom, bUntil := blockRange(b)
	covers := func(r *rawBlock) bool { return r != nil && r.from <= from && r.until >= until }
	for {
		hi.mu.Lock()
		if r := hi.raws[b]; covers(r) {
			hi.useClock++
			hi.rawUse[b] = hi.useClock
			hi.mu.Unlock()
			return r, nil
		}
		if f := hi.flights[b]; f != nil {
			hi.mu.Unlock()
			if err := waitFlight(ctx, f); err != nil {
				return nil, err
			}
			if covers(f.raw) {
				return f.raw, nil
			}
			continue
		}
		f := &flight{done: make(chan struct{})}
		hi.flights[b] = f
		hi.mu.Unlock()
		// Read the whole block when it is complete (a summary comes
		// with it); the block's start may have aged out while from has
		// not: then read from from.
		rFrom, rUntil := bFrom, until
		if until == bUntil || hi.h.lastSeqNow() >= bUntil {
			rUntil = bUntil
		}
		err := hi.read(ctx, b, rFrom, rUntil, f)
		if errors.Is(err, feed.ErrTooOld) && from > rFrom {
			f = &flight{done: make(chan struct{})}
			hi.mu.Lock()
			hi.flights[b] = f
			hi.mu.Unlock()
			err = hi.read(ctx, b, from, rUntil, f)
		}
		if err != nil {
			return nil, err
		}
		return f.raw, nil
	}
}

// foldTail folds block b after sequence from into c from the block's
// summary (read whole if need be), exactly and with no read when it is
// cached. It reports false, having folded nothing, when the block is
// not complete, cannot be read whole (its start aged out) or has no
// tail: then the caller reads the messages.
func (hi *history) foldTail(ctx context.Context, c *client, b, from uint64) bool {
	if _, until := blockRange(b); hi.h.lastSeqNow() < until {
		return false
	}
	s, err := hi.summary(ctx, b)
	return err == nil && s.foldTail(c, b, from)
}

func waitFlight(ctx context.Context, f *flight) error {
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// read reads from..until of block b with a reader from the pool, and
// stores the raw messages and, for a whole block, its summary, in the
// cache (which may drop them at once) and in flight f, which the caller
// registered and read ends.
func (hi *history) read(ctx context.Context, b, from, until uint64, f *flight) (err error) {
	defer func() {
		f.err = err
		hi.mu.Lock()
		if hi.flights[b] == f {
			delete(hi.flights, b)
		}
		hi.mu.Unlock()
		close(f.done)
	}()
	cu := hi.g.cu
	if err := cu.acquire(ctx, cu.readers); err != nil {
		return err
	}
	n := cu.reading.Add(1)
	for {
		peak := cu.peakReaders.Load()
		if n <= peak || cu.peakReaders.CompareAndSwap(peak, n) {
			break
		}
	}
	cu.readersGauge.Inc()
	defer func() {
		cu.reading.Add(-1)
		cu.readersGauge.Dec()
		<-cu.readers
	}()
	cu.blocksRead.Inc()
	r := &rawBlock{from: from, until: until, msgs: make([]rawMsg, 0, until-from+1)}
	index := map[string]int{}
	symOf := func(s string) int {
		if i, ok := index[s]; ok {
			return i
		}
		hi.h.mu.Lock()
		i := hi.h.symbolLocked(s)
		hi.h.mu.Unlock()
		index[s] = i
		return i
	}
	add := func(m feed.Msg, bad error) error {
		if m.Seq != from+uint64(len(r.msgs)) {
			return fmt.Errorf("gateway: history block %d: sequence %d, want %d: %w", b, m.Seq, from+uint64(len(r.msgs)), feed.ErrTooOld)
		}
		sym := -1
		var e *entry
		switch {
		case bad != nil:
			hi.g.m.badMsgs.Inc()
		case m.IsTick():
			sym = symOf(m.Tick.Symbol)
		default:
			if ev, s, ok := eventEntry(hi.h.epoch, &m); ok {
				e, sym = ev, symOf(s)
				e.sym = sym
			}
		}
		r.msgs = append(r.msgs, rawMsg{seq: m.Seq, sym: sym, tick: m.Tick, e: e})
		return nil
	}
	if rr, ok := hi.g.src.(RangeReader); ok {
		err = rr.ReadRange(ctx, from, until, add)
	} else {
		err = hi.g.src.Replay(ctx, from, until, nil, func(m feed.Msg) error { return add(m, nil) })
	}
	if err == nil && uint64(len(r.msgs)) != until-from+1 {
		err = fmt.Errorf("gateway: history block %d: read %d of %d messages: %w", b, len(r.msgs), until-from+1, feed.ErrTooOld)
	}
	if err != nil {
		return fmt.Errorf("gateway: history %d-%d: %w", from, until, err)
	}
	bFrom, bUntil := blockRange(b)
	var sum *blockSum
	if from == bFrom && until == bUntil {
		sum = summarize(r)
	}
	hi.mu.Lock()
	defer hi.mu.Unlock()
	if old := hi.raws[b]; old == nil || old.from >= r.from && old.until <= r.until {
		hi.raws[b] = r
	}
	hi.useClock++
	hi.rawUse[b] = hi.useClock
	for len(hi.raws) > maxRawBlocks {
		var victim uint64
		oldest := ^uint64(0)
		for k, u := range hi.rawUse {
			if u < oldest {
				victim, oldest = k, u
			}
		}
		delete(hi.raws, victim)
		delete(hi.rawUse, victim)
	}
	if sum != nil {
		hi.storeSumLocked(b, sum)
	}
	f.raw, f.sum = r, sum
	cu.cacheBytes.Set(float64(hi.sumBytes))
	return nil
}

// summarize merges a whole raw block per symbol, in order of each
// symbol's first tick.
func summarize(r *rawBlock) *blockSum {
	s := &blockSum{tail: newBlockTail()}
	at := map[int]int{}
	for i := range r.msgs {
		m := &r.msgs[i]
		if m.e != nil {
			s.addOther(m.e)
		}
		tick := m.sym >= 0 && m.e == nil
		if s.tail != nil && !s.tail.add(map[bool]int{true: m.sym, false: -1}[tick], &m.tick) {
			s.tail = nil
		}
		if !tick {
			continue
		}
		k, ok := at[m.sym]
		if !ok {
			k = len(s.syms)
			at[m.sym] = k
			s.syms = append(s.syms, symAcc{sym: m.sym})
		}
		s.syms[k].acc.add(m.seq, &m.tick)
	}
	s.bytes = s.sumBytes()
	return s
}

// combine adds b, a later run of the same symbol's ticks, to a.
func (a *mergeAcc) combine(b *mergeAcc) {
	if b.n == 0 {
		return
	}
	if a.n == 0 {
		*a = *b
		return
	}
	a.n += b.n
	a.last = b.last
	a.high, a.low = max(a.high, b.high), min(a.low, b.low)
	a.size += b.size
}

// foldAcc adds b, a run of symbol sym's ticks, to the client's
// accumulators of the types it wants (tick, trade).
func (c *client) foldAcc(sym int, b *mergeAcc) {
	if c.kinds&kTrade != 0 {
		if sym >= len(c.tacc) {
			c.tacc = append(c.tacc, make([]mergeAcc, sym+1-len(c.tacc))...)
		}
		if c.tacc[sym].n == 0 {
			c.tactive = append(c.tactive, sym)
		}
		c.tacc[sym].combine(b)
	}
	if c.kinds&kTick == 0 {
		return
	}
	if sym >= len(c.acc) {
		c.acc = append(c.acc, make([]mergeAcc, sym+1-len(c.acc))...)
	}
	a := &c.acc[sym]
	if a.n == 0 {
		c.active = append(c.active, sym)
	}
	a.combine(b)
}
