package postgres

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/jackc/pgx/v5"
)

// dueSQL is a delivery whose time has come: pending and scheduled by now,
// or in flight under a lease that has expired (its process died). It
// re-checks rows as they are locked, so it is written as a CASE, which no
// index matches: the planner then always finds the rows by primary key
// rather than rescanning the due indexes.
const dueSQL = `CASE d.status WHEN 'pending' THEN d.next_attempt_at <= $1 WHEN 'in_flight' THEN d.locked_until < $1 ELSE false END`

// openSQL holds for an endpoint e whose pending deliveries may be claimed
// now: not skipped, not paused (PostponeEndpoint; an expired lease is
// claimed during a pause as ever). liveSQL: it is on (its deliveries
// otherwise are canceled).
const (
	openSQL = `e.id <> ALL($4) AND coalesce(e.paused_until <= $1, true)`
	liveSQL = `e.enabled AND e.status <> 'disabled'`
)

// orderedHeadSQL holds for a due delivery x of an ordered endpoint that may
// be claimed: x is the endpoint's head (lowest seq among pending and
// in_flight) and no other delivery of it is in flight under a live lease.
// Across processes the FOR UPDATE SKIP LOCKED in the claim re-checks each
// row's own state when it is locked, and a head stops being the head only
// by being claimed or finished, so two processes never hold two deliveries
// of one ordered endpoint.
const orderedHeadSQL = `x.seq = (SELECT min(o.seq) FROM deliveries o
		WHERE o.endpoint_id = x.endpoint_id AND o.status IN ('pending', 'in_flight'))
	AND NOT EXISTS (SELECT 1 FROM deliveries o
		WHERE o.endpoint_id = x.endpoint_id AND o.status = 'in_flight' AND o.locked_until >= $1 AND o.id <> x.id)`

