package sim

// The market events beside ticks (docs/events-design.md): quotes, bars,
// status changes and the market clock, made by Run for an
// EventPublisher. This file is over 400 lines because the event loop,
// its schedule and each event's making share one state (evState) that
// is clearer read in one place.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tickcast/tickcast/market"
)

// EventPublisher is a Publisher that also takes the other event types
// (implemented by feed's Pipeline and Conn). Run sends them all when its
// Publisher is one; to a plain Publisher, only ticks.
type EventPublisher interface {
	Publisher
	PublishQuote(ctx context.Context, q market.Quote) error
	PublishBar(ctx context.Context, b market.Bar) error
	PublishStatus(ctx context.Context, s market.Status) error
	PublishClock(ctx context.Context, c market.Clock) error
}

// Events configures the events Run makes beside ticks.
type Events struct {
	// QuotesPerTrade is how many quotes come per trade, about: after a
	// trade that moved the quote, and between trades as a Poisson
	// process at QuotesPerTrade-1 times the trade rate. 0 means
	// DefaultQuotesPerTrade; negative, no quotes.
	QuotesPerTrade float64
	// Bars are the bar intervals to build ("1s", "1m"); nil means both,
	// an empty slice none.
	Bars []string
	// Resume holds the counters of a stream to continue (feed's
	// LastCounters): each symbol's quote, bar and status seq, and the
	// clock's.
	Resume market.Counters
	// ClockEvery is how often a clock event goes out besides at phase
	// changes, in real time; 0 means 10 s.
	ClockEvery time.Duration
	// BookEvery is the least time between two book events of a symbol
	// (a BookPublisher gets each changed book at most this often); 0
	// means DefaultBookEvery, negative no book events.
	BookEvery time.Duration
}

// DefaultQuotesPerTrade is the quote-to-trade ratio of Events with
// QuotesPerTrade 0.
const DefaultQuotesPerTrade = 8

// MaxQuotesPerTrade is the highest QuotesPerTrade New accepts.
const MaxQuotesPerTrade = 100

func (ev Events) check() (Events, error) {
	switch q := ev.QuotesPerTrade; {
	case math.IsNaN(q) || q > MaxQuotesPerTrade:
		return ev, fmt.Errorf("%w: quotes per trade %v out of range (at most %d)", ErrConfig, q, MaxQuotesPerTrade)
	case q == 0:
		ev.QuotesPerTrade = DefaultQuotesPerTrade
	case q < 0:
		ev.QuotesPerTrade = 0
	}
	if ev.Bars == nil {
		ev.Bars = []string{market.Interval1s, market.Interval1m}
	}
	for _, iv := range ev.Bars {
		if _, ok := market.IntervalDuration(iv); !ok {
			return ev, fmt.Errorf("%w: bar interval %q (want 1s or 1m)", ErrConfig, iv)
		}
	}
	if ev.ClockEvery <= 0 {
		ev.ClockEvery = 10 * time.Second
	}
	if ev.BookEvery == 0 {
		ev.BookEvery = DefaultBookEvery
	}
	return ev, nil
}

// Bars with no trades: a bar closes every interval for every symbol that
// has traded (or was resumed), with OHLC at its last close and volume 0
// when nothing traded, so a chart's candles stay contiguous, except
// while the market is closed, when empty bars are left out.

// barAcc is one symbol's bar in progress for one interval.
type barAcc struct {
	seq            uint64
	mstart         time.Time
	o, h, l, c     float64
	vol, n         int64
	last           float64 // the last close (0: never traded)
	startAt, endAt time.Time
}

type barIv struct {
	name string
	d    time.Duration
	next time.Time // when the bars in progress close
	accs []barAcc  // by symbol
}

