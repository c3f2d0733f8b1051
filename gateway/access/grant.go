package access

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Grant is what a request's credential allows: every symbol (All), or
// the symbols in List, until Exp (zero: no end, the shared token). A nil
// *Grant is no access control at all: everything.
type Grant struct {
	All  bool
	Full bool     // the shared token: also the extra routes (gateway.Options.Routes)
	List []string // the symbols, when !All
	Exp  time.Time
	syms map[string]bool
}

func newGrant(c *SymbolsClaim, exp time.Time) *Grant {
	gr := &Grant{All: c.All, Exp: exp}
	if !gr.All {
		gr.List = c.List
		gr.syms = make(map[string]bool, len(gr.List))
		for _, s := range gr.List {
			gr.syms[s] = true
		}
	}
	return gr
}

// Allows reports whether gr allows symbol sym (a nil gr allows all).
func (gr *Grant) Allows(sym string) bool { return gr == nil || gr.All || gr.syms[sym] }

type grantKey struct{}

// WithGrant returns ctx carrying gr.
func WithGrant(ctx context.Context, gr *Grant) context.Context {
	return context.WithValue(ctx, grantKey{}, gr)
}

// GrantOf returns the Grant ctx carries; nil when none (no access
// control configured: everything).
func GrantOf(ctx context.Context) *Grant {
	gr, _ := ctx.Value(grantKey{}).(*Grant)
	return gr
}

// Credential is the request's token: "Authorization: Bearer", else
// ?access_token=, else ?token= (EventSource cannot set headers).
func Credential(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	q := r.URL.Query()
	if t := q.Get("access_token"); t != "" {
		return t
	}
	return q.Get("token")
}

// Checker checks credentials against the shared token and the JWT
// configuration.
type Checker struct {
	token []byte
	v     *verifier
}

// ErrNoCredential is Check's error for an empty credential.
var ErrNoCredential = errors.New("an access token is required: Authorization: Bearer, or ?access_token=")

// errWrongToken: neither the shared token nor a JWT is configured that
// could accept it.
var errWrongToken = &tokenError{"missing or wrong access token"}

// NewChecker returns a Checker of the shared token (none if empty) and
// of JWTs (if cfg is enabled), or nil when neither is set: no access
// control. A JWT configuration that is not usable is an error, and the
// Checker then refuses every JWT (fail closed; JWTConfig.Check lets a
// caller refuse it first).
func NewChecker(token string, cfg JWTConfig) (*Checker, error) {
	if token == "" && !cfg.Enabled() {
		return nil, nil
	}
	c := &Checker{token: []byte(token)}
	if cfg.Enabled() {
		v, err := newVerifier(cfg)
		if err != nil {
			return c, err
		}
		c.v = v
	}
	return c, nil
}

// Check returns what cred allows. Its errors are ErrNoCredential, or a
// refusal whose text says why and never contains the token.
func (c *Checker) Check(cred string) (*Grant, error) {
	switch {
	case cred == "":
		return nil, ErrNoCredential
	case len(c.token) > 0 && subtle.ConstantTimeCompare([]byte(cred), c.token) == 1:
		return &Grant{All: true, Full: true}, nil
	case c.v != nil:
		return c.v.verify(cred)
	}
	return nil, errWrongToken
}
