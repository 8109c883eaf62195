package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/hook"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withHooks wires synchronous hooks as the herald server does: through
// the use-case layer, which applies the caller's tenant binding.
func withHooks(c *Config) {
	svc, err := service.New(service.Config{Store: c.Store, Engine: c.Engine, Guard: c.Guard, AdminKeyHash: c.AdminKeyHash,
		Hooks: hook.New(c.Engine, hook.Config{Logger: discard})})
	if err != nil {
		panic(err)
	}
	c.Service = svc
	c.Hooks = func(ctx context.Context, p *herald.Project, eventType string, body []byte) (any, error) {
		return svc.RunHook(ctx, p, eventType, body)
	}
}

func TestPutTenantCreatesThenUpdates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	path := "/v1/projects/" + p + "/tenants/acme"
	got := b.do("PUT", path, key, map[string]any{"name": "Acme", "metadata": map[string]string{"plan": "pro"}}).requireStatus(t, http.StatusCreated).obj(t)
	assert.Equal(t, "acme", got["id"])
	assert.Equal(t, "Acme", got["name"])
	assert.Equal(t, map[string]any{"plan": "pro"}, got["metadata"])

	got = b.do("PUT", path, key, map[string]any{"name": "Acme Inc."}).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, "Acme Inc.", got["name"])
	assert.Equal(t, map[string]any{}, got["metadata"], "a PUT replaces the metadata")

	got = b.do("GET", path, key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, "Acme Inc.", got["name"])
	b.do("PUT", "/v1/projects/"+p+"/tenants/other", key, nil).requireStatus(t, http.StatusCreated)
	list := b.do("GET", "/v1/projects/"+p+"/tenants?limit=1", key, nil).requireStatus(t, http.StatusOK).obj(t)
	require.Len(t, list["data"], 1)
	require.NotEmpty(t, list["next_cursor"], "the list is paged")
	next := b.do("GET", "/v1/projects/"+p+"/tenants?limit=1&cursor="+list["next_cursor"].(string), key, nil).requireStatus(t, http.StatusOK).obj(t)
	require.Len(t, next["data"], 1)
	assert.NotEqual(t, list["data"].([]any)[0].(map[string]any)["id"], next["data"].([]any)[0].(map[string]any)["id"])

	b.do("GET", "/v1/projects/"+p+"/tenants/nobody", key, nil).requireStatus(t, http.StatusNotFound)
}

func TestTenantInputIsCheckedByName(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	b.do("PUT", "/v1/projects/"+p+"/tenants/bad%20id", key, nil).requireField(t, "path.tenant_id")
	b.do("PUT", "/v1/projects/"+p+"/tenants/acme", key, map[string]any{"plan": "pro"}).requireField(t, "body.plan")
	b.do("PUT", "/v1/projects/"+p+"/tenants/acme", key, map[string]any{"name": 5}).requireField(t, "body.name")
	b.do("POST", "/v1/projects/"+p+"/endpoints", key, map[string]any{"url": "https://example.com/a", "tenant_id": "bad id"}).requireField(t, "body.tenant_id")
	b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "a", "data": map[string]any{}, "tenant_id": "bad id"}).requireField(t, "body.tenant_id")
	b.do("GET", "/v1/projects/"+p+"/events?tenant_id=bad%20id", key, nil).requireField(t, "query.tenant_id")
}

func TestCreatingAnEndpointForAnUnknownTenantCreatesIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	ep := b.endpoint(p, key, map[string]any{"url": "https://example.com/a", "tenant_id": "acme"})
	assert.Equal(t, "acme", ep["tenant_id"])
	got := b.do("GET", "/v1/projects/"+p+"/tenants/acme", key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, "", got["name"])
	wide := b.endpoint(p, key, map[string]any{"url": "https://example.com/b"})
	assert.NotContains(t, wide, "tenant_id", "a project-wide endpoint has no tenant_id")
}

func TestAnEndpointsTenantCannotChange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	ep := b.endpoint(p, key, map[string]any{"url": "https://example.com/a", "tenant_id": "acme"})
	path := "/v1/projects/" + p + "/endpoints/" + ep["id"].(string)
	b.do("PATCH", path, key, map[string]any{"tenant_id": "other"}).requireField(t, "body.tenant_id")
	b.do("PATCH", path, key, map[string]any{"tenant_id": nil}).requireField(t, "body.tenant_id")
	got := b.do("PATCH", path, key, map[string]any{"tenant_id": "acme", "name": "same tenant"}).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, "acme", got["tenant_id"])
	wide := b.endpoint(p, key, map[string]any{"url": "https://example.com/b"})
	b.do("PATCH", "/v1/projects/"+p+"/endpoints/"+wide["id"].(string), key, map[string]any{"tenant_id": "acme"}).requireField(t, "body.tenant_id")
}

