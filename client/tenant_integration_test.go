package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald/client"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/stretchr/testify/require"
)

// endpointIDs lists the ids of a page of endpoints, sorted.
func endpointIDs(p *client.Page[client.Endpoint]) []string {
	var ids []string
	for _, ep := range p.Data {
		ids = append(ids, ep.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestIntegrationTenants drives the tenant calls and the tenant_id fields
// against a real Herald: a tenant's event reaches its own endpoints and the
// project-wide ones, never another tenant's, and every list filters by
// tenant.
func TestIntegrationTenants(t *testing.T) {
	t.Parallel()
	b := setupHerald(t)
	c := b.project(t, "shop")
	ctx := context.Background()

	acme, err := c.PutTenant(ctx, "shop", "acme", client.TenantPut{Name: "Acme", Metadata: map[string]string{"plan": "pro"}})
	require.NoError(t, err)
	require.True(t, acme.Created)
	require.Equal(t, "shop", acme.ProjectID)
	require.Equal(t, map[string]string{"plan": "pro"}, acme.Metadata)
	again, err := c.PutTenant(ctx, "shop", "acme", client.TenantPut{Name: "Acme Inc"})
	require.NoError(t, err)
	require.False(t, again.Created, "a second PUT updates")
	got, err := c.GetTenant(ctx, "shop", "acme")
	require.NoError(t, err)
	require.Equal(t, "Acme Inc", got.Name)
	require.Empty(t, got.Metadata, "a PUT replaces the metadata whole")

	_, err = c.PutTenant(ctx, "shop", "no spaces", client.TenantPut{})
	requireAPIError(t, err, http.StatusUnprocessableEntity)
	_, err = c.GetTenant(ctx, "shop", "nobody")
	requireAPIError(t, err, http.StatusNotFound)

	rAcme, rGlobex, rWide := newReceiver(t, 200), newReceiver(t, 200), newReceiver(t, 200)
	epAcme, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: rAcme.url, TenantID: "acme"})
	require.NoError(t, err)
	require.Equal(t, "acme", epAcme.TenantID)
	// An endpoint of a tenant that does not exist yet creates it.
	epGlobex, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: rGlobex.url, TenantID: "globex"})
	require.NoError(t, err)
	epWide, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: rWide.url})
	require.NoError(t, err)
	require.Empty(t, epWide.TenantID)

	tenants, err := c.ListTenants(ctx, "shop", client.ListOptions{})
	require.NoError(t, err)
	var tenantIDs []string
	for _, tn := range tenants.Data {
		tenantIDs = append(tenantIDs, tn.ID)
	}
	slices.Sort(tenantIDs)
	require.Equal(t, []string{"acme", "globex"}, tenantIDs)

	eps, err := c.ListEndpoints(ctx, "shop", client.EndpointListOptions{TenantID: "acme"})
	require.NoError(t, err)
	require.Equal(t, []string{epAcme.ID}, endpointIDs(eps))
	eps, err = c.ListEndpoints(ctx, "shop", client.EndpointListOptions{})
	require.NoError(t, err)
	require.Len(t, eps.Data, 3)

	updated, err := c.UpdateEndpoint(ctx, "shop", epAcme.ID, client.EndpointUpdate{Name: client.Set("renamed")})
	require.NoError(t, err)
	require.Equal(t, "acme", updated.TenantID, "an update keeps the tenant")

	res, err := c.SendEvent(ctx, "shop", client.EventInput{Type: "order.paid", Data: map[string]int{"n": 1}, TenantID: "acme"})
	require.NoError(t, err)
	require.Equal(t, "acme", res.TenantID)
	require.Equal(t, 2, res.Deliveries, "acme's endpoint and the project-wide one")
	batch, err := c.SendEvents(ctx, "shop", []client.EventInput{
		{Type: "order.paid", Data: map[string]int{"n": 2}, TenantID: "globex"},
		{Type: "order.paid", Data: map[string]int{"n": 3}},
	})
	require.NoError(t, err)
	require.Equal(t, "globex", batch.Data[0].TenantID)
	require.Equal(t, 2, batch.Data[0].Deliveries)
	require.Empty(t, batch.Data[1].TenantID)
	require.Equal(t, 1, batch.Data[1].Deliveries, "a project-wide event reaches only project-wide endpoints")

	testkit.WaitFor(t, "the wide endpoint to receive the three events", func() bool { return len(rWide.all()) == 3 })
	testkit.WaitFor(t, "acme and globex to receive theirs", func() bool { return len(rAcme.all()) == 1 && len(rGlobex.all()) == 1 })
	var env struct {
		TenantID string          `json:"tenant_id"`
		Data     json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(rAcme.all()[0].body, &env))
	require.Equal(t, "acme", env.TenantID)
	require.JSONEq(t, `{"n":1}`, string(env.Data), "acme received only its own event")

	evs, err := c.ListEvents(ctx, "shop", client.EventListOptions{TenantID: "acme"})
	require.NoError(t, err)
	require.Len(t, evs.Data, 1)
	require.Equal(t, res.ID, evs.Data[0].ID)
	require.Equal(t, "acme", evs.Data[0].TenantID)

	testkit.WaitFor(t, "acme's delivery to succeed", func() bool {
		ds, err := c.ListDeliveries(ctx, "shop", client.DeliveryListOptions{TenantID: "acme", Status: client.DeliverySucceeded})
		require.NoError(t, err)
		return len(ds.Data) == 1
	})
	ds, err := c.ListDeliveries(ctx, "shop", client.DeliveryListOptions{TenantID: "acme"})
	require.NoError(t, err)
	require.Len(t, ds.Data, 1, "a tenant's deliveries are those to its endpoints")
	require.Equal(t, epAcme.ID, ds.Data[0].EndpointID)
	require.Equal(t, "acme", ds.Data[0].TenantID)

	_, err = c.ListDeliveries(ctx, "shop", client.DeliveryListOptions{TenantID: "bad tenant"})
	requireAPIError(t, err, http.StatusUnprocessableEntity)

	require.NoError(t, c.DeleteTenant(ctx, "shop", "acme"))
	_, err = c.GetTenant(ctx, "shop", "acme")
	requireAPIError(t, err, http.StatusNotFound)
	_, err = c.GetEndpoint(ctx, "shop", epAcme.ID)
	requireAPIError(t, err, http.StatusNotFound)
	_, err = c.GetEndpoint(ctx, "shop", epGlobex.ID)
	require.NoError(t, err, "another tenant's endpoint stays")
}

