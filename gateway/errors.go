package gateway

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
)

// writeError turns an error into a response: 400 with {"error": ...} for
// the client's mistakes, 500 otherwise. It is the only place that does.
func (g *Gateway) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	msg := "internal error"
	if errors.Is(err, errBadRequest) {
		status, msg = http.StatusBadRequest, err.Error()[len(errBadRequest.Error())+2:]
	} else {
		g.log.Error("request failed", "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write json", "err", err)
	}
}
