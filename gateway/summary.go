package gateway

import (
	"sort"
	"strings"
	"unsafe"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

// Block summaries: what the history index keeps of a whole block once it
// was read from JetStream or seen by the tail (indexer.go).

// symAcc is one symbol's share of a block summary.
type symAcc struct {
	sym int
	acc mergeAcc
}

// blockSum is a whole block, merged per symbol, and what a merged
// catch-up starting inside the block needs to fold the rest of it
// exactly without reading it again: each tick's offset, symbol, price
// and size (20 bytes a tick; nil when the block holds already merged
// ticks, which need more).
type blockSum struct {
	syms  []symAcc
	tail  *blockTail
	bytes int
	// The other event types, so that a merged catch-up of a client of
	// quotes, bars or status uses summaries too: each symbol's quotes
	// merged (as a client merges them), its newest book (without its
	// entry: a merged book is encoded when it is sent), and the bar,
	// status and clock entries, which are never merged, in stream order
	// (indexer.go).
	quotes []symQuote
	qat    map[int]int // symbol -> index in quotes; only while building
	books  []symBook   // each symbol's books merged (book.go)
	bkat   map[int]int // symbol -> index in books; only while building
	kept   []*entry
}

// blockTail is every tick of a block, in stream order.
type blockTail struct {
	n     int      // messages seen from the block's first
	off   []uint16 // each tick's offset in the block
	sym   []int16
	price []float64
	size  []int64
}

func newBlockTail() *blockTail { return &blockTail{} }

// add records the next message of the block (sym < 0 for one that is not
// a tick); it reports false (and the tail must be dropped) for one it
// cannot stand for.
func (bt *blockTail) add(sym int, t *market.Tick) bool {
	off := bt.n
	bt.n++
	if sym < 0 {
		return true
	}
	if sym > 1<<15-1 || t.Merged > 0 {
		return false
	}
	bt.off, bt.sym = append(bt.off, uint16(off)), append(bt.sym, int16(sym))
	bt.price, bt.size = append(bt.price, t.Price), append(bt.size, t.Size)
	return true
}

const tailBytesPerTick = 2 + 2 + 8 + 8

// sumBytes is what s holds, for the cache bound. It ends the build: the
// tail is cut to its length, each book is kept without its entry.
func (s *blockSum) sumBytes() int {
	s.qat, s.bkat = nil, nil
	n := 64 + len(s.syms)*int(unsafe.Sizeof(symAcc{}))
	n += len(s.quotes) * int(unsafe.Sizeof(symQuote{})+unsafe.Sizeof(market.Quote{})+8)
	for i := range s.books {
		a := &s.books[i].acc
		b := *a.last // the ring's entry's book: keep the book, not the entry
		a.last = &b
		n += int(unsafe.Sizeof(symBook{})+unsafe.Sizeof(market.Book{})) + 16*(len(b.Bids)+len(b.Asks)) + len(b.Symbol) + 8
	}
	for _, e := range s.kept {
		n += int(unsafe.Sizeof(entry{})) + cap(e.frame) + 8
	}
	for i := range s.syms {
		n += len(s.syms[i].acc.last.Symbol) + len(s.syms[i].acc.last.Status)
	}
	if bt := s.tail; bt != nil {
		bt.off, bt.sym = clip(bt.off), clip(bt.sym)
		bt.price, bt.size = clip(bt.price), clip(bt.size)
		n += len(bt.off) * tailBytesPerTick
	}
	return n
}

// clip returns s in a backing array of its length.
func clip[T any](s []T) []T { return append(make([]T, 0, len(s)), s...) }

// foldTail folds block b's messages after sequence from, to the block's
// end, into c, exactly (the same as folding each tick), in order of
// each symbol's first tick after from. It reports false when s has no
// tail to do it with.
func (s *blockSum) foldTail(c *client, b, from uint64) bool {
	bt := s.tail
	bFrom, _ := blockRange(b)
	if bt == nil || bt.n != blockSeqs || from+1 < bFrom {
		return false
	}
	type part struct {
		n, size   int64
		first     uint64
		high, low float64
	}
	parts := map[int]*part{}
	var order []int
	start := sort.Search(len(bt.off), func(i int) bool { return bFrom+uint64(bt.off[i]) > from })
	for i := start; i < len(bt.off); i++ {
		sym := int(bt.sym[i])
		if !c.wants(sym) {
			continue
		}
		p := parts[sym]
		if p == nil {
			p = &part{first: bFrom + uint64(bt.off[i]), high: bt.price[i], low: bt.price[i]}
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

// summarize merges a whole raw block per symbol, in order of each
// symbol's first tick. It decodes what a summary keeps and no more: each
// quote and book (to count the valid ones), but no event frame except
// for bars, status and the clock, which it keeps whole.
func summarize(r *rawBlock, epoch string, symOf func(string) int) *blockSum {
	s := &blockSum{tail: newBlockTail()}
	at := map[int]int{}
	var newest []market.Quote // s.quotes[k]'s newest quote
	for i := range r.msgs {
		m := &r.msgs[i]
		if m.data != nil {
			newest = s.addRaw(m, epoch, symOf, newest)
		}
		sym := -1
		if m.tick != nil {
			sym = m.sym
		}
		if s.tail != nil && !s.tail.add(sym, m.tick) {
			s.tail = nil
		}
		if sym < 0 {
			continue
		}
		k, ok := at[sym]
		if !ok {
			k = len(s.syms)
			at[sym] = k
			s.syms = append(s.syms, symAcc{sym: sym})
		}
		s.syms[k].acc.add(m.seq, m.tick)
	}
	for k := range s.quotes {
		s.quotes[k].acc.last = &newest[k]
	}
	s.bytes = s.sumBytes()
	return s
}

// addRaw records a stored message of another type than tick, decoding
// it as eventEntry would, and returns newest (the newest quote of each
// of s.quotes) grown as needed. A message that does not decode is left
// out, as the tail leaves it out.
func (s *blockSum) addRaw(m *rawMsg, epoch string, symOf func(string) int, newest []market.Quote) []market.Quote {
	switch {
	case strings.HasPrefix(m.subj, feed.QuoteSubjectPrefix):
		q, err := market.DecodeQuote(m.data)
		if err != nil {
			return newest
		}
		k := s.quoteAt(symOf(q.Symbol))
		if k == len(newest) {
			newest = append(newest, market.Quote{})
		}
		a := &s.quotes[k].acc
		if a.n == 0 {
			a.firstSeq = m.seq
		}
		a.lastSeq, a.n, newest[k] = m.seq, a.n+max(q.Merged, 1), q
	case strings.HasPrefix(m.subj, feed.BookSubjectPrefix):
		b, err := market.DecodeBook(m.data)
		if err != nil {
			return newest
		}
		s.addBook(m.seq, symOf(b.Symbol), &b)
	default:
		if e, sym, ok := eventEntry(epoch, &feed.Msg{Seq: m.seq, Subject: m.subj, Data: m.data}, nil); ok {
			e.sym = symOf(sym)
			s.addOther(e)
		}
	}
	return newest
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
		c.combineTrades(sym, b)
	}
	if c.kinds&kTick != 0 {
		c.combineTicks(sym, b)
	}
}
