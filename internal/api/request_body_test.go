package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herald-dev/herald/internal/testkit"
)

// An attempt shows the body a template rendered as request_body; an
// envelope's attempt has none (the event is the body).
func TestAttemptShowsTheTemplatedRequestBody(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := testkit.NewReceiver(t, testkit.Status(http.StatusOK))
	p, key := b.project("shop")
	tpl := b.endpoint(p, key, map[string]any{"url": rc.URL + "/tpl", "body_template": `{kind: .type, n: .data.n}`})
	plain := b.endpoint(p, key, map[string]any{"url": rc.URL + "/plain"})
	b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "a", "data": map[string]any{"n": 7}}).requireStatus(t, http.StatusAccepted)

	base := "/v1/projects/" + p + "/deliveries"
	attempt := func(ep map[string]any) map[string]any {
		var att map[string]any
		testkit.WaitFor(t, "an attempt to "+ep["url"].(string), func() bool {
			list := b.do("GET", base+"?endpoint_id="+ep["id"].(string), key, nil).requireStatus(t, http.StatusOK).obj(t)
			if len(list["data"].([]any)) == 0 {
				return false
			}
			id := list["data"].([]any)[0].(map[string]any)["id"].(string)
			atts := b.do("GET", base+"/"+id+"/attempts", key, nil).requireStatus(t, http.StatusOK).obj(t)
			if len(atts["data"].([]any)) == 0 {
				return false
			}
			att = atts["data"].([]any)[0].(map[string]any)
			return true
		})
		return att
	}
	got := attempt(tpl)
	require.EqualValues(t, 200, got["response_status"])
	assert.Equal(t, `{"kind":"a","n":7}`, got["request_body"])
	assert.NotContains(t, got, "request_body_truncated")
	got = attempt(plain)
	assert.NotContains(t, got, "request_body", "the envelope was sent")
}
