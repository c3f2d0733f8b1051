// The hub: hub.go (the structure, append, the wake lists), ring.go
// (positions), join.go (clients joining) and snapshot.go (snapshots and
// the market state). The ring, its per-symbol chains, the wake lists
// and the newest entry of each kind are one structure under one lock:
// only these files take h.mu or call a *Locked method, so the ordering
// rules between append and the readers are all here. Everything else
// calls the hub's methods.

package gateway

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// monoBase anchors entry times to the monotonic clock.
var monoBase = time.Now()

// entry is one tick as the hub keeps it: parsed once, its SSE frame
// encoded once, shared read-only by every client that sends it.
type entry struct {
	pos  uint64 // hub position, 1-based, contiguous
	at   int64  // when the hub appended it, ns since monoBase (non-decreasing)
	seq  uint64 // stream sequence
	sym  int    // symbol index
	prev uint64 // position of the symbol's previous entry in this hub; 0 if none
	kind uint8  // entTick, entQuote, ... (events.go)
	mask uint8  // the event types (k* bits) it is sent as
	wall int64  // its wall time (a bar's: its end), Unix ns, for ?from=
	// upTo is the latest wall time of the hub's entries up to and
	// including this one: unlike wall (publishers and event types differ
	// in their clocks), it never decreases along the ring, so ?from= can
	// binary-search it for the first entry in stream order at or after a
	// time.
	upTo  int64
	ticks uint64 // tick entries in this hub up to and including this one
	tick  market.Tick
	frame []byte // "event: tick\nid: ...\ndata: ...\n\n" (or quote, bar, ...)
	js    []byte // the data of frame, for snapshots (not for ticks)
	q     *market.Quote
	clk   *market.Clock
	bk    *bookEnt               // a book's (book.go)
	trade atomic.Pointer[[]byte] // a tick's trade frame, made on first use
}

// subscribers is an immutable view of who wants wake-ups; replaced whole
// (copy on write) when a client comes or goes, so dispatch reads it
// without a lock.
type subscribers struct {
	all   []*client   // clients of every symbol
	bySym [][]*client // clients of some symbols, by symbol index
}

// hub holds the recent ticks of one stream epoch in a ring and wakes the
// clients they concern. One goroutine (the feed's Tail callback) appends;
// any number of client goroutines read.
type hub struct {
	ring []atomic.Pointer[entry] // bound: len(ring) entries; the oldest is overwritten
	mask uint64
	head atomic.Uint64 // position of the newest entry; 0 when none

	mu       sync.Mutex // guards the fields below and ordering of appends vs. registration
	epoch    string
	startSeq uint64   // the ring holds every stream message after startSeq that is still in it
	lastSeq  uint64   // stream sequence of the newest message (startSeq if none)
	nTicks   uint64   // tick entries appended
	wallMax  int64    // the latest wall time appended (entry.upTo)
	latest   []*entry // newest tick by symbol index
	// The newest quote, 1s and 1m bar and status by symbol index, and
	// the newest clock: for snapshots and GET /v1/market.
	latestQ, latestBar1s, latestBar1m, latestSt, latestB []*entry
	latestClock                                          *entry
	symIndex                                             map[string]int // symbol -> index
	symNames                                             []string       // index -> symbol
	// symLast holds, by symbol index, the position of the symbol's newest
	// entry (0 if none). With entry.prev it chains each symbol's entries,
	// newest first, so a client of a few symbols reads only theirs. The
	// pointers never change once made: clients keep them, lock-free; only
	// append stores to them.
	symLast []*atomic.Uint64
	subs    atomic.Pointer[subscribers]
	closed  bool

	arena   arena           // the ring's entries' memory; used by appendSym only
	windows windowCache     // merged windows shared by throttled clients
	ctx     context.Context // cancelled by close: the epoch is over
	cancel  context.CancelFunc
}

