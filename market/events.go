package market

// The event types beside Tick (docs/events-design.md): Quote, Bar,
// Status and Clock, each with Validate, an AppendJSON that writes what
// encoding/json writes (without reflection) and a decoder.
// Over 400 lines because the four types, their validation and their
// hand-written JSON are one wire format, best read and changed together.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// ErrInvalidEvent is wrapped by the Validate methods and decoders of
// Quote, Bar, Status and Clock.
var ErrInvalidEvent = errors.New("market: invalid event")

// Trade conditions carried in Tick.Conditions, one byte each (the CTA's
// sale-condition codes).
const (
	CondOpening  = 'O' // the opening trade of the regular session
	CondClosing  = '6' // the closing trade of the regular session
	CondExtended = 'T' // a trade outside regular hours (pre-market, after-hours)
)

// Conditions is a trade's set of sale conditions, one byte per code, in
// the order they apply. In JSON it is an array of one-character strings,
// ["O"] or ["T","6"]; the empty value is left out of a Tick's JSON. A
// string rather than a slice keeps Tick comparable and allocation-free.
type Conditions string

func (c Conditions) valid() bool {
	if len(c) > 8 {
		return false
	}
	for i := 0; i < len(c); i++ {
		switch c[i] {
		case CondOpening, CondClosing, CondExtended:
		default:
			return false
		}
	}
	return true
}

// Has reports whether c holds the code.
func (c Conditions) Has(code byte) bool {
	for i := 0; i < len(c); i++ {
		if c[i] == code {
			return true
		}
	}
	return false
}

func (c Conditions) appendJSON(dst []byte) []byte {
	dst = append(dst, '[')
	for i := 0; i < len(c); i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, string(c[i:i+1]))
	}
	return append(dst, ']')
}

// MarshalJSON writes c as an array of one-character strings.
func (c Conditions) MarshalJSON() ([]byte, error) { return c.appendJSON(nil), nil }

// UnmarshalJSON reads an array of one-character strings (or null).
func (c *Conditions) UnmarshalJSON(b []byte) error {
	var codes []string
	if err := json.Unmarshal(b, &codes); err != nil {
		return err
	}
	out := make([]byte, 0, len(codes))
	for _, s := range codes {
		if len(s) != 1 {
			return fmt.Errorf("condition %q: want one character", s)
		}
		out = append(out, s[0])
	}
	*c = Conditions(out)
	return nil
}

// Quote is a symbol's best bid and offer, as published on
// quotes.<SYMBOL>. Seq counts the symbol's quotes from 1.
type Quote struct {
	Symbol     string    `json:"symbol"`
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`       // wall time, UTC
	MarketTime time.Time `json:"marketTime"` // simulated market time, UTC
	Bid        float64   `json:"bid"`
	Ask        float64   `json:"ask"`
	BidSize    int64     `json:"bidSize"` // shares
	AskSize    int64     `json:"askSize"`
	// Merged, set only by a gateway that merged quotes (N >= 2): how many
	// quotes this newest one stands for.
	Merged int64 `json:"merged,omitempty"`
}

// Bar intervals the simulator builds.
const (
	Interval1s = "1s"
	Interval1m = "1m"
)

// IntervalDuration returns the length of a bar interval ("1s", "1m"),
// or false if the interval is not one the feed builds.
func IntervalDuration(iv string) (time.Duration, bool) {
	switch iv {
	case Interval1s:
		return time.Second, true
	case Interval1m:
		return time.Minute, true
	}
	return 0, false
}

// Bar is one symbol's OHLCV over one interval, as published on
// bars.<SYMBOL>.<interval> when the interval closes. Start and End are
// the wall-clock bounds [Start, End) of the trades it covers (by their
// Time), aligned to the interval; MarketStart is the market time at
// Start. A bar with no trades has Open = High = Low = Close = the
// previous close and Volume and Trades 0. Seq counts the symbol's bars
// of that interval from 1.
type Bar struct {
	Symbol      string    `json:"symbol"`
	Interval    string    `json:"interval"`
	Seq         uint64    `json:"seq"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	MarketStart time.Time `json:"marketStart"`
	Open        float64   `json:"open"`
	High        float64   `json:"high"`
	Low         float64   `json:"low"`
	Close       float64   `json:"close"`
	Volume      int64     `json:"volume"`
	Trades      int64     `json:"trades"`
}

