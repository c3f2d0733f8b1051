package market

// Book: a symbol's depth of book (level 2), as published on
// books.<SYMBOL>, with Validate, AppendJSON and DecodeBook.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Aggressor sides carried in Tick.Side: who crossed the spread.
const (
	SideBuy  = "buy"  // a buyer took the offer
	SideSell = "sell" // a seller hit the bid
)

// MaxBookDepth is the most levels a side a Book may carry.
const MaxBookDepth = 50

// Level is one price level of a book: a price and the shares resting
// at it. In JSON it is a two-element array, [price, size].
type Level struct {
	Price float64
	Size  int64
}

// MarshalJSON writes l as [price,size].
func (l Level) MarshalJSON() ([]byte, error) { return l.appendJSON(nil), nil }

func (l Level) appendJSON(dst []byte) []byte {
	dst = append(dst, '[')
	dst = appendFloat(dst, l.Price)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, l.Size, 10)
	return append(dst, ']')
}

// UnmarshalJSON reads [price,size].
func (l *Level) UnmarshalJSON(b []byte) error {
	var a [2]json.Number
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	p, err := a[0].Float64()
	if err != nil {
		return fmt.Errorf("level price %q: %w", a[0], err)
	}
	s, err := a[1].Int64()
	if err != nil {
		return fmt.Errorf("level size %q: %w", a[1], err)
	}
	l.Price, l.Size = p, s
	return nil
}

// Book is a symbol's resting orders near the quote, a whole state (not
// a change): Bids from the best (highest) price down, Asks from the
// best (lowest) up, each level's Size the shares resting at its Price.
// Its top level is the quote of the same moment (bid, ask, bidSize,
// askSize). Seq counts the symbol's books from 1.
type Book struct {
	Symbol     string    `json:"symbol"`
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`       // wall time, UTC
	MarketTime time.Time `json:"marketTime"` // simulated market time, UTC
	Bids       []Level   `json:"bids"`
	Asks       []Level   `json:"asks"`
	// Merged, set only by a gateway that merged books (N >= 2): how many
	// books this newest one stands for.
	Merged int64 `json:"merged,omitempty"`
}

// Validate reports whether b can be published: a valid symbol, seq >=
// 1, both times, at most MaxBookDepth levels a side, bids strictly
// falling and asks strictly rising, positive finite prices and sizes,
// and a book that is not crossed (best bid < best ask).
func (b *Book) Validate() error {
	switch {
	case !ValidSymbol(b.Symbol):
		return fmt.Errorf("%w: book: bad symbol %q", ErrInvalidEvent, b.Symbol)
	case b.Seq == 0:
		return fmt.Errorf("%w: book %s: seq must be >= 1", ErrInvalidEvent, b.Symbol)
	case b.Time.IsZero() || b.MarketTime.IsZero():
		return fmt.Errorf("%w: book %s: no time or market time", ErrInvalidEvent, b.Symbol)
	case len(b.Bids) > MaxBookDepth || len(b.Asks) > MaxBookDepth:
		return fmt.Errorf("%w: book %s: more than %d levels a side", ErrInvalidEvent, b.Symbol, MaxBookDepth)
	case b.Merged < 0:
		return fmt.Errorf("%w: book %s: negative merged", ErrInvalidEvent, b.Symbol)
	}
	for side, lv := range [2][]Level{b.Bids, b.Asks} {
		for i, l := range lv {
			if badPrice(l.Price) || l.Price == 0 || l.Size <= 0 {
				return fmt.Errorf("%w: book %s: bad level [%v,%d]", ErrInvalidEvent, b.Symbol, l.Price, l.Size)
			}
			if i > 0 && (side == 0 && l.Price >= lv[i-1].Price || side == 1 && l.Price <= lv[i-1].Price) {
				return fmt.Errorf("%w: book %s: levels out of order at %v", ErrInvalidEvent, b.Symbol, l.Price)
			}
		}
	}
	if len(b.Bids) > 0 && len(b.Asks) > 0 && b.Bids[0].Price >= b.Asks[0].Price {
		return fmt.Errorf("%w: book %s: crossed, bid %v ask %v", ErrInvalidEvent, b.Symbol, b.Bids[0].Price, b.Asks[0].Price)
	}
	return nil
}

// Top returns b with at most n levels a side (n <= 0: none); the level
// slices are shared with b.
func (b Book) Top(n int) Book {
	n = max(n, 0)
	b.Bids = b.Bids[:min(n, len(b.Bids))]
	b.Asks = b.Asks[:min(n, len(b.Asks))]
	return b
}

// AppendJSON appends b's JSON (one line) to dst: the document
// encoding/json writes for b with its times in UTC, but for an empty
// side, which is [] (never null).
func (b *Book) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"symbol":`...)
	dst = strconv.AppendQuote(dst, b.Symbol)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, b.Seq, 10)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, b.Time)
	dst = append(dst, `,"marketTime":`...)
	dst = appendTime(dst, b.MarketTime)
	dst = append(dst, `,"bids":`...)
	dst = appendLevels(dst, b.Bids)
	dst = append(dst, `,"asks":`...)
	dst = appendLevels(dst, b.Asks)
	if b.Merged != 0 {
		dst = append(dst, `,"merged":`...)
		dst = strconv.AppendInt(dst, b.Merged, 10)
	}
	return append(dst, '}')
}

