package gateway

// Book events (issue 26): books.<SYMBOL> messages, whole states of a
// symbol's depth of book, sent as `event: book` to clients that ask for
// events=book, cut to their ?depth=, merged to the newest (with
// "merged") for throttled and slow clients, and in their snapshot as
// "books". The hooks elsewhere: eventEntry, appendEntry, foldEntry,
// mergeItems and the snapshot (events.go), encodeMerged (merge.go), the
// hub's newest book per symbol (hub.go).

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/tickcast/tickcast/gateway/sse"
	"github.com/tickcast/tickcast/market"
)

// maxBookDepth is the most levels a side the simulator keeps
// (sim.BookLevels), the default and the highest ?depth=.
const maxBookDepth = 10

// bookEnt is a book entry's book and its frames at depths below the
// full one (the entry's frame), each encoded once on first use.
type bookEnt struct {
	b      market.Book
	frames [maxBookDepth]atomic.Pointer[[]byte] // frames[d-1]: at depth d
}

// parseDepth reads depth= (1 to maxBookDepth levels a side; default
// maxBookDepth). A bad value, or depth= without events=book, is a 400.
func parseDepth(r *http.Request, kinds uint8) (int, error) {
	v := r.URL.Query().Get("depth")
	if v == "" {
		return maxBookDepth, nil
	}
	if kinds&kBook == 0 {
		return 0, badRequest("depth= needs events= with book")
	}
	d, err := strconv.Atoi(v)
	if err != nil || d < 1 || d > maxBookDepth {
		return 0, badRequest("invalid depth %q: want 1 to %d levels a side", cut(v), maxBookDepth)
	}
	return d, nil
}

// bookFrame returns e's book frame at depth levels a side.
func (h *hub) bookFrame(e *entry, depth int) []byte {
	b := &e.bk.b
	if depth >= len(b.Bids) && depth >= len(b.Asks) {
		return e.frame
	}
	p := &e.bk.frames[depth-1]
	if f := p.Load(); f != nil {
		return *f
	}
	top := b.Top(depth)
	js := top.AppendJSON(make([]byte, 0, 100+30*depth))
	f := sse.AppendNamed(make([]byte, 0, len(js)+48), "book", h.epoch, e.seq, js)
	p.Store(&f)
	return f
}

// bookMerge is a client's book state: its depth, and its pending books
// by symbol index while it is merged.
type bookMerge struct {
	depth  int
	acc    []bookAcc
	active []int // symbol indexes with acc[i].n > 0
}

// bookAcc accumulates one symbol's pending books: the newest, and how
// many (merge.go).
type bookAcc = runAcc[market.Book]

// foldBook adds a book entry to its symbol's pending merge.
func (m *merger) foldBook(e *entry) {
	m.foldBookAcc(e.sym, &bookAcc{n: max(e.bk.b.Merged, 1), firstSeq: e.seq, lastSeq: e.seq, last: &e.bk.b})
}

// foldBookAcc adds b, a run of symbol sym's books (one book, or a block
// summary's), to the pending merge: the newest wins, n adds up.
func (m *merger) foldBookAcc(sym int, b *bookAcc) {
	a := grow(&m.bk.acc, sym)
	if a.n == 0 {
		m.bk.active = append(m.bk.active, sym)
	}
	a.combine(b)
}

// symBook is one symbol's books in a block summary (blockSum.books),
// merged as a client merges them.
type symBook struct {
	sym int
	acc bookAcc
}

// addBook records the next book of a block, b of symbol sym at stream
// sequence seq, in its summary.
func (s *blockSum) addBook(seq uint64, sym int, b *market.Book) {
	if s.bkat == nil {
		s.bkat = map[int]int{}
	}
	k, ok := s.bkat[sym]
	if !ok {
		k = len(s.books)
		s.bkat[sym] = k
		s.books = append(s.books, symBook{sym: sym})
	}
	s.books[k].acc.add(seq, b, b.Merged)
}

// bookItems appends the pending merged books to items.
func (m *merger) bookItems(items []mitem) []mitem {
	for _, s := range m.bk.active {
		items = append(items, mitem{first: m.bk.acc[s].firstSeq, kind: entBook, sym: s})
	}
	return items
}

// appendMergedBook appends symbol sym's merged book, with id seq, and
// clears its accumulator; it returns how many books it stands for when
// more than one (else 0).
func (c *client) appendMergedBook(js []byte, sym int, id uint64) ([]byte, int) {
	a := &c.bk.acc[sym]
	n := a.n
	b := a.last.Top(c.bk.depth)
	*a = bookAcc{}
	merged := 0
	if n >= 2 {
		b.Merged, merged = n, int(n)
	}
	js = b.AppendJSON(js[:0])
	c.buf = sse.AppendNamed(c.buf, "book", c.h.epoch, id, js)
	return js, merged
}

// dropBooks forgets the pending books.
func (m *merger) dropBooks() {
	for _, i := range m.bk.active {
		m.bk.acc[i] = bookAcc{}
	}
	m.bk.active = m.bk.active[:0]
}