// Status states.
const (
	StateOpen      = "open"
	StateHalted    = "halted"
	StateLimitUp   = "limit_up"
	StateLimitDown = "limit_down"
)

// Status is a change in a symbol's trading state, as published on
// status.<SYMBOL>: a halt, its end, a limit-up/limit-down pause (a
// trade would have crossed the band [BandLow, BandHigh]) and its end.
// Seq counts the symbol's status events from 1. BandLow and BandHigh are
// the price band in force (0 when there is none, e.g. outside regular
// hours).
type Status struct {
	Symbol     string    `json:"symbol"`
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	MarketTime time.Time `json:"marketTime"`
	State      string    `json:"state"`
	Reason     string    `json:"reason"`
	BandLow    float64   `json:"bandLow"`
	BandHigh   float64   `json:"bandHigh"`
}

// Market phases.
const (
	PhasePre     = "pre"     // 04:00-09:30 ET
	PhaseRegular = "regular" // 09:30-16:00 ET
	PhaseAfter   = "after"   // 16:00-20:00 ET
	PhaseClosed  = "closed"  // overnight and weekends
)

// MarketTZ is the time zone of the simulated market's calendar.
const MarketTZ = "America/New_York"

// Clock is the simulated market clock, as published on market.clock at
// every phase change and every 10 s of wall time. Speed is market
// seconds per wall second, so a client extrapolates MarketTime from
// Time. NextPhaseAt is the market time NextPhase begins. Seq counts
// clock events from 1.
type Clock struct {
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	MarketTime  time.Time `json:"marketTime"`
	Phase       string    `json:"phase"`
	Speed       float64   `json:"speed"`
	NextPhase   string    `json:"nextPhase"`
	NextPhaseAt time.Time `json:"nextPhaseAt"`
	TZ          string    `json:"tz"`
}

func validPhase(p string) bool {
	return p == PhasePre || p == PhaseRegular || p == PhaseAfter || p == PhaseClosed
}

func badPrice(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return true
		}
	}
	return false
}

// Validate reports whether q can be published: a valid symbol, seq >= 1,
// both times, finite non-negative prices with bid <= ask, and
// non-negative sizes.
func (q *Quote) Validate() error {
	switch {
	case !ValidSymbol(q.Symbol):
		return fmt.Errorf("%w: quote: bad symbol %q", ErrInvalidEvent, q.Symbol)
	case q.Seq == 0:
		return fmt.Errorf("%w: quote %s: seq must be >= 1", ErrInvalidEvent, q.Symbol)
	case q.Time.IsZero() || q.MarketTime.IsZero():
		return fmt.Errorf("%w: quote %s: no time or market time", ErrInvalidEvent, q.Symbol)
	case badPrice(q.Bid, q.Ask) || q.Ask == 0 || q.Bid > q.Ask:
		return fmt.Errorf("%w: quote %s: bad bid %v or ask %v", ErrInvalidEvent, q.Symbol, q.Bid, q.Ask)
	case q.BidSize < 0 || q.AskSize < 0 || q.Merged < 0:
		return fmt.Errorf("%w: quote %s: negative size or merged", ErrInvalidEvent, q.Symbol)
	}
	return nil
}

// Validate reports whether b can be published: a valid symbol and
// interval, seq >= 1, Start < End, consistent OHLC (Low <= Open, Close
// <= High), non-negative volume and trades.
func (b *Bar) Validate() error {
	_, ok := IntervalDuration(b.Interval)
	switch {
	case !ValidSymbol(b.Symbol):
		return fmt.Errorf("%w: bar: bad symbol %q", ErrInvalidEvent, b.Symbol)
	case !ok:
		return fmt.Errorf("%w: bar %s: unknown interval %q", ErrInvalidEvent, b.Symbol, b.Interval)
	case b.Seq == 0:
		return fmt.Errorf("%w: bar %s: seq must be >= 1", ErrInvalidEvent, b.Symbol)
	case b.Start.IsZero() || !b.End.After(b.Start) || b.MarketStart.IsZero():
		return fmt.Errorf("%w: bar %s: bad start %v, end %v or market start", ErrInvalidEvent, b.Symbol, b.Start, b.End)
	case badPrice(b.Open, b.High, b.Low, b.Close) || b.Low == 0 ||
		b.Low > b.Open || b.Low > b.Close || b.High < b.Open || b.High < b.Close:
		return fmt.Errorf("%w: bar %s: bad OHLC %v %v %v %v", ErrInvalidEvent, b.Symbol, b.Open, b.High, b.Low, b.Close)
	case b.Volume < 0 || b.Trades < 0:
		return fmt.Errorf("%w: bar %s: negative volume or trades", ErrInvalidEvent, b.Symbol)
	}
	return nil
}

