package main

// The peers' tiny servers. Each publishes the ticks of tickcast's own
// simulator (seed 1, the default universe of 44 symbols, regular
// arrivals, no trading session: what `tickcast bench` asks of `tickcast
// serve`) at the given rate, each tick encoded once with
// market.Tick.AppendJSON, and serves them over its own SSE to clients of
// every symbol. Like the gateway, each answers GET /healthz and GET
// /v1/symbols, which the bench reads before it connects.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/r3labs/sse/v2"
	"github.com/tickcast/tickcast/bench"
	"github.com/tickcast/tickcast/market"
	"github.com/tickcast/tickcast/sim"
)

// peer is one server to compare: how to serve it, and how the bench
// client asks for and reads its stream.
type peer struct {
	name    string // as in the table and on the command line
	what    string // exactly what runs, with its version
	path    string // the stream request's path and query, for the bench
	framing string // bench.Framing*
	// setup makes the server for s's universe: its stream handler, how a
	// tick is published into it, and how it stops.
	setup func(s *sim.Sim) (h http.Handler, publish func(*market.Tick) error, stop func(), err error)
}

// publisher adapts a func to sim.Publisher. The tick's marketTime is set
// to its time when the simulator leaves it out (sim.Run does; tickcast's
// event simulator stamps the market clock), so every server sends JSON of
// the same fields and size.
type publisher func(t *market.Tick) error

func (p publisher) Publish(_ context.Context, t market.Tick) error {
	if t.MarketTime.IsZero() {
		t.MarketTime = t.Time
	}
	return p(&t)
}

func r3labsPeer() peer {
	return peer{
		name: "r3labs/sse", what: "github.com/r3labs/sse/v2 " + modVersion("github.com/r3labs/sse/v2") + " (Server, AutoReplay off, one stream of all ticks, event: tick)",
		path: "/events?stream=ticks", framing: bench.FramingTick,
		setup: func(*sim.Sim) (http.Handler, func(*market.Tick) error, func(), error) {
			srv := sse.New()
			srv.AutoReplay = false // else it keeps every event forever to replay it
			srv.CreateStream("ticks")
			event := []byte("tick")
			publish := func(t *market.Tick) error {
				srv.Publish("ticks", &sse.Event{Event: event, Data: t.AppendJSON(nil)})
				return nil
			}
			return srv, publish, srv.Close, nil
		},
	}
}

func centrifugePeer() peer {
	return peer{
		name: "centrifuge uni_sse",
		what: "github.com/centrifugal/centrifuge " + modVersion("github.com/centrifugal/centrifuge") +
			" (the library and version under Centrifugo v6.9.1) with Centrifugo v6.9.1's uni_sse handler (unisse.go), memory broker, one channel per symbol, server-side subscriptions",
		path: "/connection/uni_sse", framing: bench.FramingCentrifuge,
		setup: func(s *sim.Sim) (http.Handler, func(*market.Tick) error, func(), error) {
			node, err := centrifuge.New(centrifuge.Config{LogLevel: centrifuge.LogLevelNone})
			if err != nil {
				return nil, nil, nil, err
			}
			subs := map[string]centrifuge.SubscribeOptions{}
			for _, in := range s.Universe() {
				subs["ticks:"+in.Symbol] = centrifuge.SubscribeOptions{}
			}
			node.OnConnecting(func(context.Context, centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
				return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{}, Subscriptions: subs}, nil
			})
			node.OnConnect(func(*centrifuge.Client) {})
			if err := node.Run(); err != nil {
				return nil, nil, nil, err
			}
			publish := func(t *market.Tick) error {
				_, err := node.Publish("ticks:"+t.Symbol, t.AppendJSON(nil))
				return err
			}
			stop := func() { node.Shutdown(context.Background()) }
			// Centrifugo's defaults: ping every 25s, pong within 8s.
			h := uniSSEHandler{node: node, pingPong: centrifuge.PingPongConfig{PingInterval: 25 * time.Second, PongTimeout: 8 * time.Second}}
			return h, publish, stop, nil
		},
	}
}

func peerByName(name string) (peer, bool) {
	for _, p := range []peer{r3labsPeer(), centrifugePeer()} {
		if p.name == name || p.key() == name {
			return p, true
		}
	}
	return peer{}, false
}

// key is the peer's short name on the command line.
func (p peer) key() string {
	switch p.framing {
	case bench.FramingCentrifuge:
		return "centrifuge"
	}
	return "r3labs"
}

// servePeer is the child process: it serves peer p at rate on addr,
// prints its URL, and runs until SIGTERM or SIGINT.
func servePeer(p peer, addr string, rate float64) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s, err := sim.New(sim.Config{Seed: 1, Rate: rate})
	if err != nil {
		return err
	}
	h, publish, stopPeer, err := p.setup(s)
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	defer stopPeer()
	mux := http.NewServeMux()
	mux.Handle(strings.SplitN(p.path, "?", 2)[0], h)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	syms, _ := json.Marshal(s.Universe())
	mux.HandleFunc("/v1/symbols", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(syms)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1) // Serve's one result
	go func() { served <- hs.Serve(ln) }()
	fmt.Printf("%s serving http://%s\n", p.name, ln.Addr())
	runErr := s.Run(ctx, publisher(publish))
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hs.Shutdown(shut) // SSE handlers end with their connections: cut after 2s
	hs.Close()
	<-served
	return runErr
}