// The joins back to deliveries and events go through id = ANY(ARRAY(…)):
// primary key probes for the few rows at hand, where the planner, guessing
// the CTEs' sizes, would otherwise hash-join whole tables.
//
// claimSQL reads a bounded window of candidates, $5 rows, from the heads
// of the two due indexes, whatever their endpoints; then judges them:
// deliveries of an endpoint gone or disabled are canceled, as deliveries
// of such an endpoint are; those of skipped endpoints, pending ones of
// paused endpoints, and those of an ordered endpoint but its head, are
// passed over. When the window was full and too few remain, the head of
// the due queue is a backlog the claim may not take (an endpoint paused,
// skipped, or ordered), and others' due work may lie behind it: deep then takes, from
// each open endpoint, its first due deliveries (its head, if ordered),
// through the per-endpoint due index: a probe per endpoint, however long
// the backlog. (Filtering inside the window's scan instead would walk the
// whole backlog on every claim.) The candidates are ranked per endpoint for
// PerEndpointLimit, locked with SKIP LOCKED (exclusive across processes;
// due is re-checked on the locked row) and leased, and come back with their
// events.
//
// A Cluster claim gives rate-limited deliveries turns on their endpoint's
// schedule, shared by every process, and takes no more than the turns free
// within the next second (capsSQL, paceSQL).
//
// $1 now, $2 owner, $3 lease end, $4 skipped endpoints, $5 window,
// $6 per-endpoint cap (0 = none), $7 limit, $8 deep take per endpoint,
// $9 Cluster.
var claimSQL = `WITH x AS (
	(SELECT d.id, d.endpoint_id, d.next_attempt_at, d.priority, d.seq, true AS pending FROM deliveries d
		WHERE d.status = 'pending' AND d.next_attempt_at <= $1
		ORDER BY d.next_attempt_at, d.priority, d.seq LIMIT $5)
	UNION ALL
	(SELECT d.id, d.endpoint_id, d.next_attempt_at, d.priority, d.seq, false FROM deliveries d
		WHERE d.status = 'in_flight' AND d.locked_until < $1
		ORDER BY d.locked_until LIMIT $5)
), c AS (
	SELECT x.*, coalesce(` + liveSQL + `, false) AS live,
		coalesce((` + openSQL + ` OR NOT x.pending AND e.id <> ALL($4))
			AND CASE WHEN e.ordered THEN ` + orderedHeadSQL + ` ELSE true END, false) AS ok
	FROM x LEFT JOIN endpoints e ON e.id = x.endpoint_id
), eligible AS (
	SELECT id, endpoint_id, next_attempt_at, priority, seq,
		row_number() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, priority, seq) AS rn
	FROM c WHERE live AND ok
), deep AS (
	SELECT x.id, x.endpoint_id, x.next_attempt_at, x.priority, x.seq FROM endpoints e
	CROSS JOIN LATERAL (SELECT d.id, d.endpoint_id, d.next_attempt_at, d.priority, d.seq FROM deliveries d
		WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= $1
		ORDER BY d.next_attempt_at, d.priority, d.seq LIMIT $8) x
	WHERE NOT e.ordered AND ` + liveSQL + ` AND ` + openSQL + `
		AND (SELECT count(*) FROM c WHERE pending) >= $5 AND (SELECT count(*) FROM eligible WHERE $6 = 0 OR rn <= $6) < $7
	UNION ALL
	SELECT x.id, x.endpoint_id, x.next_attempt_at, x.priority, x.seq FROM endpoints e
	CROSS JOIN LATERAL (SELECT d.id, d.endpoint_id, d.next_attempt_at, d.priority, d.seq, d.status FROM deliveries d
		WHERE d.endpoint_id = e.id AND d.status IN ('pending', 'in_flight') ORDER BY d.seq LIMIT 1) x
	WHERE e.ordered AND ` + liveSQL + ` AND ` + openSQL + ` AND x.status = 'pending' AND x.next_attempt_at <= $1 AND ` + orderedHeadSQL + `
		AND (SELECT count(*) FROM c WHERE pending) >= $5 AND (SELECT count(*) FROM eligible WHERE $6 = 0 OR rn <= $6) < $7
), cand AS (
	SELECT id, endpoint_id, next_attempt_at, priority, seq FROM eligible UNION SELECT * FROM deep
), caps AS (
	` + capsSQL + `
), ranked AS (
	SELECT cand.id, row_number() OVER (PARTITION BY cand.endpoint_id ORDER BY next_attempt_at, priority, seq) AS rn, caps.cap
	FROM cand LEFT JOIN caps USING (endpoint_id)
), picked AS (
	SELECT d.id FROM deliveries d
	WHERE d.id = ANY (ARRAY(SELECT id FROM ranked WHERE ($6 = 0 OR rn <= $6) AND (cap IS NULL OR rn <= cap))) AND ` + dueSQL + `
	ORDER BY d.next_attempt_at, d.priority, d.seq
	LIMIT $7
	FOR UPDATE OF d SKIP LOCKED
), dead AS (
	SELECT d.id FROM deliveries d
	WHERE d.id = ANY (ARRAY(SELECT id FROM c WHERE NOT live)) AND ` + dueSQL + `
	FOR UPDATE OF d SKIP LOCKED
), canceled AS (
	UPDATE deliveries d SET status = 'canceled', locked_by = '', locked_until = NULL, next_attempt_at = NULL, updated_at = $1
	WHERE d.id = ANY (ARRAY(SELECT id FROM dead))
), claimed AS (
	UPDATE deliveries d SET status = 'in_flight', locked_by = $2, locked_until = $3, updated_at = $1
	WHERE d.id = ANY (ARRAY(SELECT id FROM picked))
	RETURNING ` + qualify("d", deliveryCols) + `
), ` + paceSQL + `
SELECT ` + qualify("c", deliveryCols) + `, ` + eventCols + `, t.not_before
FROM claimed c JOIN events e ON e.id = c.event_id AND e.id = ANY (ARRAY(SELECT event_id FROM claimed))
LEFT JOIN turns t ON t.id = c.id`

// capsSQL is, for a Cluster claim ($9), each candidate rate-limited
// endpoint's turns free within the next second of its schedule
// (endpoint_pace), one every 1/rate_limit: the most the claim takes of it.
// Without $9 it is empty and the claim is as it ever was.
const capsSQL = `SELECT e.id AS endpoint_id, e.rate_limit,
		floor(extract(epoch FROM $1 + interval '1 second' - greatest(pc.next_at, $1)) * e.rate_limit)::int AS cap
	FROM endpoints e LEFT JOIN endpoint_pace pc ON pc.endpoint_id = e.id
	WHERE $9 AND e.rate_limit > 0 AND e.id = ANY (ARRAY(SELECT DISTINCT endpoint_id FROM cand))`

