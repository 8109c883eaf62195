package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// bundle is one API server over a real SQLite file and a real engine,
// reachable over loopback HTTP.
type bundle struct {
	t      *testing.T
	url    string
	store  store.Store
	engine *delivery.Engine
	server *Server
	admin  string // the generated admin key
	reg    *prometheus.Registry
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// setup starts a server; mods adjust its Config before New. Private
// networks are allowed (receivers run on loopback) and the API rate limit
// is off unless a mod says otherwise.
func setup(t *testing.T, mods ...func(*Config)) *bundle {
	t.Helper()
	b := start(t, sqlite.Options{}, mods...)
	b.t = t
	return b
}

// start is setup for any testing.TB (fuzz targets build one server per
// process with it); the bundle's t is left nil, so its request helpers
// are for tests only.
func start(t testing.TB, opts sqlite.Options, mods ...func(*Config)) *bundle {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), opts)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })

	eng, err := delivery.New(delivery.Config{AllowPrivateNetworks: true, PollInterval: 20 * time.Millisecond, Logger: discard}, st)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = eng.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	hash, admin, err := EnsureAdminKey(ctx, st, "")
	require.NoError(t, err)
	require.NotEmpty(t, admin)
	reg := prometheus.NewRegistry()
	cfg := Config{
		Store: st, Engine: eng, Guard: netguard.New(true, nil),
		AdminKeyHash: hash, RateLimit: -1,
		Registerer: reg, Gatherer: reg, Logger: discard,
	}
	for _, m := range mods {
		m(&cfg)
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &bundle{url: ts.URL, store: st, engine: eng, server: srv, admin: admin, reg: reg}
}

// resp is an answer, read whole.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends one request. body: nil (none), string or []byte (raw), or a
// value encoded as JSON. hdr are name, value pairs.
func (b *bundle) do(method, path, key string, body any, hdr ...string) *resp {
	b.t.Helper()
	var r io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(v)
	case []byte:
		r = bytes.NewReader(v)
	default:
		data, err := json.Marshal(v)
		require.NoError(b.t, err)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, b.url+path, r)
	require.NoError(b.t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	checkOpenAPI(b.t, method, path, res.StatusCode, res.Header, data)
	return &resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

// obj decodes the answer as a JSON object.
func (r *resp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// problem decodes a problem document, checking its content type.
func (r *resp) problem(t *testing.T) Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "body: %s", r.Body)
	var p Problem
	require.NoError(t, json.Unmarshal(r.Body, &p), "body: %s", r.Body)
	require.Equal(t, r.Status, p.Status)
	return p
}

// requireStatus fails with the body when the status is not want.
func (r *resp) requireStatus(t *testing.T, want int) *resp {
	t.Helper()
	require.Equal(t, want, r.Status, "body: %s", r.Body)
	return r
}

// requireField asserts a 422 naming the location.
func (r *resp) requireField(t *testing.T, location string) Problem {
	t.Helper()
	r.requireStatus(t, http.StatusUnprocessableEntity)
	p := r.problem(t)
	var locs []string
	for _, f := range p.Errors {
		locs = append(locs, f.Location)
		if f.Location == location {
			return p
		}
	}
	t.Fatalf("no error at %q; errors at %v (%s)", location, locs, r.Body)
	return p
}

// project creates a project and returns its id and key.
func (b *bundle) project(slug string) (string, string) {
	b.t.Helper()
	body := map[string]any{"name": "Project " + slug}
	if slug != "" {
		body["id"] = slug
	}
	m := b.do("POST", "/v1/projects", b.admin, body).requireStatus(b.t, 201).obj(b.t)
	return m["id"].(string), m["api_key"].(string)
}

// endpoint creates an endpoint and returns its JSON.
func (b *bundle) endpoint(project, key string, body map[string]any) map[string]any {
	b.t.Helper()
	return b.do("POST", "/v1/projects/"+project+"/endpoints", key, body).requireStatus(b.t, 201).obj(b.t)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// storeHealthDisabled is what the engine writes when it disables a
// failing endpoint.
func storeHealthDisabled() store.EndpointHealth {
	now := time.Now()
	return store.EndpointHealth{Status: "disabled", DisabledReason: "failing for 5 days", ConsecutiveFailures: 80, FailingSince: &now}
}
