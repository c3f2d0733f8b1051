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
