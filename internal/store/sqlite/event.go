package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

// statements are the ingest path's statements, prepared once on the writer
// connection and bound to each transaction with Tx.StmtContext, so a batch
// of thousands of rows parses each statement once. Rows are written by the
// bulk forms, many rows a statement.
type statements struct {
	keyGet, eventGet, deliveryCount                                                        *sql.Stmt
	claim, claimWindow, claimExpired, paused, otherPending, lease, cancelDead, claimEvents *sql.Stmt
	keyPut, eventIns, deliveryIns, attemptIns                                              *bulk
	complete                                                                               *bulk
	// tenantEndpoints is prepared on the reader pool (each connection
	// prepares it once): routing loads a tenant's endpoints the first time
	// one of its events arrives, and with many tenants parsing the query
	// each time cost more than running it.
	tenantEndpoints *sql.Stmt
}

func (s *statements) close() {
	for _, st := range []*sql.Stmt{s.keyGet, s.eventGet, s.deliveryCount, s.claim, s.claimWindow, s.claimExpired, s.paused, s.otherPending, s.lease, s.cancelDead, s.claimEvents, s.tenantEndpoints} {
		if st != nil {
			st.Close()
		}
	}
	for _, b := range []*bulk{s.keyPut, s.eventIns, s.deliveryIns, s.attemptIns, s.complete} {
		b.close()
	}
}

const eventCols = `id, project_id, type, data, channels, metadata, occurred_at, created_at, idempotency_key, body_hash, is_hook, hook_verdict, trace_parent` + tenantCol

const deliveryCols = `id, project_id, event_id, endpoint_id, event_type, status, attempts, priority, seq, next_attempt_at,
	locked_by, locked_until, last_attempt_at, last_status, last_error, created_at, updated_at, succeeded_at` + tenantCol

// deliveryReadCols are deliveryCols as reads report them: a pending
// delivery of a paused endpoint is due when the pause ends (nextDue).
var deliveryReadCols = strings.Replace(deliveryCols, "next_attempt_at,", nextDue+",", 1)

// nextDue is a delivery's due time: its own, or for a pending one the end
// of its endpoint's pause if later (PostponeEndpoint), when the claim will
// take it.
const nextDue = `CASE WHEN status = 'pending' THEN MAX(next_attempt_at,
	COALESCE((SELECT e.paused_until FROM endpoints e WHERE e.id = deliveries.endpoint_id), next_attempt_at)) ELSE next_attempt_at END`

const attemptCols = `id, project_id, delivery_id, event_id, endpoint_id, number, trigger, started_at, duration_ms,
	request_url, request_headers, response_status, response_headers, response_body, error_class, error,
	request_body, request_body_truncated`

func (db *DB) prepare(ctx context.Context) error {
	var err error
	p := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.w.PrepareContext(ctx, q)
		return st
	}
	pb := func(head, tail string, width int) *bulk {
		if err != nil {
			return nil
		}
		var b *bulk
		b, err = prepareBulk(ctx, db.w, head, tail, width)
		return b
	}
	db.stmts = statements{
		keyGet:        p(`SELECT event_id, body_hash, created_at FROM idempotency_keys WHERE project_id = ? AND key = ?`),
		eventGet:      p(`SELECT ` + eventCols + ` FROM events WHERE id = ?`),
		deliveryCount: p(`SELECT COUNT(*) FROM deliveries WHERE event_id = ?`),
		claim:         p(claimSQL),
		claimWindow:   p(claimWindowSQL),
		claimExpired:  p(claimExpiredSQL),
		paused:        p(pausedSQL),
		otherPending:  p(otherPendingSQL),
		lease:         p(leaseSQL),
		cancelDead:    p(cancelDeadSQL),
		claimEvents:   p(claimEventsSQL),
		keyPut: pb(`INSERT INTO idempotency_keys (project_id, key, event_id, body_hash, created_at) VALUES `,
			` ON CONFLICT (project_id, key) DO UPDATE SET event_id = excluded.event_id, body_hash = excluded.body_hash, created_at = excluded.created_at`, 5),
		eventIns:    pb(`INSERT INTO events (`+eventCols+`) VALUES `, ``, 14),
		deliveryIns: pb(`INSERT INTO deliveries (`+deliveryCols+`) VALUES `, ``, 19),
		attemptIns:  pb(`INSERT INTO attempts (`+attemptCols+`) VALUES `, ``, 18),
		complete:    pb(completeHead, completeTail, 8),
	}
	if err == nil {
		db.stmts.tenantEndpoints, err = db.r.PrepareContext(ctx, tenantEndpointsSQL)
	}
	return err
}

