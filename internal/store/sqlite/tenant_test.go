package sqlite

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// TestMigrate00010EverythingBeforeIsProjectWide: a database written before
// tenants migrates; its endpoints, events and deliveries are project-wide,
// route as such, and tenants can be added beside them.
func TestMigrate00010EverythingBeforeIsProjectWide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, old, _ := oldSchema(t, 9)
	rows := seedOld(t, old)
	db := reopen(t, old, path)
	p := rows.p

	wide, err := db.TenantEndpoints(ctx, p.ID, "")
	require.NoError(t, err)
	require.Len(t, wide, 1)
	require.Equal(t, rows.ep.ID, wide[0].ID)
	require.Empty(t, wide[0].TenantID)
	for _, ev := range rows.events {
		got, err := db.GetEvent(ctx, p.ID, ev.ID)
		require.NoError(t, err)
		require.Empty(t, got.TenantID)
	}
	for _, d := range rows.ds {
		require.Empty(t, mustDelivery(t, db, p.ID, d.ID).TenantID)
	}
	ts, _, err := db.ListTenants(ctx, p.ID, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, ts)

	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: p.ID, TenantID: "acme", URL: "https://example.com/acme", Enabled: true}
	ep.SetDefaults()
	require.NoError(t, db.CreateEndpoint(ctx, ep))
	_, err = db.GetTenant(ctx, p.ID, "acme")
	require.NoError(t, err)
	wide, err = db.TenantEndpoints(ctx, p.ID, "")
	require.NoError(t, err)
	require.Len(t, wide, 1, "the tenant's endpoint is not project-wide")
	cs, err := db.ClaimDeliveries(ctx, store.ClaimParams{Owner: "o", Now: rows.ds[1].CreatedAt.Add(1), Lease: 60e9, Limit: 10})
	require.NoError(t, err)
	require.Len(t, cs, 2, "the old pending delivery and the expired lease are claimed as before")
}

func mustDelivery(t *testing.T, db *DB, projectID, id string) *herald.Delivery {
	t.Helper()
	d, err := db.GetDelivery(context.Background(), projectID, id)
	require.NoError(t, err)
	return d
}

// TestTenantQueriesUseIndexes: routing's per-tenant load and the tenant
// filters of the lists find their rows through the tenant indexes (the
// partial ones only when the query names their condition).
func TestTenantQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	db := openTemp(t, Options{})
	ctx := context.Background()
	plan := func(q string, args ...any) []string {
		t.Helper()
		rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			out = append(out, detail)
		}
		return out
	}
	require.Contains(t, plan(`SELECT `+endpointCols+` FROM endpoints WHERE project_id = ? AND tenant_id = ? ORDER BY id`, "p", "a"),
		"SEARCH endpoints USING INDEX endpoints_tenant (project_id=? AND tenant_id=?)")
	require.Contains(t, plan(`SELECT `+eventCols+` FROM events WHERE project_id = ? AND tenant_id = ? AND tenant_id <> '' ORDER BY id DESC LIMIT 10`, "p", "a"),
		"SEARCH events USING INDEX events_tenant (project_id=? AND tenant_id=?)")
	require.Contains(t, plan(`SELECT `+deliveryReadCols+` FROM deliveries WHERE project_id = ? AND tenant_id = ? AND tenant_id <> '' ORDER BY id DESC LIMIT 10`, "p", "a"),
		"SEARCH deliveries USING INDEX deliveries_tenant (project_id=? AND tenant_id=?)")
}

// BenchmarkTenantEndpoints measures routing's read of one tenant's two
// endpoints among 10,000 tenants: what an event of a tenant not in the
// route cache costs.
func BenchmarkTenantEndpoints(b *testing.B) {
	db := openTemp(b, Options{})
	ctx := context.Background()
	now := time.Now().UTC()
	p := &herald.Project{ID: "p", Name: "p", CreatedAt: now, UpdatedAt: now}
	require.NoError(b, db.CreateProject(ctx, p))
	const tenants = 10000
	for i := range tenants {
		for range 2 {
			ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: p.ID, TenantID: "t" + strconv.Itoa(i),
				URL: "https://example.com/", Enabled: true, Secret: "whsec_x", CreatedAt: now, UpdatedAt: now}
			ep.SetDefaults()
			require.NoError(b, db.CreateEndpoint(ctx, ep))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		eps, err := db.TenantEndpoints(ctx, p.ID, "t"+strconv.Itoa(i*7919%tenants))
		if err != nil || len(eps) != 2 {
			b.Fatal(err, len(eps))
		}
	}
}
