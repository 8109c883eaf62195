package api

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apiKey creates a key with body as caller and returns its JSON.
func (b *bundle) apiKey(project, caller string, body map[string]any) map[string]any {
	b.t.Helper()
	var req any
	if body != nil {
		req = body
	}
	return b.do("POST", "/v1/projects/"+project+"/api-keys", caller, req).requireStatus(b.t, http.StatusCreated).obj(b.t)
}

// Each scope tried on every project route: a route needing another scope
// answers 403 scope-required naming the scope it needs; a route of the
// key's scope, or any route for "all", is never refused for scope.
func TestEachScopeReachesOnlyItsRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	keys := map[string]string{}
	for _, sc := range herald.Scopes {
		keys[sc] = b.apiKey(p, key, map[string]any{"scopes": []string{sc}})["key"].(string)
	}
	tried := 0
	for _, rt := range b.server.routes {
		if rt.access != projectScoped && rt.access != projectRead {
			continue
		}
		require.NotEmpty(t, rt.scope, "%s %s has no scope in the route table", rt.method, rt.path)
		path := strings.NewReplacer("{project}", p, "{id}", "none", "{name}", "none", "{event_type}", "user.created", "{tenant_id}", "scope-test").Replace(rt.path)
		for _, sc := range herald.Scopes {
			r := b.do(rt.method, path, keys[sc], nil)
			if sc == herald.ScopeAll || sc == rt.scope {
				assert.NotEqual(t, http.StatusForbidden, r.Status, "%s on %s %s: %s", sc, rt.method, rt.path, r.Body)
				continue
			}
			require.Equal(t, http.StatusForbidden, r.Status, "%s on %s %s: %s", sc, rt.method, rt.path, r.Body)
			pr := r.problem(t)
			assert.Equal(t, ProblemTypeBase+herald.KindScopeRequired, pr.Type)
			assert.Contains(t, pr.Detail, `"`+rt.scope+`"`, "the detail names the scope needed")
			tried++
		}
	}
	assert.Greater(t, tried, 200, "every route class was tried with the scopes it refuses")
}

func TestScopeOfEachRouteClass(t *testing.T) {
	t.Parallel()
	b := setup(t)
	want := map[string]string{
		"GET /v1/projects/{project}/events":                        herald.ScopeRead,
		"POST /v1/projects/{project}/events":                       herald.ScopeEventsWrite,
		"POST /v1/projects/{project}/events/batch":                 herald.ScopeEventsWrite,
		"POST /v1/projects/{project}/hooks/{event_type}":           herald.ScopeHooksRun,
		"PATCH /v1/projects/{project}/endpoints/{id}":              herald.ScopeEndpointsWrite,
		"GET /v1/projects/{project}/endpoints/{id}/secret":         herald.ScopeEndpointsWrite,
		"POST /v1/projects/{project}/deliveries/{id}/retry":        herald.ScopeEndpointsWrite,
		"POST /v1/projects/{project}/events/{id}/replay":           herald.ScopeEndpointsWrite,
		"POST /v1/projects/{project}/event-types":                  herald.ScopeEventTypesWrite,
		"PUT /v1/projects/{project}/tenants/{tenant_id}":           herald.ScopeTenantsWrite,
		"DELETE /v1/projects/{project}/tenants/{tenant_id}":        herald.ScopeTenantsWrite,
		"POST /v1/projects/{project}/api-keys":                     herald.ScopeKeysWrite,
		"DELETE /v1/projects/{project}/api-keys/{id}":              herald.ScopeKeysWrite,
		"GET /v1/projects/{project}/api-keys":                      herald.ScopeRead,
		"GET /v1/projects/{project}/tenants":                       herald.ScopeRead,
		"POST /projects/{project}/events/{event_type}/webhooks":    herald.ScopeEndpointsWrite,
		"GET /v1/projects/{project}/deliveries/{id}/attempts":      herald.ScopeRead,
		"GET /v1/projects/{project}/endpoints/{id}/stats":          herald.ScopeRead,
		"GET /v1/projects/{project}":                               herald.ScopeRead,
		"POST /v1/projects/{project}/endpoints/{id}/secret/rotate": herald.ScopeEndpointsWrite,
	}
	for _, rt := range b.server.routes {
		if sc, ok := want[rt.method+" "+rt.path]; ok {
			assert.Equal(t, sc, rt.scope, "%s %s", rt.method, rt.path)
			delete(want, rt.method+" "+rt.path)
		}
	}
	assert.Empty(t, want, "routes not in the table")
}

