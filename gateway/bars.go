package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/httpapi"
	"github.com/tickcast/tickcast/market"
)

// GET /v1/bars and GET /v1/market (docs/events-design.md).

// BarReader is what GET /v1/bars needs from the feed beyond Source:
// bar history (feed.Conn.ReadBars). Without it /v1/bars answers 503.
type BarReader interface {
	ReadBars(ctx context.Context, symbol, interval string, from, to time.Time, limit int) ([]feed.BarMsg, error)
}

// LastAller is what the gateway needs to seed snapshots and the market
// clock with events from before its ring (feed.Conn.LastAll). Optional.
type LastAller interface {
	LastAll(ctx context.Context, filter string) ([]feed.RawMsg, error)
}

// Limits of GET /v1/bars.
const (
	DefaultBarsLimit = 500
	MaxBarsLimit     = 5000
)

// barsResponse is GET /v1/bars's answer.
type barsResponse struct {
	Symbol   string       `json:"symbol"`
	Interval string       `json:"interval"`
	Bars     []market.Bar `json:"bars"`
	ID       string       `json:"id"`
}

// barsQuery is what GET /v1/bars asks for.
type barsQuery struct {
	sym, interval string
	from, to      time.Time // zero: open
	limit         int
}

// parseBarsQuery reads /v1/bars's query: symbol= (required), interval=
// (default 1m), from= and to= (RFC 3339, from before to), limit= (1 to
// MaxBarsLimit, default DefaultBarsLimit).
func parseBarsQuery(r *http.Request) (bq barsQuery, err error) {
	q := r.URL.Query()
	bq.sym = strings.ToUpper(strings.TrimSpace(q.Get("symbol")))
	if bq.sym == "" || !market.ValidSymbol(bq.sym) {
		return bq, badRequest("symbol= is required: one symbol of 1 to 16 letters, digits or '-'")
	}
	bq.interval = q.Get("interval")
	if bq.interval == "" {
		bq.interval = market.Interval1m
	}
	if _, ok := market.IntervalDuration(bq.interval); !ok {
		return bq, badRequest("unknown interval %q: want 1s or 1m", cut(bq.interval))
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &bq.from}, {"to", &bq.to}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return bq, badRequest("invalid %s %q: want an RFC 3339 time", p.name, cut(v))
			}
			*p.t = t
		}
	}
	if !bq.from.IsZero() && !bq.to.IsZero() && !bq.from.Before(bq.to) {
		return bq, badRequest("from must be before to")
	}
	bq.limit = DefaultBarsLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxBarsLimit {
			return bq, badRequest("invalid limit %q: want 1 to %d", cut(v), MaxBarsLimit)
		}
		bq.limit = n
	}
	return bq, nil
}

