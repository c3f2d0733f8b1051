//go:build !linux

package poll

import (
	"errors"
	"net"
)

// Without epoll every HTTP/1.1 stream keeps a reader goroutine and a
// writer goroutine of its own (see poll_linux.go).
type Poller struct{}

type Conn struct{}

func Get() (*Poller, error) { return nil, errors.New("no epoll on this system") }

// Handler hears about a connection (see poll_linux.go).
type Handler interface {
	Gone()
	Writable()
}

func (p *Poller) Add(*net.TCPConn, Handler) (*Conn, error) {
	return nil, errors.New("no epoll")
}
func (pc *Conn) ArmOut() bool                { return false }
func (pc *Conn) Write(b []byte) (int, error) { return 0, errors.New("no epoll") }
func (pc *Conn) End()                        {}
func (pc *Conn) Detach() error               { return nil }
