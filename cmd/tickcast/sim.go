package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/market"
	"github.com/tickcast/tickcast/sim"
)

// runSim runs "tickcast sim": the simulator alone, publishing into the
// TICKS stream of an existing NATS server.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var n natsFlags
	var st streamFlags
	var sf simFlags
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	n.register(fs, true)
	st.register(fs)
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tickcast sim --nats URL [flags]\n\nPublishes simulated ticks to the TICKS stream of an existing NATS server,\ncreating or updating the stream.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if n.url == "" {
		return fmt.Errorf("%w: sim needs --nats URL", errUsage)
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg, err := sf.config()
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	conn, err := feed.Connect(ctx, n.conn("tickcast sim"))
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.EnsureStream(ctx, st.config()); err != nil {
		return err
	}
	_, stop, err := startSim(ctx, conn, cfg, st.replicas, log, sf.extras)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tickcast: simulating into %s\n", n.url)
	<-ctx.Done()
	return stop()
}

// startSim starts the simulator, continuing each symbol from its last
// tick in the stream. It returns the Sim (for scenario control) and a
// func that stops it and waits.
func startSim(ctx context.Context, conn *feed.Conn, cfg sim.Config, replicas int, log *slog.Logger, x *simExtras) (*sim.Sim, func() error, error) {
	last, err := conn.LastTicks(ctx)
	if err != nil {
		return nil, nil, err
	}
	cfg.Resume = make(map[string]market.Tick, len(last))
	var lastMarket time.Time // the newest market time published
	for s, m := range last {
		cfg.Resume[s] = m.Tick
		if m.Tick.MarketTime.After(lastMarket) {
			lastMarket = m.Tick.MarketTime
		}
	}
	if cfg.Session != nil && !lastMarket.IsZero() {
		// Carry on the market clock rather than start the day again.
		ss := cfg.Session.ContinueAt(lastMarket)
		cfg.Session = &ss
	}
	cfg.Events.Resume, err = conn.LastCounters(ctx)
	if err != nil {
		return nil, nil, err
	}
	cfg.Universe = keepPrevCloses(ctx, conn, cfg, log)
	s, err := sim.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	run, err := x.runner(cfg, s, log)
	if err != nil {
		return nil, nil, err
	}
	if err := conn.PutUniverse(ctx, s.Universe(), replicas); err != nil {
		return nil, nil, err
	}
	log.Info("simulator starting", "symbols", len(s.Universe()), "rate", cfg.Rate, "seed", cfg.Seed, "resumed", len(last), "market_time", s.MarketTime().Format(time.RFC3339))
	// The simulator outlives ctx a little: it stops after the gateway
	// has said goodbye to its clients.
	simCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	uniDone := make(chan struct{})
	go func() { defer close(uniDone); republishUniverse(simCtx, conn, s, replicas, log) }()
	go func() {
		// Pipelined publishing: symbols overlap, each symbol stays in
		// order; what is in flight is stored before the sim stops.
		pub := conn.NewPipeline()
		err := run(simCtx, pub)
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if cerr := pub.Close(cctx); err == nil {
			err = cerr
		}
		done <- err
	}()
	var result error
	var stopped bool
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			result = <-done
			<-uniDone
		}
		return result
	}
	return s, stop, nil
}

// keepPrevCloses returns the universe to simulate with each resumed
// symbol's prevClose taken from the universe the last simulator stored:
// its previous session's close, not the universe file's starting price.
func keepPrevCloses(ctx context.Context, conn *feed.Conn, cfg sim.Config, log *slog.Logger) []market.SymbolInfo {
	u := cfg.Universe
	if u == nil {
		u = sim.DefaultUniverse()
	}
	if len(cfg.Resume) == 0 {
		return u
	}
	stored, err := conn.Universe(ctx)
	if err != nil {
		if !errors.Is(err, feed.ErrNoUniverse) {
			log.Warn("reading the stored universe failed; prevClose starts from the universe's", "err", err)
		}
		return u
	}
	prev := make(map[string]float64, len(stored))
	for _, si := range stored {
		prev[si.Symbol] = si.PrevClose
	}
	out := append([]market.SymbolInfo(nil), u...)
	for i := range out {
		if _, resumed := cfg.Resume[out[i].Symbol]; resumed && prev[out[i].Symbol] > 0 {
			out[i].PrevClose = prev[out[i].Symbol]
		}
	}
	return out
}

// republishUniverse stores s's universe again whenever it changes (a
// session rolled over and prevClose moved), checking every second, until
// ctx ends.
func republishUniverse(ctx context.Context, conn *feed.Conn, s *sim.Sim, replicas int, log *slog.Logger) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	stored := s.UniverseVersion()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v := s.UniverseVersion()
		if v == stored {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := conn.PutUniverse(pctx, s.Universe(), replicas)
		cancel()
		if err != nil {
			log.Warn("storing the universe after a session's close failed; retrying", "err", err)
			continue
		}
		stored = v
	}
}
