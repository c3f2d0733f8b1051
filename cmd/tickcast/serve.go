package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway"
	"github.com/tickcast/tickcast/market"
	"github.com/tickcast/tickcast/sim"
	"github.com/tickcast/tickcast/sim/simhttp"
	"github.com/tickcast/tickcast/web"
)

type serveConfig struct {
	data       string
	natsListen string
	stream     streamFlags
	sim        simFlags
	gw         gatewayFlags
	simControl bool
}

func serveFlags(out io.Writer) (*flag.FlagSet, *serveConfig) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: tickcast [serve] [flags]\n\nRuns an embedded NATS server with JetStream, the price simulator and the\nHTTP gateway with the dashboard, all in one process.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.data, "data", "./data", "directory of the JetStream store (kept across restarts)")
	fs.StringVar(&c.natsListen, "nats-listen", "", "also accept NATS clients on this host:port (e.g. 127.0.0.1:4222) so other tickcast processes can join")
	c.stream.register(fs)
	c.sim.register(fs)
	c.gw.register(fs)
	fs.BoolVar(&c.simControl, "sim-control", true, simControlUsage)
	return fs, c
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := serveFlags(stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, c.gw.logLevel)
	if err != nil {
		return err
	}
	simCfg, err := c.sim.config()
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	srv, err := feed.StartServer(feed.ServerConfig{StoreDir: c.data, Memory: c.stream.memory, Listen: c.natsListen})
	if err != nil {
		return err
	}
	defer srv.Shutdown() // last: after every connection to it is closed
	if u := srv.ClientURL(); u != "" {
		fmt.Fprintf(stdout, "tickcast: NATS at %s\n", u)
	}
	conn, err := feed.Connect(ctx, feed.ConnConfig{Server: srv, Name: "tickcast serve"})
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.EnsureStream(ctx, c.stream.config()); err != nil {
		return err
	}
	s, stopSim, err := startSim(ctx, conn, simCfg, c.stream.replicas, log, c.sim.extras)
	if err != nil {
		return err
	}
	routes := scenarioRoutes(c.simControl, s, c.sim.extras, log)
	err = serveGateway(ctx, conn, &c.gw, routes, stdout, log)
	if serr := stopSim(); err == nil {
		err = serr
	}
	return err
}

// simControlUsage is the help of serve's --sim-control.
const simControlUsage = "serve GET and POST /v1/sim/scenario, to see and set the simulator's scenario at run time (behind --token when set); false: read-only market"

// scenarioRoutes returns the routes, for gateway.Options.Routes, that
// show and set s's scenario; nil (no routes: 404) when on is false, or
// when there is no simulator or it replays a recording.
func scenarioRoutes(on bool, s *sim.Sim, x *simExtras, log *slog.Logger) func(chi.Router) {
	if !on || s == nil || x != nil && x.replayer != nil {
		return nil
	}
	return simhttp.Routes(s, log)
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
	for s, m := range last {
		cfg.Resume[s] = m.Tick
	}
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
	log.Info("simulator starting", "symbols", len(s.Universe()), "rate", cfg.Rate, "seed", cfg.Seed, "resumed", len(last))
	// The simulator outlives ctx a little: it stops after the gateway
	// has said goodbye to its clients.
	simCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
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
		}
		return result
	}
	return s, stop, nil
}

// serveGateway runs the gateway's stream reader and HTTP server until ctx
// ends, then shuts down in order: stop taking connections and end every
// stream after a complete event, then stop reading the stream.
// routes, if not nil, adds routes under /v1/'s access check (the
// simulator's scenario control).
func serveGateway(ctx context.Context, conn *feed.Conn, c *gatewayFlags, routes func(chi.Router), stdout io.Writer, log *slog.Logger) error {
	if os.Getenv("GOGC") == "" && c.gogc > 0 {
		debug.SetGCPercent(c.gogc)
	}
	opts, err := c.options(log)
	if err != nil {
		return err
	}
	opts.Static = web.Handler()
	opts.Routes = routes
	g := gateway.New(conn, opts)
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", c.addr, err)
	}
	ln = gateway.LimitSendBuffer(ln, c.sndbuf)
	if c.pprof != "" {
		stop, err := servePprof(c.pprof, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	runDone := make(chan error, 1)
	go func() { runDone <- g.Run(runCtx) }()

	hs := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: c.readHeader,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		// No WriteTimeout: it would cut every stream; the gateway sets a
		// deadline per write instead.
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "tickcast: serving http://%s/ (dashboard /, stream /v1/stream)\n", ln.Addr())

	var err2 error
	select {
	case <-ctx.Done():
	case err2 = <-serveErr:
	}
	log.Info("shutting down")
	// Stop accepting at once; end every stream after a complete event,
	// staggered over --shutdown-spread; then close what is left (idle
	// keep-alive and preconnected sockets, which Shutdown would otherwise
	// wait up to 5s for).
	sctx, cancel := context.WithTimeout(context.Background(), c.spread+10*time.Second)
	defer cancel()
	httpDone := make(chan struct{})
	go func() { _ = hs.Shutdown(sctx); close(httpDone) }()
	if err := g.Shutdown(sctx); err != nil {
		log.Warn("streams did not end in time", "err", err)
	}
	select {
	case <-httpDone:
	case <-time.After(500 * time.Millisecond):
	}
	_ = hs.Close()
	stopRun()
	<-runDone
	if err2 != nil && !errors.Is(err2, http.ErrServerClosed) {
		return err2
	}
	return nil
}

// servePprof serves net/http/pprof on its own listener, never on the
// public one.
func servePprof(addr string, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("pprof listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
