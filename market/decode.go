package market

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// DecodeTickFast is DecodeTick without reflection for the canonical form
// AppendJSON writes (keys in its order, no spaces, no escapes, a UTC
// time with a Z): about ten times faster than encoding/json. Any other
// document, even one JSON reads fine, goes to encoding/json, so the
// result is always the one encoding/json gives (FuzzDecodeTick checks
// it). Errors wrap ErrInvalidTick.
func DecodeTickFast(data []byte) (Tick, error) {
	t, ok := decodeCanonical(data)
	if !ok {
		return decodeJSON(data)
	}
	if err := t.Validate(); err != nil {
		return t, err
	}
	return t, nil
}

func decodeJSON(data []byte) (Tick, error) {
	var t Tick
	if err := json.Unmarshal(data, &t); err != nil {
		return t, fmt.Errorf("%w: %v", ErrInvalidTick, err)
	}
	if err := t.Validate(); err != nil {
		return t, err
	}
	return t, nil
}

// scanner reads the canonical tick form; any surprise sets ok = false
// and the caller falls back to encoding/json.
type scanner struct {
	b  []byte
	i  int
	ok bool
}

func (s *scanner) lit(l string) {
	if !s.ok || len(s.b)-s.i < len(l) || string(s.b[s.i:s.i+len(l)]) != l {
		s.ok = false
		return
	}
	s.i += len(l)
}

// peek reports whether l comes next, without consuming it.
func (s *scanner) peek(l string) bool {
	return s.ok && len(s.b)-s.i >= len(l) && string(s.b[s.i:s.i+len(l)]) == l
}

// str reads a string body up to its closing quote: printable ASCII with
// no escapes (encoding/json would rewrite anything else).
func (s *scanner) str() string {
	if !s.ok {
		return ""
	}
	for j := s.i; j < len(s.b); j++ {
		c := s.b[j]
		if c == '"' {
			v := string(s.b[s.i:j])
			s.i = j + 1
			return v
		}
		if c < 0x20 || c >= 0x7f || c == '\\' {
			break
		}
	}
	s.ok = false
	return ""
}

// digits returns the run of decimal digits at the cursor, rejecting
// JSON's forbidden leading zeros.
func (s *scanner) digits() []byte {
	j := s.i
	for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
		j++
	}
	d := s.b[s.i:j]
	if len(d) == 0 || len(d) > 1 && d[0] == '0' {
		s.ok = false
		return nil
	}
	s.i = j
	return d
}

func (s *scanner) uint() uint64 {
	if !s.ok {
		return 0
	}
	d := s.digits()
	if !s.ok || len(d) > 19 {
		s.ok = false // leave anything near overflow to encoding/json
		return 0
	}
	var v uint64
	for _, c := range d {
		v = v*10 + uint64(c-'0')
	}
	return v
}

func (s *scanner) int() int64 {
	if !s.ok {
		return 0
	}
	neg := s.i < len(s.b) && s.b[s.i] == '-'
	if neg {
		s.i++
	}
	d := s.digits()
	if !s.ok || len(d) > 18 {
		s.ok = false
		return 0
	}
	var v int64
	for _, c := range d {
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v
}

// float reads a JSON number (checked against JSON's grammar, which is
// stricter than strconv's) and parses it as encoding/json does.
func (s *scanner) float() float64 {
	if !s.ok {
		return 0
	}
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	s.digits()
	if s.ok && s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		j := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == j {
			s.ok = false
		}
	}
	if s.ok && s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		j := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		if s.i == j {
			s.ok = false
		}
	}
	if !s.ok {
		return 0
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	if err != nil {
		s.ok = false
	}
	return f
}

