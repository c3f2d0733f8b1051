package gateway

import (
	"context"
	"time"
)

// track adds or removes a streaming client from the heartbeat sweep.
func (g *Gateway) track(c *client, on bool) {
	g.liveMu.Lock()
	defer g.liveMu.Unlock()
	if on {
		g.live[c] = struct{}{}
		if c.pc != nil {
			// A stream bound for the event loop that starts after the
			// sweep of its ending (sweepLoop) hears of it here.
			if g.shutdownCtx.Err() != nil {
				c.notify(evShutdown)
			}
			if c.h.ctx.Err() != nil {
				c.notify(evEpoch)
			}
		}
	} else {
		delete(g.live, c)
	}
}

// heartbeats wakes every client a few times per heartbeat interval so it
// can send a comment if it has been silent: one goroutine and one timer
// for all clients instead of one each.
func (g *Gateway) heartbeats(ctx context.Context) {
	t := time.NewTicker(g.opts.Heartbeat / 3)
	defer t.Stop()
	var batch []*client
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g.liveMu.Lock()
		batch = batch[:0]
		for c := range g.live {
			batch = append(batch, c)
		}
		g.liveMu.Unlock()
		for _, c := range batch {
			c.notify(evHeartbeat)
		}
	}
}
