package bench

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
