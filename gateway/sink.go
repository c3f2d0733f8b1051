package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tickcast/tickcast/gateway/internal/poll"
	"github.com/tickcast/tickcast/gateway/sse"
)

// sink is where a client's bytes go: each write is sent to the network
// at once.
type sink interface {
	write(b []byte) error
	SetWriteDeadline(t time.Time) error
}

// httpSink writes through the ResponseWriter: HTTP/2, and HTTP/1.1 when
// the connection cannot be hijacked. Each write is one Write and one
// Flush, so what the client gathered goes out at once (over HTTP/2, as
// DATA frames of at most 16 KiB, the client's default frame size, sent
// together).
//
// Its write deadline holds only while a write is in progress, as a
// connection's does. net/http's HTTP/2 SetWriteDeadline instead arms a
// timer that resets the stream when it fires, writing or not: a stream
// quieter than the write timeout (a rarely ticking symbol, heartbeats
// every 10 s against a 10 s timeout) would be cut while healthy. So
// httpSink keeps the deadline itself and, if it passes in the middle of
// a write, sets a deadline in the past, which resets the stream (HTTP/2:
// RST_STREAM; only this stream, the connection's others go on) or fails
// the write (HTTP/1.1). The write then returns os.ErrDeadlineExceeded.
//
// On HTTP/2 a stream whose client stops reading only that stream blocks
// when its flow-control window is spent, and is cut so. A client that
// stops reading the whole connection blocks every frame of it, the reset
// too: the http.Server's HTTP2.WriteByteTimeout (cmd/tickcast sets it to
// --write-timeout) closes such a connection.
type httpSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController

	mu       sync.Mutex
	deadline time.Time   // from SetWriteDeadline; zero: none
	timer    *time.Timer // runs expire at deadline, armed while writing
	writing  bool
	expired  bool // the deadline passed during a write
}

func (s *httpSink) write(b []byte) error {
	s.mu.Lock()
	if !s.deadline.IsZero() {
		d := time.Until(s.deadline)
		if s.timer == nil {
			s.timer = time.AfterFunc(d, s.expire)
		} else {
			s.timer.Reset(d)
		}
	}
	s.writing = true
	s.mu.Unlock()

	_, err := s.w.Write(b)
	if err == nil {
		err = s.rc.Flush()
	}

	s.mu.Lock()
	s.writing = false
	if s.timer != nil {
		s.timer.Stop()
	}
	expired := s.expired
	s.mu.Unlock()
	if expired {
		return fmt.Errorf("%w: %w", os.ErrDeadlineExceeded, cmp.Or(err, errors.New("write deadline passed")))
	}
	return err
}

// expire cuts a write still in progress at the deadline. The mutex keeps
// it from touching the ResponseWriter once the write (and the handler)
// may have returned; the deadline check, from firing for a write that
// ended while it was already on its way.
func (s *httpSink) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writing || s.expired || s.deadline.IsZero() || time.Now().Before(s.deadline) {
		return
	}
	s.expired = true
	_ = s.rc.SetWriteDeadline(time.Now().Add(-time.Second))
}

func (s *httpSink) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	return nil
}

// rawSink writes straight to a hijacked HTTP/1.1 connection: the body is
// delimited by the connection's close, so an event costs one write
// syscall with no chunk framing, bufio copy or formatting.
type rawSink struct{ conn net.Conn }

func (s rawSink) write(b []byte) error {
	_, err := s.conn.Write(b)
	return err
}

func (s rawSink) SetWriteDeadline(t time.Time) error { return s.conn.SetWriteDeadline(t) }

// pollSink is the sink of a stream on the event loop once its
// descriptor is the poller's (startLoop): the loop writes through the
// poller (flushNB), never through the sink; a write here takes all of b
// or fails.
type pollSink struct{ pc *poll.Conn }

func (s pollSink) write(b []byte) error {
	n, err := s.pc.Write(b)
	if err == nil && n < len(b) {
		err = errBlocked
	}
	return err
}

func (s pollSink) SetWriteDeadline(time.Time) error { return nil }

// openSink sends the 200 response head and returns the sink for the
// body, and a func to call when the stream ends. On HTTP/1.1 it takes
// the connection over (the response ends with the connection): the
// poller (internal/poll; without epoll, a small reader goroutine) calls
// ev.Gone when the client closes, and ev.Writable when a full socket
// drains after pc.ArmOut (pc is nil without the poller; onGoroutine runs
// then, before anything can call Gone), and the end is a half-close that
// lets the last events arrive before the socket closes (no RST); with
// the poller the end is pc.End and openSink returns none, so a stream
// holds no method value for it. Only HTTP/1.1 is hijacked: an HTTP/2 (or
// h2c) request shares its connection with other streams, and its
// ResponseWriter cannot be taken over; it gets an httpSink, as does an
// HTTP/1.1 ResponseWriter that refuses the hijack.
func openSink(w http.ResponseWriter, r *http.Request, ev poll.Handler, onGoroutine func()) (out sink, end func(), pc *poll.Conn, hijacked bool, err error) {
	sse.SetHeaders(w)
	rc := http.NewResponseController(w)
	if r.ProtoMajor == 1 {
		conn, brw, err := rc.Hijack()
		if err == nil {
			_ = conn.SetDeadline(time.Time{})
			head := rawHead(w.Header())
			if brw.Writer.Buffered() > 0 {
				_ = brw.Writer.Flush()
			}
			if _, err := conn.Write(head); err != nil {
				conn.Close()
				return nil, func() {}, nil, false, err
			}
			if tc, ok := conn.(*net.TCPConn); ok && tc != nil {
				if p, err := poll.Get(); err == nil {
					if pc, err := p.Add(tc, ev); err == nil {
						return rawSink{conn}, nil, pc, true, nil
					}
				}
			}
			onGoroutine()
			readDone := make(chan struct{})
			go func() {
				defer close(readDone)
				var b [128]byte
				for {
					if _, err := conn.Read(b[:]); err != nil {
						ev.Gone()
						return
					}
				}
			}()
			end = func() {
				if tc, ok := conn.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
					go func() {
						select {
						case <-readDone:
						case <-time.After(5 * time.Second):
						}
						conn.Close()
					}()
					return
				}
				conn.Close()
			}
			return rawSink{conn}, end, nil, true, nil
		}
	}
	onGoroutine()
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil, func() {}, nil, false, err
	}
	return &httpSink{w: w, rc: rc}, func() {}, nil, false, nil
}

var noNewlines = strings.NewReplacer("\r", "", "\n", "")

// rawHead is an HTTP/1.1 200 response head with the given headers, for a
// body that runs until the connection closes.
func rawHead(h http.Header) []byte {
	b := []byte("HTTP/1.1 200 OK\r\n")
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.EqualFold(k, "Connection") || strings.EqualFold(k, "Content-Length") || strings.EqualFold(k, "Transfer-Encoding") {
			continue
		}
		for _, v := range h[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, noNewlines.Replace(v)...)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "Date: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	return append(b, "\r\nConnection: close\r\n\r\n"...)
}
