// Package bench is the fan-out harness behind `tickcast bench`: it measures
// the latency from a tick's scheduled publish time to its receipt and parse
// by each of many SSE clients, with the gateway under test in its own
// process so that its CPU time and memory are measured apart.
//
// # Method
//
// The simulator publishes open-loop: every tick carries in "time" the
// instant it was scheduled, and a late tick keeps it. A client's latency for
// a tick is the time it read the bytes minus that instant, so a stalled
// gateway shows up as latency, not as fewer samples. Latencies go into
// HDR histograms (microseconds, 3 significant digits), one per shard of
// clients rather than one per client, merged at the end. Only ticks
// scheduled inside the measured window count: warm-up is excluded, and
// after the window the bench drains for a while so that ticks of the window
// still in flight are counted with their (large) latency.
//
// Every client checks, per symbol, that seq - previous seq == merged (1
// when absent), and counts gaps (missing ticks), duplicates and merged
// ticks.
//
// # Clients
//
// A client is a raw TCP connection with a hand-written GET request, a
// parsed response head, and an incremental chunked + SSE Parser feeding a
// hand-written reader of the four tick fields it needs (symbol, seq, time,
// merged). The hot path does not allocate. Clients can be spread over
// source addresses 127.0.0.1..127.0.0.N (Config.Addrs) to pass the
// ephemeral port limit; a process can hold only as many clients as it may
// open files (20,000 here), so more clients need more bench processes
// pointed at one gateway (Config.Target).
//
// The fast path reads the tick JSON the gateway writes without decoding
// it: symbol, seq and time in their places, merged found among the other
// keys, whose values (numbers, plain strings such as marketTime, flat
// arrays such as conditions) are skipped after a syntax check; anything
// else falls back to encoding/json. A client then costs less CPU per
// delivery than the gateway spends sending it (BenchmarkParse).
//
// Each healthy client reads on its own goroutine. A few epoll readers
// sharing one large buffer were tried in its place (issue 23) and cost
// the bench 5-100% more CPU per delivery (and the gateway up to 40% more):
// a goroutine the netpoller wakes reads later than an epoll loop that
// reads each connection the moment it is readable, so it takes more bytes
// per read(2), and the read is most of the cost.
//
// Config.StreamPath and Config.Framing point the same clients at other
// SSE servers (bench/peers, the side-by-side comparison).
//
// # Saturation
//
// The bench shares the machine with the gateway. It reports its own CPU
// per delivery beside the gateway's, and flags a run as saturated when the
// two used nearly all CPUs, the machine was nearly all busy, or its own
// threads and goroutines waited for a CPU (saturation.go): then the
// latency is the machine's queueing as much as the gateway's.
//
// Stalled clients (Config.Slow) connect with a small receive buffer and
// never read until the window ends; then they read to find whether the
// gateway closed (shed) them.
//
// # Soak
//
// Soak (soak.go) is another mode: hours of market in minutes, with
// clients of every event type that go away and resume from every depth
// of a small window, a stream recreated once, and the server's RSS and
// disk sampled; it fails on any loss, a repeat past the overlap rule, a
// stalled resume or storage past its bounds. Its clients use net/http,
// the Parser and seqStats.
package bench
