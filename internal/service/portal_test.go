package service_test

import (
	"errors"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

func (b *testBundle) catalogTypes(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		require.NoError(t, b.svc.CreateEventType(b.ctx, &herald.EventType{ProjectID: b.p.ID, Name: n, Description: "about " + n}))
	}
}

func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var he *herald.Error
	require.True(t, errors.As(err, &he), "%v", err)
	require.Equal(t, herald.EINVALID, he.Code, "%v", err)
	require.NotEmpty(t, he.Fields)
	return he.Fields[0].Location
}

func TestPortalSessionCreateDefaultsAndBounds(t *testing.T) {
	b := setup(t)
	b.catalogTypes(t, "order.paid", "order.shipped")
	ps, token, err := b.svc.CreatePortalSession(b.ctx, b.p.ID, service.PortalSessionInput{TenantID: "acme"})
	require.NoError(t, err)
	require.Equal(t, b.clock().Add(time.Hour), ps.ExpiresAt, "default expiry is one hour")
	require.Nil(t, ps.EventTypes, "default: the whole catalog")
	require.NotContains(t, ps.TokenHash, token)
	_, err = b.st.GetTenant(b.ctx, b.p.ID, "acme")
	require.NoError(t, err, "the session created its tenant")

	d := func(x time.Duration) *time.Duration { return &x }
	for _, c := range []struct {
		in    service.PortalSessionInput
		field string
	}{
		{service.PortalSessionInput{}, "body.tenant_id"},
		{service.PortalSessionInput{TenantID: "bad id!"}, "body.tenant_id"},
		{service.PortalSessionInput{TenantID: "a", ExpiresIn: d(0)}, "body.expires_in"},
		{service.PortalSessionInput{TenantID: "a", ExpiresIn: d(169 * time.Hour)}, "body.expires_in"},
		{service.PortalSessionInput{TenantID: "a", Locale: "de"}, "body.locale"},
		{service.PortalSessionInput{TenantID: "a", EventTypes: []string{"order.paid", "user.deleted"}}, "body.event_types"},
	} {
		_, _, err := b.svc.CreatePortalSession(b.ctx, b.p.ID, c.in)
		require.Equal(t, c.field, fieldOf(t, err), "%+v", c.in)
	}
	_, err = b.st.GetTenant(b.ctx, b.p.ID, "a")
	require.True(t, herald.IsNotFound(err), "a refused session creates no tenant")

	ps, _, err = b.svc.CreatePortalSession(b.ctx, b.p.ID, service.PortalSessionInput{TenantID: "acme", ExpiresIn: d(168 * time.Hour),
		EventTypes: []string{"order.paid"}, Locale: "ru", ReadOnly: true})
	require.NoError(t, err)
	require.Equal(t, []string{"order.paid"}, ps.EventTypes)
	require.Equal(t, "ru", ps.Locale)
}

func TestPortalSessionLookupExpiryAndTenantDelete(t *testing.T) {
	b := setup(t)
	ps, token, err := b.svc.CreatePortalSession(b.ctx, b.p.ID, service.PortalSessionInput{TenantID: "acme"})
	require.NoError(t, err)
	got, err := b.svc.PortalSession(b.ctx, token)
	require.NoError(t, err)
	require.Equal(t, ps.ID, got.ID)

	_, err = b.svc.PortalSession(b.ctx, token+"x")
	require.ErrorIs(t, err, service.ErrPortalSessionUnknown)
	_, err = b.svc.PortalSession(b.ctx, "")
	require.ErrorIs(t, err, service.ErrPortalSessionUnknown)

	b.now.Add(int64(time.Hour))
	_, err = b.svc.PortalSession(b.ctx, token)
	require.ErrorIs(t, err, service.ErrPortalSessionExpired)
	require.Equal(t, herald.EUNAUTHORIZED, herald.ErrorCode(err))

	_, token2, err := b.svc.CreatePortalSession(b.ctx, b.p.ID, service.PortalSessionInput{TenantID: "acme"})
	require.NoError(t, err)
	require.NoError(t, b.st.DeleteTenant(b.ctx, b.p.ID, "acme"))
	_, err = b.svc.PortalSession(b.ctx, token2)
	require.ErrorIs(t, err, service.ErrPortalSessionUnknown, "deleting the tenant ends its sessions")
}

