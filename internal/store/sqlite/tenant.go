package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

const tenantCols = `project_id, id, name, metadata, created_at, updated_at`

func scanTenant(s scanner) (*herald.Tenant, error) {
	var t herald.Tenant
	var metadata string
	var created, updated int64
	if err := s.Scan(&t.ProjectID, &t.ID, &t.Name, &metadata, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if t.Metadata, err = parseMap(metadata); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = fromNS(created), fromNS(updated)
	return &t, nil
}

// PutTenant creates the tenant or replaces its name and metadata; the
// stored row is read back into t.
func (db *DB) PutTenant(ctx context.Context, t *herald.Tenant) (bool, error) {
	now := db.now()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = now
	}
	var created bool
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants WHERE project_id = ? AND id = ?`, t.ProjectID, t.ID).Scan(&n); err != nil {
			return err
		}
		created = n == 0
		got, err := scanTenant(tx.QueryRowContext(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (project_id, id) DO UPDATE SET name = excluded.name, metadata = excluded.metadata, updated_at = excluded.updated_at
			RETURNING `+tenantCols, t.ProjectID, t.ID, t.Name, jsonMap(t.Metadata), ns(t.CreatedAt), ns(t.UpdatedAt)))
		if err != nil {
			return err
		}
		*t = *got
		return nil
	})
	return created, conflict(err, "tenant "+t.ID, "project "+t.ProjectID)
}

// GetTenant returns one tenant of the project.
func (db *DB) GetTenant(ctx context.Context, projectID, id string) (*herald.Tenant, error) {
	t, err := scanTenant(db.r.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE project_id = ? AND id = ?`, projectID, id))
	return t, notFound(err, "tenant %s", id)
}

// ListTenants lists a project's tenants newest first. Tenant ids are the
// product's own, not time-ordered, so the cursor is (created_at, id) as for
// event types.
func (db *DB) ListTenants(ctx context.Context, projectID string, page store.Page) ([]*herald.Tenant, string, error) {
	return listByCreated(ctx, db.r, `SELECT `+tenantCols+` FROM tenants WHERE project_id = ?`, []any{projectID}, page,
		"id", scanTenant, func(t *herald.Tenant) (time.Time, string) { return t.CreatedAt, t.ID })
}

// DeleteTenant removes the tenant and its endpoints, canceling their
// unfinished deliveries; its events stay.
func (db *DB) DeleteTenant(ctx context.Context, projectID, id string) error {
	now := ns(db.now())
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE project_id = ? AND id = ?`, projectID, id)
		if err := mustAffect(res, err, "tenant %s", id); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `DELETE FROM endpoints WHERE project_id = ? AND tenant_id = ? RETURNING id`, projectID, id)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var epID string
			if err := rows.Scan(&epID); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, epID)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, epID := range ids {
			if err := cancelEndpoint(ctx, tx, epID, now); err != nil {
				return err
			}
		}
		// Every process forgets the project's routes: the tenant's row,
		// which would carry its version, is gone.
		_, err = tx.ExecContext(ctx, `UPDATE projects SET routing_version = routing_version + 1, reset_version = routing_version + 1 WHERE id = ?`, projectID)
		return err
	})
}

// RoutingChanges reports what changed in the project's routing since the
// version since.
func (db *DB) RoutingChanges(ctx context.Context, projectID string, since int64) (*store.RoutingChanges, error) {
	var c store.RoutingChanges
	var wide, reset int64
	err := db.r.QueryRowContext(ctx, `SELECT routing_version, wide_version, reset_version FROM projects WHERE id = ?`, projectID).Scan(&c.Version, &wide, &reset)
	if err != nil {
		return nil, notFound(err, "project %s", projectID)
	}
	if since < 0 || c.Version <= since {
		return &c, nil
	}
	c.All, c.Wide = reset > since, wide > since
	if c.All {
		return &c, nil
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id FROM tenants WHERE project_id = ? AND routing_version > ? LIMIT ?`, projectID, since, store.RoutingChangesMax+1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		c.Tenants = append(c.Tenants, id)
	}
	if len(c.Tenants) > store.RoutingChangesMax {
		c.All, c.Tenants = true, nil
	}
	return &c, rows.Err()
}
