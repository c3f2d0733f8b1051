package gateway

import (
	"crypto/subtle"
	"net/http"
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
