package postgres

import (
	"context"
	"time"
)

// RevokeSession records a dashboard session as ended until expires and
// drops the records already past their expiry.
func (db *DB) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM ui_revoked_sessions WHERE expires_at <= $1`, tm(db.now())); err != nil {
		return dbErr(err, "revoked sessions")
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO ui_revoked_sessions (id, expires_at) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET expires_at = GREATEST(ui_revoked_sessions.expires_at, excluded.expires_at)`,
		id, tm(expires))
	return dbErr(err, "session "+id)
}

// SessionRevoked reports whether the session is recorded as ended.
func (db *DB) SessionRevoked(ctx context.Context, id string) (bool, error) {
	var revoked bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ui_revoked_sessions WHERE id = $1 AND expires_at > $2)`,
		id, tm(db.now())).Scan(&revoked)
	return revoked, dbErr(err, "session "+id)
}
