package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// runner is what the clients of one Run share with it.
type runner struct {
	cfg      Config
	hostport string
	index    map[string]int32 // symbol -> index in the universe; read-only once clients start

	winStart, winEnd atomic.Int64 // Unix ns; winStart is MaxInt64 until set

	connected, connDone, connectErrs atomic.Int64
	disconnects, reconnects, shed    atomic.Int64

	stormKill   atomic.Int64 // storm mode: when the gateway was killed, Unix ns; 0: not yet
	stormFailed atomic.Int64 // reconnect attempts after it that failed before a first event

	ctlSlow, ctlFast func(network, address string, c syscall.RawConn) error

	errMu sync.Mutex
	errs  []string
}

const maxErrs = 5

func (r *runner) errList() []string {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return append([]string(nil), r.errs...)
}

func (r *runner) noteErr(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if len(r.errs) < maxErrs {
		r.errs = append(r.errs, err.Error())
	}
}

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT: bind a source address
// without reserving a port until connect, so the port space is per
// destination.
const ipBindAddressNoPort = 24

func (r *runner) control(slow bool) func(string, string, syscall.RawConn) error {
	if slow {
		return r.ctlSlow
	}
	return r.ctlFast
}

func (r *runner) makeControls() {
	mk := func(slow bool) func(string, string, syscall.RawConn) error {
		if !slow && r.cfg.Addrs <= 1 {
			return nil
		}
		return func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				if slow {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, r.cfg.SlowRcvBuf)
				}
				if serr == nil && r.cfg.Addrs > 1 {
					serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
				}
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	r.ctlSlow, r.ctlFast = mk(true), mk(false)
}

func newRunner(cfg Config) *runner {
	r := &runner{cfg: cfg}
	r.makeControls()
	r.winStart.Store(1<<63 - 1)
	r.winEnd.Store(1<<63 - 1)
	return r
}

func (r *runner) waitConnected(ctx context.Context, cfg Config, pr *progressLine) error {
	pr.phase = "connect"
	timeout := time.NewTimer(cfg.ConnectTimeout)
	defer timeout.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	last := time.Now()
	for r.connDone.Load() < int64(cfg.Clients) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			r.noteErr(fmt.Errorf("only %d of %d clients connected within %v", r.connected.Load(), cfg.Clients, cfg.ConnectTimeout))
			return nil
		case now := <-poll.C:
			if now.Sub(last) >= time.Second {
				pr.print()
				last = now
			}
		}
	}
	return nil
}