// handleBars serves GET /v1/bars?symbol=&interval=&from=&to=&limit=:
// the symbol's bars of the interval, oldest first, and the id from which
// /v1/stream?events=bar continues with nothing missed or doubled (see
// barsResumeLocked).
func (g *Gateway) handleBars(w http.ResponseWriter, r *http.Request) {
	bq, err := parseBarsQuery(r)
	if err != nil {
		g.writeError(w, r, err)
		return
	}
	sym, iv := bq.sym, bq.interval
	if syms, ok := g.scope(w, r, []string{sym}); !ok || len(syms) != 1 {
		return
	}
	h, ok := g.waitReady(r.Context())
	if !ok {
		g.writeError(w, r, httpapi.Unavailable("the gateway is not reading the stream yet; try again"))
		return
	}
	if _, err := g.resolve(r.Context(), h, []string{sym}); err != nil {
		g.writeError(w, r, err)
		return
	}
	br, ok := g.src.(BarReader)
	if !ok {
		g.writeError(w, r, httpapi.Unavailable("this gateway's feed keeps no bar history"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	msgs, err := br.ReadBars(ctx, sym, iv, bq.from, bq.to, bq.limit)
	if errors.Is(err, feed.ErrBadRequest) {
		g.writeError(w, r, badRequest("%v", err))
		return
	}
	if err != nil {
		g.log.Warn("bars: reading history failed", "err", err)
		g.writeError(w, r, httpapi.Unavailable("bar history cannot be read just now; try again"))
		return
	}
	out := barsResponse{Symbol: sym, Interval: iv, Bars: make([]market.Bar, 0, len(msgs))}
	var newest time.Time // the newest bar's end
	for _, m := range msgs {
		out.Bars = append(out.Bars, m.Bar)
		newest = m.Bar.End
	}
	mask := barBit(iv)
	// The bars read were in the stream before this: let the hub read up
	// to the stream's last sequence (aheadWait at most), so that the
	// newest of them is in the ring and does not come again.
	if st, err := g.src.State(ctx); err == nil && st.Epoch == h.epoch {
		_, _ = g.awaitHub(ctx, h, st.LastSeq)
	}
	out.ID = h.id(h.barsResume(sym, mask, newest))
	writeJSON(w, http.StatusOK, out)
}

// marketResponse is GET /v1/market's answer.
type marketResponse struct {
	// Clock is the newest market.clock event extrapolated to now (time
	// and marketTime moved on by speed); null before the first.
	Clock *market.Clock `json:"clock"`
	// Statuses lists the newest status of every symbol not open.
	Statuses []market.Status `json:"statuses"`
}

// handleMarket serves GET /v1/market.
func (g *Gateway) handleMarket(w http.ResponseWriter, r *http.Request) {
	h, ok := g.waitReady(r.Context())
	if !ok {
		g.writeError(w, r, httpapi.Unavailable("the gateway is not reading the stream yet; try again"))
		return
	}
	out := marketResponse{Statuses: []market.Status{}}
	var sts [][]byte
	out.Clock, sts = h.marketState()
	gr := grantOf(r) // a scoped token sees its symbols' states only
	for _, js := range sts {
		if s, err := market.DecodeStatus(js); err == nil && s.State != market.StateOpen && gr.Allows(s.Symbol) {
			out.Statuses = append(out.Statuses, s)
		}
	}
	if k := out.Clock; k != nil {
		now := time.Now().UTC()
		if el := now.Sub(k.Time); el > 0 && k.Speed > 0 {
			k.MarketTime = k.MarketTime.Add(time.Duration(float64(el) * k.Speed))
			if !k.NextPhaseAt.IsZero() && !k.MarketTime.Before(k.NextPhaseAt) {
				k.MarketTime = k.NextPhaseAt // the next clock event says what follows
			}
		}
		k.Time = now
	}
	writeJSON(w, http.StatusOK, out)
}

// seedEvents records the newest quote, bar, status, book and clock of before
// the ring (from the <stream>_LAST companion) for snapshots and
// /v1/market; a message the ring will hold (Seq > h.startSeq) comes
// from the tail instead.
func (g *Gateway) seedEvents(ctx context.Context, h *hub) {
	la, ok := g.src.(LastAller)
	if !ok {
		return
	}
	for _, f := range []string{feed.QuoteSubjectPrefix + ">", feed.BarSubjectPrefix + ">", feed.StatusSubjectPrefix + ">", feed.BookSubjectPrefix + ">", feed.ClockSubject} {
		msgs, err := la.LastAll(ctx, f)
		if err != nil {
			g.log.Warn("seeding events from the last-message companion failed", "filter", f, "err", err)
			continue
		}
		for i := range msgs {
			m := feed.Msg{Seq: msgs[i].Seq, Subject: msgs[i].Subject, Data: msgs[i].Data}
			if m.Seq > h.startSeq {
				continue
			}
			e, sym, ok := eventEntry(h.epoch, &m, nil)
			if !ok {
				continue
			}
			h.seedLatest(sym, e)
		}
	}
}
