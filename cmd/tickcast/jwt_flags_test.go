package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func jwtFlagsFrom(t *testing.T, args ...string) (*gatewayFlags, error) {
	t.Helper()
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var g gatewayFlags
	g.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	_, err := g.options(nil)
	return &g, err
}

func TestJWTFlags(t *testing.T) {
	t.Setenv("TICKCAST_JWT_SECRET", "")
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pub := write("pub.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKIXPublicKey(&k384.PublicKey)
	priv, _ := x509.MarshalECPrivateKey(k)

	for _, tc := range []struct {
		name string
		args []string
		env  string
		ok   bool
	}{
		{"none", nil, "", true},
		{"secret file", []string{"--jwt-hs256-secret-file", write("s", "0123456789abcdef0123456789abcdef\n")}, "", true},
		{"secret env", nil, "0123456789abcdef0123456789abcdef", true},
		{"short secret", []string{"--jwt-hs256-secret-file", write("short", "tooshort\n")}, "", false},
		{"missing secret file", []string{"--jwt-hs256-secret-file", filepath.Join(dir, "nope")}, "", false},
		{"public key", []string{"--jwt-public-key", pub, "--jwt-audience", "tickcast", "--jwt-issuer", "me"}, "", true},
		{"P-384 key", []string{"--jwt-public-key", write("384.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der384})))}, "", false},
		{"a private key", []string{"--jwt-public-key", write("priv.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: priv})))}, "", false},
		{"not PEM", []string{"--jwt-public-key", write("junk.pem", "junk")}, "", false},
		{"audience without keys", []string{"--jwt-audience", "tickcast"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TICKCAST_JWT_SECRET", tc.env)
			g, err := jwtFlagsFrom(t, tc.args...)
			if tc.ok != (err == nil) {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, errUsage) {
				t.Fatalf("%v is not a usage error", err)
			}
			if err == nil && tc.name == "secret file" {
				c, _ := g.jwt.config()
				if string(c.HS256Secret) != "0123456789abcdef0123456789abcdef" {
					t.Fatalf("secret %q", c.HS256Secret)
				}
			}
		})
	}
}