// tenantSetup: a project with endpoints of tenants a and b and a
// project-wide one, each with its receiver.
type tenantSetup struct {
	p, key        string
	a, b, wide    map[string]any
	ra, rb, rwide *testkit.Receiver
}

func newTenantSetup(t *testing.T, b *bundle) *tenantSetup {
	ts := &tenantSetup{ra: testkit.NewReceiver(t, testkit.Status(200)), rb: testkit.NewReceiver(t, testkit.Status(200)), rwide: testkit.NewReceiver(t, testkit.Status(200))}
	ts.p, ts.key = b.project("shop")
	ts.a = b.endpoint(ts.p, ts.key, map[string]any{"url": ts.ra.URL, "tenant_id": "a"})
	ts.b = b.endpoint(ts.p, ts.key, map[string]any{"url": ts.rb.URL, "tenant_id": "b"})
	ts.wide = b.endpoint(ts.p, ts.key, map[string]any{"url": ts.rwide.URL})
	return ts
}

func TestEventsOfATenantReachItsAndProjectWideEndpointsAndListsFilterByTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := newTenantSetup(t, b)
	base := "/v1/projects/" + ts.p
	ev := b.do("POST", base+"/events", ts.key, map[string]any{"type": "order.paid", "data": map[string]any{}, "tenant_id": "a"}).requireStatus(t, http.StatusAccepted).obj(t)
	assert.Equal(t, "a", ev["tenant_id"])
	assert.EqualValues(t, 2, ev["deliveries"], "a's endpoint and the project-wide one")
	batch := b.do("POST", base+"/events/batch", ts.key, map[string]any{"events": []any{
		map[string]any{"type": "order.paid", "data": map[string]any{}, "tenant_id": "b"},
		map[string]any{"type": "order.paid", "data": map[string]any{}},
	}}).requireStatus(t, http.StatusAccepted).obj(t)["data"].([]any)
	assert.Equal(t, "b", batch[0].(map[string]any)["tenant_id"])
	assert.NotContains(t, batch[1], "tenant_id")
	testkit.WaitFor(t, "deliveries", func() bool {
		return ts.ra.Count() == 1 && ts.rb.Count() == 1 && ts.rwide.Count() == 3
	})

	ids := func(path string) []string {
		var out []string
		for _, it := range b.do("GET", path, ts.key, nil).requireStatus(t, http.StatusOK).obj(t)["data"].([]any) {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		return out
	}
	assert.Equal(t, []string{ts.a["id"].(string)}, ids(base+"/endpoints?tenant_id=a"))
	assert.Equal(t, []string{ev["id"].(string)}, ids(base+"/events?tenant_id=a"))
	ds := b.do("GET", base+"/deliveries?tenant_id=a", ts.key, nil).requireStatus(t, http.StatusOK).obj(t)["data"].([]any)
	require.Len(t, ds, 1, "the delivery to the project-wide endpoint is no tenant's")
	assert.Equal(t, ts.a["id"], ds[0].(map[string]any)["endpoint_id"])
	assert.Equal(t, "a", ds[0].(map[string]any)["tenant_id"])
	got := b.do("GET", base+"/events/"+ev["id"].(string), ts.key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, "a", got["tenant_id"])
}

func TestDeletingATenantDeletesItsEndpointsAndCancelsTheirDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	down := testkit.NewReceiver(t, testkit.Status(http.StatusServiceUnavailable)) // keeps the delivery pending between retries
	ep := b.endpoint(p, key, map[string]any{"url": down.URL, "tenant_id": "acme", "retry_schedule": []string{"1h"}})
	ev := b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "a", "data": map[string]any{}, "tenant_id": "acme"}).requireStatus(t, http.StatusAccepted).obj(t)
	testkit.WaitFor(t, "a first attempt", func() bool { return down.Count() >= 1 })

	b.do("DELETE", "/v1/projects/"+p+"/tenants/acme", key, nil).requireStatus(t, http.StatusNoContent)
	b.do("GET", "/v1/projects/"+p+"/tenants/acme", key, nil).requireStatus(t, http.StatusNotFound)
	b.do("GET", "/v1/projects/"+p+"/endpoints/"+ep["id"].(string), key, nil).requireStatus(t, http.StatusNotFound)
	ds, _, err := b.store.ListDeliveries(context.Background(), p, store.DeliveryFilter{EventID: ev["id"].(string)}, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, "canceled", ds[0].Status)
	b.do("GET", "/v1/projects/"+p+"/events/"+ev["id"].(string), key, nil).requireStatus(t, http.StatusOK)
	b.do("DELETE", "/v1/projects/"+p+"/tenants/acme", key, nil).requireStatus(t, http.StatusNotFound)
}

