package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func httptestServer(t interface {
	Cleanup(func())
}, g *Gateway) string {
	hs := httptest.NewServer(g.Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
