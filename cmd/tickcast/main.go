// Command tickcast runs a simulated stock market feed: a price simulator
// publishing into NATS JetStream and an HTTP gateway streaming the ticks
// as Server-Sent Events, with a live dashboard.
//
//	tickcast [serve]   everything on one machine (embedded NATS)
//	tickcast sim       the simulator, against an existing NATS
//	tickcast gateway   the HTTP gateway, against an existing NATS
//	tickcast bench     the fan-out latency benchmark
//
// main.go only dispatches; each command is in its own file (serve.go,
// sim.go, gateway.go, bench.go), with the flags they share in flags.go
// and simopts.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal starts a clean shutdown; from then on the
		// default action is back, so a second Ctrl-C ends the process at
		// once.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errFlags): // the flag package printed it, with usage
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "tickcast:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "tickcast:", err)
		return 1
	}
}

var (
	errUsage = errors.New("invalid arguments")
	errFlags = fmt.Errorf("%w: bad flags", errUsage)
)

const usage = `tickcast: a simulated stock market feed over Server-Sent Events.

Usage:
  tickcast [serve] [flags]   run everything on one machine (the default)
  tickcast sim --nats URL    run the price simulator against an existing NATS
  tickcast gateway --nats URL
                             run the HTTP/SSE gateway against an existing NATS
  tickcast bench [flags]     measure fan-out latency

Run 'tickcast CMD --help' for the flags of a command.
`

// run is the whole program: it returns when ctx ends or on error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprint(stdout, usage)
		fmt.Fprintln(stdout, "\nFlags of serve (the default command):")
		fs, _ := serveFlags(stdout)
		fs.PrintDefaults()
		return flag.ErrHelp
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, stdout, stderr)
	case "sim":
		return runSim(ctx, args, stdout, stderr)
	case "gateway":
		return runGateway(ctx, args, stdout, stderr)
	case "bench":
		return runBench(ctx, args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "tickcast: unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
}
