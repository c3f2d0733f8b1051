package sim

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

// evRecorder is a fake EventPublisher that keeps everything in order.
type evRecorder struct {
	mu      sync.Mutex
	ticks   []market.Tick
	quotes  []market.Quote
	bars    []market.Bar
	status  []market.Status
	clocks  []market.Clock
	order   []byte // 't', 'q', 'b', 's', 'c'
	invalid []error
}

func (r *evRecorder) add(kind byte, err error) {
	r.order = append(r.order, kind)
	if err != nil {
		r.invalid = append(r.invalid, err)
	}
}

func (r *evRecorder) Publish(_ context.Context, t market.Tick) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ticks = append(r.ticks, t)
	r.add('t', t.Validate())
	return nil
}

func (r *evRecorder) PublishQuote(_ context.Context, q market.Quote) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.quotes = append(r.quotes, q)
	r.add('q', q.Validate())
	return nil
}

func (r *evRecorder) PublishBar(_ context.Context, b market.Bar) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bars = append(r.bars, b)
	r.add('b', b.Validate())
	return nil
}

func (r *evRecorder) PublishStatus(_ context.Context, s market.Status) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = append(r.status, s)
	r.add('s', s.Validate())
	return nil
}

func (r *evRecorder) PublishClock(_ context.Context, c market.Clock) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clocks = append(r.clocks, c)
	r.add('c', c.Validate())
	return nil
}

// A compressed trading day with extended hours, fast-forwarded over the
// night: every event valid, every counter contiguous per symbol, quotes
// about QuotesPerTrade times as many as trades, bars that match the
// trades, trade conditions and clock phases in calendar order.
func TestRunEventsDay(t *testing.T) {
	speed := 16 * 3600 / 2.6 // a 16-hour trading day in 2.6 s: 09:00 to about 08:20 the next day in 2.5 s
	s := mustNew(t, Config{Seed: 3, Rate: 3000, Speed: speed, Arrivals: Poisson,
		Session: &Session{Extended: true, Start: PreOpen + 5*time.Hour}}) // 09:00, pre-market
	r := &evRecorder{}
	runFor(t, s, r, 2500*time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.invalid) > 0 {
		t.Fatalf("%d invalid events, first: %v", len(r.invalid), r.invalid[0])
	}
	// Counters: each contiguous from 1 per symbol (and interval).
	seqs := map[string]uint64{}
	next := func(key string, seq uint64) {
		if seqs[key]+1 != seq {
			t.Fatalf("%s: seq %d after %d", key, seq, seqs[key])
		}
		seqs[key] = seq
	}
	for _, tk := range r.ticks {
		next("t/"+tk.Symbol, tk.Seq)
	}
	for _, q := range r.quotes {
		next("q/"+q.Symbol, q.Seq)
	}
	for _, b := range r.bars {
		next("b/"+b.Symbol+b.Interval, b.Seq)
	}
	for _, st := range r.status {
		next("s/"+st.Symbol, st.Seq)
	}
	for _, c := range r.clocks {
		next("c", c.Seq)
	}
	if ratio := float64(len(r.quotes)) / float64(len(r.ticks)); ratio < 5 || ratio > 10 {
		t.Errorf("quotes per trade %.2f (%d quotes, %d trades), want about 8", ratio, len(r.quotes), len(r.ticks))
	}
	// Phases in calendar order: pre, regular, after, then pre again
	// (the night fast-forwarded), and conditions to match.
	var phases []string
	for _, c := range r.clocks {
		if len(phases) == 0 || phases[len(phases)-1] != c.Phase {
			phases = append(phases, c.Phase)
		}
	}
	if len(phases) != 4 || phases[0] != "pre" || phases[1] != "regular" || phases[2] != "after" || phases[3] != "pre" {
		t.Fatalf("phases %v", phases)
	}
	conds := map[string]int{}
	opened := map[string]bool{}
	for _, tk := range r.ticks {
		conds[string(tk.Conditions)]++
		if tk.Conditions.Has(market.CondOpening) {
			if opened[tk.Symbol] {
				t.Errorf("%s: two opening trades in a day", tk.Symbol)
			}
			opened[tk.Symbol] = true
		}
		if tk.MarketTime.IsZero() {
			t.Fatalf("tick without market time: %+v", tk)
		}
	}
	nsym := len(s.Universe())
	if conds["O"] != nsym || conds["6"] != nsym || conds["T"] == 0 || conds[""] < conds["T"] {
		t.Errorf("conditions %v, want %d opening and closing trades, some extended, mostly none", conds, nsym)
	}
	// Market time in order, across the night to the next weekday.
	day0 := r.ticks[0].MarketTime.In(eastern)
	last := r.ticks[len(r.ticks)-1].MarketTime.In(eastern)
	if day0.Hour() != 9 || last.YearDay() != day0.YearDay()+1 || last.Hour() >= 9 {
		t.Errorf("market times %v to %v", day0, last)
	}
	// Bars: each 1 s bar holds the trades stamped in it.
	type key struct {
		sym   string
		start time.Time
	}
	want := map[key]*market.Bar{}
	for _, tk := range r.ticks {
		if tk.Size == 0 {
			continue
		}
		k := key{tk.Symbol, tk.Time.Truncate(time.Second)}
		b := want[k]
		if b == nil {
			b = &market.Bar{Open: tk.Price, High: tk.Price, Low: tk.Price}
			want[k] = b
		}
		b.High, b.Low, b.Close = max(b.High, tk.Price), min(b.Low, tk.Price), tk.Price
		b.Volume += tk.Size
		b.Trades++
	}
	n1s := 0
	for _, b := range r.bars {
		if b.Interval != "1s" {
			continue
		}
		n1s++
		w := want[key{b.Symbol, b.Start}]
		if w == nil {
			if b.Trades != 0 || b.Open != b.Close {
				t.Errorf("bar with trades none were stamped in: %+v", b)
			}
			continue
		}
		if b.Start.Equal(b.Start.Truncate(time.Second)) && b.End.Sub(b.Start) == time.Second &&
			(b.Open != w.Open || b.High != w.High || b.Low != w.Low || b.Close != w.Close || b.Volume != w.Volume || b.Trades != w.Trades) {
			t.Errorf("bar %+v, trades give %+v", b, *w)
		}
	}
	if n1s < 2*nsym {
		t.Errorf("%d 1s bars in 3 s for %d symbols", n1s, nsym)
	}
}

// A flash crash with LULD on: symbols hit their lower band, go into a
// limit state and come out of it; their trades never cross the band.
func TestRunEventsLULD(t *testing.T) {
	s := mustNew(t, Config{Seed: 5, Rate: 2000, Speed: 1, LULD: true, Session: &Session{},
		Scenarios: []Scenario{{Name: "flash-crash", At: 100 * time.Millisecond, Duration: 10 * time.Second, Size: -0.15}}})
	r := &evRecorder{}
	runFor(t, s, r, 2500*time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	down := 0
	for _, st := range r.status {
		if st.State == market.StateLimitDown {
			down++
			if !(st.BandLow > 0 && st.BandLow < st.BandHigh) {
				t.Errorf("limit status without its band: %+v", st)
			}
		}
	}
	if down < len(s.Universe())/2 {
		t.Fatalf("%d limit-down states in a 15%% crash, statuses %+v", down, r.status)
	}
	if len(r.invalid) > 0 {
		t.Fatalf("invalid events: %v", r.invalid[0])
	}
}
