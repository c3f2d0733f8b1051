// ring.go: positions in the hub's ring, from a stream sequence or a
// time. Part of the hub (hub.go): the *Locked ones run under h.mu.

package gateway

import (
	"sort"
	"time"
)

// at returns the entry at pos, or nil if it was overwritten (the reader
// fell more than the ring's length behind) or not written yet.
func (h *hub) at(pos uint64) *entry {
	e := h.ring[pos&h.mask].Load()
	if e == nil || e.pos != pos {
		return nil
	}
	return e
}

// oldestStart returns the oldest position a client may start reading
// from, with head: entries within a margin (an eighth of the ring) of
// being overwritten are left out, as the hub may overwrite them while
// the client starts reading. It may exceed head (a ring of one).
func (h *hub) oldestStart() (oldest, head uint64) {
	head = h.head.Load()
	n, margin := uint64(len(h.ring)), uint64(len(h.ring)/8)
	oldest = 1
	if head+margin+1 > n {
		oldest = head + margin + 1 - n
	}
	return oldest, head
}

// positionAfterLocked returns the ring position after which every tick
// with stream sequence > seq lies, and whether the ring covers seq.
func (h *hub) positionAfterLocked(seq uint64) (uint64, bool) {
	oldest, head := h.oldestStart()
	if seq >= h.lastSeq {
		return head, true
	}
	if oldest > head {
		oldest = head
	}
	coverFrom := h.startSeq
	if e := h.at(oldest); e != nil && oldest > 1 {
		coverFrom = e.seq - 1
	}
	if head == 0 || seq < coverFrom {
		return 0, false
	}
	// First position in [oldest, head] whose seq > seq.
	k := sort.Search(int(head-oldest+1), func(k int) bool {
		e := h.at(oldest + uint64(k))
		return e == nil || e.seq > seq
	})
	return oldest + uint64(k) - 1, true
}

// positionBefore returns the last ring position in (from, head] whose
// entry the hub appended before t (from if none). Entries appended after
// a client's timer fired carry a later time, so every client asking about
// the same instant gets the same answer.
func (h *hub) positionBefore(t time.Time, from uint64) (uint64, error) {
	head := h.head.Load()
	if head <= from {
		return from, nil
	}
	ts := int64(t.Sub(monoBase))
	var lapped bool
	k := sort.Search(int(head-from), func(k int) bool {
		e := h.at(from + 1 + uint64(k))
		if e == nil {
			lapped = true
			return true
		}
		return e.at >= ts
	})
	if lapped {
		return 0, errLapped
	}
	return from + uint64(k), nil
}

// positionAtLocked returns the ring position after which the first
// entry of wall time t or later in stream order lies (head if none),
// with the sequence just before it, and whether the ring covers t: it
// holds an entry before t, or everything the stream held since
// startSeq. It searches entry.upTo, which never decreases: wall times
// themselves do not follow stream order. Under h.mu.
func (h *hub) positionAtLocked(t time.Time) (pos, seq uint64, ok bool) {
	oldest, head := h.oldestStart()
	ts := t.UnixNano()
	if head == 0 || oldest > head {
		return 0, 0, false // the feed knows whether the stream holds t
	}
	k := sort.Search(int(head-oldest+1), func(k int) bool {
		e := h.at(oldest + uint64(k))
		return e == nil || e.upTo >= ts
	})
	pos = oldest + uint64(k) - 1
	if pos < oldest {
		// t is at or before the oldest entry the ring holds: the feed
		// knows whether the stream holds t (from its start, if nothing
		// left it and t is after it was created; an earlier incarnation
		// of the stream may have held an earlier t).
		return 0, 0, false
	}
	e := h.at(pos)
	if e == nil {
		return 0, 0, false
	}
	return pos, e.seq, true
}

// barsResume returns the stream sequence from which a client that
// holds the bars of symbol sym and interval mask up to one ending
// at newest (zero: none) continues with nothing missed or doubled: just
// before the oldest such bar the ring holds that ends after newest, or
// the hub's last sequence if the ring holds none. It is read after the
// bar history, so a bar on its way into <stream>_BARS (in the ring, not
// yet in the history) comes in the stream, and it never takes a
// returned bar's own sequence, which after the stream was recreated may
// be a position of the earlier stream (_BARS keeps a week). Bars older
// than the ring that were not in the history either are not looked for;
// handleBars first lets the hub catch up with the stream, and only when
// this gateway's tail lags it by more than aheadWait does a bar returned
// that it has not read yet come again in the stream.
func (h *hub) barsResume(symbol string, mask uint8, newest time.Time) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	seq := h.lastSeq
	sym, known := h.symIndex[symbol]
	if !known || sym >= len(h.symLast) {
		return seq
	}
	after := newest.UnixNano()
	for p := h.symLast[sym].Load(); p > 0; {
		e := h.at(p)
		if e == nil {
			break // older than the ring
		}
		if e.kind == entBar && e.mask == mask {
			if !newest.IsZero() && e.wall <= after {
				break // the client holds it and everything before
			}
			seq = e.seq - 1
		}
		p = e.prev
	}
	return seq
}
