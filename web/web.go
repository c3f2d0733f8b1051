// Package web is the tickcast dashboard: plain HTML, CSS and JavaScript
// modules with no build step, embedded in the binary and served by Handler.
//
// The page is built only on the browser's EventSource and the public API
// (/v1/symbols, /v1/stream, /v1/snapshot, /v1/bars, /v1/market), so it
// doubles as the reference client: static/feed.js is that client in one
// file (EventSource, resume, gap rule, reset; no DOM), which the
// repository's package.json publishes as the npm package `tickcast` (types
// in api/feed.d.ts; docs/clients.md), and the other modules are the view
// on it. Its watchlist rows carry
// data-symbol="AAPL" and their cells data-field="price" (bid, ask, change,
// pctChange, spread, volume, name, ...), so scripts and tests can find them.
//
// The browser test lives in web/e2e (node + playwright-core + chromium).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// asset is one embedded file, read once at start-up.
type asset struct {
	body        []byte
	etag        string // strong validator: a hash of body
	contentType string
}

// contentTypes does not depend on the host's mime.types, so the modules
// are served as JavaScript everywhere (browsers refuse anything else).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

// Handler serves the dashboard: index.html at "/" and the other files of
// static/ by name. Mount it at "/" (it routes on the full request path).
//
// Every response is "Cache-Control: no-cache" with a strong ETag: the
// module URLs are not versioned, so a browser must revalidate them to pick
// up a new binary, and a revalidation of an unchanged file is a 304 with
// no body. Methods other than GET and HEAD get 405; unknown paths 404.
func Handler() http.Handler {
	assets := load()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		a, ok := assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if name == "index.html" {
			// Only our own files and API; no inline script, no CDN.
			h.Set("Content-Security-Policy",
				"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'")
			h.Set("Referrer-Policy", "no-referrer")
		}
		// ServeContent answers If-None-Match (304) and Range from the ETag.
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}

// load reads every embedded file into memory. The set is small (tens of
// kilobytes) and fixed at build time; a read error is a broken build.
func load() map[string]asset {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("web: " + err.Error())
	}
	assets := make(map[string]asset)
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			ct = http.DetectContentType(body)
		}
		assets[name] = asset{
			body:        body,
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
			contentType: ct,
		}
		return nil
	})
	if err != nil {
		panic("web: read embedded files: " + err.Error())
	}
	return assets
}
