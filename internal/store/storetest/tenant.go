package storetest

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

func (b *testBundle) newTenant(t *testing.T, id string) *herald.Tenant {
	t.Helper()
	tn := &herald.Tenant{ProjectID: b.project.ID, ID: id, Name: "Tenant " + id, Metadata: map[string]string{"plan": "pro"},
		CreatedAt: b.now, UpdatedAt: b.now}
	created, err := b.st.PutTenant(b.ctx, tn)
	require.NoError(t, err)
	require.True(t, created)
	return tn
}

// tenantEndpoint creates an endpoint of tenant ("" = project-wide) that
// receives every event.
func (b *testBundle) tenantEndpoint(t *testing.T, tenant string) *herald.Endpoint {
	t.Helper()
	return b.newEndpoint(t, func(ep *herald.Endpoint) {
		ep.TenantID = tenant
		ep.EventTypes, ep.Channels, ep.Filter = nil, nil, ""
		ep.ActiveFrom, ep.ActiveUntil = nil, nil
	})
}

// tenantDelivery is newDelivery as the engine makes it: it belongs to its
// endpoint's tenant.
func tenantDelivery(ev *herald.Event, ep *herald.Endpoint, due time.Time) *herald.Delivery {
	d := newDelivery(ev, ep, due)
	d.TenantID = ep.TenantID
	return d
}

func endpointIDs(eps []*herald.Endpoint) []string {
	ids := make([]string, len(eps))
	for i, ep := range eps {
		ids[i] = ep.ID
	}
	return ids
}

