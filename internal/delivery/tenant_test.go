package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
)

// tenantEndpoint stores an endpoint of tenant ("" = project-wide) to url.
func (b *testBundle) tenantEndpoint(url, tenant string, mutate func(*herald.Endpoint)) *herald.Endpoint {
	b.t.Helper()
	return b.endpoint(url, func(ep *herald.Endpoint) {
		ep.TenantID = tenant
		if mutate != nil {
			mutate(ep)
		}
	})
}

// ingestFor ingests one user.created event for tenant ("" = none).
func (b *testBundle) ingestFor(e *Engine, tenant string) IngestResult {
	b.t.Helper()
	res, err := e.Ingest(b.ctx, b.project, []EventInput{{Type: "user.created", Data: json.RawMessage(`{"n":1}`), TenantID: tenant}})
	if err != nil {
		b.t.Fatal(err)
	}
	if res[0].Err != nil {
		b.t.Fatal(res[0].Err)
	}
	return res[0]
}

// deliveredTo returns the endpoint ids of the event's deliveries, sorted,
// and their tenants by endpoint.
func (b *testBundle) deliveredTo(eventID string) ([]string, map[string]string) {
	b.t.Helper()
	var ids []string
	tenants := map[string]string{}
	for _, d := range b.deliveries(store.DeliveryFilter{EventID: eventID}) {
		ids = append(ids, d.EndpointID)
		tenants[d.EndpointID] = d.TenantID
	}
	slices.Sort(ids)
	return ids, tenants
}

func sorted(ids ...string) []string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}

func envelopeTenant(t *testing.T, body []byte) (string, bool) {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("envelope: %v", err)
	}
	v, ok := env["tenant_id"]
	if !ok {
		return "", false
	}
	return v.(string), true
}

func TestTenantEventReachesItsTenantAndProjectWideNeverAnother(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	wideRc, aRc, bRc := testkit.NewReceiver(t, nil), testkit.NewReceiver(t, nil), testkit.NewReceiver(t, nil)
	wide := b.tenantEndpoint(wideRc.URL, "", nil)
	a := b.tenantEndpoint(aRc.URL, "a", nil)
	bEp := b.tenantEndpoint(bRc.URL, "b", nil)
	b.run(b.e)

	res := b.ingestFor(b.e, "a")
	if res.Deliveries != 2 {
		t.Fatalf("%d deliveries, want 2 (a's endpoint and the project-wide one)", res.Deliveries)
	}
	testkit.WaitFor(t, "a's endpoint and the project-wide one to receive the event", func() bool { return wideRc.Count() == 1 && aRc.Count() == 1 })
	ids, tenants := b.deliveredTo(res.Event.ID)
	if !slices.Equal(ids, sorted(wide.ID, a.ID)) {
		t.Fatalf("deliveries to %v, want %v (never b's %s)", ids, sorted(wide.ID, a.ID), bEp.ID)
	}
	if tenants[a.ID] != "a" || tenants[wide.ID] != "" {
		t.Fatalf("delivery tenants %v: a's delivery belongs to a, the project-wide one to none", tenants)
	}
	if n := bRc.Count(); n != 0 {
		t.Fatalf("b's receiver got %d requests", n)
	}
	for _, rc := range []*testkit.Receiver{wideRc, aRc} {
		if got, ok := envelopeTenant(t, rc.Requests()[0].Body); !ok || got != "a" {
			t.Fatalf("envelope tenant_id %q (present %v), want \"a\"", got, ok)
		}
	}
}

func TestUntenantedEventReachesOnlyProjectWideEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	wideRc, aRc := testkit.NewReceiver(t, nil), testkit.NewReceiver(t, nil)
	wide := b.tenantEndpoint(wideRc.URL, "", nil)
	b.tenantEndpoint(aRc.URL, "a", nil)
	b.run(b.e)

	res := b.ingestFor(b.e, "")
	testkit.WaitFor(t, "the project-wide endpoint to receive the event", func() bool { return wideRc.Count() == 1 })
	if ids, _ := b.deliveredTo(res.Event.ID); !slices.Equal(ids, []string{wide.ID}) {
		t.Fatalf("deliveries to %v, want only the project-wide %s", ids, wide.ID)
	}
	if n := aRc.Count(); n != 0 {
		t.Fatalf("a tenant's receiver got %d requests", n)
	}
	if got, ok := envelopeTenant(t, wideRc.Requests()[0].Body); ok {
		t.Fatalf("envelope has tenant_id %q; an untenanted event's omits it", got)
	}
}

