package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// RevokeSession records a dashboard session as ended until expires and
// drops the records already past their expiry.
func (db *DB) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM ui_revoked_sessions WHERE expires_at <= ?`, ns(db.now())); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO ui_revoked_sessions (id, expires_at) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)`, id, ns(expires))
		return err
	})
}

// SessionRevoked reports whether the session is recorded as ended.
func (db *DB) SessionRevoked(ctx context.Context, id string) (bool, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM ui_revoked_sessions WHERE id = ? AND expires_at > ?`, id, ns(db.now())).Scan(&n)
	return n > 0, err
}
