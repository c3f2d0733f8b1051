package sim

// The depth of book: each symbol's resting orders on the tick grid
// around its quote. Pure and seeded: every change takes the generator
// it draws from, so the same seed gives the same book. Run keeps one
// book per symbol (events.go): a quote moves it, a trade at the touch
// consumes it, and its top level is always the quote last published.

import (
	"math"
	"math/rand/v2"

	"github.com/tickcast/tickcast/market"
)

// BookLevels is how many price levels a side the simulator keeps for
// every symbol, and so the most a book event carries.
const BookLevels = 10

// Book shape. A level's mean size, in round lots, is bookTouch at the
// touch when the spread is at its usual width (scaled by the usual
// width over the actual one: a tight spread has a deep queue), times
// 1 + bookSlope per level away from the touch, with log-normal noise.
const (
	bookTouch = 4.0
	bookSlope = 0.4
	bookNoise = 0.5  // sd of a fresh level's log size
	bookKeep  = 0.7  // a kept level that changes keeps this share of its size, the rest is fresh
	bookChurn = 0.2  // the chance a kept level beyond the touch changes at a quote update
	bookMax   = 2000 // most lots at one level
	crashThin = 0.2  // sizes during a flash crash, as a share of usual
)

// book is one symbol's resting orders: bids[k] shares at bid-k ticks,
// asks[k] at ask+k, none below one tick. bid is 0 until the first move.
type book struct {
	bid, ask   int64
	bids, asks [BookLevels]int64
}

// bookShape is what a fresh level's size depends on.
type bookShape struct {
	lot   int64
	touch float64 // mean lots at the touch
}

// shapeFor returns the shape of a book whose quote is n ticks wide when
// the symbol's usual spread is ref ticks, in a market whose sizes are
// scaled by thin (crashThin during a flash crash, else 1).
func shapeFor(lot int64, n int64, ref, thin float64) bookShape {
	touch := bookTouch * thin * max(ref, 1) / float64(max(n, 1))
	return bookShape{lot: lot, touch: min(max(touch, 0.25), bookMax)}
}

// fresh draws the size of a new level k away from the touch.
func (p bookShape) fresh(rng *rand.Rand, k int) int64 {
	lots := p.touch * (1 + bookSlope*float64(k)) * math.Exp(bookNoise*rng.NormFloat64()-bookNoise*bookNoise/2)
	return int64(min(max(math.Round(lots), 1), bookMax)) * p.lot
}

// blend keeps part of a level's size and draws the rest afresh, in
// whole lots, so sizes change with every quote and follow the shape.
func (p bookShape) blend(rng *rand.Rand, size int64, k int) int64 {
	lots := bookKeep*float64(size)/float64(p.lot) + (1-bookKeep)*float64(p.fresh(rng, k)/p.lot)
	return max(int64(math.Round(lots)), 1) * p.lot
}

// keep is the new size of a level k that stays: blended at the touch,
// and beyond it one time in five.
func (p bookShape) keep(rng *rand.Rand, size int64, k int) int64 {
	if k == 0 || rng.Float64() < bookChurn {
		return p.blend(rng, size, k)
	}
	return size
}

// move sets the touch to bid and ask (ticks, bid < ask): a level whose
// price stays on its side keeps its size, or at the touch (and at
// random, one time in five, beyond it) part of it; a new one (the quote
// moved past it, or it was beyond the levels kept) is drawn fresh.
func (b *book) move(bid, ask int64, p bookShape, rng *rand.Rand) {
	old := *b
	for k := range BookLevels {
		px := bid - int64(k)
		switch j := old.bid - px; {
		case px < 1:
			b.bids[k] = 0
		case old.bid != 0 && j >= 0 && j < BookLevels && old.bids[j] > 0:
			b.bids[k] = p.keep(rng, old.bids[j], k)
		default:
			b.bids[k] = p.fresh(rng, k)
		}
		px = ask + int64(k)
		switch j := px - old.ask; {
		case old.ask != 0 && j >= 0 && j < BookLevels && old.asks[j] > 0:
			b.asks[k] = p.keep(rng, old.asks[j], k)
		default:
			b.asks[k] = p.fresh(rng, k)
		}
	}
	b.bid, b.ask = bid, ask
}

// consume takes a trade of size shares at the touch of side ('b' the
// bids, 'a' the asks); a level it empties is refilled by new orders at
// the same price.
func (b *book) consume(side byte, size int64, p bookShape, rng *rand.Rand) {
	lv := &b.asks[0]
	if side == 'b' {
		lv = &b.bids[0]
	}
	if *lv -= size; *lv <= 0 {
		*lv = p.fresh(rng, 0)
	}
}

// levels appends the book's levels to bids and asks as prices (price
// converts ticks), the best first, up to depth a side.
func (b *book) levels(bids, asks []market.Level, depth int, price func(int64) float64) ([]market.Level, []market.Level) {
	for k := range min(depth, BookLevels) {
		if b.bids[k] > 0 {
			bids = append(bids, market.Level{Price: price(b.bid - int64(k)), Size: b.bids[k]})
		}
		if b.asks[k] > 0 {
			asks = append(asks, market.Level{Price: price(b.ask + int64(k)), Size: b.asks[k]})
		}
	}
	return bids, asks
}
