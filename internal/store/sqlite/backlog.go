package sqlite

import (
	"context"
	"database/sql"

	"github.com/herald-dev/herald/internal/store"
)

// worstBacklogsSQL counts unfinished deliveries per endpoint through the
// partial index of unfinished deliveries (the work is proportional to the
// backlog, as QueueStats's count), keeps the largest, and finds each one's
// oldest as its first unfinished delivery in ingest order.
const worstBacklogsSQL = `
WITH top AS (
	SELECT endpoint_id, COUNT(*) AS n FROM deliveries INDEXED BY deliveries_endpoint
	WHERE ` + unfinished + `
	GROUP BY endpoint_id ORDER BY n DESC, endpoint_id LIMIT ?)
SELECT top.endpoint_id, e.project_id, top.n,
	(SELECT MIN(created_at) FROM (
		SELECT (SELECT x.created_at FROM deliveries x INDEXED BY deliveries_endpoint
			WHERE x.endpoint_id = top.endpoint_id AND x.status = 'pending' ORDER BY x.seq LIMIT 1) AS created_at
		UNION ALL
		SELECT (SELECT x.created_at FROM deliveries x INDEXED BY deliveries_endpoint
			WHERE x.endpoint_id = top.endpoint_id AND x.status = 'in_flight' ORDER BY x.seq LIMIT 1)))
FROM top LEFT JOIN endpoints e ON e.id = top.endpoint_id
ORDER BY top.n DESC, top.endpoint_id`

// WorstBacklogs implements store.BacklogReader.
func (db *DB) WorstBacklogs(ctx context.Context, limit int) ([]store.EndpointBacklog, error) {
	rows, err := db.r.QueryContext(ctx, worstBacklogsSQL, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.EndpointBacklog
	for rows.Next() {
		var b store.EndpointBacklog
		var project sql.NullString
		var oldest sql.NullInt64
		if err := rows.Scan(&b.EndpointID, &project, &b.Pending, &oldest); err != nil {
			return nil, err
		}
		b.ProjectID = project.String
		if t := fromNull(oldest); t != nil {
			b.OldestPending = *t
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
