package gateway

import (
	"net/http"

	"github.com/tickcast/tickcast/httpapi"
)

// writeError turns an error into a response, through httpapi.WriteError:
// the one place that does.
func (g *Gateway) writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, g.log, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) { httpapi.WriteJSON(w, status, v) }
