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
