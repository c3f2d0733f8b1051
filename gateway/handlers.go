package gateway

import (
	"context"
	"net/http"
	"slices"
	"time"

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

func (g *Gateway) handleSymbols(w http.ResponseWriter, r *http.Request) {
	g.refreshUniverse(r.Context(), false)
	out := slices.DeleteFunc(g.cachedUniverse(), func(s market.SymbolInfo) bool { return !keep(r, s.Symbol) })
	known := map[string]bool{}
	for _, s := range out {
		known[s.Symbol] = true
	}
	// Symbols seen on the stream but not in the universe still exist.
	if h := g.hub.Load(); h != nil {
		for _, s := range h.observedSymbols() {
			if !known[s.Symbol] && keep(r, s.Symbol) {
				out = append(out, s)
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
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the gateway is not reading the stream yet; try again"})
		return
	}
	idx, err := g.resolve(r.Context(), h, syms)
	if err != nil {
		g.writeError(w, r, err)
		return
	}
	f := h.newFilter(idx)
	st, err := g.src.State(r.Context())
	if err != nil {
		g.writeError(w, r, err)
		return
	}
	ticks, id := h.snapshot(f)
	if ticks == nil {
		ticks = []market.Tick{}
	}
	first := st.FirstSeq
	if first > 0 {
		first--
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "first": h.id(first), "ticks": ticks})
}
