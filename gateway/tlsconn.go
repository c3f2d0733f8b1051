package gateway

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
)

// StickyWriteTimeout wraps ln so that once a write to an accepted
// connection has timed out, every later write to it fails at once.
//
// Use it under TLS (cmd/tickcast does, below tls.NewListener and above
// LimitSendBuffer). Closing a crypto/tls connection first sends a
// close_notify alert, under a 5 s write deadline of its own; on a
// connection whose client stopped reading, that alert cannot go out, so
// every close after a write timeout would block for 5 s more: net/http's
// HTTP/2 server closes a stalled connection from its serve goroutine
// (its WriteByteTimeout), and the gateway half-closes a hijacked
// HTTP/1.1 stream from the stream's goroutine. A write that timed out
// leaves the connection's byte stream cut mid-record anyway: nothing
// written after it could be read.
func StickyWriteTimeout(ln net.Listener) net.Listener { return stickyListener{ln} }

type stickyListener struct{ net.Listener }

func (l stickyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return &stickyConn{Conn: c}, nil
}

type stickyConn struct {
	net.Conn
	timedOut atomic.Bool
}

func (c *stickyConn) Write(b []byte) (int, error) {
	if c.timedOut.Load() {
		return 0, os.ErrDeadlineExceeded
	}
	n, err := c.Conn.Write(b)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.timedOut.Store(true)
	}
	return n, err
}

// CloseWrite half-closes the TCP connection, as *net.TCPConn does.
func (c *stickyConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
