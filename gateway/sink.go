package gateway

import (
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// sink is where a client's bytes go: each write is sent to the network
// at once.
type sink interface {
	write(b []byte) error
	SetWriteDeadline(t time.Time) error
}

// httpSink writes through the ResponseWriter and flushes (HTTP/2, and
// HTTP/1.1 servers that cannot hijack).
type httpSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s httpSink) write(b []byte) error {
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s httpSink) SetWriteDeadline(t time.Time) error { return s.rc.SetWriteDeadline(t) }

// rawSink writes straight to a hijacked HTTP/1.1 connection: the body is
// delimited by the connection's close, so an event costs one write
// syscall with no chunk framing, bufio copy or formatting.
type rawSink struct{ conn net.Conn }

func (s rawSink) write(b []byte) error {
	_, err := s.conn.Write(b)
	return err
}

func (s rawSink) SetWriteDeadline(t time.Time) error { return s.conn.SetWriteDeadline(t) }

// openSink sends the 200 response head and returns the sink for the
// body, and a func to call when the stream ends. On HTTP/1.1 it takes
// the connection over (the response ends with the connection): a small
// reader goroutine, as net/http has per connection anyway, calls gone
// when the client closes, and the end is a half-close that lets the last
// events arrive before the socket closes (no RST).
func openSink(w http.ResponseWriter, r *http.Request, gone func()) (out sink, end func(), hijacked bool, err error) {
	sseHeaders(w)
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
				return nil, func() {}, false, err
			}
			readDone := make(chan struct{})
			go func() {
				defer close(readDone)
				var b [128]byte
				for {
					if _, err := conn.Read(b[:]); err != nil {
						gone()
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
			return rawSink{conn}, end, true, nil
		}
	}
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil, func() {}, false, err
	}
	return httpSink{w, rc}, func() {}, false, nil
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
