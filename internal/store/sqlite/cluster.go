package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// clusterPaceSQL reads, for each delivery a Cluster claim would take of a
// rate-limited endpoint, the endpoint's rate_limit and its schedule's next
// free turn (endpoint_pace).
const clusterPaceSQL = `SELECT d.id, d.endpoint_id, e.rate_limit,
	COALESCE((SELECT pc.next_at FROM endpoint_pace pc WHERE pc.endpoint_id = d.endpoint_id), 0)
	FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
	WHERE d.id IN (SELECT value FROM json_each(?1)) AND e.rate_limit > 0`

// clusterPace gives a Cluster claim's deliveries of rate-limited endpoints
// their turns, as the PostgreSQL store's capsSQL and paceSQL do: 1/rate
// apart from the schedule's end (or now), no more than the turns free
// within the next second, the schedule moved past the last. take is in
// claim order; it returns the ids kept, in order, and their turns. The
// claim runs in the one write transaction at a time, so no other claim
// comes between reading the schedule and moving it.
func (db *DB) clusterPace(ctx context.Context, tx *sql.Tx, take []string, now int64) ([]string, map[string]time.Time, error) {
	type schedule struct {
		rate    int64
		start   int64
		free    int
		granted int
	}
	rows, err := tx.QueryContext(ctx, clusterPaceSQL, idList(take))
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[string]*schedule)
	eps := make(map[string]*schedule)
	for rows.Next() {
		var id, ep string
		var rate, next int64
		if err := rows.Scan(&id, &ep, &rate, &next); err != nil {
			rows.Close()
			return nil, nil, err
		}
		s := eps[ep]
		if s == nil {
			s = &schedule{rate: rate, start: max(next, now)}
			s.free = max(int((now+int64(time.Second)-s.start)*rate/int64(time.Second)), 0)
			eps[ep] = s
		}
		byID[id] = s
	}
	if err := rows.Close(); err != nil {
		return nil, nil, err
	}
	if len(eps) == 0 {
		return take, nil, nil
	}
	kept := take[:0:0]
	turns := make(map[string]time.Time)
	for _, id := range take {
		s := byID[id]
		if s == nil {
			kept = append(kept, id)
			continue
		}
		if s.granted >= s.free {
			continue
		}
		turns[id] = fromNS(s.start + int64(s.granted)*int64(time.Second)/s.rate)
		s.granted++
		kept = append(kept, id)
	}
	for ep, s := range eps {
		if s.granted == 0 {
			continue
		}
		next := s.start + int64(s.granted)*int64(time.Second)/s.rate
		if _, err := tx.ExecContext(ctx, `INSERT INTO endpoint_pace (endpoint_id, next_at) VALUES (?1, ?2)
			ON CONFLICT (endpoint_id) DO UPDATE SET next_at = excluded.next_at`, ep, next); err != nil {
			return nil, nil, err
		}
	}
	return kept, turns, nil
}
