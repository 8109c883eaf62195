package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnknownRouteIs404Problem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, path := range []string{"/", "/v2/projects", "/v1/projects/x/nothing", "/v1/projects/x/endpoints/y/z"} {
		b.do("GET", path, b.admin, nil).requireStatus(t, http.StatusNotFound).problem(t)
	}
}

func TestWrongMethodIs405Problem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do("PUT", "/v1/projects", b.admin, "{}").requireStatus(t, http.StatusMethodNotAllowed)
	r.problem(t)
	assert.Equal(t, "GET, POST", r.Header.Get("Allow"))
	r = b.do("DELETE", "/healthz", "", nil).requireStatus(t, http.StatusMethodNotAllowed)
	assert.Equal(t, "GET", r.Header.Get("Allow"))
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	assert.JSONEq(t, `{"status":"ok"}`, string(b.do("GET", "/healthz", "", nil).requireStatus(t, http.StatusOK).Body))
	b.do("GET", "/readyz", "", nil).requireStatus(t, http.StatusOK)

	down := setup(t, func(c *Config) { c.Ready = func(context.Context) error { return errors.New("database gone") } })
	r := down.do("GET", "/readyz", "", nil).requireStatus(t, http.StatusServiceUnavailable)
	assert.NotContains(t, string(r.Body), "database gone", "causes stay in the log")
}

func TestRateLimitPerKeyAnswers429WithRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.RateLimit = 1 })
	p, key := b.project("shop") // spends the admin key's token
	r := b.do("GET", "/v1/projects", b.admin, nil).requireStatus(t, http.StatusTooManyRequests)
	r.problem(t)
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, secs, 1)
	// Another key has its own budget.
	b.do("GET", "/v1/projects/"+p, key, nil).requireStatus(t, http.StatusOK)
	b.do("GET", "/v1/projects/"+p, key, nil).requireStatus(t, http.StatusTooManyRequests)
	// Health is not limited.
	b.do("GET", "/healthz", "", nil).requireStatus(t, http.StatusOK)
	b.do("GET", "/healthz", "", nil).requireStatus(t, http.StatusOK)
}

func TestInternalErrorsHideTheirCause(t *testing.T) {
	t.Parallel()
	var buf testkit.Buffer
	b := setup(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
		c.Hooks = func(context.Context, *herald.Project, string, []byte) (any, error) {
			return nil, errors.New("pq: relation secret_table does not exist")
		}
	})
	p, key := b.project("shop")
	r := b.do("POST", "/v1/projects/"+p+"/hooks/before_registration", key, `{"data":{}}`).requireStatus(t, http.StatusInternalServerError)
	assert.Equal(t, "internal error", r.problem(t).Detail)
	assert.NotContains(t, string(r.Body), "secret_table")
	assert.Contains(t, buf.String(), "secret_table", "the cause is logged")
	assert.Contains(t, buf.String(), "level=ERROR")
}

func TestHooksRoute(t *testing.T) {
	t.Parallel()
	type seen struct {
		project, eventType, body string
	}
	var got seen
	b := setup(t, func(c *Config) {
		c.Hooks = func(_ context.Context, p *herald.Project, eventType string, body []byte) (any, error) {
			got = seen{p.ID, eventType, string(body)}
			if eventType == "refuse" {
				var v herald.Validation
				v.Add("body.timeout", "1h", "at most 30s")
				return nil, v.Err()
			}
			return map[string]any{"allowed": true, "data": map[string]any{}, "event_id": "evt_1", "results": []any{}}, nil
		}
	})
	p, key := b.project("shop")
	r := b.do("POST", "/v1/projects/"+p+"/hooks/before_registration", key, `{"data":{"nick":"neo"}}`).requireStatus(t, http.StatusOK)
	assert.Equal(t, true, r.obj(t)["allowed"])
	assert.Equal(t, seen{p, "before_registration", `{"data":{"nick":"neo"}}`}, got)

	b.do("POST", "/v1/projects/"+p+"/hooks/refuse", key, `{}`).requireField(t, "body.timeout")
	b.do("POST", "/v1/projects/"+p+"/hooks/bad%20type", key, `{}`).requireField(t, "path.event_type")
	b.do("POST", "/v1/projects/"+p+"/hooks/x", "", `{}`).requireStatus(t, http.StatusUnauthorized)

	none := setup(t)
	p2, key2 := none.project("shop")
	none.do("POST", "/v1/projects/"+p2+"/hooks/x", key2, `{}`).requireStatus(t, http.StatusServiceUnavailable).problem(t)
}

