// join.go: how a client joins the hub (registers to be woken and reads
// from a position), as one operation under the hub's lock each, so a
// client never misses an entry appended between choosing its position
// and registering. Part of the hub (hub.go).

package gateway

import "time"

// joinAfter joins c to read every entry after stream sequence seq, if
// the ring covers it. covered false: it does not, and behind is how far
// seq is behind the hub's last sequence. errEpoch: the hub is closed.
func (h *hub) joinAfter(c *client, seq uint64) (covered bool, behind uint64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	pos, ok := h.positionAfterLocked(seq)
	if !ok {
		return false, h.lastSeq - seq, nil
	}
	c.cursor, c.lastSeq = pos, seq
	if !h.registerLocked(c) {
		return true, 0, errEpoch
	}
	return true, 0, nil
}

// joinAtHead joins c at the hub's head and appends its snapshot event
// to c.buf, read together. errEpoch: the hub is closed.
func (h *hub) joinAtHead(c *client) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.cursor, c.lastSeq = h.head.Load(), h.lastSeq
	c.buf = h.appendSnapshotLocked(c.buf, c)
	if !h.registerLocked(c) {
		return errEpoch
	}
	return nil
}

// joinAt joins c at the first entry of wall time t or later in stream
// order, if the ring covers t (see positionAtLocked). errEpoch: the hub
// is closed.
func (h *hub) joinAt(c *client, t time.Time) (covered bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	pos, seq, ok := h.positionAtLocked(t)
	if !ok {
		return false, nil
	}
	c.cursor, c.lastSeq = pos, seq
	if !h.registerLocked(c) {
		return true, errEpoch
	}
	return true, nil
}

// joinCatchUp joins c for a catch-up from history that has read up to
// stream sequence from, leaving c.lastSeq to the catch-up. If the ring
// covers from, c joins right after it (readTo 0). Else, if the ring
// holds no block boundary after from (a ring smaller than a block), c
// joins at the head now, so nothing appended meanwhile is missed, and
// must read history (from, readTo], up to the hub's last sequence. Else
// c does not join yet: it reads history up to readTo, the newest block
// boundary, and tries again. errEpoch: the hub is closed.
func (h *hub) joinCatchUp(c *client, from uint64) (joined bool, readTo uint64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if pos, ok := h.positionAfterLocked(from); ok {
		c.cursor = pos
		if !h.registerLocked(c) {
			return false, 0, errEpoch
		}
		return true, 0, nil
	}
	last := h.lastSeq
	q := last / blockSeqs * blockSeqs
	if _, ok := h.positionAfterLocked(q); q <= from || !ok {
		c.cursor = h.head.Load()
		if !h.registerLocked(c) {
			return false, 0, errEpoch
		}
		return true, last, nil
	}
	return false, q, nil
}
