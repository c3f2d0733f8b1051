package gateway

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/tickcast/tickcast/httpapi"
	"github.com/tickcast/tickcast/market"
)

// handleReady says whether this gateway should get new clients: it
// reads the stream and is not shutting down (a load balancer's check).
func (g *Gateway) handleReady(w http.ResponseWriter, r *http.Request) {
	select {
	case <-g.shutdown:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	default:
	}
	if g.hub.Load() == nil || !g.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (g *Gateway) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := g.hub.Load()
	if h == nil || !g.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	st, err := g.src.State(ctx)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "stream unreadable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "epoch": st.Epoch, "lastSeq": st.LastSeq, "hubSeq": h.lastSeqNow()})
}

// symbolEntry is one element of GET /v1/symbols: the universe's entry,
// with prevClose null for a symbol known only from the stream (seen in
// ticks but not in the simulator's universe), whose previous close the
// gateway does not know.
type symbolEntry struct {
	market.SymbolInfo
	PrevClose *float64 `json:"prevClose"` // shadows SymbolInfo.PrevClose
}

func (g *Gateway) handleSymbols(w http.ResponseWriter, r *http.Request) {
	g.refreshUniverse(r.Context(), false)
	uni := slices.DeleteFunc(g.cachedUniverse(), func(s market.SymbolInfo) bool { return !keep(r, s.Symbol) })
	out := make([]symbolEntry, 0, len(uni)) // [] rather than null when empty
	known := map[string]bool{}
	for i := range uni {
		out = append(out, symbolEntry{SymbolInfo: uni[i], PrevClose: &uni[i].PrevClose})
		known[uni[i].Symbol] = true
	}
	// Symbols seen on the stream but not in the universe still exist.
	if h := g.hub.Load(); h != nil {
		for _, s := range h.observedSymbols() {
			if !known[s] && keep(r, s) {
				out = append(out, symbolEntry{SymbolInfo: market.SymbolInfo{Symbol: s}})
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	syms, err := parseSymbols(r)
	if err != nil {
		g.writeError(w, r, err)
		return
	}
	var ok bool
	if syms, ok = g.scope(w, r, syms); !ok {
		return
	}
	h, ok := g.waitReady(r.Context())
	if !ok {
		g.writeError(w, r, httpapi.Unavailable("the gateway is not reading the stream yet; try again"))
		return
	}
	idx, err := g.resolve(r.Context(), h, syms)
	if err != nil {
		g.writeError(w, r, err)
		return
	}
	f := h.newFilter(idx, kTick)
	// The stream's window, for "first": anything that stops us reading it
	// (NATS unreachable, a leader election, the stream being recreated) is
	// temporary, so a 503.
	sctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	st, err := g.src.State(sctx)
	cancel()
	if err != nil {
		g.log.Warn("snapshot: reading the stream state failed", "err", err)
		g.writeError(w, r, httpapi.Unavailable("the stream cannot be read just now; try again"))
		return
	}
	if st.Epoch != h.epoch {
		// The stream was recreated and this hub is on its way out: its
		// ids and the stream's window do not belong together.
		g.writeError(w, r, httpapi.Unavailable("the stream was just recreated; try again"))
		return
	}
	ticks, id := h.snapshot(&f)
	if ticks == nil {
		ticks = []market.Tick{}
	}
	first := st.FirstSeq
	if first > 0 {
		first--
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "first": h.id(first), "ticks": ticks})
}
