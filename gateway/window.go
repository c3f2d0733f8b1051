package gateway

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Throttled clients emit on a shared clock: at each multiple of their
// interval, every tick the hub appended before that instant is merged
// per symbol. Two clients with the same interval, the same symbols and
// the same cursor therefore send byte-identical events, and the first to
// get there encodes them for all: a window is merged and encoded once
// per distinct (interval, symbols, range), not once per client.

// windowKey identifies one merged window.
type windowKey struct {
	throttle time.Duration
	from, to uint64 // ring positions: after from, up to and including to
	syms     string // "*" or the sorted symbol indexes
	kinds    uint8  // the event types
}

// window is a merged window, encoded.
type window struct {
	frames         []byte
	events, merged int
	lastSeq        uint64
}

// windowCache holds recent windows. Bound: maxWindowBytes, counting each
// window's frames, its key's symbol list and windowOverhead; the oldest
// windows are dropped first, and a window larger than the bound is not
// kept. A window is only ever reused within its own boundary (the keys
// hold ring positions), so a small cache loses nothing.
type windowCache struct {
	mu     sync.Mutex
	m      map[windowKey]*window
	order  []windowKey // insertion order; order[oldest:] are in m
	oldest int
	bytes  int
}

const (
	maxWindowBytes = 8 << 20
	windowOverhead = 160 // map entry, key, window struct and order slot, roughly
)

func windowCost(k windowKey, w *window) int { return len(w.frames) + len(k.syms) + windowOverhead }

func (wc *windowCache) get(k windowKey) *window {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return wc.m[k]
}

func (wc *windowCache) put(k windowKey, w *window) {
	cost := windowCost(k, w)
	if cost > maxWindowBytes {
		return
	}
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.m == nil {
		wc.m = map[windowKey]*window{}
	}
	if _, ok := wc.m[k]; ok {
		return
	}
	for wc.bytes+cost > maxWindowBytes && wc.oldest < len(wc.order) {
		old := wc.order[wc.oldest]
		wc.order[wc.oldest] = windowKey{}
		wc.oldest++
		wc.bytes -= windowCost(old, wc.m[old])
		delete(wc.m, old)
	}
	if wc.oldest > len(wc.order)/2 { // compact: amortised O(1) a put
		wc.order = append(wc.order[:0], wc.order[wc.oldest:]...)
		wc.oldest = 0
	}
	wc.m[k] = w
	wc.order = append(wc.order, k)
	wc.bytes += cost
}

// symKey is the client's symbol set as a cache key part.
func (c *client) symKey() string {
	if c.all {
		return "*"
	}
	idx := append([]int(nil), c.symIdx...)
	sort.Ints(idx)
	var b strings.Builder
	for i, x := range idx {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(x))
	}
	return b.String()
}

// emitWindow sends the window that ends at boundary t: from the cache
// when another client with the same interval, symbols and cursor has
// already built it.
func (c *client) emitWindow(t time.Time) error {
	end, err := c.h.positionBefore(t, c.cursor)
	if err != nil {
		return err
	}
	if c.pendingMerge() || end == c.cursor {
		// Ticks folded earlier (a replay, or a long window) make this
		// client's window its own.
		if err := c.collect(end); err != nil {
			return err
		}
		return c.emitMerged()
	}
	if c.key == "" {
		c.key = c.symKey()
		if c.kinds&kBook != 0 {
			c.key += "/" + strconv.Itoa(c.bk.depth) // books are cut to the depth
		}
	}
	k := windowKey{throttle: c.throttle, from: c.cursor, to: end, syms: c.key, kinds: c.kinds}
	if w := c.h.windows.get(k); w != nil {
		c.g.m.windowHits.Inc()
		c.grab()
		c.buf = append(c.buf, w.frames...)
		c.cursor, c.lastSeq = end, max(c.lastSeq, w.lastSeq)
		c.nEvents += w.events
		c.g.m.mergedTicks.Add(float64(w.merged))
		return c.flush()
	}
	if err := c.collect(end); err != nil {
		return err
	}
	c.grab()
	start := len(c.buf)
	events, merged := c.encodeMerged()
	c.h.windows.put(k, &window{frames: append([]byte(nil), c.buf[start:]...), events: events, merged: merged, lastSeq: c.lastSeq})
	return c.flush()
}

// nextBoundary is the first multiple of d (since the Unix epoch) after t:
// every client with the same throttle emits on the same clock.
func nextBoundary(t time.Time, d time.Duration) time.Time {
	d = max(d, MinThrottle)
	return t.Truncate(d).Add(d)
}
