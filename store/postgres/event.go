package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/store"
	"github.com/jackc/pgx/v5"
)

// InsertEvents inserts events with their deliveries and attempts in one
// round trip: a batch of a handful of bulk statements (unnest arrays)
// whatever its size, run by PostgreSQL as one implicit transaction. With
// idempotency keys, the keys go first (INSERT … ON CONFLICT, so the primary
// key decides between processes), each later statement leaves out the
// events whose key another event holds, and the last one reads those
// owners.
func (db *DB) InsertEvents(ctx context.Context, evs []*store.NewEvent) ([]store.InsertResult, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	now := tm(db.now())
	keyed := false
	events := make([]*herald.Event, len(evs))
	var ds []*herald.Delivery
	var as []*herald.Attempt
	for i, ne := range evs {
		e := ne.Event
		if e.CreatedAt.IsZero() {
			e.CreatedAt = now
		}
		e.CreatedAt = tm(e.CreatedAt)
		if e.OccurredAt.IsZero() {
			e.OccurredAt = e.CreatedAt
		}
		e.OccurredAt = tm(e.OccurredAt)
		keyed = keyed || e.IdempotencyKey != ""
		events[i] = e
		ds = append(ds, ne.Deliveries...)
		as = append(as, ne.Attempts...)
	}

	b := &pgx.Batch{}
	if keyed {
		queueKeys(b, events, now)
	}
	queueEvents(b, events, keyed)
	db.queueDeliveries(b, ds, now, keyed)
	queueAttempts(b, as, false)
	if keyed {
		queuePrior(b, events)
	}
	br := db.pool.SendBatch(ctx, b)
	results, err := readInserted(br, evs, ds, as, keyed)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, dbErr(err, "event")
	}
	return results, nil
}

