package sim

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

var t0 = time.Date(2026, 11, 23, 14, 30, 0, 0, time.UTC)

// stamp is the time of tick i at the default rate.
func stamp(i int) time.Time { return t0.Add(time.Duration(i) * time.Second / DefaultRate) }

func mustNew(t testing.TB, cfg Config) *Sim {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestDeterministicBySeed(t *testing.T) {
	const n = 10_000
	a, b := mustNew(t, Config{Seed: 7}), mustNew(t, Config{Seed: 7})
	c := mustNew(t, Config{Seed: 8})
	differ := 0
	for i := range n {
		ta, tb, tc := a.Next(stamp(i)), b.Next(stamp(i)), c.Next(stamp(i))
		if ta != tb {
			t.Fatalf("tick %d: same seed, different ticks:\n%+v\n%+v", i, ta, tb)
		}
		if ta != tc {
			differ++
		}
	}
	// Seeds 7 and 8 may pick the same symbol now and then; they must not
	// agree on much.
	if differ < n*9/10 {
		t.Errorf("seeds 7 and 8 differ on only %d of %d ticks", differ, n)
	}
}

func TestSeqContiguousFromOne(t *testing.T) {
	s := mustNew(t, Config{Seed: 1})
	last := map[string]market.Tick{}
	for i := range 50_000 {
		tk := s.Next(stamp(i))
		prev, ok := last[tk.Symbol]
		switch {
		case !ok && tk.Seq != 1:
			t.Fatalf("%s: first seq %d, want 1", tk.Symbol, tk.Seq)
		case ok && tk.Seq != prev.Seq+1:
			t.Fatalf("%s: seq %d after %d", tk.Symbol, tk.Seq, prev.Seq)
		case ok && tk.Volume != prev.Volume+tk.Size:
			t.Fatalf("%s: volume %d after %d with size %d", tk.Symbol, tk.Volume, prev.Volume, tk.Size)
		case !ok && tk.Volume != tk.Size:
			t.Fatalf("%s: first volume %d, size %d", tk.Symbol, tk.Volume, tk.Size)
		}
		last[tk.Symbol] = tk
	}
	if len(last) != len(DefaultUniverse()) {
		t.Errorf("%d symbols ticked, want all %d", len(last), len(DefaultUniverse()))
	}
}

func TestResumeContinues(t *testing.T) {
	// The stream holds AAPL far from its previous close, and a symbol
	// that is no longer simulated.
	resume := map[string]market.Tick{
		"AAPL":  {Symbol: "AAPL", Seq: 1041, Time: t0, Price: 500.00, Bid: 499.99, Ask: 500.01, Size: 100, Volume: 1234500},
		"MSFT":  {Symbol: "MSFT", Seq: 7, Time: t0, Price: 10.5, Bid: 10.49, Ask: 10.51, Size: 5, Volume: 905},
		"GONE1": {Symbol: "GONE1", Seq: 3, Time: t0, Price: 1, Size: 1, Volume: 3},
	}
	s := mustNew(t, Config{Seed: 3, Resume: resume})
	first := map[string]market.Tick{}
	for i := 0; len(first) < len(s.Universe()); i++ {
		if i > 100_000 {
			t.Fatalf("only %d symbols ticked in %d ticks", len(first), i)
		}
		tk := s.Next(stamp(i))
		if _, ok := first[tk.Symbol]; !ok {
			first[tk.Symbol] = tk
		}
	}
	for sym, r := range resume {
		tk, ok := first[sym]
		if sym == "GONE1" {
			if ok {
				t.Errorf("GONE1 ticked: %+v", tk)
			}
			continue
		}
		if tk.Seq != r.Seq+1 {
			t.Errorf("%s: first seq %d, want %d", sym, tk.Seq, r.Seq+1)
		}
		if tk.Volume != r.Volume+tk.Size {
			t.Errorf("%s: first volume %d, want %d+%d", sym, tk.Volume, r.Volume, tk.Size)
		}
		if d := math.Abs(math.Log(tk.Price / r.Price)); d > 0.01 {
			t.Errorf("%s: first price %v does not continue from %v", sym, tk.Price, r.Price)
		}
	}
	if tk := first["GOOGL"]; tk.Seq != 1 || tk.Volume != tk.Size {
		t.Errorf("GOOGL (not resumed): first tick %+v, want seq 1 and volume = size", tk)
	}
}

func TestTicksValidOnGrid(t *testing.T) {
	for _, cfg := range []Config{
		{Seed: 11},
		{Seed: 12, Speed: 23400}, // a session per second: big moves, wide spreads
		{Seed: 13, Universe: []market.SymbolInfo{
			{Symbol: "PENNY", PrevClose: 0.05, TickSize: 0.0001, Volatility: 2},
			{Symbol: "QTR", PrevClose: 12.25, TickSize: 0.25, Volatility: 0.4},
			{Symbol: "ODD", PrevClose: 3, TickSize: 0.003, Volatility: 1},
			{Symbol: "BIG", PrevClose: 250_000, TickSize: 1, Volatility: 0.2},
		}, Speed: 1000},
	} {
		s := mustNew(t, cfg)
		grid := map[string]float64{}
		for _, in := range s.Universe() {
			grid[in.Symbol] = in.TickSize
		}
		for i := range 100_000 {
			now := stamp(i).In(time.FixedZone("EST", -5*3600))
			tk := s.Next(now)
			if err := tk.Validate(); err != nil {
				t.Fatalf("seed %d tick %d: %v: %+v", cfg.Seed, i, err, tk)
			}
			if !tk.Time.Equal(now) || tk.Time.Location() != time.UTC {
				t.Fatalf("seed %d tick %d: time %v, want %v in UTC", cfg.Seed, i, tk.Time, now)
			}
			if !(tk.Bid > 0 && tk.Bid < tk.Ask && tk.Bid <= tk.Price && tk.Price <= tk.Ask) {
				t.Fatalf("seed %d tick %d: want 0 < bid <= price <= ask, bid < ask: %+v", cfg.Seed, i, tk)
			}
			for _, p := range [...]float64{tk.Price, tk.Bid, tk.Ask} {
				q := p / grid[tk.Symbol]
				if math.Abs(q-math.Round(q)) > 1e-9*max(1, math.Abs(q)) {
					t.Fatalf("seed %d tick %d: %v is off the %v grid: %+v", cfg.Seed, i, p, grid[tk.Symbol], tk)
				}
			}
			if tk.Size <= 0 {
				t.Fatalf("seed %d tick %d: size %d", cfg.Seed, i, tk.Size)
			}
		}
	}
}

func TestSizesMostlyRoundLots(t *testing.T) {
	s := mustNew(t, Config{Seed: 5})
	var n, round, big int
	for i := range 100_000 {
		tk := s.Next(stamp(i))
		if tk.Symbol != "AAPL" { // price < $250: round lot 100
			continue
		}
		n++
		if tk.Size%100 == 0 {
			round++
		}
		if tk.Size >= 1000 {
			big++
		}
	}
	if fr := float64(round) / float64(n); fr < 0.7 || fr > 0.9 {
		t.Errorf("AAPL: %.2f of %d trades are round lots, want about 0.8", fr, n)
	}
	if fb := float64(big) / float64(n); fb < 0.01 || fb > 0.1 {
		t.Errorf("AAPL: %.3f of %d trades are 1000+ shares, want a heavy but thin tail", fb, n)
	}
}

func TestPicksByWeight(t *testing.T) {
	u := []market.SymbolInfo{
		{Symbol: "A", PrevClose: 10}, {Symbol: "B", PrevClose: 10},
		{Symbol: "C", PrevClose: 10}, {Symbol: "D", PrevClose: 10},
	}
	w := map[string]float64{"A": 1, "B": 2, "C": 3, "D": 4}
	s := mustNew(t, Config{Seed: 9, Universe: u, Weights: w})
	const n = 200_000
	count := map[string]int{}
	for i := range n {
		count[s.Next(stamp(i)).Symbol]++
	}
	for sym, wt := range w {
		want := n * wt / 10
		if got := float64(count[sym]); math.Abs(got-want) > 0.03*want {
			t.Errorf("%s ticked %v times, want about %v", sym, got, want)
		}
	}
}

func TestDefaultUniverse(t *testing.T) {
	u := DefaultUniverse()
	if len(u) < 30 {
		t.Fatalf("%d symbols, want >= 30", len(u))
	}
	sectors := map[string]int{}
	syms := map[string]bool{}
	for _, in := range u {
		if !market.ValidSymbol(in.Symbol) || syms[in.Symbol] {
			t.Errorf("bad or duplicate symbol %q", in.Symbol)
		}
		syms[in.Symbol] = true
		sectors[in.Sector]++
		if in.Name == "" || in.Sector == "" || in.PrevClose <= 1 || in.TickSize != 0.01 ||
			in.Volatility < 0.05 || in.Volatility > 1 {
			t.Errorf("implausible %+v", in)
		}
	}
	for _, want := range []string{"AAPL", "MSFT", "BRK-B"} {
		if !syms[want] {
			t.Errorf("no %s", want)
		}
	}
	if len(sectors) < 5 {
		t.Errorf("%d sectors, want >= 5", len(sectors))
	}
	for sec, n := range sectors {
		if n < 2 {
			t.Errorf("sector %q has %d symbol", sec, n)
		}
	}
	u[0].Symbol = "CHANGED"
	if s := mustNew(t, Config{}); s.Universe()[0].Symbol != DefaultUniverse()[0].Symbol {
		t.Error("DefaultUniverse shares its slice")
	}
}

func TestNewDefaults(t *testing.T) {
	s := mustNew(t, Config{Universe: []market.SymbolInfo{{Symbol: "X", PrevClose: 5}}})
	if s.Rate() != DefaultRate {
		t.Errorf("rate %v, want %v", s.Rate(), DefaultRate)
	}
	if in := s.Universe()[0]; in.TickSize != 0.01 || in.Volatility != 0.30 {
		t.Errorf("defaults not filled in: %+v", in)
	}
}

func TestNewErrors(t *testing.T) {
	sym := func(s string, p float64) market.SymbolInfo { return market.SymbolInfo{Symbol: s, PrevClose: p} }
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"lower-case symbol", Config{Universe: []market.SymbolInfo{sym("aapl", 1)}}, `bad symbol "aapl"`},
		{"dotted symbol", Config{Universe: []market.SymbolInfo{sym("A.B", 1)}}, `bad symbol "A.B"`},
		{"wildcard symbol", Config{Universe: []market.SymbolInfo{sym(">", 1)}}, `bad symbol ">"`},
		{"empty symbol", Config{Universe: []market.SymbolInfo{sym("", 1)}}, `bad symbol ""`},
		{"long symbol", Config{Universe: []market.SymbolInfo{sym("ABCDEFGHIJKLMNOPQ", 1)}}, "bad symbol"},
		{"duplicate", Config{Universe: []market.SymbolInfo{sym("A", 1), sym("B", 1), sym("A", 2)}}, "duplicate symbol A"},
		{"zero price", Config{Universe: []market.SymbolInfo{sym("A", 0)}}, "prevClose 0"},
		{"negative price", Config{Universe: []market.SymbolInfo{sym("A", -3)}}, "prevClose -3"},
		{"NaN price", Config{Universe: []market.SymbolInfo{sym("A", math.NaN())}}, "prevClose NaN"},
		{"infinite price", Config{Universe: []market.SymbolInfo{sym("A", math.Inf(1))}}, "prevClose +Inf"},
		{"price below tick", Config{Universe: []market.SymbolInfo{sym("A", 0.001)}}, "below the tick size"},
		{"negative tick", Config{Universe: []market.SymbolInfo{{Symbol: "A", PrevClose: 1, TickSize: -0.01}}}, "tick size -0.01"},
		{"negative vol", Config{Universe: []market.SymbolInfo{{Symbol: "A", PrevClose: 1, Volatility: -1}}}, "volatility -1"},
		{"absurd vol", Config{Universe: []market.SymbolInfo{{Symbol: "A", PrevClose: 1, Volatility: 50}}}, "volatility 50"},
		{"empty universe", Config{Universe: []market.SymbolInfo{}}, "empty universe"},
		{"negative rate", Config{Rate: -1}, "rate -1"},
		{"absurd rate", Config{Rate: 1e12}, "rate 1e+12"},
		{"NaN rate", Config{Rate: math.NaN()}, "rate NaN"},
		{"infinite rate", Config{Rate: math.Inf(1)}, "rate +Inf"},
		{"negative speed", Config{Speed: -2}, "speed -2"},
		{"zero weight", Config{Weights: map[string]float64{"AAPL": 0}}, "AAPL: weight 0"},
		{"resume zero price", Config{Resume: map[string]market.Tick{"AAPL": {Seq: 3}}}, "resume AAPL: bad price 0"},
		{"resume NaN price", Config{Resume: map[string]market.Tick{"AAPL": {Seq: 3, Price: math.NaN()}}}, "resume AAPL: bad price NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg)
			if err == nil {
				t.Fatalf("New succeeded: %d symbols", len(s.Universe()))
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want ErrConfig and %q", err, tc.want)
			}
		})
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	s := mustNew(t, Config{Seed: 1})
	i := 0
	if n := testing.AllocsPerRun(10_000, func() { s.Next(stamp(i)); i++ }); n != 0 {
		t.Errorf("Next allocates %v times per call", n)
	}
}

func BenchmarkNext(b *testing.B) {
	s := mustNew(b, Config{Seed: 1})
	b.ReportAllocs()
	var sink market.Tick
	for i := 0; b.Loop(); i++ {
		sink = s.Next(stamp(i))
	}
	_ = sink
}
