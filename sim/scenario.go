package sim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickcast/tickcast/market"
)

// Scenario names, for Scenario.Name.
const (
	// ScenarioNormal ends the scenario in force at once.
	ScenarioNormal = "normal"
	// ScenarioFlashCrash: the whole market falls by Size (default -8%)
	// within seconds, with doubled volatility, wider spreads and twice
	// the tick rate, then recovers over the rest of Duration.
	ScenarioFlashCrash = "flash-crash"
	// ScenarioHalt: Symbol (default: one at random) publishes a tick with
	// Status "halted" (its last price, size 0), then none for Duration,
	// then one with Status "open" that catches up the market's move in
	// between, moved by Size if set (news: -0.2 reopens 20% lower).
	ScenarioHalt = "halt"
	// ScenarioGap: Symbol (default: every symbol, as at the open) jumps
	// by Size (default: 2% to 6%, up or down), then trades 1.5 times as
	// volatile for Duration.
	ScenarioGap = "gap"
	// ScenarioBurst: ten times the tick rate for Duration (a load test).
	// Prices move as much per second as before, in smaller steps.
	ScenarioBurst = "burst"
	// ScenarioQuiet: a quarter of the tick rate and 40% of the volatility
	// (narrower spreads) for Duration.
	ScenarioQuiet = "quiet"
)

// ScenarioNames lists the scenarios, ScenarioNormal first.
var ScenarioNames = []string{ScenarioNormal, ScenarioFlashCrash, ScenarioHalt, ScenarioGap, ScenarioBurst, ScenarioQuiet}

// ErrScenario is wrapped by the errors of SetScenario, ParseScenarios and
// Scenario.UnmarshalJSON; New wraps it too (with ErrConfig) for a bad
// Config.Scenarios.
var ErrScenario = errors.New("sim: invalid scenario")

// Scenario is a market condition for front-end edge cases, set at run
// time with (*Sim).SetScenario or scripted with Config.Scenarios. It ends
// by itself after Duration, or when another one is set.
//
// In JSON:
//
//	{"name": "flash-crash", "duration": "30s", "size": -0.08}
//	{"name": "halt", "symbol": "AAPL", "duration": "1m"}
//	{"at": "2m", "name": "burst", "duration": "10s"}   (in a script)
//
// Durations are Go durations ("90s", "1m30s") or numbers of seconds.
type Scenario struct {
	Name string // one of ScenarioNames

	// Symbol is the symbol of a halt or a gap: "" means one chosen at
	// random (halt) or every symbol (gap). Other scenarios take none.
	Symbol string

	// Duration is how long the scenario lasts, in real time at the
	// Sim's schedule (Due): 0 means the default (flash crash 1m, halt
	// 30s, gap 30s, burst 10s, quiet 1m); at most 24h.
	Duration time.Duration

	// Size is the relative price move: the depth of a flash crash
	// (-0.9 to below 0; default -0.08), the jump of a gap or of a
	// halted symbol at its reopening (-0.9 to 1, 0.05 is +5%). 0 means
	// the default; other scenarios take none.
	Size float64

	// At is when a scripted scenario starts, after the first tick (Due
	// time). Only Config.Scenarios uses it; SetScenario refuses it.
	At time.Duration
}

// ScenarioState is the scenario in force, as (*Sim).Scenario reports it:
// its fields with defaults filled in (and a halt's symbol chosen), and
// when it started and ends, stamped as ticks are.
type ScenarioState struct {
	Scenario
	// Pending: set, but no tick made since, so not yet in force.
	Pending bool
	// Started and Ends: the time of the tick it started on, and that
	// plus its Duration. Zero for ScenarioNormal and while pending.
	Started, Ends time.Time
}

// Scenario defaults and effects.
const (
	maxScenarioDuration = 24 * time.Hour
	minScenarioDuration = time.Second

	crashDepth   = -0.08
	crashRate    = 2.0 // times the tick rate, while a crash lasts
	crashVar     = 4.0 // times the variance at the bottom (volatility x2)
	crashFallMax = 5.0 // seconds of the fall, at most; a tenth of the duration, at least 1s
	crashFallMin = 1.0

	gapVar         = 2.25 // variance after a gap (volatility x1.5)
	gapMin, gapMax = 0.02, 0.06

	burstRate = 10.0
	quietRate = 0.25
	quietVar  = 0.16 // volatility x0.4

	minSize, maxSize = -0.9, 1.0
)

func defaultDuration(name string) time.Duration {
	switch name {
	case ScenarioFlashCrash, ScenarioQuiet:
		return time.Minute
	case ScenarioHalt, ScenarioGap:
		return 30 * time.Second
	case ScenarioBurst:
		return 10 * time.Second
	}
	return 0
}

