package sim

import (
	"math/rand/v2"
	"testing"

	"github.com/tickcast/tickcast/market"
)

// walkBook moves a book through n seeded quote changes and trades, as
// Run does, calling check after each step.
func walkBook(seed uint64, n int, check func(step int, b *book, sh bookShape)) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b book
	bid := int64(10_000)
	for step := range n {
		spread := 1 + rng.Int64N(4)
		bid += rng.Int64N(5) - 2
		sh := shapeFor(100, spread, 2, 1)
		b.move(bid, bid+spread, sh, rng)
		if rng.IntN(3) == 0 {
			side := byte('a')
			if rng.IntN(2) == 0 {
				side = 'b'
			}
			b.consume(side, (1+rng.Int64N(20))*100, sh, rng)
		}
		check(step, &b, sh)
	}
}

func tickPrice(t int64) float64 { return float64(t) / 100 }

// A book keeps BookLevels levels a side on the tick grid, never crossed,
// its sizes whole lots that thicken away from the touch.
func TestBookShape(t *testing.T) {
	var sum [2][BookLevels]float64
	n := 20_000
	walkBook(1, n, func(step int, b *book, _ bookShape) {
		bids, asks := b.levels(nil, nil, BookLevels, tickPrice)
		if len(bids) != BookLevels || len(asks) != BookLevels {
			t.Fatalf("step %d: %d bids, %d asks", step, len(bids), len(asks))
		}
		bk := market.Book{Symbol: "X", Seq: 1, Time: t0, MarketTime: t0, Bids: bids, Asks: asks}
		if err := bk.Validate(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for k := range BookLevels {
			if bids[k].Price != tickPrice(b.bid-int64(k)) || asks[k].Price != tickPrice(b.ask+int64(k)) {
				t.Fatalf("step %d: level %d off the grid: %v %v", step, k, bids[k], asks[k])
			}
			if bids[k].Size%100 != 0 || asks[k].Size%100 != 0 {
				t.Fatalf("step %d: odd lots at level %d: %v %v", step, k, bids[k], asks[k])
			}
			sum[0][k] += float64(bids[k].Size)
			sum[1][k] += float64(asks[k].Size)
		}
	})
	for side := range sum {
		if sum[side][BookLevels-1] < 2*sum[side][0] || sum[side][5] < sum[side][1] {
			t.Errorf("side %d: mean sizes by level %v, want thicker away from the touch", side, sum[side])
		}
	}
}

// The same seed gives the same book; a trade at the touch takes its
// size from it, and a level it empties refills.
func TestBookSeededAndConsumed(t *testing.T) {
	var a, b []book
	walkBook(7, 500, func(_ int, bk *book, _ bookShape) { a = append(a, *bk) })
	walkBook(7, 500, func(_ int, bk *book, _ bookShape) { b = append(b, *bk) })
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("step %d: same seed, books differ:\n%+v\n%+v", i, a[i], b[i])
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	sh := shapeFor(100, 1, 1, 1)
	var bk book
	bk.move(500, 501, sh, rng)
	before := bk
	bk.consume('a', 100, sh, rng)
	if before.asks[0] > 100 && bk.asks[0] != before.asks[0]-100 || bk.bids != before.bids || [BookLevels - 1]int64(bk.asks[1:]) != [BookLevels - 1]int64(before.asks[1:]) {
		t.Errorf("a 100-share buy took %d from the ask %d (book %+v)", before.asks[0]-bk.asks[0], before.asks[0], bk)
	}
	bk.consume('b', bk.bids[0]+1000, sh, rng)
	if bk.bids[0] <= 0 {
		t.Errorf("an emptied bid was not refilled: %+v", bk)
	}
	// A quote update moves sizes at the prices that stay.
	moved := 0
	for range 20 {
		old := bk
		bk.move(500, 501, sh, rng)
		if bk.bids != old.bids || bk.asks != old.asks {
			moved++
		}
	}
	if moved < 15 {
		t.Errorf("sizes changed on %d of 20 quote updates", moved)
	}
	// A tight spread has a deeper touch than a wide one; a crash thins it.
	if tight, wide, crash := shapeFor(100, 1, 3, 1), shapeFor(100, 6, 3, 1), shapeFor(100, 1, 3, crashThin); !(tight.touch > 3*wide.touch && crash.touch < tight.touch/2) {
		t.Errorf("touch lots: tight %v, wide %v, crash %v", tight.touch, wide.touch, crash.touch)
	}
}

// Bids near the bottom of the price grid stop at one tick.
func TestBookFloor(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 3))
	var bk book
	bk.move(3, 4, shapeFor(100, 1, 1, 1), rng)
	bids, asks := bk.levels(nil, nil, BookLevels, tickPrice)
	if len(bids) != 3 || bids[2].Price != 0.01 || len(asks) != BookLevels {
		t.Errorf("bids %v asks %d", bids, len(asks))
	}
}
