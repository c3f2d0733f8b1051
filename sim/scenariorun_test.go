// Over 400 lines on purpose: one test per scenario's run-time behaviour
// (flash crash, halt, gap, burst, quiet, scripts, replacement), all on the
// shared tape helper at the top; splitting them would scatter that helper.

package sim

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/tickcast/tickcast/market"
)

// tape runs a Sim tick by tick on its own schedule (ticks stamped t0 +
// Due), keeping each symbol's last tick and checking every tick as it
// goes: valid, seq +1 per symbol, volume the running sum of sizes.
type tape struct {
	t    *testing.T
	s    *Sim
	last map[string]market.Tick
	n    int
}

func newTape(t *testing.T, cfg Config) *tape {
	return &tape{t: t, s: mustNew(t, cfg), last: map[string]market.Tick{}}
}

// due is the Due of the next tick, in seconds.
func (tp *tape) due() float64 { return tp.s.Due().Seconds() }

func (tp *tape) next() market.Tick {
	tp.t.Helper()
	tk := tp.s.Next(t0.Add(tp.s.Due()))
	if err := tk.Validate(); err != nil {
		tp.t.Fatalf("tick %d: %v", tp.n, err)
	}
	if prev, ok := tp.last[tk.Symbol]; ok {
		if tk.Seq != prev.Seq+1 {
			tp.t.Fatalf("tick %d: %s seq %d after %d", tp.n, tk.Symbol, tk.Seq, prev.Seq)
		}
		if tk.Volume != prev.Volume+tk.Size && tk.Volume != tk.Size {
			tp.t.Fatalf("tick %d: %s volume %d after %d, size %d", tp.n, tk.Symbol, tk.Volume, prev.Volume, tk.Size)
		}
	} else if tk.Seq != 1 {
		tp.t.Fatalf("tick %d: %s first seq %d", tp.n, tk.Symbol, tk.Seq)
	}
	tp.last[tk.Symbol] = tk
	tp.n++
	return tk
}

// until makes ticks while the next is due before sec, calling f (if not
// nil) with each.
func (tp *tape) until(sec float64, f func(market.Tick)) {
	tp.t.Helper()
	for tp.due() < sec {
		tk := tp.next()
		if f != nil {
			f(tk)
		}
	}
}

func (tp *tape) set(sc Scenario) {
	tp.t.Helper()
	if err := tp.s.SetScenario(sc); err != nil {
		tp.t.Fatalf("SetScenario(%+v): %v", sc, err)
	}
}

// index is the mean log price of the symbols, relative to ref.
func (tp *tape) index(ref map[string]market.Tick) float64 {
	var sum float64
	for sym, r := range ref {
		sum += math.Log(tp.last[sym].Price / r.Price)
	}
	return sum / float64(len(ref))
}

func (tp *tape) snapshot() map[string]market.Tick {
	out := make(map[string]market.Tick, len(tp.last))
	for k, v := range tp.last {
		out[k] = v
	}
	return out
}

func TestScenarioDeterministic(t *testing.T) {
	// A script of scenarios applied at fixed tick indexes, twice, on a
	// busy configuration: the same ticks.
	script := map[int]Scenario{
		1_000:  {Name: ScenarioFlashCrash, Duration: 10 * time.Second},
		7_000:  {Name: ScenarioHalt, Duration: 5 * time.Second}, // a random symbol
		9_000:  {Name: ScenarioBurst, Duration: 2 * time.Second},
		20_000: {Name: ScenarioGap}, // every symbol, a random size
		25_000: {Name: ScenarioHalt, Symbol: "NVDA", Size: 0.1},
		26_000: {Name: ScenarioQuiet, Duration: 5 * time.Second}, // NVDA reopens
		27_000: {Name: ScenarioNormal},
	}
	cfg := Config{Seed: 11, Session: &Session{}, Arrivals: Poisson, Speed: 10}
	run := func() ([]market.Tick, []ScenarioState) {
		tp := newTape(t, cfg)
		var ticks []market.Tick
		var states []ScenarioState
		for i := range 30_000 {
			if sc, ok := script[i]; ok {
				tp.set(sc)
				states = append(states, tp.s.Scenario())
			}
			ticks = append(ticks, tp.next())
		}
		return ticks, states
	}
	a, sa := run()
	b, sb := run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("tick %d: same seed and script, different ticks:\n%+v\n%+v", i, a[i], b[i])
		}
	}
	for i := range sa {
		if sa[i] != sb[i] {
			t.Fatalf("scenario %d: resolved differently: %+v, %+v", i, sa[i], sb[i])
		}
	}
	// The script changed the ticks, and not before it started.
	plain := newTape(t, cfg)
	for i := range 1_000 {
		if tk := plain.next(); tk != a[i] {
			t.Fatalf("tick %d before any scenario differs from a plain run", i)
		}
	}
	if plain.next() == a[1000] && plain.next() == a[1001] {
		t.Error("the flash crash changed nothing")
	}
	var halted, opened int
	for _, tk := range a {
		switch tk.Status {
		case market.StatusHalted:
			halted++
		case market.StatusOpen:
			opened++
		}
	}
	if halted != 2 || opened != 2 {
		t.Errorf("%d halted and %d open ticks, want 2 and 2", halted, opened)
	}
}

