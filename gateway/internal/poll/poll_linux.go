//go:build linux

package poll

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Poller is a small epoll loop for hijacked HTTP/1.1 streams: it notices
// a client's close (EPOLLRDHUP, EPOLLHUP, EPOLLERR, or a read of EOF),
// reads and discards whatever a client sends after its request, and says
// when a full socket has drained (EPOLLOUT), so no goroutine waits in
// Read or Write per connection. One per process, started on first use;
// its goroutine lives as long as the process, as the runtime's own
// netpoller does.
//
// Until Detach the socket stays in the runtime's netpoller too (a socket
// may be in several epoll sets), and every read and write here goes
// through syscall.RawConn.Control, which holds the descriptor open.
// Detach makes the descriptor the Conn's own (a duplicate) and closes
// the net.TCPConn: the runtime's state for it (a poll descriptor of 512
// bytes, kept by the runtime for reuse and never returned to the OS, the
// netFD and its addresses, ~0.8 KiB a connection) is released while the
// stream lives. From then on every use of the descriptor holds Conn.mu,
// and close happens under it too. Either way a connection leaves the
// epoll set before it is closed, so a reused descriptor number is never
// touched.
type Poller struct {
	epfd int

	mu    sync.Mutex
	conns map[uint32]*Conn // by the id carried in each epoll event
	next  uint32
}

var (
	pollOnce sync.Once
	thePoll  *Poller
	pollErr  error
)

// Get returns the process's Poller, or an error if epoll is not
// available.
func Get() (*Poller, error) {
	pollOnce.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			pollErr = err
			return
		}
		thePoll = &Poller{epfd: fd, conns: map[uint32]*Conn{}}
		go thePoll.loop()
	})
	return thePoll, pollErr
}

// Conn is one connection in the Poller: 64 bytes, one per idle stream
// (the Poller is the process's one, and the runtime's descriptor is
// reached through conn until Detach).
type Conn struct {
	id     uint32
	done   bool // out of the epoll set: the client is gone or we closed
	ending bool // end was called: close once the client has closed too
	out    bool // EPOLLOUT armed

	h Handler // told when the client is gone and when the socket drains

	mu    sync.Mutex
	fd    int          // the descriptor in the epoll set; -1 once closed (detached)
	conn  *net.TCPConn // the runtime's descriptor; nil once detached: fd is ours
	timer *time.Timer
}

// Handler hears from the Poller about a connection, on the Poller's
// goroutine: Gone once, when the client is gone (it closed, or the
// connection failed); Writable when the socket drains after ArmOut.
// They must not block.
type Handler interface {
	Gone()
	Writable()
}

const pollIn = syscall.EPOLLIN | syscall.EPOLLRDHUP

// Add registers conn; h hears when the client is gone and, after
// ArmOut, when the socket can take more.
func (p *Poller) Add(conn *net.TCPConn, h Handler) (*Conn, error) {
	pc := &Conn{conn: conn, h: h}
	if err := pc.control(func(fd uintptr) { pc.fd = int(fd) }); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.next++
	pc.id = p.next
	p.conns[pc.id] = pc
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: pollIn, Fd: int32(pc.id)}
	if err := epollCtl(p.epfd, syscall.EPOLL_CTL_ADD, pc.fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.conns, pc.id)
		p.mu.Unlock()
		return nil, err
	}
	return pc, nil
}

func (p *Poller) loop() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			panic("poll: epoll_wait: " + err.Error()) // a bad epfd: a bug
		}
		for i := 0; i < n; i++ {
			p.mu.Lock()
			pc := p.conns[uint32(events[i].Fd)]
			p.mu.Unlock()
			if pc != nil {
				pc.handle(events[i].Events)
			}
		}
	}
}

// discard is the Poller's read buffer; only its goroutine reads.
var discard [16 << 10]byte

func (pc *Conn) handle(ev uint32) {
	if ev&syscall.EPOLLOUT != 0 {
		pc.mu.Lock()
		armed := pc.out && !pc.done
		if armed {
			pc.out = false
			pc.ctl(pollIn)
		}
		pc.mu.Unlock()
		if armed {
			pc.h.Writable()
		}
	}
	if ev&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		pc.hangup()
		return
	}
	if ev&syscall.EPOLLIN != 0 {
		// Read and discard at most 64 KiB per wake-up (level-triggered:
		// the rest comes next time), so a client sending without end
		// gets no more than its share of the Poller.
		for range 4 {
			pc.mu.Lock()
			n, rerr, err := pc.readLocked(discard[:])
			pc.mu.Unlock()
			if err != nil {
				pc.hangup()
				return
			}
			if errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EINTR) {
				return
			}
			if rerr != nil || n == 0 {
				pc.hangup()
				return
			}
			if n < len(discard) {
				return
			}
		}
	}
}

// readLocked reads from the descriptor; pc.mu held. err is set when the
// descriptor is closed, rerr by the read.
func (pc *Conn) readLocked(b []byte) (n int, rerr, err error) {
	if pc.conn == nil {
		if pc.fd < 0 {
			return 0, nil, net.ErrClosed
		}
		n, rerr = syscall.Read(pc.fd, b)
		return n, rerr, nil
	}
	err = pc.control(func(fd uintptr) { n, rerr = syscall.Read(int(fd), b) })
	return n, rerr, err
}