// check validates sc and returns it normalised: name lower-case, symbol
// upper-case, defaults filled in except those drawn at random.
func (sc Scenario) check() (Scenario, error) {
	sc.Name = strings.ToLower(strings.TrimSpace(sc.Name))
	sc.Symbol = strings.ToUpper(strings.TrimSpace(sc.Symbol))
	if !slices.Contains(ScenarioNames, sc.Name) {
		if sc.Name == "" {
			return sc, fmt.Errorf("%w: no name (want one of %s)", ErrScenario, strings.Join(ScenarioNames, ", "))
		}
		return sc, fmt.Errorf("%w: unknown name %q (want one of %s)", ErrScenario, sc.Name, strings.Join(ScenarioNames, ", "))
	}
	if sc.At < 0 || sc.At > 365*24*time.Hour {
		return sc, fmt.Errorf("%w: %s: at %v out of range", ErrScenario, sc.Name, sc.At)
	}
	if sc.Name == ScenarioNormal {
		if sc.Symbol != "" || sc.Duration != 0 || sc.Size != 0 {
			return sc, fmt.Errorf("%w: normal takes no symbol, duration or size", ErrScenario)
		}
		return sc, nil
	}
	switch d := sc.Duration; {
	case d == 0:
		sc.Duration = defaultDuration(sc.Name)
	case d < minScenarioDuration || d > maxScenarioDuration:
		return sc, fmt.Errorf("%w: %s: duration %v out of range [%v, %v]", ErrScenario, sc.Name, d, minScenarioDuration, maxScenarioDuration)
	}
	if sc.Symbol != "" {
		if sc.Name != ScenarioHalt && sc.Name != ScenarioGap {
			return sc, fmt.Errorf("%w: %s takes no symbol (only halt and gap do)", ErrScenario, sc.Name)
		}
		if !market.ValidSymbol(sc.Symbol) {
			return sc, fmt.Errorf("%w: %s: bad symbol %q", ErrScenario, sc.Name, sc.Symbol)
		}
	}
	switch z := sc.Size; {
	case math.IsNaN(z) || math.IsInf(z, 0):
		return sc, fmt.Errorf("%w: %s: size %v is not a number", ErrScenario, sc.Name, z)
	case z == 0:
		if sc.Name == ScenarioFlashCrash {
			sc.Size = crashDepth
		}
	case sc.Name == ScenarioFlashCrash:
		if z >= 0 || z < minSize {
			return sc, fmt.Errorf("%w: flash-crash size %v: want a fall from %v to below 0, e.g. -0.08 for 8%%", ErrScenario, z, minSize)
		}
	case sc.Name == ScenarioHalt || sc.Name == ScenarioGap:
		if z < minSize || z > maxSize {
			return sc, fmt.Errorf("%w: %s size %v: want a move from %v to %v, e.g. 0.05 for +5%%", ErrScenario, sc.Name, z, minSize, maxSize)
		}
	default:
		return sc, fmt.Errorf("%w: %s takes no size (only flash-crash, halt and gap do)", ErrScenario, sc.Name)
	}
	return sc, nil
}

// scenarioJSON is Scenario on the wire.
type scenarioJSON struct {
	At       *jsonDuration `json:"at,omitempty"`
	Name     string        `json:"name"`
	Symbol   string        `json:"symbol,omitempty"`
	Duration *jsonDuration `json:"duration,omitempty"`
	Size     float64       `json:"size,omitempty"`
}

// jsonDuration is a time.Duration written as a Go duration string and
// read from one or from a number of seconds.
type jsonDuration time.Duration

func (d jsonDuration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("bad duration %q: want e.g. \"30s\" or \"2m\"", s)
		}
		*d = jsonDuration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("bad duration %s: want e.g. \"30s\" or a number of seconds", b)
	}
	if math.IsNaN(secs) || math.Abs(secs) > float64(math.MaxInt64/time.Second) {
		return fmt.Errorf("bad duration %s", b)
	}
	*d = jsonDuration(secs * float64(time.Second))
	return nil
}

func (sc Scenario) wire() scenarioJSON {
	w := scenarioJSON{Name: sc.Name, Symbol: sc.Symbol, Size: sc.Size}
	if sc.Duration != 0 {
		d := jsonDuration(sc.Duration)
		w.Duration = &d
	}
	if sc.At != 0 {
		a := jsonDuration(sc.At)
		w.At = &a
	}
	return w
}

// MarshalJSON writes sc as {"name": ..., "symbol": ..., "duration": "30s",
// "size": ...}, leaving out zero fields.
func (sc Scenario) MarshalJSON() ([]byte, error) { return json.Marshal(sc.wire()) }

// UnmarshalJSON reads a Scenario, refusing unknown fields (a misspelt
// "duraton" is an error, not a default). It does not validate the
// values: SetScenario and New do.
func (sc *Scenario) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w scenarioJSON
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("%w: %v", ErrScenario, strings.TrimPrefix(err.Error(), "json: "))
	}
	*sc = Scenario{Name: w.Name, Symbol: w.Symbol, Size: w.Size}
	if w.Duration != nil {
		sc.Duration = time.Duration(*w.Duration)
	}
	if w.At != nil {
		sc.At = time.Duration(*w.At)
	}
	return nil
}

// MarshalJSON writes st as its Scenario's fields plus "pending": true,
// or "started" and "ends".
func (st ScenarioState) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		scenarioJSON
		Pending bool      `json:"pending,omitempty"`
		Started time.Time `json:"started,omitzero"`
		Ends    time.Time `json:"ends,omitzero"`
	}{st.Scenario.wire(), st.Pending, st.Started, st.Ends})
}

// ParseScenarios reads a scenario script: one scenario as a JSON object,
// or a JSON array of them, each starting at its "at" (default 0: at
// once). It checks the JSON, not the values: New does.
func ParseScenarios(b []byte) ([]Scenario, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var sc Scenario
		if err := json.Unmarshal(b, &sc); err != nil {
			return nil, err
		}
		return []Scenario{sc}, nil
	}
	if len(b) == 0 || b[0] != '[' {
		return nil, fmt.Errorf("%w: want a JSON object or an array of them", ErrScenario)
	}
	var out []Scenario
	if err := json.Unmarshal(b, &out); err != nil {
		if errors.Is(err, ErrScenario) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrScenario, err)
	}
	return out, nil
}

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
		st.session = s.clk.session
		st.volume = 0
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
	}
}
