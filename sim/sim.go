package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/tickcast/tickcast/market"
)

// Config configures a Sim. The zero Config is valid: the default universe
// at DefaultRate, real time, seed 0.
type Config struct {
	// Seed selects the price paths: the same Config (seed included) and
	// the same number of Next calls give the same ticks.
	Seed int64

	// Rate is ticks per second, all symbols together; 0 means DefaultRate.
	// It also sets the model clock: each Next moves it on by 1/Rate
	// seconds (times Speed).
	Rate float64

	// Universe is the symbols to simulate; nil means DefaultUniverse().
	// A TickSize of 0 means 0.01 and a Volatility of 0 means 0.30.
	Universe []market.SymbolInfo

	// Resume is the last tick per symbol already in the stream, keyed by
	// symbol. A symbol found here continues from it: its next tick has
	// Seq+1, its price walks on from Price and its Volume adds to Volume.
	// Entries for symbols outside the universe are ignored.
	Resume map[string]market.Tick

	// Speed is how many seconds of simulated trading pass per second of
	// the model clock; 0 means 1 (real time). 60 shows a minute's moves
	// every second; 23400 a whole 6.5-hour session.
	Speed float64

	// Weights gives a symbol's relative tick rate (busier symbols tick
	// more often); symbols it does not name get DefaultWeight(symbol).
	Weights map[string]float64

	// Session, if set, runs the model on a trading-session clock with a
	// U-shaped intraday pattern of tick rate, trade size and volatility
	// (see Session). Nil means continuous trading at a flat rate.
	Session *Session

	// Arrivals is how ticks are spaced in time: Regular (the zero value)
	// or Poisson.
	Arrivals Arrivals

	// Scenarios is a script of scenarios, each starting at its At (Due
	// time, after the first tick); see Scenario. The same Config, script
	// included, gives the same ticks.
	Scenarios []Scenario

	// LULD turns on limit-up/limit-down price bands in the regular
	// session, as in US equities: a trade that would cross a band
	// (5% either side of a reference price averaging the last minutes'
	// trades) prints at the band and pauses the symbol in a limit state
	// for 15 s of market time (at least 5 s of real time), after which
	// the band recentres on the next trade. Off by default, so a
	// flash-crash falls all the way.
	LULD bool

	// Events configures the quotes, bars, status and clock events Run
	// sends to an EventPublisher (see events.go).
	Events Events
}

const (
	// DefaultRate is the tick rate of a Config with Rate 0.
	DefaultRate = 300
	// MaxRate is the highest Rate New accepts.
	MaxRate = 10_000_000
	// MaxSpeed is the highest Speed New accepts.
	MaxSpeed = 1_000_000
)

// ErrConfig is wrapped by every error New returns.
var ErrConfig = errors.New("sim: invalid config")

// Sim is the price model. It is not safe for concurrent use: one
// goroutine calls Next or Run. SetScenario and Scenario are the
// exceptions: any goroutine may call them at any time.
type Sim struct {
	rng *rand.Rand

	// The universe, whose PrevClose values roll over with the sessions:
	// written by Next, read by Universe from any goroutine.
	uniMu    sync.Mutex
	universe []market.SymbolInfo
	uniVer   uint64 // counts changes to universe
	syms     []symbol
	sectors  []sector
	rate     float64
	speed    float64
	dt       float64 // mean trading seconds per Next, at activity 1
	arrivals Arrivals

	// Schedule: the session clock, the trading time to the next tick and
	// when it is due in real seconds since the first tick (Kahan sum).
	clk       clock
	gap       float64
	due, dueC float64
	elapsed   float64 // trading seconds since the start

	// Alias table (Vose) for picking the next symbol by weight.
	prob  []float64
	alias []int32

	// Model clock and common state, in trading seconds.
	v    float64 // integrated variance multiplier: the integral of h dt
	h    float64 // current variance multiplier (GARCH)
	q    float64 // its slow level
	x, m float64 // stochastic volatility: log level and multiplier exp(x - svMean)

	hmSpread, hmSize float64 // (h m)^0.35 and (h m)^0.75 (setPowers)
	fm               float64 // market factor: Brownian motion run on clock v
	barT             float64 // trading seconds into the current GARCH bar
	barFm            float64 // market factor move over the current bar
	barV             float64 // activity-weighted trading seconds in the current bar

	scn scenarios // see scenariorun.go

	luld    bool            // Config.LULD
	statusq []pendingStatus // status changes made by Next, not yet taken
	seed    int64
	evCfg   Events // Config.Events, checked
	symIdx  map[string]int
}

