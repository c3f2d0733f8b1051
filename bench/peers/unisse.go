package main

// Centrifugo's uni_sse transport, the handler and transport of
// internal/unisse at github.com/centrifugal/centrifugo v6.9.1 (Apache
// License 2.0, Copyright the Centrifugo authors), ported to stand alone:
// Centrifugo's internal packages cannot be imported, so its helpers
// (convert, logging, tools) are inlined, the POST connect form and the
// connect-code-to-HTTP option (both off by default) are left out, and
// the connect request's JSON is read with encoding/json. What each
// delivery costs, the writes and flushes, is Centrifugo's as is.

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/centrifugal/protocol"
)

type uniSSEHandler struct {
	node     *centrifuge.Node
	pingPong centrifuge.PingPongConfig
}

const (
	connectURLParam    = "cf_connect"
	streamWriteTimeout = time.Second
)

func (h uniSSEHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := w.(http.Flusher); !ok {
		http.Error(w, "expected http.ResponseWriter to be http.Flusher", http.StatusInternalServerError)
		return
	}
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	req := &protocol.ConnectRequest{}
	if s := r.URL.Query().Get(connectURLParam); s != "" {
		if err := json.Unmarshal([]byte(s), req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
	}

	ack := make(chan struct{})
	transport := newEventsourceTransport(r, h.pingPong, ack)
	c, closeFn, err := centrifuge.NewClient(r.Context(), h.node, transport)
	if err != nil {
		return
	}
	defer func() { _ = closeFn() }()
	defer close(transport.closedCh) // need to execute this after client closeFn.

	c.ProtocolConnect(req)

	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "keep-alive")
	}
	w.Header().Set("X-Accel-Buffering", "no")
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-cache, no-store, must-revalidate, max-age=0")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Expire", "0")
	w.WriteHeader(http.StatusOK)

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err = w.Write([]byte("\r\n")); err != nil {
		return
	}
	_ = rc.Flush()

	sendAck := func() {
		select {
		case ack <- struct{}{}:
		case <-r.Context().Done():
		}
	}

	for {
		select {
		case <-r.Context().Done():
			return
		case <-transport.disconnectCh:
			return
		case messages, messagesOK := <-transport.messages:
			if !messagesOK {
				sendAck()
				return
			}
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			for _, msg := range messages {
				// Centrifugo builds the same string with unsafe conversions.
				if _, err = w.Write([]byte("data: " + string(msg) + "\n\n")); err != nil {
					sendAck()
					return
				}
			}
			_ = rc.Flush()
			_ = rc.SetWriteDeadline(time.Time{})
			sendAck()
		}
	}
}

type eventsourceTransport struct {
	mu             sync.Mutex
	ack            chan struct{}
	messages       chan [][]byte
	disconnectCh   chan *centrifuge.Disconnect
	closedCh       chan struct{}
	closed         bool
	pingPongConfig centrifuge.PingPongConfig
	protoMajor     int
}

func newEventsourceTransport(req *http.Request, pingPongConfig centrifuge.PingPongConfig, ack chan struct{}) *eventsourceTransport {
	return &eventsourceTransport{
		messages:       make(chan [][]byte),
		disconnectCh:   make(chan *centrifuge.Disconnect),
		closedCh:       make(chan struct{}),
		pingPongConfig: pingPongConfig,
		protoMajor:     req.ProtoMajor,
		ack:            ack,
	}
}

func (t *eventsourceTransport) Name() string                      { return "uni_sse" }
func (t *eventsourceTransport) Protocol() centrifuge.ProtocolType { return centrifuge.ProtocolTypeJSON }
func (t *eventsourceTransport) ProtocolVersion() centrifuge.ProtocolVersion {
	return centrifuge.ProtocolVersion2
}
func (t *eventsourceTransport) Unidirectional() bool                      { return true }
func (t *eventsourceTransport) DisabledPushFlags() uint64                 { return 0 }
func (t *eventsourceTransport) PingPongConfig() centrifuge.PingPongConfig { return t.pingPongConfig }
func (t *eventsourceTransport) Emulation() bool                           { return false }

func (t *eventsourceTransport) AcceptProtocol() string {
	switch t.protoMajor {
	case 2:
		return "h2"
	case 1:
		return "h1"
	}
	return "unknown"
}

func (t *eventsourceTransport) Write(message []byte) error {
	return t.WriteMany(message)
}

func (t *eventsourceTransport) WriteMany(messages ...[]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	select {
	case t.messages <- messages:
	case <-t.closedCh:
	}
	select {
	case <-t.ack:
	case <-t.closedCh:
		return nil
	}
	return nil
}

func (t *eventsourceTransport) Close(_ centrifuge.Disconnect) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	close(t.disconnectCh)
	<-t.closedCh
	return nil
}
