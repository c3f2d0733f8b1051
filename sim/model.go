package sim

// The price model's step: the model parameters, a stock's state, and
// Next, which moves the model clock on and makes one tick. The Sim type,
// its Config and New are in sim.go. Over 400 lines because the
// parameters, Next and the helpers it calls per tick (limit bands,
// session roll-over, the variance clock) are one hot path, read together.

import (
	"math"
	"time"

	"github.com/tickcast/tickcast/market"
)

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
	garchGamma = 0.5 // GJR asymmetry: a fall's squared move counts 1.5 times, a rise's 0.5

	// Stochastic volatility: the variance multiplier is also m = exp(x),
	// x an AR(1) over the GARCH bars with a half-life of about 30
	// minutes of trading and a stationary sd of svSD, its shocks
	// correlated svRho with the market's standardised move (falls raise
	// volatility: the leverage effect). svMean makes E[m] = 1.
	svPhi      = 0.99616 // 0.5^(1/180)
	svSD       = 0.55
	svEta      = svSD * 0.08755 // svSD * sqrt(1 - svPhi^2)
	svRho      = -0.6
	svMean     = svSD * svSD / 2
	hMin, hMax = 0.1, 25.0

	openGap = 0.25 // sd of the opening gap from PrevClose, in daily sds

	spreadCoef     = 4e-4 // spread ~ spreadCoef * annual vol * price, at h = 1
	maxSpreadTicks = 200
	insideProb     = 0.1 // trades inside the spread, when it is 2+ ticks

	oddLotProb = 0.2 // a trade of less than a round lot
	sizeBase   = 0.1 // trade size ~ sizeBase + sizeMove * |move in sds| (mean about 1)
	sizeMove   = 1.1
	lotAlpha   = 1.6 // Pareto tail of round-lot counts
	maxLots    = 500

	maxPrice = 1e9
)

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

	bid, ask, px int64 // the last tick's quote and trade, in ticks (0: none yet)
	meta         [metaOrders]metaorder
	crash        float64 // the flash-crash offset in logMid since its last tick
	reopen       bool    // resumed from a halted tick: the next one says "open"

	regPx   int64 // the last regular-session trade, in ticks: the day's close
	openDay int64 // 1 + the session whose opening trade it has made

	// Limit up/limit down (Config.LULD): the band's reference price
	// (an average of recent trades; 0: none yet), when it was last
	// moved (s.elapsed), and the limit state's end (0: trading).
	ref, refT  float64
	limitUntil float64
	limited    bool
}

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
		for try := 0; i == s.scn.halted || s.syms[i].limitUntil > s.elapsed; try++ {
			if try >= 100 && i != s.scn.halted {
				s.syms[i].limitUntil = s.elapsed // all paused: end this one's pause early
				break
			}
			i = s.pick()
		}
	}
	st := &s.syms[i]
	if forced.status == market.StatusHalted {
		return s.haltTick(st, now)
	}
	if forced.status == market.StatusOpen {
		st.ref = 0 // a halt's reopening sets a new band reference
	}
	if st.limited {
		// The limit state is over: trading resumes, the band recentred
		// on the first trade.
		st.limited, st.ref = false, 0
		s.queueStatus(i, market.StateOpen, "limit state ended", 0, 0)
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
	// How big this move is against its own sd: bigger moves come with
	// bigger trades (volume goes with volatility).
	zr := 1.0
	if dv > 0 {
		zr = min(math.Abs(r)/math.Sqrt(dv), 6)
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
	n := int64(math.Round(st.spreadPr * mid * s.spreadScale(s.clk.spreadDay) * (0.75 + 0.5*s.rng.Float64())))
	n = min(max(n, 1), maxSpreadTicks)
	bid := int64(math.Round(mid/st.tick - float64(n)/2))
	bid = max(bid, 1)
	ask := bid + n

	// Trade: a buyer at the ask or a seller at the bid, sometimes
	// inside the spread; the side from a metaorder, or more often on
	// the side the price moved.
	var px int64
	side := market.SideSell
	if s.tradeSign(st, r) > 0 {
		side = market.SideBuy
	}
	switch {
	case n >= 2 && s.rng.Float64() < insideProb:
		px = bid + 1 + s.rng.Int64N(n-1)
	case side == market.SideBuy:
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
		// Larger when the market is busy or volatile, and with the move.
		busy := math.Sqrt(act) * s.hmSize * (sizeBase + sizeMove*zr)
		lots := int64(busy * math.Exp(-math.Log(1-s.rng.Float64())/lotAlpha))
		size = min(max(lots, 1), maxLots) * st.lot
	}

	if st.session != s.clk.session {
		s.rollSession(i, st)
	}
	var cond market.Conditions
	switch s.clk.phase {
	case phaseRegular:
		if s.luld {
			bid, ask, px = s.checkBand(i, st, bid, ask, px, n)
		}
		st.regPx = px
		if st.openDay != s.clk.session+1 && s.clk.on {
			st.openDay = s.clk.session + 1
			cond = condOpening
		}
	case phasePre, phaseAfter:
		cond = condExtended
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
		Symbol:     st.sym,
		Seq:        st.seq,
		Time:       now.UTC(),
		Price:      st.price(px),
		Bid:        st.price(bid),
		Ask:        st.price(ask),
		Size:       size,
		Volume:     st.volume,
		Status:     status,
		MarketTime: s.clk.marketTime(0),
		Conditions: cond,
		Side:       side,
	}
}

// Trade conditions Next and the closing cross use.
const (
	condOpening  = market.Conditions(market.CondOpening)
	condClosing  = market.Conditions(market.CondClosing)
	condExtended = market.Conditions(market.CondExtended)
)

// rollSession starts symbol i's new trading day: the last day's close
// (its last regular-session trade) becomes its previous close, and its
// volume starts again.
func (s *Sim) rollSession(i int, st *symbol) {
	switch {
	case st.regPx != 0:
		s.closeSession(i, st.price(st.regPx))
	case st.px != 0:
		s.closeSession(i, st.price(st.px))
	}
	st.session = s.clk.session
	st.volume = 0
	st.regPx = 0
	st.ref = 0
}

// LULD parameters: the band is 5% either side of the reference price
// (10% at $3 and below), the reference an average of the trades of
// the last five minutes or so; a limit state lasts 15 s of market time,
// and at least 5 s of real time so that a compressed session shows it.
const (
	luldBand    = 0.05
	luldBandLow = 0.10
	luldRef     = 300.0 // seconds of trading: the reference's time constant
	luldPause   = 15.0
	luldPauseRT = 5.0
)

// checkBand keeps symbol i's trade inside its price band: a trade that
// would cross it prints at the band instead, with the quote pinned to
// it, and the symbol enters a limit state (no trades) for a while.
func (s *Sim) checkBand(i int, st *symbol, bid, ask, px, n int64) (int64, int64, int64) {
	if st.ref == 0 {
		st.ref, st.refT = st.price(px), s.elapsed
		return bid, ask, px
	}
	pct := luldBand
	if st.ref <= 3 {
		pct = luldBandLow
	}
	lo := int64(math.Ceil(st.ref * (1 - pct) / st.tick))
	hi := int64(math.Floor(st.ref * (1 + pct) / st.tick))
	switch {
	case px > hi:
		px, ask, bid = hi, hi, max(hi-n, 1)
		s.enterLimit(i, st, market.StateLimitUp, lo, hi)
	case px < lo && lo > 1:
		px, bid, ask = lo, lo, lo+n
		s.enterLimit(i, st, market.StateLimitDown, lo, hi)
	}
	w := 1 - math.Exp(-(s.elapsed-st.refT)/luldRef)
	st.ref += w * (st.price(px) - st.ref)
	st.refT = s.elapsed
	return bid, ask, px
}

func (s *Sim) enterLimit(i int, st *symbol, state string, lo, hi int64) {
	st.limited = true
	st.limitUntil = s.elapsed + max(luldPause, luldPauseRT*s.speed)
	s.queueStatus(i, state, "price band reached", st.price(lo), st.price(hi))
}

// pendingStatus is a status change Next made, for the event loop.
type pendingStatus struct {
	sym    int
	state  string
	reason string
	lo, hi float64
	market time.Time
}

// queueStatus records a status change of symbol i for Statuses; the
// queue is bounded (one entry per symbol and state change pending).
func (s *Sim) queueStatus(i int, state, reason string, lo, hi float64) {
	if len(s.statusq) == cap(s.statusq) {
		return // never in practice: the event loop drains it after every Next
	}
	s.statusq = append(s.statusq, pendingStatus{sym: i, state: state, reason: reason, lo: lo, hi: hi, market: s.clk.marketTime(0)})
}

// spreadScale is how the spread widens with the variance multiplier
// (h m, and a scenario's) and the time of day (day: the clock's
// spreadDay, widest at the open): (h m vari)^0.35 day, from the powers
// cached when h, m and the clock change.
func (s *Sim) spreadScale(day float64) float64 {
	v := s.hmSpread * day
	if s.scn.vari != 1 {
		v *= math.Pow(s.scn.vari, 0.35)
	}
	return v
}

// setPowers caches the powers of h m that spreads and sizes use.
func (s *Sim) setPowers() {
	hm := s.h * s.m
	s.hmSpread = math.Pow(hm, 0.35)
	s.hmSize = math.Pow(hm, 0.75)
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
	dv := s.h * s.m * a
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
		// The move is also net of the stochastic-volatility level m.
		// Falls count for more than rises (GJR): the leverage effect.
		z := s.barFm / math.Sqrt(s.barV*s.h*s.m) // the bar's move in its own sds
		eps2 := s.barFm * s.barFm / (s.barV * s.m)
		if s.barFm < 0 {
			eps2 *= 1 + garchGamma
		} else {
			eps2 *= 1 - garchGamma
		}
		q := 1 + garchRho*(s.q-1) + garchPhi*(eps2-s.h)
		h := q + garchAlpha*(eps2-s.q) + garchBeta*(s.h-s.q)
		s.q = min(max(q, qMin), qMax)
		s.h = min(max(h, hMin), hMax)
		// log m: an AR(1) whose shocks go against the market's moves.
		z = min(max(z, -6), 6)
		s.x = svPhi*s.x + svEta*(svRho*z+math.Sqrt(1-svRho*svRho)*s.rng.NormFloat64())
		s.m = math.Exp(s.x - svMean)
		s.setPowers()
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
