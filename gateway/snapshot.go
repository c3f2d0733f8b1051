// snapshot.go: the snapshot event, from the hub's newest message of each
// symbol and type. Every function here runs under h.mu or takes it.

package gateway

import (
	"slices"
	"sort"
	"strings"

	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// appendSnapshotLocked appends c's snapshot event: the newest tick of
// each wanted symbol as today, and, for the other types c wants, the
// newest quote, bar (per interval), status and the clock. Under h.mu.
func (h *hub) appendSnapshotLocked(dst []byte, c *client) []byte {
	if c.kinds == kTick {
		return appendSnapshot(dst, h.epoch, h.lastSeq, h.snapshotLocked(&c.filter))
	}
	dst = append(dst, "event: snapshot\nid: "...)
	dst = sse.AppendID(dst, h.epoch, h.lastSeq)
	dst = append(dst, "\ndata: {"...)
	sep := ""
	list := func(name string, l []*entry, tick bool) {
		dst = append(dst, sep...)
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, `":[`...)
		sep = ","
		n := 0
		for _, i := range h.snapshotOrderLocked(&c.filter) {
			e := l[i]
			if e == nil {
				continue
			}
			if n++; n > 1 {
				dst = append(dst, ',')
			}
			if tick {
				dst = e.tick.AppendJSON(dst)
			} else {
				dst = append(dst, e.js...)
			}
		}
		dst = append(dst, ']')
	}
	if c.kinds&kTickTrade != 0 {
		list("ticks", h.latest, true)
	} else {
		dst, sep = append(dst, `"ticks":[]`...), "," // always there, as before
	}
	if c.kinds&kQuote != 0 {
		list("quotes", h.latestQ, false)
	}
	if c.kinds&kBars != 0 {
		// bars: the newest of each symbol and wanted interval.
		dst = append(dst, sep...)
		dst = append(dst, `"bars":[`...)
		sep = ","
		n := 0
		for _, i := range h.snapshotOrderLocked(&c.filter) {
			for _, iv := range [...]struct {
				k uint8
				l []*entry
			}{{kBar1s, h.latestBar1s}, {kBar1m, h.latestBar1m}} {
				if e := iv.l[i]; e != nil && c.kinds&iv.k != 0 {
					if n++; n > 1 {
						dst = append(dst, ',')
					}
					dst = append(dst, e.js...)
				}
			}
		}
		dst = append(dst, ']')
	}
	if c.kinds&kStatus != 0 {
		list("statuses", h.latestSt, false)
		if h.latestClock != nil {
			dst = append(dst, `,"clock":`...)
			dst = append(dst, h.latestClock.js...)
		}
	}
	if c.kinds&kBook != 0 {
		dst = h.appendSnapshotBooksLocked(dst, c)
	}
	return append(dst, "}\n\n"...)
}

// snapshotOrderLocked returns the symbol indexes f wants, by symbol
// name. Under h.mu.
func (h *hub) snapshotOrderLocked(f *filter) []int {
	var idx []int
	if f.all {
		idx = make([]int, len(h.symNames))
		for i := range idx {
			idx[i] = i
		}
	} else {
		idx = slices.Clone(f.symIdx)
	}
	idx = slices.DeleteFunc(idx, func(i int) bool { return h.symNames[i] == clockSym })
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(h.symNames[a], h.symNames[b]) })
	return idx
}

// snapshotLocked returns the newest tick of each wanted symbol.
func (h *hub) snapshotLocked(f *filter) []market.Tick {
	var out []market.Tick
	if f.all {
		for _, e := range h.latest {
			if e != nil {
				out = append(out, e.tick)
			}
		}
	} else {
		for _, i := range f.symIdx {
			if e := h.latest[i]; e != nil {
				out = append(out, e.tick)
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Symbol < out[b].Symbol })
	return out
}

// snapshot returns the newest tick of each symbol f wants (see
// snapshotLocked) and the id of the newest tick the hub holds, read
// together.
func (h *hub) snapshot(f *filter) (ticks []market.Tick, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.snapshotLocked(f), sse.FormatID(h.epoch, h.lastSeq)
}

// marketState returns GET /v1/market's state: a copy of the newest
// clock (nil before the first) and the newest status event of each
// symbol, by symbol name, as JSON.
func (h *hub) marketState() (clock *market.Clock, statuses [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.latestClock; e != nil {
		k := *e.clk
		clock = &k
	}
	for _, i := range h.snapshotOrderLocked(&filter{all: true}) {
		if e := h.latestSt[i]; e != nil {
			statuses = append(statuses, e.js)
		}
	}
	return clock, statuses
}

// appendSnapshotBooksLocked appends a snapshot's "books": the newest
// book of each symbol c wants, at its depth. Under h.mu.
func (h *hub) appendSnapshotBooksLocked(dst []byte, c *client) []byte {
	dst = append(dst, `,"books":[`...)
	n := 0
	for _, i := range h.snapshotOrderLocked(&c.filter) {
		e := h.latestB[i]
		if e == nil {
			continue
		}
		if n++; n > 1 {
			dst = append(dst, ',')
		}
		top := e.bk.b.Top(c.bk.depth)
		dst = top.AppendJSON(dst)
	}
	return append(dst, ']')
}
