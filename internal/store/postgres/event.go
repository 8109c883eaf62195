package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/jackc/pgx/v5"
)

// InsertEvents inserts events with their deliveries and attempts in bulk
// statements (unnest arrays), a handful whatever the batch size. Without
// idempotency keys that is one round trip: one batch, which PostgreSQL runs
// as one implicit transaction. With keys it is two, in one transaction on
// one connection (insertKeyed).
func (db *DB) InsertEvents(ctx context.Context, evs []*store.NewEvent) ([]store.InsertResult, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	now := tm(db.now())
	keyed := false
	for _, ne := range evs {
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
	}
	if keyed {
		return db.insertKeyed(ctx, evs, now)
	}
	results := make([]store.InsertResult, len(evs))
	b := &pgx.Batch{}
	rows := db.queueRows(b, evs, results, func(int) bool { return true }, now)
	br := db.pool.SendBatch(ctx, b)
	err := rows.read(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, dbErr(err, "event")
	}
	return results, nil
}

// insertKeyed is InsertEvents with idempotency keys: BEGIN and the keys
// first (INSERT … ON CONFLICT, so that the primary key decides between
// processes); then, in a second round trip, the rows of the events that got
// their key, the holders of the others' keys (a statement of its own, which
// sees keys another process committed while the first waited for them),
// and COMMIT.
func (db *DB) insertKeyed(ctx context.Context, evs []*store.NewEvent, now time.Time) ([]store.InsertResult, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, dbErr(err, "events")
	}
	// After an error the connection is still in the transaction: the pool
	// then closes it, which rolls the transaction back.
	defer conn.Release()

	events := make([]*herald.Event, len(evs))
	for i, ne := range evs {
		events[i] = ne.Event
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	queueKeys(b, events, now)
	br := conn.SendBatch(ctx, b)
	taken := make(map[string]bool, len(evs)) // by event id
	_, err = br.Exec()
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			err = forEach(rows, func() error {
				var id string
				err := rows.Scan(&id)
				taken[id] = true
				return err
			})
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, dbErr(err, "idempotency key")
	}

	results := make([]store.InsertResult, len(evs))
	var held []int // events whose key another event holds
	for i, e := range events {
		if e.IdempotencyKey != "" && !taken[e.ID] {
			held = append(held, i)
		}
	}
	b = &pgx.Batch{}
	rows := db.queueRows(b, evs, results, func(i int) bool { return events[i].IdempotencyKey == "" || taken[events[i].ID] }, now)
	if len(held) > 0 {
		queueHolders(b, events, held)
	}
	b.Queue("COMMIT")
	br = conn.SendBatch(ctx, b)
	err = rows.read(br)
	if err == nil && len(held) > 0 {
		err = readHolders(br, evs, held, results)
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, dbErr(err, "event")
	}
	return results, nil
}

// newRows are the rows of a batch of events queued by queueRows.
type newRows struct {
	events bool // an events statement was queued
	ds     []*herald.Delivery
	as     []*herald.Attempt
}

// queueRows queues the inserts of the events evs[i] for which insert(i)
// holds, with their deliveries and attempts, and sets their results.
func (db *DB) queueRows(b *pgx.Batch, evs []*store.NewEvent, results []store.InsertResult, insert func(int) bool, now time.Time) *newRows {
	r := &newRows{}
	var events []*herald.Event
	for i, ne := range evs {
		if insert(i) {
			events = append(events, ne.Event)
			r.ds = append(r.ds, ne.Deliveries...)
			r.as = append(r.as, ne.Attempts...)
			results[i] = store.InsertResult{Event: ne.Event, Deliveries: len(ne.Deliveries)}
		}
	}
	if len(events) > 0 {
		r.events = true
		queueEvents(b, events)
		db.queueDeliveries(b, r.ds, now)
		queueAttempts(b, r.as, false)
	}
	return r
}