func TestScenarioScriptDeterministic(t *testing.T) {
	cfg := Config{Seed: 5, Arrivals: Poisson, Scenarios: []Scenario{
		{At: 20 * time.Second, Name: ScenarioBurst, Duration: 2 * time.Second},
		{At: 5 * time.Second, Name: ScenarioHalt}, // out of order: sorted by At
		{At: 30 * time.Second, Name: ScenarioGap, Symbol: "aapl", Size: -0.05},
	}}
	a, b := newTape(t, cfg), newTape(t, cfg)
	plain := newTape(t, Config{Seed: 5, Arrivals: Poisson})
	var halted string
	for a.due() < 40 {
		before := a.due() < 5
		ta, tb := a.next(), b.next()
		if ta != tb {
			t.Fatalf("tick %d: same Config and script, different ticks", a.n)
		}
		if before && ta != plain.next() {
			t.Fatalf("tick %d: before the script's first scenario, differs from a plain run", a.n)
		}
		if ta.Status == market.StatusHalted {
			halted = ta.Symbol
		}
	}
	if halted == "" {
		t.Error("the scripted halt did not happen")
	}
	if h := HeaderFor(cfg, a.s); len(h.Scenarios) != 3 || h.Scenarios[0].Name != ScenarioHalt || h.Scenarios[0].Symbol != halted {
		t.Errorf("header scenarios %+v: want the resolved script, by At, halting %s", h.Scenarios, halted)
	}
}

func TestFlashCrash(t *testing.T) {
	tp := newTape(t, Config{Seed: 3})
	tp.until(10, nil)
	ref := tp.snapshot()
	tp.set(Scenario{Name: ScenarioFlashCrash, Duration: 60 * time.Second, Size: -0.08})
	start := tp.due()

	bottom, bottomAt := 0.0, 0.0
	var normalTicks, crashTicks int
	var spreadNormal, spreadBottom, nNormal, nBottom float64
	for k := range ref { // spreads before the crash
		spreadNormal += (ref[k].Ask - ref[k].Bid) / ref[k].Price
		nNormal++
	}
	tp.until(start+60, func(tk market.Tick) {
		crashTicks++
		at := tp.due() - start
		if x := tp.index(ref); x < bottom {
			bottom, bottomAt = x, at
		}
		if at > 4 && at < 8 {
			spreadBottom += (tk.Ask - tk.Bid) / tk.Price
			nBottom++
		}
	})
	mid := tp.due()
	tp.until(mid+10, func(market.Tick) { normalTicks++ }) // every symbol ticks again
	after := tp.index(ref)
	drop := math.Expm1(bottom)
	t.Logf("market fell %.2f%% (at %.1fs), then ended %.2f%% from before; %d ticks in 60s, %d in 10s after; relative spread %.5f at the bottom, %.5f before",
		100*drop, bottomAt, 100*math.Expm1(after), crashTicks, normalTicks, spreadBottom/nBottom, spreadNormal/nNormal)
	if drop > -0.065 || drop < -0.10 {
		t.Errorf("market fell %.2f%%, want about 8%%", 100*drop)
	}
	if bottomAt > 8 {
		t.Errorf("bottom %.1fs in, want within seconds", bottomAt)
	}
	if math.Abs(after) > 0.015 {
		t.Errorf("after the crash the market is %.2f%% from before, want it recovered (within 1.5%%)", 100*math.Expm1(after))
	}
	if r := float64(crashTicks) / 60 / (float64(normalTicks) / 10); r < 1.3 || r > 2.2 {
		t.Errorf("tick rate during the crash %.2f times normal, want up to 2", r)
	}
	if spreadBottom/nBottom < 1.4*spreadNormal/nNormal {
		t.Errorf("spreads at the bottom %.5f, before %.5f: want wider", spreadBottom/nBottom, spreadNormal/nNormal)
	}
	if st := tp.s.Scenario(); st.Name != ScenarioNormal {
		t.Errorf("after its duration the scenario is %q, want normal", st.Name)
	}
}

