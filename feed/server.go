package feed

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerConfig configures an embedded NATS server with JetStream.
// The zero value is a file-backed server under ./data with no listener.
type ServerConfig struct {
	// StoreDir holds the JetStream store. Empty means "./data", unless
	// Memory is set.
	StoreDir string
	// Memory keeps nothing on disk: the store lives in a temporary
	// directory removed at Shutdown and streams should use memory storage.
	Memory bool
	// Listen is a host:port for NATS clients from other processes (e.g.
	// "127.0.0.1:4222"). Empty means in-process connections only.
	Listen string
	// Token, when set, is required of every NATS client, in-process ones
	// included (Connect passes it for an embedded Server by itself).
	// Without it anyone who reaches Listen may read, write or delete the
	// stream.
	Token string
	// MaxStore caps the disk JetStream may use, in bytes; 0 is the
	// server's own limit, 75% of the free space when it starts.
	MaxStore int64
}

// Server is an embedded NATS server with JetStream enabled.
type Server struct {
	ns      *server.Server
	tempDir string
	token   string
}

// StartServer starts an embedded NATS server and waits until it accepts
// connections.
func StartServer(cfg ServerConfig) (*Server, error) {
	opts := &server.Options{
		ServerName: "tickcast",
		JetStream:  true,
		NoSigs:     true,
		NoLog:      true,
		DontListen: cfg.Listen == "",
		Port:       -1,
		Host:       "127.0.0.1",
	}
	if cfg.Token != "" {
		opts.Authorization = cfg.Token
	}
	if cfg.MaxStore > 0 {
		opts.JetStreamMaxStore = cfg.MaxStore
	}
	s := &Server{token: cfg.Token}
	switch {
	case cfg.Memory:
		dir, err := os.MkdirTemp("", "tickcast-js-*")
		if err != nil {
			return nil, fmt.Errorf("feed: temp store: %w", err)
		}
		s.tempDir, opts.StoreDir = dir, dir
	case cfg.StoreDir == "":
		opts.StoreDir = "data"
	default:
		opts.StoreDir = cfg.StoreDir
	}
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("feed: nats listen address %q: %w", cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("feed: nats listen port %q: %w", port, err)
		}
		opts.Host, opts.Port = host, p
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		s.removeTemp()
		return nil, fmt.Errorf("feed: nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		s.removeTemp()
		return nil, errors.New("feed: nats server not ready after 30s")
	}
	s.ns = ns
	return s, nil
}

// ClientURL is the URL other processes can connect to, or "" when the
// server has no listener.
func (s *Server) ClientURL() string {
	if s.ns.Addr() == nil {
		return ""
	}
	return s.ns.ClientURL()
}

// Shutdown stops the server, flushing the store, and waits for it.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.removeTemp()
}

func (s *Server) removeTemp() {
	if s.tempDir != "" {
		_ = os.RemoveAll(s.tempDir)
	}
}
