package sqlite

import (
	"context"
	"database/sql"
	"math"
	"slices"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

// claimSQL picks the deliveries to lease, in claim order, from two cheap
// sources that never scan a backlog:
//
//   - pend: the head of the due queue (partial index deliveries_due), a
//     window of ?3 rows. An ordered endpoint's deliveries other than its
//     claimable head are filtered out during that scan, so that a long
//     ordered backlog cannot fill the window.
//   - deep: when the window was full of deliveries of
//     skipped or paused endpoints (a busy endpoint whose lane is full, an
//     endpoint whose breaker is open), the other endpoints' due work may
//     lie beyond it. A loose index scan over deliveries_endpoint_due visits
//     each endpoint with pending work once (a seek per endpoint, however
//     long its backlog) and takes up to ?6 of each unskipped, unpaused,
//     unordered endpoint's due deliveries, and an ordered one's head.
//
// plus expired leases (partial index deliveries_lease), which an
// endpoint's pause does not hold back. The per-endpoint cap then applies
// to the union. live=0 rows belong to a missing or disabled endpoint: the
// caller cancels them instead.
//
// The endpoints skipped are those asked (?2) and those paused now
// (PostponeEndpoint): their pending deliveries wait. ?1 now, ?2 JSON list
// of endpoints to skip, ?3 window size, ?4 per-endpoint
// cap (0 = none), ?5 limit, ?6 deep per-endpoint take.
//
// It is the claim's second pass (see claimWindowSQL for the first).
const claimSQL = `
WITH RECURSIVE skip(id) AS (
	SELECT value FROM json_each(?2)
	UNION
	SELECT id FROM endpoints INDEXED BY endpoints_paused WHERE paused_until > ?1
),
pend AS (
	SELECT d.id, d.endpoint_id, d.next_attempt_at, d.priority, d.seq FROM deliveries d INDEXED BY deliveries_due
	WHERE d.status = 'pending' AND d.next_attempt_at <= ?1
		AND NOT EXISTS (` + orderedBlocked + `)
	ORDER BY d.next_attempt_at, d.priority LIMIT ?3
),
eps(id) AS (
	SELECT (SELECT x.endpoint_id FROM deliveries x INDEXED BY deliveries_endpoint_due WHERE x.status = 'pending'
		ORDER BY x.endpoint_id LIMIT 1)
	UNION ALL
	SELECT (SELECT x.endpoint_id FROM deliveries x INDEXED BY deliveries_endpoint_due WHERE x.status = 'pending' AND x.endpoint_id > eps.id
		ORDER BY x.endpoint_id LIMIT 1) FROM eps WHERE eps.id IS NOT NULL
),
deep AS (
	SELECT d.id, d.endpoint_id, d.next_attempt_at, d.priority, d.seq
	FROM eps JOIN endpoints e ON e.id = eps.id AND e.ordered = 0
	JOIN deliveries d ON d.id IN (SELECT x.id FROM deliveries x INDEXED BY deliveries_endpoint_due
		WHERE x.status = 'pending' AND x.endpoint_id = eps.id AND x.next_attempt_at <= ?1
		ORDER BY x.next_attempt_at, x.priority LIMIT ?6)
	WHERE eps.id NOT IN (SELECT id FROM skip)
	UNION ALL
	SELECT d.id, d.endpoint_id, d.next_attempt_at, d.priority, d.seq
	FROM eps JOIN endpoints e ON e.id = eps.id AND e.ordered = 1
	JOIN deliveries d ON d.id = (SELECT x.id FROM deliveries x INDEXED BY deliveries_endpoint
		WHERE x.endpoint_id = eps.id AND x.status = 'pending' ORDER BY x.seq LIMIT 1)
	WHERE eps.id NOT IN (SELECT id FROM skip) AND d.next_attempt_at <= ?1
		AND NOT EXISTS (` + orderedBlocked + `)
),
lease AS (
	SELECT d.id, d.endpoint_id, d.next_attempt_at, d.priority, d.seq FROM deliveries d INDEXED BY deliveries_lease
	WHERE d.status = 'in_flight' AND d.locked_until < ?1
		AND d.endpoint_id NOT IN (SELECT value FROM json_each(?2))
		AND NOT EXISTS (` + orderedBlocked + `)
	ORDER BY d.locked_until LIMIT ?3
),
due AS (
	SELECT * FROM (SELECT * FROM pend UNION SELECT * FROM deep) WHERE endpoint_id NOT IN (SELECT id FROM skip)
	UNION ALL
	SELECT * FROM lease
),
c AS (
	SELECT due.*,
		(e.id IS NOT NULL AND e.enabled = 1 AND e.status != 'disabled') AS live,
		ROW_NUMBER() OVER (PARTITION BY due.endpoint_id ORDER BY due.next_attempt_at, due.priority, due.seq) AS rn
	FROM due LEFT JOIN endpoints e ON e.id = due.endpoint_id
)
SELECT id, live, endpoint_id FROM c
WHERE live = 0 OR ?4 <= 0 OR rn <= ?4
ORDER BY next_attempt_at, priority, seq
LIMIT ?5`

// claimWindowSQL is the claim's usual case: the head of the due queue, a
// window of ?2 rows, with whether each row's endpoint is live. It needs no
// temporary b-tree, unlike claimSQL (whose unions, window function and
// sorts cost about a millisecond a claim however few rows it takes): the
// skipped and paused endpoints and the per-endpoint cap are applied by
// the caller as it reads the rows in order. An ordered endpoint's rows
// other than its claimable head are filtered out as in claimSQL.
const claimWindowSQL = `SELECT d.id, d.endpoint_id, (e.id IS NOT NULL AND e.enabled = 1 AND e.status != 'disabled')
	FROM deliveries d INDEXED BY deliveries_due LEFT JOIN endpoints e ON e.id = d.endpoint_id
	WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 AND NOT EXISTS (` + orderedBlocked + `)
	ORDER BY d.next_attempt_at, d.priority LIMIT ?2`

// claimExpiredSQL is claimSQL's other source for the usual case: expired
// leases, oldest first (an endpoint's pause does not hold them back).
const claimExpiredSQL = `SELECT d.id, d.endpoint_id, (e.id IS NOT NULL AND e.enabled = 1 AND e.status != 'disabled')
	FROM deliveries d INDEXED BY deliveries_lease LEFT JOIN endpoints e ON e.id = d.endpoint_id
	WHERE d.status = 'in_flight' AND d.locked_until < ?1 AND NOT EXISTS (` + orderedBlocked + `)
	ORDER BY d.locked_until LIMIT ?2`

// pausedSQL lists the endpoints paused now (PostponeEndpoint).
const pausedSQL = `SELECT id FROM endpoints INDEXED BY endpoints_paused WHERE paused_until > ?1`

// otherPendingSQL finds an endpoint with pending deliveries that is not in
// the JSON list ?1, by a loose index scan (one seek per endpoint): when
// every endpoint with pending work was in the window already, searching
// beyond it can find nothing new.
const otherPendingSQL = `WITH RECURSIVE eps(id) AS (
	SELECT (SELECT x.endpoint_id FROM deliveries x INDEXED BY deliveries_endpoint_due WHERE x.status = 'pending'
		ORDER BY x.endpoint_id LIMIT 1)
	UNION ALL
	SELECT (SELECT x.endpoint_id FROM deliveries x INDEXED BY deliveries_endpoint_due WHERE x.status = 'pending' AND x.endpoint_id > eps.id
		ORDER BY x.endpoint_id LIMIT 1) FROM eps WHERE eps.id IS NOT NULL
)
SELECT COUNT(*) FROM (SELECT 1 FROM eps WHERE id IS NOT NULL AND id NOT IN (SELECT value FROM json_each(?1)) LIMIT 1)`

// unfinished is the condition of the partial index deliveries_endpoint,
// spelled as there: SQLite uses a partial index only for a query whose
// WHERE has its condition as a term (or implies it term by term, as
// status = 'pending' does); status IN ('pending', 'in_flight') does not.
const unfinished = `(status = 'pending' OR status = 'in_flight')`

// orderedBlocked holds for a delivery d of an ordered endpoint that is not
// claimable: not the endpoint's oldest unfinished delivery (the oldest
// pending one and the oldest in flight are one seek each), or another of
// its deliveries holds a live lease.
const orderedBlocked = `SELECT 1 FROM endpoints oe WHERE oe.id = d.endpoint_id AND oe.ordered = 1 AND (
	d.seq > (SELECT MIN(x.seq) FROM deliveries x INDEXED BY deliveries_endpoint WHERE x.endpoint_id = d.endpoint_id AND x.status = 'pending')
	OR d.seq > (SELECT MIN(x.seq) FROM deliveries x INDEXED BY deliveries_endpoint WHERE x.endpoint_id = d.endpoint_id AND x.status = 'in_flight')
	OR EXISTS (SELECT 1 FROM deliveries y INDEXED BY deliveries_endpoint WHERE y.endpoint_id = d.endpoint_id AND y.status = 'in_flight'
		AND y.locked_until >= ?1 AND y.id != d.id))`

const (
	leaseSQL = `UPDATE deliveries SET status = 'in_flight', locked_by = ?, locked_until = ?, updated_at = ?
		WHERE id IN (SELECT value FROM json_each(?)) RETURNING ` + deliveryCols
	cancelDeadSQL = `UPDATE deliveries SET status = 'canceled', locked_by = NULL, locked_until = NULL,
		next_attempt_at = NULL, updated_at = ? WHERE id IN (SELECT value FROM json_each(?))`
	claimEventsSQL = `SELECT ` + eventCols + ` FROM events WHERE id IN (SELECT value FROM json_each(?))`
	// completeHead and completeTail move deliveries on after their attempts,
	// a bulk UPDATE over rows (id, status, attempts, next_attempt_at,
	// last_attempt_at, last_status, last_error, manual); ?1 is now. See
	// CompleteAttempts.
	completeHead = `UPDATE deliveries SET status = v.column2, attempts = v.column3, next_attempt_at = v.column4,
		locked_by = NULL, locked_until = NULL, last_attempt_at = v.column5, last_status = v.column6, last_error = v.column7, updated_at = ?1,
		succeeded_at = CASE WHEN v.column2 = 'succeeded' THEN ?1 ELSE deliveries.succeeded_at END
		FROM (VALUES `
	completeTail = `) AS v
		WHERE deliveries.id = v.column1
		AND (CASE WHEN v.column8 THEN NOT (deliveries.status = 'in_flight' AND deliveries.locked_until >= ?1) ELSE deliveries.status != 'canceled' END)`
	releaseSQL = `UPDATE deliveries SET status = 'pending', next_attempt_at = ?1, locked_by = NULL, locked_until = NULL, updated_at = ?1
		WHERE status = 'in_flight' AND locked_by = ?2 AND id IN (SELECT value FROM json_each(?3))`
)

// claimPick applies a claim's rules to candidate rows read in claim
// order: skipped endpoints' rows are passed over, rows of dead endpoints
// are to be canceled, and a live endpoint gives at most the per-endpoint
// cap (as in claimSQL).
type claimPick struct {
	p          store.ClaimParams
	skip       map[string]bool
	counts     map[string]int
	take, dead []string
	capped     []string // endpoints that reached the cap
	passed     bool     // a row was passed over (skipped or capped)
}

func (c *claimPick) full() bool { return len(c.take)+len(c.dead) >= c.p.Limit }

// add considers rows (id, endpoint_id, live) until the claim is full; it
// returns how many rows it read.
func (c *claimPick) add(rows *sql.Rows, honourSkip bool) (int, error) {
	defer rows.Close()
	n := 0
	for !c.full() && rows.Next() {
		var id, endpointID string
		var live bool
		if err := rows.Scan(&id, &endpointID, &live); err != nil {
			return n, err
		}
		n++
		if honourSkip && c.skip[endpointID] {
			c.passed = true
			continue
		}
		if !live {
			c.dead = append(c.dead, id) // canceled, whatever the cap
			continue
		}
		if c.p.PerEndpointLimit > 0 && c.counts[endpointID] >= c.p.PerEndpointLimit {
			c.passed = true
			continue
		}
		c.counts[endpointID]++
		if c.counts[endpointID] == c.p.PerEndpointLimit {
			c.capped = append(c.capped, endpointID)
		}
		c.take = append(c.take, id)
	}
	return n, rows.Err()
}

// claimWindow picks the claim from expired leases and the due queue's
// window (see claimWindowSQL). complete is false when the window was full
// and rows were passed over: due work of other endpoints may lie beyond it.
func (db *DB) claimWindow(ctx context.Context, tx *sql.Tx, p store.ClaimParams, now int64) (c *claimPick, complete bool, err error) {
	c = &claimPick{p: p, skip: make(map[string]bool, len(p.SkipEndpoints)), counts: make(map[string]int)}
	for _, id := range p.SkipEndpoints {
		c.skip[id] = true
	}
	rows, err := tx.StmtContext(ctx, db.stmts.claimExpired).QueryContext(ctx, now, p.Limit)
	if err != nil {
		return nil, false, err
	}
	if _, err := c.add(rows, true); err != nil {
		return nil, false, err
	}
	if c.full() {
		return c, true, nil
	}
	rows, err = tx.StmtContext(ctx, db.stmts.paused).QueryContext(ctx, now)
	if err != nil {
		return nil, false, err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, false, err
		}
		c.skip[id] = true
	}
	if err := rows.Close(); err != nil {
		return nil, false, err
	}
	rows, err = tx.StmtContext(ctx, db.stmts.claimWindow).QueryContext(ctx, now, p.Limit)
	if err != nil {
		return nil, false, err
	}
	n, err := c.add(rows, true)
	if err != nil {
		return nil, false, err
	}
	return c, c.full() || n < p.Limit || !c.passed, nil
}