func TestHalt(t *testing.T) {
	tp := newTape(t, Config{Seed: 4})
	tp.until(5, nil)
	prev := tp.last["MSFT"]
	tp.set(Scenario{Name: ScenarioHalt, Symbol: "MSFT", Duration: 10 * time.Second, Size: -0.1})
	if st := tp.s.Scenario(); !st.Pending || st.Symbol != "MSFT" {
		t.Errorf("Scenario() after SetScenario: %+v, want the halt, pending", st)
	}
	h := tp.next()
	if h.Symbol != "MSFT" || h.Status != market.StatusHalted || h.Seq != prev.Seq+1 || h.Size != 0 ||
		h.Price != prev.Price || h.Bid != prev.Bid || h.Ask != prev.Ask || h.Volume != prev.Volume {
		t.Fatalf("first tick after the halt: %+v\nwant MSFT, halted, seq %d, size 0, price, quote and volume of %+v", h, prev.Seq+1, prev)
	}
	st := tp.s.Scenario()
	if st.Pending || st.Name != ScenarioHalt || st.Started != h.Time || st.Ends != h.Time.Add(10*time.Second) {
		t.Errorf("Scenario() during the halt: %+v", st)
	}
	var open market.Tick
	others := 0
	for open.Symbol == "" {
		tk := tp.next()
		switch {
		case tk.Symbol == "MSFT" && tk.Status == market.StatusOpen:
			open = tk
		case tk.Symbol == "MSFT":
			t.Fatalf("MSFT ticked while halted: %+v", tk)
		case tk.Status != "":
			t.Fatalf("status on another symbol: %+v", tk)
		default:
			others++
		}
	}
	halted := open.Time.Sub(h.Time)
	move := open.Price/prev.Price - 1
	t.Logf("halted for %v (%d ticks of others), reopened %.2f%%", halted, others, 100*move)
	if halted < 10*time.Second || halted > 10*time.Second+10*time.Millisecond {
		t.Errorf("halted for %v, want 10s", halted)
	}
	if others < 2900 || others > 3100 {
		t.Errorf("%d ticks of other symbols in 10s, want the universe's rate (3000)", others)
	}
	if move < -0.115 || move > -0.085 {
		t.Errorf("reopened %.2f%% from the halt, want about -10%%", 100*move)
	}
	if open.Seq != h.Seq+1 || open.Size <= 0 {
		t.Errorf("open tick %+v: want seq %d and a trade", open, h.Seq+1)
	}
	if st := tp.s.Scenario(); st.Name != ScenarioNormal {
		t.Errorf("after the halt: %+v, want normal", st)
	}
	// MSFT trades normally again.
	n := 0
	tp.until(tp.due()+5, func(tk market.Tick) {
		if tk.Symbol == "MSFT" {
			n++
		}
	})
	if n < 10 {
		t.Errorf("MSFT ticked %d times in 5s after reopening", n)
	}
}

func TestHaltEndsWhenReplaced(t *testing.T) {
	// A halt at the very start (the symbol has no tick yet), a random
	// symbol, replaced by a burst: the symbol reopens on the next tick.
	tp := newTape(t, Config{Seed: 9})
	tp.set(Scenario{Name: ScenarioHalt})
	sym := tp.s.Scenario().Symbol
	h := tp.next()
	if h.Symbol != sym || h.Status != market.StatusHalted || h.Seq != 1 || h.Volume != 0 {
		t.Fatalf("first tick %+v: want %s halted, seq 1, volume 0", h, sym)
	}
	tp.until(1, func(tk market.Tick) {
		if tk.Symbol == sym {
			t.Fatalf("%s ticked while halted: %+v", sym, tk)
		}
	})
	tp.set(Scenario{Name: ScenarioBurst})
	if o := tp.next(); o.Symbol != sym || o.Status != market.StatusOpen || o.Seq != 2 {
		t.Fatalf("tick after replacing the halt: %+v, want %s open, seq 2", o, sym)
	}
	tp.next()
	if st := tp.s.Scenario(); st.Name != ScenarioBurst {
		t.Errorf("scenario %+v, want burst", st)
	}
}

