// events.go holds what differs per event type: the type bits, how a
// stream message becomes a hub entry (eventEntry), how an entry is
// rendered for a client (appendEntry, tradeFrame) and folded into its
// pending merge (foldEntry). The merge's encoding is in merge.go and
// book.go, the snapshot's in snapshot.go, the query's names in query.go.

package gateway

import (
	"bytes"
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

// typeBits maps the names ?events= takes to their type bits.
var typeBits = map[string]uint8{"tick": kTick, "trade": kTrade, "quote": kQuote, "bar": kBars, "status": kStatus, "book": kBook}

// barBit is the type bit of bars of interval iv (market.Interval1s or
// market.Interval1m).
func barBit(iv string) uint8 {
	if iv == market.Interval1m {
		return kBar1m
	}
	return kBar1s
}

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

// eventEntry decodes a message of another event type into a hub entry
// (its frame encoded once); ok false for one the gateway does not know
// or cannot decode.
//
// With an arena (the hub's ring), the entry, its frame and its decoded
// quote or book come from the arena's blocks; with nil, each is
// allocated on its own.
func eventEntry(epoch string, m *feed.Msg, a *arena) (e *entry, sym string, ok bool) {
	var kind, mask uint8
	var wall int64
	var q *market.Quote
	var clk *market.Clock
	var bk *bookEnt
	var name string
	js, frame := a.scratch(len(m.Data) + 16)
	switch s := m.Subject; {
	case strings.HasPrefix(s, feed.QuoteSubjectPrefix):
		d, err := market.DecodeQuote(m.Data)
		if err != nil {
			return nil, "", false
		}
		q = a.quote(d)
		kind, mask, wall = entQuote, kQuote, d.Time.UnixNano()
		name, sym, js = "quote", d.Symbol, d.AppendJSON(js)
	case strings.HasPrefix(s, feed.BarSubjectPrefix):
		b, err := market.DecodeBar(m.Data)
		if err != nil {
			return nil, "", false
		}
		kind, mask, wall = entBar, barBit(b.Interval), b.End.UnixNano()
		name, sym, js = "bar", b.Symbol, b.AppendJSON(js)
	case strings.HasPrefix(s, feed.StatusSubjectPrefix):
		st, err := market.DecodeStatus(m.Data)
		if err != nil {
			return nil, "", false
		}
		kind, mask, wall = entStatus, kStatus, st.Time.UnixNano()
		name, sym, js = "status", st.Symbol, st.AppendJSON(js)
	case s == feed.ClockSubject:
		k, err := market.DecodeClock(m.Data)
		if err != nil {
			return nil, "", false
		}
		kind, mask, wall, clk = entClock, kStatus, k.Time.UnixNano(), &k
		name, sym, js = "clock", clockSym, k.AppendJSON(js)
	case strings.HasPrefix(s, feed.BookSubjectPrefix):
		b, err := market.DecodeBook(m.Data)
		if err != nil {
			return nil, "", false
		}
		bk = a.book(b)
		kind, mask, wall = entBook, kBook, b.Time.UnixNano()
		name, sym, js = "book", b.Symbol, b.AppendJSON(js)
	default:
		return nil, "", false
	}
	frame = sse.AppendNamed(frame, name, epoch, m.Seq, js)
	e = a.entry()
	e.seq, e.kind, e.mask, e.wall, e.q, e.clk, e.bk = m.Seq, kind, mask, wall, q, clk, bk
	e.frame = a.keep(js, frame)
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

// foldEntry adds an entry c wants to its pending merge.
func (c *client) foldEntry(e *entry) {
	switch e.kind {
	case entTick:
		c.foldTick(e.sym, e.seq, &e.tick)
	case entQuote:
		c.foldQuote(e.sym, e.seq, e.q)
	case entBook:
		c.foldBook(e)
	default:
		c.keepEntry(e)
	}
}

// foldTick adds a tick message (an entry's, or one read from history)
// to the pending merge: as a tick, a trade, or both, as c wants.
func (c *client) foldTick(sym int, seq uint64, t *market.Tick) {
	if c.kinds&kTick != 0 {
		c.fold(sym, seq, t)
	}
	if c.kinds&kTrade != 0 {
		c.foldTrade(sym, seq, t)
	}
}

// appendTickMsg appends a tick message that has no shared frame (one
// read from history) as appendEntry would an entry's: its tick, its
// trade, or both, the tick then with the id before it
// (appendTickBeforeTrade). js is scratch, returned for reuse.
func (c *client) appendTickMsg(seq uint64, t *market.Tick, js []byte) []byte {
	if c.kinds&kTick != 0 {
		id := seq
		if c.kinds&kTrade != 0 {
			id-- // the trade follows with seq (appendTickBeforeTrade)
		}
		js = t.AppendJSON(js[:0])
		c.buf = sse.AppendTick(c.buf, c.h.epoch, id, js)
		c.nEvents++
	}
	if c.kinds&kTrade != 0 {
		js = appendTradeJSON(js[:0], t)
		c.buf = sse.AppendNamed(c.buf, "trade", c.h.epoch, seq, js)
		c.nEvents++
	}
	return js
}

// eventName is each entry kind's SSE event name.
var eventName = [...]string{entTick: "tick", entQuote: "quote", entBar: "bar", entStatus: "status", entClock: "clock", entBook: "book"}
