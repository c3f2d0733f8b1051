package sim

import (
	"fmt"
	"math"
	"time"
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
type Session struct {
	Open  time.Duration // time of day the session opens; 0 means 09:30
	Close time.Duration // time of day it closes; 0 means 16:00
	Start time.Duration // time of day the model clock starts; 0 means Open
}

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
	switch {
	case ss.Open < 0 || ss.Close > 24*time.Hour || ss.Close-ss.Open < time.Minute:
		return ss, fmt.Errorf("%w: session %v to %v: want 0 <= open < close <= 24h, at least a minute apart",
			ErrConfig, ss.Open, ss.Close)
	case ss.Start < ss.Open || ss.Start >= ss.Close:
		return ss, fmt.Errorf("%w: session start %v outside %v to %v", ErrConfig, ss.Start, ss.Open, ss.Close)
	}
	return ss, nil
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

// clock is the model's session clock.
type clock struct {
	on      bool    // a Session is configured; else act stays 1
	open    float64 // seconds after midnight
	length  float64 // seconds of trading per session
	pos     float64 // seconds since the open of the current session
	session int64   // sessions begun since the start, from 0
	act     float64 // activity at pos
}

func newClock(ss *Session) (clock, error) {
	if ss == nil {
		return clock{act: 1}, nil
	}
	d, err := ss.withDefaults()
	if err != nil {
		return clock{}, err
	}
	c := clock{
		on:     true,
		open:   d.Open.Seconds(),
		length: (d.Close - d.Open).Seconds(),
		pos:    (d.Start - d.Open).Seconds(),
	}
	c.act = activity(c.pos / c.length)
	return c, nil
}

// advance moves the clock on by dt seconds of trading.
func (c *clock) advance(dt float64) {
	if !c.on {
		return
	}
	c.pos += dt
	if c.pos >= c.length {
		n := math.Floor(c.pos / c.length)
		c.pos -= n * c.length
		c.session += int64(n)
	}
	c.act = activity(c.pos / c.length)
}

// Clock returns the simulated time of day of the last tick (the session
// clock; without a Session, the trading time since the start) and the
// number of sessions begun before it, from 0.
func (s *Sim) Clock() (timeOfDay time.Duration, session int64) {
	if !s.clk.on {
		return time.Duration(s.elapsed * float64(time.Second)), 0
	}
	return time.Duration((s.clk.open + s.clk.pos) * float64(time.Second)), s.clk.session
}

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
	s.gap = s.dt * e / (s.clk.act * s.scn.rate)
	// Kahan summation keeps Due exact to the nanosecond over long runs.
	y := s.gap/s.speed - s.dueC
	t := s.due + y
	s.dueC = (t - s.due) - y
	s.due = t
}
