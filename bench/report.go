package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Latency is a latency summary in microseconds.
type Latency struct {
	P50  int64   `json:"p50"`
	P90  int64   `json:"p90"`
	P99  int64   `json:"p99"`
	P999 int64   `json:"p999"`
	Max  int64   `json:"max"`
	Mean float64 `json:"mean"`
}

// Result is what one run measured. Deliveries count ticks to clients, a
// merged event counting the ticks it stands for; only ticks whose
// scheduled time falls in the measured window count, and each one's
// latency (receipt and parse minus that time) is in Latency. Seq checks
// (gaps and the rest) cover the whole run.
type Result struct {
	Scenario         string  `json:"scenario"`
	Target           string  `json:"target"`
	Clients          int     `json:"clients"`
	SlowClients      int     `json:"slow_clients"`
	Rate             float64 `json:"rate"`
	Universe         int     `json:"universe"`           // symbols the gateway publishes
	SymbolsPerClient float64 `json:"symbols_per_client"` // mean
	Throttle         string  `json:"throttle,omitempty"`
	ServeArgs        string  `json:"serve_args,omitempty"` // Config.ServeArgs of the gateway the bench started
	DurationS        float64 `json:"duration_s"`
	WarmupS          float64 `json:"warmup_s"`

	Delivered uint64 `json:"delivered"`
	Events    uint64 `json:"events"`
	// OtherEvents: events of other types than tick (--events) received
	// in the window; not in Delivered or Events.
	OtherEvents      uint64  `json:"other_events,omitempty"`
	EventTypes       string  `json:"event_types,omitempty"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	OfferedPerSec    float64 `json:"offered_per_sec"` // what the rate and subscriptions imply
	Latency          Latency `json:"latency_us"`

	Gaps         uint64 `json:"gaps"` // missing ticks (healthy clients)
	GapEvents    uint64 `json:"gap_events"`
	Dups         uint64 `json:"dups"`
	Overlaps     uint64 `json:"overlaps"`
	Merged       uint64 `json:"merged"` // ticks that arrived in merged events
	MergedEvents uint64 `json:"merged_events"`
	BadEvents    uint64 `json:"bad_events"`
	Resets       uint64 `json:"resets"`
	Snapshots    uint64 `json:"snapshots"`
	SlowGaps     uint64 `json:"slow_gaps"`   // missing ticks seen by stalled clients when they read at last
	SlowMerged   uint64 `json:"slow_merged"` // ticks merged for stalled clients

	Connected     int   `json:"connected"`
	ConnectErrors int   `json:"connect_errors"`
	Disconnects   int64 `json:"disconnects"` // healthy clients' streams that ended
	Reconnects    int64 `json:"reconnects"`
	Shed          int64 `json:"shed"`    // stalled clients whose connection the gateway closed
	Lagging       int   `json:"lagging"` // healthy clients with ticks of the window still missing after the drain

	GatewayCPUS      float64 `json:"gateway_cpu_s"`          // in the measured window
	CPUUsPerDelivery float64 `json:"cpu_us_per_delivery"`    // the gateway's, as gateway_cpu_us_per_delivery
	RSSBytes         int64   `json:"rss_bytes"`              // at the end of the window
	RSSPeakBytes     int64   `json:"rss_peak_bytes"`         // VmHWM
	RSSBaseBytes     int64   `json:"rss_base_bytes"`         // before clients connected
	RSSPerConnBytes  float64 `json:"rss_per_conn_bytes"`     // (RSS once all connected - base) / connected: right after the connect burst
	RSSPerConnEnd    float64 `json:"rss_per_conn_end_bytes"` // (RSS at the end of the window - base) / connected; 0 with --restart-at
	CPUs             int     `json:"cpus"`

	// The bench's own cost, beside the gateway's: a bench whose clients
	// cost more than the gateway measures itself.
	BenchCPUS               float64 `json:"bench_cpu_s"` // this process, in the window
	BenchCPUUsPerDelivery   float64 `json:"bench_cpu_us_per_delivery"`
	GatewayCPUUsPerDelivery float64 `json:"gateway_cpu_us_per_delivery"`
	// Saturated: the machine had no core to spare in the window (see
	// Saturation), so the latency is partly the bench's own queueing.
	Saturated bool        `json:"saturated"`
	Machine   *Saturation `json:"machine,omitempty"`

	Errors []string `json:"errors,omitempty"` // the first few client errors

	// Bytes the healthy clients received in the window: as sent, and
	// decompressed (the same without AcceptEncoding).
	AcceptEncoding       string  `json:"accept_encoding,omitempty"`
	WireBytes            uint64  `json:"wire_bytes"`
	PlainBytes           uint64  `json:"plain_bytes"`
	WireBytesPerDelivery float64 `json:"wire_bytes_per_delivery"`

	Storm *StormResult `json:"storm,omitempty"` // storm mode: the restart and the resume
	Flood *FloodResult `json:"flood,omitempty"` // flood mode: the adversarial resumes
}

// WriteTable writes r as a human-readable table.
func (r *Result) WriteTable(w io.Writer) {
	subs := "all symbols"
	if r.SymbolsPerClient > 0 && r.SymbolsPerClient < float64(r.Universe) {
		subs = strconv.FormatFloat(r.SymbolsPerClient, 'f', -1, 64) + " symbols each"
	}
	fmt.Fprintf(w, "tickcast bench: scenario %s, %d clients (%s of %d", r.Scenario, r.Clients, subs, r.Universe)
	if r.SlowClients > 0 {
		fmt.Fprintf(w, ", %d stalled", r.SlowClients)
	}
	if r.Throttle != "" {
		fmt.Fprintf(w, ", throttle %s", r.Throttle)
	}
	fmt.Fprintf(w, "), %s ticks/s, %gs measured after %gs warm-up, %d CPUs\n",
		fmtCount(r.Rate), r.DurationS, r.WarmupS, r.CPUs)
	if r.ServeArgs != "" {
		fmt.Fprintf(w, "  gateway started with: %s\n", r.ServeArgs)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  delivered\t%s ticks in %s events\t%s/s (offered %s/s)\n",
		fmtCount(float64(r.Delivered)), fmtCount(float64(r.Events)),
		fmtCount(r.DeliveriesPerSec), fmtCount(r.OfferedPerSec))
	if r.OtherEvents > 0 {
		fmt.Fprintf(tw, "  other events\t%s (events=%s)\t\n", fmtCount(float64(r.OtherEvents)), r.EventTypes)
	}
	l := r.Latency
	fmt.Fprintf(tw, "  latency\tp50 %s  p90 %s  p99 %s  p99.9 %s  max %s\tmean %s\n",
		fmtUs(l.P50), fmtUs(l.P90), fmtUs(l.P99), fmtUs(l.P999), fmtUs(l.Max), fmtUs(int64(l.Mean)))
	fmt.Fprintf(tw, "  seq\tgaps %d (in %d events)  dups %d  overlaps %d\tmerged %d ticks in %d events, resets %d, bad %d\n",
		r.Gaps, r.GapEvents, r.Dups, r.Overlaps, r.Merged, r.MergedEvents, r.Resets, r.BadEvents)
	fmt.Fprintf(tw, "  connections\t%d connected, %d failed, %d disconnects, %d reconnects\tlagging %d",
		r.Connected, r.ConnectErrors, r.Disconnects, r.Reconnects, r.Lagging)
	if r.SlowClients > 0 {
		fmt.Fprintf(tw, ", shed %d of %d stalled (their gaps %d, merged %d)", r.Shed, r.SlowClients, r.SlowGaps, r.SlowMerged)
	}
	fmt.Fprintln(tw)
	if r.GatewayCPUS > 0 || r.RSSBytes > 0 {
		perConn := fmtBytes(r.RSSPerConnBytes) + "/conn"
		if r.RSSPerConnEnd > 0 {
			perConn += " connected, " + fmtBytes(r.RSSPerConnEnd) + " at the end"
		}
		fmt.Fprintf(tw, "  gateway\tcpu %.2fs (%.0f%% of a core, %.2f us/delivery)\trss %s (peak %s, %s)\n",
			r.GatewayCPUS, 100*r.GatewayCPUS/r.DurationS, r.CPUUsPerDelivery,
			fmtBytes(float64(r.RSSBytes)), fmtBytes(float64(r.RSSPeakBytes)), perConn)
	} else {
		fmt.Fprintf(tw, "  gateway\tnot measured (give --target-pid)\t\n")
	}
	enc := r.AcceptEncoding
	if enc == "" {
		enc = "identity"
	}
	fmt.Fprintf(tw, "  bytes\t%s received (%s), %.1f B/delivery\t%s decompressed\n",
		fmtBytes(float64(r.WireBytes)), enc, r.WireBytesPerDelivery, fmtBytes(float64(r.PlainBytes)))
	fmt.Fprintf(tw, "  bench\tcpu %.2fs (%.0f%% of a core, %.2f us/delivery)", r.BenchCPUS, 100*r.BenchCPUS/r.DurationS, r.BenchCPUUsPerDelivery)
	if m := r.Machine; m != nil {
		fmt.Fprintf(tw, "\twaited for a CPU %.2fs; goroutine lag p99 %s, max %s\n", m.BenchWaitS, fmtUs(m.SchedLag.P99), fmtUs(m.SchedLag.Max))
		busy := "not known"
		if m.MachineBusy >= 0 {
			busy = fmt.Sprintf("%.0f%% busy", 100*m.MachineBusy)
		}
		fmt.Fprintf(tw, "  machine\t%d CPUs, %s\tgateway + bench %.0f%% of them\n", r.CPUs, busy, 100*m.CPUShare)
	} else {
		fmt.Fprintln(tw, "\t")
	}
	if r.Storm != nil {
		r.Storm.writeTable(tw)
	}
	if r.Flood != nil {
		r.Flood.writeTable(tw)
	}
	tw.Flush()
	if r.Saturated {
		fmt.Fprintf(w, "  WARNING: the machine was saturated (%s): the latency above includes the bench's own wait for a CPU; it is not the gateway's alone. Run the bench on other cores or another machine (--target).\n",
			strings.Join(r.Machine.Reasons, "; "))
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}

// fmtUs formats microseconds for people.
func fmtUs(us int64) string {
	switch {
	case us < 1000:
		return strconv.FormatInt(us, 10) + "us"
	case us < 10_000:
		return strconv.FormatFloat(float64(us)/1000, 'f', 2, 64) + "ms"
	case us < 1_000_000:
		return strconv.FormatFloat(float64(us)/1000, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(float64(us)/1e6, 'f', 2, 64) + "s"
}

// fmtCount formats a count with thousands separators.
func fmtCount(f float64) string {
	neg := f < 0
	if neg {
		f = -f
	}
	s := strconv.FormatFloat(f, 'f', 0, 64)
	if f < 100 && f != float64(int64(f)) {
		s = strconv.FormatFloat(f, 'f', 1, 64)
	}
	int, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range int {
		if i > 0 && (len(int)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

func fmtBytes(f float64) string {
	switch {
	case f < 1<<10:
		return strconv.FormatFloat(f, 'f', 0, 64) + " B"
	case f < 1<<20:
		return strconv.FormatFloat(f/(1<<10), 'f', 1, 64) + " KiB"
	case f < 1<<30:
		return strconv.FormatFloat(f/(1<<20), 'f', 1, 64) + " MiB"
	}
	return strconv.FormatFloat(f/(1<<30), 'f', 2, 64) + " GiB"
}
