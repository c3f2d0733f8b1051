package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tickcast/tickcast/sim"
	"github.com/tickcast/tickcast/sim/simhttp"
)

// simExtras are the simulator's flags beyond simFlags: a universe file,
// the session clock and tick spacing, recording and replay, scenarios.
type simExtras struct {
	universe       string
	scenario       string
	record         string
	replay         string
	sessionMinutes float64
	session        bool
	arrivals       string
	quotesPerTrade float64
	bookEvery      time.Duration
	bars           string
	fastForward    bool
	extended       bool
	luld           bool

	replayer *sim.Replay // opened by apply for --replay
	closeRep func() error
}

// marketTZ is the simulated market's time zone: the first trading day
// is today's date there.
var marketTZ = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		return time.UTC
	}
	return loc
}()

// scenarioUsage is the help of --scenario (serve and sim).
const scenarioUsage = `start the simulator in a scenario: a name (flash-crash, halt, gap, burst, quiet), ` +
	`a JSON object such as '{"name":"halt","symbol":"AAPL","duration":"1m"}', ` +
	`or a file holding one or a JSON array of them, each starting at its "at" (e.g. "at":"2m"): a script`

// registerSimExtras adds the extra simulator flags to fs.
func registerSimExtras(fs *flag.FlagSet) *simExtras {
	x := &simExtras{}
	fs.StringVar(&x.universe, "universe", "", "JSON file of symbols to simulate (ticker, name, sector, prevClose, volatility, tickSize, weight) instead of the default universe")
	fs.StringVar(&x.record, "record", "", "write every published tick to this file, one JSON line each, to replay later with --replay")
	fs.StringVar(&x.replay, "replay", "", "publish the ticks recorded in this file (by --record) with their recorded spacing, instead of simulating; replay into a fresh stream (--memory) to get the recorded seq numbers")
	fs.Float64Var(&x.sessionMinutes, "session-minutes", 0, "run a 6.5-hour trading session (09:30-16:00) in this many real minutes, e.g. 10; overrides --speed (0: the session runs at --speed)")
	fs.BoolVar(&x.session, "session", true, "simulate a trading session clock: more ticks, bigger trades and wider spreads at the open and close (false: flat all day)")
	fs.StringVar(&x.arrivals, "arrivals", "poisson", "tick spacing: poisson (irregular, each symbol a Poisson process) or regular (exactly 1/rate apart)")
	fs.StringVar(&x.scenario, "scenario", "", scenarioUsage)
	fs.Float64Var(&x.quotesPerTrade, "quotes-per-trade", sim.DefaultQuotesPerTrade, "quotes per trade, about (quotes.<SYMBOL> events; Poisson between trades); 0: no quotes")
	fs.DurationVar(&x.bookEvery, "book-every", sim.DefaultBookEvery, "publish each symbol's changed book (books.<SYMBOL>, 10 levels a side) at most this often; 0: no books")
	fs.StringVar(&x.bars, "bars", "1s,1m", "bar intervals to build from the trades and publish as each closes (bars.<SYMBOL>.<interval>): 1s, 1m, both, or none")
	fs.BoolVar(&x.extended, "extended-hours", true, "simulate pre-market (04:00-09:30 ET) and after-hours (16:00-20:00) trading, with few trades, around each session (needs --session)")
	fs.BoolVar(&x.fastForward, "fast-forward", true, "skip the closed night and weekends at once, so the feed never sits idle (false: they pass at --speed with no trades, as a real calendar)")
	fs.BoolVar(&x.luld, "luld", true, "limit-up/limit-down bands: a trade that would cross its 5% band pauses the symbol in a limit state (status events)")
	return x
}

