package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/herald-dev/herald/internal/store"
)

// endedWithWorkSQL finds the endpoints whose validity period has ended
// and which still have deliveries to end (?1 is now): the sweep reads
// before it writes, so that a quiet database costs no write.
const endedWithWorkSQL = `SELECT 1 FROM endpoints e WHERE e.active_until IS NOT NULL AND e.active_until <= ?1
	AND EXISTS (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id
		AND (d.status = 'pending' OR (d.status = 'in_flight' AND d.locked_until < ?1))) LIMIT 1`

// CancelEndedDeliveries cancels the pending deliveries of endpoints whose
// validity period has ended.
func (db *DB) CancelEndedDeliveries(ctx context.Context, now time.Time) (int, error) {
	var one int
	if err := db.r.QueryRowContext(ctx, endedWithWorkSQL, ns(now)).Scan(&one); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return 0, err
	}
	res, err := db.exec(ctx, `UPDATE deliveries SET status = 'canceled', locked_by = NULL, locked_until = NULL,
		next_attempt_at = NULL, last_error = ?2, updated_at = ?3
		WHERE (status = 'pending' OR (status = 'in_flight' AND locked_until < ?1)) AND endpoint_id IN (SELECT id FROM endpoints WHERE active_until IS NOT NULL AND active_until <= ?1)`,
		ns(now), store.ValidityEndedReason, ns(db.now()))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
