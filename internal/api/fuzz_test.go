package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/store/sqlite"
)

// The fuzz targets run their seed corpora (testdata/fuzz/<Name>/ and the
// f.Add seeds) as ordinary tests; `go test -fuzz=FuzzX ./api/` explores
// further. Each builds one real server (SQLite file, engine) per process
// and calls its ServeHTTP in-process, so that an input costs one request.

// fuzzServer is a real Server with one project, for fuzz targets.
type fuzzServer struct {
	b       *bundle
	project string
	key     string
}

func newFuzzServer(f *testing.F, mods ...func(*Config)) *fuzzServer {
	f.Helper()
	// NORMAL: the fuzzer wants requests per second, not durability.
	b := start(f, sqlite.Options{Synchronous: "NORMAL"}, mods...)
	fs := &fuzzServer{b: b}
	rec := fs.serve("POST", "/v1/projects", b.admin, []byte(`{"name":"Fuzz","id":"fuzz"}`))
	if rec.Code != http.StatusCreated {
		f.Fatalf("create project: %d %s", rec.Code, rec.Body)
	}
	var p struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.APIKey == "" {
		f.Fatalf("create project: %v %s", err, rec.Body)
	}
	fs.project, fs.key = "fuzz", p.APIKey
	return fs
}

// serve runs one request through the server's handler.
func (fs *fuzzServer) serve(method, path, key string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	fs.b.server.ServeHTTP(rec, req)
	return rec
}

// checkAnswer fails on a 5xx, and on a 4xx that is not a problem document.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, input []byte) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%d for %q: %s", rec.Code, input, rec.Body)
	}
	if rec.Code >= 400 {
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%d with Content-Type %q for %q", rec.Code, ct, input)
		}
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code {
			t.Fatalf("%d with a bad problem document for %q: %s", rec.Code, input, rec.Body)
		}
	}
}

