package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
)

// refreshUniverse reloads the symbol universe if it is older than a
// second (or force).
func (g *Gateway) refreshUniverse(ctx context.Context, force bool) {
	g.uniMu.Lock()
	defer g.uniMu.Unlock()
	if !force && time.Since(g.uniFetched) < time.Second {
		return
	}
	g.uniFetched = time.Now()
	u, err := g.src.Universe(ctx)
	if err != nil {
		if !errors.Is(err, feed.ErrNoUniverse) {
			g.log.Warn("reading the universe failed", "err", err)
		}
		return
	}
	g.universe = u
	if h := g.hub.Load(); h != nil {
		syms := make([]string, len(u))
		for i, s := range u {
			syms[i] = s.Symbol
		}
		h.addSymbols(syms)
	}
}

// cachedUniverse returns a copy of the cached universe.
func (g *Gateway) cachedUniverse() []market.SymbolInfo {
	g.uniMu.Lock()
	defer g.uniMu.Unlock()
	return append([]market.SymbolInfo(nil), g.universe...)
}

// universeSymbols returns the cached universe's symbols.
func (g *Gateway) universeSymbols() []string {
	g.uniMu.Lock()
	defer g.uniMu.Unlock()
	out := make([]string, len(g.universe))
	for i, s := range g.universe {
		out[i] = s.Symbol
	}
	return out
}

// resolve validates requested symbols against the hub's known symbols,
// refreshing the universe once if one is unknown. It returns the indexes.
func (g *Gateway) resolve(ctx context.Context, h *hub, syms []string) ([]int, error) {
	for attempt := 0; ; attempt++ {
		idx, unknown := h.resolve(syms)
		if unknown == "" {
			return idx, nil
		}
		if attempt > 0 {
			return nil, badRequest("unknown symbol %q: GET /v1/symbols lists them", unknown)
		}
		g.refreshUniverse(ctx, false)
	}
}