// evState is Run's event state.
type evState struct {
	cfg   Events
	rng   *rand.Rand // quotes' randomness, apart from the ticks'
	start time.Time

	qdue float64 // next between-trades quote, real seconds since start
	qseq []uint64
	bk   *bookState // the books, whose top is the last quote (bookevents.go)
	sseq []uint64
	cseq uint64
	bars []barIv

	// The clock: the phase and session last announced, the model
	// clock's state there, and when the next change is due.
	annPhase   int8
	annSession int64
	annClk     clock
	phaseAt    time.Time
	nextClk    clock // the state at phaseAt
	nextClock  time.Time

	// Where market time stands: at wall time baseWall, market time
	// baseMkt; it runs at speed from there.
	baseWall, baseMkt time.Time
	lastTick          time.Time
}

func (s *Sim) newEvState(start time.Time, pub EventPublisher) *evState {
	e := &evState{cfg: s.evCfg, start: start,
		rng:  rand.New(rand.NewPCG(uint64(s.seed), 0x71756f746573)), // "quotes"
		qseq: make([]uint64, len(s.syms)), sseq: make([]uint64, len(s.syms)),
		annPhase: -1, annSession: -1, nextClock: start.Add(s.evCfg.ClockEvery),
		baseWall: start, baseMkt: s.clk.marketTime(0), lastTick: start,
	}
	e.bk = newBookState(s, pub, start)
	r := e.cfg.Resume
	e.cseq = r.Clock.Seq
	for i := range s.syms {
		e.qseq[i] = r.Quotes[s.syms[i].sym]
		e.sseq[i] = r.Status[s.syms[i].sym]
	}
	for _, iv := range e.cfg.Bars {
		d, _ := market.IntervalDuration(iv)
		b := barIv{name: iv, d: d, next: start.Truncate(d).Add(d), accs: make([]barAcc, len(s.syms))}
		for i := range b.accs {
			a := &b.accs[i]
			a.seq = r.Bars[market.BarKey(s.syms[i].sym, iv)]
			a.startAt, a.endAt = start.Truncate(d), b.next
			a.mstart = e.marketAt(s, a.startAt)
			if st := &s.syms[i]; st.seq > 0 {
				a.last = math.Exp(st.logMid) // resumed: its last price
				if st.px != 0 {
					a.last = st.price(st.px)
				}
			}
		}
		e.bars = append(e.bars, b)
	}
	e.qdue = e.quoteGap(s)
	return e
}

// marketAt is the market time at wall time w, extrapolated at speed from
// the last tick or announcement.
func (e *evState) marketAt(s *Sim, w time.Time) time.Time {
	d := w.Sub(e.baseWall)
	if d < 0 {
		d = 0
	}
	return e.baseMkt.Add(time.Duration(float64(d) * s.speed)).UTC()
}

// quoteGap draws the real time from now to the next between-trades
// quote, at QuotesPerTrade-1 times the current trade rate (+Inf when
// there are none: no quotes configured, or the market is closed).
func (e *evState) quoteGap(s *Sim) float64 {
	rate := (e.cfg.QuotesPerTrade - 1) * s.rate * s.clk.act * s.scn.rate
	if rate <= 0 || e.annPhase == phaseClosed {
		return math.Inf(1)
	}
	return e.rng.ExpFloat64() / rate
}

func wallAt(start time.Time, sec float64) time.Time {
	if math.IsInf(sec, 1) || sec > 1e12 {
		return start.Add(1 << 62)
	}
	return start.Add(time.Duration(sec * float64(time.Second)))
}

// runEvents is Run with every event type.
func (s *Sim) runEvents(ctx context.Context, pub EventPublisher) error {
	start := time.Now()
	e := s.newEvState(start, pub)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	if err := e.announce(ctx, s, pub, start, s.clk); err != nil {
		return err
	}
	e.schedulePhase(s)
	for {
		at, kind, which := e.next(s)
		if !waitUntil(ctx, timer, at) {
			return nil
		}
		if err := e.do(ctx, s, pub, at, kind, which); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sim: publish: %w", err)
		}
	}
}