func TestAnExpiredKeyIsUnauthorized(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	b := setup(t, func(c *Config) { c.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) } })
	p, key := b.project("shop")
	k := b.apiKey(p, key, map[string]any{"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	b.do("GET", "/v1/projects/"+p+"/events", k["key"].(string), nil).requireStatus(t, http.StatusOK)
	offset.Store(int64(2 * time.Hour))
	pr := b.do("GET", "/v1/projects/"+p+"/events", k["key"].(string), nil).requireStatus(t, http.StatusUnauthorized).problem(t)
	assert.Contains(t, pr.Detail, "expired")
	b.do("GET", "/v1/projects/"+p+"/events", key, nil).requireStatus(t, http.StatusOK)

	b.do("POST", "/v1/projects/"+p+"/api-keys", key, map[string]any{"expires_at": time.Now().UTC().Format(time.RFC3339)}).requireField(t, "body.expires_at")
}

func TestAnUnknownScopeIsInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	b.do("POST", "/v1/projects/"+p+"/api-keys", key, map[string]any{"scopes": []string{"read", "everything"}}).requireField(t, "body.scopes[1]")
	b.do("POST", "/v1/projects/"+p+"/api-keys", key, map[string]any{"scopes": "read"}).requireField(t, "body.scopes")
}

// An empty list is refused rather than read as "the caller's own scopes",
// which for a full key would be every power; null is the same as leaving
// the field out.
func TestAnEmptyScopeListIsInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	b.do("POST", "/v1/projects/"+p+"/api-keys", key, `{"scopes":[]}`).requireField(t, "body.scopes")
	k := b.do("POST", "/v1/projects/"+p+"/api-keys", key, `{"scopes":null}`).requireStatus(t, http.StatusCreated).obj(t)
	require.Equal(t, []any{"all"}, k["scopes"])
}

func TestAPIKeysShowNameScopesTenantExpiryNeverTheKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	exp := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	k := b.apiKey(p, key, map[string]any{"name": "acme", "scopes": []string{"read", "events:write"}, "tenant_id": "acme", "expires_at": exp.Format(time.RFC3339)})
	assert.Equal(t, "acme", k["name"])
	assert.Equal(t, []any{"read", "events:write"}, k["scopes"])
	assert.Equal(t, "acme", k["tenant_id"])
	assert.Equal(t, exp.Format(time.RFC3339), k["expires_at"])
	def := b.apiKey(p, key, nil)
	assert.Equal(t, []any{"all"}, def["scopes"], "a project key's keys default to all")
	assert.NotContains(t, def, "tenant_id")

	list := b.do("GET", "/v1/projects/"+p+"/api-keys", key, nil).requireStatus(t, http.StatusOK)
	assert.NotContains(t, string(list.Body), k["key"].(string))
	var found map[string]any
	for _, it := range list.obj(t)["data"].([]any) {
		if it.(map[string]any)["id"] == k["id"] {
			found = it.(map[string]any)
		}
	}
	require.NotNil(t, found)
	assert.Equal(t, []any{"read", "events:write"}, found["scopes"])
	assert.Equal(t, "acme", found["tenant_id"])
	assert.NotContains(t, found, "key")
}