// claimIDs runs the full claim query; it returns the deliveries to lease
// and those to cancel.
func (db *DB) claimIDs(ctx context.Context, tx *sql.Tx, p store.ClaimParams, now int64) (take, dead []string, err error) {
	perEndpoint := p.Limit
	if p.PerEndpointLimit > 0 {
		perEndpoint = min(p.PerEndpointLimit, p.Limit)
	}
	rows, err := tx.StmtContext(ctx, db.stmts.claim).QueryContext(ctx, now, idList(p.SkipEndpoints), p.Limit, p.PerEndpointLimit, p.Limit, perEndpoint)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, endpointID string
		var live bool
		if err := rows.Scan(&id, &live, &endpointID); err != nil {
			return nil, nil, err
		}
		if live {
			take = append(take, id)
		} else {
			dead = append(dead, id)
		}
	}
	return take, dead, rows.Err()
}

// ClaimDeliveries leases due deliveries to p.Owner and returns them with
// their events, in claim order.
func (db *DB) ClaimDeliveries(ctx context.Context, p store.ClaimParams) ([]*store.Claim, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	now := ns(p.Now)
	var claims []*store.Claim
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		claims = nil
		c, complete, err := db.claimWindow(ctx, tx, p, now)
		if err != nil {
			return err
		}
		take, dead := c.take, c.dead
		if !complete {
			// The window was full and passed some rows over: search beyond
			// it only if an endpoint with pending work is neither skipped
			// nor capped already (draining one endpoint's backlog, the
			// window gave all this call may take).
			known := c.capped // c.skip holds the asked and the paused ones
			for id := range c.skip {
				known = append(known, id)
			}
			var n int
			if err := tx.StmtContext(ctx, db.stmts.otherPending).QueryRowContext(ctx, idList(known)).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				if take, dead, err = db.claimIDs(ctx, tx, p, now); err != nil {
					return err
				}
			}
		}
		if len(dead) > 0 {
			if _, err := tx.StmtContext(ctx, db.stmts.cancelDead).ExecContext(ctx, now, idList(dead)); err != nil {
				return err
			}
		}
		var turns map[string]time.Time
		if p.Cluster && len(take) > 0 {
			if take, turns, err = db.clusterPace(ctx, tx, take, now); err != nil {
				return err
			}
		}
		if len(take) == 0 {
			return nil
		}
		rows, err := tx.StmtContext(ctx, db.stmts.lease).QueryContext(ctx, p.Owner, ns(p.Now.Add(p.Lease)), now, idList(take))
		if err != nil {
			return err
		}
		ds, err := collect(rows, scanDelivery)
		if err != nil {
			return err
		}
		eventIDs := make([]string, len(ds))
		for i, d := range ds {
			eventIDs[i] = d.EventID
		}
		rows, err = tx.StmtContext(ctx, db.stmts.claimEvents).QueryContext(ctx, idList(eventIDs))
		if err != nil {
			return err
		}
		evs, err := collect(rows, scanEvent)
		if err != nil {
			return err
		}
		byEvent := make(map[string]*herald.Event, len(evs))
		for _, e := range evs {
			byEvent[e.ID] = e
		}
		byID := make(map[string]*herald.Delivery, len(ds))
		for _, d := range ds {
			byID[d.ID] = d
		}
		// RETURNING has no order: restore the claim order.
		for _, id := range take {
			if d := byID[id]; d != nil {
				claims = append(claims, &store.Claim{Delivery: d, Event: byEvent[d.EventID], NotBefore: turns[id]})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// CompleteAttempts records attempts and moves their deliveries on, in one
// transaction. A canceled delivery stays canceled (its endpoint went away
// while the attempt ran); it only gains the attempt.
func (db *DB) CompleteAttempts(ctx context.Context, results []*store.AttemptResult) error {
	if len(results) == 0 {
		return nil
	}
	now := ns(db.now())
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		attempts := rowSet{b: db.stmts.attemptIns}
		set := rowSet{b: db.stmts.complete, fixed: []any{now}}
		for _, r := range results {
			attempts.addAttempt(r.Attempt)
		}
		err := attempts.flush(ctx, tx, func(i int, err error) error {
			if isForeignKey(err) {
				// The delivery is gone (its project or event was deleted
				// while the attempt ran): there is nothing to record, and
				// failing the batch would fail the other results with it.
				// Its UPDATE below matches no row.
				return nil
			}
			a := results[i].Attempt
			return conflict(err, "attempt "+a.ID, "delivery "+a.DeliveryID)
		})
		if err != nil {
			return err
		}
		// One UPDATE joins each delivery to one row of its values: a
		// delivery with two results in the batch gets them one at a time,
		// in order, as if each had its own statement.
		seen := make(map[string]bool, len(results))
		for _, r := range results {
			a := r.Attempt
			if seen[a.DeliveryID] {
				if err := set.flush(ctx, tx, nil); err != nil {
					return err
				}
				clear(seen)
			}
			seen[a.DeliveryID] = true
			var next any
			if r.Status == herald.DeliveryPending {
				next = nsPtr(r.NextAttemptAt)
			}
			set.add(a.DeliveryID, r.Status, a.Number, next, ns(a.StartedAt), a.ResponseStatus, a.LastError(), r.Manual)
		}
		return set.flush(ctx, tx, nil)
	})
}