func TestPortalScopesToTenantAndTypes(t *testing.T) {
	b := setup(t)
	b.catalogTypes(t, "order.paid", "order.shipped")
	ps, _, err := b.svc.CreatePortalSession(b.ctx, b.p.ID, service.PortalSessionInput{TenantID: "acme", EventTypes: []string{"order.paid"}})
	require.NoError(t, err)
	other := &herald.Endpoint{URL: b.recv.URL, Enabled: true, TenantID: "globex"}
	require.NoError(t, b.svc.CreateEndpoint(b.ctx, b.p.ID, other))
	wide := &herald.Endpoint{URL: b.recv.URL, Enabled: true}
	require.NoError(t, b.svc.CreateEndpoint(b.ctx, b.p.ID, wide))

	for _, id := range []string{other.ID, wide.ID} {
		_, err = b.svc.PortalEndpoint(b.ctx, ps, id)
		require.True(t, herald.IsNotFound(err), "%v", err)
		require.True(t, herald.IsNotFound(b.svc.PortalDeleteEndpoint(b.ctx, ps, id)))
		_, err = b.svc.PortalRotateSecret(b.ctx, ps, id)
		require.True(t, herald.IsNotFound(err), "%v", err)
	}

	ep := &herald.Endpoint{URL: b.recv.URL, Enabled: true, EventTypes: []string{"order.shipped"}, TenantID: "globex"}
	require.Equal(t, "body.event_types", fieldOf(t, b.svc.PortalCreateEndpoint(b.ctx, ps, ep)), "a type the session does not offer")
	ep.EventTypes = nil
	require.Equal(t, "body.event_types", fieldOf(t, b.svc.PortalCreateEndpoint(b.ctx, ps, ep)), "no types would mean all of them")
	ep.EventTypes = []string{"order.paid"}
	require.NoError(t, b.svc.PortalCreateEndpoint(b.ctx, ps, ep))
	require.Equal(t, "acme", ep.TenantID, "the session's tenant, whatever was asked")

	eps, err := b.svc.PortalEndpoints(b.ctx, ps)
	require.NoError(t, err)
	require.Len(t, eps, 1)
	ds, _, err := b.svc.PortalDeliveries(b.ctx, ps, store.DeliveryFilter{TenantID: "globex"}, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, ds)

	ro := *ps
	ro.ReadOnly = true
	require.ErrorIs(t, b.svc.PortalCreateEndpoint(b.ctx, &ro, &herald.Endpoint{URL: b.recv.URL, EventTypes: []string{"order.paid"}}), service.ErrPortalReadOnly)
	require.ErrorIs(t, b.svc.PortalDeleteEndpoint(b.ctx, &ro, ep.ID), service.ErrPortalReadOnly)
	_, err = b.svc.PortalRotateSecret(b.ctx, &ro, ep.ID)
	require.ErrorIs(t, err, service.ErrPortalReadOnly)
	_, err = b.svc.PortalTestEndpoint(b.ctx, &ro, ep.ID, "")
	require.ErrorIs(t, err, service.ErrPortalReadOnly)
}

func TestPortalSettingsValidation(t *testing.T) {
	b := setup(t)
	got, err := b.svc.PortalSettings(b.ctx, b.p.ID)
	require.NoError(t, err)
	require.Equal(t, &herald.PortalSettings{AllowedOrigins: []string{}}, got)
	for _, c := range []struct {
		in    herald.PortalSettings
		field string
	}{
		{herald.PortalSettings{AccentColor: "red"}, "body.accent_color"},
		{herald.PortalSettings{LogoURL: "javascript:alert(1)"}, "body.logo_url"},
		{herald.PortalSettings{AllowedOrigins: []string{"https://a.example/path"}}, "body.allowed_origins"},
		{herald.PortalSettings{AllowedOrigins: []string{"https://a.example 'unsafe-inline'"}}, "body.allowed_origins"},
	} {
		require.Equal(t, c.field, fieldOf(t, b.svc.SetPortalSettings(b.ctx, b.p.ID, &c.in)))
	}
	in := &herald.PortalSettings{DisplayName: "Acme Shop", AccentColor: "#0a7f5a", AllowedOrigins: []string{"https://App.Example:8443/"}}
	require.NoError(t, b.svc.SetPortalSettings(b.ctx, b.p.ID, in))
	got, err = b.svc.PortalSettings(b.ctx, b.p.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"https://app.example:8443"}, got.AllowedOrigins)
	require.Equal(t, "Acme Shop", got.DisplayName)
}

func TestPortalSessionOfATenantBoundKeyStaysInItsTenant(t *testing.T) {
	b := setup(t)
	bound := service.WithPrincipal(b.ctx, service.Principal{ProjectID: b.p.ID, Scopes: []string{herald.ScopePortalWrite}, TenantID: "acme"})
	_, _, err := b.svc.CreatePortalSession(bound, b.p.ID, service.PortalSessionInput{TenantID: "globex"})
	require.True(t, herald.IsNotFound(err), "another tenant's portal: %v", err)
	_, err = b.st.GetTenant(b.ctx, b.p.ID, "globex")
	require.True(t, herald.IsNotFound(err), "and no tenant was created for it")
	_, _, err = b.svc.CreatePortalSession(bound, b.p.ID, service.PortalSessionInput{TenantID: "acme"})
	require.NoError(t, err, "its own tenant's portal")
}
