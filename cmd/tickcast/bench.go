package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/tickcast/tickcast/bench"
)

const benchUsage = `Usage: tickcast bench [flags]

Measures fan-out latency: from each tick's scheduled publish time (the
simulator is open-loop, so a stalled gateway shows as latency, not as fewer
samples) to its receipt and parse by each SSE client. Without --target it
starts 'tickcast serve' as a child process on 127.0.0.1:0 with an in-memory
store, and measures that process's CPU time and RSS apart from the clients'.

Clients are light raw-TCP SSE readers; every client checks each symbol's
seq, so gaps and merged ticks are counted, not guessed. A progress line goes
to stderr every second, a table to stdout at the end. The table gives the
bench's own CPU per delivery beside the gateway's, and warns when the
machine was saturated: then the latency includes the bench's own wait for
a CPU, not the gateway's alone.

Scenarios (--scenario sets defaults for flags not given):
  all       every client on all symbols (default)
  one       every client on one symbol (round robin)
  firehose  few clients, high rate: 100 clients, 1000 ticks/s
  slow      10% of clients connect and never read (--slow 0.1)
  throttle  clients ask for throttle=250ms (--throttle 250ms)

Limits: one process may open 20,000 files here, so one bench holds about
19,900 clients; past about 10,000 per gateway run several benches with
--target (and --target-pid for the gateway's CPU and RSS). Past the
ephemeral port range (~28,000 connections per source address) use --addrs.

Examples:
  tickcast bench --clients 1000 --rate 100 --duration 30s --json out.json
  tickcast bench --scenario firehose
  tickcast bench --clients 1000 --sweep rate=10,50,100,200,500,1000 --sweep-out sweep.html
  tickcast bench --clients 1000 --rate 300 --sweep capacity
  tickcast bench --clients 1000 --rate 300 --sweep capacity --serve-args "--flush-interval 16ms"

Flags:
`

