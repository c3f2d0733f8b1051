package feed

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnConfig says how to reach NATS: an embedded Server (in-process, no
// socket) or a URL list with optional credentials and TLS.
type ConnConfig struct {
	Server *Server // embedded server; wins over URL
	URL    string  // e.g. "nats://a:4222,nats://b:4222"
	Name   string  // connection name shown by the server

	CredsFile string // NATS .creds file (JWT + nkey)
	Token     string // NATS authorization token (e.g. a tickcast serve's --nats-token)
	TLSCA     string // CA file to verify the server
	TLSCert   string // client certificate (with TLSKey)
	TLSKey    string

	// Stream is the JetStream stream holding the ticks; "" means
	// DefaultStream.
	Stream string
}

// DefaultStream is the name of the ticks stream.
const DefaultStream = "TICKS"

// Conn is a connection to NATS and JetStream, and the only door to them.
type Conn struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
}

// Connect connects to NATS as cfg says. It retries the first connection
// until ctx ends, so a process may start before its NATS server.
func Connect(ctx context.Context, cfg ConnConfig) (*Conn, error) {
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
	}
	url := cfg.URL
	if cfg.Server != nil {
		opts = append(opts, nats.InProcessServer(cfg.Server.ns))
		url = ""
		if cfg.Server.token != "" {
			opts = append(opts, nats.Token(cfg.Server.token))
		}
	} else if url == "" {
		return nil, errors.New("feed: no NATS URL and no embedded server")
	}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCert, cfg.TLSKey))
	}
	var nc *nats.Conn
	var err error
	for {
		nc, err = nats.Connect(url, opts...)
		if err == nil {
			break
		}
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) {
			// Retrying cannot help: the credentials are wrong.
			return nil, fmt.Errorf("feed: connect %s: %w (check --nats-token or --nats-creds)", url, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("feed: connect %s: %w", url, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	if v := nc.ConnectedServerVersion(); !atLeast(v, 2, 10) {
		nc.Close()
		// Older servers lack consumers with several filter subjects:
		// resumes of some symbols would silently come back empty.
		return nil, fmt.Errorf("feed: nats-server %s is too old: tickcast needs 2.10 or later", v)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("feed: jetstream: %w", err)
	}
	stream := cfg.Stream
	if stream == "" {
		stream = DefaultStream
	}
	return &Conn{nc: nc, js: js, stream: stream}, nil
}

// Close drains nothing and closes the connection.
func (c *Conn) Close() { c.nc.Close() }

// Connected reports whether the NATS connection is up.
func (c *Conn) Connected() bool { return c.nc.IsConnected() }

// atLeast reports whether version ("2.10.4", "v2.11.0-beta") is at least
// major.minor; an unparsable version passes.
func atLeast(version string, major, minor int) bool {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return true
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return true
	}
	return ma > major || ma == major && mi >= minor
}