func scanEvent(s scanner) (*herald.Event, error) {
	var e herald.Event
	var data, channels, metadata string
	var occurred, created int64
	var verdict, traceParent sql.NullString
	if err := s.Scan(&e.ID, &e.ProjectID, &e.Type, &data, &channels, &metadata, &occurred, &created, &e.IdempotencyKey, &e.BodyHash, &e.Hook, &verdict, &traceParent, &e.TenantID); err != nil {
		return nil, err
	}
	if verdict.Valid {
		e.HookVerdict = new(herald.HookVerdict)
		if err := json.Unmarshal([]byte(verdict.String), e.HookVerdict); err != nil {
			return nil, fmt.Errorf("sqlite: corrupt hook_verdict of %s: %w", e.ID, err)
		}
	}
	e.TraceParent = traceParent.String
	e.Data = json.RawMessage(data)
	var err error
	if e.Channels, err = parseList(channels); err != nil {
		return nil, err
	}
	if e.Metadata, err = parseMap(metadata); err != nil {
		return nil, err
	}
	e.OccurredAt, e.CreatedAt = fromNS(occurred), fromNS(created)
	return &e, nil
}

func scanDelivery(s scanner) (*herald.Delivery, error) {
	var d herald.Delivery
	var lockedBy sql.NullString
	var next, lockedUntil, lastAt, succeededAt sql.NullInt64
	var created, updated int64
	err := s.Scan(&d.ID, &d.ProjectID, &d.EventID, &d.EndpointID, &d.EventType, &d.Status, &d.Attempts, &d.Priority, &d.Seq, &next,
		&lockedBy, &lockedUntil, &lastAt, &d.LastStatus, &d.LastError, &created, &updated, &succeededAt, &d.TenantID)
	if err != nil {
		return nil, err
	}
	d.LockedBy = lockedBy.String
	d.NextAttemptAt, d.LockedUntil, d.LastAttemptAt, d.SucceededAt = fromNull(next), fromNull(lockedUntil), fromNull(lastAt), fromNull(succeededAt)
	d.CreatedAt, d.UpdatedAt = fromNS(created), fromNS(updated)
	return &d, nil
}

func scanAttempt(s scanner) (*herald.Attempt, error) {
	var a herald.Attempt
	var reqHeaders, respHeaders string
	var started int64
	err := s.Scan(&a.ID, &a.ProjectID, &a.DeliveryID, &a.EventID, &a.EndpointID, &a.Number, &a.Trigger, &started, &a.DurationMS,
		&a.RequestURL, &reqHeaders, &a.ResponseStatus, &respHeaders, &a.ResponseBody, &a.ErrorClass, &a.Error,
		&a.RequestBody, &a.RequestBodyTruncated)
	if err != nil {
		return nil, err
	}
	if a.RequestHeaders, err = parseMap(reqHeaders); err != nil {
		return nil, err
	}
	if a.ResponseHeaders, err = parseMap(respHeaders); err != nil {
		return nil, err
	}
	a.StartedAt = fromNS(started)
	return &a, nil
}

func (rs *rowSet) addDelivery(d *herald.Delivery, seq int64) {
	rs.add(d.ID, d.ProjectID, d.EventID, d.EndpointID, d.EventType, d.Status, d.Attempts, d.Priority, seq, nsPtr(d.NextAttemptAt),
		nullStr(d.LockedBy), nsPtr(d.LockedUntil), nsPtr(d.LastAttemptAt), d.LastStatus, d.LastError, ns(d.CreatedAt), ns(d.UpdatedAt), nsPtr(d.SucceededAt), d.TenantID)
}

func (rs *rowSet) addAttempt(a *herald.Attempt) {
	rs.add(a.ID, a.ProjectID, a.DeliveryID, a.EventID, a.EndpointID, a.Number, a.Trigger, ns(a.StartedAt), a.DurationMS,
		a.RequestURL, jsonMap(a.RequestHeaders), a.ResponseStatus, jsonMap(a.ResponseHeaders), a.ResponseBody, a.ErrorClass, a.Error,
		a.RequestBody, a.RequestBodyTruncated)
}

// eventRows buffers InsertEvents' rows, to be written table by table in
// parent-to-child order (the foreign keys are checked per statement).
type eventRows struct {
	events, keys, deliveries, attempts rowSet
	eventList                          []*herald.Event
	deliveryList                       []*herald.Delivery
	attemptList                        []*herald.Attempt
}

