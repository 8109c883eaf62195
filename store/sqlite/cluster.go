package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// clusterCapsSQL reads, for each delivery a Cluster claim would take, what
// its endpoint has room for: max_in_flight, whether it is ordered, its
// rate_limit, its live claims and its next free turn (endpoint_pace).
const clusterCapsSQL = `SELECT d.id, d.endpoint_id, e.max_in_flight, e.ordered, e.rate_limit,
	(SELECT COUNT(*) FROM deliveries o WHERE o.endpoint_id = d.endpoint_id AND o.status = 'in_flight' AND o.locked_until >= ?1),
	COALESCE((SELECT pc.next_at FROM endpoint_pace pc WHERE pc.endpoint_id = d.endpoint_id), 0)
	FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
	WHERE d.id IN (SELECT value FROM json_each(?2))`

// clusterCaps applies a Cluster claim's limits to take (ids in claim
// order), as the PostgreSQL store's capsSQL and paceSQL do: an endpoint
// gets at most max_in_flight less its live claims (an ordered one is held
// to one by the claim itself), and under rate_limit only the turns free
// within the next second of its schedule, which it then moves on. It
// returns the ids kept, in order, and the turns given. The claim runs in
// the one write transaction at a time, so no other claim can come between
// the count and the lease.
func (db *DB) clusterCaps(ctx context.Context, tx *sql.Tx, take []string, now int64) ([]string, map[string]time.Time, error) {
	type room struct {
		free    int // -1: no in-flight cap
		rate    int
		start   int64
		granted int
	}
	rows, err := tx.QueryContext(ctx, clusterCapsSQL, now, idList(take))
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[string]string, len(take))
	eps := make(map[string]*room)
	for rows.Next() {
		var id, ep string
		var maxInFlight, rate, live int
		var ordered bool
		var next int64
		if err := rows.Scan(&id, &ep, &maxInFlight, &ordered, &rate, &live, &next); err != nil {
			rows.Close()
			return nil, nil, err
		}
		byID[id] = ep
		if eps[ep] != nil {
			continue
		}
		r := &room{free: -1, rate: rate, start: max(next, now)}
		if !ordered {
			r.free = max(maxInFlight-live, 0)
		}
		if rate > 0 {
			turns := int((now + int64(time.Second) - r.start) * int64(rate) / int64(time.Second))
			if r.free < 0 || turns < r.free {
				r.free = max(turns, 0)
			}
		}
		eps[ep] = r
	}
	if err := rows.Close(); err != nil {
		return nil, nil, err
	}
	kept := take[:0:0]
	turns := make(map[string]time.Time)
	for _, id := range take {
		ep, ok := byID[id]
		if !ok {
			continue
		}
		r := eps[ep]
		if r.free >= 0 && r.granted >= r.free {
			continue
		}
		if r.rate > 0 {
			turns[id] = fromNS(r.start + int64(r.granted)*int64(time.Second)/int64(r.rate))
		}
		r.granted++
		kept = append(kept, id)
	}
	for ep, r := range eps {
		if r.rate == 0 || r.granted == 0 {
			continue
		}
		next := r.start + int64(r.granted)*int64(time.Second)/int64(r.rate)
		if _, err := tx.ExecContext(ctx, `INSERT INTO endpoint_pace (endpoint_id, next_at) VALUES (?1, ?2)
			ON CONFLICT (endpoint_id) DO UPDATE SET next_at = excluded.next_at`, ep, next); err != nil {
			return nil, nil, err
		}
	}
	return kept, turns, nil
}
