package market

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Tick is one price update for one symbol, as published on ticks.<SYMBOL>
// and as sent to SSE clients. Field names and meanings are part of the
// public contract; new fields may be added, none renamed.
type Tick struct {
	Symbol string    `json:"symbol"`
	Seq    uint64    `json:"seq"`  // per-symbol tick number, from 1, +1 per tick
	Time   time.Time `json:"time"` // when the simulator made the tick, UTC
	Price  float64   `json:"price"`
	Bid    float64   `json:"bid"`
	Ask    float64   `json:"ask"`
	Size   int64     `json:"size"`   // shares in this tick (summed when merged)
	Volume int64     `json:"volume"` // cumulative shares for the session

	// Set only on merged ticks (Merged >= 2): how many ticks this one
	// stands for, and the highest and lowest price over them.
	Merged int64   `json:"merged,omitempty"`
	High   float64 `json:"high,omitempty"`
	Low    float64 `json:"low,omitempty"`

	// Status is the symbol's trading status when it changes: "halted"
	// on the tick that starts a halt (no ticks follow until one with
	// "open"). Empty on ordinary ticks.
	Status string `json:"status,omitempty"`

	// MarketTime is the simulated market time of the trade (US Eastern
	// trading calendar, carried as a UTC instant); zero (and absent from
	// the JSON) for ticks from simulators without a market clock.
	MarketTime time.Time `json:"marketTime,omitzero"`
	// Conditions are the trade's sale conditions where they matter
	// (CondOpening, CondClosing, CondExtended), one byte each; written
	// to JSON as an array of one-character strings, absent when empty.
	Conditions Conditions `json:"conditions,omitempty"`
	// Side is the trade's aggressor, SideBuy (a buyer took the offer)
	// or SideSell (a seller hit the bid); empty (absent from the JSON)
	// when there is none: a halt's ticks (size 0) and the closing cross.
	Side string `json:"side,omitempty"`
}

// Trading statuses carried in Tick.Status.
const (
	StatusHalted = "halted"
	StatusOpen   = "open"
)

// ErrInvalidTick is wrapped by Validate and by decoding errors.
var ErrInvalidTick = errors.New("market: invalid tick")

// Validate reports whether t can be published: a valid symbol, seq >= 1,
// a time, and finite, positive prices.
func (t *Tick) Validate() error {
	if !ValidSymbol(t.Symbol) {
		return fmt.Errorf("%w: bad symbol %q", ErrInvalidTick, t.Symbol)
	}
	if t.Seq == 0 {
		return fmt.Errorf("%w: %s: seq must be >= 1", ErrInvalidTick, t.Symbol)
	}
	if t.Time.IsZero() {
		return fmt.Errorf("%w: %s: no time", ErrInvalidTick, t.Symbol)
	}
	for _, f := range [...]float64{t.Price, t.Bid, t.Ask, t.High, t.Low} {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return fmt.Errorf("%w: %s: bad price %v", ErrInvalidTick, t.Symbol, f)
		}
	}
	if t.Price == 0 {
		return fmt.Errorf("%w: %s: zero price", ErrInvalidTick, t.Symbol)
	}
	if t.Status != "" && t.Status != StatusHalted && t.Status != StatusOpen {
		return fmt.Errorf("%w: %s: unknown status %q", ErrInvalidTick, t.Symbol, t.Status)
	}
	if t.Size < 0 || t.Volume < 0 || t.Merged < 0 {
		return fmt.Errorf("%w: %s: negative size, volume or merged", ErrInvalidTick, t.Symbol)
	}
	if t.Side != "" && t.Side != SideBuy && t.Side != SideSell {
		return fmt.Errorf("%w: %s: unknown side %q", ErrInvalidTick, t.Symbol, t.Side)
	}
	if !t.Conditions.valid() {
		return fmt.Errorf("%w: %s: bad conditions %q", ErrInvalidTick, t.Symbol, string(t.Conditions))
	}
	return nil
}

// AppendJSON appends t's JSON encoding (one line, no trailing newline) to
// dst. It produces the same document as encoding/json for a valid tick,
// without reflection or allocation beyond dst's growth.
func (t *Tick) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = strconv.AppendQuote(dst, t.Symbol) // symbols are plain ASCII
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, t.Seq, 10)
	dst = append(dst, `,"time":"`...)
	dst = t.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","price":`...)
	dst = appendFloat(dst, t.Price)
	dst = append(dst, `,"bid":`...)
	dst = appendFloat(dst, t.Bid)
	dst = append(dst, `,"ask":`...)
	dst = appendFloat(dst, t.Ask)
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, t.Size, 10)
	dst = append(dst, `,"volume":`...)
	dst = strconv.AppendInt(dst, t.Volume, 10)
	if t.Merged != 0 {
		dst = append(dst, `,"merged":`...)
		dst = strconv.AppendInt(dst, t.Merged, 10)
		dst = append(dst, `,"high":`...)
		dst = appendFloat(dst, t.High)
		dst = append(dst, `,"low":`...)
		dst = appendFloat(dst, t.Low)
	}
	if t.Status != "" {
		dst = append(dst, `,"status":`...)
		dst = strconv.AppendQuote(dst, t.Status)
	}
	if !t.MarketTime.IsZero() {
		dst = append(dst, `,"marketTime":`...)
		dst = appendTime(dst, t.MarketTime)
	}
	if t.Conditions != "" {
		dst = append(dst, `,"conditions":`...)
		dst = t.Conditions.appendJSON(dst)
	}
	if t.Side != "" {
		dst = append(dst, `,"side":`...)
		dst = strconv.AppendQuote(dst, t.Side)
	}
	return append(dst, '}')
}

// appendFloat writes f the shortest way that reads back exactly, as
// encoding/json does; NaN and infinities (which Validate rejects) become
// 0 so the output stays JSON.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-07 -> e-7, as encoding/json writes it.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// DecodeTick parses a tick's JSON (as AppendJSON writes it, or any
// equivalent document) and validates it. Errors wrap ErrInvalidTick.
// The canonical form takes a fast path (DecodeTickFast).
func DecodeTick(data []byte) (Tick, error) { return DecodeTickFast(data) }