// FuzzIngestDecode sends arbitrary bytes as the body of the ingest routes:
// the answer is never a 5xx (nor a panic), and an accepted event always
// carries its id.
func FuzzIngestDecode(f *testing.F) {
	fs := newFuzzServer(f)
	// An endpoint with a filter, so that routing evaluates CEL over the
	// fuzzed data and metadata; it matches nothing, so nothing is sent.
	ep := fs.serve("POST", "/v1/projects/fuzz/endpoints", fs.key,
		[]byte(`{"url":"https://example.com/hook","event_types":["fuzz.*"],"filter":"has(data.x) && data.x == 'never' && metadata.size() < 0"}`))
	if ep.Code != http.StatusCreated {
		f.Fatalf("create endpoint: %d %s", ep.Code, ep.Body)
	}
	for _, s := range []string{
		`{"type":"fuzz.a","data":{"x":1}}`,
		`{"type":"fuzz.a","data":{"x":"never"},"channels":["c"],"metadata":{"k":"v"},"occurred_at":"2026-11-23T10:00:00Z","id":"c1"}`,
		`{"events":[{"type":"a","data":{}},{"type":"b"},null,1]}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		path := "/v1/projects/fuzz/events"
		if batch {
			path += "/batch"
		}
		rec := fs.serve("POST", path, fs.key, body)
		checkAnswer(t, rec, body)
		if rec.Code >= 300 {
			return
		}
		if !batch {
			var res struct{ ID string }
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || !strings.HasPrefix(res.ID, "evt_") {
				t.Fatalf("%d without an event id for %q: %s", rec.Code, body, rec.Body)
			}
			return
		}
		var res struct {
			Data []struct {
				ID    string
				Error *Problem
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || len(res.Data) == 0 {
			t.Fatalf("%d with a bad batch answer for %q: %s", rec.Code, body, rec.Body)
		}
		for i, it := range res.Data {
			switch {
			case it.Error != nil && (it.Error.Status < 400 || it.Error.Status >= 500):
				t.Fatalf("item %d refused with %d for %q: %s", i, it.Error.Status, body, rec.Body)
			case it.Error == nil && !strings.HasPrefix(it.ID, "evt_"):
				t.Fatalf("item %d accepted without an event id for %q: %s", i, body, rec.Body)
			}
		}
	})
}

// FuzzEndpointValidate sends arbitrary JSON as an endpoint to create:
// PrepareEndpoint and the create route never panic nor answer 5xx, and an
// accepted endpoint reads back as it was given (url, event_types, timeout).
// Besides the raw body, the fuzzer picks a url, an event type and a
// timeout that, when not empty, are set in the body (if it is a JSON
// object): arbitrary bytes seldom make a valid endpoint, so without them
// the round trip would rarely be exercised.
func FuzzEndpointValidate(f *testing.F) {
	// Private networks refused: the guard is part of what is fuzzed.
	fs := newFuzzServer(f, func(c *Config) { c.Guard = netguard.New(false, nil) })
	for _, s := range []string{
		`{"url":"https://example.com/hook"}`,
		`{"url":"https://example.com/hook","event_types":["user.*","a"],"timeout":"30s","channels":["c"],"headers":{"X-A":"1"},"metadata":{"k":"v"}}`,
		`{"url":"http://127.0.0.1/x","auth":{"basic":{"username":"u","password":"p"}},"retry_schedule":["1s"],"filter":"type == 'a'","body_template":"{a: .data}"}`,
		`{"url":"https://example.com","auth":{"bearer":"t"},"active_from":"2026-01-01T00:00:00Z","active_until":"2027-01-01T00:00:00Z","response_mode":"data","failure_policy":"fail_open","order":-3,"rate_limit":5,"max_in_flight":2,"ordered":true,"enabled":false}`,
	} {
		f.Add([]byte(s), "", "", "")
	}
	f.Add([]byte(`{}`), "https://example.com/a?b=c%20d#", "user.*", "1m")
	f.Fuzz(func(t *testing.T, body []byte, url, eventType, timeout string) {
		body = overlay(body, url, eventType, timeout)
		// The function the dashboard shares, on whatever the standard
		// decoder makes of the input.
		var ep herald.Endpoint
		if json.Unmarshal(body, &ep) == nil {
			if err := fs.b.server.svc.ValidateEndpoint(&ep); err != nil {
				var he *herald.Error
				if !errors.As(err, &he) || he.Code != herald.EINVALID || len(he.Fields) == 0 {
					t.Fatalf("ValidateEndpoint: not a field error: %v", err)
				}
				for _, fe := range he.Fields {
					if !strings.HasPrefix(fe.Location, "body.") {
						t.Fatalf("ValidateEndpoint: error located at %q", fe.Location)
					}
				}
			}
		}

		rec := fs.serve("POST", "/v1/projects/fuzz/endpoints", fs.key, body)
		checkAnswer(t, rec, body)
		if rec.Code != http.StatusCreated {
			if rec.Code < 400 {
				t.Fatalf("create answered %d for %q", rec.Code, body)
			}
			return
		}
		type view struct {
			ID         string   `json:"id"`
			URL        string   `json:"url"`
			EventTypes []string `json:"event_types"`
			Timeout    string   `json:"timeout"`
		}
		var created, got view
		if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.ID == "" {
			t.Fatalf("201 without an endpoint for %q: %s", body, rec.Body)
		}
		path := "/v1/projects/fuzz/endpoints/" + created.ID
		defer fs.serve("DELETE", path, fs.key, nil) // keep the project small
		g := fs.serve("GET", path, fs.key, nil)
		if g.Code != http.StatusOK || json.Unmarshal(g.Body.Bytes(), &got) != nil {
			t.Fatalf("GET after create: %d %s", g.Code, g.Body)
		}
		if got.URL != created.URL || got.Timeout != created.Timeout || !equalStrings(got.EventTypes, created.EventTypes) {
			t.Fatalf("round trip changed the endpoint:\ncreated %+v\ngot     %+v\ninput %q", created, got, body)
		}
		// What was sent is what is kept.
		var in struct {
			URL        *string   `json:"url"`
			EventTypes *[]string `json:"event_types"`
		}
		if json.Unmarshal(body, &in) == nil {
			if in.URL != nil && *in.URL != got.URL {
				t.Fatalf("url %q stored as %q", *in.URL, got.URL)
			}
			if in.EventTypes != nil && !equalStrings(*in.EventTypes, got.EventTypes) {
				t.Fatalf("event_types %q stored as %q", *in.EventTypes, got.EventTypes)
			}
		}
	})
}

// overlay sets url, event_types [eventType] and timeout, those not empty,
// in body when it is a JSON object.
func overlay(body []byte, url, eventType, timeout string) []byte {
	if url == "" && eventType == "" && timeout == "" {
		return body
	}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil || m == nil {
		return body
	}
	if url != "" {
		m["url"] = url
	}
	if eventType != "" {
		m["event_types"] = []string{eventType}
	}
	if timeout != "" {
		m["timeout"] = timeout
	}
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
