//go:build !linux

package gateway

import (
	"errors"
	"net"
)

// Without epoll every HTTP/1.1 stream keeps a reader goroutine and a
// writer goroutine of its own (see poll_linux.go).
type poller struct{}

type pconn struct{}

func getPoller() (*poller, error) { return nil, errors.New("no epoll on this system") }

func (p *poller) add(*net.TCPConn, func(), func()) (*pconn, error) {
	return nil, errors.New("no epoll")
}
func (pc *pconn) armOut() bool                { return false }
func (pc *pconn) write(b []byte) (int, error) { return 0, errors.New("no epoll") }
func (pc *pconn) end()                        {}
