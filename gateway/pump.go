package gateway

import "slices"

// pump sends everything the ring holds past the cursor: each tick's
// shared frame, or, when the client is far behind, one merged event per
// symbol.
func (c *client) pump() error {
	head := c.h.head.Load()
	if head <= c.cursor {
		return c.flush() // whatever a resume left in the buffer
	}
	if !c.all {
		return c.pumpSymbols(head)
	}
	c.grab()
	if c.wakes++; c.wakes%8 == 1 {
		c.g.m.backlog.Observe(float64(head - c.cursor)) // sampled: 1 wake-up in 8
	}
	if c.backlog(head) > uint64(c.g.opts.MergeAfter) {
		if err := c.collect(head); err != nil {
			return err
		}
		return c.emitMerged()
	}
	for pos := c.cursor + 1; pos <= head; pos++ {
		e := c.h.at(pos)
		if e == nil {
			return errLapped
		}
		if e.mask&c.kinds == 0 {
			continue // an event type c did not ask for
		}
		c.appendEntry(e)
		c.lastSeq = e.seq
		if len(c.buf) >= flushSize {
			c.cursor = pos
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	c.cursor = head
	return c.flush()
}

// pumpSymbols is pump for a client of some symbols: it reads only their
// entries, through the hub's per-symbol chains, so its work follows its
// own symbols' ticks and the ticks of other symbols can never lap it.
// More than MergeAfter pending entries of its own are merged.
func (c *client) pumpSymbols(head uint64) error {
	merging, err := c.pending(head, c.g.opts.MergeAfter)
	if err != nil {
		return err
	}
	if c.wakes++; c.wakes%8 == 1 {
		n := len(c.pend)
		if merging {
			n = c.g.opts.MergeAfter + 1 // at least
		}
		c.g.m.backlog.Observe(float64(n)) // sampled: 1 wake-up in 8
	}
	if merging {
		c.advance(head)
		return c.emitMerged()
	}
	c.grab()
	for _, pos := range c.pend {
		e := c.h.at(pos)
		if e == nil {
			return errLapped
		}
		c.appendEntry(e)
		c.lastSeq = e.seq
		if len(c.buf) >= flushSize {
			c.cursor = pos // every entry of c's symbols up to pos is sent
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	c.pend = c.pend[:0]
	c.cursor = head
	return c.flush()
}

// pending walks the chains of c's symbols from their newest entry back
// to the cursor and puts the positions in (cursor, head] in c.pend, in
// ascending order. Once there are more than limit of them (limit < 0:
// from the first) it folds them, and every older one, into the
// accumulators instead, leaves c.pend empty and reports true. An entry
// of c's symbols that was overwritten before c read it is errLapped.
func (c *client) pending(head uint64, limit int) (folded bool, err error) {
	c.pend = c.pend[:0]
	folded = limit < 0
	for _, last := range c.symLast {
		for p := last.Load(); p > c.cursor; {
			e := c.h.at(p)
			if e == nil {
				c.pend = c.pend[:0]
				return folded, errLapped
			}
			if p <= head && e.mask&c.kinds != 0 { // an event type c wants
				if folded {
					c.foldEntry(e)
				} else if c.pend = append(c.pend, p); len(c.pend) > limit {
					folded = true
					for _, q := range c.pend {
						e := c.h.at(q)
						if e == nil {
							c.pend = c.pend[:0]
							return folded, errLapped
						}
						c.foldEntry(e)
					}
					c.pend = c.pend[:0]
				}
			}
			p = e.prev
		}
	}
	if !folded {
		slices.Sort(c.pend)
	}
	return folded, nil
}

// backlog is how many events a client of every symbol has pending up to
// head, for MergeAfter: for a client of ticks and trades only, the tick
// entries (the ring also holds quotes, bars, ..., which it skips); for
// others, every entry.
func (c *client) backlog(head uint64) uint64 {
	n := head - c.cursor
	if c.kinds&^kTickTrade != 0 {
		return n
	}
	eh := c.h.at(head)
	if eh == nil {
		return n
	}
	if c.cursor == 0 {
		return eh.ticks
	}
	if ec := c.h.at(c.cursor); ec != nil {
		return eh.ticks - ec.ticks
	}
	return n // lapped: the read finds out
}
