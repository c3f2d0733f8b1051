package main

import (
	"context"
	"flag"
	"io"
	"strings"
	"time"

	"github.com/tickcast/tickcast/bench"
)

// soakFlags are `tickcast bench --soak` and its own flags; the bench
// flags --duration, --clients, --rate, --symbols, --seed, --serve-args,
// --gateway-log, --quiet and --json apply to it when given.
type soakFlags struct {
	on           bool
	speed        float64
	maxAge       time.Duration
	maxBytes     byteSize
	ring         int
	historyCache byteSize
	stall        time.Duration
	recreateAt   time.Duration
}

const soakUsage = `
Soak (--soak): hours of market in minutes against the real binary. It
starts 'tickcast serve' on a file store with a small window, a fast market
clock (trading days roll over) and every event type; reconnecting clients
come back from their last id at once, from the middle and the oldest part
of the window, and by ?from=; the stream is deleted and recreated once,
half way. It reports lost events, repeats beyond the overlap rule, resets
by reason, the slowest resume, the server's RSS and disk over time, and
exits non-zero on any loss, a stalled resume or storage that grows.
Defaults (the short form 'make test' runs): --duration 75s --clients 8
--rate 300 --symbols 8. Long form: BENCHMARKS.md.
`

func (f *soakFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.on, "soak", false, "run the soak (see Soak above) instead of the fan-out bench")
	fs.Float64Var(&f.speed, "soak-speed", 1200, "soak: the market clock's --speed (1200: a 16-hour trading day in 48 s)")
	fs.DurationVar(&f.maxAge, "soak-max-age", 20*time.Second, "soak: the stream's --max-age")
	f.maxBytes = 4 << 20
	fs.Var(&f.maxBytes, "soak-max-bytes", "soak: the stream's --max-bytes")
	fs.IntVar(&f.ring, "soak-ring", 2048, "soak: the gateway's --ring, small so resumes read history (0: its default)")
	f.historyCache = 128 << 10
	fs.Var(&f.historyCache, "soak-history-cache", "soak: the gateway's --history-cache, small so the index evicts (passed only if the gateway has the flag)")
	fs.DurationVar(&f.stall, "soak-stall", 10*time.Second, "soak: a resume with no event this long fails the run")
	fs.DurationVar(&f.recreateAt, "soak-recreate-at", 0, "soak: when to delete and recreate the stream (0: half way; negative: never)")
}

// run runs the soak with the bench flags that were set.
func (f *soakFlags) run(ctx context.Context, cfg bench.Config, set map[string]bool, jsonFile string, stdout io.Writer, progress io.Writer) error {
	sc := bench.SoakConfig{Speed: f.speed, MaxAge: f.maxAge, MaxBytes: int64(f.maxBytes), Ring: f.ring,
		HistoryCache: int64(f.historyCache), Stall: f.stall, RecreateAt: f.recreateAt,
		ServeArgs: cfg.ServeArgs, ChildOutput: cfg.ChildOutput, Progress: progress, Seed: cfg.Seed}
	if f.ring == 0 {
		sc.Ring = -1
	}
	if f.historyCache == 0 {
		sc.HistoryCache = -1
	}
	if set["duration"] {
		sc.Duration = cfg.Duration
	}
	if set["clients"] {
		sc.Clients = cfg.Clients
	}
	if set["rate"] {
		sc.Rate = cfg.Rate
	}
	if set["symbols"] {
		sc.Symbols = cfg.Symbols
	}
	res, err := bench.Soak(ctx, sc)
	if res != nil {
		res.WriteTable(stdout)
		if jsonFile != "" {
			if jerr := writeJSON(jsonFile, res); err == nil {
				err = jerr
			}
		}
	}
	if err != nil && res != nil {
		// The table listed the failures: say it in one line.
		return errSoak{strings.Join(res.Failures, "; ")}
	}
	return err
}

// errSoak is a soak that ran and failed.
type errSoak struct{ what string }

func (e errSoak) Error() string { return "soak failed: " + e.what }
