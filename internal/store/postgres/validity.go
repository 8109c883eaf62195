package postgres

import (
	"context"
	"time"

	"github.com/herald-dev/herald/internal/store"
)

// CancelEndedDeliveries cancels the pending deliveries of endpoints whose
// validity period has ended. It reads before it writes, so that a quiet
// database costs no write.
func (db *DB) CancelEndedDeliveries(ctx context.Context, now time.Time) (int, error) {
	var found bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM endpoints e WHERE e.active_until IS NOT NULL AND e.active_until <= $1
		AND EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id
			AND (d.status = 'pending' OR (d.status = 'in_flight' AND d.locked_until < $1))))`, tm(now)).Scan(&found)
	if err != nil || !found {
		return 0, dbErr(err, "deliveries")
	}
	tag, err := db.pool.Exec(ctx, `UPDATE deliveries SET status = 'canceled', locked_by = '', locked_until = NULL,
			next_attempt_at = NULL, last_error = $2, updated_at = $3
		WHERE (status = 'pending' OR (status = 'in_flight' AND locked_until < $1)) AND endpoint_id IN (SELECT id FROM endpoints WHERE active_until IS NOT NULL AND active_until <= $1)`,
		tm(now), store.ValidityEndedReason, tm(db.now()))
	if err != nil {
		return 0, dbErr(err, "deliveries")
	}
	return int(tag.RowsAffected()), nil
}
