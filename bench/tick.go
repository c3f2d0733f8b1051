package bench

// The few tick fields the bench needs. The form the gateway writes is read
// straight from the JSON bytes (fastTick): decoding each event with
// encoding/json would cost more than the gateway spends sending it.
// Anything else falls back to encoding/json (slowTick, in tickslow.go).

// tickFields is what a client reads from a tick event.
type tickFields struct {
	symbol []byte // aliases the event data, if fastTick read it
	seq    uint64
	timeNs int64 // tick time, Unix nanoseconds
	merged int64 // 0 when absent
}

// parseTick reads symbol, seq, time and merged from one JSON tick object
// (as market.Tick.AppendJSON writes it; key order and other fields do not
// matter), with tc (may be nil) caching the time's date part. It reports
// false unless symbol, seq and time are all present and well-formed. It
// does not allocate on the form AppendJSON writes.
func parseTick(b []byte, t *tickFields, tc *timeCache) bool {
	if fastTick(b, t, tc) {
		return true
	}
	return slowTick(b, t, tc)
}

// fastTick reads the canonical form market.Tick.AppendJSON writes: symbol,
// seq and time first, then keys whose values skipFlat takes (numbers, plain
// ASCII strings such as marketTime, status and side, literals, and flat
// arrays such as conditions). It reports false (and slowTick decides) on
// anything else. Before it took strings, every tick with a marketTime went
// to encoding/json, at 20 times the cost.
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
		for i < len(b) && b[i] != '"' {
			if b[i] == '\\' || b[i] < 0x20 {
				return false // which key an escaped one is takes decoding: slowTick's
			}
			i++
		}
		key := b[ks:i]
		if i+2 >= len(b) || b[i+1] != ':' {
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
			j, ok := skipFlat(b, i)
			if !ok {
				return false
			}
			i = j
		}
	}
	t.symbol, t.seq, t.timeNs, t.merged = sym, seq, ns, int64(merged)
	return true
}

// skipFlat returns the end of the JSON value at b[i:] if it is one fastTick
// can vouch for without decoding: a number, true, false, null, a string of
// printable ASCII without escapes, or an array of those (no nesting, no
// spaces). Anything else reports false, for slowTick to judge.
func skipFlat(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '[' {
		return skipScalar(b, i)
	}
	i++
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		j, ok := skipScalar(b, i)
		if !ok || j >= len(b) {
			return j, false
		}
		switch b[j] {
		case ']':
			return j + 1, true
		case ',':
			i = j + 1
		default:
			return j, false
		}
	}
}

// skipScalar is skipFlat for one number, literal or plain string.
func skipScalar(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		for i++; i < len(b); i++ {
			c := b[i]
			if c == '"' {
				return i + 1, true
			}
			if c < 0x20 || c == '\\' || c >= 0x80 {
				return i, false // control bytes, escapes, UTF-8: slowTick's
			}
		}
		return i, false
	case 't':
		return skipLit(b, i, "true")
	case 'f':
		return skipLit(b, i, "false")
	case 'n':
		return skipLit(b, i, "null")
	}
	return skipNumber(b, i)
}

func skipLit(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
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

// skipNumber returns the end of the JSON number at b[i:], checking its
// syntax as encoding/json does.
func skipNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
