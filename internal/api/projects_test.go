package api

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMissingOrUnknownKeyIs401(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, _ := b.project("shop")
	for _, key := range []string{"", "hk_not_a_key"} {
		for _, path := range []string{"/v1/projects", "/v1/projects/" + p, "/v1/projects/" + p + "/endpoints", "/projects/" + p + "/events/a.b/webhooks"} {
			method := "GET"
			if path[1] == 'p' {
				method = "POST"
			}
			r := b.do(method, path, key, nil).requireStatus(t, http.StatusUnauthorized)
			r.problem(t)
			assert.Contains(t, r.Header.Get("WWW-Authenticate"), "Bearer", path)
		}
	}
	// A scheme other than Bearer is no key.
	r := b.do("GET", "/v1/projects", "", nil, "Authorization", "Basic "+b.admin)
	r.requireStatus(t, http.StatusUnauthorized)
}

func TestProjectKeyOnAnotherProjectIs404(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, _ := b.project("a")
	other, otherKey := b.project("b")
	ep := b.endpoint(a, b.admin, map[string]any{"url": "http://127.0.0.1:1/hook"})
	for _, path := range []string{
		"/v1/projects/" + a,
		"/v1/projects/" + a + "/endpoints",
		"/v1/projects/" + a + "/endpoints/" + ep["id"].(string),
		"/v1/projects/" + a + "/event-types",
		"/v1/projects/" + a + "/events",
		"/v1/projects/" + a + "/deliveries",
	} {
		b.do("GET", path, otherKey, nil).requireStatus(t, http.StatusNotFound).problem(t)
	}
	// Its own project is fine.
	b.do("GET", "/v1/projects/"+other+"/endpoints", otherKey, nil).requireStatus(t, http.StatusOK)
	// And an endpoint id of project a, asked through project b, does not exist.
	b.do("GET", "/v1/projects/"+other+"/endpoints/"+ep["id"].(string), otherKey, nil).requireStatus(t, http.StatusNotFound)
}

func TestProjectKeyReadsOwnProjectButCannotAdminister(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	m := b.do("GET", "/v1/projects/"+p, key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, p, m["id"])
	assert.NotContains(t, m, "api_key")

	b.do("GET", "/v1/projects", key, nil).requireStatus(t, http.StatusForbidden).problem(t)
	b.do("POST", "/v1/projects", key, map[string]any{"name": "x"}).requireStatus(t, http.StatusForbidden).problem(t)
	b.do("PATCH", "/v1/projects/"+p, key, map[string]any{"name": "x"}).requireStatus(t, http.StatusForbidden).problem(t)
	b.do("DELETE", "/v1/projects/"+p, key, nil).requireStatus(t, http.StatusForbidden).problem(t)
}

func TestCreateProject(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do("POST", "/v1/projects", b.admin, map[string]any{"name": "Shop"}).requireStatus(t, http.StatusCreated)
	m := r.obj(t)
	id := m["id"].(string)
	assert.Regexp(t, `^prj_[0-9a-z]{26}$`, id)
	assert.Equal(t, "Shop", m["name"])
	assert.NotEmpty(t, m["created_at"])
	key := m["api_key"].(string)
	require.Regexp(t, `^hk_`, key)
	// The key works on its project.
	b.do("GET", "/v1/projects/"+id+"/endpoints", key, nil).requireStatus(t, http.StatusOK)

	slug := b.do("POST", "/v1/projects", b.admin, map[string]any{"name": "Game", "id": "game-prod_1", "strict_event_types": true}).requireStatus(t, http.StatusCreated).obj(t)
	assert.Equal(t, "game-prod_1", slug["id"])
	assert.Equal(t, true, slug["strict_event_types"])

	b.do("POST", "/v1/projects", b.admin, map[string]any{"name": "Again", "id": "game-prod_1"}).requireStatus(t, http.StatusConflict).problem(t)
	b.do("POST", "/v1/projects", b.admin, map[string]any{"name": "Bad", "id": "Bad Slug"}).requireField(t, "body.id")
	b.do("POST", "/v1/projects", b.admin, map[string]any{"name": "Bad", "id": "-x"}).requireField(t, "body.id")
	b.do("POST", "/v1/projects", b.admin, map[string]any{}).requireField(t, "body.name")
	b.do("POST", "/v1/projects", b.admin, map[string]any{"name": 5}).requireField(t, "body.name")
	b.do("POST", "/v1/projects", b.admin, map[string]any{"name": "x", "colour": "red"}).requireField(t, "body.colour")
}