// num reads exactly n digits.
func num(b []byte, n int) (int, bool) {
	if len(b) < n {
		return 0, false
	}
	v := 0
	for _, c := range b[:n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseTime reads "YYYY-MM-DDTHH:MM:SS[.fraction]Z", every field in
// range; anything else (offsets, leap seconds) is left to encoding/json.
func parseTime(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	year, ok1 := num(b, 4)
	month, ok2 := num(b[5:], 2)
	day, ok3 := num(b[8:], 2)
	hour, ok4 := num(b[11:], 2)
	minute, ok5 := num(b[14:], 2)
	sec, ok6 := num(b[17:], 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	if day > DaysInMonth(month, year) {
		return time.Time{}, false
	}
	nsec := 0
	frac := b[19 : len(b)-1]
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		v, ok := num(frac[1:], len(frac)-1)
		if !ok {
			return time.Time{}, false
		}
		for k := len(frac) - 1; k < 9; k++ {
			v *= 10
		}
		nsec = v
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// DaysInMonth is how many days month (1-12) of year has in the
// proleptic Gregorian calendar; the tick time parsers (here and in the
// bench) check dates with it.
func DaysInMonth(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// decodeCanonical parses the form AppendJSON writes; ok is false for
// anything else.
func decodeCanonical(data []byte) (t Tick, ok bool) {
	s := scanner{b: data, ok: true}
	s.lit(`{"symbol":"`)
	t.Symbol = s.str()
	s.lit(`,"seq":`)
	t.Seq = s.uint()
	s.lit(`,"time":"`)
	ts := s.i
	for s.ok && s.i < len(s.b) && s.b[s.i] != '"' {
		s.i++
	}
	if s.ok {
		t.Time, s.ok = parseTime(s.b[ts:s.i])
	}
	s.lit(`","price":`)
	t.Price = s.float()
	s.lit(`,"bid":`)
	t.Bid = s.float()
	s.lit(`,"ask":`)
	t.Ask = s.float()
	s.lit(`,"size":`)
	t.Size = s.int()
	s.lit(`,"volume":`)
	t.Volume = s.int()
	if s.peek(`,"merged":`) {
		s.lit(`,"merged":`)
		t.Merged = s.int()
		s.lit(`,"high":`)
		t.High = s.float()
		s.lit(`,"low":`)
		t.Low = s.float()
	}
	if s.peek(`,"status":"`) {
		s.lit(`,"status":"`)
		t.Status = s.str()
	}
	if s.peek(`,"marketTime":"`) {
		s.lit(`,"marketTime":"`)
		ts := s.i
		for s.ok && s.i < len(s.b) && s.b[s.i] != '"' {
			s.i++
		}
		if s.ok {
			t.MarketTime, s.ok = parseTime(s.b[ts:s.i])
		}
		s.lit(`"`)
	}
	if s.peek(`,"conditions":["`) {
		s.lit(`,"conditions":[`)
		var c [8]byte
		n := 0
		for s.ok {
			s.lit(`"`)
			if !s.ok || s.i+1 >= len(s.b) || s.b[s.i+1] != '"' || n == len(c) {
				s.ok = false
				break
			}
			c[n] = s.b[s.i]
			n++
			s.i += 2
			if s.peek("]") {
				s.i++
				break
			}
			s.lit(",")
		}
		if s.ok {
			t.Conditions = Conditions(c[:n])
		}
	}
	if s.peek(`,"side":"`) {
		s.lit(`,"side":"`)
		switch side := s.str(); side {
		case SideBuy:
			t.Side = SideBuy // the constant: no allocation
		case SideSell:
			t.Side = SideSell
		default:
			t.Side = side
		}
	}
	s.lit("}")
	if !s.ok || s.i != len(s.b) {
		return Tick{}, false
	}
	return t, true
}

// timeStr reads a time string body up to its closing quote (the opening
// one already read), in the form parseTime takes.
func (s *scanner) timeStr() time.Time {
	ts := s.i
	for s.ok && s.i < len(s.b) && s.b[s.i] != '"' {
		s.i++
	}
	if !s.ok {
		return time.Time{}
	}
	var t time.Time
	t, s.ok = parseTime(s.b[ts:s.i])
	return t
}

// decodeQuoteCanonical parses the form Quote.AppendJSON writes, as
// decodeCanonical does a tick's; ok is false for anything else (quotes
// are most of the feed's messages, so every reader decodes them at
// this cost rather than encoding/json's).
func decodeQuoteCanonical(data []byte) (q Quote, ok bool) {
	s := scanner{b: data, ok: true}
	s.lit(`{"symbol":"`)
	q.Symbol = s.str()
	s.lit(`,"seq":`)
	q.Seq = s.uint()
	s.lit(`,"time":"`)
	q.Time = s.timeStr()
	s.lit(`","marketTime":"`)
	q.MarketTime = s.timeStr()
	s.lit(`","bid":`)
	q.Bid = s.float()
	s.lit(`,"ask":`)
	q.Ask = s.float()
	s.lit(`,"bidSize":`)
	q.BidSize = s.int()
	s.lit(`,"askSize":`)
	q.AskSize = s.int()
	if s.peek(`,"merged":`) {
		s.lit(`,"merged":`)
		q.Merged = s.int()
	}
	s.lit("}")
	if !s.ok || s.i != len(s.b) {
		return Quote{}, false
	}
	return q, true
}