// readInserted reads the results of InsertEvents' batch.
func readInserted(br pgx.BatchResults, evs []*store.NewEvent, ds []*herald.Delivery, as []*herald.Attempt, keyed bool) ([]store.InsertResult, error) {
	results := make([]store.InsertResult, len(evs))
	inserted := make(map[string]bool, len(evs)) // by event id; nil when every event is
	if keyed {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
		rows, err := br.Query()
		if err != nil {
			return nil, err
		}
		if err := forEach(rows, func() error {
			var id string
			err := rows.Scan(&id)
			inserted[id] = true
			return err
		}); err != nil {
			return nil, err
		}
	} else if _, err := br.Exec(); err != nil {
		return nil, err
	}
	if err := readSeqs(br, ds); err != nil {
		return nil, err
	}
	if len(as) > 0 {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	for i, ne := range evs {
		if !keyed || inserted[ne.Event.ID] {
			results[i] = store.InsertResult{Event: ne.Event, Deliveries: len(ne.Deliveries)}
		}
	}
	if !keyed {
		return results, nil
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	if err := forEach(rows, func() error {
		var i, n int
		var hash string
		e, err := scanEvent(rows, &i, &hash, &n)
		if err != nil {
			return err
		}
		r := &results[i-1]
		if hash == evs[i-1].Event.BodyHash {
			r.Event, r.Deliveries, r.Replayed = e, n, true
		} else {
			r.Conflict = true
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for i, r := range results {
		if r.Event == nil && !r.Conflict {
			// Its key is held, yet by no event: the foreign key forbids it.
			return nil, notFound("the event holding idempotency key " + evs[i].Event.IdempotencyKey)
		}
	}
	return results, nil
}

// forEach calls scan for each row, then closes rows.
func forEach(rows pgx.Rows, scan func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queueKeys takes the idempotency keys of evs: a key is taken when absent
// or expired (older than the window). The insert takes keys in (project,
// key) order, so two concurrent batches cannot deadlock on each other's
// keys, and a key that appears twice in one batch goes to its first event.
func queueKeys(b *pgx.Batch, evs []*herald.Event, now time.Time) {
	var projects, keys, ids, hashes []string
	var created []time.Time
	for _, e := range evs {
		if e.IdempotencyKey != "" {
			projects, keys, ids = append(projects, e.ProjectID), append(keys, e.IdempotencyKey), append(ids, e.ID)
			hashes, created = append(hashes, e.BodyHash), append(created, e.CreatedAt)
		}
	}
	b.Queue(`INSERT INTO idempotency_keys AS k (project_id, key, event_id, body_hash, created_at)
		SELECT DISTINCT ON (project_id, key) project_id, key, event_id, body_hash, created_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY
			AS u(project_id, key, event_id, body_hash, created_at, ord)
		ORDER BY project_id, key, ord
		ON CONFLICT (project_id, key) DO UPDATE
			SET event_id = excluded.event_id, body_hash = excluded.body_hash, created_at = excluded.created_at
			WHERE k.created_at < $6`, projects, keys, ids, hashes, created, now.Add(-store.IdempotencyWindow))
}

// keyHeldSQL keeps, after queueKeys, the events u that hold their key (or
// have none). As a statement of its own it sees the keys that queueKeys
// took.
//
// Here and below, a lookup per row of the batch is a LATERAL subquery kept
// apart by OFFSET 0, which the planner can only run as an index probe per
// row: as a join or EXISTS, it plans a table of a few ten thousand rows
// (or a freshly loaded one, without statistics) as a hash join over all
// of it, a sequential scan per batch.
const keyHeldSQL = ` LEFT JOIN LATERAL (SELECT k.event_id FROM idempotency_keys k
		WHERE k.project_id = u.project_id AND k.key = u.idempotency_key OFFSET 0) k ON true
	WHERE u.idempotency_key = '' OR k.event_id = u.id`

// queuePrior reads, for each event of evs whose key another event holds,
// its position in evs (from 1), the holder's body hash and the holder with
// its number of deliveries. The holder may be an event of this batch (the
// same key twice).
func queuePrior(b *pgx.Batch, evs []*herald.Event) {
	n := len(evs)
	projects, keys, ids := make([]string, n), make([]string, n), make([]string, n)
	for i, e := range evs {
		projects[i], keys[i], ids[i] = e.ProjectID, e.IdempotencyKey, e.ID
	}
	b.Queue("SELECT "+eventCols+`, u.ord, k.body_hash, (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id)
		FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(project_id, key, id, ord)
		CROSS JOIN LATERAL (SELECT k.event_id, k.body_hash FROM idempotency_keys k
			WHERE k.project_id = u.project_id AND k.key = u.key AND k.event_id <> u.id OFFSET 0) k
		CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.id = k.event_id OFFSET 0) e
		WHERE u.key <> ''`, projects, keys, ids)
}

// queueEvents inserts evs; keyed, only those holding their key, and it
// returns their ids.
func queueEvents(b *pgx.Batch, evs []*herald.Event, keyed bool) {
	n := len(evs)
	var (
		ids, projects, types, channels, keys, hashes = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		data, metadata                               = make([]*string, n), make([]*string, n)
		occurred, created                            = make([]time.Time, n), make([]time.Time, n)
		hooks                                        = make([]bool, n)
	)
	for i, e := range evs {
		ids[i], projects[i], types[i] = e.ID, e.ProjectID, e.Type
		data[i], channels[i] = rawText(e.Data), jsonText(e.Channels)
		if e.Metadata != nil {
			s := jsonText(e.Metadata)
			metadata[i] = &s
		}
		occurred[i], created[i] = e.OccurredAt, e.CreatedAt
		keys[i], hashes[i], hooks[i] = e.IdempotencyKey, e.BodyHash, e.Hook
	}
	tail := ""
	if keyed {
		tail = keyHeldSQL + " RETURNING id"
	}
	b.Queue(`INSERT INTO events (id, project_id, type, data, channels, metadata, occurred_at, created_at, idempotency_key, body_hash, hook)
		SELECT u.id, u.project_id, u.type, u.data::json, u.channels::jsonb, u.metadata::json, u.occurred_at, u.created_at, u.idempotency_key, u.body_hash, u.hook
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[], $11::bool[])
			AS u(id, project_id, type, data, channels, metadata, occurred_at, created_at, idempotency_key, body_hash, hook)`+tail,
		ids, projects, types, data, channels, metadata, occurred, created, keys, hashes, hooks)
}

// queueDeliveries inserts ds in slice order, which is the order their seq
// (ingest order) is assigned in; readSeqs reads the seqs back into ds.
// With onlyInserted, the deliveries of events that do not exist (not
// inserted by the batch's events statement) are left out.
func (db *DB) queueDeliveries(b *pgx.Batch, ds []*herald.Delivery, now time.Time, onlyInserted bool) {
	n := len(ds)
	var (
		ids, projects, events, endpoints, types, statuses, lockedBy, lastErrors = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		attempts, priorities, lastStatuses                                      = make([]int32, n), make([]int32, n), make([]int32, n)
		next, lockedUntil, lastAttempt, succeeded                               = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		created, updated                                                        = make([]time.Time, n), make([]time.Time, n)
	)
	for i, d := range ds {
		if d.Status == "" {
			d.Status = herald.DeliveryPending
		}
		if d.CreatedAt.IsZero() {
			d.CreatedAt = now
		}
		if d.UpdatedAt.IsZero() {
			d.UpdatedAt = d.CreatedAt
		}
		d.CreatedAt, d.UpdatedAt = tm(d.CreatedAt), tm(d.UpdatedAt)
		d.NextAttemptAt, d.LockedUntil, d.LastAttemptAt, d.SucceededAt = tmp(d.NextAttemptAt), tmp(d.LockedUntil), tmp(d.LastAttemptAt), tmp(d.SucceededAt)
		ids[i], projects[i], events[i], endpoints[i], types[i], statuses[i] = d.ID, d.ProjectID, d.EventID, d.EndpointID, d.EventType, d.Status
		attempts[i], priorities[i], lastStatuses[i] = int32(d.Attempts), int32(d.Priority), int32(d.LastStatus)
		next[i], lockedBy[i], lockedUntil[i], lastAttempt[i], succeeded[i] = d.NextAttemptAt, d.LockedBy, d.LockedUntil, d.LastAttemptAt, d.SucceededAt
		lastErrors[i], created[i], updated[i] = d.LastError, d.CreatedAt, d.UpdatedAt
	}
	filter := ""
	if onlyInserted {
		filter = "CROSS JOIN LATERAL (SELECT 1 FROM events e WHERE e.id = u.event_id OFFSET 0) e"
	}
	b.Queue(`INSERT INTO deliveries (id, project_id, event_id, endpoint_id, event_type, status, attempts, priority,
			next_attempt_at, locked_by, locked_until, last_attempt_at, last_status, last_error, created_at, updated_at, succeeded_at)
		SELECT id, project_id, event_id, endpoint_id, event_type, status, attempts, priority,
			next_attempt_at, locked_by, locked_until, last_attempt_at, last_status, last_error, created_at, updated_at, succeeded_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[],
			$9::timestamptz[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::int[], $14::text[],
			$15::timestamptz[], $16::timestamptz[], $17::timestamptz[]) WITH ORDINALITY
			AS u(id, project_id, event_id, endpoint_id, event_type, status, attempts, priority,
				next_attempt_at, locked_by, locked_until, last_attempt_at, last_status, last_error, created_at, updated_at, succeeded_at, ord)
		`+filter+`
		ORDER BY ord
		RETURNING id, seq`,
		ids, projects, events, endpoints, types, statuses, attempts, priorities,
		next, lockedBy, lockedUntil, lastAttempt, lastStatuses, lastErrors, created, updated, succeeded)
}

func readSeqs(br pgx.BatchResults, ds []*herald.Delivery) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	byID := make(map[string]*herald.Delivery, len(ds))
	for _, d := range ds {
		byID[d.ID] = d
	}
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return err
		}
		if d := byID[id]; d != nil {
			d.Seq = seq
		}
	}
	return rows.Err()
}

// queueAttempts inserts as in bulk, those of deliveries that exist only
// (as seen by a statement after theirs in the batch, so that attempts of
// deliveries not inserted are left out); it queues nothing when as is
// empty. lock also locks those deliveries (FOR KEY SHARE) for the rest of
// the transaction, so that one deleted at the same moment is left out too
// rather than failing the foreign key check: that is for deliveries that
// other transactions may delete.
func queueAttempts(b *pgx.Batch, as []*herald.Attempt, lock bool) {
	n := len(as)
	if n == 0 {
		return
	}
	var (
		ids, projects, deliveries, events, endpoints, triggers, urls, reqHeaders, respHeaders, classes, errs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		numbers, statuses                                                                                    = make([]int32, n), make([]int32, n)
		started                                                                                              = make([]time.Time, n)
		durations                                                                                            = make([]int64, n)
		bodies                                                                                               = make([][]byte, n)
	)
	for i, a := range as {
		a.StartedAt = tm(a.StartedAt)
		ids[i], projects[i], deliveries[i], events[i], endpoints[i] = a.ID, a.ProjectID, a.DeliveryID, a.EventID, a.EndpointID
		numbers[i], triggers[i], started[i], durations[i], urls[i] = int32(a.Number), a.Trigger, a.StartedAt, a.DurationMS, a.RequestURL
		reqHeaders[i], statuses[i], respHeaders[i] = jsonText(a.RequestHeaders), int32(a.ResponseStatus), jsonText(a.ResponseHeaders)
		if a.ResponseBody != "" {
			bodies[i] = []byte(a.ResponseBody)
		}
		classes[i], errs[i] = a.ErrorClass, a.Error
	}
	lockSQL := ""
	if lock {
		lockSQL = " FOR KEY SHARE"
	}
	b.Queue(`INSERT INTO attempts (id, project_id, delivery_id, event_id, endpoint_id, number, trigger, started_at, duration_ms,
			request_url, request_headers, response_status, response_headers, response_body, error_class, error)
		SELECT id, project_id, delivery_id, event_id, endpoint_id, number, trigger, started_at, duration_ms,
			request_url, request_headers::jsonb, response_status, response_headers::jsonb, response_body, error_class, error
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::timestamptz[], $9::bigint[],
			$10::text[], $11::text[], $12::int[], $13::text[], $14::bytea[], $15::text[], $16::text[])
			AS u(id, project_id, delivery_id, event_id, endpoint_id, number, trigger, started_at, duration_ms,
				request_url, request_headers, response_status, response_headers, response_body, error_class, error)
		WHERE u.delivery_id IN (SELECT d.id FROM deliveries d WHERE d.id = ANY($3)`+lockSQL+`)`,
		ids, projects, deliveries, events, endpoints, numbers, triggers, started, durations,
		urls, reqHeaders, statuses, respHeaders, bodies, classes, errs)
}

const eventCols = "e.id, e.project_id, e.type, e.data, e.channels, e.metadata, e.occurred_at, e.created_at, e.idempotency_key, e.body_hash, e.hook"

// eventScan receives eventCols and turns them into an event.
type eventScan struct {
	e                        herald.Event
	data, channels, metadata []byte
}

func (s *eventScan) dest() []any {
	e := &s.e
	return []any{&e.ID, &e.ProjectID, &e.Type, &s.data, &s.channels, &s.metadata, &e.OccurredAt, &e.CreatedAt,
		&e.IdempotencyKey, &e.BodyHash, &e.Hook}
}

func (s *eventScan) event() (*herald.Event, error) {
	e := s.e
	e.Data = raw(s.data)
	if err := unjson(s.channels, &e.Channels); err != nil {
		return nil, err
	}
	if err := unjson(s.metadata, &e.Metadata); err != nil {
		return nil, err
	}
	utc(&e.OccurredAt, &e.CreatedAt)
	return &e, nil
}

// scanEvent scans eventCols, then extra columns into extra.
func scanEvent(row pgx.Row, extra ...any) (*herald.Event, error) {
	var s eventScan
	if err := row.Scan(append(s.dest(), extra...)...); err != nil {
		return nil, err
	}
	return s.event()
}

func scanEventRow(row pgx.Row) (*herald.Event, error) { return scanEvent(row) }

// GetEvent returns a project's event.
func (db *DB) GetEvent(ctx context.Context, projectID, id string) (*herald.Event, error) {
	e, err := scanEvent(db.pool.QueryRow(ctx, "SELECT "+eventCols+" FROM events e WHERE project_id = $1 AND id = $2", projectID, id))
	return e, dbErr(err, "event "+id)
}

// ListEvents returns a page of a project's events, newest first.
func (db *DB) ListEvents(ctx context.Context, projectID string, f store.EventFilter, page store.Page) ([]*herald.Event, string, error) {
	var q query
	q.and("project_id = " + q.arg(projectID))
	if f.Type != "" {
		q.and("type = " + q.arg(f.Type))
	}
	if f.Channel != "" {
		q.and("channels @> jsonb_build_array(" + q.arg(f.Channel) + "::text)")
	}
	if f.Since != nil {
		q.and("created_at >= " + q.arg(*f.Since))
	}
	if f.Until != nil {
		q.and("created_at < " + q.arg(*f.Until))
	}
	tail, n, err := q.page(page, "id")
	if err != nil {
		return nil, "", err
	}
	evs, err := collect(ctx, db, "SELECT "+eventCols+" FROM events e"+q.whereSQL()+tail, q.args, scanEventRow)
	if err != nil {
		return nil, "", dbErr(err, "events")
	}
	evs, next := nextPage(evs, n, func(e *herald.Event) (time.Time, string) { return e.CreatedAt, e.ID })
	return evs, next, nil
}

// InsertDeliveries adds deliveries to existing events (replay), in one
// implicit transaction.
func (db *DB) InsertDeliveries(ctx context.Context, ds []*herald.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	db.queueDeliveries(b, ds, tm(db.now()), false)
	br := db.pool.SendBatch(ctx, b)
	err := readSeqs(br, ds)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return dbErr(err, "delivery")
}

const deliveryCols = `id, project_id, event_id, endpoint_id, event_type, status, attempts, priority, seq,
	next_attempt_at, locked_by, locked_until, last_attempt_at, last_status, last_error, created_at, updated_at, succeeded_at`

// deliveryReadCols are deliveryCols as reads show them, from deliveries d:
// a pending delivery of a paused endpoint is due when the pause ends, if
// not later (PostponeEndpoint).
var deliveryReadCols = strings.Replace(qualify("d", deliveryCols), "d.next_attempt_at", nextAttemptSQL, 1)

const nextAttemptSQL = `CASE WHEN d.status = 'pending' THEN greatest(d.next_attempt_at,
	(SELECT p.paused_until FROM endpoints p WHERE p.id = d.endpoint_id)) ELSE d.next_attempt_at END`

func deliveryDest(d *herald.Delivery) []any {
	return []any{&d.ID, &d.ProjectID, &d.EventID, &d.EndpointID, &d.EventType, &d.Status, &d.Attempts, &d.Priority, &d.Seq,
		&d.NextAttemptAt, &d.LockedBy, &d.LockedUntil, &d.LastAttemptAt, &d.LastStatus, &d.LastError, &d.CreatedAt, &d.UpdatedAt, &d.SucceededAt}
}

func deliveryUTC(d *herald.Delivery) {
	utc(&d.CreatedAt, &d.UpdatedAt)
	utcp(&d.NextAttemptAt, &d.LockedUntil, &d.LastAttemptAt, &d.SucceededAt)
}

func scanDelivery(row pgx.Row) (*herald.Delivery, error) {
	d := new(herald.Delivery)
	if err := row.Scan(deliveryDest(d)...); err != nil {
		return nil, err
	}
	deliveryUTC(d)
	return d, nil
}

// GetDelivery returns a project's delivery.
func (db *DB) GetDelivery(ctx context.Context, projectID, id string) (*herald.Delivery, error) {
	d, err := scanDelivery(db.pool.QueryRow(ctx, "SELECT "+deliveryReadCols+" FROM deliveries d WHERE project_id = $1 AND id = $2", projectID, id))
	return d, dbErr(err, "delivery "+id)
}

// ListDeliveries returns a page of a project's deliveries, newest first.
func (db *DB) ListDeliveries(ctx context.Context, projectID string, f store.DeliveryFilter, page store.Page) ([]*herald.Delivery, string, error) {
	var q query
	q.and("project_id = " + q.arg(projectID))
	if f.EndpointID != "" {
		q.and("endpoint_id = " + q.arg(f.EndpointID))
	}
	if f.EventID != "" {
		q.and("event_id = " + q.arg(f.EventID))
	}
	if f.Status != "" {
		q.and("status = " + q.arg(f.Status))
	}
	if f.Since != nil {
		q.and("created_at >= " + q.arg(*f.Since))
	}
	if f.Until != nil {
		q.and("created_at < " + q.arg(*f.Until))
	}
	tail, n, err := q.page(page, "id")
	if err != nil {
		return nil, "", err
	}
	ds, err := collect(ctx, db, "SELECT "+deliveryReadCols+" FROM deliveries d"+q.whereSQL()+tail, q.args, scanDelivery)
	if err != nil {
		return nil, "", dbErr(err, "deliveries")
	}
	ds, next := nextPage(ds, n, func(d *herald.Delivery) (time.Time, string) { return d.CreatedAt, d.ID })
	return ds, next, nil
}

const attemptCols = `id, project_id, delivery_id, event_id, endpoint_id, number, trigger, started_at, duration_ms,
	request_url, request_headers, response_status, response_headers, response_body, error_class, error`

func scanAttempt(row pgx.Row) (*herald.Attempt, error) {
	a := new(herald.Attempt)
	var reqHeaders, respHeaders, body []byte
	err := row.Scan(&a.ID, &a.ProjectID, &a.DeliveryID, &a.EventID, &a.EndpointID, &a.Number, &a.Trigger, &a.StartedAt, &a.DurationMS,
		&a.RequestURL, &reqHeaders, &a.ResponseStatus, &respHeaders, &body, &a.ErrorClass, &a.Error)
	if err != nil {
		return nil, err
	}
	if err := unjson(reqHeaders, &a.RequestHeaders); err != nil {
		return nil, err
	}
	if err := unjson(respHeaders, &a.ResponseHeaders); err != nil {
		return nil, err
	}
	a.ResponseBody = string(body)
	utc(&a.StartedAt)
	return a, nil
}

// ListAttempts returns a delivery's attempts, oldest first (none for a
// delivery that does not exist).
func (db *DB) ListAttempts(ctx context.Context, projectID, deliveryID string) ([]*herald.Attempt, error) {
	as, err := collect(ctx, db, "SELECT "+attemptCols+" FROM attempts WHERE project_id = $1 AND delivery_id = $2 ORDER BY started_at, number, id",
		[]any{projectID, deliveryID}, scanAttempt)
	return as, dbErr(err, "attempts")
}

// ListEndpointAttempts returns an endpoint's latest attempts, newest first.
func (db *DB) ListEndpointAttempts(ctx context.Context, projectID, endpointID string, limit int) ([]*herald.Attempt, error) {
	limit = min(max(limit, 0), 1000)
	if limit == 0 {
		limit = 50
	}
	as, err := collect(ctx, db, "SELECT "+attemptCols+` FROM attempts WHERE project_id = $1 AND endpoint_id = $2
		ORDER BY started_at DESC, id DESC LIMIT $3`, []any{projectID, endpointID, limit}, scanAttempt)
	return as, dbErr(err, "attempts")
}
