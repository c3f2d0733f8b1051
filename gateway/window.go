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
}

// window is a merged window, encoded.
type window struct {
	frames         []byte
	events, merged int
	lastSeq        uint64
}

// windowCache holds recent windows. Bound: maxWindows entries; the oldest
// are dropped first.
type windowCache struct {
	mu    sync.Mutex
	m     map[windowKey]*window
	order []windowKey
}

const maxWindows = 4096

func (wc *windowCache) get(k windowKey) *window {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return wc.m[k]
}

func (wc *windowCache) put(k windowKey, w *window) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.m == nil {
		wc.m = map[windowKey]*window{}
	}
	if _, ok := wc.m[k]; ok {
		return
	}
	if len(wc.order) >= maxWindows {
		n := maxWindows / 4
		for _, old := range wc.order[:n] {
			delete(wc.m, old)
		}
		wc.order = append(wc.order[:0], wc.order[n:]...)
	}
	wc.m[k] = w
	wc.order = append(wc.order, k)
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
	if len(c.active) > 0 || end == c.cursor {
		// Ticks folded earlier (a replay, or a long window) make this
		// client's window its own.
		if err := c.collect(end); err != nil {
			return err
		}
		return c.emitMerged()
	}
	if c.key == "" {
		c.key = c.symKey()
	}
	k := windowKey{throttle: c.throttle, from: c.cursor, to: end, syms: c.key}
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
	d = max(d, 10*time.Millisecond)
	return t.Truncate(d).Add(d)
}