func TestResumeHaltedReopens(t *testing.T) {
	// A simulator restarted on a stream whose last MSFT tick started a
	// halt: MSFT's next tick says "open".
	resume := map[string]market.Tick{"MSFT": {Symbol: "MSFT", Seq: 41, Time: t0, Price: 400, Bid: 399.99, Ask: 400.01, Volume: 1000, Status: market.StatusHalted}}
	s := mustNew(t, Config{Seed: 2, Resume: resume})
	seen := 0
	for i := 0; seen < 2; i++ {
		tk := s.Next(stamp(i))
		if tk.Symbol != "MSFT" {
			if tk.Status != "" {
				t.Fatalf("%s: status %q", tk.Symbol, tk.Status)
			}
			continue
		}
		want := map[int]string{0: market.StatusOpen, 1: ""}[seen]
		if tk.Status != want || tk.Seq != 42+uint64(seen) {
			t.Fatalf("MSFT tick %d after the restart: seq %d status %q, want %d %q", seen, tk.Seq, tk.Status, 42+seen, want)
		}
		seen++
	}
}

func TestGap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		symbol string
		size   float64
	}{
		{"all up", "", 0.05},
		{"all down", "", -0.04},
		{"one", "TSLA", -0.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := newTape(t, Config{Seed: 6})
			tp.until(5, nil)
			ref := tp.snapshot()
			tp.set(Scenario{Name: ScenarioGap, Symbol: tc.symbol, Size: tc.size})
			first := map[string]market.Tick{}
			tp.until(tp.due()+3, func(tk market.Tick) {
				if _, ok := first[tk.Symbol]; !ok {
					first[tk.Symbol] = tk
				}
			})
			for sym, r := range ref {
				tk, ok := first[sym]
				if !ok {
					t.Fatalf("%s did not tick in 3s", sym)
				}
				move := tk.Price/r.Price - 1
				want := 0.0
				if tc.symbol == "" || tc.symbol == sym {
					want = tc.size
				}
				// The spread and a few seconds' move around it.
				if tol := 0.006 + 2*(r.Ask-r.Bid)/r.Price; math.Abs(move-want) > tol {
					t.Errorf("%s moved %.2f%% at the gap, want %.2f%% (± %.2f%%)", sym, 100*move, 100*want, 100*tol)
				}
			}
		})
	}
}

func TestBurst(t *testing.T) {
	const rate = 300
	tp := newTape(t, Config{Seed: 7, Rate: rate})
	tp.until(1, nil)
	tp.set(Scenario{Name: ScenarioBurst, Duration: 5 * time.Second})
	start := tp.due()
	var n int
	var prev time.Time
	tp.until(start+5, func(tk market.Tick) {
		if n > 0 {
			if d := tk.Time.Sub(prev); d < time.Second/(10*rate)-time.Microsecond || d > time.Second/(10*rate)+time.Microsecond {
				t.Fatalf("burst tick %d %v after the last, want %v", n, d, time.Second/(10*rate))
			}
		}
		prev = tk.Time
		n++
	})
	after := 0
	end := tp.due()
	tp.until(end+2, func(market.Tick) { after++ })
	t.Logf("%d ticks in the 5s burst (%.1f times the rate), %d in 2s after", n, float64(n)/5/rate, after)
	if r := float64(n) / 5 / rate; r < 9.9 || r > 10.1 {
		t.Errorf("burst at %.2f times the rate, want 10", r)
	}
	if after < 2*rate-2 || after > 2*rate+2 {
		t.Errorf("%d ticks in 2s after the burst, want %d", after, 2*rate)
	}
}