// ReleaseDeliveries hands back owner's in-flight deliveries, due now.
func (db *DB) ReleaseDeliveries(ctx context.Context, owner string, deliveryIDs []string) error {
	if len(deliveryIDs) == 0 {
		return nil
	}
	now := ns(db.now())
	_, err := db.exec(ctx, releaseSQL, now, owner, idList(deliveryIDs))
	return err
}

// PostponeEndpoint pauses the endpoint until until (later ends win): one
// row written, however long its backlog. Claims skip its pending
// deliveries until then, and reads report them due then (see nextDue).
func (db *DB) PostponeEndpoint(ctx context.Context, endpointID string, until time.Time) error {
	_, err := db.exec(ctx, `UPDATE endpoints SET paused_until = MAX(COALESCE(paused_until, ?1), ?1) WHERE id = ?2`, ns(until), endpointID)
	return err
}

// RequeueDeliveries makes the endpoint's exhausted and canceled deliveries
// created in [since, until) pending and due now.
func (db *DB) RequeueDeliveries(ctx context.Context, projectID, endpointID string, since, until time.Time) (int, error) {
	now := ns(db.now())
	res, err := db.exec(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = ?1, updated_at = ?1
		WHERE endpoint_id = ?2 AND project_id = ?3 AND status IN ('exhausted', 'canceled') AND created_at >= ?4 AND created_at < ?5`,
		now, endpointID, projectID, ns(since), ns(until))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// statsBucketWidths are the chart resolutions EndpointStats picks from: the
// finest that keeps the window within statsMaxBuckets buckets.
var statsBucketWidths = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

const statsMaxBuckets = 60

// EndpointStats summarises the endpoint's deliveries and attempts since since.
func (db *DB) EndpointStats(ctx context.Context, projectID, endpointID string, since time.Time) (*store.EndpointStats, error) {
	var one int
	err := db.r.QueryRowContext(ctx, `SELECT 1 FROM endpoints WHERE id = ? AND project_id = ?`, endpointID, projectID).Scan(&one)
	if err != nil {
		return nil, notFound(err, "endpoint %s", endpointID)
	}
	st := &store.EndpointStats{Since: since.UTC(), Deliveries: map[string]int{}}
	for _, s := range []string{herald.DeliveryPending, herald.DeliveryInFlight, herald.DeliverySucceeded, herald.DeliveryExhausted, herald.DeliveryCanceled} {
		st.Deliveries[s] = 0
	}
	rows, err := db.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM deliveries INDEXED BY deliveries_endpoint_created
		WHERE endpoint_id = ? AND project_id = ? AND created_at >= ? GROUP BY status`,
		endpointID, projectID, ns(since))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return nil, err
		}
		st.Deliveries[s] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	type sample struct {
		at int64
		ms int64
		ok bool
	}
	var samples []sample
	rows, err = db.r.QueryContext(ctx, `SELECT started_at, duration_ms, response_status, error_class FROM attempts
		WHERE endpoint_id = ? AND project_id = ? AND started_at >= ? ORDER BY started_at`, endpointID, projectID, ns(since))
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var s sample
		var status int
		var class string
		if err := rows.Scan(&s.at, &s.ms, &status, &class); err != nil {
			rows.Close()
			return nil, err
		}
		s.ok = class == "" && status >= 200 && status < 300
		samples = append(samples, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	all := make([]int64, 0, len(samples))
	for _, s := range samples {
		all = append(all, s.ms)
		if s.ok {
			st.Succeeded++
		}
	}
	st.Attempts = len(samples)
	st.Failed = st.Attempts - st.Succeeded
	if st.Attempts > 0 {
		st.SuccessRate = float64(st.Succeeded) / float64(st.Attempts)
	}
	slices.Sort(all)
	st.LatencyP50, st.LatencyP90, st.LatencyP99 = percentile(all, 50), percentile(all, 90), percentile(all, 99)

	// Buckets cover [since, now], aligned on the width, empty ones included
	// so a chart has an even time axis.
	now := db.now()
	if !now.After(since) {
		return st, nil
	}
	width := statsBucketWidths[len(statsBucketWidths)-1]
	for _, w := range statsBucketWidths {
		if now.Sub(since)/w < statsMaxBuckets {
			width = w
			break
		}
	}
	start := since.UTC().Truncate(width)
	n := int(now.Sub(start)/width) + 1
	lat := make([][]int64, n)
	st.Buckets = make([]store.StatsBucket, n)
	for i := range st.Buckets {
		st.Buckets[i].Start = start.Add(time.Duration(i) * width)
	}
	for _, s := range samples {
		i := int(fromNS(s.at).Sub(start) / width)
		if i < 0 || i >= n {
			continue
		}
		st.Buckets[i].Attempts++
		if s.ok {
			st.Buckets[i].Succeeded++
		}
		lat[i] = append(lat[i], s.ms)
	}
	for i := range st.Buckets {
		slices.Sort(lat[i])
		st.Buckets[i].LatencyP50, st.Buckets[i].LatencyP99 = percentile(lat[i], 50), percentile(lat[i], 99)
	}
	return st, nil
}

