package simhttp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tickcast/tickcast/sim"
)

// serve serves the routes of a new Sim of the first five default symbols
// (not running: a scenario set stays pending).
func serve(t *testing.T) *httptest.Server {
	t.Helper()
	s, err := sim.New(sim.Config{Seed: 3, Universe: sim.DefaultUniverse()[:5]})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	Routes(s, nil)(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// reply is a /v1/sim/scenario response.
type reply struct {
	Scenario struct {
		Name, Symbol  string
		Duration      string
		Size          float64
		Pending       bool
		Started, Ends time.Time
	}
	Error string
}

// call makes a request and returns the response, its body and the body
// decoded.
func call(t *testing.T, srv *httptest.Server, method, contentType, body string) (*http.Response, string, reply) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+"/v1/sim/scenario", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r reply
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %d %q: %v", method, resp.StatusCode, b, err)
	}
	return resp, string(b), r
}

const jsonType = "application/json"

func TestGet(t *testing.T) {
	srv := serve(t)
	resp, body, _ := call(t, srv, "GET", "", "")
	if resp.StatusCode != 200 || body != `{"scenario":{"name":"normal"}}`+"\n" {
		t.Errorf("GET: %d %q, want 200 normal", resp.StatusCode, body)
	}
	if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != jsonType || cc != "no-cache" {
		t.Errorf("GET: Content-Type %q, Cache-Control %q", ct, cc)
	}
}

func TestPostErrors(t *testing.T) {
	srv := serve(t)
	for _, tc := range []struct{ name, ctype, body, want string }{
		{"no content type", "", `{"name":"halt"}`, "Content-Type"},
		{"form", "application/x-www-form-urlencoded", `{"name":"halt"}`, "Content-Type"},
		{"empty", jsonType, ``, "empty body"},
		{"not json", jsonType, `halt`, "invalid character"},
		{"two", jsonType, `{"name":"quiet"}{"name":"burst"}`, "one JSON object"},
		{"unknown field", jsonType, `{"name":"halt","sym":"AAPL"}`, `unknown field "sym"`},
		{"unknown name", jsonType, `{"name":"meltdown"}`, `unknown name "meltdown"`},
		{"unknown symbol", jsonType, `{"name":"halt","symbol":"ZZZZ"}`, "unknown symbol ZZZZ"},
		{"bad size", jsonType, `{"name":"flash-crash","size":0.5}`, "want a fall"},
		{"at", jsonType, `{"name":"burst","at":"1m"}`, `"at" is for scripts`},
		{"too big", jsonType, `{"name":"halt","symbol":"` + strings.Repeat("A", 5000) + `"}`, "body over"},
	} {
		resp, _, r := call(t, srv, "POST", tc.ctype, tc.body)
		if resp.StatusCode != 400 || !strings.Contains(r.Error, tc.want) || strings.Contains(r.Error, "sim: ") {
			t.Errorf("%s: %d %q, want 400 and %q", tc.name, resp.StatusCode, r.Error, tc.want)
		}
	}
	// The exact reply, as before the move to httpapi.
	resp, body, _ := call(t, srv, "POST", "", `{"name":"halt"}`)
	if body != `{"error":"want Content-Type: application/json"}`+"\n" || resp.Header.Get("Content-Type") != jsonType || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("POST without a content type: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if _, _, r := call(t, srv, "GET", "", ""); r.Scenario.Name != "normal" || r.Scenario.Pending {
		t.Errorf("GET after only bad scenarios: %+v, want normal", r.Scenario)
	}
}

func TestPost(t *testing.T) {
	srv := serve(t)
	resp, _, r := call(t, srv, "POST", "application/json; charset=utf-8", `{"name":"halt","symbol":"msft","duration":"1s","size":0.1}`)
	if resp.StatusCode != 200 || r.Scenario.Name != "halt" || r.Scenario.Symbol != "MSFT" || r.Scenario.Duration != "1s" || !r.Scenario.Pending {
		t.Fatalf("POST halt: %d %+v", resp.StatusCode, r)
	}
	if _, body, _ := call(t, srv, "GET", "", ""); body != `{"scenario":{"name":"halt","symbol":"MSFT","duration":"1s","size":0.1,"pending":true}}`+"\n" {
		t.Errorf("GET after the halt: %q", body)
	}
	// Defaults filled in.
	if resp, _, r := call(t, srv, "POST", jsonType, `{"name":"flash-crash"}`); resp.StatusCode != 200 || r.Scenario.Size != -0.08 || r.Scenario.Duration != "1m0s" {
		t.Errorf("POST flash-crash: %d %+v, want defaults -0.08 and 1m", resp.StatusCode, r)
	}
	if resp, _, r := call(t, srv, "POST", jsonType, `{"name":"normal"}`); resp.StatusCode != 200 || r.Scenario.Name != "normal" {
		t.Errorf("POST normal: %d %+v", resp.StatusCode, r)
	}
}

func TestErrText(t *testing.T) {
	_, e := sim.New(sim.Config{Scenarios: []sim.Scenario{{Name: sim.ScenarioGap, Symbol: "ZZZ"}}})
	if got, want := ErrText(e), "scenarios[0]: gap: unknown symbol ZZZ"; got != want {
		t.Errorf("ErrText(%q) = %q, want %q", e, got, want)
	}
}