func TestBurstRunOpenLoop(t *testing.T) {
	// Run stamps burst ticks with their scheduled times: 1ms apart at
	// ten times 100/s, then 10ms apart again.
	const rate = 100
	s := mustNew(t, Config{Seed: 1, Rate: rate})
	if err := s.SetScenario(Scenario{Name: ScenarioBurst, Duration: time.Second}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	runFor(t, s, rec, 1300*time.Millisecond)
	ticks := rec.got()
	if len(ticks) < 1000 {
		t.Fatalf("%d ticks in 1.3s, want over 1000 (the machine may be slow)", len(ticks))
	}
	checkSchedule(t, ticks[:1000], 10*rate)
	checkSchedule(t, ticks[1000:], rate)
}

func TestQuiet(t *testing.T) {
	// Market variance from 5-second returns of every symbol, and the
	// tick rate, over 5 minutes normal and 5 minutes quiet.
	tp := newTape(t, Config{Seed: 8, Speed: 10})
	measure := func(secs float64) (ticks int, variance, spread float64) {
		end := tp.due() + secs
		var sum float64
		var n int
		for tp.due() < end {
			ref := tp.snapshot()
			tp.until(min(tp.due()+5, end), func(tk market.Tick) {
				ticks++
				spread += (tk.Ask - tk.Bid) / tk.Price
			})
			for sym, r := range ref {
				x := math.Log(tp.last[sym].Price / r.Price)
				sum += x * x
				n++
			}
		}
		return ticks, sum / float64(n), spread / float64(ticks)
	}
	tp.until(5, nil)
	nNormal, vNormal, sNormal := measure(300)
	tp.set(Scenario{Name: ScenarioQuiet, Duration: 300 * time.Second})
	nQuiet, vQuiet, sQuiet := measure(300)
	t.Logf("quiet: %.2f of the ticks, %.2f of the variance, %.2f of the spread", float64(nQuiet)/float64(nNormal), vQuiet/vNormal, sQuiet/sNormal)
	if r := float64(nQuiet) / float64(nNormal); r < 0.24 || r > 0.26 {
		t.Errorf("quiet tick rate %.3f of normal, want 0.25", r)
	}
	if r := vQuiet / vNormal; r > 0.4 || r < 0.05 {
		t.Errorf("quiet variance %.3f of normal, want about 0.16", r)
	}
	if sQuiet >= sNormal {
		t.Errorf("quiet spreads %.5f, normal %.5f: want narrower", sQuiet, sNormal)
	}
}

func TestScenarioEndsByItself(t *testing.T) {
	tp := newTape(t, Config{Seed: 1})
	tp.set(Scenario{Name: ScenarioQuiet, Duration: 2 * time.Second})
	tp.next()
	if st := tp.s.Scenario(); st.Name != ScenarioQuiet || st.Ends.Sub(st.Started) != 2*time.Second {
		t.Fatalf("Scenario() %+v, want quiet for 2s", st)
	}
	tp.until(2, nil)
	if st := tp.s.Scenario(); st.Name != ScenarioQuiet {
		t.Fatalf("Scenario() %+v before its end, want quiet", st)
	}
	tp.next()
	if st := tp.s.Scenario(); st.Name != ScenarioNormal || !st.Started.IsZero() {
		t.Fatalf("Scenario() %+v after its end, want normal", st)
	}
}

func TestSetScenarioWhileRunning(t *testing.T) {
	// Run in one goroutine, SetScenario and Scenario in others (for -race).
	s := mustNew(t, Config{Seed: 1, Rate: 2000})
	rec := &recorder{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		names := []string{ScenarioHalt, ScenarioBurst, ScenarioFlashCrash, ScenarioGap, ScenarioQuiet, ScenarioNormal}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if err := s.SetScenario(Scenario{Name: names[i%len(names)], Duration: time.Second}); err != nil && names[i%len(names)] != ScenarioNormal {
				t.Error(err)
			}
			_ = s.Scenario()
		}
	})
	runFor(t, s, rec, 400*time.Millisecond)
	close(stop)
	wg.Wait()
	seqs := map[string]uint64{}
	status := map[string]string{}
	for i, tk := range rec.got() {
		if tk.Seq != seqs[tk.Symbol]+1 {
			t.Fatalf("tick %d: %s seq %d after %d", i, tk.Symbol, tk.Seq, seqs[tk.Symbol])
		}
		if status[tk.Symbol] == market.StatusHalted && tk.Status != market.StatusOpen {
			t.Fatalf("tick %d: %s ticked while halted", i, tk.Symbol)
		}
		seqs[tk.Symbol] = tk.Seq
		status[tk.Symbol] = tk.Status
	}
}

func TestNextDoesNotAllocateInScenarios(t *testing.T) {
	s := mustNew(t, Config{Seed: 1})
	for _, sc := range []Scenario{
		{Name: ScenarioFlashCrash},
		{Name: ScenarioHalt, Duration: time.Second},
		{Name: ScenarioBurst},
	} {
		if err := s.SetScenario(sc); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(2_000, func() { s.Next(t0.Add(s.Due())) }); n != 0 {
			t.Errorf("%s: Next allocates %v times per call", sc.Name, n)
		}
	}
}
