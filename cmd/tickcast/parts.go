package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/tickcast/tickcast/feed"
)

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

func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var n natsFlags
	var gf gatewayFlags
	n.register(fs, true)
	gf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tickcast gateway --nats URL [flags]\n\nServes the TICKS stream of an existing NATS server over HTTP as\nServer-Sent Events, with the dashboard. Several gateways on one stream\nissue and accept the same event ids.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if n.url == "" {
		return fmt.Errorf("%w: gateway needs --nats URL", errUsage)
	}
	log, err := newLogger(stderr, gf.logLevel)
	if err != nil {
		return err
	}
	conn, err := feed.Connect(ctx, n.conn("tickcast gateway"))
	if err != nil {
		return err
	}
	defer conn.Close()
	return serveGateway(ctx, conn, &gf, nil, stdout, log)
}
