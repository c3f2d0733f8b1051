package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

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

// Model parameters. Variances are in units of a stock's own variance per
// second of trading, so every stock keeps its annualised volatility
// whatever the mix.
const (
	tradingSecondsPerYear = 252 * 6.5 * 3600

	marketShare = 0.30 // of each stock's variance, from the market factor
	sectorShare = 0.30 // from its sector's factor
	jumpRate    = 1.0 / 7200
	jumpSize    = 3.0 // jump standard deviation, in one-minute standard deviations
	jumpShare   = jumpRate * jumpSize * jumpSize * 60
	idioShare   = 1 - marketShare - sectorShare - jumpShare // Student-t noise

	studentDoF = 4 // degrees of freedom of the idiosyncratic shocks

	// Component GARCH (Engle and Lee) on the market's variance multiplier
	// h (long-run mean 1), updated from the market factor's move over each
	// bar: a fast part (alpha, beta: storms that pass in minutes) around
	// a slow level q (rho, phi: calm and stormy hours).
	garchBar   = 10.0 // seconds of trading
	garchAlpha = 0.07
	garchBeta  = 0.91
	garchRho   = 0.998 // q's persistence per bar: a half-life of about an hour
	garchPhi   = 0.02
	qMin, qMax = 0.1, 10.0
	hMin, hMax = 0.1, 25.0

	openGap = 0.25 // sd of the opening gap from PrevClose, in daily sds

	spreadCoef     = 4e-4 // spread ~ spreadCoef * annual vol * price, at h = 1
	maxSpreadTicks = 200
	insideProb     = 0.1 // trades inside the spread, when it is 2+ ticks

	oddLotProb = 0.2 // a trade of less than a round lot
	lotAlpha   = 1.6 // Pareto tail of round-lot counts
	maxLots    = 500

	maxPrice = 1e9
)

// Sim is the price model. It is not safe for concurrent use: one
// goroutine calls Next or Run. SetScenario and Scenario are the
// exceptions: any goroutine may call them at any time.
type Sim struct {
	rng      *rand.Rand
	universe []market.SymbolInfo
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
	v     float64 // integrated variance multiplier: the integral of h dt
	h     float64 // current variance multiplier (GARCH)
	q     float64 // its slow level
	fm    float64 // market factor: Brownian motion run on clock v
	barT  float64 // trading seconds into the current GARCH bar
	barFm float64 // market factor move over the current bar
	barV  float64 // activity-weighted trading seconds in the current bar

	scn scenarios // see scenario.go
}

// sector is a sector factor, advanced lazily when one of its stocks ticks.
type sector struct {
	f float64 // Brownian motion run on clock v
	v float64 // the v at which f was last advanced
}

