package gateway

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/tickcast/tickcast/feed"
)

// An unknown /v1/ path or a wrong method is a JSON error, not the
// dashboard's file server.
func TestUnknownAPIPathIsJSON(t *testing.T) {
	env := newEnv(t, Options{Static: http.NotFoundHandler()}, feed.StreamConfig{Memory: true})
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1/nothing", 404},
		{"POST", "/v1/stream", 405},
	} {
		req, _ := http.NewRequest(tc.method, env.hs.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || err != nil || body["error"] == "" {
			t.Errorf("%s %s: %d %v %v, want %d with a JSON error", tc.method, tc.path, resp.StatusCode, body, err, tc.status)
		}
	}
}
