package sim

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

// bookRecorder is an evRecorder that takes books too.
type bookRecorder struct {
	evRecorder
	books []market.Book
}

func (r *bookRecorder) PublishBook(_ context.Context, b market.Book) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	b.Bids = append([]market.Level(nil), b.Bids...) // the simulator reuses its buffers
	b.Asks = append([]market.Level(nil), b.Asks...)
	r.books = append(r.books, b)
	r.add('k', b.Validate())
	return nil
}

func recordBooks(t *testing.T, cfg Config, ticks int) *bookRecorder {
	t.Helper()
	r := &bookRecorder{}
	driveEvents(t, mustNew(t, cfg), r, ticks)
	if len(r.invalid) > 0 {
		t.Fatalf("%d invalid events, first: %v", len(r.invalid), r.invalid[0])
	}
	return r
}

// Books as Run publishes them: valid (never crossed, 10 levels a side),
// their own seq per symbol from the one resumed, at most one per symbol
// per BookEvery, each one's top the symbol's last quote before it; every
// trade with its side; and the same seed gives the same books.
func TestRunBooks(t *testing.T) {
	cfg := Config{Seed: 9, Rate: 2000, Session: &Session{}, Arrivals: Poisson,
		Events: Events{Resume: market.Counters{Books: map[string]uint64{"AAPL": 41}}}}
	r := recordBooks(t, cfg, 20_000)
	if len(r.books) < 500 {
		t.Fatalf("%d books for %d ticks", len(r.books), len(r.ticks))
	}
	seq := map[string]uint64{"AAPL": 41}
	last := map[string]market.Book{}
	quote := map[string]market.Quote{}
	qi, ki := 0, 0
	for _, kind := range r.order {
		switch kind {
		case 'q':
			q := r.quotes[qi]
			quote[q.Symbol] = q
			qi++
		case 'k':
			b := r.books[ki]
			ki++
			if b.Seq != seq[b.Symbol]+1 {
				t.Fatalf("%s: book seq %d after %d", b.Symbol, b.Seq, seq[b.Symbol])
			}
			seq[b.Symbol] = b.Seq
			if p, ok := last[b.Symbol]; ok && b.Time.Sub(p.Time) < DefaultBookEvery {
				t.Fatalf("%s: books %v apart", b.Symbol, b.Time.Sub(p.Time))
			}
			last[b.Symbol] = b
			if len(b.Bids) != BookLevels || len(b.Asks) != BookLevels {
				t.Fatalf("%s: %d bids, %d asks", b.Symbol, len(b.Bids), len(b.Asks))
			}
			q, ok := quote[b.Symbol]
			if !ok || b.Bids[0] != (market.Level{Price: q.Bid, Size: q.BidSize}) || b.Asks[0] != (market.Level{Price: q.Ask, Size: q.AskSize}) {
				t.Fatalf("%s: book top %v %v, last quote %+v", b.Symbol, b.Bids[0], b.Asks[0], q)
			}
		}
	}
	sides := map[string]int{}
	for _, tk := range r.ticks {
		if tk.Size > 0 && !tk.Conditions.Has(market.CondClosing) {
			sides[tk.Side]++
			if tk.Side == market.SideBuy && tk.Price < tk.Bid || tk.Side == market.SideSell && tk.Price > tk.Ask {
				t.Fatalf("a %s at %v, quote %v-%v", tk.Side, tk.Price, tk.Bid, tk.Ask)
			}
		}
	}
	if sides[""] != 0 || sides[market.SideBuy] < len(r.ticks)/3 || sides[market.SideSell] < len(r.ticks)/3 {
		t.Errorf("trades by side %v", sides)
	}
	again := recordBooks(t, cfg, 20_000)
	if !reflect.DeepEqual(again.books, r.books) {
		t.Error("the same seed gave other books")
	}
}

// A flash crash thins the book; a halt freezes the halted symbol's: no
// quote between its halt and its reopening, and no book after the one
// that may still carry the changes made before the halt.
func TestRunBooksScenarios(t *testing.T) {
	cfg := Config{Seed: 4, Rate: 2000, Arrivals: Poisson, Scenarios: []Scenario{
		{Name: "halt", Symbol: "AAPL", At: 2 * time.Second, Duration: 3 * time.Second},
		{Name: "flash-crash", At: 10 * time.Second, Duration: 10 * time.Second, Size: -0.05},
	}}
	r := recordBooks(t, cfg, 44_000) // 22 s
	var haltAt, openAt time.Time
	for _, tk := range r.ticks {
		switch {
		case tk.Symbol == "AAPL" && tk.Status == market.StatusHalted:
			haltAt = tk.Time
		case tk.Symbol == "AAPL" && tk.Status == market.StatusOpen:
			openAt = tk.Time
		}
	}
	if haltAt.IsZero() || !openAt.After(haltAt) {
		t.Fatalf("halt %v to %v", haltAt, openAt)
	}
	for _, b := range r.books {
		// Only the change made before the halt may still go out, once,
		// within BookEvery.
		if b.Symbol == "AAPL" && b.Time.After(haltAt.Add(DefaultBookEvery)) && b.Time.Before(openAt) {
			t.Fatalf("AAPL book during its halt: %+v", b)
		}
	}
	for _, q := range r.quotes {
		if q.Symbol == "AAPL" && q.Time.After(haltAt) && q.Time.Before(openAt) {
			t.Fatalf("AAPL quote during its halt: %+v", q)
		}
	}
	// Mean depth of the first five levels a side, in lots, before the
	// crash and in its fall (the first second).
	t0 := r.ticks[0].Time
	depth := func(from, to time.Duration) float64 {
		var sum, n float64
		for _, b := range r.books {
			if d := b.Time.Sub(t0); d >= from && d < to {
				for k := range 5 {
					sum += float64(b.Bids[k].Size+b.Asks[k].Size) / 100
				}
				n++
			}
		}
		return sum / max(n, 1)
	}
	before, during := depth(6*time.Second, 10*time.Second), depth(10500*time.Millisecond, 11*time.Second)
	if !(during < before/2) {
		t.Errorf("depth in lots: %.1f before the crash, %.1f in its fall; want it thinned", before, during)
	}
}
