package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		body   string
	}{
		{"bad request", BadRequest("unknown symbol %q", "ZZZ"), 400, `unknown symbol "ZZZ"`},
		{"wrapped", fmt.Errorf("context: %w", BadRequest("bad")), 400, "bad"},
		{"unavailable", Unavailable("starting"), 503, "starting"},
		{"not found", NotFound("no such thing"), 404, "no such thing"},
		{"internal", errors.New("secret detail"), 500, "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			var logged strings.Builder
			log := slog.New(slog.NewTextHandler(&logged, nil))
			WriteError(rec, httptest.NewRequest("GET", "/x", nil), log, tc.err)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["error"] != tc.body {
				t.Errorf("body %q (%v), want error %q", rec.Body.String(), err, tc.body)
			}
			if tc.status == 500 && !strings.Contains(logged.String(), "secret detail") {
				t.Errorf("a 500's cause was not logged: %q", logged.String())
			}
			if StatusOf(tc.err) != tc.status {
				t.Errorf("StatusOf = %d", StatusOf(tc.err))
			}
		})
	}
}
