// events.go is over 400 lines: the event types' parsing, encoding,
// merging and snapshot are kept together, so one file shows everything
// that differs per type.

package gateway

import (
	"bytes"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// Event types (docs/events-design.md). Every message of the one stream
// is a hub entry; its kind bits say which event types it is sent as, and
// a client's kinds say which it wants: an entry is sent to a client when
// they share a bit (and the symbol is wanted). A tick message is both a
// tick and a trade (two renderings); status also takes the market clock.
const (
	kTick   uint8 = 1 << iota // ticks.<SYM> as event: tick
	kTrade                    // ticks.<SYM> as event: trade
	kQuote                    // quotes.<SYM>
	kBar1s                    // bars.<SYM>.1s
	kBar1m                    // bars.<SYM>.1m
	kStatus                   // status.<SYM> and market.clock (event: clock)
	kBook                     // books.<SYM> (book.go)

	kBars      = kBar1s | kBar1m
	kTickTrade = kTick | kTrade
	// kMemoryOnly: types a block summary's per-message tail (blockTail,
	// ticks only) cannot fold: a catch-up of a client of them that
	// starts inside a block reads the rest of that block raw.
	kMemoryOnly = kQuote | kBars | kStatus | kBook
)

// Entry kinds: what a stream message is.
const (
	entTick uint8 = iota
	entQuote
	entBar
	entStatus
	entClock
	entBook
)

// clockSym is the hub's symbol index key of market.clock: not a valid
// symbol, so it cannot clash with one. Clients of some symbols that
// want status follow its chain too.
const clockSym = feed.ClockSubject

// parseEventTypes reads events= (comma-separated; default "tick") and bars=
// (the bar intervals, default both when bar is asked for). Unknown
// names are a 400.
func parseEventTypes(r *http.Request) (uint8, error) {
	q := r.URL.Query()
	ev, bars := q.Get("events"), q.Get("bars")
	if ev == "" {
		if bars != "" {
			return 0, badRequest("bars= needs events= with bar")
		}
		return kTick, nil
	}
	var k uint8
	for _, s := range strings.Split(ev, ",") {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "tick":
			k |= kTick
		case "trade":
			k |= kTrade
		case "quote":
			k |= kQuote
		case "bar":
			k |= kBars
		case "status":
			k |= kStatus
		case "book":
			k |= kBook
		case "":
		default:
			return 0, badRequest("unknown event type %q: want tick, trade, quote, bar, status or book", cut(s))
		}
	}
	if k == 0 {
		return 0, badRequest("events= names no event type: want tick, trade, quote, bar, status or book")
	}
	if bars != "" {
		if k&kBars == 0 {
			return 0, badRequest("bars= needs events= with bar")
		}
		k &^= kBars
		for _, s := range strings.Split(bars, ",") {
			switch strings.TrimSpace(s) {
			case market.Interval1s:
				k |= kBar1s
			case market.Interval1m:
				k |= kBar1m
			case "":
			default:
				return 0, badRequest("unknown bar interval %q: want 1s or 1m", cut(s))
			}
		}
		if k&kBars == 0 {
			return 0, badRequest("bars= names no interval: want 1s or 1m")
		}
	}
	return k, nil
}

// parseFrom reads from= (RFC 3339); zero when absent.
func parseFrom(r *http.Request) (time.Time, error) {
	v := r.URL.Query().Get("from")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest("invalid from %q: want an RFC 3339 time such as 2026-11-23T14:30:00Z", cut(v))
	}
	return t, nil
}