func TestMetricsByRoutePattern(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	b.do("GET", "/v1/projects/"+p+"/endpoints/ep_nope", key, nil).requireStatus(t, http.StatusNotFound)
	b.do("GET", "/nowhere/"+p, key, nil).requireStatus(t, http.StatusNotFound)
	m := string(b.do("GET", "/metrics", "", nil).requireStatus(t, http.StatusOK).Body)
	assert.Contains(t, m, `herald_http_requests_total{code="201",method="POST",route="/v1/projects"} 1`)
	assert.Contains(t, m, `herald_http_requests_total{code="404",method="GET",route="/v1/projects/{project}/endpoints/{id}"} 1`)
	assert.Contains(t, m, `herald_http_requests_total{code="404",method="GET",route="unmatched"} 1`)
	assert.Contains(t, m, `herald_http_request_duration_seconds_bucket{method="POST",route="/v1/projects",le=`)
	assert.NotContains(t, m, "ep_nope", "raw paths are never labels")
}

func TestLogsNeverContainKeysOrSecrets(t *testing.T) {
	t.Parallel()
	var buf testkit.Buffer
	b := setup(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	p, key := b.project("shop")
	ep := b.endpoint(p, key, map[string]any{"url": "https://example.com/x", "auth": map[string]any{"bearer": "tok-very-secret"}})
	b.do("GET", "/v1/projects/"+p+"/endpoints/"+ep["id"].(string)+"/secret", key, nil).requireStatus(t, http.StatusOK)
	b.do("GET", "/v1/projects", "hk_wrong_key", nil).requireStatus(t, http.StatusUnauthorized)
	logs := buf.String()
	require.Contains(t, logs, `"route":"/v1/projects/{project}/endpoints"`, "requests are logged at debug")
	for _, s := range []string{b.admin, key, ep["secret"].(string), "tok-very-secret", "hk_wrong_key"} {
		assert.NotContains(t, logs, s)
	}
}

// TestOpenAPIMatchesRoutes keeps the document and the route table in step:
// every route is documented and every documented operation is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do("GET", "/openapi.json", "", nil).requireStatus(t, http.StatusOK)
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)

	var documented, served []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	for _, rt := range b.server.routes {
		served = append(served, rt.method+" "+rt.path)
	}
	sort.Strings(documented)
	sort.Strings(served)
	assert.Equal(t, served, documented)

	// Every $ref points at something defined.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
				require.Len(t, parts, 2, ref)
				_, ok := doc.Components[parts[0]][parts[1]]
				assert.True(t, ok, "dangling %s", ref)
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	var all any
	require.NoError(t, json.Unmarshal(r.Body, &all))
	walk(all)

	// The file in the repository is what is served.
	onDisk, err := os.ReadFile("openapi.json")
	require.NoError(t, err)
	assert.Equal(t, onDisk, r.Body)
}

func TestUIIsMountedUnderUI(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.UI = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("ui " + r.URL.Path))
		})
	})
	assert.Equal(t, "ui /ui/endpoints", string(b.do("GET", "/ui/endpoints", "", nil).requireStatus(t, http.StatusOK).Body))
	// Without a UI the route does not exist.
	none := setup(t)
	none.do("GET", "/ui/", "", nil).requireStatus(t, http.StatusNotFound)
}

func TestAnyContentTypeIsReadAsJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	r := b.do("POST", "/v1/projects/"+p+"/events", key, `{"type":"a","data":{}}`, "Content-Type", "text/plain")
	r.requireStatus(t, http.StatusAccepted)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
}
