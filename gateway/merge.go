package gateway

import (
	"slices"

	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// mergeAcc accumulates one symbol's pending ticks, added in any order
// (the per-symbol chains are walked newest first).
type mergeAcc struct {
	n                 int64 // ticks
	firstSeq, lastSeq uint64
	last              market.Tick // the tick of lastSeq
	high, low         float64
	size              int64
}

func (a *mergeAcc) add(seq uint64, t *market.Tick) {
	n := t.Merged
	if n < 1 {
		n = 1
	}
	hi, lo := t.Price, t.Price
	if t.Merged > 0 {
		hi, lo = max(t.High, t.Price), min(t.Low, t.Price)
	}
	if a.n == 0 {
		a.firstSeq, a.lastSeq, a.high, a.low, a.size = seq, seq, hi, lo, 0
		a.last = *t
	} else {
		if seq < a.firstSeq {
			a.firstSeq = seq
		}
		if seq >= a.lastSeq {
			a.lastSeq, a.last = seq, *t
		}
	}
	a.n += n
	a.high, a.low = max(a.high, hi), min(a.low, lo)
	a.size += t.Size
}

// tick returns the merged tick: the newest tick's fields, plus merged,
// high, low and the summed size when it stands for more than one.
func (a *mergeAcc) tick() market.Tick {
	t := a.last
	if a.n >= 2 {
		t.Merged, t.High, t.Low, t.Size = a.n, a.high, a.low, a.size
	}
	return t
}

// collect folds the ring's entries up to head into the accumulators.
func (c *client) collect(head uint64) error {
	if head <= c.cursor {
		return nil
	}
	if !c.all {
		if _, err := c.pending(head, -1); err != nil {
			return err
		}
		c.advance(head)
		return nil
	}
	for pos := c.cursor + 1; pos <= head; pos++ {
		e := c.h.at(pos)
		if e == nil {
			return errLapped
		}
		if e.mask&c.kinds != 0 && c.wants(e.sym) {
			c.foldEntry(e)
		}
	}
	c.advance(head)
	return nil
}

// advance moves the cursor to head once everything up to it is folded:
// the last merged event's id is then the position read up to.
func (c *client) advance(head uint64) {
	if e := c.h.at(head); e != nil && head > c.cursor {
		c.cursor = head
		c.lastSeq = max(c.lastSeq, e.seq)
	}
}

// fold adds a tick of symbol index sym to its accumulator.
func (m *merger) fold(sym int, seq uint64, t *market.Tick) {
	a := grow(&m.acc, sym)
	if a.n == 0 {
		m.active = append(m.active, sym)
	}
	a.add(seq, t)
}

// emitMerged writes one event per symbol with pending ticks. Events go in
// order of their first pending tick, and each carries as id the sequence
// just before the first pending tick of the symbols still to come (the
// last carries the position read up to), so any id the client holds is a
// cursor from which a resume loses nothing.
func (c *client) emitMerged() error {
	if !c.pendingMerge() {
		return nil
	}
	c.grab()
	c.encodeMerged()
	return c.flush()
}

// encodeMerged appends the merged events (see emitMerged) to c.buf and
// clears the accumulators; it returns how many events and merged
// messages. Bars, status and clock events are never merged: each is
// sent as it is, in its place.
func (c *client) encodeMerged() (events, merged int) {
	items := c.mergeItems()
	var js []byte
	for k := range items {
		it := &items[k]
		id := c.lastSeq
		if k+1 < len(items) {
			id = items[k+1].first - 1
		}
		switch it.kind {
		case entTick, entTick + itemTrade:
			acc := c.acc
			if it.kind != entTick {
				acc = c.tacc
			}
			a := &acc[it.sym]
			t := a.tick()
			if a.n >= 2 {
				merged += int(a.n)
			}
			if it.kind == entTick {
				js = t.AppendJSON(js[:0])
				c.buf = sse.AppendTick(c.buf, c.h.epoch, id, js)
			} else {
				js = appendTradeJSON(js[:0], &t)
				c.buf = sse.AppendNamed(c.buf, "trade", c.h.epoch, id, js)
			}
			*a = mergeAcc{}
		case entQuote:
			a := &c.qacc[it.sym]
			q := *a.last
			if a.n >= 2 {
				q.Merged = a.n
				merged += int(a.n)
			}
			js = q.AppendJSON(js[:0])
			c.buf = sse.AppendNamed(c.buf, "quote", c.h.epoch, id, js)
			*a = quoteAcc{}
		case entBook:
			var n int
			js, n = c.appendMergedBook(js, it.sym, id)
			merged += n
		default:
			c.buf = sse.AppendNamed(c.buf, eventName[it.kind], c.h.epoch, id, it.e.js)
		}
	}
	events = len(items)
	c.nEvents += events
	c.g.m.mergedTicks.Add(float64(merged))
	c.active, c.tactive, c.qactive, c.bk.active = c.active[:0], c.tactive[:0], c.qactive[:0], c.bk.active[:0]
	clear(c.keep)
	c.keep = c.keep[:0]
	clear(c.items)
	c.items = c.items[:0]
	return events, merged
}

// runAcc accumulates one symbol's pending quotes (quoteAcc) or books
// (bookAcc): the newest, and how many.
type runAcc[T any] struct {
	n                 int64
	firstSeq, lastSeq uint64
	last              *T
}

type quoteAcc = runAcc[market.Quote]

// add adds v, the message at seq, which stands for merged of its kind
// (0 or 1: itself).
func (a *runAcc[T]) add(seq uint64, v *T, merged int64) {
	if a.n == 0 || seq < a.firstSeq {
		a.firstSeq = seq
	}
	if a.n == 0 || seq >= a.lastSeq {
		a.lastSeq, a.last = seq, v
	}
	a.n += max(merged, 1)
}

// combine adds b, another run of the same symbol's, to a: the newest
// wins, n adds up.
func (a *runAcc[T]) combine(b *runAcc[T]) {
	if a.n == 0 {
		*a = *b
		return
	}
	a.n += b.n
	a.firstSeq = min(a.firstSeq, b.firstSeq)
	if b.lastSeq >= a.lastSeq {
		a.lastSeq, a.last = b.lastSeq, b.last
	}
}

// grow returns &(*accs)[sym], growing *accs to hold it.
func grow[A any](accs *[]A, sym int) *A {
	if sym >= len(*accs) {
		*accs = append(*accs, make([]A, sym+1-len(*accs))...)
	}
	return &(*accs)[sym]
}

// mitem is one event of a merged batch: a symbol's ticks, trades or
// quotes (an accumulator), or an entry that is never merged (bar,
// status, clock).
type mitem struct {
	first uint64
	kind  uint8 // entTick (the tick acc), entTick+16 (the trade acc), entQuote, or the entry's kind
	sym   int
	e     *entry
}

const itemTrade = 16

// foldTrade adds a tick to symbol sym's trade accumulator.
func (m *merger) foldTrade(sym int, seq uint64, t *market.Tick) {
	a := grow(&m.tacc, sym)
	if a.n == 0 {
		m.tactive = append(m.tactive, sym)
	}
	a.add(seq, t)
}

// pendingMerge reports whether anything is folded and not yet sent.
func (m *merger) pendingMerge() bool {
	return len(m.active)+len(m.tactive)+len(m.qactive)+len(m.bk.active)+len(m.keep) > 0
}

// mergeItems lists the pending merged events in order of their first
// pending message.
func (m *merger) mergeItems() []mitem {
	items := m.items[:0]
	for _, s := range m.active {
		items = append(items, mitem{first: m.acc[s].firstSeq, kind: entTick, sym: s})
	}
	for _, s := range m.tactive {
		items = append(items, mitem{first: m.tacc[s].firstSeq, kind: entTick + itemTrade, sym: s})
	}
	for _, s := range m.qactive {
		items = append(items, mitem{first: m.qacc[s].firstSeq, kind: entQuote, sym: s})
	}
	items = m.bookItems(items)
	for _, e := range m.keep {
		items = append(items, mitem{first: e.seq, kind: e.kind, sym: e.sym, e: e})
	}
	slices.SortStableFunc(items, func(a, b mitem) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return int(a.kind) - int(b.kind)
	})
	m.items = items
	return items
}

