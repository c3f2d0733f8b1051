package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the gateway's Prometheus series, in a registry of its own
// so several gateways can live in one process (tests).
type metrics struct {
	reg         *prometheus.Registry
	conns       prometheus.Gauge
	connsTotal  prometheus.Counter
	rejected    *prometheus.CounterVec
	events      prometheus.Counter
	bytes       prometheus.Counter
	writes      prometheus.Counter
	ticksIn     prometheus.Counter
	badMsgs     prometheus.Counter
	mergedTicks prometheus.Counter
	shed        *prometheus.CounterVec
	resumes     *prometheus.CounterVec
	resets      *prometheus.CounterVec
	resumeTicks prometheus.Counter
	lastSeq     prometheus.Gauge
	backlog     prometheus.Histogram
	stalls      prometheus.Counter
	windowHits  prometheus.Counter
	lag         prometheus.Gauge

	compressed      *prometheus.CounterVec // compress.go
	compressedBytes *prometheus.CounterVec
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &metrics{
		reg:         reg,
		conns:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickcast_connections", Help: "Open SSE connections."}),
		connsTotal:  prometheus.NewCounter(prometheus.CounterOpts{Name: "tickcast_connections_total", Help: "SSE connections accepted."}),
		rejected:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickcast_rejected_total", Help: "Stream requests refused, by reason."}, []string{"reason"}),
		events:      prometheus.NewCounter(prometheus.CounterOpts{Name: "tickcast_events_sent_total", Help: "Events written to clients, of every type (a merged event counts once)."}),
		bytes:       prometheus.NewCounter(prometheus.CounterOpts{Name: "tickcast_bytes_sent_total", Help: "Bytes written to SSE clients."}),
		writes:      prometheus.NewCounter(prometheus.CounterOpts{Name: "tickcast_writes_total", Help: "Write calls to SSE clients (events are coalesced into writes)."}),
		ticksIn:     prometheus.NewCounter(prometheus.CounterOpts{Name: "tickcast_ticks_received_total", Help: "Messages read from the JetStream stream, of every type (ticks, quotes, bars, status, clock), despite the name."}),
		badMsgs:     prometheus.NewCounter(prometheus.CounterOpts{Name: "tickcast_bad_messages_total", Help: "Stream messages that were not valid events, skipped."}),
		mergedTicks: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickcast_merged_ticks_total", Help: "Messages (ticks, trades, quotes, books) folded into merged events."}),
		shed:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickcast_shed_total", Help: "Clients disconnected for being too slow, by cause."}, []string{"cause"}),
		resumes:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickcast_resumes_total", Help: "Exact resumes from Last-Event-ID, by where history came from."}, []string{"source"}),
		resets:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickcast_resets_total", Help: "Resume requests answered with a reset, by reason."}, []string{"reason"}),
		resumeTicks: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickcast_resume_ticks_total", Help: "Stream messages (every type) caught up from history for resumes behind the ring."}),
		lastSeq:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickcast_stream_last_seq", Help: "Stream sequence of the newest message the hub holds."}),
		backlog: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tickcast_client_backlog_ticks",
			Help:    "Messages pending for a client each time it wakes (ring distance; for a client of some symbols, its symbols' messages of its event types): its queue depth.",
			Buckets: []float64{1, 2, 4, 16, 64, 256, 1024, 4096, 16384}}),
		stalls: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickcast_write_stalls_total", Help: "Client writes that blocked for more than 100ms."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickcast_consumer_lag_messages",
			Help: "Stream messages stored but not yet read by this gateway (the stream's last sequence minus the hub's)."}),
		windowHits: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickcast_throttle_window_shared_total",
			Help: "Throttled windows sent from another client's encoding instead of merging and encoding again."}),
	}
	m.compressed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickcast_compressed_streams_total", Help: "Streams sent compressed, by Content-Encoding."}, []string{"encoding"})
	m.compressedBytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickcast_compressed_bytes_sent_total",
		Help: "Bytes written to compressed streams after compression, by Content-Encoding (tickcast_bytes_sent_total counts them before)."}, []string{"encoding"})
	f(m.compressed)
	f(m.compressedBytes)
	for _, c := range []prometheus.Collector{m.conns, m.connsTotal, m.rejected, m.events, m.bytes, m.writes, m.ticksIn, m.badMsgs,
		m.mergedTicks, m.shed, m.resumes, m.resets, m.resumeTicks, m.lastSeq, m.backlog, m.stalls, m.windowHits, m.lag} {
		f(c)
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
