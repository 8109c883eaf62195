package postgres

import (
	"context"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/jackc/pgx/v5"
)

// deliveryStates are the keys of EndpointStats.Deliveries, all present so
// that a chart or a client need not guess the missing ones.
var deliveryStates = []string{herald.DeliveryPending, herald.DeliveryInFlight, herald.DeliverySucceeded,
	herald.DeliveryExhausted, herald.DeliveryCanceled}

// bucketWidths are the chart resolutions, finest first; EndpointStats uses
// the finest that cuts the window (since to now) into fewer than maxBuckets.
// Buckets start on multiples of their width (UTC), as in internal/store/sqlite.
var bucketWidths = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

const maxBuckets = 60

// EndpointStats summarises the endpoint's deliveries created and attempts
// started since since. Latency percentiles are nearest-rank
// (percentile_disc) over duration_ms.
func (db *DB) EndpointStats(ctx context.Context, projectID, endpointID string, since time.Time) (*store.EndpointStats, error) {
	since = tm(since)
	now := tm(db.now())
	span := now.Sub(since)
	// Past the widest resolution, whole days: a window of years still
	// makes at most about maxBuckets buckets.
	width := (span/maxBuckets + 24*time.Hour).Truncate(24 * time.Hour)
	for _, w := range bucketWidths {
		if span/w < maxBuckets {
			width = w
			break
		}
	}
	start := since.Truncate(width)
	st := &store.EndpointStats{Since: since, Deliveries: make(map[string]int, len(deliveryStates))}
	for _, s := range deliveryStates {
		st.Deliveries[s] = 0
	}

	b := &pgx.Batch{}
	b.Queue("SELECT EXISTS (SELECT 1 FROM endpoints WHERE project_id = $1 AND id = $2)", projectID, endpointID)
	b.Queue(`SELECT status, count(*) FROM deliveries WHERE project_id = $1 AND endpoint_id = $2 AND created_at >= $3
		GROUP BY status`, projectID, endpointID, since)
	const summary = `count(*), count(*) FILTER (WHERE error_class = '' AND response_status BETWEEN 200 AND 299),
		coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms), 0),
		coalesce(percentile_disc(0.9) WITHIN GROUP (ORDER BY duration_ms), 0),
		coalesce(percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_ms), 0)`
	b.Queue("SELECT "+summary+" FROM attempts WHERE project_id = $1 AND endpoint_id = $2 AND started_at >= $3",
		projectID, endpointID, since)
	b.Queue("SELECT date_bin($5, started_at, $4) AS bucket, "+summary+`
		FROM attempts WHERE project_id = $1 AND endpoint_id = $2 AND started_at >= $3
		GROUP BY bucket ORDER BY bucket`, projectID, endpointID, since, start, width)
	br := db.pool.SendBatch(ctx, b)
	defer br.Close()

	var exists bool
	if err := br.QueryRow().Scan(&exists); err != nil {
		return nil, dbErr(err, "endpoint stats")
	}
	if !exists {
		return nil, notFound("endpoint " + endpointID)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, dbErr(err, "endpoint stats")
	}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return nil, dbErr(err, "endpoint stats")
		}
		st.Deliveries[s] = n
	}
	rows.Close()
	if err := br.QueryRow().Scan(&st.Attempts, &st.Succeeded, &st.LatencyP50, &st.LatencyP90, &st.LatencyP99); err != nil {
		return nil, dbErr(err, "endpoint stats")
	}
	st.Failed = st.Attempts - st.Succeeded
	if st.Attempts > 0 {
		st.SuccessRate = float64(st.Succeeded) / float64(st.Attempts)
	}

	// Every bucket from start to now, the empty ones too, so that a chart
	// has an even time axis. Attempts stamped after now (another
	// process's clock) fall outside.
	filled := make(map[int64]store.StatsBucket)
	rows, err = br.Query()
	if err != nil {
		return nil, dbErr(err, "endpoint stats")
	}
	for rows.Next() {
		var bk store.StatsBucket
		var p90 int64 // a bucket has no p90
		if err := rows.Scan(&bk.Start, &bk.Attempts, &bk.Succeeded, &bk.LatencyP50, &p90, &bk.LatencyP99); err != nil {
			rows.Close()
			return nil, dbErr(err, "endpoint stats")
		}
		bk.Start = bk.Start.UTC()
		filled[bk.Start.UnixMicro()] = bk
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "endpoint stats")
	}
	if now.After(since) {
		for t := start; !t.After(now); t = t.Add(width) {
			bk, ok := filled[t.UnixMicro()]
			if !ok {
				bk = store.StatsBucket{Start: t}
			}
			st.Buckets = append(st.Buckets, bk)
		}
	}
	return st, br.Close()
}

// QueueStats counts the unfinished deliveries (pending or in flight) and
// finds the oldest of them.
func (db *DB) QueueStats(ctx context.Context) (*store.QueueStats, error) {
	qs := new(store.QueueStats)
	err := db.pool.QueryRow(ctx, `SELECT count(*), min(created_at)
		FROM deliveries WHERE status IN ('pending', 'in_flight')`).Scan(&qs.Pending, &qs.OldestPending)
	if err != nil {
		return nil, dbErr(err, "queue stats")
	}
	utcp(&qs.OldestPending)
	return qs, nil
}

// Purge deletes at most limit events created before before (their
// deliveries, attempts and idempotency keys go by cascade), and idempotency
// keys older than the window. Events another process is purging at the
// same moment are skipped, not waited for.
func (db *DB) Purge(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM events WHERE id IN (
		SELECT id FROM events WHERE created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, tm(before), limit)
	b.Queue("DELETE FROM idempotency_keys WHERE created_at < $1", tm(db.now()).Add(-store.IdempotencyWindow))
	db.queuePurgeRequestKeys(b)
	tag, err := db.execBatch(ctx, b)
	if err != nil {
		return 0, dbErr(err, "purge")
	}
	return int(tag.RowsAffected()), nil
}
