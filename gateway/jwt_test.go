// Over 400 lines on purpose: one table of refused tokens and the key
// helpers it needs, for each algorithm; the cases read best side by side.

package gateway

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tickcast/tickcast/feed"
	"github.com/tickcast/tickcast/gateway/access"
	"github.com/tickcast/tickcast/internal/ssetest"
)

// testKeys are generated once per test binary: RSA key generation is slow.
var testKeys = sync.OnceValue(func() (k struct {
	secret, otherSecret []byte
	rsa, otherRSA       *rsa.PrivateKey
	ec, otherEC         *ecdsa.PrivateKey
}) {
	k.secret = []byte("0123456789abcdef0123456789abcdef-test")
	k.otherSecret = []byte("fedcba9876543210fedcba9876543210-test")
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.otherRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if k.otherEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	return k
})

// jwtOpts accepts HS256 with the test secret and RS256/ES256 with the
// test keys, read back from PEM as an operator's file would be.
func jwtOpts(t testing.TB) access.JWTConfig {
	t.Helper()
	k := testKeys()
	var pemData []byte
	for _, pub := range []crypto.PublicKey{&k.rsa.PublicKey, &k.ec.PublicKey} {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	keys, err := access.ParsePublicKeys(pemData)
	if err != nil || len(keys) != 2 {
		t.Fatal(keys, err)
	}
	return access.JWTConfig{HS256Secret: k.secret, PublicKeys: keys}
}

// mint signs claims (defaults: every symbol, an hour) with method and key.
func mint(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	c := jwt.MapClaims{"symbols": "*", "exp": float64(time.Now().Add(time.Hour).Unix())}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hs(t testing.TB, claims jwt.MapClaims) string {
	return mint(t, jwt.SigningMethodHS256, testKeys().secret, claims)
}

func unixAt(d time.Duration) float64 { return float64(time.Now().Add(d).UnixNano()) / 1e9 }

func errorBody(t testing.TB, resp *http.Response) map[string]string {
	t.Helper()
	var m map[string]string
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil || m["error"] == "" {
		t.Fatalf("want a JSON reason, got %q (%v)", b, err)
	}
	return m
}

func TestJWTAccepted(t *testing.T) {
	e := newEnv(t, Options{Token: "shared-s3cret", JWT: jwtOpts(t)}, feed.StreamConfig{})
	e.publish(4)
	e.waitHub(4)
	k := testKeys()
	for _, tc := range []struct {
		name, query string
		header      map[string]string
	}{
		{"HS256 query", "?access_token=" + hs(t, nil), nil},
		{"HS256 bearer", "", map[string]string{"Authorization": "Bearer " + hs(t, nil)}},
		{"RS256", "?access_token=" + mint(t, jwt.SigningMethodRS256, k.rsa, nil), nil},
		{"ES256", "", map[string]string{"Authorization": "Bearer " + mint(t, jwt.SigningMethodES256, k.ec, nil)}},
		{"symbols list with *", "?access_token=" + hs(t, jwt.MapClaims{"symbols": []string{"aaa", "*"}}), nil},
		{"nbf past", "?access_token=" + hs(t, jwt.MapClaims{"nbf": unixAt(-time.Minute)}), nil},
		{"shared token query", "?token=shared-s3cret", nil},
		{"shared token bearer", "", map[string]string{"Authorization": "Bearer shared-s3cret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v1/snapshot", "/v1/symbols"} {
				if resp := get(t, e.hs.URL+path+tc.query, tc.header); resp.StatusCode != 200 {
					t.Fatalf("%s: status %d: %v", path, resp.StatusCode, errorBody(t, resp))
				}
			}
			s := e.open(tc.query, tc.header)
			if ev := s.next(); ev.name != "snapshot" || strings.Count(ev.data, `"symbol"`) != 4 {
				t.Fatal(ev)
			}
			s.close()
		})
	}
}

func TestJWTRefused(t *testing.T) {
	k := testKeys()
	rsaPub, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPub})
	none := mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil)
	hsHeader := strings.Split(hs(t, nil), ".")[0]
	rsToken := strings.Split(mint(t, jwt.SigningMethodRS256, k.rsa, nil), ".")
	cases := []struct {
		name, tok, want string
	}{
		{"expired", hs(t, jwt.MapClaims{"exp": unixAt(-time.Second)}), "expired"},
		{"nbf in the future", hs(t, jwt.MapClaims{"nbf": unixAt(time.Minute)}), "not valid yet"},
		{"no exp", hs(t, jwt.MapClaims{"exp": nil}), "expiry"},
		{"no symbols claim", hs(t, jwt.MapClaims{"symbols": nil}), "symbols"},
		{"bad symbols claim", hs(t, jwt.MapClaims{"symbols": 7}), ""},
		{"wrong secret", mint(t, jwt.SigningMethodHS256, k.otherSecret, nil), "signature"},
		{"wrong RSA key", mint(t, jwt.SigningMethodRS256, k.otherRSA, nil), "signature"},
		{"wrong EC key", mint(t, jwt.SigningMethodES256, k.otherEC, nil), "signature"},
		{"alg none", none, "signature"},
		{"alg none unsigned", strings.TrimSuffix(none, ".") + ".", "signature"},
		// The classic confusion: HS256 "signed" with the RSA public key
		// as the HMAC secret; the public key is never used as one.
		{"HS256 with the public key as secret", mint(t, jwt.SigningMethodHS256, rsaPEM, nil), "signature"},
		{"HS256 with the DER public key as secret", mint(t, jwt.SigningMethodHS256, rsaPub, nil), "signature"},
		// An RS256 token's claims and signature under an HS256 header.
		{"header swapped to HS256", hsHeader + "." + rsToken[1] + "." + rsToken[2], "signature"},
		{"RS384 not accepted", mint(t, jwt.SigningMethodRS384, k.rsa, nil), "signature"},
		{"HS512 not accepted", mint(t, jwt.SigningMethodHS512, k.secret, nil), "signature"},
		{"malformed", "abc.def", "malformed"},
		{"garbage segments", "e30.e30.e30", ""},
		{"not a JWT", "hello", "malformed"},
		{"huge", hs(t, jwt.MapClaims{"pad": strings.Repeat("x", access.MaxTokenBytes)}), "longer"},
		{"shared token wrong", "shared-nope", ""},
	}
	e := newEnv(t, Options{Token: "shared-s3cret", JWT: jwtOpts(t)}, feed.StreamConfig{})
	e.publish(4)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, req := range []struct {
				path   string
				header map[string]string
			}{
				{"/v1/stream?access_token=" + tc.tok, nil},
				{"/v1/snapshot?token=" + tc.tok, nil},
				{"/v1/symbols", map[string]string{"Authorization": "Bearer " + tc.tok}},
			} {
				resp := get(t, e.hs.URL+req.path, req.header)
				if resp.StatusCode != 401 {
					t.Fatalf("%s: status %d, want 401", req.path, resp.StatusCode)
				}
				if h := resp.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
					t.Fatalf("WWW-Authenticate %q", h)
				}
				if m := errorBody(t, resp); !strings.Contains(m["error"], tc.want) {
					t.Fatalf("reason %q, want it to mention %q", m["error"], tc.want)
				}
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		resp := get(t, e.hs.URL+"/v1/stream", nil)
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="tickcast"` {
			t.Fatal(resp.StatusCode, resp.Header)
		}
		errorBody(t, resp)
	})

	// Only public keys configured: no HS256 token of any key passes.
	e2 := newEnv(t, Options{JWT: access.JWTConfig{PublicKeys: jwtOpts(t).PublicKeys}}, feed.StreamConfig{})
	for _, tok := range []string{hs(t, nil), mint(t, jwt.SigningMethodHS256, rsaPEM, nil), none} {
		if resp := get(t, e2.hs.URL+"/v1/snapshot?access_token="+tok, nil); resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if resp := get(t, e2.hs.URL+"/v1/snapshot?access_token="+mint(t, jwt.SigningMethodES256, k.ec, nil), nil); resp.StatusCode != 200 {
		t.Fatalf("ES256 with keys only: %d", resp.StatusCode)
	}
}

func TestJWTAudienceIssuer(t *testing.T) {
	c := jwtOpts(t)
	c.Audience, c.Issuer = "tickcast", "https://auth.example"
	e := newEnv(t, Options{JWT: c}, feed.StreamConfig{})
	e.publish(4)
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		want   int
	}{
		{"both", jwt.MapClaims{"aud": "tickcast", "iss": "https://auth.example"}, 200},
		{"aud in a list", jwt.MapClaims{"aud": []string{"other", "tickcast"}, "iss": "https://auth.example"}, 200},
		{"other audience", jwt.MapClaims{"aud": "other", "iss": "https://auth.example"}, 401},
		{"no audience", jwt.MapClaims{"iss": "https://auth.example"}, 401},
		{"other issuer", jwt.MapClaims{"aud": "tickcast", "iss": "https://evil.example"}, 401},
		{"no issuer", jwt.MapClaims{"aud": "tickcast"}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if resp := get(t, e.hs.URL+"/v1/snapshot?access_token="+hs(t, tc.claims), nil); resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tc.want, errorBody(t, resp))
			}
		})
	}
}

func TestJWTSymbolScope(t *testing.T) {
	opts := Options{Token: "shared-s3cret", JWT: jwtOpts(t), Routes: func(r chi.Router) {
		r.Get("/v1/extra", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{}) })
	}}
	e := newEnv(t, opts, feed.StreamConfig{})
	e.publish(8)
	e.waitHub(8)
	tok := hs(t, jwt.MapClaims{"symbols": []string{"AAA", "bbb", "NOPE", "bad.symbol"}})
	q := "?access_token=" + tok

	forbidden := func(t *testing.T, path, sym string) {
		t.Helper()
		resp := get(t, e.hs.URL+path, nil)
		if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Fatalf("%s: status %d %v, want 403", path, resp.StatusCode, resp.Header)
		}
		if m := errorBody(t, resp); m["symbol"] != sym || !strings.Contains(m["error"], sym) {
			t.Fatalf("%s: %v, want it to name %q", path, m, sym)
		}
	}
	t.Run("outside the claim", func(t *testing.T) {
		forbidden(t, "/v1/stream"+q+"&symbols=CCC", "CCC")
		forbidden(t, "/v1/stream"+q+"&symbols=AAA,ddd", "DDD")
		forbidden(t, "/v1/snapshot"+q+"&symbols=AAA,CCC", "CCC")
	})
	t.Run("routes need the shared token", func(t *testing.T) {
		if resp := get(t, e.hs.URL+"/v1/extra"+q, nil); resp.StatusCode != 403 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if resp := get(t, e.hs.URL+"/v1/extra?token=shared-s3cret", nil); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("bars and market take a scoped token", func(t *testing.T) {
		// Inside the claim: not refused (no bar history in this test
		// feed: 503); outside it: 403 naming the symbol.
		if resp := get(t, e.hs.URL+"/v1/bars"+q+"&symbol=AAA", nil); resp.StatusCode == 401 || resp.StatusCode == 403 {
			t.Fatalf("bars inside the claim: status %d", resp.StatusCode)
		}
		forbidden(t, "/v1/bars"+q+"&symbol=CCC", "CCC")
		if resp := get(t, e.hs.URL+"/v1/market"+q, nil); resp.StatusCode != 200 {
			t.Fatalf("market: status %d", resp.StatusCode)
		}
	})
	t.Run("inside the claim", func(t *testing.T) {
		s := e.open(q+"&symbols=bbb", nil)
		if ev := s.next(); ev.name != "snapshot" || !strings.Contains(ev.data, `"BBB"`) || strings.Count(ev.data, `"symbol"`) != 1 {
			t.Fatal(ev)
		}
	})
	symbolsOf := func(t *testing.T, v any) string {
		var got []string
		switch v := v.(type) {
		case []struct{ Symbol string }:
			for _, s := range v {
				got = append(got, s.Symbol)
			}
		}
		return strings.Join(got, ",")
	}
	t.Run("all is narrowed to the claim", func(t *testing.T) {
		s := e.open(q, nil)
		ev := s.next()
		var snap struct{ Ticks []struct{ Symbol string } }
		if err := json.Unmarshal([]byte(ev.data), &snap); ev.name != "snapshot" || err != nil {
			t.Fatal(ev, err)
		}
		if got := symbolsOf(t, snap.Ticks); got != "AAA,BBB" {
			t.Fatalf("snapshot of %s", got)
		}
		e.publish(8)
		for range 4 {
			if ev := s.next(); ev.name != "tick" || (ev.tick(t).Symbol != "AAA" && ev.tick(t).Symbol != "BBB") {
				t.Fatal(ev)
			}
		}
		var snap2 struct{ Ticks []struct{ Symbol string } }
		resp := get(t, e.hs.URL+"/v1/snapshot", map[string]string{"Authorization": "Bearer " + tok})
		if err := json.NewDecoder(resp.Body).Decode(&snap2); resp.StatusCode != 200 || err != nil {
			t.Fatal(resp.StatusCode, err)
		}
		if got := symbolsOf(t, snap2.Ticks); got != "AAA,BBB" {
			t.Fatalf("/v1/snapshot of %s", got)
		}
		var list []struct{ Symbol string }
		resp = get(t, e.hs.URL+"/v1/symbols"+q, nil)
		if err := json.NewDecoder(resp.Body).Decode(&list); resp.StatusCode != 200 || err != nil {
			t.Fatal(resp.StatusCode, err)
		}
		if got := symbolsOf(t, list); got != "AAA,BBB" {
			t.Fatalf("/v1/symbols lists %s", got)
		}
	})
	t.Run("no symbol the feed has", func(t *testing.T) {
		q := "?access_token=" + hs(t, jwt.MapClaims{"symbols": []string{"ZZZ"}})
		for _, p := range []string{"/v1/stream", "/v1/snapshot"} {
			if resp := get(t, e.hs.URL+p+q, nil); resp.StatusCode != 403 {
				t.Fatalf("%s: status %d", p, resp.StatusCode)
			}
		}
		if resp := get(t, e.hs.URL+"/v1/symbols"+q, nil); resp.StatusCode != 200 {
			t.Fatalf("symbols: status %d", resp.StatusCode)
		}
	})
}

// readAll reads a stream's body to its end, or fails after within.
func readAll(t *testing.T, url string, header map[string]string, within time.Duration) (string, time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("stream did not end within %s: %v", within, err)
	}
	return string(b), time.Now()
}

// A token that expires while streaming ends the stream after a complete
// event with a retry:; the old token is then refused, and a fresh one
// resumes from the last id exactly: every tick, none twice.
func TestJWTStreamEndsAtExpiry(t *testing.T) {
	e := newEnv(t, Options{JWT: jwtOpts(t), Retry: 700 * time.Millisecond, ShutdownSpread: 200 * time.Millisecond}, feed.StreamConfig{})
	e.publish(8)
	e.waitHub(8)
	stop := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
				e.publish(3)
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-pubDone
	}()

	// exp has a precision of seconds: 1 to 2s from now.
	exp := time.Unix(time.Now().Unix()+2, 0)
	tok := hs(t, jwt.MapClaims{"exp": exp.Unix(), "symbols": []string{"AAA", "BBB", "CCC"}})
	body, ended := readAll(t, e.hs.URL+"/v1/stream?access_token="+tok, nil, 10*time.Second)
	if ended.Before(exp.Add(-50*time.Millisecond)) || ended.After(exp.Add(3*time.Second)) {
		t.Fatalf("stream ended %s after exp", ended.Sub(exp))
	}
	if !strings.HasSuffix(body, "\n\n") {
		t.Fatalf("body does not end with a complete event: %q", body[max(0, len(body)-200):])
	}
	items, err := ssetest.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if last := items[len(items)-1]; last.Type != ssetest.Retry {
		t.Fatalf("the stream did not end with a retry: %+v", last)
	}
	seqs := map[string]uint64{}
	lastID := ""
	ticks := 0
	for _, it := range items[:len(items)-1] {
		switch it.Type {
		case "snapshot":
			var snap struct {
				Ticks []struct {
					Symbol string
					Seq    uint64
				}
			}
			if err := json.Unmarshal([]byte(it.Data), &snap); err != nil {
				t.Fatal(err)
			}
			for _, tk := range snap.Ticks {
				seqs[tk.Symbol] = tk.Seq
			}
		case "tick":
			tk := event{data: it.Data}.tick(t)
			if prev, ok := seqs[tk.Symbol]; ok && tk.Seq-uint64(max(tk.Merged, 1)) != prev {
				t.Fatalf("%s: seq %d after %d", tk.Symbol, tk.Seq, prev)
			}
			seqs[tk.Symbol] = tk.Seq
			ticks++
		case ssetest.Retry, ssetest.Comment:
			continue
		default:
			t.Fatalf("unexpected event %+v", it)
		}
		lastID = it.ID
	}
	if ticks < 10 || len(seqs) != 3 {
		t.Fatalf("%d ticks of %d symbols before the end", ticks, len(seqs))
	}

	// The expired token is refused now.
	if resp := get(t, e.hs.URL+"/v1/stream?access_token="+tok, nil); resp.StatusCode != 401 {
		t.Fatalf("expired token: status %d", resp.StatusCode)
	}
	// A fresh one resumes exactly, as EventSource would (Last-Event-ID).
	time.Sleep(100 * time.Millisecond)
	close(stop)
	<-pubDone
	e.mu.Lock()
	want := map[string]uint64{"AAA": e.seqs["AAA"], "BBB": e.seqs["BBB"], "CCC": e.seqs["CCC"]}
	e.mu.Unlock()
	fresh := hs(t, jwt.MapClaims{"symbols": []string{"AAA", "BBB", "CCC"}})
	s := e.open("?access_token="+fresh, map[string]string{"Last-Event-ID": lastID})
	for !equalSeqs(seqs, want) {
		ev := s.next()
		if ev.name != "tick" {
			t.Fatalf("resume sent %s %q", ev.name, ev.data)
		}
		tk := ev.tick(t)
		if tk.Seq-uint64(max(tk.Merged, 1)) != seqs[tk.Symbol] {
			t.Fatalf("resume: %s seq %d (merged %d) after %d", tk.Symbol, tk.Seq, tk.Merged, seqs[tk.Symbol])
		}
		seqs[tk.Symbol] = tk.Seq
	}
}

func equalSeqs(a, b map[string]uint64) bool {
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// syncBuffer is a log destination safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// No token, accepted or refused, appears in the logs (at debug level)
// or the metrics.
func TestTokensNotLogged(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, Options{Token: "shared-s3cret-not-in-logs", JWT: jwtOpts(t), Logger: log, ShutdownSpread: 50 * time.Millisecond}, feed.StreamConfig{})
	e.publish(8)
	e.waitHub(8)
	k := testKeys()
	toks := []string{
		"shared-s3cret-not-in-logs",
		hs(t, nil),
		hs(t, jwt.MapClaims{"exp": unixAt(-time.Minute)}),
		hs(t, jwt.MapClaims{"nbf": unixAt(time.Hour)}),
		mint(t, jwt.SigningMethodHS256, k.otherSecret, nil),
		mint(t, jwt.SigningMethodRS256, k.rsa, jwt.MapClaims{"symbols": []string{"AAA"}}),
		"not-a-jwt-at-all",
		hs(t, jwt.MapClaims{"pad": strings.Repeat("y", access.MaxTokenBytes)}),
	}
	for _, tok := range toks {
		for _, p := range []string{"/v1/stream?symbols=AAA&access_token=", "/v1/stream?symbols=BBB&token=", "/v1/snapshot?symbols=CCC&access_token=", "/v1/symbols?access_token=", "/v1/nothing?access_token="} {
			resp := get(t, e.hs.URL+p+tok, nil)
			if strings.HasPrefix(p, "/v1/stream") && resp.StatusCode == 200 {
				resp.Body.Close()
			}
		}
		resp := get(t, e.hs.URL+"/v1/snapshot?symbols=bad.sym", map[string]string{"Authorization": "Bearer " + tok})
		resp.Body.Close()
	}
	// A stream that ends at its token's expiry.
	short := hs(t, jwt.MapClaims{"exp": time.Now().Unix() + 2})
	toks = append(toks, short)
	readAll(t, e.hs.URL+"/v1/stream?access_token="+short, nil, 5*time.Second)
	resp := get(t, e.hs.URL+"/metrics", nil)
	metrics, _ := io.ReadAll(resp.Body)
	e.stopGateway()

	out := logs.String()
	if !strings.Contains(out, "access token refused") {
		t.Fatalf("the debug log was not captured:\n%s", out)
	}
	for _, tok := range toks {
		parts := append(strings.Split(tok, "."), tok)
		for _, p := range parts {
			if len(p) < 12 {
				continue // too short to tell
			}
			if strings.Contains(out, p) {
				t.Fatalf("a token (part) %.20q... is in the log", p)
			}
			if strings.Contains(string(metrics), p) {
				t.Fatalf("a token (part) %.20q... is in the metrics", p)
			}
		}
	}
	if !strings.Contains(string(metrics), `tickcast_rejected_total{reason="unauthorized"}`) {
		t.Fatal("refusals not counted")
	}
}
