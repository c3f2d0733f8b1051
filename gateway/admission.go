package gateway

import (
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tickcast/tickcast/gateway/sse"
)

// turnAway answers a stream request the gateway will not serve now with
// 200, a jittered retry: and the end of the response, so EventSource
// comes back later. A non-200 would make a browser stop for good.
//
// Over HTTP/1.1 the connection is closed too (Connection: close), so the
// client's next try may reach another gateway behind a balancer. Over
// HTTP/2 only the stream ends: net/http answers Connection: close with a
// GOAWAY, which would send every other stream of the connection's
// browser (up to 100 EventSources of all its tabs) to a new connection.
func (g *Gateway) turnAway(w http.ResponseWriter, r *http.Request, reason string) {
	g.m.rejected.WithLabelValues(reason).Inc()
	sse.SetHeaders(w)
	if r.ProtoMajor < 2 {
		w.Header().Set("Connection", "close")
	}
	w.WriteHeader(http.StatusOK)
	ms := g.opts.Retry.Milliseconds() + 1000 + rand.Int64N(4000)
	_, _ = w.Write([]byte(": " + reason + "\nretry: " + strconv.FormatInt(ms, 10) + "\n\n"))
}

// takeConn counts a stream against MaxConns; releaseConn gives it back.
func (g *Gateway) takeConn() bool {
	if n := g.conns.Add(1); g.opts.MaxConns > 0 && n > int64(g.opts.MaxConns) {
		g.conns.Add(-1)
		return false
	}
	return true
}

func (g *Gateway) releaseConn() { g.conns.Add(-1) }

// enter counts a client in unless the gateway is shutting down.
func (g *Gateway) enter() bool {
	select {
	case <-g.shutdown:
		return false
	default:
	}
	g.enterMu.Lock() // orders Add against Shutdown's Wait
	defer g.enterMu.Unlock()
	select {
	case <-g.shutdown:
		return false
	default:
	}
	g.clients.Add(1)
	return true
}

// clientIP is the address a per-IP cap counts: the TCP peer, or, when
// the peer is a trusted proxy, the right-most address in
// X-Forwarded-For that is not itself a trusted proxy (entries to its left
// are the client's to forge).
func (g *Gateway) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !g.trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		if !g.trusted(h) {
			return h
		}
	}
	return host
}

func (g *Gateway) trusted(ip string) bool {
	if len(g.opts.TrustedProxies) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range g.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// takeIP counts a stream against its remote address's cap.
func (g *Gateway) takeIP(ip string) bool {
	if g.opts.MaxConnsPerIP <= 0 {
		return true
	}
	g.ipMu.Lock()
	defer g.ipMu.Unlock()
	if g.ipConns[ip] >= g.opts.MaxConnsPerIP {
		return false
	}
	g.ipConns[ip]++
	return true
}

func (g *Gateway) releaseIP(ip string) {
	if g.opts.MaxConnsPerIP <= 0 {
		return
	}
	g.ipMu.Lock()
	defer g.ipMu.Unlock()
	if g.ipConns[ip]--; g.ipConns[ip] <= 0 {
		delete(g.ipConns, ip)
	}
}