// New returns a Sim for cfg, or an error wrapping ErrConfig that says what
// is wrong: a symbol that is not valid per market.ValidSymbol, a duplicate
// symbol, a price or tick size that is not positive and finite, a rate,
// speed or weight out of range, or a Resume tick with a bad price.
func New(cfg Config) (*Sim, error) {
	rate := cfg.Rate
	switch {
	case math.IsNaN(rate) || rate < 0 || rate > MaxRate:
		return nil, fmt.Errorf("%w: rate %v out of range [0, %d]", ErrConfig, rate, MaxRate)
	case rate == 0:
		rate = DefaultRate
	}
	speed := cfg.Speed
	switch {
	case math.IsNaN(speed) || speed < 0 || speed > MaxSpeed:
		return nil, fmt.Errorf("%w: speed %v out of range [0, %d]", ErrConfig, speed, MaxSpeed)
	case speed == 0:
		speed = 1
	}
	if cfg.Arrivals != Regular && cfg.Arrivals != Poisson {
		return nil, fmt.Errorf("%w: unknown arrivals %v", ErrConfig, cfg.Arrivals)
	}
	clk, err := newClock(cfg.Session)
	if err != nil {
		return nil, err
	}
	universe := cfg.Universe
	if universe == nil {
		universe = DefaultUniverse()
	} else {
		universe = append([]market.SymbolInfo(nil), universe...)
	}
	if len(universe) == 0 {
		return nil, fmt.Errorf("%w: empty universe", ErrConfig)
	}

	s := &Sim{
		rng:      rand.New(rand.NewPCG(uint64(cfg.Seed), 0x7469636b63617374)), // "tickcast"
		universe: universe,
		syms:     make([]symbol, len(universe)),
		rate:     rate,
		speed:    speed,
		dt:       speed / rate,
		arrivals: cfg.Arrivals,
		clk:      clk,
		h:        1,
		q:        1,
		m:        math.Exp(-svMean),
		luld:     cfg.LULD,
		seed:     cfg.Seed,
	}
	s.setPowers()
	if s.evCfg, err = cfg.Events.check(); err != nil {
		return nil, err
	}
	seen := make(map[string]int, len(universe))
	sectorIdx := make(map[string]int)
	weights := make([]float64, len(universe))
	for i := range universe {
		in := &universe[i]
		if !market.ValidSymbol(in.Symbol) {
			return nil, fmt.Errorf("%w: universe[%d]: %v", ErrConfig, i, checkInfo(in))
		}
		if j, dup := seen[in.Symbol]; dup {
			return nil, fmt.Errorf("%w: duplicate symbol %s (universe[%d] and [%d])", ErrConfig, in.Symbol, j, i)
		}
		seen[in.Symbol] = i
		if err := checkInfo(in); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrConfig, in.Symbol, err)
		}
		w, ok := cfg.Weights[in.Symbol]
		if !ok {
			w = DefaultWeight(in.Symbol)
		}
		if !positive(w) {
			return nil, fmt.Errorf("%w: %s: weight %v is not positive", ErrConfig, in.Symbol, w)
		}
		weights[i] = w
		sec, ok := sectorIdx[in.Sector]
		if !ok {
			sec = len(sectorIdx)
			sectorIdx[in.Sector] = sec
		}
		s.syms[i] = newSymbol(in, sec)
	}
	s.sectors = make([]sector, len(sectorIdx))
	s.symIdx = seen
	s.statusq = make([]pendingStatus, 0, 2*len(universe)+4)
	s.prob, s.alias = aliasTable(weights)

	// Open each symbol not resumed at a small gap from its previous close,
	// with the same factor structure as the moves that follow.
	gm := s.rng.NormFloat64()
	gs := make([]float64, len(s.sectors))
	for i := range gs {
		gs[i] = s.rng.NormFloat64()
	}
	for i := range s.syms {
		st := &s.syms[i]
		g := math.Sqrt(marketShare)*gm + math.Sqrt(sectorShare)*gs[st.sector] +
			math.Sqrt(1-marketShare-sectorShare)*s.rng.NormFloat64()
		st.logMid += openGap * st.vol / math.Sqrt(252) * g
		st.logMid = max(st.logMid, st.minLog)
	}
	for i := range s.syms {
		st := &s.syms[i]
		r, ok := cfg.Resume[st.sym]
		if !ok {
			continue
		}
		if !positive(r.Price) || r.Price > maxPrice || r.Volume < 0 {
			return nil, fmt.Errorf("%w: resume %s: bad price %v or volume %d", ErrConfig, st.sym, r.Price, r.Volume)
		}
		st.logMid = max(math.Log(r.Price), st.minLog)
		st.seq = r.Seq
		st.volume = r.Volume
		st.reopen = r.Status == market.StatusHalted
	}
	if err := s.initScenarios(cfg); err != nil {
		return nil, err
	}
	// The first tick is due at once; drawGap moved Due on, so set it back.
	s.drawGap()
	s.due, s.dueC = 0, 0
	return s, nil
}