func TestAHookRunForATenantCallsItsHooksNeverAnothers(t *testing.T) {
	t.Parallel()
	b := setup(t, withHooks)
	ts := newTenantSetup(t, b)
	for _, ep := range []map[string]any{ts.a, ts.b, ts.wide} {
		b.do("PATCH", "/v1/projects/"+ts.p+"/endpoints/"+ep["id"].(string), ts.key, map[string]any{"response_mode": "wait", "event_types": []string{"user.created"}}).requireStatus(t, http.StatusOK)
	}
	b.do("POST", "/v1/projects/"+ts.p+"/hooks/user.created", ts.key, map[string]any{"data": map[string]any{}, "tenant_id": "a"}).requireStatus(t, http.StatusOK)
	assert.EqualValues(t, 1, ts.ra.Count())
	assert.EqualValues(t, 1, ts.rwide.Count())
	assert.EqualValues(t, 0, ts.rb.Count(), "another tenant's hook is never called")
	testkit.WaitFor(t, "the stored run, which carries its tenant", func() bool {
		evs, _, err := b.store.ListEvents(context.Background(), ts.p, store.EventFilter{TenantID: "a"}, store.Page{Limit: 10})
		return err == nil && len(evs) == 1
	})
}

// A tenant-bound key is told only of its tenant's deliveries, and its
// replay goes to its tenant's endpoints, never to the project's own.
func TestATenantKeyCountsAndReplaysOnlyItsTenantsDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	wide := b.endpoint(p, key, map[string]any{"url": "https://example.com/sink", "retry_schedule": []string{"1h"}})
	b.endpoint(p, key, map[string]any{"url": "https://example.com/acme", "tenant_id": "acme", "retry_schedule": []string{"1h"}})
	acme := b.apiKey(p, key, map[string]any{"scopes": []string{"read", "events:write", "endpoints:write"}, "tenant_id": "acme"})["key"].(string)

	ev := b.do("POST", "/v1/projects/"+p+"/events", acme, map[string]any{"type": "a", "data": map[string]any{}}).requireStatus(t, http.StatusAccepted).obj(t)
	require.Equal(t, float64(1), ev["deliveries"], "the tenant's endpoint, not the project's sink")
	batch := b.do("POST", "/v1/projects/"+p+"/events/batch", acme, map[string]any{"events": []any{map[string]any{"type": "a", "data": map[string]any{}}}}).
		requireStatus(t, http.StatusAccepted).obj(t)
	require.Equal(t, float64(1), batch["data"].([]any)[0].(map[string]any)["deliveries"])
	// The project's key sees both deliveries of the same kind of event.
	all := b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "a", "data": map[string]any{}, "tenant_id": "acme"}).requireStatus(t, http.StatusAccepted).obj(t)
	require.Equal(t, float64(2), all["deliveries"])

	sinkDeliveries := func() int {
		l := b.do("GET", "/v1/projects/"+p+"/deliveries?endpoint_id="+wide["id"].(string), key, nil).requireStatus(t, http.StatusOK).obj(t)
		return len(l["data"].([]any))
	}
	before := sinkDeliveries()
	r := b.do("POST", "/v1/projects/"+p+"/events/"+ev["id"].(string)+"/replay", acme, `{}`).requireStatus(t, http.StatusAccepted).obj(t)
	require.Equal(t, float64(1), r["deliveries"])
	require.Equal(t, before, sinkDeliveries(), "the tenant's replay did not reach the project's sink")
	r = b.do("POST", "/v1/projects/"+p+"/events/"+ev["id"].(string)+"/replay", key, `{}`).requireStatus(t, http.StatusAccepted).obj(t)
	require.Equal(t, float64(2), r["deliveries"], "the project's replay reaches both")
}
