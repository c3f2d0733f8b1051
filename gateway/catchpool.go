package gateway

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickcast/tickcast/feed"
)

// catchups is the gateway's catch-up machinery, shared by its epochs:
// the pools and the current epoch's history.
type catchups struct {
	// readers is the pool of JetStream readers. Bound: its capacity
	// (Options.HistoryReaders); a read waits for a free slot, in FIFO
	// order (goroutines blocked on a channel send are served in order).
	readers chan struct{}
	// slots bounds the catch-ups folding at once (Options.CatchupWorkers)
	// and so their CPU; the rest wait, first come first served.
	slots chan struct{}

	mu   sync.Mutex
	hist *history

	blocksRead   prometheus.Counter
	readersGauge prometheus.Gauge
	waiting      prometheus.Gauge
	active       prometheus.Gauge
	cacheBytes   prometheus.Gauge
	evictions    prometheus.Counter
}

func newCatchups(opts Options, reg *prometheus.Registry) *catchups {
	cu := &catchups{
		readers: make(chan struct{}, opts.HistoryReaders),
		slots:   make(chan struct{}, opts.CatchupWorkers),
		blocksRead: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickcast_history_blocks_read_total",
			Help: "History reads from JetStream for catch-ups behind the ring (one short-lived consumer each)."}),
		readersGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickcast_history_readers",
			Help: "History reads from JetStream in progress (bounded by the reader pool)."}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickcast_catchups_waiting",
			Help: "Resumes from behind the ring waiting for a catch-up slot."}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickcast_catchups_active",
			Help: "Resumes from behind the ring being caught up."}),
		cacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickcast_history_cache_bytes",
			Help: "Bytes of block summaries in the history index."}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickcast_history_evictions_total",
			Help: "Block summaries the history index dropped to stay within its budget (--history-cache); blocks that left the stream's window are not counted."}),
	}
	reg.MustRegister(cu.blocksRead, cu.readersGauge, cu.waiting, cu.active, cu.cacheBytes, cu.evictions)
	return cu
}

func defaultCatchupWorkers() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// acquire takes a slot of pool, waiting in line, or gives up with ctx.
func (cu *catchups) acquire(ctx context.Context, pool chan struct{}) error {
	select {
	case pool <- struct{}{}:
		return nil
	default:
	}
	select {
	case pool <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// waitSlot takes a catch-up slot for c, waiting its turn however long
// the line: c holds its connection, and a comment goes out every
// Heartbeat while it waits (so no proxy takes it for idle; the retry:
// line goes with the first), instead of being sent away to come back
// behind everyone who came after it.
func (g *Gateway) waitSlot(ctx context.Context, c *client) error {
	cu := g.cu
	select {
	case cu.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTicker(g.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case cu.slots <- struct{}{}:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
			c.buf = append(c.buf, ": waiting for a catch-up slot\n\n"...)
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
}

// history returns the index of hub h's epoch, starting a new one when
// the epoch changed.
func (g *Gateway) history(h *hub) *history {
	cu := g.cu
	cu.mu.Lock()
	defer cu.mu.Unlock()
	if cu.hist == nil || cu.hist.h != h {
		cu.hist = newHistory(g, h)
		cu.cacheBytes.Set(0)
	}
	return cu.hist
}

// stateCache keeps the stream's state for catch-ups a short while: a
// flood of resumes would otherwise cost one JetStream API request each.
// A catch-up needs it only for the epoch and the first sequence, and a
// stale first sequence is safe: history that has aged out fails the read
// and the client gets a reset "expired", never a gap.
type stateCache struct {
	mu sync.Mutex // held across the request: one at a time, the rest wait for it
	st feed.StreamState
	at time.Time
}

// stateMaxAge is how old a cached state a catch-up may use.
const stateMaxAge = 250 * time.Millisecond

// recentState returns the stream's state, at most stateMaxAge old.
func (g *Gateway) recentState(ctx context.Context) (feed.StreamState, error) {
	c := &g.stc
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < stateMaxAge {
		return c.st, nil
	}
	st, err := g.src.State(ctx)
	if err != nil {
		return st, err
	}
	c.st, c.at = st, time.Now()
	return st, nil
}