// checkInfo fills in the defaults of a symbol (tick size 0.01,
// volatility 0.30) and says what is wrong with it, if anything.
func checkInfo(in *market.SymbolInfo) error {
	if !market.ValidSymbol(in.Symbol) {
		return fmt.Errorf("bad symbol %q (want 1 to %d of A-Z, 0-9, '-')", in.Symbol, market.MaxSymbolLen)
	}
	if in.TickSize == 0 {
		in.TickSize = 0.01
	}
	if in.Volatility == 0 {
		in.Volatility = 0.30
	}
	switch {
	case !positive(in.TickSize):
		return fmt.Errorf("tick size %v is not positive", in.TickSize)
	case !positive(in.PrevClose) || in.PrevClose > maxPrice:
		return fmt.Errorf("prevClose %v is not a positive price", in.PrevClose)
	case in.PrevClose < in.TickSize:
		return fmt.Errorf("prevClose %v is below the tick size %v", in.PrevClose, in.TickSize)
	case !positive(in.Volatility) || in.Volatility > 5:
		return fmt.Errorf("volatility %v out of range (0, 5]", in.Volatility)
	}
	return nil
}

func positive(f float64) bool { return f > 0 && !math.IsInf(f, 1) }

// Universe returns the simulated symbols, with defaults filled in, in the
// order of Config.Universe. The slice is a copy.
func (s *Sim) Universe() []market.SymbolInfo {
	s.uniMu.Lock()
	defer s.uniMu.Unlock()
	return append([]market.SymbolInfo(nil), s.universe...)
}

// UniverseVersion counts the changes to Universe since New: a symbol's
// PrevClose becomes its last price of the session before when it first
// trades in a new one. Safe from any goroutine.
func (s *Sim) UniverseVersion() uint64 {
	s.uniMu.Lock()
	defer s.uniMu.Unlock()
	return s.uniVer
}

// closeSession records price as symbol i's previous close.
func (s *Sim) closeSession(i int, price float64) {
	s.uniMu.Lock()
	defer s.uniMu.Unlock()
	if s.universe[i].PrevClose != price {
		s.universe[i].PrevClose = price
		s.uniVer++
	}
}

// Rate returns the tick rate in ticks per second.
func (s *Sim) Rate() float64 { return s.rate }