// Validate reports whether s can be published: a valid symbol, seq >= 1,
// both times, a known state and a sane band.
func (s *Status) Validate() error {
	switch {
	case !ValidSymbol(s.Symbol):
		return fmt.Errorf("%w: status: bad symbol %q", ErrInvalidEvent, s.Symbol)
	case s.Seq == 0:
		return fmt.Errorf("%w: status %s: seq must be >= 1", ErrInvalidEvent, s.Symbol)
	case s.Time.IsZero() || s.MarketTime.IsZero():
		return fmt.Errorf("%w: status %s: no time or market time", ErrInvalidEvent, s.Symbol)
	case s.State != StateOpen && s.State != StateHalted && s.State != StateLimitUp && s.State != StateLimitDown:
		return fmt.Errorf("%w: status %s: unknown state %q", ErrInvalidEvent, s.Symbol, s.State)
	case badPrice(s.BandLow, s.BandHigh) || s.BandLow > s.BandHigh:
		return fmt.Errorf("%w: status %s: bad band %v to %v", ErrInvalidEvent, s.Symbol, s.BandLow, s.BandHigh)
	}
	return nil
}

// Validate reports whether c can be published: seq >= 1, the times,
// known phases and a positive, finite speed.
func (c *Clock) Validate() error {
	switch {
	case c.Seq == 0:
		return fmt.Errorf("%w: clock: seq must be >= 1", ErrInvalidEvent)
	case c.Time.IsZero() || c.MarketTime.IsZero() || c.NextPhaseAt.IsZero():
		return fmt.Errorf("%w: clock: missing time, market time or next phase time", ErrInvalidEvent)
	case !validPhase(c.Phase) || !validPhase(c.NextPhase):
		return fmt.Errorf("%w: clock: unknown phase %q or next phase %q", ErrInvalidEvent, c.Phase, c.NextPhase)
	case badPrice(c.Speed) || c.Speed == 0:
		return fmt.Errorf("%w: clock: bad speed %v", ErrInvalidEvent, c.Speed)
	}
	return nil
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// AppendJSON appends q's JSON (one line) to dst: the document
// encoding/json writes for q with its times in UTC.
func (q *Quote) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = strconv.AppendQuote(dst, q.Symbol)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, q.Seq, 10)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, q.Time)
	dst = append(dst, `,"marketTime":`...)
	dst = appendTime(dst, q.MarketTime)
	dst = append(dst, `,"bid":`...)
	dst = appendFloat(dst, q.Bid)
	dst = append(dst, `,"ask":`...)
	dst = appendFloat(dst, q.Ask)
	dst = append(dst, `,"bidSize":`...)
	dst = strconv.AppendInt(dst, q.BidSize, 10)
	dst = append(dst, `,"askSize":`...)
	dst = strconv.AppendInt(dst, q.AskSize, 10)
	if q.Merged != 0 {
		dst = append(dst, `,"merged":`...)
		dst = strconv.AppendInt(dst, q.Merged, 10)
	}
	return append(dst, '}')
}

// AppendJSON appends b's JSON (one line) to dst, as encoding/json
// writes it with the times in UTC.
func (b *Bar) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = strconv.AppendQuote(dst, b.Symbol)
	dst = append(dst, `,"interval":`...)
	dst = strconv.AppendQuote(dst, b.Interval)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, b.Seq, 10)
	dst = append(dst, `,"start":`...)
	dst = appendTime(dst, b.Start)
	dst = append(dst, `,"end":`...)
	dst = appendTime(dst, b.End)
	dst = append(dst, `,"marketStart":`...)
	dst = appendTime(dst, b.MarketStart)
	dst = append(dst, `,"open":`...)
	dst = appendFloat(dst, b.Open)
	dst = append(dst, `,"high":`...)
	dst = appendFloat(dst, b.High)
	dst = append(dst, `,"low":`...)
	dst = appendFloat(dst, b.Low)
	dst = append(dst, `,"close":`...)
	dst = appendFloat(dst, b.Close)
	dst = append(dst, `,"volume":`...)
	dst = strconv.AppendInt(dst, b.Volume, 10)
	dst = append(dst, `,"trades":`...)
	dst = strconv.AppendInt(dst, b.Trades, 10)
	return append(dst, '}')
}

