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

// parseEventTypes reads events= (comma-separated; default "tick") and bars=
// (the bar intervals, default both when bar is asked for). Unknown
// names are a 400.
func parseEventTypes(r *http.Request) (uint8, error) {
	q := r.URL.Query()
	ev, bars := q.Get("events"), q.Get("bars")
	if ev == "" {
		if bars != "" {
			return 0, badRequest("bars= needs events= with bar")
		}
		return kTick, nil
	}
	var k uint8
	for _, s := range strings.Split(ev, ",") {
		name := strings.ToLower(strings.TrimSpace(s))
		if bits, ok := typeBits[name]; ok {
			k |= bits
		} else if name != "" {
			return 0, badRequest("unknown event type %q: want tick, trade, quote, bar, status or book", cut(s))
		}
	}
	if k == 0 {
		return 0, badRequest("events= names no event type: want tick, trade, quote, bar, status or book")
	}
	if bars != "" {
		if k&kBars == 0 {
			return 0, badRequest("bars= needs events= with bar")
		}
		k &^= kBars
		for _, s := range strings.Split(bars, ",") {
			iv := strings.TrimSpace(s)
			if iv == market.Interval1s || iv == market.Interval1m {
				k |= barBit(iv)
			} else if iv != "" {
				return 0, badRequest("unknown bar interval %q: want 1s or 1m", cut(s))
			}
		}
		if k&kBars == 0 {
			return 0, badRequest("bars= names no interval: want 1s or 1m")
		}
	}
	return k, nil
}

// parseFrom reads from= (RFC 3339); zero when absent.
func parseFrom(r *http.Request) (time.Time, error) {
	v := r.URL.Query().Get("from")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest("invalid from %q: want an RFC 3339 time such as 2026-11-23T14:30:00Z", cut(v))
	}
	return t, nil
}

func cut(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

// streamQuery is what GET /v1/stream asks for.
type streamQuery struct {
	syms     []string // empty: every symbol
	throttle time.Duration
	kinds    uint8 // event types (k* bits, events.go)
	depth    int   // book depth
	at       startAt
}

// parseStreamQuery reads /v1/stream's query and its Last-Event-ID (the
// header wins over ?lastEventId=).
func parseStreamQuery(r *http.Request) (q streamQuery, err error) {
	if q.syms, err = parseSymbols(r); err != nil {
		return q, err
	}
	if q.throttle, err = parseThrottle(r); err != nil {
		return q, err
	}
	if q.kinds, err = parseEventTypes(r); err != nil {
		return q, err
	}
	if q.depth, err = parseDepth(r, q.kinds); err != nil {
		return q, err
	}
	if q.at.from, err = parseFrom(r); err != nil {
		return q, err
	}
	q.at.lastID, q.at.hasID = r.Header.Get("Last-Event-ID"), true
	if q.at.lastID == "" {
		q.at.lastID = r.URL.Query().Get("lastEventId")
		q.at.hasID = q.at.lastID != ""
	}
	return q, nil
}
