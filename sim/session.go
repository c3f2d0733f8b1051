package sim

import (
	"fmt"
	"math"
	"time"
	_ "time/tzdata" // the market calendar's America/New_York, on any system
)

// Session is a simulated trading day: the model clock starts at Start
// and runs to Close, then the next session opens at once (no night: the
// feed never falls silent), each symbol's Volume starts again from 0 and
// prices carry on from where they were.
//
// Over a session, activity follows a U: at the open and at the close
// ticks come about 2.5 times as often as at midday, trades are about
// 1.6 times as large, and the market is about 1.6 times as volatile
// (variance 2.5 times), so spreads are wider too. Activity averages 1
// over the session, so Config.Rate is still the mean tick rate and a
// symbol's Volatility its volatility over a whole day.
//
// The zero Session is 09:30 to 16:00, starting at the open.
//
// # Compressing a session
//
// Config.Speed sets how fast the session clock runs: a session lasts
// (Close - Open) / Speed of real time. A 6.5-hour session in 10 minutes
// is Speed 39 (23400 s / 600 s); SpeedFor(Session{}, 10*time.Minute)
// computes it. The mean tick rate stays Config.Rate in real time, so at
// Speed 39 and Rate 300 a session has 180,000 ticks.
//
// # The market calendar
//
// With Extended set, each trading day also has a pre-market from 04:00
// to Open and after-hours from Close to 20:00, with few trades (a
// tenth of midday's activity, so rare quotes too), each marked with the
// extended-hours condition. The night and weekends are closed: by
// default the clock fast-forwards through them (20:00 Friday is
// followed at once by 04:00 Monday), so a demo never sits idle; with
// RealTime they pass at Speed like the rest, with no trade or quote.
//
// Every tick carries its market time: the trading day's date (Date,
// then the weekdays after it; no holidays) at the clock's time of day,
// US Eastern (America/New_York), as a UTC instant.
type Session struct {
	Open  time.Duration // time of day the session opens; 0 means 09:30
	Close time.Duration // time of day it closes; 0 means 16:00
	Start time.Duration // time of day the model clock starts; 0 means Open

	// Extended adds pre-market (04:00 to Open) and after-hours (Close
	// to 20:00) to every trading day; Start may then be in them.
	Extended bool
	// RealTime keeps the closed night and weekends (with Extended;
	// without it the next session opens at once): they pass at Speed,
	// with no trades. False fast-forwards through them.
	RealTime bool
	// Date is the first trading day (its year, month and day; a
	// weekend means the Monday after); zero means DefaultDate.
	Date time.Time
}

// Extended hours, and the default first trading day.
const (
	PreOpen    = 4 * time.Hour
	AfterClose = 20 * time.Hour
)

// DefaultDate is the first trading day of a Session with no Date: a
// Monday.
var DefaultDate = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// Default session hours.
const (
	DefaultOpen  = 9*time.Hour + 30*time.Minute
	DefaultClose = 16 * time.Hour
)

// withDefaults fills in zero fields and checks the result.
func (ss Session) withDefaults() (Session, error) {
	if ss.Open == 0 {
		ss.Open = DefaultOpen
	}
	if ss.Close == 0 {
		ss.Close = DefaultClose
	}
	if ss.Start == 0 {
		ss.Start = ss.Open
	}
	if ss.Date.IsZero() {
		ss.Date = DefaultDate
	}
	first, last := ss.Open, ss.Close
	if ss.Extended {
		first, last = PreOpen, AfterClose
	}
	switch {
	case ss.Open < 0 || ss.Close > 24*time.Hour || ss.Close-ss.Open < time.Minute:
		return ss, fmt.Errorf("%w: session %v to %v: want 0 <= open < close <= 24h, at least a minute apart",
			ErrConfig, ss.Open, ss.Close)
	case ss.Extended && (ss.Open <= PreOpen || ss.Close >= AfterClose):
		return ss, fmt.Errorf("%w: session %v to %v: with extended hours, want 04:00 < open < close < 20:00", ErrConfig, ss.Open, ss.Close)
	case ss.Start < first || ss.Start >= last:
		return ss, fmt.Errorf("%w: session start %v outside %v to %v", ErrConfig, ss.Start, first, last)
	}
	return ss, nil
}

// ContinueAt returns ss starting at market time t (an instant, as
// Tick.MarketTime gives it), so a simulator restarted on the same
// stream carries on the market clock where the last one stopped instead
// of starting the day again: t's trading day (a weekend: the Monday
// after) at t's time of day, US Eastern. A time before the day's first
// trading minute (04:00 with extended hours, else the open) starts at
// it; one at or after the day's last (20:00, or the close) starts the
// next trading day. A zero t returns ss unchanged.
func (ss Session) ContinueAt(t time.Time) Session {
	if t.IsZero() {
		return ss
	}
	d, err := ss.withDefaults()
	if err != nil {
		return ss // New reports it
	}
	first, last := d.Open, d.Close
	if d.Extended {
		first, last = PreOpen, AfterClose
	}
	et := t.In(eastern)
	day := time.Date(et.Year(), et.Month(), et.Day(), 0, 0, 0, 0, eastern)
	tod := et.Sub(day)
	switch {
	case day.Weekday() == time.Saturday || day.Weekday() == time.Sunday:
		day, tod = tradingDay(day), first
	case tod < first:
		tod = first
	case tod >= last:
		day, tod = nextTradingDay(day), first
	}
	ss.Date, ss.Start = day, tod
	return ss
}

