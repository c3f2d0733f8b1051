package bench

import (
	"bytes"
	"encoding/json"
)

// slowTick is parseTick for any JSON object, by encoding/json. It decodes
// into a map, not a struct, because struct fields match keys regardless
// of case and fastTick's keys are exact; the last of a repeated key wins,
// as it does there.
func slowTick(b []byte, t *tickFields, tc *timeCache) bool {
	*t = tickFields{}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || m == nil {
		return false
	}
	// The symbol is taken as its bytes, unescaped ones only, as fastTick
	// does; decoding it would turn invalid UTF-8 into U+FFFD.
	sym := m["symbol"]
	if len(sym) < 2 || sym[0] != '"' || bytes.IndexByte(sym, '\\') >= 0 {
		return false
	}
	seq, ok := jsonUint(m["seq"])
	if !ok {
		return false
	}
	var ts string
	if raw, ok := m["time"]; !ok || json.Unmarshal(raw, &ts) != nil {
		return false
	}
	ns, ok := parseRFC3339([]byte(ts), tc)
	if !ok {
		return false
	}
	var merged uint64
	if raw, ok := m["merged"]; ok {
		if merged, ok = jsonUint(raw); !ok || merged > 1<<62 {
			return false
		}
	}
	t.symbol, t.seq, t.timeNs, t.merged = sym[1:len(sym)-1], seq, ns, int64(merged)
	return true
}

// jsonUint decodes a JSON integer >= 0 (no fraction or exponent, no
// overflow); null, which json.Unmarshal would skip, is refused.
func jsonUint(raw json.RawMessage) (uint64, bool) {
	if len(raw) == 0 || raw[0] < '0' || raw[0] > '9' {
		return 0, false
	}
	var v uint64
	return v, json.Unmarshal(raw, &v) == nil
}