func (db *DB) newEventRows() *eventRows {
	return &eventRows{events: rowSet{b: db.stmts.eventIns}, keys: rowSet{b: db.stmts.keyPut},
		deliveries: rowSet{b: db.stmts.deliveryIns}, attempts: rowSet{b: db.stmts.attemptIns}}
}

func (r *eventRows) addDeliveries(db *DB, ds []*herald.Delivery) {
	seq := db.nextSeq(len(ds))
	for _, d := range ds {
		r.deliveries.addDelivery(d, seq)
		d.Seq = seq
		seq++
	}
	r.deliveryList = append(r.deliveryList, ds...)
}

// flush writes the buffered rows; an error names the row it is about.
func (r *eventRows) flush(ctx context.Context, tx *sql.Tx) error {
	err := r.events.flush(ctx, tx, func(i int, err error) error {
		e := r.eventList[i]
		return conflict(err, "event "+e.ID, "project "+e.ProjectID)
	})
	if err == nil {
		err = r.keys.flush(ctx, tx, nil)
	}
	if err == nil {
		err = r.deliveries.flush(ctx, tx, func(i int, err error) error {
			d := r.deliveryList[i]
			return conflict(err, "delivery "+d.ID, "event "+d.EventID)
		})
	}
	if err == nil {
		err = r.attempts.flush(ctx, tx, func(i int, err error) error {
			a := r.attemptList[i]
			return conflict(err, "attempt "+a.ID, "delivery "+a.DeliveryID)
		})
	}
	r.eventList, r.deliveryList, r.attemptList = r.eventList[:0], r.deliveryList[:0], r.attemptList[:0]
	return err
}

// InsertEvents inserts the events, their deliveries and attempts in one
// transaction. Each delivery's Seq is assigned here, in input order.
func (db *DB) InsertEvents(ctx context.Context, events []*store.NewEvent) ([]store.InsertResult, error) {
	results := make([]store.InsertResult, len(events))
	now := db.now()
	windowStart := ns(now.Add(-store.IdempotencyWindow))
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows := db.newEventRows()
		// keys buffered but not yet written: a later event of this call
		// with one of them must see it, so the rows are written first.
		var unwritten map[[2]string]bool
		for i, ne := range events {
			e := ne.Event
			if e.IdempotencyKey != "" {
				k := [2]string{e.ProjectID, e.IdempotencyKey}
				if unwritten[k] {
					if err := rows.flush(ctx, tx); err != nil {
						return err
					}
					clear(unwritten)
				}
				var eventID, hash string
				var created int64
				err := tx.StmtContext(ctx, db.stmts.keyGet).QueryRowContext(ctx, e.ProjectID, e.IdempotencyKey).Scan(&eventID, &hash, &created)
				switch {
				case errors.Is(err, sql.ErrNoRows):
				case err != nil:
					return err
				case created > windowStart && hash != e.BodyHash:
					results[i] = store.InsertResult{Conflict: true}
					continue
				case created > windowStart:
					orig, err := scanEvent(tx.StmtContext(ctx, db.stmts.eventGet).QueryRowContext(ctx, eventID))
					if err != nil {
						return err
					}
					var n int
					if err := tx.StmtContext(ctx, db.stmts.deliveryCount).QueryRowContext(ctx, eventID).Scan(&n); err != nil {
						return err
					}
					results[i] = store.InsertResult{Event: orig, Deliveries: n, Replayed: true}
					continue
				}
				if unwritten == nil {
					unwritten = map[[2]string]bool{}
				}
				unwritten[k] = true
				rows.keys.add(e.ProjectID, e.IdempotencyKey, e.ID, e.BodyHash, ns(e.CreatedAt))
			}
			rows.events.add(e.ID, e.ProjectID, e.Type, string(e.Data), jsonList(e.Channels), jsonMap(e.Metadata),
				ns(e.OccurredAt), ns(e.CreatedAt), e.IdempotencyKey, e.BodyHash, e.Hook, hookVerdict(e.HookVerdict), nullStr(e.TraceParent), e.TenantID)
			rows.eventList = append(rows.eventList, e)
			rows.addDeliveries(db, ne.Deliveries)
			for _, a := range ne.Attempts {
				rows.attempts.addAttempt(a)
			}
			rows.attemptList = append(rows.attemptList, ne.Attempts...)
			results[i] = store.InsertResult{Event: e, Deliveries: len(ne.Deliveries)}
		}
		return rows.flush(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// InsertDeliveries adds deliveries to existing events.
func (db *DB) InsertDeliveries(ctx context.Context, ds []*herald.Delivery) error {
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows := db.newEventRows()
		rows.addDeliveries(db, ds)
		return rows.flush(ctx, tx)
	})
}