// Length returns how long the session lasts in trading time, defaults
// filled in (6h30m for the zero Session).
func (ss Session) Length() time.Duration {
	d, _ := ss.withDefaults()
	return d.Close - d.Open
}

// SpeedFor returns the Config.Speed at which session ss passes in real
// time d: SpeedFor(Session{}, 10*time.Minute) is 39.
func SpeedFor(ss Session, d time.Duration) float64 {
	return ss.Length().Seconds() / d.Seconds()
}

// Arrivals is how ticks are spaced in time.
type Arrivals int

const (
	// Regular ticks come exactly 1/Rate apart (divided by the session's
	// activity, with a Session): a metronome, handy for load tests.
	Regular Arrivals = iota
	// Poisson ticks come at exponentially distributed intervals with mean
	// 1/Rate (divided by activity): each symbol ticks as a Poisson
	// process with a rate in proportion to its weight, so busy symbols
	// tick more, in irregular bursts and lulls, as real ones do.
	Poisson
)

func (a Arrivals) String() string {
	switch a {
	case Regular:
		return "regular"
	case Poisson:
		return "poisson"
	}
	return fmt.Sprintf("Arrivals(%d)", int(a))
}

// Activity curve: act(x) = (1 + actU*u^2) / (1 + actU/3), u = 2x - 1,
// for x the fraction of the session gone. Mean 1 over the session;
// 1+actU times higher at the open and close than at midday.
const actU = 1.5

func activity(x float64) float64 {
	u := 2*x - 1
	return (1 + actU*u*u) / (1 + actU/3)
}

// extAct is the activity of extended hours: a tenth of midday's;
// extActSpread its power 0.8 (spreads).
const (
	extAct       = 0.1
	extActSpread = 0.15848931924611134
)

// Market phases, as the clock keeps them.
const (
	phasePre int8 = iota
	phaseRegular
	phaseAfter
	phaseClosed
)

var phaseNames = [...]string{"pre", "regular", "after", "closed"}

// clock is the model's session clock and market calendar.
type clock struct {
	on        bool    // a Session is configured; else act stays 1
	ext       bool    // extended hours
	real      bool    // the closed night passes (with ext)
	open      float64 // seconds after midnight
	length    float64 // seconds of trading per regular session
	dayStart  float64 // seconds after midnight pos counts from: 04:00 (ext) or open
	dayEnd    float64 // seconds after midnight trading ends: 20:00 (ext) or close
	dayLen    float64 // seconds of model clock the current day lasts
	pos       float64 // seconds since dayStart of the current day
	session   int64   // trading days begun since the start, from 0
	act       float64 // activity at pos
	spreadDay float64 // the spreads' time of day (spreadDay)
	phase     int8
	date      time.Time // midnight, US Eastern, of the current trading day
	next      time.Time // midnight of the next one
}

// eastern is the market's time zone.
var eastern = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err) // time/tzdata is linked in
	}
	return loc
}()

// tradingDay returns midnight US Eastern of the weekday on or after d's
// date.
func tradingDay(d time.Time) time.Time {
	t := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, eastern)
	for t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
		t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, eastern)
	}
	return t
}

func nextTradingDay(d time.Time) time.Time {
	return tradingDay(time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, eastern))
}

func newClock(ss *Session) (clock, error) {
	if ss == nil {
		d := tradingDay(DefaultDate)
		return clock{act: 1, spreadDay: 1, phase: phaseRegular, open: DefaultOpen.Seconds(), dayStart: DefaultOpen.Seconds(), date: d, next: nextTradingDay(d)}, nil
	}
	d, err := ss.withDefaults()
	if err != nil {
		return clock{}, err
	}
	c := clock{
		on:       true,
		ext:      d.Extended,
		real:     d.Extended && d.RealTime,
		open:     d.Open.Seconds(),
		length:   (d.Close - d.Open).Seconds(),
		dayStart: d.Open.Seconds(),
		dayEnd:   d.Close.Seconds(),
	}
	if c.ext {
		c.dayStart, c.dayEnd = PreOpen.Seconds(), AfterClose.Seconds()
	}
	c.date = tradingDay(d.Date)
	c.setDay()
	c.pos = d.Start.Seconds() - c.dayStart
	c.update()
	return c, nil
}