// foldQuote adds a quote of symbol sym to the pending merge.
func (m *merger) foldQuote(sym int, seq uint64, q *market.Quote) {
	a := grow(&m.qacc, sym)
	if a.n == 0 {
		m.qactive = append(m.qactive, sym)
	}
	a.add(seq, q, q.Merged)
}

// foldQuoteAcc adds b, a later run of symbol sym's quotes, to the
// pending merge.
func (m *merger) foldQuoteAcc(sym int, b *quoteAcc) {
	a := grow(&m.qacc, sym)
	if a.n == 0 {
		m.qactive = append(m.qactive, sym)
	}
	a.combine(b)
}

// keepEntry keeps an entry that is never merged (bar, status, clock)
// for the next merged batch, in its place.
func (m *merger) keepEntry(e *entry) {
	m.keep = append(m.keep, e)
}

// combineTicks adds b, a run of symbol sym's ticks, to its pending
// ticks; combineTrades to its pending trades.
func (m *merger) combineTicks(sym int, b *mergeAcc)  { combineAcc(&m.acc, &m.active, sym, b) }
func (m *merger) combineTrades(sym int, b *mergeAcc) { combineAcc(&m.tacc, &m.tactive, sym, b) }

func combineAcc(accs *[]mergeAcc, active *[]int, sym int, b *mergeAcc) {
	a := grow(accs, sym)
	if a.n == 0 {
		*active = append(*active, sym)
	}
	a.combine(b)
}

// drop forgets whatever is pending.
func (m *merger) drop() {
	for _, i := range m.active {
		m.acc[i] = mergeAcc{}
	}
	for _, i := range m.tactive {
		m.tacc[i] = mergeAcc{}
	}
	for _, i := range m.qactive {
		m.qacc[i] = quoteAcc{}
	}
	m.dropBooks()
	clear(m.keep)
	m.active, m.tactive, m.qactive, m.keep = m.active[:0], m.tactive[:0], m.qactive[:0], m.keep[:0]
}