// The kinds of event the loop schedules.
const (
	evTick = iota
	evQuote
	evBar
	evClock
	evPhase
	evBook
)

// next returns the event due first: when, its kind and, for bars, which
// interval.
func (e *evState) next(s *Sim) (at time.Time, kind, which int) {
	at, kind = e.start.Add(s.Due()), evTick
	if q := wallAt(e.start, e.qdue); q.Before(at) {
		at, kind = q, evQuote
	}
	if e.phaseAt.Before(at) {
		at, kind = e.phaseAt, evPhase
	}
	for k := range e.bars {
		if !e.bars[k].next.After(at) {
			at, kind, which = e.bars[k].next, evBar, k
		}
	}
	if e.nextClock.Before(at) {
		at, kind = e.nextClock, evClock
	}
	if b := e.bk.due(e.start); b.Before(at) {
		at, kind = b, evBook
	}
	return at, kind, which
}

// do makes and publishes the event next returned.
func (e *evState) do(ctx context.Context, s *Sim, pub EventPublisher, at time.Time, kind, which int) error {
	switch kind {
	case evTick:
		return e.tick(ctx, s, pub, at)
	case evQuote:
		return e.quote(ctx, s, pub, at)
	case evBar:
		return e.closeBars(ctx, s, pub, which)
	case evClock:
		e.nextClock = e.nextClock.Add(e.cfg.ClockEvery)
		return e.clockEvent(ctx, s, pub, at, e.marketAt(s, at), e.annClk)
	case evPhase:
		e.baseWall, e.baseMkt = at, e.nextClk.marketTime(0).Truncate(time.Second)
		err := e.announce(ctx, s, pub, at, e.nextClk)
		e.schedulePhase(s)
		return err
	case evBook:
		return e.bk.flush(ctx, s, e, at)
	}
	return nil
}

// tick makes and publishes the next tick, with what follows from it: a
// phase change, status changes, the quote it moved, its bars.
func (e *evState) tick(ctx context.Context, s *Sim, pub EventPublisher, at time.Time) error {
	t := s.Next(at)
	e.lastTick, e.baseWall, e.baseMkt = at, at, t.MarketTime
	if s.clk.phase != e.annPhase || s.clk.session != e.annSession {
		if err := e.announce(ctx, s, pub, at, s.clk); err != nil {
			return err
		}
	}
	e.schedulePhase(s)
	if err := e.trade(ctx, s, pub, t); err != nil {
		return err
	}
	if t.Status != "" {
		st := market.Status{Symbol: t.Symbol, Time: t.Time, MarketTime: t.MarketTime, State: market.StateHalted, Reason: "halt"}
		if t.Status == market.StatusOpen {
			st.State, st.Reason = market.StateOpen, "halt ended"
		}
		if err := e.status(ctx, s, pub, s.index(t.Symbol), st); err != nil {
			return err
		}
	}
	for _, ps := range s.statusq {
		st := market.Status{Symbol: s.syms[ps.sym].sym, Time: at.UTC(), MarketTime: ps.market, State: ps.state, Reason: ps.reason,
			BandLow: ps.lo, BandHigh: ps.hi}
		if err := e.status(ctx, s, pub, ps.sym, st); err != nil {
			return err
		}
	}
	s.statusq = s.statusq[:0]
	if math.IsInf(e.qdue, 1) {
		e.qdue = at.Sub(e.start).Seconds() + e.quoteGap(s)
	}
	return nil
}

