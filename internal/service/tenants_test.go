package service_test

import (
	"context"
	"sync"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/service"
	"github.com/stretchr/testify/require"
)

// ended records the tenants whose deletion reached the cleanup steps.
var ended struct {
	sync.Mutex
	tenants []string
}

func init() {
	service.AddTenantCleanup(func(_ *service.Service, _ context.Context, projectID, tenantID string) error {
		ended.Lock()
		defer ended.Unlock()
		ended.tenants = append(ended.tenants, projectID+"/"+tenantID)
		return nil
	})
}

func TestDeletingATenantRunsItsCleanupSteps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.PutTenant(b.ctx, &herald.Tenant{ProjectID: b.p.ID, ID: "cleanup-acme"})
	require.NoError(t, err)
	require.NoError(t, b.svc.DeleteTenant(b.ctx, b.p.ID, "cleanup-acme"))
	ended.Lock()
	defer ended.Unlock()
	require.Contains(t, ended.tenants, b.p.ID+"/cleanup-acme", "the portal's sessions end with their tenant")
}

func TestATenantBoundPrincipalReachesOnlyItsTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := service.WithPrincipal(b.ctx, service.Principal{ProjectID: b.p.ID, TenantID: "acme", Scopes: []string{herald.ScopeAll}})
	ep := &herald.Endpoint{URL: b.recv.URL, Enabled: true}
	require.NoError(t, b.svc.CreateEndpoint(ctx, b.p.ID, ep))
	require.Equal(t, "acme", ep.TenantID)
	other := &herald.Endpoint{URL: b.recv.URL, Enabled: true, TenantID: "globex"}
	require.NoError(t, b.svc.CreateEndpoint(b.ctx, b.p.ID, other))
	_, err := b.svc.Endpoint(ctx, b.p.ID, other.ID)
	require.True(t, herald.IsNotFound(err))
	require.True(t, herald.IsNotFound(b.svc.DeleteEndpoint(ctx, b.p.ID, other.ID)))
	_, err = b.svc.Tenant(ctx, b.p.ID, "globex")
	require.True(t, herald.IsNotFound(err))
	require.True(t, herald.IsNotFound(b.svc.DeleteTenant(ctx, b.p.ID, "globex")))
	_, err = b.svc.Endpoint(b.ctx, b.p.ID, other.ID)
	require.NoError(t, err, "nothing of the other tenant was touched")
}
