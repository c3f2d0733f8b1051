package gateway

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
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

	reading     atomic.Int64
	peakReaders atomic.Int64 // most reads at once, for tests

	blocksRead   prometheus.Counter
	readersGauge prometheus.Gauge
	waiting      prometheus.Gauge
	active       prometheus.Gauge
	cacheBytes   prometheus.Gauge
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
	}
	reg.MustRegister(cu.blocksRead, cu.readersGauge, cu.waiting, cu.active, cu.cacheBytes)
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