// symbol is one stock's state.
type symbol struct {
	sym      string
	sector   int
	sigma    float64 // per sqrt(trading second)
	vol      float64 // annualised
	tick     float64 // tick size
	den      float64 // 1/tick when that is a whole number, else 0
	lot      int64   // round lot
	logMid   float64 // log of the latent mid price
	minLog   float64
	seq      uint64
	volume   int64
	fm, fs   float64 // market and sector factor at the last tick
	v        float64 // s.v at the last tick
	session  int64   // the session of the last tick; Volume is per session
	spreadPr float64 // spreadCoef * vol / tick, per unit of mid price

	bid, ask, px int64   // the last tick's quote and trade, in ticks (0: none yet)
	crash        float64 // the flash-crash offset in logMid since its last tick
	reopen       bool    // resumed from a halted tick: the next one says "open"
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

func newSymbol(in *market.SymbolInfo, sec int) symbol {
	st := symbol{
		sym:      in.Symbol,
		sector:   sec,
		vol:      in.Volatility,
		sigma:    in.Volatility / math.Sqrt(tradingSecondsPerYear),
		tick:     in.TickSize,
		logMid:   math.Log(in.PrevClose),
		minLog:   math.Log(in.TickSize),
		spreadPr: spreadCoef * in.Volatility / in.TickSize,
	}
	if k := math.Round(1 / in.TickSize); k >= 1 && math.Abs(k*in.TickSize-1) < 1e-12 {
		st.den = k
	}
	// US round lots by price (SEC, 2025): 100 shares up to $250, 40 up
	// to $1,000, 10 up to $10,000, then 1.
	switch p := in.PrevClose; {
	case p <= 250:
		st.lot = 100
	case p <= 1000:
		st.lot = 40
	case p <= 10000:
		st.lot = 10
	default:
		st.lot = 1
	}
	return st
}

// aliasTable builds Vose's alias tables for sampling index i with
// probability weights[i] / sum(weights).
func aliasTable(weights []float64) ([]float64, []int32) {
	n := len(weights)
	var sum float64
	for _, w := range weights {
		sum += w
	}
	prob := make([]float64, n)
	alias := make([]int32, n)
	scaled := make([]float64, n)
	var small, large []int32
	for i, w := range weights {
		scaled[i] = w * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		l, g := small[len(small)-1], large[len(large)-1]
		small, large = small[:len(small)-1], large[:len(large)-1]
		prob[l], alias[l] = scaled[l], g
		scaled[g] += scaled[l] - 1
		if scaled[g] < 1 {
			small = append(small, g)
		} else {
			large = append(large, g)
		}
	}
	for _, i := range large {
		prob[i], alias[i] = 1, i
	}
	for _, i := range small { // only from rounding
		prob[i], alias[i] = 1, i
	}
	return prob, alias
}

// Universe returns the simulated symbols, with defaults filled in, in the
// order of Config.Universe. The slice is a copy.
func (s *Sim) Universe() []market.SymbolInfo {
	return append([]market.SymbolInfo(nil), s.universe...)
}

// Rate returns the tick rate in ticks per second.
func (s *Sim) Rate() float64 { return s.rate }

// Next returns the next tick, stamped now (in UTC). It moves the model
// clock on by one tick interval whatever now is, so the ticks depend only
// on the Config and on how many times Next has been called: now is only
// the stamp, and must not be zero (market.Tick.Validate rejects a tick
// without a time). It does not allocate.
func (s *Sim) Next(now time.Time) market.Tick {
	if s.scn.live || s.scn.pending.Load() {
		s.stepScenario(now)
	}
	s.advance()
	act := s.clk.act

	// Pick the symbol: a halt's first or last tick, or at random by
	// weight, never a halted symbol.
	forced, isForced := s.scn.popForced()
	i := forced.sym
	if !isForced {
		i = s.pick()
		for i == s.scn.halted {
			i = s.pick()
		}
	}
	st := &s.syms[i]
	if forced.status == market.StatusHalted {
		return s.haltTick(st, now)
	}

	// Bring the sector factor up to now.
	sec := &s.sectors[st.sector]
	if d := s.v - sec.v; d > 0 {
		sec.f += math.Sqrt(d) * s.rng.NormFloat64()
		sec.v = s.v
	}

	// The log return since this symbol's last tick: its share of the
	// market and sector moves over the interval, Student-t noise and a
	// rare jump, all on the GARCH clock v; minus the Itô drift, so the
	// mid is a martingale.
	dv := s.v - st.v
	r := math.Sqrt(marketShare)*(s.fm-st.fm) + math.Sqrt(sectorShare)*(sec.f-st.fs) +
		math.Sqrt(idioShare*dv)*s.studentT()
	if s.rng.Float64() < jumpRate*dv {
		r += jumpSize * math.Sqrt(60) * s.rng.NormFloat64()
	}
	r = st.sigma*r - 0.5*st.sigma*st.sigma*dv
	// Scenarios: a reopening's jump, and the symbol's catch-up to the
	// market's flash-crash offset.
	r += forced.jump + s.scn.crashOff - st.crash
	st.crash = s.scn.crashOff
	st.fm, st.fs, st.v = s.fm, sec.f, s.v
	st.logMid = min(max(st.logMid+r, st.minLog), math.Log(maxPrice))
	mid := math.Exp(st.logMid)

	// Quote: a spread of a few ticks, wider for volatile stocks and in
	// volatile markets, centred on the mid; the bid is at least one tick.
	n := int64(math.Round(st.spreadPr * mid * math.Sqrt(s.h*act*s.scn.vari) * (0.75 + 0.5*s.rng.Float64())))
	n = min(max(n, 1), maxSpreadTicks)
	bid := int64(math.Round(mid/st.tick - float64(n)/2))
	bid = max(bid, 1)
	ask := bid + n

	// Trade: at the ask (buyer) or the bid (seller), more often on the
	// side the price moved, sometimes inside the spread.
	var px int64
	pBuy := 0.5
	if r > 0 {
		pBuy = 0.7
	} else if r < 0 {
		pBuy = 0.3
	}
	switch u := s.rng.Float64(); {
	case n >= 2 && u < insideProb:
		px = bid + 1 + s.rng.Int64N(n-1)
	case u < insideProb+(1-insideProb)*pBuy:
		px = ask
	default:
		px = bid
	}

	// Size: mostly round lots with a heavy (Pareto) tail, larger when
	// the market is busy; some odd lots.
	var size int64
	if st.lot > 1 && s.rng.Float64() < oddLotProb {
		size = 1 + s.rng.Int64N(st.lot-1)
	} else {
		lots := int64(math.Sqrt(act) * math.Exp(-math.Log(1-s.rng.Float64())/lotAlpha))
		size = min(max(lots, 1), maxLots) * st.lot
	}

	if st.session != s.clk.session {
		st.session = s.clk.session
		st.volume = 0
	}
	st.seq++
	st.volume += size
	st.bid, st.ask, st.px = bid, ask, px
	status := forced.status
	if st.reopen {
		status, st.reopen = market.StatusOpen, false
	}
	s.drawGap()
	return market.Tick{
		Symbol: st.sym,
		Seq:    st.seq,
		Time:   now.UTC(),
		Price:  st.price(px),
		Bid:    st.price(bid),
		Ask:    st.price(ask),
		Size:   size,
		Volume: st.volume,
		Status: status,
	}
}

// pick picks a symbol at random by weight: a uniform column, then its
// alias by probability.
func (s *Sim) pick() int {
	i := s.rng.IntN(len(s.prob))
	if s.rng.Float64() >= s.prob[i] {
		i = int(s.alias[i])
	}
	return i
}

// advance moves the model clock on to the next tick: the market factor
// moves, and at the end of each bar the GARCH variance is updated from the
// bar's market move. Variance runs at h times the session's activity.
func (s *Sim) advance() {
	dt := s.gap
	s.elapsed += dt
	s.clk.advance(dt)
	a := s.clk.act * dt * s.scn.vari
	dv := s.h * a
	dfm := math.Sqrt(dv) * s.rng.NormFloat64()
	s.fm += dfm
	s.v += dv
	s.barT += dt
	s.barV += a
	s.barFm += dfm
	if s.barT >= garchBar {
		// eps2 is the bar's squared move per second of trading, net of
		// the intraday pattern (h when nothing unusual happens).
		//   q' = 1 + rho (q - 1) + phi (eps2 - h)
		//   h' = q' + alpha (eps2 - q) + beta (h - q)
		eps2 := s.barFm * s.barFm / s.barV
		q := 1 + garchRho*(s.q-1) + garchPhi*(eps2-s.h)
		h := q + garchAlpha*(eps2-s.q) + garchBeta*(s.h-s.q)
		s.q = min(max(q, qMin), qMax)
		s.h = min(max(h, hMin), hMax)
		s.barT, s.barV, s.barFm = 0, 0, 0
	}
}

// studentT returns a Student-t variate with studentDoF (4) degrees of
// freedom, scaled to unit variance.
func (s *Sim) studentT() float64 {
	// chi-squared with 4 degrees of freedom is -2 ln(U1 U2).
	chi2 := -2 * math.Log((1-s.rng.Float64())*(1-s.rng.Float64()))
	if chi2 == 0 {
		return 0
	}
	const unit = 0.7071067811865476 // sqrt((dof-2)/dof)
	return unit * s.rng.NormFloat64() / math.Sqrt(chi2/studentDoF)
}

// price converts ticks to a price, exactly on the grid where it can be.
func (st *symbol) price(ticks int64) float64 {
	if st.den != 0 {
		return float64(ticks) / st.den
	}
	return float64(ticks) * st.tick
}
