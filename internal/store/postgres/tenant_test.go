package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/postgres"
	"github.com/stretchr/testify/require"
)

// TestMigrate00006EverythingBeforeIsProjectWide: a database written before
// tenants (migration 00005) migrates; its endpoints, events and deliveries
// are project-wide, route as such, and tenants can be added beside them.
func TestMigrate00006EverythingBeforeIsProjectWide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := newDatabase(t)
	require.NoError(t, postgres.MigrateTo(ctx, url, 5))
	conn := sqlConn(t, url)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, q := range []string{
		`INSERT INTO projects (id, name, created_at, updated_at) VALUES ('p', 'p', $1, $1)`,
		`INSERT INTO endpoints (id, project_id, url, created_at, updated_at) VALUES ('ep_old', 'p', 'https://example.com/', $1, $1)`,
		`INSERT INTO events (id, project_id, type, occurred_at, created_at) VALUES ('ev_old', 'p', 't', $1, $1)`,
		`INSERT INTO deliveries (id, project_id, event_id, endpoint_id, event_type, status, next_attempt_at, created_at, updated_at)
			VALUES ('dl_old', 'p', 'ev_old', 'ep_old', 't', 'pending', $1, $1, $1)`,
	} {
		_, err := conn.Exec(ctx, q, now)
		require.NoError(t, err, q)
	}

	db, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	wide, err := db.TenantEndpoints(ctx, "p", "")
	require.NoError(t, err)
	require.Len(t, wide, 1)
	require.Equal(t, "ep_old", wide[0].ID)
	require.Empty(t, wide[0].TenantID)
	ev, err := db.GetEvent(ctx, "p", "ev_old")
	require.NoError(t, err)
	require.Empty(t, ev.TenantID)
	d, err := db.GetDelivery(ctx, "p", "dl_old")
	require.NoError(t, err)
	require.Empty(t, d.TenantID)
	ts, _, err := db.ListTenants(ctx, "p", store.Page{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, ts)

	ep := &herald.Endpoint{ID: "ep_new", ProjectID: "p", TenantID: "acme", URL: "https://example.com/acme", Enabled: true}
	ep.SetDefaults()
	require.NoError(t, db.CreateEndpoint(ctx, ep))
	_, err = db.GetTenant(ctx, "p", "acme")
	require.NoError(t, err)
	acme, err := db.TenantEndpoints(ctx, "p", "acme")
	require.NoError(t, err)
	require.Len(t, acme, 1)
	wide, err = db.TenantEndpoints(ctx, "p", "")
	require.NoError(t, err)
	require.Len(t, wide, 1, "the tenant's endpoint is not project-wide")
}