func cut(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// eventEntry decodes a message of another event type into a hub entry
// (its frame encoded once); ok false for one the gateway does not know
// or cannot decode.
func eventEntry(epoch string, m *feed.Msg) (e *entry, sym string, ok bool) {
	e = &entry{seq: m.Seq}
	var name string
	var js []byte
	switch s := m.Subject; {
	case strings.HasPrefix(s, feed.QuoteSubjectPrefix):
		q, err := market.DecodeQuote(m.Data)
		if err != nil {
			return nil, "", false
		}
		e.kind, e.mask, e.wall, e.q = entQuote, kQuote, q.Time.UnixNano(), &q
		name, sym, js = "quote", q.Symbol, q.AppendJSON(make([]byte, 0, len(m.Data)+16))
	case strings.HasPrefix(s, feed.BarSubjectPrefix):
		b, err := market.DecodeBar(m.Data)
		if err != nil {
			return nil, "", false
		}
		e.kind, e.mask, e.wall = entBar, kBar1s, b.End.UnixNano()
		if b.Interval == market.Interval1m {
			e.mask = kBar1m
		}
		name, sym, js = "bar", b.Symbol, b.AppendJSON(make([]byte, 0, len(m.Data)+16))
	case strings.HasPrefix(s, feed.StatusSubjectPrefix):
		st, err := market.DecodeStatus(m.Data)
		if err != nil {
			return nil, "", false
		}
		e.kind, e.mask, e.wall = entStatus, kStatus, st.Time.UnixNano()
		name, sym, js = "status", st.Symbol, st.AppendJSON(make([]byte, 0, len(m.Data)+16))
	case s == feed.ClockSubject:
		k, err := market.DecodeClock(m.Data)
		if err != nil {
			return nil, "", false
		}
		e.kind, e.mask, e.wall, e.clk = entClock, kStatus, k.Time.UnixNano(), &k
		name, sym, js = "clock", clockSym, k.AppendJSON(make([]byte, 0, len(m.Data)+16))
	case strings.HasPrefix(s, feed.BookSubjectPrefix):
		b, err := market.DecodeBook(m.Data)
		if err != nil {
			return nil, "", false
		}
		e.kind, e.mask, e.wall, e.bk = entBook, kBook, b.Time.UnixNano(), &bookEnt{b: b}
		name, sym, js = "book", b.Symbol, b.AppendJSON(make([]byte, 0, len(m.Data)+16))
	default:
		return nil, "", false
	}
	e.frame = sse.AppendNamed(make([]byte, 0, len(js)+48), name, epoch, m.Seq, js)
	e.js = e.frame[len(e.frame)-2-len(js) : len(e.frame)-2]
	return e, sym, true
}

// appendTradeJSON appends t rendered as a trade: symbol, seq, time,
// marketTime, price, size, conditions, side, and for a merged one
// merged, high and low.
func appendTradeJSON(dst []byte, t *market.Tick) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = strconv.AppendQuote(dst, t.Symbol)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, t.Seq, 10)
	dst = append(dst, `,"time":"`...)
	dst = t.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	if !t.MarketTime.IsZero() {
		dst = append(dst, `,"marketTime":"`...)
		dst = t.MarketTime.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"price":`...)
	dst = strconv.AppendFloat(dst, t.Price, 'f', -1, 64)
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, t.Size, 10)
	if t.Conditions != "" {
		c, _ := t.Conditions.MarshalJSON()
		dst = append(dst, `,"conditions":`...)
		dst = append(dst, c...)
	}
	if t.Side != "" {
		dst = append(dst, `,"side":"`...)
		dst = append(dst, t.Side...)
		dst = append(dst, '"')
	}
	if t.Merged != 0 {
		dst = append(dst, `,"merged":`...)
		dst = strconv.AppendInt(dst, t.Merged, 10)
		dst = append(dst, `,"high":`...)
		dst = strconv.AppendFloat(dst, t.High, 'f', -1, 64)
		dst = append(dst, `,"low":`...)
		dst = strconv.AppendFloat(dst, t.Low, 'f', -1, 64)
	}
	return append(dst, '}')
}

// tradeFrame returns the entry's trade frame (a tick entry), encoded
// once on first use: a feed with no trade client never pays for it.
func (h *hub) tradeFrame(e *entry) []byte {
	if f := e.trade.Load(); f != nil {
		return *f
	}
	js := appendTradeJSON(make([]byte, 0, 160), &e.tick)
	f := sse.AppendNamed(make([]byte, 0, len(js)+48), "trade", h.epoch, e.seq, js)
	e.trade.Store(&f)
	return f
}

