package gateway

import (
	"net/http"
	"strings"
	"time"

	"github.com/tickcast/tickcast/httpapi"
	"github.com/tickcast/tickcast/market"
)

// MaxSymbolsPerRequest is the most symbols one request may name.
const MaxSymbolsPerRequest = 100

// MaxThrottle is the longest throttle interval a client may ask for.
const MaxThrottle = 60 * time.Second

// MinThrottle is the shortest throttle interval: a shorter one (but not 0)
// acts as it.
const MinThrottle = 10 * time.Millisecond

// badRequest is a 400 with a JSON reason (see httpapi).
var badRequest = httpapi.BadRequest

// parseSymbols reads symbols= (comma-separated, case-insensitive,
// duplicates ignored; several symbols= parameters add up). An empty result
// means all symbols.
func parseSymbols(r *http.Request) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, v := range r.URL.Query()["symbols"] {
		for _, s := range strings.Split(v, ",") {
			s = strings.ToUpper(strings.TrimSpace(s))
			if s == "" || seen[s] {
				continue
			}
			if !market.ValidSymbol(s) {
				if len(s) > 20 {
					s = s[:20] + "..."
				}
				return nil, badRequest("invalid symbol %q: symbols are 1 to 16 letters, digits or '-'", s)
			}
			seen[s] = true
			out = append(out, s)
			if len(out) > MaxSymbolsPerRequest {
				return nil, badRequest("too many symbols: at most %d per request", MaxSymbolsPerRequest)
			}
		}
	}
	return out, nil
}

// parseThrottle reads throttle=: a Go duration from 0 to 60s, rounded up
// to a whole millisecond and to at least MinThrottle (0 stays 0: every
// tick). Clients that ask for the same rounded interval share a clock and
// its cached windows, and there are at most 60,000 intervals.
func parseThrottle(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("throttle")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		if len(v) > 20 {
			v = v[:20] + "..."
		}
		return 0, badRequest("invalid throttle %q: want a duration such as 250ms or 1s", v)
	}
	if d < 0 || d > MaxThrottle {
		return 0, badRequest("throttle %s out of range: want 0 to %s", d, MaxThrottle)
	}
	if d > 0 {
		d = max((d + time.Millisecond - 1).Truncate(time.Millisecond), MinThrottle)
	}
	return d, nil
}
