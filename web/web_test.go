package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return res, string(body)
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		contains           string
	}{
		{"index at root", "GET", "/", 200, "text/html; charset=utf-8", `id="conn-state"`},
		{"index by name", "GET", "/index.html", 200, "text/html; charset=utf-8", `<template id="row-tpl">`},
		{"module", "GET", "/app.js", 200, "text/javascript; charset=utf-8", "from './feed.js'"},
		{"feed module", "GET", "/feed.js", 200, "text/javascript; charset=utf-8", "export class Feed"},
		{"feed module resumes", "GET", "/feed.js", 200, "text/javascript; charset=utf-8", "lastEventId"},
		{"stylesheet", "GET", "/style.css", 200, "text/css; charset=utf-8", "tabular-nums"},
		{"icon", "GET", "/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"head", "HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"unknown", "GET", "/nope.js", 404, "", ""},
		{"no escape", "GET", "/../web.go", 404, "", ""},
		{"post", "POST", "/", 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := get(t, srv, tc.method, tc.path, nil)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if got := res.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", got)
			}
			if res.Header.Get("ETag") == "" {
				t.Error("no ETag")
			}
			if !strings.Contains(body, tc.contains) {
				t.Errorf("body does not contain %q", tc.contains)
			}
		})
	}
}

func TestHandlerRevalidates(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	res, _ := get(t, srv, "GET", "/app.js", nil)
	etag := res.Header.Get("ETag")
	res, body := get(t, srv, "GET", "/app.js", map[string]string{"If-None-Match": etag})
	if res.StatusCode != http.StatusNotModified || body != "" {
		t.Fatalf("revalidation: status %d, %d bytes; want 304 and no body", res.StatusCode, len(body))
	}
}

// TestReferencesResolve checks that every file the page and its modules
// name (src, href, import) is embedded, so a typo is a test failure and
// not a blank dashboard.
func TestReferencesResolve(t *testing.T) {
	assets := load()
	ref := regexp.MustCompile(`(?:src|href)="([^"#:]+)"|from '\./([^']+)'`)
	for name, a := range assets {
		for _, m := range ref.FindAllStringSubmatch(string(a.body), -1) {
			target := m[1] + m[2]
			if target == "./" {
				continue
			}
			if _, ok := assets[strings.TrimPrefix(target, "./")]; !ok {
				t.Errorf("%s refers to %q, which is not embedded", name, target)
			}
		}
	}
	for _, need := range []string{"index.html", "app.js", "feed.js", "style.css"} {
		if _, ok := assets[need]; !ok {
			t.Errorf("%s not embedded", need)
		}
	}
}