// TestIntegrationScopedAPIKeys creates scoped, tenant-bound and expiring
// keys with CreateAPIKey and uses them: a key does what its scopes allow,
// a refusal is a 403 naming the scope, a tenant-bound key sees only its
// tenant, and an expired key is refused.
func TestIntegrationScopedAPIKeys(t *testing.T) {
	t.Parallel()
	b := setupHerald(t)
	c := b.project(t, "shop")
	ctx := context.Background()
	_, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: "https://example.com/wide"})
	require.NoError(t, err)
	epAcme, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: "https://example.com/acme", TenantID: "acme"})
	require.NoError(t, err)
	_, err = c.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: "https://example.com/globex", TenantID: "globex"})
	require.NoError(t, err)

	// A key that may only send events.
	sender, err := c.CreateAPIKey(ctx, "shop", client.APIKeyCreate{Name: "checkout", Scopes: []string{client.ScopeEventsWrite}})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(sender.Key, "hk_"), "the key is in the create answer")
	require.Equal(t, "checkout", sender.Name)
	require.Equal(t, []string{client.ScopeEventsWrite}, sender.Scopes)
	require.Nil(t, sender.ExpiresAt)
	sc := newClient(t, b.url, sender.Key)
	_, err = sc.SendEvent(ctx, "shop", client.EventInput{Type: "order.paid", Data: map[string]int{}})
	require.NoError(t, err)
	_, err = sc.ListEndpoints(ctx, "shop", client.EndpointListOptions{})
	apiErr := requireAPIError(t, err, http.StatusForbidden)
	require.True(t, strings.HasSuffix(apiErr.Type, "/scope-required"), "type %q", apiErr.Type)
	require.Contains(t, apiErr.Detail, client.ScopeRead)
	// A key never makes a key with more power than its own.
	_, err = sc.CreateAPIKey(ctx, "shop", client.APIKeyCreate{Scopes: []string{client.ScopeRead}})
	requireAPIError(t, err, http.StatusForbidden)

	_, err = c.CreateAPIKey(ctx, "shop", client.APIKeyCreate{Scopes: []string{client.ScopeRead, "root"}})
	requireLocation(t, err, "body.scopes[1]")

	// A key bound to acme sees acme's endpoint and nothing else.
	bound, err := c.CreateAPIKey(ctx, "shop", client.APIKeyCreate{Name: "acme portal", Scopes: []string{client.ScopeRead, client.ScopeEndpointsWrite}, TenantID: "acme"})
	require.NoError(t, err)
	require.Equal(t, "acme", bound.TenantID)
	bc := newClient(t, b.url, bound.Key)
	eps, err := bc.ListEndpoints(ctx, "shop", client.EndpointListOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{epAcme.ID}, endpointIDs(eps))
	_, err = bc.ListEndpoints(ctx, "shop", client.EndpointListOptions{TenantID: "globex"})
	requireAPIError(t, err, http.StatusUnprocessableEntity)
	made, err := bc.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: "https://example.com/acme2"})
	require.NoError(t, err)
	require.Equal(t, "acme", made.TenantID, "a tenant-bound key's endpoints belong to its tenant")

	keys, err := c.ListAPIKeys(ctx, "shop", client.ListOptions{})
	require.NoError(t, err)
	var listed *client.APIKey
	for i := range keys.Data {
		require.Empty(t, keys.Data[i].Key, "a list never shows a key")
		if keys.Data[i].ID == bound.ID {
			listed = &keys.Data[i]
		}
	}
	require.NotNil(t, listed)
	require.Equal(t, "acme portal", listed.Name)
	require.Equal(t, "acme", listed.TenantID)
	require.ElementsMatch(t, []string{client.ScopeRead, client.ScopeEndpointsWrite}, listed.Scopes)

	// An expiry in the past is refused; one a moment ahead ends the key.
	_, err = c.CreateAPIKey(ctx, "shop", client.APIKeyCreate{ExpiresAt: time.Now().Add(-time.Hour)})
	requireLocation(t, err, "body.expires_at")
	soon := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	brief, err := c.CreateAPIKey(ctx, "shop", client.APIKeyCreate{Scopes: []string{client.ScopeRead}, ExpiresAt: soon})
	require.NoError(t, err)
	require.NotNil(t, brief.ExpiresAt)
	require.True(t, brief.ExpiresAt.Equal(soon), "expires_at %v, want %v", brief.ExpiresAt, soon)
	ec := newClient(t, b.url, brief.Key)
	_, err = ec.GetProject(ctx, "shop")
	require.NoError(t, err)
	testkit.WaitFor(t, "the key to expire", func() bool {
		_, err := ec.GetProject(ctx, "shop")
		return err != nil
	})
	_, err = ec.GetProject(ctx, "shop")
	apiErr = requireAPIError(t, err, http.StatusUnauthorized)
	require.Contains(t, apiErr.Detail, "expired")
}