func TestTenantRoutingAppliesTypesChannelsFiltersAndValidity(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	url := "http://127.0.0.1:9/hook"
	past := time.Now().Add(-time.Hour)
	match := b.tenantEndpoint(url, "a", nil)
	b.tenantEndpoint(url, "a", func(ep *herald.Endpoint) { ep.EventTypes = []string{"order.*"} })
	b.tenantEndpoint(url, "a", func(ep *herald.Endpoint) { ep.Channels = []string{"other"} })
	b.tenantEndpoint(url, "a", func(ep *herald.Endpoint) { ep.Filter = "data.n > 5" })
	b.tenantEndpoint(url, "a", func(ep *herald.Endpoint) { ep.ActiveUntil = &past })
	b.tenantEndpoint(url, "a", func(ep *herald.Endpoint) { ep.Enabled = false })
	wideMatch := b.tenantEndpoint(url, "", func(ep *herald.Endpoint) { ep.EventTypes = []string{"user.*"} })
	b.tenantEndpoint(url, "", func(ep *herald.Endpoint) { ep.EventTypes = []string{"order.*"} })

	res := b.ingestFor(b.e, "a")
	if ids, _ := b.deliveredTo(res.Event.ID); !slices.Equal(ids, sorted(match.ID, wideMatch.ID)) {
		t.Fatalf("deliveries to %v, want %v", ids, sorted(match.ID, wideMatch.ID))
	}
}

func TestInvalidTenantIDIsRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, id := range []string{"has space", "ü", string(make([]byte, herald.TenantIDMaxLen+1))} {
		res, err := b.e.Ingest(b.ctx, b.project, []EventInput{{Type: "user.created", Data: json.RawMessage(`{}`), TenantID: id}})
		if err != nil {
			t.Fatal(err)
		}
		var he *herald.Error
		if e, ok := res[0].Err.(*herald.Error); ok {
			he = e
		}
		if he == nil || he.Code != herald.EINVALID || len(he.Fields) != 1 || he.Fields[0].Location != "tenant_id" {
			t.Fatalf("tenant_id %q: %v, want EINVALID at tenant_id", id, res[0].Err)
		}
	}
}

func TestReplayRefusesAnotherTenantsEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	url := "http://127.0.0.1:9/hook"
	b.tenantEndpoint(url, "a", nil)
	bEp := b.tenantEndpoint(url, "b", nil)
	res := b.ingestFor(b.e, "a")
	_, err := b.e.Replay(b.ctx, b.project.ID, res.Event.ID, bEp.ID, false)
	if herald.ErrorCode(err) != herald.EINVALID {
		t.Fatalf("replay of a's event to b's endpoint: %v, want EINVALID", err)
	}
}

// tenantReadStore is the real store, counting the routing reads by set.
type tenantReadStore struct {
	store.Store
	mu    sync.Mutex
	reads map[string]int // tenant → TenantEndpoints calls
	all   int            // ProjectEndpoints calls
}

func (s *tenantReadStore) TenantEndpoints(ctx context.Context, projectID, tenantID string) ([]*herald.Endpoint, error) {
	s.mu.Lock()
	s.reads[tenantID]++
	s.mu.Unlock()
	return s.Store.TenantEndpoints(ctx, projectID, tenantID)
}

func (s *tenantReadStore) ProjectEndpoints(ctx context.Context, projectID string) ([]*herald.Endpoint, error) {
	s.mu.Lock()
	s.all++
	s.mu.Unlock()
	return s.Store.ProjectEndpoints(ctx, projectID)
}

func (s *tenantReadStore) counts() (map[string]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps(s.reads), s.all
}