func TestAKeyNeverCreatesAKeyWithMorePowerThanItself(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	minter := b.apiKey(p, key, map[string]any{"scopes": []string{"keys:write", "read"}, "tenant_id": "acme", "expires_at": exp.Format(time.RFC3339)})["key"].(string)
	path := "/v1/projects/" + p + "/api-keys"

	for _, sc := range []string{"all", "events:write"} {
		pr := b.do("POST", path, minter, map[string]any{"scopes": []string{sc}}).requireStatus(t, http.StatusForbidden).problem(t)
		assert.Contains(t, pr.Detail, `"`+sc+`"`)
		assert.Equal(t, ProblemTypeBase+herald.KindScopeRequired, pr.Type)
	}
	child := b.apiKey(p, minter, map[string]any{"scopes": []string{"read"}})
	assert.Equal(t, "acme", child["tenant_id"], "the tenant binding is kept")
	assert.Equal(t, exp.Format(time.RFC3339), child["expires_at"], "the expiry is kept")
	def := b.apiKey(p, minter, nil)
	assert.Equal(t, []any{"keys:write", "read"}, def["scopes"], "by default, the minter's own scopes")
	b.do("POST", path, minter, map[string]any{"tenant_id": "other"}).requireField(t, "body.tenant_id")
	b.do("POST", path, minter, map[string]any{"expires_at": exp.Add(time.Hour).Format(time.RFC3339)}).requireField(t, "body.expires_at")

	// Revoking: a tenant-bound key revokes only its tenant's keys.
	wide := b.apiKey(p, key, map[string]any{"scopes": []string{"read"}})
	b.do("DELETE", path+"/"+wide["id"].(string), minter, nil).requireStatus(t, http.StatusNotFound)
	b.do("DELETE", path+"/"+child["id"].(string), minter, nil).requireStatus(t, http.StatusNoContent)
	for _, it := range b.do("GET", path, minter, nil).requireStatus(t, http.StatusOK).obj(t)["data"].([]any) {
		assert.Equal(t, "acme", it.(map[string]any)["tenant_id"], "a tenant-bound key lists its tenant's keys")
	}
}

func TestATenantBoundKeySeesOnlyItsTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := newTenantSetup(t, b)
	base := "/v1/projects/" + ts.p
	evA := b.do("POST", base+"/events", ts.key, map[string]any{"type": "a", "data": map[string]any{}, "tenant_id": "a"}).requireStatus(t, http.StatusAccepted).obj(t)
	evB := b.do("POST", base+"/events", ts.key, map[string]any{"type": "a", "data": map[string]any{}, "tenant_id": "b"}).requireStatus(t, http.StatusAccepted).obj(t)
	testkit.WaitFor(t, "deliveries", func() bool { return ts.rwide.Count() == 2 })
	ka := b.apiKey(ts.p, ts.key, map[string]any{"tenant_id": "a"})["key"].(string)

	eps := b.do("GET", base+"/endpoints", ka, nil).requireStatus(t, http.StatusOK).obj(t)["data"].([]any)
	require.Len(t, eps, 1)
	assert.Equal(t, ts.a["id"], eps[0].(map[string]any)["id"])
	b.do("GET", base+"/endpoints/"+ts.b["id"].(string), ka, nil).requireStatus(t, http.StatusNotFound)
	b.do("GET", base+"/endpoints/"+ts.wide["id"].(string), ka, nil).requireStatus(t, http.StatusNotFound)
	b.do("PATCH", base+"/endpoints/"+ts.b["id"].(string), ka, map[string]any{"name": "x"}).requireStatus(t, http.StatusNotFound)
	b.do("DELETE", base+"/endpoints/"+ts.b["id"].(string), ka, nil).requireStatus(t, http.StatusNotFound)
	b.do("GET", base+"/endpoints/"+ts.b["id"].(string), ts.key, nil).requireStatus(t, http.StatusOK)

	evs := b.do("GET", base+"/events", ka, nil).requireStatus(t, http.StatusOK).obj(t)["data"].([]any)
	require.Len(t, evs, 1)
	assert.Equal(t, evA["id"], evs[0].(map[string]any)["id"])
	b.do("GET", base+"/events/"+evB["id"].(string), ka, nil).requireStatus(t, http.StatusNotFound)
	got := b.do("GET", base+"/events/"+evA["id"].(string), ka, nil).requireStatus(t, http.StatusOK).obj(t)
	require.Len(t, got["deliveries"], 1, "not the delivery to the project's own endpoint")

	ds := b.do("GET", base+"/deliveries", ka, nil).requireStatus(t, http.StatusOK).obj(t)["data"].([]any)
	require.Len(t, ds, 1)
	assert.Equal(t, ts.a["id"], ds[0].(map[string]any)["endpoint_id"])
	all := b.do("GET", base+"/deliveries", ts.key, nil).requireStatus(t, http.StatusOK).obj(t)["data"].([]any)
	for _, d := range all {
		if d.(map[string]any)["endpoint_id"] != ts.a["id"] {
			b.do("GET", base+"/deliveries/"+d.(map[string]any)["id"].(string), ka, nil).requireStatus(t, http.StatusNotFound)
		}
	}
	b.do("GET", base+"/events?tenant_id=b", ka, nil).requireField(t, "query.tenant_id")
	b.do("GET", base+"/tenants/b", ka, nil).requireStatus(t, http.StatusNotFound)
	ten := b.do("GET", base+"/tenants", ka, nil).requireStatus(t, http.StatusOK).obj(t)["data"].([]any)
	require.Len(t, ten, 1)
	assert.Equal(t, "a", ten[0].(map[string]any)["id"])
}

