package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

const portalSessionCols = `id, project_id, tenant_id, token_hash, read_only, event_types, locale, expires_at, created_at`

// CreatePortalSession stores a new portal session of an existing tenant.
func (db *DB) CreatePortalSession(ctx context.Context, s *herald.PortalSession) error {
	var types any
	if s.EventTypes != nil {
		b, err := json.Marshal(s.EventTypes)
		if err != nil {
			return err
		}
		types = string(b)
	}
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM portal_sessions WHERE project_id = ? AND tenant_id = ? AND expires_at < ?`,
			s.ProjectID, s.TenantID, ns(s.CreatedAt.Add(-store.PortalSessionKeep))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO portal_sessions (`+portalSessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.ProjectID, s.TenantID, s.TokenHash, s.ReadOnly, types, s.Locale, ns(s.ExpiresAt), ns(s.CreatedAt))
		return err
	})
	return conflict(err, "portal session "+s.ID, "tenant "+s.TenantID)
}

// GetPortalSessionByHash finds a portal session by its token's hash,
// expired or not.
func (db *DB) GetPortalSessionByHash(ctx context.Context, hash string) (*herald.PortalSession, error) {
	var s herald.PortalSession
	var types sql.NullString
	var expires, created int64
	err := db.r.QueryRowContext(ctx, `SELECT `+portalSessionCols+` FROM portal_sessions WHERE token_hash = ?`, hash).
		Scan(&s.ID, &s.ProjectID, &s.TenantID, &s.TokenHash, &s.ReadOnly, &types, &s.Locale, &expires, &created)
	if err != nil {
		return nil, notFound(err, "portal session")
	}
	if types.Valid {
		if err := json.Unmarshal([]byte(types.String), &s.EventTypes); err != nil {
			return nil, err
		}
	}
	s.ExpiresAt, s.CreatedAt = fromNS(expires), fromNS(created)
	return &s, nil
}

// DeletePortalSessions ends every portal session of the tenant and
// returns how many there were.
func (db *DB) DeletePortalSessions(ctx context.Context, projectID, tenantID string) (int, error) {
	res, err := db.exec(ctx, `DELETE FROM portal_sessions WHERE project_id = ? AND tenant_id = ?`, projectID, tenantID)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
