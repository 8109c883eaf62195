package storetest

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

func (s *suite) portalSessions(t *testing.T) {
	newSession := func(b *testBundle, tenant, hash string, types []string) *herald.PortalSession {
		return &herald.PortalSession{ID: herald.NewID(herald.PrefixPortalSession), ProjectID: b.project.ID, TenantID: tenant,
			TokenHash: hash, ReadOnly: true, EventTypes: types, Locale: "fr",
			ExpiresAt: b.now.Add(time.Hour), CreatedAt: b.now}
	}
	t.Run("CreateGetRoundTrip", func(t *testing.T) {
		b := s.setup(t)
		b.newTenant(t, "acme")
		ps := newSession(b, "acme", herald.HashKey("token-1"), []string{"order.paid", "order.shipped"})
		require.NoError(t, b.st.CreatePortalSession(b.ctx, ps))
		got, err := b.st.GetPortalSessionByHash(b.ctx, ps.TokenHash)
		require.NoError(t, err)
		equal(t, ps, got)

		all := newSession(b, "acme", herald.HashKey("token-2"), nil)
		all.ReadOnly = false
		require.NoError(t, b.st.CreatePortalSession(b.ctx, all))
		got, err = b.st.GetPortalSessionByHash(b.ctx, all.TokenHash)
		require.NoError(t, err)
		require.Nil(t, got.EventTypes, "nil event types (the whole catalog) reads back nil")
		require.False(t, got.ReadOnly)
	})
	t.Run("UnknownHashNotFound", func(t *testing.T) {
		b := s.setup(t)
		_, err := b.st.GetPortalSessionByHash(b.ctx, herald.HashKey("nobody"))
		require.True(t, herald.IsNotFound(err), "%v", err)
	})
	t.Run("MissingTenantNotFound", func(t *testing.T) {
		b := s.setup(t)
		err := b.st.CreatePortalSession(b.ctx, newSession(b, "ghost", herald.HashKey("t"), nil))
		require.True(t, herald.IsNotFound(err), "%v", err)
	})
	t.Run("DeletePortalSessionsOfOneTenant", func(t *testing.T) {
		b := s.setup(t)
		b.newTenant(t, "a")
		b.newTenant(t, "b")
		a1, a2, b1 := newSession(b, "a", herald.HashKey("a1"), nil), newSession(b, "a", herald.HashKey("a2"), nil), newSession(b, "b", herald.HashKey("b1"), nil)
		for _, ps := range []*herald.PortalSession{a1, a2, b1} {
			require.NoError(t, b.st.CreatePortalSession(b.ctx, ps))
		}
		n, err := b.st.DeletePortalSessions(b.ctx, b.project.ID, "a")
		require.NoError(t, err)
		require.Equal(t, 2, n)
		_, err = b.st.GetPortalSessionByHash(b.ctx, a1.TokenHash)
		require.True(t, herald.IsNotFound(err), "%v", err)
		_, err = b.st.GetPortalSessionByHash(b.ctx, b1.TokenHash)
		require.NoError(t, err, "another tenant's session stays")
	})
	t.Run("LongExpiredSessionsAreDropped", func(t *testing.T) {
		b := s.setup(t)
		b.newTenant(t, "a")
		b.newTenant(t, "b")
		old, recent, otherOld := newSession(b, "a", herald.HashKey("old"), nil), newSession(b, "a", herald.HashKey("recent"), nil), newSession(b, "b", herald.HashKey("b-old"), nil)
		old.ExpiresAt = b.now.Add(-store.PortalSessionKeep - time.Minute)
		otherOld.ExpiresAt = old.ExpiresAt
		recent.ExpiresAt = b.now.Add(-time.Minute)
		for _, ps := range []*herald.PortalSession{old, recent, otherOld} {
			ps.CreatedAt = ps.ExpiresAt.Add(-time.Hour)
			require.NoError(t, b.st.CreatePortalSession(b.ctx, ps))
		}
		require.NoError(t, b.st.CreatePortalSession(b.ctx, newSession(b, "a", herald.HashKey("new"), nil)))
		_, err := b.st.GetPortalSessionByHash(b.ctx, old.TokenHash)
		require.True(t, herald.IsNotFound(err), "expired long ago: dropped (%v)", err)
		_, err = b.st.GetPortalSessionByHash(b.ctx, recent.TokenHash)
		require.NoError(t, err, "recently expired: kept, to say so")
		_, err = b.st.GetPortalSessionByHash(b.ctx, otherOld.TokenHash)
		require.NoError(t, err, "another tenant's are its own business")
	})
	t.Run("DeleteTenantEndsSessions", func(t *testing.T) {
		b := s.setup(t)
		b.newTenant(t, "gone")
		ps := newSession(b, "gone", herald.HashKey("g"), nil)
		require.NoError(t, b.st.CreatePortalSession(b.ctx, ps))
		require.NoError(t, b.st.DeleteTenant(b.ctx, b.project.ID, "gone"))
		_, err := b.st.GetPortalSessionByHash(b.ctx, ps.TokenHash)
		require.True(t, herald.IsNotFound(err), "%v", err)
	})
}

// deliveryEventType: the portal's logs filter a tenant's deliveries by
// their event's type.
func (s *suite) deliveryEventType(t *testing.T) {
	b := s.setup(t)
	ep := b.tenantEndpoint(t, "")
	paid, shipped := b.newEvent("order.paid", b.now), b.newEvent("order.shipped", b.now)
	b.insert(t, &store.NewEvent{Event: paid, Deliveries: []*herald.Delivery{newDelivery(paid, ep, b.now)}},
		&store.NewEvent{Event: shipped, Deliveries: []*herald.Delivery{newDelivery(shipped, ep, b.now)}})
	ds, _, err := b.st.ListDeliveries(b.ctx, b.project.ID, store.DeliveryFilter{EventType: "order.paid"}, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, paid.ID, ds[0].EventID)
	ds, _, err = b.st.ListDeliveries(b.ctx, b.project.ID, store.DeliveryFilter{}, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, ds, 2)
}
