package api

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listRoutes are the lists of a project with a few rows each, so that
// every list has a next page at limit=1.
func listRoutes(t *testing.T, b *bundle) (key string, paths []string) {
	t.Helper()
	p, key := b.project("shop")
	b.project("forum")
	for _, u := range []string{"https://example.com/a", "https://example.com/b"} {
		b.endpoint(p, key, map[string]any{"url": u})
	}
	for _, n := range []string{"a", "b"} {
		b.do("POST", "/v1/projects/"+p+"/event-types", key, map[string]any{"name": n}).requireStatus(t, http.StatusCreated)
		b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": n, "data": map[string]any{}}).requireStatus(t, http.StatusAccepted)
	}
	b.do("POST", "/v1/projects/"+p+"/api-keys", key, nil).requireStatus(t, http.StatusCreated)
	base := "/v1/projects/" + p
	return key, []string{"/v1/projects", base + "/api-keys", base + "/event-types", base + "/endpoints", base + "/events", base + "/deliveries"}
}

func TestUnknownQueryParametersAreRefusedByName(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key, paths := listRoutes(t, b)
	for _, path := range paths {
		k := key
		if path == "/v1/projects" {
			k = b.admin
		}
		b.do("GET", path+"?limit=1&colour=red", k, nil).requireField(t, "query.colour")
	}
	// The misspelt filter that used to answer every delivery unfiltered.
	b.do("GET", paths[5]+"?endpoint=ep_1", key, nil).requireField(t, "query.endpoint")
	b.do("GET", paths[5]+"?endpoint_id=ep_1", key, nil).requireStatus(t, http.StatusOK)
}

func TestAMalformedCursorIsRefusedByNameOnEveryList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key, paths := listRoutes(t, b)
	var firstNext string
	for _, path := range paths {
		k := key
		if path == "/v1/projects" {
			k = b.admin
		}
		for _, bad := range []string{"garbage", "ep_zzzzzzzzzzzzzzzzzzzzzzzzzz", "%%%", firstNext} {
			if bad == "" {
				continue
			}
			b.do("GET", path+"?cursor="+url.QueryEscape(bad), k, nil).requireField(t, "query.cursor")
		}
		// The cursor a list hands out takes the next page.
		m := b.do("GET", path+"?limit=1", k, nil).requireStatus(t, http.StatusOK).obj(t)
		next, ok := m["next_cursor"].(string)
		require.True(t, ok, "%s has a next page", path)
		b.do("GET", path+"?limit=1&cursor="+url.QueryEscape(next), k, nil).requireStatus(t, http.StatusOK)
		if firstNext == "" {
			firstNext = next // tried on the other lists: not theirs
		}
	}
}

func TestAPIKeysAreListedByPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	for range 2 {
		b.do("POST", "/v1/projects/"+p+"/api-keys", key, nil).requireStatus(t, http.StatusCreated)
	}
	seen := map[string]bool{}
	path := "/v1/projects/" + p + "/api-keys?limit=1"
	for {
		m := b.do("GET", path, key, nil).requireStatus(t, http.StatusOK).obj(t)
		data := m["data"].([]any)
		require.Len(t, data, 1)
		seen[data[0].(map[string]any)["id"].(string)] = true
		next, ok := m["next_cursor"].(string)
		if !ok {
			break
		}
		path = "/v1/projects/" + p + "/api-keys?limit=1&cursor=" + url.QueryEscape(next)
	}
	assert.Len(t, seen, 3, "the project's first key and the two created")
}