// read reads the results of queueRows' statements.
func (r *newRows) read(br pgx.BatchResults) error {
	if !r.events {
		return nil
	}
	if _, err := br.Exec(); err != nil {
		return err
	}
	if err := readSeqs(br, r.ds); err != nil {
		return err
	}
	if len(r.as) > 0 {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return nil
}

// readHolders reads queueHolders' rows into the results of the events
// evs[i], i in held: a replay of the holder, or a conflict with it.
func readHolders(br pgx.BatchResults, evs []*store.NewEvent, held []int, results []store.InsertResult) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	if err := forEach(rows, func() error {
		var j, n int
		var hash string
		e, err := scanEvent(rows, &j, &hash, &n)
		if err != nil {
			return err
		}
		i := held[j-1]
		if hash == evs[i].Event.BodyHash {
			results[i] = store.InsertResult{Event: e, Deliveries: n, Replayed: true}
		} else {
			results[i] = store.InsertResult{Conflict: true}
		}
		return nil
	}); err != nil {
		return err
	}
	for _, i := range held {
		if results[i].Event == nil && !results[i].Conflict {
			// Its key is held, yet by no event: the foreign key forbids it.
			return notFound("the event holding idempotency key " + evs[i].Event.IdempotencyKey)
		}
	}
	return nil
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

// queueKeys takes the idempotency keys of evs and returns the ids of the
// events that took theirs: a key is taken when absent or expired (older
// than the window). The insert takes keys in (project,
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
			WHERE k.created_at < $6
		RETURNING event_id`, projects, keys, ids, hashes, created, now.Add(-store.IdempotencyWindow))
}

// queueHolders reads, for each event evs[i], i in held, whose key another
// event holds, its position in held (from 1), the holder's body hash and
// the holder with its number of deliveries. The holder may be an event of
// this batch (the same key twice).
//
// The lookups per row are LATERAL subqueries kept apart by OFFSET 0, which
// the planner can only run as an index probe per row: as joins, it plans a
// table of a few ten thousand rows (or a freshly loaded one, without
// statistics) as a hash join over all of it, a sequential scan per batch.
func queueHolders(b *pgx.Batch, evs []*herald.Event, held []int) {
	n := len(held)
	projects, keys, ids := make([]string, n), make([]string, n), make([]string, n)
	for j, i := range held {
		e := evs[i]
		projects[j], keys[j], ids[j] = e.ProjectID, e.IdempotencyKey, e.ID
	}
	b.Queue("SELECT "+eventCols+`, u.ord, k.body_hash, (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id)
		FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(project_id, key, id, ord)
		CROSS JOIN LATERAL (SELECT k.event_id, k.body_hash FROM idempotency_keys k
			WHERE k.project_id = u.project_id AND k.key = u.key AND k.event_id <> u.id OFFSET 0) k
		CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.id = k.event_id OFFSET 0) e`, projects, keys, ids)
}

// queueEvents inserts evs.
func queueEvents(b *pgx.Batch, evs []*herald.Event) {
	n := len(evs)
	var (
		ids, projects, types, channels, keys, hashes = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		data, metadata, verdicts                     = make([]*string, n), make([]*string, n), make([]*string, n)
		occurred, created                            = make([]time.Time, n), make([]time.Time, n)
		hooks                                        = make([]bool, n)
		tenants                                      = make([]string, n)
		traceParents                                 = make([]*string, n)
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
		if e.HookVerdict != nil {
			v := jsonText(e.HookVerdict)
			verdicts[i] = &v
		}
		tenants[i] = e.TenantID
		if e.TraceParent != "" {
			traceParents[i] = &e.TraceParent
		}
	}
	b.Queue(`INSERT INTO events (id, project_id, type, data, channels, metadata, occurred_at, created_at, idempotency_key, body_hash, hook, hook_verdict, tenant_id, trace_parent)
		SELECT id, project_id, type, data::json, channels::jsonb, metadata::json, occurred_at, created_at, idempotency_key, body_hash, hook, hook_verdict::jsonb, tenant_id, trace_parent
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[], $11::bool[], $12::text[], $13::text[], $14::text[])
			AS u(id, project_id, type, data, channels, metadata, occurred_at, created_at, idempotency_key, body_hash, hook, hook_verdict, tenant_id, trace_parent)`,
		ids, projects, types, data, channels, metadata, occurred, created, keys, hashes, hooks, verdicts, tenants, traceParents)
}

// queueDeliveries inserts ds in slice order, which is the order their seq
// (ingest order) is assigned in; readSeqs reads the seqs back into ds.
func (db *DB) queueDeliveries(b *pgx.Batch, ds []*herald.Delivery, now time.Time) {
	n := len(ds)
	var (
		ids, projects, events, endpoints, types, statuses, lockedBy, lastErrors = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		attempts, priorities, lastStatuses                                      = make([]int32, n), make([]int32, n), make([]int32, n)
		next, lockedUntil, lastAttempt, succeeded                               = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		created, updated                                                        = make([]time.Time, n), make([]time.Time, n)
		tenants                                                                 = make([]string, n)
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
		tenants[i] = d.TenantID
	}
	b.Queue(`INSERT INTO deliveries (id, project_id, event_id, endpoint_id, event_type, status, attempts, priority,
			next_attempt_at, locked_by, locked_until, last_attempt_at, last_status, last_error, created_at, updated_at, succeeded_at, tenant_id)
		SELECT id, project_id, event_id, endpoint_id, event_type, status, attempts, priority,
			next_attempt_at, locked_by, locked_until, last_attempt_at, last_status, last_error, created_at, updated_at, succeeded_at, tenant_id
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[],
			$9::timestamptz[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::int[], $14::text[],
			$15::timestamptz[], $16::timestamptz[], $17::timestamptz[], $18::text[]) WITH ORDINALITY
			AS u(id, project_id, event_id, endpoint_id, event_type, status, attempts, priority,
				next_attempt_at, locked_by, locked_until, last_attempt_at, last_status, last_error, created_at, updated_at, succeeded_at, tenant_id, ord)
		ORDER BY ord
		RETURNING id, seq`,
		ids, projects, events, endpoints, types, statuses, attempts, priorities,
		next, lockedBy, lockedUntil, lastAttempt, lastStatuses, lastErrors, created, updated, succeeded, tenants)
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

// queueAttempts inserts as in bulk; it queues nothing when as is empty.
// skipGone leaves out the attempts of deliveries that no longer exist, and
// locks the others (FOR KEY SHARE) for the rest of the transaction, so that
// one deleted at the same moment is left out too rather than failing the
// foreign key check.
func queueAttempts(b *pgx.Batch, as []*herald.Attempt, skipGone bool) {
	n := len(as)
	if n == 0 {
		return
	}
	var (
		ids, projects, deliveries, events, endpoints, triggers, urls, reqHeaders, respHeaders, classes, errs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		numbers, statuses                                                                                    = make([]int32, n), make([]int32, n)
		started                                                                                              = make([]time.Time, n)
		durations                                                                                            = make([]int64, n)
		bodies, sent                                                                                         = make([][]byte, n), make([][]byte, n)
		cut                                                                                                  = make([]bool, n)
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
		if a.RequestBody != "" {
			sent[i] = []byte(a.RequestBody)
		}
		cut[i] = a.RequestBodyTruncated
	}
	filter := ""
	if skipGone {
		filter = " WHERE u.delivery_id IN (SELECT d.id FROM deliveries d WHERE d.id = ANY($3) FOR KEY SHARE)"
	}
	b.Queue(`INSERT INTO attempts (id, project_id, delivery_id, event_id, endpoint_id, number, trigger, started_at, duration_ms,
			request_url, request_headers, response_status, response_headers, response_body, error_class, error,
			request_body, request_body_truncated)
		SELECT id, project_id, delivery_id, event_id, endpoint_id, number, trigger, started_at, duration_ms,
			request_url, request_headers::jsonb, response_status, response_headers::jsonb, response_body, error_class, error,
			request_body, request_body_truncated
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::timestamptz[], $9::bigint[],
			$10::text[], $11::text[], $12::int[], $13::text[], $14::bytea[], $15::text[], $16::text[], $17::bytea[], $18::bool[])
			AS u(id, project_id, delivery_id, event_id, endpoint_id, number, trigger, started_at, duration_ms,
				request_url, request_headers, response_status, response_headers, response_body, error_class, error,
				request_body, request_body_truncated)`+filter,
		ids, projects, deliveries, events, endpoints, numbers, triggers, started, durations,
		urls, reqHeaders, statuses, respHeaders, bodies, classes, errs, sent, cut)
}

const eventCols = "e.id, e.project_id, e.type, e.data, e.channels, e.metadata, e.occurred_at, e.created_at, e.idempotency_key, e.body_hash, e.hook, e.hook_verdict, e.tenant_id, e.trace_parent"

// eventScan receives eventCols and turns them into an event.
type eventScan struct {
	e                                 herald.Event
	data, channels, metadata, verdict []byte
	traceParent                       *string
}

func (s *eventScan) dest() []any {
	e := &s.e
	return []any{&e.ID, &e.ProjectID, &e.Type, &s.data, &s.channels, &s.metadata, &e.OccurredAt, &e.CreatedAt,
		&e.IdempotencyKey, &e.BodyHash, &e.Hook, &s.verdict, &e.TenantID, &s.traceParent}
}

func (s *eventScan) event() (*herald.Event, error) {
	e := s.e
	e.Data = raw(s.data)
	if s.traceParent != nil {
		e.TraceParent = *s.traceParent
	}
	if err := unjson(s.channels, &e.Channels); err != nil {
		return nil, err
	}
	if err := unjson(s.metadata, &e.Metadata); err != nil {
		return nil, err
	}
	if err := unjson(s.verdict, &e.HookVerdict); err != nil {
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
	if f.TenantID != "" {
		q.and("tenant_id = " + q.arg(f.TenantID) + " AND tenant_id <> ''") // <> '': the partial index events_tenant
	}
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
	db.queueDeliveries(b, ds, tm(db.now()))
	br := db.pool.SendBatch(ctx, b)
	err := readSeqs(br, ds)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return dbErr(err, "delivery")
}

const deliveryCols = `id, project_id, event_id, endpoint_id, event_type, status, attempts, priority, seq,
	next_attempt_at, locked_by, locked_until, last_attempt_at, last_status, last_error, created_at, updated_at, succeeded_at, tenant_id`

// deliveryReadCols are deliveryCols as reads show them, from deliveries d:
// a pending delivery of a paused endpoint is due when the pause ends, if
// not later (PostponeEndpoint).
var deliveryReadCols = strings.Replace(qualify("d", deliveryCols), "d.next_attempt_at", nextAttemptSQL, 1)

const nextAttemptSQL = `CASE WHEN d.status = 'pending' THEN greatest(d.next_attempt_at,
	(SELECT p.paused_until FROM endpoints p WHERE p.id = d.endpoint_id)) ELSE d.next_attempt_at END`

func deliveryDest(d *herald.Delivery) []any {
	return []any{&d.ID, &d.ProjectID, &d.EventID, &d.EndpointID, &d.EventType, &d.Status, &d.Attempts, &d.Priority, &d.Seq,
		&d.NextAttemptAt, &d.LockedBy, &d.LockedUntil, &d.LastAttemptAt, &d.LastStatus, &d.LastError, &d.CreatedAt, &d.UpdatedAt, &d.SucceededAt, &d.TenantID}
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
	if f.TenantID != "" {
		q.and("tenant_id = " + q.arg(f.TenantID) + " AND tenant_id <> ''") // <> '': the partial index deliveries_tenant
	}
	if f.EndpointID != "" {
		q.and("endpoint_id = " + q.arg(f.EndpointID))
	}
	if f.EventID != "" {
		q.and("event_id = " + q.arg(f.EventID))
	}
	if f.Status != "" {
		q.and("status = " + q.arg(f.Status))
	}
	if f.EventType != "" {
		q.and("event_type = " + q.arg(f.EventType))
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
	request_url, request_headers, response_status, response_headers, response_body, error_class, error,
	request_body, request_body_truncated`

func scanAttempt(row pgx.Row) (*herald.Attempt, error) {
	a := new(herald.Attempt)
	var reqHeaders, respHeaders, body, sent []byte
	err := row.Scan(&a.ID, &a.ProjectID, &a.DeliveryID, &a.EventID, &a.EndpointID, &a.Number, &a.Trigger, &a.StartedAt, &a.DurationMS,
		&a.RequestURL, &reqHeaders, &a.ResponseStatus, &respHeaders, &body, &a.ErrorClass, &a.Error,
		&sent, &a.RequestBodyTruncated)
	if err != nil {
		return nil, err
	}
	if err := unjson(reqHeaders, &a.RequestHeaders); err != nil {
		return nil, err
	}
	if err := unjson(respHeaders, &a.ResponseHeaders); err != nil {
		return nil, err
	}
	a.ResponseBody, a.RequestBody = string(body), string(sent)
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