// runBench is `tickcast bench`.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		cfg        bench.Config
		symbols    string
		jsonFile   string
		sweep      string
		sweepOut   string
		serveArgs  string
		gwLog      bool
		quiet      bool
		floodDepth string
		soak       soakFlags
		cpuProfile string
		capacity   bench.Capacity
	)
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage[:len(benchUsage)-len("Flags:\n")]+soakUsage[1:]+"\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Scenario, "scenario", "all", "preset: all, one, firehose, slow, throttle (see above)")
	fs.IntVar(&cfg.Clients, "clients", 100, "SSE clients, stalled ones included (at most ~19,900 per process)")
	fs.Float64Var(&cfg.Rate, "rate", 100, "ticks per second over all symbols, passed to the gateway it starts (with --target: for the report)")
	fs.StringVar(&symbols, "symbols", "", "the published universe: N (the first N symbols of the default universe), or a list AAPL,MSFT that clients subscribe from (default: all)")
	fs.IntVar(&cfg.PerClientSymbols, "per-client-symbols", 0, "symbols per client, round robin over the set (0: all of them)")
	fs.Float64Var(&cfg.Slow, "slow", 0, "share of clients, 0 to 1, that connect and never read; reports how many the gateway shed")
	fs.IntVar(&cfg.SlowRcvBuf, "slow-rcvbuf", 4096, "socket receive buffer of a stalled client, bytes (small, so the gateway feels it soon)")
	fs.DurationVar(&cfg.Throttle, "throttle", 0, "throttle= for every client, e.g. 250ms (0: every tick)")
	fs.StringVar(&cfg.Events, "events", "", "events= for every client, e.g. tick,quote,trade,bar,status (default: ticks only); other events are counted, not timed")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "warm-up after all clients connected, excluded from the figures")
	fs.DurationVar(&cfg.Drain, "drain", 3*time.Second, "after the window, wait at most this long for its ticks still in flight")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", 60*time.Second, "for all clients to connect")
	fs.StringVar(&cfg.Target, "target", "", "URL of an already running gateway, e.g. http://127.0.0.1:8080 (default: start one)")
	fs.IntVar(&cfg.TargetPID, "target-pid", 0, "with --target, the gateway's process id, to measure its CPU and RSS")
	fs.IntVar(&cfg.Addrs, "addrs", 1, "spread clients over source addresses 127.0.0.1..127.0.0.N (past ~28,000 connections)")
	fs.Int64Var(&cfg.Seed, "seed", 1, "simulator seed for the gateway it starts")
	fs.BoolVar(&cfg.Memory, "memory", true, "start the gateway with an in-memory JetStream store")
	fs.IntVar(&cfg.MaxConns, "max-conns", 0, "--max-conns for the gateway it starts (0: its default)")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", 0, "--write-timeout for the gateway it starts (0: its default)")
	fs.StringVar(&serveArgs, "serve-args", "", "more arguments for the gateway it starts, space-separated")
	fs.BoolVar(&gwLog, "gateway-log", false, "copy the started gateway's output to stderr")
	fs.IntVar(&cfg.ReadBuf, "read-buf", 8192, "read buffer per client, bytes")
	fs.StringVar(&cfg.AcceptEncoding, "accept-encoding", "", "clients send Accept-Encoding: gzip or zstd and decompress the stream (the started gateway gets --compress auto unless --serve-args sets it)")
	fs.StringVar(&jsonFile, "json", "", "write the result as JSON to this file")
	fs.StringVar(&sweep, "sweep", "", "step a parameter, one run each: rate=V1,V2,... or clients=N1,N2,...; or capacity: search from --rate for the highest rate with p99 <= --p99-max and nothing lost")
	fs.DurationVar(&capacity.P99Max, "p99-max", bench.DefaultP99Max, "with --sweep: the p99 a step may have to count towards the capacity it prints")
	fs.StringVar(&sweepOut, "sweep-out", "bench-sweep.html", "with --sweep, the chart of p50/p90/p99/p99.9 against load (.html or .svg)")
	fs.BoolVar(&quiet, "quiet", false, "no progress line")
	fs.DurationVar(&cfg.RestartAt, "restart-at", 0, "storm: this long into the window, kill the gateway and start it again on the same store (a file store, not --memory); clients resume by Last-Event-ID (0: no restart)")
	fs.StringVar(&cfg.RestartSignal, "restart-signal", "", "with --restart-at: kill (SIGKILL, the default) or term (SIGTERM, a clean shutdown)")
	fs.DurationVar(&cfg.Absent, "absent", 0, "with --restart-at: clients stay away this long after the kill before reconnecting")
	fs.IntVar(&cfg.Flood, "flood", 0, "this many more clients resume again and again from deep ids (--flood-depth), reading only their catch-up; the healthy clients' latency is the fairness figure")
	fs.BoolVar(&cfg.FloodOnce, "flood-once", false, "with --flood: each flood client resumes once, their starts spread over the window's first second (default: again and again)")
	fs.StringVar(&floodDepth, "flood-depth", "100000-1000000", "with --flood: MIN-MAX ticks behind the stream's newest")
	fs.DurationVar(&cfg.ReconnectDelay, "reconnect-delay", 0, "with --restart-at: delay between reconnect attempts (0: the server's retry:, as EventSource)")
	soak.register(fs)
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write the bench process's own CPU profile (the clients, not the gateway) to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cpuProfile != "" {
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch cfg.Scenario {
	case "all":
	case "one":
		if !set["per-client-symbols"] {
			cfg.PerClientSymbols = 1
		}
	case "firehose":
		if !set["clients"] {
			cfg.Clients = 100
		}
		if !set["rate"] {
			cfg.Rate = 1000
		}
	case "slow":
		if !set["slow"] {
			cfg.Slow = 0.1
		}
	case "throttle":
		if !set["throttle"] {
			cfg.Throttle = 250 * time.Millisecond
		}
	default:
		return fmt.Errorf("%w: unknown --scenario %q", errUsage, cfg.Scenario)
	}
	if cfg.Flood > 0 {
		lo, hi, err := bench.ParseDepth(floodDepth)
		if err != nil {
			return fmt.Errorf("%w: --%v", errUsage, err)
		}
		cfg.FloodMin, cfg.FloodMax = lo, hi
	}
	if symbols != "" {
		if n, err := strconv.Atoi(symbols); err == nil {
			cfg.Symbols = n
		} else {
			cfg.SymbolList = strings.Split(symbols, ",")
		}
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = -1 // bench.Config: negative means none
	}
	if cfg.RestartAt > 0 && !set["memory"] {
		cfg.Memory = false // the stream must survive the restart
	}
	cfg.ServeArgs = strings.Fields(serveArgs)
	if gwLog {
		cfg.ChildOutput = stderr
	}
	var progress io.Writer = stderr
	if quiet {
		progress = nil
	}

	if soak.on {
		return soak.run(ctx, cfg, set, jsonFile, stdout, progress)
	}

	if sweep != "" {
		var (
			param   = bench.SweepRate
			results []*bench.Result
			runErr  error
		)
		if sweep == "capacity" {
			param = "capacity"
			results, runErr = bench.SearchCapacity(ctx, cfg, capacity, progress)
		} else {
			var values []float64
			var err error
			if param, values, err = bench.ParseSweep(sweep); err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			results, runErr = bench.Sweep(ctx, cfg, param, values, progress)
		}
		for _, r := range results {
			r.WriteTable(stdout)
			fmt.Fprintln(stdout)
		}
		if len(results) > 0 {
			if err := writeSweep(sweepOut, param, results); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "sweep chart: %s\n", sweepOut)
			if k := bench.Knee(results); k >= 0 && param != "capacity" {
				fmt.Fprintf(stdout, "knee: %s=%g\n", param, sweepValue(param, results[k]))
			}
			capacity.WriteCapacity(stdout, results)
			if jsonFile != "" {
				out := map[string]any{"sweep": param, "steps": results, "p99_max_us": capacity.P99Max.Microseconds()}
				if b := capacity.Best(results); b >= 0 {
					out["capacity_per_sec"] = results[b].DeliveriesPerSec
					out["capacity_step"] = b
				}
				if err := writeJSON(jsonFile, out); err != nil {
					return err
				}
			}
		}
		return runErr
	}

	res, err := bench.Run(ctx, cfg, progress)
	if err != nil {
		return err
	}
	res.WriteTable(stdout)
	if jsonFile != "" {
		return writeJSON(jsonFile, res)
	}
	return nil
}

func sweepValue(param string, r *bench.Result) float64 {
	if param == bench.SweepClients {
		return float64(r.Clients)
	}
	return r.Rate
}

func writeSweep(name, param string, results []*bench.Result) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if strings.EqualFold(filepath.Ext(name), ".svg") {
		err = bench.WriteSweepSVG(f, param, results)
	} else {
		err = bench.WriteSweepHTML(f, param, results)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bench: write %s: %w", name, err)
	}
	return nil
}

// startCPUProfile profiles this process into name until the returned
// func is called.
func startCPUProfile(name string) (func(), error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func writeJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: write %s: %w", name, err)
	}
	return nil
}
