package sim

// The scenario state machine the Sim runs: what SetScenario hands to the
// Run goroutine, and how each tick starts, applies and ends a scenario.
// The Scenario type, its JSON and its validation are in scenario.go.

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/market"
)

// Scenario effects, as the Sim runs them.
const (
	crashRate    = 2.0 // times the tick rate, while a crash lasts
	crashVar     = 4.0 // times the variance at the bottom (volatility x2)
	crashFallMax = 5.0 // seconds of the fall, at most; a tenth of the duration, at least 1s
	crashFallMin = 1.0

	gapVar         = 2.25 // variance after a gap (volatility x1.5)
	gapMin, gapMax = 0.02, 0.06

	burstRate = 10.0
	quietRate = 0.25
	quietVar  = 0.16 // volatility x0.4
)

// scenarios is a Sim's scenario machinery. The Run goroutine owns all of
// it but ctl, which SetScenario and Scenario share with it.
type scenarios struct {
	// The multipliers in force, 1 with none: of the tick rate (Next
	// divides the trading time between ticks by it) and of the variance.
	rate, vari float64

	live    bool        // something to do on each tick: see step
	pending atomic.Bool // ctl.pending holds a scenario for the next tick

	cur      activeScenario
	crashOff float64 // the market's log offset of a flash crash, now
	halted   int     // index of the halted symbol, or -1
	forced   [2]forcedTick
	nForced  int

	script []Scenario // Config.Scenarios, checked, resolved, by At
	next   int        // the next one due
	index  map[string]int

	ctl struct {
		mu      sync.Mutex
		rng     *rand.Rand // draws defaults: a halt's symbol, a gap's size
		pending Scenario
		state   ScenarioState
	}
}

// activeScenario is the scenario in force, as the model runs it.
type activeScenario struct {
	sc         Scenario // "" Name: none
	start, end float64  // Due seconds
	depth      float64  // flash crash: log depth
	fall       float64  // flash crash: seconds of the fall
	sym        int      // halt: the symbol
	reopen     float64  // halt: log jump at the reopening
}

// forcedTick is a tick Next makes for a given symbol before it picks one
// at random again: a halt's first and last.
type forcedTick struct {
	sym    int
	status string
	jump   float64 // log move, on reopening
}

// initScenarios sets up s.scn for cfg; New calls it.
func (s *Sim) initScenarios(cfg Config) error {
	c := &s.scn
	c.rate, c.vari, c.halted = 1, 1, -1
	c.index = make(map[string]int, len(s.syms))
	for i := range s.syms {
		c.index[s.syms[i].sym] = i
	}
	c.ctl.rng = rand.New(rand.NewPCG(uint64(cfg.Seed), 0x7363656e6172696f)) // "scenario"
	c.ctl.state = ScenarioState{Scenario: Scenario{Name: ScenarioNormal}}
	script := slices.Clone(cfg.Scenarios)
	for i := range script {
		sc, err := s.resolve(script[i], true)
		if err != nil {
			return fmt.Errorf("%w: scenarios[%d]: %w", ErrConfig, i, err)
		}
		script[i] = sc
	}
	slices.SortStableFunc(script, func(a, b Scenario) int { return cmp.Compare(a.At, b.At) })
	c.script = script
	c.live = len(script) > 0
	return nil
}