func maps(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Routing a tenant's event reads the project-wide set and that tenant's,
// never the whole project: its cost does not grow with the tenants.
func TestRoutingReadsOnlyTheEventsTenant(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	url := "http://127.0.0.1:9/hook"
	b.tenantEndpoint(url, "", nil)
	for i := range 50 {
		b.tenantEndpoint(url, fmt.Sprintf("t%d", i), nil)
	}
	cs := &tenantReadStore{Store: b.st, reads: map[string]int{}}
	e := b.engine(cs, nil)
	for range 3 {
		if res := b.ingestFor(e, "t7"); res.Deliveries != 2 {
			t.Fatalf("%d deliveries, want 2", res.Deliveries)
		}
	}
	reads, all := cs.counts()
	if all != 0 || len(reads) != 2 || reads[""] != 1 || reads["t7"] != 1 {
		t.Fatalf("reads by tenant %v, whole project %d; want the project-wide set and t7's, once each", reads, all)
	}

	// A change to one tenant's endpoints reloads that tenant alone.
	b.tenantEndpoint(url, "t7", nil)
	e.TenantEndpointsChanged(b.project.ID, "t7")
	if res := b.ingestFor(e, "t7"); res.Deliveries != 3 {
		t.Fatalf("after t7's new endpoint: %d deliveries, want 3", res.Deliveries)
	}
	b.ingestFor(e, "t8")
	b.ingestFor(e, "t8")
	reads, _ = cs.counts()
	if reads[""] != 1 || reads["t7"] != 2 || reads["t8"] != 1 {
		t.Fatalf("reads by tenant %v; want the project-wide set still cached, t7 read again, t8 once", reads)
	}
}

// The route cache holds at most RouteCacheMax endpoints in sets and by id,
// and routes right past the bound.
func TestRouteCacheIsBounded(t *testing.T) {
	t.Parallel()
	const max = 10
	b := setup(t, func(c *Config) { c.RouteCacheMax = max })
	url := "http://127.0.0.1:9/hook"
	wide := b.tenantEndpoint(url, "", nil)
	own := map[string]string{}
	for i := range 40 {
		tn := fmt.Sprintf("t%d", i)
		own[tn] = b.tenantEndpoint(url, tn, nil).ID
	}
	for round := range 2 {
		for tn, id := range own {
			res := b.ingestFor(b.e, tn)
			if ids, _ := b.deliveredTo(res.Event.ID); !slices.Equal(ids, sorted(wide.ID, id)) {
				t.Fatalf("round %d, %s: deliveries to %v, want %v", round, tn, ids, sorted(wide.ID, id))
			}
			for _, ep := range []string{wide.ID, id} {
				if got, err := b.e.routes.endpoint(b.ctx, ep); err != nil || got == nil || got.ID != ep {
					t.Fatalf("endpoint %s by id: %v, %v", ep, got, err)
				}
			}
			c := b.e.routes
			c.mu.Lock()
			setEps, byID := c.setEps, len(c.byID)
			c.mu.Unlock()
			if setEps > max || byID > max {
				t.Fatalf("the cache holds %d endpoints in sets and %d by id, bound %d", setEps, byID, max)
			}
		}
	}
}

// EndpointsChanged, which does not name a tenant, asks the store what
// changed and drops only that: the other tenants' sets stay cached.
func TestEndpointsChangedDropsOnlyTheSetsThatChanged(t *testing.T) {
	t.Parallel()
	b, cs, e, url := twoTenantsCached(t)

	b.tenantEndpoint(url, "a", nil)
	e.EndpointsChanged(b.project.ID)
	if res := b.ingestFor(e, "a"); res.Deliveries != 3 {
		t.Fatalf("after a's new endpoint: %d deliveries, want 3", res.Deliveries)
	}
	b.ingestFor(e, "b")
	reads, _ := cs.counts()
	if reads[""] != 1 || reads["b"] != 1 || reads["a"] != 2 {
		t.Fatalf("reads by tenant %v; want a read again, b and the project-wide set once", reads)
	}

	// A tenant's deletion forgets the project's sets.
	if err := b.st.DeleteTenant(b.ctx, b.project.ID, "b"); err != nil {
		t.Fatal(err)
	}
	e.EndpointsChanged(b.project.ID)
	if res := b.ingestFor(e, "b"); res.Deliveries != 1 {
		t.Fatalf("after b's deletion: %d deliveries, want 1 (the project-wide endpoint)", res.Deliveries)
	}
}

// twoTenantsCached is a project with a project-wide endpoint and one for
// each of tenants a and b, and an engine over a store that counts its
// reads, whose cache holds the three sets.
func twoTenantsCached(t *testing.T) (*testBundle, *tenantReadStore, *Engine, string) {
	b := setup(t, nil)
	url := "http://127.0.0.1:9/hook"
	b.tenantEndpoint(url, "", nil)
	b.tenantEndpoint(url, "a", nil)
	b.tenantEndpoint(url, "b", nil)
	cs := &tenantReadStore{Store: b.st, reads: map[string]int{}}
	e := b.engine(cs, nil)
	b.ingestFor(e, "a")
	b.ingestFor(e, "b")
	return b, cs, e, url
}
