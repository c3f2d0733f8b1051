package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway"
	"github.com/tickcast/tickcast/web"
)

// runGateway runs "tickcast gateway": the HTTP gateway alone, serving
// the TICKS stream of an existing NATS server.
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
	if err := gf.checkTLS(); err != nil {
		return err
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
	tlsConf, err := c.tlsConfig()
	if err != nil {
		return err
	}
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
		ReadHeaderTimeout: c.readHeader, // with TLS, also bounds the handshake
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		// No WriteTimeout: it would cut every stream; the gateway sets a
		// deadline per write instead.
		TLSConfig: tlsConf,
		Protocols: c.protocols(),
		ErrorLog:  stdlog.New(serverLog{log}, "", 0),
		HTTP2: &http.HTTP2Config{
			// A client that stops reading a whole HTTP/2 connection blocks
			// every frame of it, the gateway's per-stream resets too: close
			// such a connection after --write-timeout without progress.
			WriteByteTimeout: c.writeTimeout,
		},
	}
	serveErr := make(chan error, 1)
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
		// The listener under TLS is still LimitSendBuffer's: each
		// accepted TCP connection gets its small send buffer first.
		tln := gateway.StickyWriteTimeout(ln)
		go func() { serveErr <- hs.ServeTLS(tln, "", "") }()
	} else {
		go func() { serveErr <- hs.Serve(ln) }()
	}
	fmt.Fprintf(stdout, "tickcast: serving %s://%s/ (dashboard /, stream /v1/stream%s)\n", scheme, ln.Addr(), c.protoNames())

	var err2 error
	select {
	case <-ctx.Done():
	case err2 = <-serveErr:
	}
	log.Info("shutting down; a second Ctrl-C stops at once")
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

// serverLog takes net/http's own log lines into log: failed TLS
// handshakes (scanners, clients that distrust the certificate, plain
// HTTP on the TLS port) at debug, anything else as a warning.
type serverLog struct{ log *slog.Logger }

func (l serverLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") {
		l.log.Debug("http server", "msg", msg)
	} else {
		l.log.Warn("http server", "msg", msg)
	}
	return len(p), nil
}

// tlsConfig loads --tls-cert and --tls-key; nil without them.
func (c *gatewayFlags) tlsConfig() (*tls.Config, error) {
	if c.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", c.tlsCert, c.tlsKey, err)
	}
	// ServeTLS adds "h2" and "http/1.1" to NextProtos (ALPN).
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// protocols is what the server speaks: HTTP/1.1, and HTTP/2 over TLS
// (ALPN) or, with --h2c, in clear text (prior knowledge).
func (c *gatewayFlags) protocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(c.tlsCert != "")
	p.SetUnencryptedHTTP2(c.h2c)
	return &p
}

// protoNames is what the startup line adds for TLS and h2c.
func (c *gatewayFlags) protoNames() string {
	switch {
	case c.tlsCert != "":
		return "; HTTP/2 and HTTP/1.1"
	case c.h2c:
		return "; HTTP/1.1 and h2c"
	}
	return ""
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