// setDay sets next and dayLen for the trading day at date.
func (c *clock) setDay() {
	c.next = nextTradingDay(c.date)
	c.dayLen = c.dayEnd - c.dayStart
	if c.real {
		c.dayLen = c.next.Sub(c.date).Seconds()
	}
}

// update sets act and phase from pos.
func (c *clock) update() {
	t := c.dayStart + c.pos
	switch {
	case t < c.open:
		c.act, c.phase = extAct, phasePre
	case t < c.open+c.length:
		x := (t - c.open) / c.length
		c.act, c.phase = activity(x), phaseRegular
		c.spreadDay = spreadDay(x, c.act)
		return
	case t < c.dayEnd:
		c.act, c.phase = extAct, phaseAfter
	default:
		c.act, c.phase = 0, phaseClosed
	}
	c.spreadDay = math.Pow(c.act, 0.8)
}

// Spreads over the regular session: widest at the open, narrowing
// through the day, a little wider again at the close:
// act^0.4 (1 + spreadOpen e^(-x/spreadOpenT)) / spreadNorm, x the
// fraction of the session gone (mean about 0.85 over the session).
// Outside it, act^0.8 (narrow, as few trade).
const (
	spreadOpen  = 1.5
	spreadOpenT = 0.1
	spreadNorm  = 1.15
)

func spreadDay(x, act float64) float64 {
	return math.Pow(act, 0.4) * (1 + spreadOpen*math.Exp(-x/spreadOpenT)) / spreadNorm
}

// advance moves the clock on by dt seconds of trading.
func (c *clock) advance(dt float64) {
	if !c.on {
		c.pos += dt
		return
	}
	c.pos += dt
	for c.pos >= c.dayLen {
		c.pos -= c.dayLen
		c.session++
		c.date = c.next
		c.setDay()
	}
	c.update()
}

// marketTime returns the market time at pos + dt on the clock, as a UTC
// instant.
func (c *clock) marketTime(dt float64) time.Time {
	return c.date.Add(time.Duration((c.dayStart + c.pos + dt) * float64(time.Second))).UTC()
}

// toNextPhase returns the model seconds from pos to the next phase
// change, and that phase.
func (c *clock) toNextPhase() (float64, int8) {
	if !c.on {
		return math.Inf(1), phaseRegular
	}
	t := c.dayStart + c.pos
	switch c.phase {
	case phasePre:
		return c.open - t, phaseRegular
	case phaseRegular:
		if !c.ext {
			return c.open + c.length - t, phaseRegular // the next session
		}
		return c.open + c.length - t, phaseAfter
	case phaseAfter:
		if !c.real {
			return c.dayEnd - t, phasePre // fast-forward: the next day at once
		}
		return c.dayEnd - t, phaseClosed
	}
	return c.dayLen - c.pos, phasePre
}

// Clock returns the simulated time of day of the last tick (the session
// clock; without a Session, the trading time since the start) and the
// number of sessions (trading days) begun before it, from 0.
func (s *Sim) Clock() (timeOfDay time.Duration, session int64) {
	if !s.clk.on {
		return time.Duration(s.elapsed * float64(time.Second)), 0
	}
	return time.Duration((s.clk.dayStart + s.clk.pos) * float64(time.Second)), s.clk.session
}

// MarketTime returns the market time of the last tick (of the start,
// before the first), as a UTC instant: the trading day's date at the
// clock's time of day, US Eastern. Without a Session, DefaultDate at
// 09:30 plus the trading time since the start.
func (s *Sim) MarketTime() time.Time { return s.clk.marketTime(0) }

// Phase returns the market phase of the last tick: "pre", "regular",
// "after" or "closed" (market.PhasePre, ...).
func (s *Sim) Phase() string { return phaseNames[s.clk.phase] }

// Due returns when the next tick is due on the Sim's own schedule, as
// the real time since its first tick (which is due at 0): Run publishes
// each tick at its start time plus Due. With Regular arrivals and no
// Session, tick i is due at i/Rate.
func (s *Sim) Due() time.Duration {
	return time.Duration((s.due - s.dueC) * float64(time.Second))
}

// drawGap draws the trading time to the next tick and moves Due on by
// the real time it takes.
func (s *Sim) drawGap() {
	e := 1.0
	if s.arrivals == Poisson {
		e = s.rng.ExpFloat64()
	}
	act := max(s.clk.act, extAct) // closed (act 0): skipped below
	s.gap = s.dt * e / (act * s.scn.rate)
	if c := &s.clk; c.real {
		// Never a tick in the closed night: the gap passes over it.
		end := c.dayEnd - c.dayStart // pos where the day's trading ends
		if c.pos < end && c.pos+s.gap >= end || c.pos >= end {
			s.gap += c.dayLen - max(c.pos, end)
		}
	}
	// Kahan summation keeps Due exact to the nanosecond over long runs.
	y := s.gap/s.speed - s.dueC
	t := s.due + y
	s.dueC = (t - s.due) - y
	s.due = t
}
