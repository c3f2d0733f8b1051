package bench

import "bytes"

// The few tick fields the bench needs, read straight from the JSON bytes:
// decoding each event with encoding/json would cost more than the gateway
// spends sending it.

// tickFields is what a client reads from a tick event.
type tickFields struct {
	symbol []byte // aliases the event data
	seq    uint64
	timeNs int64 // tick time, Unix nanoseconds
	merged int64 // 0 when absent
}

// parseTick reads symbol, seq, time and merged from one JSON tick object
// (as market.Tick.AppendJSON writes it; key order and other fields do not
// matter), with tc (may be nil) caching the time's date part. It reports false unless symbol, seq and time are all present
// and well-formed. It does not allocate.
func parseTick(b []byte, t *tickFields, tc *timeCache) bool {
	if fastTick(b, t, tc) {
		return true
	}
	return slowTick(b, t, tc)
}

// fastTick reads the canonical form market.Tick.AppendJSON writes: symbol,
// seq and time first, then only keys with number values. It reports false
// (and slowTick decides) on anything else.
func fastTick(b []byte, t *tickFields, tc *timeCache) bool {
	const head = `{"symbol":"`
	if len(b) < len(head) || string(b[:len(head)]) != head {
		return false
	}
	i := len(head)
	s := i
	for i < len(b) && b[i] != '"' {
		if b[i] == '\\' || b[i] < 0x20 {
			return false
		}
		i++
	}
	sym := b[s:i]
	const seqKey = `","seq":`
	if len(b)-i < len(seqKey) || string(b[i:i+len(seqKey)]) != seqKey {
		return false
	}
	seq, i, ok := parseUint(b, i+len(seqKey))
	if !ok {
		return false
	}
	const timeKey = `,"time":"`
	if len(b)-i < len(timeKey) || string(b[i:i+len(timeKey)]) != timeKey {
		return false
	}
	i += len(timeKey)
	s = i
	for i < len(b) && b[i] != '"' {
		i++
	}
	if i >= len(b) {
		return false
	}
	ns, ok := parseRFC3339(b[s:i], tc)
	if !ok {
		return false
	}
	i++
	var merged uint64
	for {
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			if i+1 != len(b) {
				return false
			}
			break
		}
		if b[i] != ',' || i+1 >= len(b) || b[i+1] != '"' {
			return false
		}
		i += 2
		ks := i
		e := bytes.IndexByte(b[i:], '"')
		if e < 0 {
			return false
		}
		i += e
		key := b[ks:i]
		if i+2 >= len(b) || b[i+1] != ':' || (e > 0 && b[i-1] == '\\') {
			return false
		}
		i += 2
		switch string(key) {
		case "merged":
			v, j, ok := parseUint(b, i)
			if !ok || v > 1<<62 {
				return false
			}
			merged, i = v, j
		case "symbol", "seq", "time":
			return false // repeated: let slowTick apply last-wins
		default:
			s := i
			for i < len(b) && numChar[b[i]] {
				i++
			}
			if i == s {
				return false
			}
		}
	}
	t.symbol, t.seq, t.timeNs, t.merged = sym, seq, ns, int64(merged)
	return true
}

// numChar marks the bytes a JSON number is made of.
var numChar = [256]bool{'0': true, '1': true, '2': true, '3': true, '4': true,
	'5': true, '6': true, '7': true, '8': true, '9': true,
	'-': true, '+': true, '.': true, 'e': true, 'E': true}

// slowTick is parseTick for any JSON object.
func slowTick(b []byte, t *tickFields, tc *timeCache) bool {
	*t = tickFields{}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	var have uint8
	for {
		i = skipWS(b, i)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return have == 7 && skipWS(b, i+1) == len(b)
		}
		if b[i] != '"' {
			return false
		}
		ks := i + 1
		ke := ks
		for ke < len(b) && b[ke] != '"' && b[ke] != '\\' {
			ke++
		}
		var key []byte
		if ke < len(b) && b[ke] == '"' {
			key = b[ks:ke]
			i = ke + 1
		} else { // escaped key: none of ours
			j, ok := skipString(b, i)
			if !ok {
				return false
			}
			i = j
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return false
		}
		switch string(key) {
		case "symbol":
			if b[i] != '"' {
				return false
			}
			s := i + 1
			e := s
			for e < len(b) && b[e] != '"' && b[e] != '\\' && b[e] >= 0x20 {
				e++
			}
			if e >= len(b) || b[e] != '"' {
				return false
			}
			t.symbol = b[s:e]
			i = e + 1
			have |= 1
		case "seq":
			v, j, ok := parseUint(b, i)
			if !ok {
				return false
			}
			t.seq, i = v, j
			have |= 2
		case "time":
			if b[i] != '"' {
				return false
			}
			s := i + 1
			e := s
			for e < len(b) && b[e] != '"' {
				e++
			}
			if e >= len(b) {
				return false
			}
			ns, ok := parseRFC3339(b[s:e], tc)
			if !ok {
				return false
			}
			t.timeNs = ns
			i = e + 1
			have |= 4
		case "merged":
			v, j, ok := parseUint(b, i)
			if !ok || v > 1<<62 {
				return false
			}
			t.merged, i = int64(v), j
		default:
			j, ok := skipValue(b, i, 0)
			if !ok {
				return false
			}
			i = j
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
		default:
			return false
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// parseUint reads a JSON integer >= 0 at b[i:], rejecting fractions,
// exponents, leading zeros and overflow.
func parseUint(b []byte, i int) (uint64, int, bool) {
	s := i
	var v uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		d := uint64(b[i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, i, false
		}
		v = v*10 + d
		i++
	}
	if i == s || (b[s] == '0' && i-s > 1) {
		return 0, i, false
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, i, false
	}
	return v, i, true
}

// skipString skips the JSON string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, bool) {
	i++
	for i < len(b) {
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return i, false
}

// skipValue skips one JSON value at b[i:]. It checks structure, not
// every detail of number and literal syntax.
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > 64 {
		return i, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		closer := byte('}')
		if b[i] == '[' {
			closer = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, true
		}
		for {
			if closer == '}' {
				if i >= len(b) || b[i] != '"' {
					return i, false
				}
				j, ok := skipString(b, i)
				if !ok {
					return j, false
				}
				i = skipWS(b, j)
				if i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = skipWS(b, i+1)
			}
			j, ok := skipValue(b, i, depth+1)
			if !ok {
				return j, false
			}
			i = skipWS(b, j)
			if i >= len(b) {
				return i, false
			}
			if b[i] == closer {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i = skipWS(b, i+1)
		}
	default:
		s := i
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return i, i > s
			}
			i++
		}
		return i, i > s
	}
}

