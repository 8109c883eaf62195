package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/store"
	"github.com/jackc/pgx/v5"
)

// Heartbeat upserts p's row (see store.Store).
func (db *DB) Heartbeat(ctx context.Context, p *store.Process) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO processes (id, address, started_at, heartbeat_at, in_flight, sees)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET address = excluded.address, heartbeat_at = excluded.heartbeat_at,
			in_flight = excluded.in_flight, sees = excluded.sees`,
		p.ID, p.Address, tm(p.StartedAt), tm(p.HeartbeatAt), p.InFlight, strings.Join(p.Sees, ","))
	return dbErr(err, "process "+p.ID)
}

// ListProcesses returns the processes heard from since since.
func (db *DB) ListProcesses(ctx context.Context, since time.Time) ([]*store.Process, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, address, started_at, heartbeat_at, in_flight, sees FROM processes
		WHERE heartbeat_at >= $1 ORDER BY started_at, id`, tm(since))
	if err != nil {
		return nil, dbErr(err, "processes")
	}
	var ps []*store.Process
	err = forEach(rows, func() error {
		p := new(store.Process)
		var sees string
		if err := rows.Scan(&p.ID, &p.Address, &p.StartedAt, &p.HeartbeatAt, &p.InFlight, &sees); err != nil {
			return err
		}
		if sees != "" {
			p.Sees = strings.Split(sees, ",")
		}
		p.StartedAt, p.HeartbeatAt = p.StartedAt.UTC(), p.HeartbeatAt.UTC()
		ps = append(ps, p)
		return nil
	})
	return ps, dbErr(err, "processes")
}

// TakeOver removes the rows of processes silent since before deadBefore
// and ends the leases of deliveries held by an owner with no row. The
// in-flight deliveries are few (each process holds a bounded number), so
// the anti-join reads the partial index deliveries_in_flight, not the
// table; and a lease already expired is left as it is. One batch, one
// round trip, one transaction.
func (db *DB) TakeOver(ctx context.Context, self string, deadBefore, now time.Time) (int, error) {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM processes WHERE id <> $1 AND heartbeat_at < $2`, self, tm(deadBefore))
	b.Queue(`UPDATE deliveries d SET locked_until = $2, updated_at = $2
		WHERE d.status = 'in_flight' AND d.locked_until > $2 AND d.locked_by <> $1
			AND NOT EXISTS (SELECT 1 FROM processes p WHERE p.id = d.locked_by)`, self, tm(now))
	br := db.pool.SendBatch(ctx, b)
	_, err := br.Exec()
	var n int64
	if err == nil {
		var tag, terr = br.Exec()
		err, n = terr, tag.RowsAffected()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return int(n), dbErr(err, "take over")
}

// RemoveProcess deletes the process's row.
func (db *DB) RemoveProcess(ctx context.Context, id string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM processes WHERE id = $1`, id)
	return dbErr(err, "process "+id)
}
