package gateway

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// cors lets the allowed origins read responses; every response varies by
// Origin so caches never serve one origin's answer to another.
func (g *Gateway) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		if o := r.Header.Get("Origin"); o != "" && len(g.opts.AllowedOrigins) > 0 {
			if slices.Contains(g.opts.AllowedOrigins, "*") || slices.Contains(g.opts.AllowedOrigins, o) {
				w.Header().Set("Access-Control-Allow-Origin", o)
				w.Header().Set("Access-Control-Allow-Headers", "Authorization, Last-Event-ID")
				if r.Method == http.MethodOptions {
					w.Header().Set("Access-Control-Allow-Methods", "GET")
					w.WriteHeader(http.StatusNoContent)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// auth requires the configured token, from the Authorization header or
// ?token= (EventSource cannot set headers). A wrong token is 401: it
// will stay wrong, so the browser may as well stop.
func (g *Gateway) auth(next http.Handler) http.Handler {
	if g.opts.Token == "" {
		return next
	}
	want := []byte(g.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.URL.Query().Get("token")
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			got = h[len("Bearer "):]
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			g.m.rejected.WithLabelValues("unauthorized").Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="tickcast"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong access token"})
			return
		}
		next.ServeHTTP(w, r)
	})
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