// paceSQL moves each rate-limited endpoint's schedule on by the n
// deliveries claimed (n/rate_limit from its end, or from now if it ended),
// and gives them the turns so reserved, 1/rate_limit apart in claim order.
// The schedule moves in one INSERT … ON CONFLICT DO UPDATE, which updates
// the row's latest version under its row lock: claims of other processes
// at the same moment queue on that row and reserve the turns after these,
// never the same ones. (The cap above is read from the statement's
// snapshot: two claims at once may together reserve more than a second
// ahead, which only holds their deliveries longer; turns never overlap.)
const paceSQL = `counts AS (
	SELECT c.endpoint_id, count(*) AS n, max(caps.rate_limit) AS rate
	FROM claimed c JOIN caps ON caps.endpoint_id = c.endpoint_id GROUP BY c.endpoint_id
), paced AS (
	INSERT INTO endpoint_pace AS p (endpoint_id, next_at)
	SELECT endpoint_id, $1 + n * interval '1 second' / rate FROM counts
	ON CONFLICT (endpoint_id) DO UPDATE SET next_at = greatest(p.next_at, $1) + (excluded.next_at - $1)
	RETURNING p.endpoint_id, p.next_at
), turns AS (
	SELECT c.id, pd.next_at + (row_number() OVER (PARTITION BY c.endpoint_id
			ORDER BY c.next_attempt_at, c.priority, c.seq) - 1 - cn.n) * interval '1 second' / cn.rate AS not_before
	FROM claimed c JOIN counts cn ON cn.endpoint_id = c.endpoint_id JOIN paced pd ON pd.endpoint_id = c.endpoint_id
)`

// qualify prefixes each column of a column list with a table alias.
func qualify(alias, cols string) string {
	fs := strings.Split(cols, ",")
	for i, f := range fs {
		fs[i] = alias + "." + strings.TrimSpace(f)
	}
	return strings.Join(fs, ", ")
}

// ClaimDeliveries leases due deliveries to p.Owner (see store.Store), in
// one statement committed asynchronously (queueAsyncCommit).
func (db *DB) ClaimDeliveries(ctx context.Context, p store.ClaimParams) ([]*store.Claim, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	now := tm(p.Now)
	until := tm(p.Now.Add(p.Lease))
	skip := p.SkipEndpoints
	if skip == nil {
		skip = []string{} // <> ALL(NULL) would match nothing
	}
	window := max(4*p.Limit, 128)
	perEndpoint := max(p.PerEndpointLimit, 0)
	deepTake := p.Limit
	if perEndpoint > 0 {
		deepTake = min(perEndpoint, p.Limit)
	}
	b := &pgx.Batch{}
	queueAsyncCommit(b)
	// The window must be read in index order, stopping after $5 rows. With
	// statistics that lag behind a burst of ingest (a new or fast-growing
	// table), the planner believes few deliveries are due and reads them
	// all through a bitmap to sort them instead: tens of milliseconds per
	// claim behind a backlog of tens of thousands. Without bitmap scans it
	// has only the ordered index scan (and probes for the id lists).
	b.Queue("SELECT set_config('enable_bitmapscan', 'off', true)")
	b.Queue(claimSQL, now, p.Owner, until, skip, window, perEndpoint, p.Limit, deepTake, p.Cluster)
	br := db.pool.SendBatch(ctx, b)
	var claims []*store.Claim
	_, err := br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			err = forEach(rows, func() error {
				c, err := scanClaim(rows)
				claims = append(claims, c)
				return err
			})
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, dbErr(err, "claim")
	}
	// RETURNING has no order; hand them out in claim order.
	slices.SortFunc(claims, func(a, b *store.Claim) int {
		da, db := a.Delivery, b.Delivery
		return cmp.Or(cmpTime(da.NextAttemptAt, db.NextAttemptAt), cmp.Compare(da.Priority, db.Priority), cmp.Compare(da.Seq, db.Seq))
	})
	return claims, nil
}

func cmpTime(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return a.Compare(*b)
}

func scanClaim(row pgx.Row) (*store.Claim, error) {
	d := new(herald.Delivery)
	var es eventScan
	var notBefore *time.Time
	if err := row.Scan(append(append(deliveryDest(d), es.dest()...), &notBefore)...); err != nil {
		return nil, err
	}
	deliveryUTC(d)
	e, err := es.event()
	if err != nil {
		return nil, err
	}
	c := &store.Claim{Delivery: d, Event: e}
	if notBefore != nil {
		c.NotBefore = notBefore.UTC()
	}
	return c, nil
}

// queueAsyncCommit makes the batch's transaction commit without waiting for
// its WAL to reach the disk (synchronous_commit off for this transaction
// only). For the queue's bookkeeping — claims and attempt results — that is
// safe: a database crash can lose only the last few hundred milliseconds of
// such commits, which leaves their deliveries pending or in flight under a
// lease, to be sent again: at least once holds. Each later durable commit,
// such as ingest's, flushes them too. What it saves is a disk flush per
// claim and per result batch, the largest part of their time here.
func queueAsyncCommit(b *pgx.Batch) {
	b.Queue("SELECT set_config('synchronous_commit', 'off', true)")
}

