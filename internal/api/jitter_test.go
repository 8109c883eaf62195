package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// retry_jitter defaults to true, is set on create and PATCH, returns to
// true on null, and must be a boolean.
func TestEndpointRetryJitter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	ep := b.endpoint(p, key, map[string]any{"url": "https://example.com/a"})
	assert.Equal(t, true, ep["retry_jitter"])

	ep = b.endpoint(p, key, map[string]any{"url": "https://example.com/b", "retry_jitter": false})
	assert.Equal(t, false, ep["retry_jitter"])
	path := "/v1/projects/" + p + "/endpoints/" + ep["id"].(string)
	assert.Equal(t, false, b.do("GET", path, key, nil).requireStatus(t, http.StatusOK).obj(t)["retry_jitter"])

	got := b.do("PATCH", path, key, map[string]any{"name": "kept"}).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, false, got["retry_jitter"], "a PATCH without it keeps it")
	got = b.do("PATCH", path, key, `{"retry_jitter":null}`).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, true, got["retry_jitter"], "null is the default")
	got = b.do("PATCH", path, key, `{"retry_jitter":false}`).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, false, got["retry_jitter"])

	b.do("PATCH", path, key, `{"retry_jitter":"no"}`).requireField(t, "body.retry_jitter")
}