func TestATenantBoundKeysWritesBelongToItsTenant(t *testing.T) {
	t.Parallel()
	b := setup(t, withHooks)
	p, key := b.project("shop")
	base := "/v1/projects/" + p
	ka := b.apiKey(p, key, map[string]any{"tenant_id": "a"})["key"].(string)

	ep := b.endpoint(p, ka, map[string]any{"url": "https://example.com/a"})
	assert.Equal(t, "a", ep["tenant_id"], "its endpoints belong to its tenant")
	b.do("POST", base+"/endpoints", ka, map[string]any{"url": "https://example.com/b", "tenant_id": "b"}).requireField(t, "body.tenant_id")
	b.do("GET", base+"/tenants/a", key, nil).requireStatus(t, http.StatusOK)

	ev := b.do("POST", base+"/events", ka, map[string]any{"type": "x", "data": map[string]any{}}).requireStatus(t, http.StatusAccepted).obj(t)
	assert.Equal(t, "a", ev["tenant_id"], "its events carry its tenant")
	b.do("POST", base+"/events", ka, map[string]any{"type": "x", "data": map[string]any{}, "tenant_id": "a"}).requireStatus(t, http.StatusAccepted)
	b.do("POST", base+"/events", ka, map[string]any{"type": "x", "data": map[string]any{}, "tenant_id": "b"}).requireField(t, "body.tenant_id")
	items := b.do("POST", base+"/events/batch", ka, map[string]any{"events": []any{
		map[string]any{"type": "x", "data": map[string]any{}, "tenant_id": "b"},
		map[string]any{"type": "x", "data": map[string]any{}},
	}}).requireStatus(t, http.StatusAccepted).obj(t)["data"].([]any)
	e0 := items[0].(map[string]any)["error"].(map[string]any)
	assert.EqualValues(t, 422, e0["status"])
	assert.Equal(t, "body.events[0].tenant_id", e0["errors"].([]any)[0].(map[string]any)["location"])
	assert.Equal(t, "a", items[1].(map[string]any)["tenant_id"])

	b.do("POST", base+"/hooks/x", ka, map[string]any{"data": map[string]any{}, "tenant_id": "b"}).requireField(t, "body.tenant_id")
	b.do("PUT", base+"/tenants/b", ka, nil).requireStatus(t, http.StatusNotFound)
	b.do("PUT", base+"/tenants/a", ka, map[string]any{"name": "A"}).requireStatus(t, http.StatusOK)
}