func appendLevels(dst []byte, lv []Level) []byte {
	dst = append(dst, '[')
	for i, l := range lv {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = l.appendJSON(dst)
	}
	return append(dst, ']')
}

// DecodeBook parses and validates a book's JSON. Errors wrap
// ErrInvalidEvent. The form AppendJSON writes is read without
// reflection, its levels in one allocation; any other document goes to
// encoding/json, with the same result (FuzzDecodeBook checks it).
func DecodeBook(data []byte) (Book, error) {
	if b, ok := decodeBookCanonical(data); ok {
		return b, b.Validate()
	}
	var b Book
	err := decodeEvent(data, &b, b.Validate)
	return b, err
}

// decodeBookCanonical parses the form AppendJSON writes, as
// decodeQuoteCanonical does a quote's; ok is false for anything else
// (more than MaxBookDepth levels a side included). Every gateway decodes
// every book it reads (some 440 a second at the default rates), and
// encoding/json made that one of its larger costs.
func decodeBookCanonical(data []byte) (b Book, ok bool) {
	s := scanner{b: data, ok: true}
	s.lit(`{"symbol":"`)
	b.Symbol = s.str()
	s.lit(`,"seq":`)
	b.Seq = s.uint()
	s.lit(`,"time":"`)
	b.Time = s.timeStr()
	s.lit(`","marketTime":"`)
	b.MarketTime = s.timeStr()
	var lv [2 * MaxBookDepth]Level
	s.lit(`","bids":`)
	nb := s.levels(lv[:0:MaxBookDepth])
	s.lit(`,"asks":`)
	na := s.levels(lv[nb : nb : nb+MaxBookDepth])
	if s.peek(`,"merged":`) {
		s.lit(`,"merged":`)
		b.Merged = s.int()
	}
	s.lit("}")
	if !s.ok || s.i != len(s.b) {
		return Book{}, false
	}
	all := []Level{} // encoding/json's empty side: [], not nil
	if nb+na > 0 {
		all = make([]Level, nb+na)
		copy(all, lv[:nb+na])
	}
	b.Bids, b.Asks = all[:nb:nb], all[nb:]
	return b, true
}

// levels reads [[price,size],...] into dst (at most its capacity) and
// returns how many it read.
func (s *scanner) levels(dst []Level) int {
	s.lit("[")
	if s.peek("]") {
		s.lit("]")
		return 0
	}
	for s.ok {
		if len(dst) == cap(dst) {
			s.ok = false // deeper than a Book may be: encoding/json decides
			break
		}
		var l Level
		s.lit("[")
		l.Price = s.float()
		s.lit(",")
		l.Size = s.int()
		s.lit("]")
		dst = append(dst, l)
		if !s.peek(",") {
			break
		}
		s.lit(",")
	}
	s.lit("]")
	return len(dst)
}
