package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tickcast/tickcast/internal/ssetest"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files in dir, and returns their paths and a pool trusting it.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tickcast test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, pool
}

func TestTLSFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := writeCert(t, dir)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--memory", "--tls-cert", cert}, "--tls-cert needs --tls-key"},
		{[]string{"serve", "--memory", "--tls-key", key}, "--tls-key needs --tls-cert"},
		{[]string{"serve", "--memory", "--h2c", "--tls-cert", cert, "--tls-key", key}, "--h2c is HTTP/2 in clear text"},
		{[]string{"gateway", "--nats", "nats://127.0.0.1:1", "--tls-cert", cert}, "--tls-cert needs --tls-key"},
		{[]string{"gateway", "--nats", "nats://127.0.0.1:1", "--tls-key", key}, "--tls-key needs --tls-cert"},
	} {
		var out syncBuffer
		err := run(context.Background(), tc.args, &out, &out)
		var msg syncBuffer
		if code := exitCode(err, &msg); code != 2 || !strings.Contains(msg.String(), tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, msg.String(), tc.want)
		}
	}
	// A key that is not the certificate's: an ordinary error, at start.
	other := t.TempDir()
	_, key2, _ := writeCert(t, other)
	var out syncBuffer
	err := run(context.Background(), []string{"serve", "--memory", "--addr", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key2}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--tls-cert") {
		t.Errorf("mismatched key: %v", err)
	}
}

var httpsRE = regexp.MustCompile(`https://127\.0\.0\.1:[0-9]+`)

// readEvents reads SSE lines from body until it has n events of the
// given name; it returns how many it saw of each.
func readEvents(t *testing.T, body io.Reader, name string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	err := ssetest.Scan(body, func(ev ssetest.Event) bool {
		if ev.Type != ssetest.Comment && ev.Type != ssetest.Retry {
			seen[ev.Type]++
		}
		return seen[name] < n
	})
	if seen[name] < n {
		t.Fatalf("stream ended (%v) after %v", err, seen)
	}
	return seen
}

// The real server with --tls-cert: HTTP/2 by ALPN to an HTTP/2 client
// and to curl --http2, HTTP/1.1 to an HTTP/1.1 client.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key, pool := writeCert(t, dir)
	p := launch(t, httpsRE, "serve", "--addr", "127.0.0.1:0", "--memory", "--rate", "400", "--tls-cert", cert, "--tls-key", key)
	base := httpsRE.FindString(p.out.String())
	if !strings.Contains(p.out.String(), "HTTP/2 and HTTP/1.1") {
		t.Errorf("startup line: %s", p.out)
	}
	for _, proto := range []string{"h2", "http/1.1"} {
		var ps http.Protocols
		ps.SetHTTP1(proto == "http/1.1")
		ps.SetHTTP2(proto == "h2")
		tr := &http.Transport{Protocols: &ps, ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: pool}}
		client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/stream", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{"h2": 2, "http/1.1": 1}[proto]; resp.ProtoMajor != want || resp.TLS.NegotiatedProtocol != strings.TrimPrefix(proto, "http/1.1") && resp.TLS.NegotiatedProtocol != proto {
			t.Errorf("%s client: %s, ALPN %q", proto, resp.Proto, resp.TLS.NegotiatedProtocol)
		}
		seen := readEvents(t, resp.Body, "tick", 20)
		if seen["snapshot"] != 1 {
			t.Errorf("%s: events %v, want one snapshot first", proto, seen)
		}
		resp.Body.Close()
		cancel()
		tr.CloseIdleConnections()
	}
	// Plain HTTP on the TLS port is refused by net/http (400).
	resp, err := http.Get(strings.Replace(base, "https", "http", 1) + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the TLS port: %d", resp.StatusCode)
		}
	}

	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "-sSN", "--http2", "-k", "--max-time", "3", "-w", "\nversion=%{http_version}\n", base+"/v1/stream").Output()
	// --max-time ends the stream: exit 28 (timed out) is expected.
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 28) {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "event: snapshot") || strings.Count(s, "event: tick") < 50 || !strings.Contains(s, "version=2\n") {
		t.Fatalf("curl --http2: %d ticks, version line %q", strings.Count(s, "event: tick"), s[strings.LastIndex(s, "version="):])
	}
	t.Logf("curl --http2: snapshot and %d ticks in 3s over HTTP/2", strings.Count(s, "event: tick"))
}

// The real server with --h2c: HTTP/2 with prior knowledge (Go, curl
// --http2-prior-knowledge) and HTTP/1.1 on one clear-text port.
func TestServeH2C(t *testing.T) {
	urlRE := regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`)
	p := launch(t, urlRE, "serve", "--addr", "127.0.0.1:0", "--memory", "--rate", "400", "--h2c")
	base := urlRE.FindString(p.out.String())
	for _, h2 := range []bool{true, false} {
		var ps http.Protocols
		ps.SetUnencryptedHTTP2(h2)
		ps.SetHTTP1(!h2)
		tr := &http.Transport{Protocols: &ps}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/stream", nil)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 2, false: 1}[h2]; resp.ProtoMajor != want {
			t.Errorf("h2c %v: %s", h2, resp.Proto)
		}
		readEvents(t, resp.Body, "tick", 20)
		resp.Body.Close()
		cancel()
		tr.CloseIdleConnections()
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	for _, flag := range []string{"--http2-prior-knowledge", "--http2"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, curl, "-sSN", flag, "--max-time", "2", "-w", "\nversion=%{http_version}\n", base+"/v1/stream").Output()
		cancel()
		if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 28) {
			t.Fatalf("curl %s: %v\n%s", flag, err, out)
		}
		s := string(out)
		// net/http does not take the Upgrade: h2c that curl --http2
		// offers over http://: that request is served over HTTP/1.1.
		want := map[string]string{"--http2-prior-knowledge": "version=2\n", "--http2": "version=1.1\n"}[flag]
		if !strings.Contains(s, "event: snapshot") || strings.Count(s, "event: tick") < 20 || !strings.Contains(s, want) {
			t.Fatalf("curl %s: %d ticks, %q", flag, strings.Count(s, "event: tick"), s[strings.LastIndex(s, "version="):])
		}
	}
}