func TestListProjectsPaginates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 5 {
		b.project(fmt.Sprintf("p%d", i))
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		path := "/v1/projects?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		m := b.do("GET", path, b.admin, nil).requireStatus(t, http.StatusOK).obj(t)
		data := m["data"].([]any)
		assert.LessOrEqual(t, len(data), 2)
		for _, d := range data {
			seen = append(seen, d.(map[string]any)["id"].(string))
		}
		if m["next_cursor"] == nil {
			break
		}
		cursor = m["next_cursor"].(string)
	}
	assert.ElementsMatch(t, []string{"p0", "p1", "p2", "p3", "p4"}, seen)

	for _, bad := range []string{"0", "1001", "-1", "ten"} {
		b.do("GET", "/v1/projects?limit="+bad, b.admin, nil).requireField(t, "query.limit")
	}
}

func TestUpdateProjectChangesOnlyGivenFields(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, _ := b.project("shop")
	m := b.do("PATCH", "/v1/projects/"+p, b.admin, map[string]any{"strict_event_types": true}).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, "Project shop", m["name"])
	assert.Equal(t, true, m["strict_event_types"])
	m = b.do("PATCH", "/v1/projects/"+p, b.admin, map[string]any{"name": "Renamed"}).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, "Renamed", m["name"])
	assert.Equal(t, true, m["strict_event_types"])

	b.do("PATCH", "/v1/projects/"+p, b.admin, map[string]any{"name": ""}).requireField(t, "body.name")
	b.do("PATCH", "/v1/projects/"+p, b.admin, `{"name":null}`).requireField(t, "body.name")
	b.do("PATCH", "/v1/projects/"+p, b.admin, map[string]any{"id": "other"}).requireField(t, "body.id")
	b.do("PATCH", "/v1/projects/nope", b.admin, map[string]any{"name": "x"}).requireStatus(t, http.StatusNotFound)
}

func TestDeleteProject(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	b.do("DELETE", "/v1/projects/"+p, b.admin, nil).requireStatus(t, http.StatusNoContent)
	b.do("GET", "/v1/projects/"+p, b.admin, nil).requireStatus(t, http.StatusNotFound)
	b.do("DELETE", "/v1/projects/"+p, b.admin, nil).requireStatus(t, http.StatusNotFound)
	// Its keys went with it.
	b.do("GET", "/v1/projects/"+p, key, nil).requireStatus(t, http.StatusUnauthorized)
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	created := b.do("POST", "/v1/projects/"+p+"/api-keys", key, nil).requireStatus(t, http.StatusCreated).obj(t)
	second := created["key"].(string)
	require.Regexp(t, `^hk_`, second)
	assert.Regexp(t, `^key_`, created["id"])
	assert.Equal(t, second[:len(created["prefix"].(string))], created["prefix"])

	list := b.do("GET", "/v1/projects/"+p+"/api-keys", second, nil).requireStatus(t, http.StatusOK)
	assert.NotContains(t, string(list.Body), second, "a list never shows keys")
	assert.NotContains(t, string(list.Body), key)
	assert.Len(t, list.obj(t)["data"], 2)

	b.do("POST", "/v1/projects/"+p+"/api-keys", key, map[string]any{"prefix": "x"}).requireField(t, "body.prefix")
	b.do("DELETE", "/v1/projects/"+p+"/api-keys/"+created["id"].(string), key, nil).requireStatus(t, http.StatusNoContent)
	b.do("GET", "/v1/projects/"+p, second, nil).requireStatus(t, http.StatusUnauthorized)
	b.do("DELETE", "/v1/projects/"+p+"/api-keys/"+created["id"].(string), key, nil).requireStatus(t, http.StatusNotFound)
}

func TestEnsureAdminKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"), sqlite.Options{})
	require.NoError(t, err)
	defer st.Close()

	hash, generated, err := EnsureAdminKey(ctx, st, "")
	require.NoError(t, err)
	require.NotEmpty(t, generated, "the first start generates a key")
	assert.Equal(t, herald.HashKey(generated), hash)
	assert.Regexp(t, "^"+herald.AdminKeyPrefix, generated)

	again, gen2, err := EnsureAdminKey(ctx, st, "")
	require.NoError(t, err)
	assert.Empty(t, gen2, "a stored key is not generated again")
	assert.Equal(t, hash, again)

	conf, gen3, err := EnsureAdminKey(ctx, st, "configured-admin-key")
	require.NoError(t, err)
	assert.Empty(t, gen3)
	assert.Equal(t, herald.HashKey("configured-admin-key"), conf)
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	ctx := context.Background()
	who, err := b.server.svc.Authenticate(ctx, b.admin)
	require.NoError(t, err)
	assert.True(t, who.Admin)
	assert.Empty(t, who.ProjectID)
	who, err = b.server.svc.Authenticate(ctx, key)
	require.NoError(t, err)
	assert.False(t, who.Admin)
	assert.Equal(t, p, who.ProjectID)
	for _, bad := range []string{"", "nope"} {
		_, err = b.server.svc.Authenticate(ctx, bad)
		assert.Equal(t, herald.EUNAUTHORIZED, herald.ErrorCode(err))
	}
}
