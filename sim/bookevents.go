package sim

// Book events: Run's books (one per symbol, see book.go), moved by its
// quotes and trades and published as whole states on books.<SYMBOL>,
// at most one per symbol per Events.BookEvery and only when changed
// (docs/events-design.md says why).

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tickcast/tickcast/market"
)

// BookPublisher is an EventPublisher that also takes books (feed's
// Pipeline and Conn). Run publishes books only to one.
type BookPublisher interface {
	PublishBook(ctx context.Context, b market.Book) error
}

// DefaultBookEvery is the book interval of Events with BookEvery 0.
const DefaultBookEvery = 100 * time.Millisecond

// bookState is Run's books and their publishing.
type bookState struct {
	pub    BookPublisher // nil: books are kept (they size the quotes) but not published
	every  time.Duration
	rng    *rand.Rand // the books' randomness, apart from the ticks' and the quotes'
	books  []book
	seq    []uint64
	dirty  []bool // changed since last published
	ndirty int
	next   time.Time // the earliest the next books may go out
	bids   []market.Level
	asks   []market.Level
}

func newBookState(s *Sim, pub EventPublisher, start time.Time) *bookState {
	b := &bookState{every: s.evCfg.BookEvery, next: start,
		rng:   rand.New(rand.NewPCG(uint64(s.seed), 0x626f6f6b)), // "book"
		books: make([]book, len(s.syms)), seq: make([]uint64, len(s.syms)), dirty: make([]bool, len(s.syms)),
		bids: make([]market.Level, 0, BookLevels), asks: make([]market.Level, 0, BookLevels),
	}
	if bp, ok := pub.(BookPublisher); ok && b.every > 0 {
		b.pub = bp
	}
	for i := range s.syms {
		b.seq[i] = s.evCfg.Resume.Books[s.syms[i].sym]
	}
	return b
}

// shape is symbol i's book shape now: its usual spread against the
// quote's width n, thinned during a flash crash.
func (b *bookState) shape(s *Sim, st *symbol, n int64) bookShape {
	thin := 1.0
	if s.scn.crashOff != 0 {
		thin = crashThin
	}
	return shapeFor(st.lot, n, st.spreadPr*math.Exp(st.logMid), thin)
}

func (b *bookState) touch(i int) {
	if !b.dirty[i] {
		b.dirty[i] = true
		b.ndirty++
	}
}

// move sets symbol i's touch to bid and ask.
func (b *bookState) move(s *Sim, i int, bid, ask int64) {
	st := &s.syms[i]
	b.books[i].move(bid, ask, b.shape(s, st, ask-bid), b.rng)
	b.touch(i)
}

// trade takes tick t's trade (at px ticks) from symbol i's book when it
// was at the touch, and reports whether it did.
func (b *bookState) trade(s *Sim, i int, t *market.Tick, px int64) bool {
	bk := &b.books[i]
	side := byte(0)
	switch {
	case t.Side == market.SideBuy && px == bk.ask:
		side = 'a'
	case t.Side == market.SideSell && px == bk.bid:
		side = 'b'
	default:
		return false
	}
	st := &s.syms[i]
	bk.consume(side, t.Size, b.shape(s, st, bk.ask-bk.bid), b.rng)
	b.touch(i)
	return true
}

// due is when the changed books go out (far off when none changed or
// none are published).
func (b *bookState) due(start time.Time) time.Time {
	if b.pub == nil || b.ndirty == 0 {
		return start.Add(1 << 62)
	}
	return b.next
}

// flush publishes every changed book, stamped at.
func (b *bookState) flush(ctx context.Context, s *Sim, e *evState, at time.Time) error {
	b.next = at.Add(b.every)
	mkt := e.marketAt(s, at)
	for i, d := range b.dirty {
		if !d {
			continue
		}
		b.dirty[i] = false
		st := &s.syms[i]
		b.seq[i]++
		bk := market.Book{Symbol: st.sym, Seq: b.seq[i], Time: at.UTC(), MarketTime: mkt}
		b.bids, b.asks = b.books[i].levels(b.bids[:0], b.asks[:0], BookLevels, st.price)
		bk.Bids, bk.Asks = b.bids, b.asks
		if err := b.pub.PublishBook(ctx, bk); err != nil {
			return fmt.Errorf("book %s: %w", st.sym, err)
		}
	}
	b.ndirty = 0
	return nil
}