// percentile is the nearest-rank percentile of sorted values (0 when empty).
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// queueStatsSQL counts the unfinished deliveries through the partial
// queue indexes (never a scan of the whole table), and finds the oldest
// with a loose index scan of the endpoints with unfinished deliveries: per
// endpoint, the first unfinished delivery in ingest order (seq), whose
// created_at is the endpoint's oldest.
const queueStatsSQL = `
WITH RECURSIVE eps(id) AS (
	SELECT (SELECT endpoint_id FROM deliveries INDEXED BY deliveries_endpoint WHERE ` + unfinished + ` ORDER BY endpoint_id LIMIT 1)
	UNION ALL
	SELECT (SELECT endpoint_id FROM deliveries INDEXED BY deliveries_endpoint WHERE ` + unfinished + ` AND endpoint_id > eps.id
		ORDER BY endpoint_id LIMIT 1)
	FROM eps WHERE eps.id IS NOT NULL
)
SELECT
	(SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_due WHERE status = 'pending') +
	(SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_lease WHERE status = 'in_flight'),
	(SELECT MIN(created_at) FROM (
		SELECT (SELECT x.created_at FROM deliveries x INDEXED BY deliveries_endpoint
			WHERE x.endpoint_id = eps.id AND x.status = 'pending' ORDER BY x.seq LIMIT 1) AS created_at FROM eps
		UNION ALL
		SELECT (SELECT x.created_at FROM deliveries x INDEXED BY deliveries_endpoint
			WHERE x.endpoint_id = eps.id AND x.status = 'in_flight' ORDER BY x.seq LIMIT 1) FROM eps))`

// QueueStats counts the unfinished deliveries.
func (db *DB) QueueStats(ctx context.Context) (*store.QueueStats, error) {
	var qs store.QueueStats
	var oldest sql.NullInt64
	if err := db.r.QueryRowContext(ctx, queueStatsSQL).Scan(&qs.Pending, &oldest); err != nil {
		return nil, err
	}
	qs.OldestPending = fromNull(oldest)
	return &qs, nil
}

// Purge deletes up to limit events created before before (their
// deliveries, attempts and idempotency keys cascade), and expired
// idempotency keys.
func (db *DB) Purge(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int64
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at < ? ORDER BY created_at LIMIT ?)`, ns(before), limit)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at <= ?`, ns(db.now().Add(-store.IdempotencyWindow))); err != nil {
			return err
		}
		return db.purgeRequestKeys(ctx, tx)
	})
	return int(n), err
}
