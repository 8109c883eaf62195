package postgres

import (
	"context"
	"time"

	"github.com/herald-dev/herald/internal/store"
)

// WorstBacklogs implements store.BacklogReader: unfinished deliveries
// counted per endpoint through the partial index of unfinished deliveries,
// the largest kept, and each one's oldest found as its first unfinished
// delivery in ingest order.
func (db *DB) WorstBacklogs(ctx context.Context, limit int) ([]store.EndpointBacklog, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT top.endpoint_id, coalesce(e.project_id, ''), top.n, o.created_at
		FROM (SELECT endpoint_id, count(*) AS n FROM deliveries
			WHERE status IN ('pending', 'in_flight')
			GROUP BY endpoint_id ORDER BY n DESC, endpoint_id LIMIT $1) top
		CROSS JOIN LATERAL (SELECT d.created_at FROM deliveries d
			WHERE d.endpoint_id = top.endpoint_id AND d.status IN ('pending', 'in_flight')
			ORDER BY d.seq LIMIT 1) o
		LEFT JOIN endpoints e ON e.id = top.endpoint_id
		ORDER BY top.n DESC, top.endpoint_id`, limit)
	if err != nil {
		return nil, dbErr(err, "worst backlogs")
	}
	defer rows.Close()
	var out []store.EndpointBacklog
	for rows.Next() {
		var b store.EndpointBacklog
		var n int64
		var oldest time.Time
		if err := rows.Scan(&b.EndpointID, &b.ProjectID, &n, &oldest); err != nil {
			return nil, dbErr(err, "worst backlogs")
		}
		b.Pending, b.OldestPending = int(n), oldest.UTC()
		out = append(out, b)
	}
	return out, dbErr(rows.Err(), "worst backlogs")
}
