package postgres

import (
	"context"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

const portalSessionCols = `id, project_id, tenant_id, token_hash, read_only, event_types, locale, expires_at, created_at`

// CreatePortalSession stores a new portal session of an existing tenant.
func (db *DB) CreatePortalSession(ctx context.Context, s *herald.PortalSession) error {
	// One statement: the clean-up and the insert commit together.
	_, err := db.pool.Exec(ctx, `WITH old AS (
			DELETE FROM portal_sessions WHERE project_id = $2 AND tenant_id = $3 AND expires_at < $10
		)
		INSERT INTO portal_sessions (`+portalSessionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		s.ID, s.ProjectID, s.TenantID, s.TokenHash, s.ReadOnly, jsonText(s.EventTypes), s.Locale, s.ExpiresAt, s.CreatedAt,
		s.CreatedAt.Add(-store.PortalSessionKeep))
	return dbErr(err, "portal session "+s.ID)
}

// GetPortalSessionByHash finds a portal session by its token's hash,
// expired or not.
func (db *DB) GetPortalSessionByHash(ctx context.Context, hash string) (*herald.PortalSession, error) {
	var s herald.PortalSession
	var types []byte
	err := db.pool.QueryRow(ctx, `SELECT `+portalSessionCols+` FROM portal_sessions WHERE token_hash = $1`, hash).
		Scan(&s.ID, &s.ProjectID, &s.TenantID, &s.TokenHash, &s.ReadOnly, &types, &s.Locale, &s.ExpiresAt, &s.CreatedAt)
	if err != nil {
		return nil, dbErr(err, "portal session")
	}
	if err := unjson(types, &s.EventTypes); err != nil {
		return nil, err
	}
	utc(&s.ExpiresAt, &s.CreatedAt)
	return &s, nil
}

// DeletePortalSessions ends every portal session of the tenant and
// returns how many there were.
func (db *DB) DeletePortalSessions(ctx context.Context, projectID, tenantID string) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM portal_sessions WHERE project_id = $1 AND tenant_id = $2`, projectID, tenantID)
	if err != nil {
		return 0, dbErr(err, "portal sessions")
	}
	return int(tag.RowsAffected()), nil
}