// trade publishes tick t, adds it to its bars and publishes the quote it
// moved.
func (e *evState) trade(ctx context.Context, s *Sim, pub EventPublisher, t market.Tick) error {
	if err := pub.Publish(ctx, t); err != nil {
		return fmt.Errorf("%s: %w", t.Symbol, err)
	}
	i := s.index(t.Symbol)
	if t.Size > 0 {
		for k := range e.bars {
			a := &e.bars[k].accs[i]
			if a.n == 0 {
				a.o, a.h, a.l = t.Price, t.Price, t.Price
			}
			a.h, a.l, a.c = max(a.h, t.Price), min(a.l, t.Price), t.Price
			a.vol += t.Size
			a.n++
			a.last = t.Price
		}
	}
	// The book follows the quote the trade moved, gives up what the
	// trade took at the touch, and the quote goes out when either
	// changed it (a halted symbol's book stays as it was).
	st := &s.syms[i]
	if t.Status == market.StatusHalted || st.ask == 0 {
		return nil
	}
	bk := &e.bk.books[i]
	changed := bk.bid != st.bid || bk.ask != st.ask
	if changed {
		e.bk.move(s, i, st.bid, st.ask)
	}
	if e.bk.trade(s, i, &t, st.px) {
		changed = true
	}
	if changed && e.cfg.QuotesPerTrade > 0 {
		return e.publishQuote(ctx, s, pub, i, t.Time, t.MarketTime)
	}
	return nil
}

// quote publishes a quote between trades: a symbol by weight, its quote
// around its latent mid moved by the market since its last tick.
func (e *evState) quote(ctx context.Context, s *Sim, pub EventPublisher, at time.Time) error {
	e.qdue += e.quoteGap(s)
	i := e.rng.IntN(len(s.prob))
	if e.rng.Float64() >= s.prob[i] {
		i = int(s.alias[i])
	}
	st := &s.syms[i]
	if st.px == 0 || i == s.scn.halted || st.limited || e.annPhase == phaseClosed {
		return nil
	}
	mid := math.Exp(st.logMid + st.sigma*math.Sqrt(marketShare)*(s.fm-st.fm))
	n := int64(math.Round(st.spreadPr * mid * s.spreadScale(max(s.clk.spreadDay, extActSpread)) * (0.75 + 0.5*e.rng.Float64())))
	n = min(max(n, 1), maxSpreadTicks)
	bid := max(int64(math.Round(mid/st.tick-float64(n)/2)), 1)
	e.bk.move(s, i, bid, bid+n)
	return e.publishQuote(ctx, s, pub, i, at.UTC(), e.marketAt(s, at))
}

// publishQuote publishes symbol i's quote: the top of its book.
func (e *evState) publishQuote(ctx context.Context, s *Sim, pub EventPublisher, i int, at, mkt time.Time) error {
	st := &s.syms[i]
	bk := &e.bk.books[i]
	e.qseq[i]++
	q := market.Quote{Symbol: st.sym, Seq: e.qseq[i], Time: at, MarketTime: mkt, Bid: st.price(bk.bid), Ask: st.price(bk.ask),
		BidSize: bk.bids[0], AskSize: bk.asks[0]}
	if err := pub.PublishQuote(ctx, q); err != nil {
		return fmt.Errorf("quote %s: %w", st.sym, err)
	}
	return nil
}

func (e *evState) status(ctx context.Context, s *Sim, pub EventPublisher, i int, st market.Status) error {
	e.sseq[i]++
	st.Seq = e.sseq[i]
	if err := pub.PublishStatus(ctx, st); err != nil {
		return fmt.Errorf("status %s: %w", st.Symbol, err)
	}
	return nil
}

// closeBars publishes the bars of interval k that close now, and starts
// the next ones.
func (e *evState) closeBars(ctx context.Context, s *Sim, pub EventPublisher, k int) error {
	b := &e.bars[k]
	end := b.next
	b.next = end.Add(b.d)
	mstart := e.marketAt(s, end)
	for i := range b.accs {
		a := &b.accs[i]
		if a.n > 0 || a.last > 0 && e.annPhase != phaseClosed {
			if a.n == 0 {
				a.o, a.h, a.l, a.c = a.last, a.last, a.last, a.last
			}
			a.seq++
			bar := market.Bar{Symbol: s.syms[i].sym, Interval: b.name, Seq: a.seq, Start: a.startAt.UTC(), End: end.UTC(),
				MarketStart: a.mstart, Open: a.o, High: a.h, Low: a.l, Close: a.c, Volume: a.vol, Trades: a.n}
			if err := pub.PublishBar(ctx, bar); err != nil {
				return fmt.Errorf("bar %s: %w", bar.Symbol, err)
			}
		}
		a.n, a.vol = 0, 0
		a.startAt, a.endAt, a.mstart = end, b.next, mstart
	}
	return nil
}

