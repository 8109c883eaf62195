package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/store"
)

// Heartbeat upserts p's row (see store.Store).
func (db *DB) Heartbeat(ctx context.Context, p *store.Process) error {
	_, err := db.exec(ctx, `INSERT INTO processes (id, address, started_at, heartbeat_at, in_flight, sees) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
		ON CONFLICT (id) DO UPDATE SET address = excluded.address, heartbeat_at = excluded.heartbeat_at,
			in_flight = excluded.in_flight, sees = excluded.sees`,
		p.ID, p.Address, ns(p.StartedAt), ns(p.HeartbeatAt), p.InFlight, strings.Join(p.Sees, ","))
	return err
}

// ListProcesses returns the processes heard from since since.
func (db *DB) ListProcesses(ctx context.Context, since time.Time) ([]*store.Process, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, address, started_at, heartbeat_at, in_flight, sees FROM processes
		WHERE heartbeat_at >= ?1 ORDER BY started_at, id`, ns(since))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(rows scanner) (*store.Process, error) {
		p := new(store.Process)
		var started, beat int64
		var sees string
		if err := rows.Scan(&p.ID, &p.Address, &started, &beat, &p.InFlight, &sees); err != nil {
			return nil, err
		}
		if sees != "" {
			p.Sees = strings.Split(sees, ",")
		}
		p.StartedAt, p.HeartbeatAt = fromNS(started), fromNS(beat)
		return p, nil
	})
}

// TakeOver removes the rows of processes silent since before deadBefore
// and ends the leases of deliveries held by an owner with no row, in one
// write transaction. The in-flight deliveries are few and the partial
// index deliveries_lease holds exactly them.
func (db *DB) TakeOver(ctx context.Context, self string, deadBefore, now time.Time) (int, error) {
	var n int64
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM processes WHERE id != ?1 AND heartbeat_at < ?2`, self, ns(deadBefore)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET locked_until = ?2, updated_at = ?2
			WHERE status = 'in_flight' AND locked_until > ?2 AND COALESCE(locked_by, '') != ?1
				AND NOT EXISTS (SELECT 1 FROM processes p WHERE p.id = deliveries.locked_by)`, self, ns(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// RemoveProcess deletes the process's row.
func (db *DB) RemoveProcess(ctx context.Context, id string) error {
	_, err := db.exec(ctx, `DELETE FROM processes WHERE id = ?1`, id)
	return err
}