func (s *suite) tenants(t *testing.T) {
	t.Run("PutCreatesThenUpdates", func(t *testing.T) {
		b := s.setup(t)
		tn := b.newTenant(t, "org:42.eu-1_a")
		got, err := b.st.GetTenant(b.ctx, b.project.ID, tn.ID)
		require.NoError(t, err)
		equal(t, tn, got)

		later := b.now.Add(time.Minute)
		again := &herald.Tenant{ProjectID: b.project.ID, ID: tn.ID, Name: "Renamed", Metadata: map[string]string{"plan": "free"},
			CreatedAt: later, UpdatedAt: later}
		created, err := b.st.PutTenant(b.ctx, again)
		require.NoError(t, err)
		require.False(t, created, "the tenant existed")
		require.True(t, again.CreatedAt.Equal(b.now), "created_at stays, and is written back: %v", again.CreatedAt)
		got, err = b.st.GetTenant(b.ctx, b.project.ID, tn.ID)
		require.NoError(t, err)
		require.Equal(t, "Renamed", got.Name)
		require.Equal(t, map[string]string{"plan": "free"}, got.Metadata)
		require.True(t, got.CreatedAt.Equal(b.now))
		require.True(t, got.UpdatedAt.Equal(later))
	})
	t.Run("GetUnknownOrOtherProjectIsNotFound", func(t *testing.T) {
		b := s.setup(t)
		tn := b.newTenant(t, "acme")
		_, err := b.st.GetTenant(b.ctx, b.project.ID, "nobody")
		requireCode(t, herald.ENOTFOUND, err)
		other := b.newProject(t, "other")
		_, err = b.st.GetTenant(b.ctx, other.ID, tn.ID)
		requireCode(t, herald.ENOTFOUND, err)
	})
	t.Run("ListPagesNewestFirstWithinTheProject", func(t *testing.T) {
		b := s.setup(t)
		var want []string
		for i, id := range []string{"b", "a", "d", "c", "e", "f", "g"} {
			tn := &herald.Tenant{ProjectID: b.project.ID, ID: id, CreatedAt: b.now.Add(time.Duration(i%3) * time.Second)}
			tn.UpdatedAt = tn.CreatedAt
			_, err := b.st.PutTenant(b.ctx, tn)
			require.NoError(t, err)
		}
		// created_at descending, then id descending.
		want = []string{"f", "d", "e", "a", "g", "c", "b"}
		other := b.newProject(t, "other")
		_, err := b.st.PutTenant(b.ctx, &herald.Tenant{ProjectID: other.ID, ID: "zz", CreatedAt: b.now, UpdatedAt: b.now})
		require.NoError(t, err)
		got := pages(t, func(p store.Page) ([]*herald.Tenant, string, error) { return b.st.ListTenants(b.ctx, b.project.ID, p) },
			func(tn *herald.Tenant) string { return tn.ID })
		require.Equal(t, want, got)
	})
	t.Run("CreateEndpointCreatesItsTenant", func(t *testing.T) {
		b := s.setup(t)
		ep := b.tenantEndpoint(t, "new-customer")
		tn, err := b.st.GetTenant(b.ctx, b.project.ID, "new-customer")
		require.NoError(t, err, "the endpoint's tenant was created")
		require.Empty(t, tn.Name)
		got, err := b.st.GetEndpoint(b.ctx, b.project.ID, ep.ID)
		require.NoError(t, err)
		require.Equal(t, "new-customer", got.TenantID)

		named := b.newTenant(t, "named")
		b.tenantEndpoint(t, "named")
		tn, err = b.st.GetTenant(b.ctx, b.project.ID, "named")
		require.NoError(t, err)
		require.Equal(t, named.Name, tn.Name, "an existing tenant is left as it was")
	})
	t.Run("UpdateEndpointKeepsItsTenant", func(t *testing.T) {
		b := s.setup(t)
		ep := b.tenantEndpoint(t, "acme")
		ep.TenantID = "other"
		ep.Name = "renamed"
		require.NoError(t, b.st.UpdateEndpoint(b.ctx, ep))
		got, err := b.st.GetEndpoint(b.ctx, b.project.ID, ep.ID)
		require.NoError(t, err)
		require.Equal(t, "renamed", got.Name)
		require.Equal(t, "acme", got.TenantID)
	})
	t.Run("TenantEndpointsReturnsOneTenantOrTheProjectWide", func(t *testing.T) {
		b := s.setup(t)
		wide := b.tenantEndpoint(t, "")
		a1, a2 := b.tenantEndpoint(t, "a"), b.tenantEndpoint(t, "a")
		bEp := b.tenantEndpoint(t, "b")
		other := b.newProject(t, "other")
		b2 := &testBundle{ctx: b.ctx, st: b.st, now: b.now, project: other}
		b2.tenantEndpoint(t, "a")

		for tenant, want := range map[string][]string{"": {wide.ID}, "a": {a1.ID, a2.ID}, "b": {bEp.ID}, "nobody": {}} {
			eps, err := b.st.TenantEndpoints(b.ctx, b.project.ID, tenant)
			require.NoError(t, err)
			require.ElementsMatch(t, want, endpointIDs(eps), "tenant %q", tenant)
		}
		all, err := b.st.ProjectEndpoints(b.ctx, b.project.ID)
		require.NoError(t, err)
		require.Len(t, all, 4, "ProjectEndpoints still returns every tenant's")
	})
	t.Run("ListEndpointsFiltersByTenant", func(t *testing.T) {
		b := s.setup(t)
		b.tenantEndpoint(t, "")
		a := b.tenantEndpoint(t, "a")
		b.tenantEndpoint(t, "b")
		eps, _, err := b.st.ListEndpoints(b.ctx, b.project.ID, store.EndpointFilter{TenantID: "a"}, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{a.ID}, endpointIDs(eps))
		eps, _, err = b.st.ListEndpoints(b.ctx, b.project.ID, store.EndpointFilter{}, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, eps, 3)
	})
	t.Run("EventsAndDeliveriesCarryTheirTenantAndFilterByIt", func(t *testing.T) {
		b := s.setup(t)
		wide, a, bEp := b.tenantEndpoint(t, ""), b.tenantEndpoint(t, "a"), b.tenantEndpoint(t, "b")
		evA := b.newEvent("user.created", b.now)
		evA.TenantID = "a"
		dAWide, dA := tenantDelivery(evA, wide, b.now), tenantDelivery(evA, a, b.now)
		evB := b.newEvent("user.created", b.now)
		evB.TenantID = "b"
		dB := tenantDelivery(evB, bEp, b.now)
		evNone := b.newEvent("user.created", b.now)
		dNone := tenantDelivery(evNone, wide, b.now)
		b.insert(t, &store.NewEvent{Event: evA, Deliveries: []*herald.Delivery{dAWide, dA}},
			&store.NewEvent{Event: evB, Deliveries: []*herald.Delivery{dB}},
			&store.NewEvent{Event: evNone, Deliveries: []*herald.Delivery{dNone}})

		got, err := b.st.GetEvent(b.ctx, b.project.ID, evA.ID)
		require.NoError(t, err)
		require.Equal(t, "a", got.TenantID)
		require.Equal(t, "a", b.delivery(t, dA.ID).TenantID)
		require.Empty(t, b.delivery(t, dAWide.ID).TenantID, "a tenant's event to a project-wide endpoint belongs to no tenant")

		evs, _, err := b.st.ListEvents(b.ctx, b.project.ID, store.EventFilter{TenantID: "a"}, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, evA.ID, evs[0].ID)
		evs, _, err = b.st.ListEvents(b.ctx, b.project.ID, store.EventFilter{}, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, evs, 3)

		ds, _, err := b.st.ListDeliveries(b.ctx, b.project.ID, store.DeliveryFilter{TenantID: "a"}, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, ds, 1)
		require.Equal(t, dA.ID, ds[0].ID, "only the delivery to a's own endpoint")

		cs := b.claim(t, store.ClaimParams{Now: b.now.Add(time.Second)})
		require.Len(t, cs, 4)
		for _, c := range cs {
			require.Equal(t, c.Delivery.TenantID, map[string]string{dAWide.ID: "", dA.ID: "a", dB.ID: "b", dNone.ID: ""}[c.Delivery.ID])
			require.Equal(t, c.Event.TenantID, map[string]string{evA.ID: "a", evB.ID: "b", evNone.ID: ""}[c.Event.ID], "the claimed event carries its tenant")
		}
	})
	t.Run("DeleteRemovesEndpointsCancelsTheirWorkKeepsEvents", func(t *testing.T) {
		b := s.setup(t)
		b.newTenant(t, "a")
		wide, a, bEp := b.tenantEndpoint(t, ""), b.tenantEndpoint(t, "a"), b.tenantEndpoint(t, "b")
		ev := b.newEvent("user.created", b.now)
		ev.TenantID = "a"
		dWide, dA := tenantDelivery(ev, wide, b.now), tenantDelivery(ev, a, b.now)
		done := b.newEvent("user.created", b.now)
		done.TenantID = "a"
		dDone := tenantDelivery(done, a, b.now)
		dDone.Status, dDone.NextAttemptAt, dDone.Attempts = herald.DeliverySucceeded, nil, 1
		evB := b.newEvent("user.created", b.now)
		evB.TenantID = "b"
		dB := tenantDelivery(evB, bEp, b.now)
		b.insert(t, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{dWide, dA}},
			&store.NewEvent{Event: done, Deliveries: []*herald.Delivery{dDone}},
			&store.NewEvent{Event: evB, Deliveries: []*herald.Delivery{dB}})

		require.NoError(t, b.st.DeleteTenant(b.ctx, b.project.ID, "a"))
		_, err := b.st.GetTenant(b.ctx, b.project.ID, "a")
		requireCode(t, herald.ENOTFOUND, err)
		_, err = b.st.GetEndpoint(b.ctx, b.project.ID, a.ID)
		requireCode(t, herald.ENOTFOUND, err)
		require.Equal(t, herald.DeliveryCanceled, b.delivery(t, dA.ID).Status)
		require.Equal(t, herald.DeliverySucceeded, b.delivery(t, dDone.ID).Status, "finished work stays as it was")
		require.Equal(t, herald.DeliveryPending, b.delivery(t, dWide.ID).Status, "the project-wide endpoint keeps its delivery")
		require.Equal(t, herald.DeliveryPending, b.delivery(t, dB.ID).Status, "another tenant is untouched")
		_, err = b.st.GetEndpoint(b.ctx, b.project.ID, bEp.ID)
		require.NoError(t, err)
		evs, _, err := b.st.ListEvents(b.ctx, b.project.ID, store.EventFilter{TenantID: "a"}, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, evs, 2, "its events stay until retention")

		cs := b.claim(t, store.ClaimParams{Now: b.now.Add(time.Second)})
		require.ElementsMatch(t, []string{dWide.ID, dB.ID}, claimedIDs(cs))

		requireCode(t, herald.ENOTFOUND, b.st.DeleteTenant(b.ctx, b.project.ID, "a"))
	})
	t.Run("RoutingChangesReportWhatRoutingSees", func(t *testing.T) {
		b := s.setup(t)
		version := func() int64 {
			t.Helper()
			c, err := b.st.RoutingChanges(b.ctx, b.project.ID, -1)
			require.NoError(t, err)
			require.False(t, c.All || c.Wide || len(c.Tenants) > 0, "since < 0: the version alone")
			return c.Version
		}
		// changed asserts what changed since v and returns the new version.
		changed := func(v int64, all, wide bool, tenants ...string) int64 {
			t.Helper()
			c, err := b.st.RoutingChanges(b.ctx, b.project.ID, v)
			require.NoError(t, err)
			require.Equal(t, all, c.All, "all")
			require.Equal(t, wide, c.Wide, "wide")
			require.ElementsMatch(t, tenants, c.Tenants, "tenants")
			if all || wide || len(tenants) > 0 {
				require.Greater(t, c.Version, v)
			} else {
				require.Equal(t, v, c.Version)
			}
			return c.Version
		}
		v := version()
		a := b.tenantEndpoint(t, "a")
		v = changed(v, false, false, "a")
		wide := b.tenantEndpoint(t, "")
		v = changed(v, false, true)
		b.tenantEndpoint(t, "b")
		b.tenantEndpoint(t, "c")
		v = changed(v, false, false, "b", "c")

		a.Name = "renamed"
		require.NoError(t, b.st.UpdateEndpoint(b.ctx, a))
		v = changed(v, false, false, "a")
		require.NoError(t, b.st.UpdateEndpointHealth(b.ctx, a.ID, store.EndpointHealth{Status: herald.EndpointFailing, ConsecutiveFailures: 1}))
		v = changed(v, false, false)
		require.NoError(t, b.st.UpdateEndpointHealth(b.ctx, a.ID, store.EndpointHealth{Status: herald.EndpointDisabled, DisabledReason: "gone"}))
		v = changed(v, false, false, "a")
		require.NoError(t, b.st.UpdateEndpointHealth(b.ctx, a.ID, store.EndpointHealth{Status: herald.EndpointHealthy}))
		v = changed(v, false, false, "a")
		_, err := b.st.PutTenant(b.ctx, &herald.Tenant{ProjectID: b.project.ID, ID: "a", Name: "A", CreatedAt: b.now, UpdatedAt: b.now})
		require.NoError(t, err)
		v = changed(v, false, false)
		require.NoError(t, b.st.DeleteEndpoint(b.ctx, b.project.ID, wide.ID))
		v = changed(v, false, true)

		other := b.newProject(t, "other")
		b2 := &testBundle{ctx: b.ctx, st: b.st, now: b.now, project: other}
		b2.tenantEndpoint(t, "a")
		v = changed(v, false, false)

		require.NoError(t, b.st.DeleteTenant(b.ctx, b.project.ID, "b"))
		changed(v, true, false)

		_, err = b.st.RoutingChanges(b.ctx, "prj_nope", -1)
		requireCode(t, herald.ENOTFOUND, err)
	})
}
