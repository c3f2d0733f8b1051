// Package httpapi is the one place where tickcast's HTTP handlers turn
// values and errors into JSON responses, so every endpoint (the
// gateway's and the simulator's control) answers errors the same way:
//
//	400 {"error": "..."}  the request is wrong and will stay wrong
//	401, 403, 404, 431    as their constructors below say
//	503 {"error": "..."}  something temporary; try again
//	500 {"error": "internal error"}  anything else (logged, not shown)
//
// Streams never answer a temporary condition with a non-200 (browsers'
// EventSource would stop for good); they use a retry: back-off instead.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Error is an error with the HTTP status it answers with. Its message
// is shown to the client, so it must hold nothing secret.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// BadRequest is a 400: the client's mistake, which will stay one.
func BadRequest(format string, args ...any) error {
	return &Error{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// Unavailable is a 503: something temporary (starting up, NATS
// unreachable); the client should try again.
func Unavailable(format string, args ...any) error {
	return &Error{http.StatusServiceUnavailable, fmt.Sprintf(format, args...)}
}

// NotFound is a 404.
func NotFound(format string, args ...any) error {
	return &Error{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

// StatusOf returns the status err answers with: its *Error's, or 500.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}

// WriteError answers err as {"error": "..."} with its status (see
// StatusOf). An error without a status is a 500 whose text is logged
// with log (slog.Default() when nil), never shown to the client.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *Error
	if errors.As(err, &e) {
		WriteJSON(w, e.Status, map[string]string{"error": e.Msg})
		return
	}
	if log == nil {
		log = slog.Default()
	}
	log.Error("request failed", "path", r.URL.Path, "err", err)
	WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
}

// WriteJSON answers v as JSON with status, uncached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("httpapi: write json", "err", err)
	}
}