// resolve checks sc against the universe and fills in its defaults,
// drawing a halt's symbol and a gap's size from the scenario generator.
// The caller holds ctl.mu, or is New.
func (s *Sim) resolve(sc Scenario, scripted bool) (Scenario, error) {
	sc, err := sc.check()
	if err != nil {
		return sc, err
	}
	if sc.At != 0 && !scripted {
		return sc, fmt.Errorf("%w: %s: \"at\" is for scripts (Config.Scenarios, --scenario); leave it out to start now", ErrScenario, sc.Name)
	}
	if sc.Symbol != "" {
		if _, ok := s.scn.index[sc.Symbol]; !ok {
			return sc, fmt.Errorf("%w: %s: unknown symbol %s", ErrScenario, sc.Name, sc.Symbol)
		}
	}
	rng := s.scn.ctl.rng
	switch sc.Name {
	case ScenarioHalt:
		if len(s.syms) < 2 {
			return sc, fmt.Errorf("%w: halt needs at least two symbols in the universe", ErrScenario)
		}
		if sc.Symbol == "" {
			sc.Symbol = s.syms[rng.IntN(len(s.syms))].sym
		}
	case ScenarioGap:
		if sc.Size == 0 {
			sc.Size = gapMin + (gapMax-gapMin)*rng.Float64()
			if rng.IntN(2) == 0 {
				sc.Size = -sc.Size
			}
			sc.Size = math.Round(sc.Size*1e4) / 1e4
		}
	}
	return sc, nil
}

// SetScenario sets the scenario to start on the next tick, in place of
// the one in force (which ends there: a flash crash's fall unwinds at
// once, a halted symbol reopens). It returns an error wrapping
// ErrScenario for a bad scenario: an unknown name, a symbol that is not
// simulated, a duration or size out of range, or one the scenario does
// not take. Defaults are filled in at once, so Scenario reports them.
//
// SetScenario is safe to call from any goroutine, while Run runs. A
// scenario set between the same two Next calls of two Sims made with
// the same Config gives the same ticks; of several set between two
// ticks, the last wins.
func (s *Sim) SetScenario(sc Scenario) error {
	c := &s.scn
	c.ctl.mu.Lock()
	defer c.ctl.mu.Unlock()
	sc, err := s.resolve(sc, false)
	if err != nil {
		return err
	}
	c.ctl.pending = sc
	c.pending.Store(true)
	return nil
}

// Scenario returns the scenario in force, or the one set for the next
// tick (Pending), or ScenarioNormal. It is safe to call from any
// goroutine.
func (s *Sim) Scenario() ScenarioState {
	c := &s.scn
	c.ctl.mu.Lock()
	defer c.ctl.mu.Unlock()
	if c.pending.Load() {
		return ScenarioState{Scenario: c.ctl.pending, Pending: true}
	}
	return c.ctl.state
}

// stepScenario runs at the start of Next when s.scn.live or a scenario
// is pending: it ends the scenario in force when its time is up, starts
// the next one (scripted first, then set), and works out the crash
// offset and the multipliers for this tick. A scenario starts only when
// no forced tick is waiting, so at most two wait at once.
func (s *Sim) stepScenario(now time.Time) {
	c := &s.scn
	due := s.due - s.dueC // this tick's Due, in seconds
	if c.cur.sc.Name != "" && due >= c.cur.end {
		s.endScenario()
	}
	if c.nForced == 0 {
		if c.next < len(c.script) && due >= c.script[c.next].At.Seconds() {
			c.next++
			s.startScenario(c.script[c.next-1], now, due)
		} else if c.pending.Load() {
			c.ctl.mu.Lock()
			sc := c.ctl.pending
			c.pending.Store(false)
			c.ctl.mu.Unlock()
			s.startScenario(sc, now, due)
		}
	}
	if c.cur.sc.Name == ScenarioFlashCrash {
		sh := crashShape(due-c.cur.start, c.cur.fall, c.cur.end-c.cur.start)
		c.crashOff = c.cur.depth * sh
		c.vari = 1 + (crashVar-1)*sh
	}
	c.live = c.cur.sc.Name != "" || c.nForced > 0 || c.next < len(c.script)
}

// crashShape is the fraction of a flash crash's depth reached tau
// seconds in: a smooth fall over fall seconds, then a smooth recovery
// to 0 at dur.
func crashShape(tau, fall, dur float64) float64 {
	smooth := func(x float64) float64 { return x * x * (3 - 2*x) }
	switch {
	case tau <= 0 || tau >= dur:
		return 0
	case tau < fall:
		return smooth(tau / fall)
	}
	return 1 - smooth((tau-fall)/(dur-fall))
}

