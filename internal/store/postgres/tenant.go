package postgres

import (
	"context"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/jackc/pgx/v5"
)

const tenantCols = "project_id, id, name, metadata, created_at, updated_at"

func scanTenant(row pgx.Row, extra ...any) (*herald.Tenant, error) {
	t := new(herald.Tenant)
	var metadata []byte
	if err := row.Scan(append([]any{&t.ProjectID, &t.ID, &t.Name, &metadata, &t.CreatedAt, &t.UpdatedAt}, extra...)...); err != nil {
		return nil, err
	}
	if err := unjson(metadata, &t.Metadata); err != nil {
		return nil, err
	}
	utc(&t.CreatedAt, &t.UpdatedAt)
	return t, nil
}

func scanTenantRow(row pgx.Row) (*herald.Tenant, error) { return scanTenant(row) }

// PutTenant creates the tenant or replaces its name and metadata, in one
// statement; the stored row is read back into t. xmax = 0 tells an
// inserted row from an updated one.
func (db *DB) PutTenant(ctx context.Context, t *herald.Tenant) (bool, error) {
	db.stamp(&t.CreatedAt, &t.UpdatedAt)
	var created bool
	got, err := scanTenant(db.pool.QueryRow(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (project_id, id) DO UPDATE SET name = excluded.name, metadata = excluded.metadata, updated_at = excluded.updated_at
		RETURNING `+tenantCols+`, xmax = 0`,
		t.ProjectID, t.ID, t.Name, jsonText(t.Metadata), t.CreatedAt, t.UpdatedAt), &created)
	if err != nil {
		return false, dbErr(err, "tenant "+t.ID)
	}
	*t = *got
	return created, nil
}

// GetTenant returns one tenant of the project.
func (db *DB) GetTenant(ctx context.Context, projectID, id string) (*herald.Tenant, error) {
	t, err := scanTenant(db.pool.QueryRow(ctx, "SELECT "+tenantCols+" FROM tenants WHERE project_id = $1 AND id = $2", projectID, id))
	return t, dbErr(err, "tenant "+id)
}

// ListTenants returns a page of a project's tenants, newest first.
func (db *DB) ListTenants(ctx context.Context, projectID string, page store.Page) ([]*herald.Tenant, string, error) {
	var q query
	q.and("project_id = " + q.arg(projectID))
	tail, n, err := q.page(page, "id")
	if err != nil {
		return nil, "", err
	}
	ts, err := collect(ctx, db, "SELECT "+tenantCols+" FROM tenants"+q.whereSQL()+tail, q.args, scanTenantRow)
	if err != nil {
		return nil, "", dbErr(err, "tenants")
	}
	ts, next := nextPage(ts, n, func(t *herald.Tenant) (time.Time, string) { return t.CreatedAt, t.ID })
	return ts, next, nil
}

// DeleteTenant removes the tenant and its endpoints and cancels their
// unfinished deliveries, in one implicit transaction; its events stay.
func (db *DB) DeleteTenant(ctx context.Context, projectID, id string) error {
	b := &pgx.Batch{}
	b.Queue("DELETE FROM tenants WHERE project_id = $1 AND id = $2", projectID, id)
	b.Queue(`WITH gone AS (DELETE FROM endpoints WHERE project_id = $1 AND tenant_id = $2 RETURNING id)
		UPDATE deliveries SET status = 'canceled', `+cancelLeaseSQL+`, updated_at = $3
		WHERE endpoint_id IN (SELECT id FROM gone) AND status IN ('pending', 'in_flight')`, projectID, id, tm(db.now()))
	// Every process forgets the project's routes: the tenant's row, which
	// would carry its version, is gone.
	b.Queue(`UPDATE projects SET routing_version = routing_version + 1, reset_version = routing_version + 1 WHERE id = $1`, projectID)
	tag, err := db.execBatch(ctx, b)
	return affected(tag.RowsAffected(), err, "tenant "+id)
}

// RoutingChanges reports what changed in the project's routing since the
// version since.
func (db *DB) RoutingChanges(ctx context.Context, projectID string, since int64) (*store.RoutingChanges, error) {
	var c store.RoutingChanges
	var wide, reset int64
	err := db.pool.QueryRow(ctx, "SELECT routing_version, wide_version, reset_version FROM projects WHERE id = $1", projectID).Scan(&c.Version, &wide, &reset)
	if err != nil {
		return nil, dbErr(err, "project "+projectID)
	}
	if since < 0 || c.Version <= since {
		return &c, nil
	}
	c.All, c.Wide = reset > since, wide > since
	if c.All {
		return &c, nil
	}
	c.Tenants, err = collect(ctx, db, "SELECT id FROM tenants WHERE project_id = $1 AND routing_version > $2 LIMIT $3",
		[]any{projectID, since, store.RoutingChangesMax + 1}, func(row pgx.Row) (string, error) {
			var id string
			return id, row.Scan(&id)
		})
	if err != nil {
		return nil, dbErr(err, "tenants")
	}
	if len(c.Tenants) > store.RoutingChangesMax {
		c.All, c.Tenants = true, nil
	}
	return &c, nil
}