// GetEvent returns one event of the project.
func (db *DB) GetEvent(ctx context.Context, projectID, id string) (*herald.Event, error) {
	e, err := scanEvent(db.r.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events WHERE id = ? AND project_id = ?`, id, projectID))
	return e, notFound(err, "event %s", id)
}

// ListEvents lists a project's events newest first.
func (db *DB) ListEvents(ctx context.Context, projectID string, f store.EventFilter, page store.Page) ([]*herald.Event, string, error) {
	q := `SELECT ` + eventCols + ` FROM events WHERE project_id = ?`
	args := []any{projectID}
	if f.TenantID != "" {
		q += ` AND tenant_id = ? AND tenant_id <> ''` // <> '': the partial index events_tenant
		args = append(args, f.TenantID)
	}
	if f.Type != "" {
		q += ` AND type = ?`
		args = append(args, f.Type)
	}
	if f.Channel != "" {
		q += ` AND EXISTS (SELECT 1 FROM json_each(events.channels) WHERE value = ?)`
		args = append(args, f.Channel)
	}
	if f.Since != nil {
		q += ` AND created_at >= ?`
		args = append(args, ns(*f.Since))
	}
	if f.Until != nil {
		q += ` AND created_at < ?`
		args = append(args, ns(*f.Until))
	}
	if page.Cursor != "" {
		q += ` AND id < ?`
		args = append(args, page.Cursor)
	}
	return listByID(ctx, db.r, q, args, page, scanEvent, func(e *herald.Event) string { return e.ID })
}

// GetDelivery returns one delivery of the project.
func (db *DB) GetDelivery(ctx context.Context, projectID, id string) (*herald.Delivery, error) {
	d, err := scanDelivery(db.r.QueryRowContext(ctx, `SELECT `+deliveryReadCols+` FROM deliveries WHERE id = ? AND project_id = ?`, id, projectID))
	return d, notFound(err, "delivery %s", id)
}

// ListDeliveries lists a project's deliveries newest first.
func (db *DB) ListDeliveries(ctx context.Context, projectID string, f store.DeliveryFilter, page store.Page) ([]*herald.Delivery, string, error) {
	q := `SELECT ` + deliveryReadCols + ` FROM deliveries WHERE project_id = ?`
	args := []any{projectID}
	if f.TenantID != "" {
		q += ` AND tenant_id = ? AND tenant_id <> ''` // <> '': the partial index deliveries_tenant
		args = append(args, f.TenantID)
	}
	if f.EndpointID != "" {
		q += ` AND endpoint_id = ?`
		args = append(args, f.EndpointID)
	}
	if f.EventID != "" {
		q += ` AND event_id = ?`
		args = append(args, f.EventID)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.EventType != "" {
		q += ` AND event_type = ?`
		args = append(args, f.EventType)
	}
	if f.Since != nil {
		q += ` AND created_at >= ?`
		args = append(args, ns(*f.Since))
	}
	if f.Until != nil {
		q += ` AND created_at < ?`
		args = append(args, ns(*f.Until))
	}
	if page.Cursor != "" {
		q += ` AND id < ?`
		args = append(args, page.Cursor)
	}
	return listByID(ctx, db.r, q, args, page, scanDelivery, func(d *herald.Delivery) string { return d.ID })
}

// ListAttempts returns a delivery's attempts, oldest first.
func (db *DB) ListAttempts(ctx context.Context, projectID, deliveryID string) ([]*herald.Attempt, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+attemptCols+` FROM attempts WHERE delivery_id = ? AND project_id = ? ORDER BY started_at, id`, deliveryID, projectID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanAttempt)
}

// ListEndpointAttempts returns an endpoint's latest attempts, newest first.
func (db *DB) ListEndpointAttempts(ctx context.Context, projectID, endpointID string, limit int) ([]*herald.Attempt, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+attemptCols+` FROM attempts WHERE endpoint_id = ? AND project_id = ? ORDER BY started_at DESC, id DESC LIMIT ?`,
		endpointID, projectID, clampLimit(limit))
	if err != nil {
		return nil, err
	}
	return collect(rows, scanAttempt)
}

// hookVerdict is the hook_verdict column: NULL for events that are not
// hook runs.
func hookVerdict(v *herald.HookVerdict) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil // four strings and a bool always marshal
	}
	return string(b)
}