// appendEntry appends what c wants of e (the caller checked that c wants
// its symbol and shares a kind bit).
func (c *client) appendEntry(e *entry) {
	if e.kind == entBook {
		c.buf = append(c.buf, c.h.bookFrame(e, c.bk.depth)...)
		c.nEvents++
		return
	}
	if e.kind != entTick {
		c.buf = append(c.buf, e.frame...)
		c.nEvents++
		return
	}
	switch c.kinds & kTickTrade {
	case kTick:
		c.buf = append(c.buf, e.frame...)
	case kTrade:
		c.buf = append(c.buf, c.h.tradeFrame(e)...)
	default:
		c.buf = appendTickBeforeTrade(c.buf, c.h.epoch, e)
		c.buf = append(c.buf, c.h.tradeFrame(e)...)
		c.nEvents++
	}
	c.nEvents++
}

// appendTickBeforeTrade appends e's tick frame with the id of the
// position before it (e.seq-1), for a client that gets its trade too:
// the trade, which follows, carries e's own id, so a client cut between
// the two resumes from the tick's id and gets both again (the repeated
// tick is an overlap the contract allows) instead of losing the trade.
// Ids still never decrease: whatever the client got before is at or
// before e.seq-1.
func appendTickBeforeTrade(dst []byte, epoch string, e *entry) []byte {
	const head = "event: tick\nid: "
	rest := e.frame[len(head)+len(epoch)+1:] // the sequence, then "\ndata: ..."
	dst = append(dst, head...)
	dst = sse.AppendID(dst, epoch, e.seq-1)
	return append(dst, rest[bytes.IndexByte(rest, '\n'):]...)
}

// quoteAcc accumulates one symbol's pending quotes: the newest, and how
// many.
type quoteAcc struct {
	n                 int64
	firstSeq, lastSeq uint64
	last              *market.Quote
}

func (a *quoteAcc) add(seq uint64, q *market.Quote) {
	if a.n == 0 || seq < a.firstSeq {
		a.firstSeq = seq
	}
	if a.n == 0 || seq >= a.lastSeq {
		a.lastSeq, a.last = seq, q
	}
	a.n += max(q.Merged, 1)
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

// foldEntry adds an entry c wants to its pending merge.
func (c *client) foldEntry(e *entry) {
	switch e.kind {
	case entTick:
		if c.kinds&kTick != 0 {
			c.fold(e.sym, e.seq, &e.tick)
		}
		if c.kinds&kTrade != 0 {
			c.foldTrade(e.sym, e.seq, &e.tick)
		}
	case entQuote:
		if e.sym >= len(c.qacc) {
			c.qacc = append(c.qacc, make([]quoteAcc, e.sym+1-len(c.qacc))...)
		}
		a := &c.qacc[e.sym]
		if a.n == 0 {
			c.qactive = append(c.qactive, e.sym)
		}
		a.add(e.seq, e.q)
	case entBook:
		c.foldBook(e)
	default:
		c.keep = append(c.keep, e)
	}
}

// foldTrade adds a tick to symbol sym's trade accumulator.
func (m *merger) foldTrade(sym int, seq uint64, t *market.Tick) {
	if sym >= len(m.tacc) {
		m.tacc = append(m.tacc, make([]mergeAcc, sym+1-len(m.tacc))...)
	}
	a := &m.tacc[sym]
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

// clockIndex returns the hub's symbol index of the market clock.
func (h *hub) clockIndex() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.symbolLocked(clockSym)
}

// positionAtLocked returns the ring position after which the first
// entry of wall time t or later in stream order lies (head if none),
// with the sequence just before it, and whether the ring covers t: it
// holds an entry before t, or everything the stream held since
// startSeq. It searches entry.upTo, which never decreases: wall times
// themselves do not follow stream order. Under h.mu.
func (h *hub) positionAtLocked(t time.Time) (pos, seq uint64, ok bool) {
	head := h.head.Load()
	ts := t.UnixNano()
	n, margin := uint64(len(h.ring)), uint64(len(h.ring)/8)
	oldest := uint64(1)
	if head+margin+1 > n {
		oldest = head + margin + 1 - n
	}
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
