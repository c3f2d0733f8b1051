package gateway

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/tickcast/tickcast/gateway/access"
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

// grantOf is what the request's credential allows; nil when no access
// control is configured (everything).
func grantOf(r *http.Request) *access.Grant { return access.GrantOf(r.Context()) }

// auth requires a credential on the /v1/ routes when Options.Token or
// Options.JWT is set: the shared token (every symbol and every route) or
// a JWT (its symbols, until its exp; not Options.Routes). A missing or
// invalid one is 401: it will stay wrong, so the browser may as well
// stop. The token itself is never logged or shown.
func (g *Gateway) auth(next http.Handler) http.Handler {
	chk, err := access.NewChecker(g.opts.Token, g.opts.JWT)
	if chk == nil {
		return next
	}
	if err != nil {
		// Fail closed: cmd/tickcast checks the config first (Check).
		g.log.Error("access tokens: unusable configuration; refusing every token", "err", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gr, err := chk.Check(access.Credential(r))
		switch {
		case errors.Is(err, access.ErrNoCredential):
			g.unauthorized(w, "", err.Error())
			return
		case err != nil:
			g.log.Debug("access token refused", "path", r.URL.Path, "reason", err.Error())
			g.unauthorized(w, "invalid_token", err.Error())
			return
		}
		if !gr.Full && !apiPath(r.URL.Path) {
			g.forbidden(w, "", "this endpoint needs the gateway's shared token, not a scoped token")
			return
		}
		next.ServeHTTP(w, r.WithContext(access.WithGrant(r.Context(), gr)))
	})
}

// apiPath: the market-data endpoints a scoped token may use.
func apiPath(p string) bool {
	return p == "/v1/stream" || p == "/v1/snapshot" || p == "/v1/symbols" || p == "/v1/bars" || p == "/v1/market"
}

// unauthorized is a 401 with a JSON reason; code is RFC 6750's error
// code, none when no credential came.
func (g *Gateway) unauthorized(w http.ResponseWriter, code, msg string) {
	g.m.rejected.WithLabelValues("unauthorized").Inc()
	h := `Bearer realm="tickcast"`
	if code != "" {
		h += `, error="` + code + `"`
	}
	w.Header().Set("WWW-Authenticate", h)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": msg})
}

// forbidden is a 403: a valid token that does not allow this.
func (g *Gateway) forbidden(w http.ResponseWriter, symbol, msg string) {
	g.m.rejected.WithLabelValues("forbidden").Inc()
	w.Header().Set("WWW-Authenticate", `Bearer realm="tickcast", error="insufficient_scope"`)
	body := map[string]string{"error": msg}
	if symbol != "" {
		body["symbol"] = symbol
	}
	writeJSON(w, http.StatusForbidden, body)
}

// scope applies the request's grant to the symbols it asks for: any not
// granted is a 403 naming it (false: answered); asking for every symbol
// with a token for some is narrowed to the granted symbols the feed
// knows (a 403 if it knows none of them).
func (g *Gateway) scope(w http.ResponseWriter, r *http.Request, syms []string) ([]string, bool) {
	gr := grantOf(r)
	if gr == nil || gr.All {
		return syms, true
	}
	if len(syms) > 0 {
		for _, s := range syms {
			if !gr.Allows(s) {
				g.forbidden(w, s, "the access token does not allow symbol "+s)
				return nil, false
			}
		}
		return syms, true
	}
	g.refreshUniverse(r.Context(), false)
	known := map[string]bool{}
	for _, s := range g.universeSymbols() {
		known[s] = true
	}
	if h := g.hub.Load(); h != nil {
		for _, s := range h.observedSymbols() {
			known[s] = true
		}
	}
	var out []string
	for _, s := range gr.List {
		if known[s] {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		g.forbidden(w, "", "the access token allows no symbol this feed has")
		return nil, false
	}
	return out, true
}

// keep reports whether the request's grant allows sym (for listings).
func keep(r *http.Request, sym string) bool { return grantOf(r).Allows(sym) }

// endAtExpiry ends c's stream when its token expires: after a complete
// event, with a jittered retry: (evLeave), so the client reconnects with
// a fresh token and its last id. It returns the timer's stop.
func (g *Gateway) endAtExpiry(ctx context.Context, c *client) func() {
	gr := access.GrantOf(ctx)
	if gr == nil || gr.Exp.IsZero() {
		return func() {}
	}
	t := time.AfterFunc(time.Until(gr.Exp), func() { c.notify(evLeave) })
	return func() { t.Stop() }
}