// announce publishes a clock event for the model clock state c (the
// market entering a phase, or a new trading day) and, when a regular
// session ends, every symbol's closing trade.
func (e *evState) announce(ctx context.Context, s *Sim, pub EventPublisher, at time.Time, c clock) error {
	prev, prevSession := e.annPhase, e.annSession
	e.annPhase, e.annSession, e.annClk = c.phase, c.session, c
	mkt := e.marketAt(s, at)
	if prev == phaseRegular && (c.phase != phaseRegular || c.session != prevSession) {
		for i := range s.syms {
			st := &s.syms[i]
			if st.regPx == 0 || st.session != prevSession {
				continue
			}
			if err := e.trade(ctx, s, pub, s.closingTick(st, at, mkt)); err != nil {
				return err
			}
		}
	}
	return e.clockEvent(ctx, s, pub, at, mkt, c)
}

// clockEvent publishes the clock as it stands in state c.
func (e *evState) clockEvent(ctx context.Context, s *Sim, pub EventPublisher, at, mkt time.Time, c clock) error {
	e.cseq++
	k := market.Clock{Seq: e.cseq, Time: at.UTC(), MarketTime: mkt, Phase: phaseNames[c.phase], Speed: s.speed, TZ: market.MarketTZ}
	d, _ := c.toNextPhase()
	if math.IsInf(d, 1) {
		k.NextPhase, k.NextPhaseAt = phaseNames[phaseRegular], mkt.AddDate(1, 0, 0)
	} else {
		c.advance(d + 1e-6)
		k.NextPhase, k.NextPhaseAt = phaseNames[c.phase], c.marketTime(0).Truncate(time.Second)
	}
	if err := pub.PublishClock(ctx, k); err != nil {
		return fmt.Errorf("clock: %w", err)
	}
	return nil
}

// schedulePhase finds when the model clock, from the last tick on,
// next reaches a phase or trading day not yet announced.
func (e *evState) schedulePhase(s *Sim) {
	e.phaseAt = e.start.Add(1 << 62)
	c := s.clk
	total := 0.0
	for range 4 {
		d, _ := c.toNextPhase()
		if math.IsInf(d, 1) {
			return
		}
		c.advance(d + 1e-6)
		total += d + 1e-6
		if c.phase != e.annPhase || c.session != e.annSession {
			e.phaseAt = e.lastTick.Add(time.Duration(total / s.speed * float64(time.Second)))
			e.nextClk = c
			return
		}
	}
}

// closingTick is st's closing trade at the end of the regular session
// (the closing cross): at its last regular price, a few percent of the
// day's volume, condition "6".
func (s *Sim) closingTick(st *symbol, at, mkt time.Time) market.Tick {
	size := max(st.volume/30/st.lot, 1) * st.lot
	st.seq++
	st.volume += size
	st.px = st.regPx
	return market.Tick{Symbol: st.sym, Seq: st.seq, Time: at.UTC(), Price: st.price(st.regPx), Bid: st.price(min(st.bid, st.regPx)),
		Ask: st.price(max(st.ask, st.regPx)), Size: size, Volume: st.volume, MarketTime: mkt, Conditions: condClosing}
}

// index returns the position of symbol in the universe.
func (s *Sim) index(symbol string) int {
	i, ok := s.symIdx[symbol]
	if !ok {
		return 0
	}
	return i
}