// control runs f on the runtime's descriptor (before Detach), which
// stays open while f runs.
func (pc *Conn) control(f func(fd uintptr)) error {
	rc, err := pc.conn.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(f)
}

// closeLocked closes the connection; pc.mu held, pc out of the epoll set.
func (pc *Conn) closeLocked() {
	switch {
	case pc.conn != nil:
		pc.conn.Close()
	case pc.fd >= 0:
		_ = syscall.Close(pc.fd)
		pc.fd = -1
	}
}

// Detach makes the connection's descriptor pc's own: it takes a
// duplicate, moves the epoll registration to it and closes the
// net.TCPConn, whose descriptor, poll descriptor, netFD and addresses
// the runtime then releases (or keeps for the next connection). The
// socket itself stays open. The caller must not use the net.TCPConn
// given to Add after Detach, nor while it runs. It fails only if the
// duplicate cannot be made (no descriptor left): pc then goes on as
// before, on the runtime's descriptor.
func (pc *Conn) Detach() error {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.conn == nil || pc.done {
		return nil // already detached, or gone: nothing to release early
	}
	nfd := -1
	var derr error
	if err := pc.control(func(fd uintptr) {
		r, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			derr = e
			return
		}
		nfd = int(r)
	}); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	events := uint32(pollIn)
	if pc.out {
		events |= syscall.EPOLLOUT
	}
	// The same socket under both numbers for a moment: an event
	// reported twice is harmless (handle reads until EAGAIN and hangs
	// up once), and level-triggered, none is lost.
	ev := syscall.EpollEvent{Events: events, Fd: int32(pc.id)}
	if err := epollCtl(thePoll.epfd, syscall.EPOLL_CTL_ADD, nfd, &ev); err != nil {
		_ = syscall.Close(nfd)
		return err
	}
	_ = epollCtl(thePoll.epfd, syscall.EPOLL_CTL_DEL, pc.fd, nil)
	pc.conn.Close()
	pc.fd, pc.conn = nfd, nil
	return nil
}

// epollCtl is epoll_ctl(2) as a raw system call, as the runtime makes
// its own: it never blocks for long, so the goroutine keeps its P and a
// burst of connections registering at once does not make the scheduler
// start threads to run the others meanwhile (threads it keeps for the
// process's life, with their stacks). fcntl's F_DUPFD_CLOEXEC in Detach
// is made so too.
func epollCtl(epfd, op, fd int, ev *syscall.EpollEvent) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// ctl sets the events pc waits for; pc.mu held, !pc.done.
func (pc *Conn) ctl(events uint32) {
	ev := syscall.EpollEvent{Events: events, Fd: int32(pc.id)}
	_ = epollCtl(thePoll.epfd, syscall.EPOLL_CTL_MOD, pc.fd, &ev)
}

// leaveLocked takes pc out of the epoll set; pc.mu held.
func (pc *Conn) leaveLocked() {
	if pc.done {
		return
	}
	pc.done = true
	_ = epollCtl(thePoll.epfd, syscall.EPOLL_CTL_DEL, pc.fd, nil)
	thePoll.mu.Lock()
	delete(thePoll.conns, pc.id)
	thePoll.mu.Unlock()
}

// hangup: the client closed (or the connection failed).
func (pc *Conn) hangup() {
	pc.mu.Lock()
	if pc.done {
		pc.mu.Unlock()
		return
	}
	pc.leaveLocked()
	ending := pc.ending
	if ending {
		if pc.timer != nil {
			pc.timer.Stop()
		}
		pc.closeLocked()
	}
	pc.mu.Unlock()
	if !ending {
		pc.h.Gone()
	}
}

// ArmOut asks for writable once the socket drains. It reports false if
// the connection has left the Poller (the client is gone).
func (pc *Conn) ArmOut() bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.done {
		return false
	}
	if !pc.out {
		pc.out = true
		pc.ctl(pollIn | syscall.EPOLLOUT)
	}
	return true
}

// Write writes as much of b as the socket takes now, without waiting:
// n < len(b) with a nil error means the socket is full.
func (pc *Conn) Write(b []byte) (int, error) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	total := 0
	for total < len(b) {
		var n int
		var werr error
		switch {
		case pc.conn != nil:
			if err := pc.control(func(fd uintptr) { n, werr = syscall.Write(int(fd), b[total:]) }); err != nil {
				return total, err
			}
		case pc.fd < 0:
			return total, net.ErrClosed
		default:
			n, werr = syscall.Write(pc.fd, b[total:])
		}
		if werr != nil {
			if errors.Is(werr, syscall.EINTR) {
				continue
			}
			if errors.Is(werr, syscall.EAGAIN) {
				return total, nil
			}
			return total, werr
		}
		total += n
	}
	return total, nil
}

// End half-closes the connection so the last events arrive before it
// closes (no RST), and closes it when the client closes too, or after
// 5s.
func (pc *Conn) End() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	switch {
	case pc.conn != nil:
		_ = pc.conn.CloseWrite()
	case pc.fd >= 0:
		_ = syscall.Shutdown(pc.fd, syscall.SHUT_WR)
	}
	pc.ending = true
	if pc.done {
		pc.closeLocked()
		return
	}
	pc.timer = time.AfterFunc(5*time.Second, func() {
		pc.mu.Lock()
		defer pc.mu.Unlock()
		if !pc.done {
			pc.leaveLocked()
			pc.closeLocked()
		}
	})
}
