package access

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var secret = []byte(strings.Repeat("k", 32))

func sign(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestChecker(t *testing.T) {
	if c, err := NewChecker("", JWTConfig{}); c != nil || err != nil {
		t.Fatalf("no token, no JWT: %v, %v; want no access control", c, err)
	}
	c, err := NewChecker("shared", JWTConfig{HS256Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Check(""); !errors.Is(err, ErrNoCredential) {
		t.Fatalf("empty credential: %v", err)
	}
	if gr, err := c.Check("shared"); err != nil || !gr.All || !gr.Full || !gr.Exp.IsZero() {
		t.Fatalf("shared token: %+v, %v", gr, err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	gr, err := c.Check(sign(t, jwt.MapClaims{"symbols": []string{"aapl", "msft", "bad.symbol"}, "exp": exp.Unix()}))
	if err != nil || gr.All || gr.Full || !gr.Exp.Equal(exp) || !gr.Allows("AAPL") || gr.Allows("IBM") || len(gr.List) != 2 {
		t.Fatalf("scoped token: %+v, %v", gr, err)
	}
	for name, tok := range map[string]string{
		"wrong":   "nope",
		"expired": sign(t, jwt.MapClaims{"symbols": "*", "exp": time.Now().Add(-time.Minute).Unix()}),
		"no exp":  sign(t, jwt.MapClaims{"symbols": "*"}),
	} {
		if _, err := c.Check(tok); err == nil || strings.Contains(err.Error(), tok) {
			t.Errorf("%s token: %v", name, err)
		}
	}
	if (*Grant)(nil).Allows("ANY") != true {
		t.Fatal("a nil grant is no access control")
	}
}

func TestCheckerFailsClosed(t *testing.T) {
	c, err := NewChecker("", JWTConfig{HS256Secret: []byte("short")})
	if err == nil || c == nil {
		t.Fatalf("short secret: %v, %v", c, err)
	}
	if _, err := c.Check(sign(t, jwt.MapClaims{"symbols": "*", "exp": time.Now().Add(time.Hour).Unix()})); err == nil {
		t.Fatal("an unusable configuration accepted a token")
	}
}

func TestCredential(t *testing.T) {
	for _, tc := range []struct{ url, header, want string }{
		{"/v1/stream?token=a&access_token=b", "Bearer c", "c"},
		{"/v1/stream?token=a&access_token=b", "", "b"},
		{"/v1/stream?token=a", "", "a"},
		{"/v1/stream", "Basic x", ""},
	} {
		r := httptest.NewRequest("GET", tc.url, nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		if got := Credential(r); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.url, tc.header, got, tc.want)
		}
	}
}