func newHub(ringSize int, epoch string, startSeq uint64) *hub {
	n := 1
	for n < ringSize {
		n <<= 1
	}
	h := &hub{
		ring:     make([]atomic.Pointer[entry], n),
		mask:     uint64(n - 1),
		epoch:    epoch,
		startSeq: startSeq,
		lastSeq:  startSeq,
		symIndex: map[string]int{},
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.subs.Store(&subscribers{})
	return h
}

// symbolLocked returns sym's index, assigning one if it is new.
func (h *hub) symbolLocked(sym string) int {
	if i, ok := h.symIndex[sym]; ok {
		return i
	}
	i := len(h.symNames)
	h.symIndex[sym] = i
	h.symNames = append(h.symNames, sym)
	h.latest = append(h.latest, nil)
	h.latestQ, h.latestSt, h.latestB = append(h.latestQ, nil), append(h.latestSt, nil), append(h.latestB, nil)
	h.latestBar1s, h.latestBar1m = append(h.latestBar1s, nil), append(h.latestBar1m, nil)
	h.symLast = append(h.symLast, new(atomic.Uint64))
	return i
}

// symbolIndex returns sym's index, assigning one if it is new.
func (h *hub) symbolIndex(sym string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.symbolLocked(sym)
}

// addSymbols makes sure every symbol has an index.
func (h *hub) addSymbols(syms []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range syms {
		h.symbolLocked(s)
	}
}

// seed records the newest tick of a symbol from before the ring starts,
// for snapshots. It is not in the ring.
func (h *hub) seed(m feed.Msg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := h.symbolLocked(m.Tick.Symbol)
	if cur := h.latest[i]; cur == nil || cur.seq < m.Seq {
		h.latest[i] = &entry{seq: m.Seq, sym: i, tick: m.Tick}
	}
}

// appendSym adds a message read from the stream and wakes its clients.
// It returns the entry it appended (its sym is the symbol index of the
// tick, the quote, ...) and whether it appended: false for a message at
// or below the hub's last sequence, one the gateway does not know, or
// once the hub is closed. Called from one goroutine only.
func (h *hub) appendSym(m feed.Msg) (*entry, bool) {
	var e *entry
	sym := m.Tick.Symbol
	if m.IsTick() {
		js, frame := h.arena.scratch(256)
		js = m.Tick.AppendJSON(js)
		frame = sse.AppendTick(frame, h.epoch, m.Seq, js)
		e = h.arena.entry()
		e.seq, e.kind, e.mask, e.wall, e.tick = m.Seq, entTick, kTickTrade, m.Tick.Time.UnixNano(), m.Tick
		e.frame = h.arena.keep(js, frame)
	} else {
		var ok bool
		if e, sym, ok = eventEntry(h.epoch, &m, &h.arena); !ok {
			return nil, false
		}
	}
	h.mu.Lock()
	if h.closed || m.Seq <= h.lastSeq {
		h.mu.Unlock()
		return nil, false
	}
	i := h.symbolLocked(sym)
	// The hub's own copy of the symbol's name: the decoded one (a string
	// of its own each message) is garbage at once.
	switch name := h.symNames[i]; {
	case e.kind == entTick:
		e.tick.Symbol = name
	case e.q != nil:
		e.q.Symbol = name
	case e.bk != nil:
		e.bk.b.Symbol = name
	}
	last := h.symLast[i]
	e.sym, e.prev = i, last.Load()
	if e.kind == entTick {
		h.nTicks++
	}
	e.ticks = h.nTicks
	h.wallMax = max(h.wallMax, e.wall)
	e.upTo = h.wallMax
	pos := h.head.Load() + 1
	e.pos, e.at = pos, int64(time.Since(monoBase))
	h.ring[pos&h.mask].Store(e)
	h.noteLatestLocked(e)
	h.lastSeq = m.Seq
	// The symbol's chain before head: a reader that sees head also sees
	// every entry up to it in the chains.
	last.Store(pos)
	h.head.Store(pos)
	subs := h.subs.Load()
	h.mu.Unlock()

	// Only the clients that want this event type: a client of ticks is
	// not woken for the quotes in between. Every wakeEvery positions all
	// are, so a client's cursor follows the ring even while only types
	// it skips arrive (a closed market's quotes) and the ring cannot lap
	// it with entries it never wanted.
	if pos%wakeEvery == 0 {
		for _, c := range subs.all {
			c.wake()
		}
		for _, l := range subs.bySym {
			for _, c := range l {
				c.wake()
			}
		}
		return e, true
	}
	for _, c := range subs.all {
		if c.kinds&e.mask != 0 {
			c.wake()
		}
	}
	if i < len(subs.bySym) {
		for _, c := range subs.bySym[i] {
			if c.kinds&e.mask != 0 {
				c.wake()
			}
		}
	}
	return e, true
}

// noteLatestLocked records e as its symbol's newest of its kind.
func (h *hub) noteLatestLocked(e *entry) {
	var l []*entry
	switch e.kind {
	case entTick:
		l = h.latest
	case entQuote:
		l = h.latestQ
	case entStatus:
		l = h.latestSt
	case entBook:
		l = h.latestB
	case entBar:
		l = h.latestBar1s
		if e.mask == kBar1m {
			l = h.latestBar1m
		}
	case entClock:
		if h.latestClock == nil || h.latestClock.seq < e.seq {
			h.latestClock = e
		}
		return
	}
	if cur := l[e.sym]; cur == nil || cur.seq < e.seq {
		l[e.sym] = e
	}
}

// wakeEvery: every this many positions the hub wakes every client,
// whatever it wants (see append). A power of two, far below any ring.
const wakeEvery = 1024

// registerLocked adds c to the wake lists, unless it is throttled (it runs on
// its own clock) or the hub is closed.
func (h *hub) registerLocked(c *client) bool {
	if h.closed {
		return false
	}
	if c.throttle > 0 {
		return true
	}
	old := h.subs.Load()
	nu := &subscribers{all: old.all, bySym: old.bySym}
	if c.all {
		nu.all = append(append([]*client(nil), old.all...), c)
	} else {
		nu.bySym = make([][]*client, max(len(old.bySym), len(h.symNames)))
		copy(nu.bySym, old.bySym)
		for _, i := range c.symIdx {
			nu.bySym[i] = append(append([]*client(nil), nu.bySym[i]...), c)
		}
	}
	h.subs.Store(nu)
	return true
}

func (h *hub) unregister(c *client) {
	if c.throttle > 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.subs.Load()
	nu := &subscribers{all: old.all, bySym: old.bySym}
	if c.all {
		nu.all = without(old.all, c)
	} else {
		nu.bySym = make([][]*client, len(old.bySym))
		copy(nu.bySym, old.bySym)
		for _, i := range c.symIdx {
			if i < len(nu.bySym) {
				nu.bySym[i] = without(nu.bySym[i], c)
			}
		}
	}
	h.subs.Store(nu)
}

func without(list []*client, c *client) []*client {
	out := make([]*client, 0, len(list))
	for _, x := range list {
		if x != c {
			out = append(out, x)
		}
	}
	return out
}

// close marks the hub dead (its epoch is over); its clients end.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		h.cancel()
	}
}