// timeCache remembers the seconds of the last "YYYY-MM-DDTHH:MM" prefix
// parsed: consecutive ticks share it, and the date arithmetic is most of
// the cost of reading a time.
type timeCache struct {
	prefix [16]byte
	secs   int64
	ok     bool
}

// parseRFC3339 parses YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm), the
// form time.RFC3339Nano writes, into Unix nanoseconds. Years outside what
// UnixNano can hold, and fractions longer than nanoseconds, are refused.
// tc may be nil.
func parseRFC3339(b []byte, tc *timeCache) (int64, bool) {
	if len(b) < 20 || b[16] != ':' {
		return 0, false
	}
	sec, ok := digits(b[17:19])
	if !ok || sec > 59 {
		return 0, false
	}
	var base int64
	if tc != nil && tc.ok && string(b[:16]) == string(tc.prefix[:]) {
		base = tc.secs
	} else {
		if b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' {
			return 0, false
		}
		year, ok1 := digits(b[0:4])
		month, ok2 := digits(b[5:7])
		day, ok3 := digits(b[8:10])
		hour, ok4 := digits(b[11:13])
		minute, ok5 := digits(b[14:16])
		if !(ok1 && ok2 && ok3 && ok4 && ok5) {
			return 0, false
		}
		if year < 1678 || year > 2261 || month < 1 || month > 12 || day < 1 ||
			day > daysIn(month, year) || hour > 23 || minute > 59 {
			return 0, false
		}
		base = daysFromCivil(year, month, day)*86400 + hour*3600 + minute*60
		if tc != nil {
			copy(tc.prefix[:], b[:16])
			tc.secs, tc.ok = base, true
		}
	}
	i := 19
	var frac int64
	if b[i] == '.' {
		i++
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			frac = frac*10 + int64(b[i]-'0')
			i++
		}
		n := i - s
		if n == 0 || n > 9 {
			return 0, false
		}
		for ; n < 9; n++ {
			frac *= 10
		}
	}
	if i >= len(b) {
		return 0, false
	}
	var off int64
	switch b[i] {
	case 'Z':
		i++
	case '+', '-':
		if len(b)-i != 6 || b[i+3] != ':' {
			return 0, false
		}
		oh, ok1 := digits(b[i+1 : i+3])
		om, ok2 := digits(b[i+4 : i+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		off = oh*3600 + om*60
		if b[i] == '-' {
			off = -off
		}
		i += 6
	default:
		return 0, false
	}
	if i != len(b) {
		return 0, false
	}
	return (base+sec-off)*1e9 + frac, true
}

func digits(b []byte) (int64, bool) {
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

func daysIn(month, year int64) int64 {
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

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (H. Hinnant's algorithm), for years >= 1.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// snapshotTicks returns the bounds of the "ticks" array in a snapshot
// event's data ({"ticks":[Tick, ...]}), or ok false.
func snapshotTicks(b []byte) (arr []byte, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] != '}' {
		if b[i] != '"' {
			return nil, false
		}
		j, ok := skipString(b, i)
		if !ok {
			return nil, false
		}
		key := b[i+1 : j-1]
		i = skipWS(b, j)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipWS(b, i+1)
		e, ok := skipValue(b, i, 0)
		if !ok {
			return nil, false
		}
		if string(key) == "ticks" && b[i] == '[' {
			return b[i:e], true
		}
		i = skipWS(b, e)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return nil, false
}

// nextElem returns the next element of a JSON array whose bytes arr holds
// (the array itself, from '['), starting the scan at *pos (0 at first).
func nextElem(arr []byte, pos *int) ([]byte, bool) {
	i := *pos
	if i == 0 {
		if len(arr) == 0 || arr[0] != '[' {
			return nil, false
		}
		i = 1
	}
	i = skipWS(arr, i)
	if i < len(arr) && arr[i] == ',' {
		i = skipWS(arr, i+1)
	}
	if i >= len(arr) || arr[i] == ']' {
		*pos = len(arr)
		return nil, false
	}
	e, ok := skipValue(arr, i, 0)
	if !ok {
		*pos = len(arr)
		return nil, false
	}
	*pos = e
	return arr[i:e], true
}
