package api

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/testkit"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each kind of refusal has its own problem type, so that a program can
// tell three 409s apart without reading their text.
func TestConflictsHaveDistinctProblemTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")

	r := b.do("POST", "/v1/projects", b.admin, map[string]any{"name": "Again", "id": p}).requireStatus(t, http.StatusConflict)
	assert.Equal(t, ProblemTypeBase+"project-exists", r.problem(t).Type)

	b.do("POST", "/v1/projects/"+p+"/event-types", key, map[string]any{"name": "user.created"}).requireStatus(t, http.StatusCreated)
	r = b.do("POST", "/v1/projects/"+p+"/event-types", key, map[string]any{"name": "user.created"}).requireStatus(t, http.StatusConflict)
	assert.Equal(t, ProblemTypeBase+"event-type-exists", r.problem(t).Type)

	path := "/v1/projects/" + p + "/events"
	b.do("POST", path, key, `{"type":"a","data":{"n":1}}`, "Idempotency-Key", "k1").requireStatus(t, http.StatusAccepted)
	r = b.do("POST", path, key, `{"type":"a","data":{"n":2}}`, "Idempotency-Key", "k1").requireStatus(t, http.StatusConflict)
	assert.Equal(t, ProblemTypeBase+"idempotency-conflict", r.problem(t).Type)

	for range service.APIKeysMax - 1 {
		b.do("POST", "/v1/projects/"+p+"/api-keys", key, nil).requireStatus(t, http.StatusCreated)
	}
	r = b.do("POST", "/v1/projects/"+p+"/api-keys", key, nil).requireStatus(t, http.StatusConflict)
	assert.Equal(t, ProblemTypeBase+"api-key-limit", r.problem(t).Type)
}

func TestEveryProblemHasATypeOtherThanAboutBlank(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	cases := []struct {
		r    *resp
		slug string
	}{
		{b.do("GET", "/v1/projects", "", nil), "unauthorized"},
		{b.do("GET", "/v1/projects", key, nil), "forbidden"},
		{b.do("GET", "/v1/projects/"+p+"/endpoints/ep_none", key, nil), "not-found"},
		{b.do("GET", "/no/such/route", "", nil), "not-found"},
		{b.do("PUT", "/v1/projects", b.admin, nil), "method-not-allowed"},
		{b.do("POST", "/v1/projects/"+p+"/endpoints", key, map[string]any{"url": "ftp://x"}), "validation"},
		{b.do("POST", "/v1/projects/"+p+"/events", key, strings.Repeat(" ", MaxBodyBytesDefault+1)), "too-large"},
		{b.do("POST", "/v1/projects/"+p+"/hooks/t", key, map[string]any{"data": map[string]any{}}), "unavailable"},
	}
	for _, c := range cases {
		assert.Equal(t, ProblemTypeBase+c.slug, c.r.problem(t).Type, "status %d: %s", c.r.Status, c.r.Body)
	}
}

func TestRateLimitedProblemType(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.RateLimit = 1 })
	_, key := b.project("shop")
	var r *resp
	for range 10 {
		if r = b.do("GET", "/v1/projects/shop", key, nil); r.Status == http.StatusTooManyRequests {
			break
		}
	}
	require.Equal(t, http.StatusTooManyRequests, r.Status)
	assert.Equal(t, ProblemTypeBase+"rate-limited", r.problem(t).Type)
}

func TestRequestIDIsEchoedWhenValid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do("GET", "/v1/projects/none", b.admin, nil, RequestIDHeader, "3f2c-req:1/a+b=")
	assert.Equal(t, "3f2c-req:1/a+b=", r.Header.Get(RequestIDHeader))
	assert.Equal(t, "3f2c-req:1/a+b=", r.problem(t).RequestID)
}

func TestRequestIDIsGeneratedWhenAbsentOrInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seen := map[string]bool{}
	for _, bad := range []string{"", "has space", "quote\"", strings.Repeat("a", RequestIDMaxLen+1), "naïve"} {
		var hdr []string
		if bad != "" {
			hdr = []string{RequestIDHeader, bad}
		}
		r := b.do("GET", "/v1/projects/none", b.admin, nil, hdr...)
		id := r.Header.Get(RequestIDHeader)
		require.NotEmpty(t, id, "no id generated for %q", bad)
		assert.NotEqual(t, bad, id)
		assert.True(t, validRequestID(id), "generated id %q", id)
		assert.Equal(t, id, r.problem(t).RequestID)
		assert.False(t, seen[id], "id %q generated twice", id)
		seen[id] = true
	}
	// Successful answers carry it too.
	r := b.do("GET", "/healthz", "", nil, RequestIDHeader, "ok-1")
	assert.Equal(t, "ok-1", r.Header.Get(RequestIDHeader))
}

func TestRequestIDIsInTheLogLine(t *testing.T) {
	t.Parallel()
	var buf testkit.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t, func(c *Config) { c.Logger = logger })
	b.do("GET", "/v1/projects", b.admin, nil, RequestIDHeader, "trace-me-42").requireStatus(t, http.StatusOK)
	testkit.WaitFor(t, "the access log line", func() bool { return strings.Contains(buf.String(), "request_id=trace-me-42") })
	assert.Contains(t, buf.String(), "route=/v1/projects")
}