// apply sets cfg from the flags: Universe and Weights (--universe, or the
// universe of a --replay recording), Session and Speed, Arrivals. It
// opens the --replay file, which runner later plays.
func (x *simExtras) apply(cfg *sim.Config) error {
	switch x.arrivals {
	case "poisson":
		cfg.Arrivals = sim.Poisson
	case "regular":
		cfg.Arrivals = sim.Regular
	default:
		return fmt.Errorf("--arrivals must be poisson or regular, not %q", x.arrivals)
	}
	if x.session {
		cfg.Session = &sim.Session{Extended: x.extended, RealTime: !x.fastForward, Date: time.Now().In(marketTZ)}
	}
	cfg.LULD = x.luld
	cfg.Events.QuotesPerTrade = x.quotesPerTrade
	if x.quotesPerTrade == 0 {
		cfg.Events.QuotesPerTrade = -1 // none
	}
	if x.quotesPerTrade < 0 || x.quotesPerTrade > sim.MaxQuotesPerTrade {
		return fmt.Errorf("--quotes-per-trade %v: want 0 to %d", x.quotesPerTrade, sim.MaxQuotesPerTrade)
	}
	switch {
	case x.bookEvery < 0 || x.bookEvery > time.Minute:
		return fmt.Errorf("--book-every %v: want 0 to 1m", x.bookEvery)
	case x.bookEvery == 0:
		cfg.Events.BookEvery = -1 // none
	default:
		cfg.Events.BookEvery = x.bookEvery
	}
	cfg.Events.Bars = []string{}
	if b := strings.TrimSpace(x.bars); b != "" && b != "none" {
		for _, iv := range strings.Split(b, ",") {
			iv = strings.TrimSpace(iv)
			if iv != "1s" && iv != "1m" {
				return fmt.Errorf("--bars: unknown interval %q (want 1s, 1m, both or none)", iv)
			}
			if !slices.Contains(cfg.Events.Bars, iv) {
				cfg.Events.Bars = append(cfg.Events.Bars, iv)
			}
		}
	}
	switch m := x.sessionMinutes; {
	case m < 0 || m > 0 && !x.session:
		return fmt.Errorf("--session-minutes %v: want > 0, with --session", m)
	case m > 0:
		cfg.Speed = sim.SpeedFor(*cfg.Session, time.Duration(m*float64(time.Minute)))
		if cfg.Speed > sim.MaxSpeed {
			return fmt.Errorf("--session-minutes %v is too short", m)
		}
	}
	if x.universe != "" {
		u, w, err := sim.LoadUniverse(x.universe)
		if err != nil {
			return fmt.Errorf("--universe: %w", err)
		}
		cfg.Universe, cfg.Weights = u, w
	}
	if x.replay != "" {
		f, err := os.Open(x.replay)
		if err != nil {
			return fmt.Errorf("--replay: %w", err)
		}
		p, err := sim.NewReplay(f)
		if err != nil {
			f.Close()
			return fmt.Errorf("--replay %s: %w", x.replay, err)
		}
		if h := p.Header(); h != nil && len(h.Universe) > 0 {
			if x.universe != "" {
				f.Close()
				return errors.New("--replay: the recording has its own universe; leave out --universe")
			}
			cfg.Universe, cfg.Weights = h.Universe, nil
		}
		x.replayer, x.closeRep = p, f.Close
	}
	if x.scenario != "" {
		if x.replay != "" {
			x.closeRep()
			return errors.New("--scenario: a replay plays its recording as it was; leave out --scenario")
		}
		script, err := readScenarios(x.scenario)
		if err == nil {
			cfg.Scenarios = script
			_, err = sim.New(*cfg) // check the script against the universe now
		}
		if err != nil {
			return fmt.Errorf("--scenario: %s", simhttp.ErrText(err))
		}
	}
	return nil
}

// runner returns what startSim runs in place of s.Run: s.Run, or the
// --replay recording, publishing through a --record Recorder if asked.
// cfg is the Config s was made with, Resume included. Call it once.
func (x *simExtras) runner(cfg sim.Config, s *sim.Sim, log *slog.Logger) (func(context.Context, sim.Publisher) error, error) {
	if x == nil {
		return s.Run, nil
	}
	run := s.Run
	if x.replayer != nil {
		x.replayer.Resume = cfg.Resume
		run = func(ctx context.Context, pub sim.Publisher) error {
			defer x.closeRep()
			log.Info("replaying", "file", x.replay)
			err := x.replayer.Run(ctx, pub)
			if err == nil && ctx.Err() == nil {
				log.Info("replay finished", "file", x.replay)
			}
			return err
		}
	}
	if x.record == "" {
		return run, nil
	}
	f, err := os.Create(x.record)
	if err != nil {
		return nil, fmt.Errorf("--record: %w", err)
	}
	h := sim.HeaderFor(cfg, s)
	if x.replayer != nil && x.replayer.Header() != nil {
		h = *x.replayer.Header() // a recording of a replay describes the original
	}
	inner := run
	return func(ctx context.Context, pub sim.Publisher) error {
		rec, err := sim.NewRecorder(f, pub, &h)
		if err == nil {
			log.Info("recording", "file", x.record)
			err = inner(ctx, rec)
			err = errors.Join(err, rec.Flush())
		}
		if cerr := f.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("--record: %w", cerr))
		}
		return err
	}, nil
}

// readScenarios reads --scenario: a scenario's name, inline JSON, or the
// name of a file of JSON.
func readScenarios(v string) ([]sim.Scenario, error) {
	v = strings.TrimSpace(v)
	if slices.Contains(sim.ScenarioNames, strings.ToLower(v)) {
		return []sim.Scenario{{Name: v}}, nil
	}
	b := []byte(v)
	if !strings.HasPrefix(v, "{") && !strings.HasPrefix(v, "[") {
		var err error
		if b, err = os.ReadFile(v); err != nil {
			return nil, fmt.Errorf("%w (want a scenario name: %s; a JSON object; or a file of JSON)", err, strings.Join(sim.ScenarioNames, ", "))
		}
	}
	return sim.ParseScenarios(b)
}