// startScenario puts sc in force from this tick (due, stamped now),
// ending the one in force.
func (s *Sim) startScenario(sc Scenario, now time.Time, due float64) {
	c := &s.scn
	s.endScenario()
	if sc.Name == ScenarioNormal {
		c.ctl.mu.Lock()
		c.ctl.state = ScenarioState{Scenario: sc}
		c.ctl.mu.Unlock()
		return
	}
	dur := sc.Duration.Seconds()
	a := activeScenario{sc: sc, start: due, end: due + dur, sym: -1}
	switch sc.Name {
	case ScenarioFlashCrash:
		a.depth = math.Log1p(sc.Size)
		a.fall = min(max(dur/10, crashFallMin), crashFallMax, dur/2)
		c.rate = crashRate
	case ScenarioHalt:
		a.sym = c.index[sc.Symbol]
		a.reopen = math.Log1p(sc.Size)
		c.halted = a.sym
		c.forced[c.nForced] = forcedTick{sym: a.sym, status: market.StatusHalted}
		c.nForced++
	case ScenarioGap:
		jump := math.Log1p(sc.Size)
		for i := range s.syms {
			if st := &s.syms[i]; sc.Symbol == "" || st.sym == sc.Symbol {
				st.logMid = min(max(st.logMid+jump, st.minLog), math.Log(maxPrice))
			}
		}
		c.vari = gapVar
	case ScenarioBurst:
		c.rate = burstRate
	case ScenarioQuiet:
		c.rate, c.vari = quietRate, quietVar
	}
	c.cur = a
	c.ctl.mu.Lock()
	c.ctl.state = ScenarioState{Scenario: sc, Started: now, Ends: now.Add(sc.Duration)}
	c.ctl.mu.Unlock()
}

// endScenario ends the scenario in force, if any: the multipliers go
// back to 1, a flash crash's offset to 0 (each symbol catches up on its
// next tick), and a halted symbol reopens on the next tick.
func (s *Sim) endScenario() {
	c := &s.scn
	if c.cur.sc.Name == "" {
		return
	}
	if c.cur.sc.Name == ScenarioHalt {
		c.forced[c.nForced] = forcedTick{sym: c.cur.sym, status: market.StatusOpen, jump: c.cur.reopen}
		c.nForced++
		c.halted = -1
	}
	c.rate, c.vari, c.crashOff = 1, 1, 0
	c.cur = activeScenario{sym: -1}
	c.ctl.mu.Lock()
	c.ctl.state = ScenarioState{Scenario: Scenario{Name: ScenarioNormal}}
	c.ctl.mu.Unlock()
}

// popForced returns the next forced tick, if any.
func (c *scenarios) popForced() (forcedTick, bool) {
	if c.nForced == 0 {
		return forcedTick{}, false
	}
	f := c.forced[0]
	c.forced[0] = c.forced[1]
	c.nForced--
	return f, true
}

// haltTick is the tick that starts a halt of st: its last quote and
// price, size 0, Status halted.
func (s *Sim) haltTick(st *symbol, now time.Time) market.Tick {
	if st.ask == 0 { // no tick made yet: trade at the mid, quote one tick wide
		st.px = max(int64(math.Round(math.Exp(st.logMid)/st.tick)), 1)
		st.bid, st.ask = st.px, st.px+1
	}
	if st.session != s.clk.session {
		for i := range s.syms { // a halt's tick: rare enough to search
			if &s.syms[i] == st {
				s.rollSession(i, st)
			}
		}
	}
	st.seq++
	s.drawGap()
	return market.Tick{
		Symbol: st.sym,
		Seq:    st.seq,
		Time:   now.UTC(),
		Price:  st.price(st.px),
		Bid:    st.price(st.bid),
		Ask:    st.price(st.ask),
		Volume: st.volume,
		Status: market.StatusHalted,

		MarketTime: s.clk.marketTime(0),
	}
}
