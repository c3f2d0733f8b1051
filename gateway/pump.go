package gateway

// pump sends everything the ring holds past the cursor: each tick's
// shared frame, or, when the client is far behind, one merged event per
// symbol.
func (c *client) pump() error {
	head := c.h.head.Load()
	if head <= c.cursor {
		return c.flush() // whatever a resume left in the buffer
	}
	c.grab()
	if c.wakes++; c.wakes%8 == 1 {
		c.g.m.backlog.Observe(float64(head - c.cursor)) // sampled: 1 wake-up in 8
	}
	if head-c.cursor > uint64(c.g.opts.MergeAfter) {
		if err := c.collect(head); err != nil {
			return err
		}
		return c.emitMerged()
	}
	events := 0
	for pos := c.cursor + 1; pos <= head; pos++ {
		e := c.h.at(pos)
		if e == nil {
			return errLapped
		}
		if c.wants(e.sym) {
			c.buf = append(c.buf, e.frame...)
			c.lastSeq = e.seq
			events++
			if len(c.buf) >= flushSize {
				c.cursor = pos
				c.nEvents += events
				events = 0
				if err := c.flush(); err != nil {
					return err
				}
			}
		}
	}
	c.cursor = head
	c.nEvents += events
	return c.flush()
}
