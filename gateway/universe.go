package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/httpapi"
	"github.com/tickcast/tickcast/market"
)

// universeTimeout bounds one load of the universe from NATS.
const universeTimeout = 2 * time.Second

// universeLoad is one load of the universe in flight; at most one runs at
// a time (Gateway.uniLoad).
type universeLoad struct {
	started time.Time
	done    chan struct{} // closed when the load has ended and its result is stored
	err     error         // the load's error, set before done is closed
}

// refreshUniverse reloads the symbol universe unless a load that started
// within the last second (force: from now on) has finished. It returns
// that load's error.
func (g *Gateway) refreshUniverse(ctx context.Context, force bool) error {
	since := time.Now()
	if !force {
		since = since.Add(-time.Second)
	}
	return g.refreshSince(ctx, since)
}

// refreshSince makes sure the cached universe comes from a load that
// started at or after since: it returns at once if one has finished,
// else waits for the load in flight or starts one, and returns that
// load's error, or ctx's if ctx ends first. The load itself runs in a
// goroutine of its own under universeTimeout, not under any caller's
// context, so a caller that goes away neither cancels it for the others
// nor holds anything; that goroutine ends by itself within the timeout.
func (g *Gateway) refreshSince(ctx context.Context, since time.Time) error {
	for {
		g.uniMu.Lock()
		if !g.uniFetched.IsZero() && !g.uniFetched.Before(since) {
			err := g.uniErr
			g.uniMu.Unlock()
			return err
		}
		l := g.uniLoad
		if l == nil {
			l = &universeLoad{started: time.Now(), done: make(chan struct{})}
			g.uniLoad = l
			go g.loadUniverse(l)
		}
		g.uniMu.Unlock()
		select {
		case <-l.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !l.started.Before(since) {
			return l.err
		}
		// That load started before since: it may predate what the caller
		// is looking for. Go round to start another.
	}
}

// loadUniverse runs load l and stores its result.
func (g *Gateway) loadUniverse(l *universeLoad) {
	ctx, cancel := context.WithTimeout(context.Background(), universeTimeout)
	defer cancel()
	u, err := g.src.Universe(ctx)
	if err != nil && !errors.Is(err, feed.ErrNoUniverse) {
		g.log.Warn("reading the universe failed", "err", err)
	}
	if err == nil {
		if h := g.hub.Load(); h != nil {
			syms := make([]string, len(u))
			for i, s := range u {
				syms[i] = s.Symbol
			}
			h.addSymbols(syms) // before done: a waiter resolves against them
		}
	}
	g.uniMu.Lock()
	if err == nil {
		g.universe = u
	}
	g.uniFetched, g.uniErr, g.uniLoad = l.started, err, nil
	g.uniMu.Unlock()
	l.err = err
	close(l.done)
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

// resolve validates requested symbols against the hub's known symbols.
// If one is unknown it reloads the universe, with a load that started
// after the symbol was found unknown (so a symbol the simulator has just
// added is found), and checks again. A symbol still unknown is a 400; if
// the universe could not be read, a 503 (try again).
func (g *Gateway) resolve(ctx context.Context, h *hub, syms []string) ([]int, error) {
	idx, unknown := h.resolve(syms)
	if unknown == "" {
		return idx, nil
	}
	err := g.refreshSince(ctx, time.Now())
	if idx, unknown = h.resolve(syms); unknown == "" {
		return idx, nil
	}
	if err != nil && !errors.Is(err, feed.ErrNoUniverse) {
		return nil, httpapi.Unavailable("cannot check symbol %q just now: the symbol list is unreadable; try again", unknown)
	}
	return nil, badRequest("unknown symbol %q: GET /v1/symbols lists them", unknown)
}
