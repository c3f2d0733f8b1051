package gateway

import "net"

// DefaultSendBuffer is the kernel send buffer LimitSendBuffer sets by
// default: 64 KiB, a few hundred events.
const DefaultSendBuffer = 64 << 10

// LimitSendBuffer wraps ln so every accepted TCP connection gets a fixed
// kernel send buffer of size bytes (0: DefaultSendBuffer; negative: leave
// the kernel's autotuning alone).
//
// Linux grows send buffers up to several MiB per connection. For a feed,
// data queued in the kernel is data the gateway can no longer merge: a
// slow client would read seconds-old ticks from a deep socket queue, and a
// stalled one would hide behind it for many seconds before its writes
// block and the write timeout cuts it. A small buffer keeps the backlog in
// the gateway, where it is merged per symbol, and bounds kernel memory per
// connection.
func LimitSendBuffer(ln net.Listener, size int) net.Listener {
	if size < 0 {
		return ln
	}
	if size == 0 {
		size = DefaultSendBuffer
	}
	return &sndbufListener{Listener: ln, size: size}
}

type sndbufListener struct {
	net.Listener
	size int
}

func (l *sndbufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, nil
}
