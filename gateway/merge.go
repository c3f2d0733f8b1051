package gateway

import (
	"sort"

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
		c.fold(e.sym, e.seq, &e.tick)
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
func (c *client) fold(sym int, seq uint64, t *market.Tick) {
	if sym >= len(c.acc) {
		c.acc = append(c.acc, make([]mergeAcc, sym+1-len(c.acc))...)
	}
	a := &c.acc[sym]
	if a.n == 0 {
		c.active = append(c.active, sym)
	}
	a.add(seq, t)
}

// emitMerged writes one event per symbol with pending ticks. Events go in
// order of their first pending tick, and each carries as id the sequence
// just before the first pending tick of the symbols still to come (the
// last carries the position read up to), so any id the client holds is a
// cursor from which a resume loses nothing.
func (c *client) emitMerged() error {
	if len(c.active) == 0 {
		return nil
	}
	c.grab()
	c.encodeMerged()
	return c.flush()
}

// encodeMerged appends the merged events (see emitMerged) to c.buf and
// clears the accumulators; it returns how many events and ticks.
func (c *client) encodeMerged() (events, merged int) {
	sort.Slice(c.active, func(i, j int) bool { return c.acc[c.active[i]].firstSeq < c.acc[c.active[j]].firstSeq })
	var js []byte
	for k, sym := range c.active {
		a := &c.acc[sym]
		id := c.lastSeq
		if k+1 < len(c.active) {
			id = c.acc[c.active[k+1]].firstSeq - 1
		}
		t := a.tick()
		if a.n >= 2 {
			merged += int(a.n)
		}
		js = t.AppendJSON(js[:0])
		c.buf = appendTickEvent(c.buf, c.h.epoch, id, js)
		*a = mergeAcc{}
	}
	events = len(c.active)
	c.nEvents += events
	c.g.m.mergedTicks.Add(float64(merged))
	c.active = c.active[:0]
	return events, merged
}
