package bench

import "github.com/tickcast/tickcast/market"

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
			day > int64(market.DaysInMonth(int(month), int(year))) || hour > 23 || minute > 59 {
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