func (h *hub) lastSeqNow() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastSeq
}

// newFilter builds the filter of the symbol indexes idx (from resolve),
// or of every symbol when idx is empty, for the event types kinds.
func (h *hub) newFilter(idx []int, kinds uint8) filter {
	f := filter{all: len(idx) == 0, symIdx: idx, kinds: kinds}
	h.mu.Lock()
	f.want = make([]bool, len(h.symNames))
	for _, i := range idx {
		f.symLast = append(f.symLast, h.symLast[i])
	}
	h.mu.Unlock()
	for _, i := range idx {
		f.want[i] = true
	}
	return f
}

// resolve returns the indexes of syms, or the first of them the hub has
// no index for.
func (h *hub) resolve(syms []string) (idx []int, unknown string) {
	idx = make([]int, 0, len(syms))
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range syms {
		i, ok := h.symIndex[s]
		if !ok {
			return nil, s
		}
		idx = append(idx, i)
	}
	return idx, ""
}

// observedSymbols lists, in index order, every symbol the hub holds a
// tick of.
func (h *hub) observedSymbols() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for i, s := range h.symNames {
		if h.latest[i] != nil {
			out = append(out, s)
		}
	}
	return out
}

// id returns the event id of stream sequence seq in the hub's epoch.
func (h *hub) id(seq uint64) string { return sse.FormatID(h.epoch, seq) }

// clockIndex returns the hub's symbol index of the market clock.
func (h *hub) clockIndex() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.symbolLocked(clockSym)
}

// noteFirst records the first sequence the tail delivers to an empty
// hub: if the ones between startSeq and it left the stream before the
// tail read them, the ring does not cover them.
func (h *hub) noteFirst(seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.head.Load() == 0 && seq > h.startSeq+1 {
		h.startSeq, h.lastSeq = seq-1, max(h.lastSeq, seq-1)
	}
}

// seedLatest records e, a message of symbol sym from before the ring
// (seedEvents), as the symbol's newest of its kind unless the hub has a
// newer one.
func (h *hub) seedLatest(sym string, e *entry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.sym = h.symbolLocked(sym)
	h.noteLatestLocked(e)
}
