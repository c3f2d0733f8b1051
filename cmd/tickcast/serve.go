package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/go-chi/chi/v5"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/sim"
	"github.com/tickcast/tickcast/sim/simhttp"
)

type serveConfig struct {
	data       string
	natsListen string
	natsToken  string
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
	fs.StringVar(&c.natsListen, "nats-listen", "", "also accept NATS clients on this host:port (e.g. 127.0.0.1:4222) so other tickcast processes can join; off loopback it needs --nats-token")
	fs.StringVar(&c.natsToken, "nats-token", "", "require this token of NATS clients (the other processes pass it as --nats-token); if empty, $TICKCAST_NATS_TOKEN")
	c.stream.register(fs)
	c.sim.register(fs)
	c.gw.register(fs)
	fs.BoolVar(&c.simControl, "sim-control", true, simControlUsage)
	return fs, c
}

// runServe runs "tickcast serve": an embedded NATS server, the simulator
// and the gateway in one process.
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
	if err := c.checkExposure(); err != nil {
		return err
	}
	if err := c.gw.checkTLS(); err != nil {
		return err
	}
	srv, err := feed.StartServer(feed.ServerConfig{StoreDir: c.data, Memory: c.stream.memory, Listen: c.natsListen, Token: natsToken(c.natsToken)})
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
	if err := c.stream.ensure(ctx, conn, log); err != nil {
		return err
	}
	defer startWindowLog(ctx, conn, log)()
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

// checkExposure refuses to start what would let anyone on the network
// change the market: a NATS listener off loopback without a token (the
// stream could be deleted), or the scenario control on an HTTP address
// off loopback without an access token.
func (c *serveConfig) checkExposure() error {
	if c.natsListen != "" && !loopback(c.natsListen) && natsToken(c.natsToken) == "" {
		return fmt.Errorf("%w: --nats-listen %s accepts NATS clients from other machines, which could read, write or delete the stream: "+
			"set --nats-token (or $TICKCAST_NATS_TOKEN) and pass it to tickcast sim/gateway as --nats-token, or listen on 127.0.0.1", errUsage, c.natsListen)
	}
	if c.simControl && !loopback(c.gw.addr) && c.gw.accessToken() == "" {
		return fmt.Errorf("%w: --addr %s is reachable from other machines, and /v1/sim/scenario would let anyone steer the market: "+
			"set --token (or $TICKCAST_TOKEN), or --sim-control=false", errUsage, c.gw.addr)
	}
	return nil
}