// AppendJSON appends s's JSON (one line) to dst, as encoding/json
// writes it with the times in UTC.
func (s *Status) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = strconv.AppendQuote(dst, s.Symbol)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, s.Seq, 10)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, s.Time)
	dst = append(dst, `,"marketTime":`...)
	dst = appendTime(dst, s.MarketTime)
	dst = append(dst, `,"state":`...)
	dst = appendJSONString(dst, s.State)
	dst = append(dst, `,"reason":`...)
	dst = appendJSONString(dst, s.Reason)
	dst = append(dst, `,"bandLow":`...)
	dst = appendFloat(dst, s.BandLow)
	dst = append(dst, `,"bandHigh":`...)
	dst = appendFloat(dst, s.BandHigh)
	return append(dst, '}')
}

// AppendJSON appends c's JSON (one line) to dst, as encoding/json
// writes it with the times in UTC.
func (c *Clock) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, c.Seq, 10)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, c.Time)
	dst = append(dst, `,"marketTime":`...)
	dst = appendTime(dst, c.MarketTime)
	dst = append(dst, `,"phase":`...)
	dst = appendJSONString(dst, c.Phase)
	dst = append(dst, `,"speed":`...)
	dst = appendFloat(dst, c.Speed)
	dst = append(dst, `,"nextPhase":`...)
	dst = appendJSONString(dst, c.NextPhase)
	dst = append(dst, `,"nextPhaseAt":`...)
	dst = appendTime(dst, c.NextPhaseAt)
	dst = append(dst, `,"tz":`...)
	dst = appendJSONString(dst, c.TZ)
	return append(dst, '}')
}

// appendJSONString writes s as encoding/json does when s is printable
// ASCII without <, >, & (the states, phases and reasons the simulator
// writes); anything else goes through encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// DecodeQuote parses and validates a quote's JSON. Errors wrap
// ErrInvalidEvent.
//
// The form Quote.AppendJSON writes is read without reflection; any
// other document goes to encoding/json, with the same result
// (FuzzDecodeQuote checks it).
func DecodeQuote(data []byte) (Quote, error) {
	if q, ok := decodeQuoteCanonical(data); ok {
		return q, q.Validate()
	}
	var q Quote
	err := decodeEvent(data, &q, q.Validate)
	return q, err
}

// DecodeBar parses and validates a bar's JSON. Errors wrap
// ErrInvalidEvent.
func DecodeBar(data []byte) (Bar, error) {
	var b Bar
	err := decodeEvent(data, &b, b.Validate)
	return b, err
}

// DecodeStatus parses and validates a status event's JSON. Errors wrap
// ErrInvalidEvent.
func DecodeStatus(data []byte) (Status, error) {
	var s Status
	err := decodeEvent(data, &s, s.Validate)
	return s, err
}

// DecodeClock parses and validates a clock event's JSON. Errors wrap
// ErrInvalidEvent.
func DecodeClock(data []byte) (Clock, error) {
	var c Clock
	err := decodeEvent(data, &c, c.Validate)
	return c, err
}

func decodeEvent(data []byte, v any, validate func() error) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	return validate()
}

// Counters are the newest seq of every event counter beside the ticks':
// what a restarted simulator continues (feed.Conn.LastCounters reads
// them from the stream).
type Counters struct {
	Quotes map[string]uint64 // by symbol
	Bars   map[string]uint64 // by BarKey(symbol, interval)
	Status map[string]uint64 // by symbol
	Books  map[string]uint64 // by symbol
	Clock  Clock             // the newest clock event; Seq 0 if none
}

// BarKey is the key of Counters.Bars: "AAPL/1m".
func BarKey(symbol, interval string) string { return symbol + "/" + interval }