// CompleteAttempts stores the attempts and moves their deliveries on, in
// two bulk statements sent as one batch (one implicit transaction, one
// round trip) that commits asynchronously (queueAsyncCommit). A delivery
// deleted meanwhile (its project deleted, its event purged) is skipped:
// there is nothing left to record. A canceled delivery stays canceled (its
// endpoint went away while the attempt ran); it only gains the attempt.
func (db *DB) CompleteAttempts(ctx context.Context, results []*store.AttemptResult) error {
	if len(results) == 0 {
		return nil
	}
	now := tm(db.now())
	// Rows are locked in delivery order, so that two batches touching the
	// same deliveries (a manual attempt and a scheduled one) cannot
	// deadlock.
	results = slices.Clone(results)
	slices.SortStableFunc(results, func(a, b *store.AttemptResult) int {
		return strings.Compare(a.Attempt.DeliveryID, b.Attempt.DeliveryID)
	})
	n := len(results)
	var (
		as                  = make([]*herald.Attempt, n)
		ids, statuses, errs = make([]string, n), make([]string, n), make([]string, n)
		numbers, codes      = make([]int32, n), make([]int32, n)
		next                = make([]*time.Time, n)
		started             = make([]time.Time, n)
		manual              = make([]bool, n)
	)
	for i, r := range results {
		a := r.Attempt
		a.StartedAt = tm(a.StartedAt)
		as[i] = a
		// last_error says why the attempt failed: its message, or its
		// class when it has none.
		ids[i], statuses[i], errs[i] = a.DeliveryID, r.Status, a.LastError()
		numbers[i], codes[i] = int32(a.Number), int32(a.ResponseStatus)
		next[i], started[i], manual[i] = tmp(r.NextAttemptAt), a.StartedAt, r.Manual
	}
	b := &pgx.Batch{}
	queueAsyncCommit(b)
	queueAttempts(b, as, true)
	// A manual attempt moves its delivery only when no process holds a
	// live lease on it: the holder's own result will. Any other result
	// leaves a canceled delivery as it is.
	b.Queue(`UPDATE deliveries d SET status = u.status, attempts = u.number, next_attempt_at = u.next,
			locked_by = '', locked_until = NULL, last_attempt_at = u.started, last_status = u.code, last_error = u.err,
			updated_at = $1, succeeded_at = CASE WHEN u.status = 'succeeded' THEN $1 ELSE d.succeeded_at END
		FROM unnest($2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::timestamptz[], $7::int[], $8::text[], $9::bool[])
			AS u(id, status, number, next, started, code, err, manual)
		WHERE d.id = u.id AND CASE WHEN u.manual THEN NOT (d.status = 'in_flight' AND d.locked_until >= $1)
			ELSE d.status <> 'canceled' END`,
		now, ids, statuses, numbers, next, started, codes, errs, manual)
	_, err := db.execBatch(ctx, b)
	return dbErr(err, "attempt")
}

// ReleaseDeliveries hands back owner's in-flight deliveries among ids:
// pending, due now, lease cleared.
func (db *DB) ReleaseDeliveries(ctx context.Context, owner string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.pool.Exec(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = $3, locked_by = '',
			locked_until = NULL, updated_at = $3
		WHERE id = ANY($2) AND locked_by = $1 AND status = 'in_flight'`, owner, ids, tm(db.now()))
	return dbErr(err, "deliveries")
}

// PostponeEndpoint pauses the endpoint until until, the later end winning:
// one row whatever the backlog. The claim passes its pending deliveries
// over until then, and reads show them due then (nextAttemptSQL).
func (db *DB) PostponeEndpoint(ctx context.Context, endpointID string, until time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE endpoints SET paused_until = greatest(paused_until, $2) WHERE id = $1`,
		endpointID, tm(until))
	return dbErr(err, "endpoint "+endpointID)
}

// RequeueDeliveries makes the endpoint's exhausted and canceled deliveries
// created in [since, until) pending and due now.
func (db *DB) RequeueDeliveries(ctx context.Context, projectID, endpointID string, since, until time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = $5, locked_by = '',
			locked_until = NULL, updated_at = $5
		WHERE project_id = $1 AND endpoint_id = $2 AND status IN ('exhausted', 'canceled')
			AND created_at >= $3 AND created_at < $4`, projectID, endpointID, since, until, tm(db.now()))
	if err != nil {
		return 0, dbErr(err, "deliveries")
	}
	return int(tag.RowsAffected()), nil
}
