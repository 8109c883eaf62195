package postgres

import (
	"context"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/jackc/pgx/v5"
)

const endpointCols = `id, project_id, url, name, description, event_types, channels, filter, enabled,
	active_from, active_until, sort_order, timeout_ns, response_mode, failure_policy, retry_schedule,
	rate_limit, max_in_flight, ordered, auth, headers, body_template, metadata,
	secret, previous_secret, previous_secret_until,
	status, disabled_reason, consecutive_failures, failing_since, paused_until, created_at, updated_at, retry_jitter, tenant_id`

func scanEndpoint(row pgx.Row) (*herald.Endpoint, error) {
	ep := new(herald.Endpoint)
	var eventTypes, channels, schedule, auth, headers, metadata []byte
	var timeout int64
	jitter := true
	err := row.Scan(&ep.ID, &ep.ProjectID, &ep.URL, &ep.Name, &ep.Description, &eventTypes, &channels, &ep.Filter, &ep.Enabled,
		&ep.ActiveFrom, &ep.ActiveUntil, &ep.Order, &timeout, &ep.ResponseMode, &ep.FailurePolicy, &schedule,
		&ep.RateLimit, &ep.MaxInFlight, &ep.Ordered, &auth, &headers, &ep.BodyTemplate, &metadata,
		&ep.Secret, &ep.PreviousSecret, &ep.PreviousSecretUntil,
		&ep.Status, &ep.DisabledReason, &ep.ConsecutiveFailures, &ep.FailingSince, &ep.PausedUntil, &ep.CreatedAt, &ep.UpdatedAt, &jitter, &ep.TenantID)
	if err != nil {
		return nil, err
	}
	ep.RetryJitter = &jitter
	ep.Timeout = herald.Duration(timeout)
	for _, f := range []struct {
		b []byte
		v any
	}{{eventTypes, &ep.EventTypes}, {channels, &ep.Channels}, {schedule, &ep.RetrySchedule}, {auth, &ep.Auth}, {headers, &ep.Headers}, {metadata, &ep.Metadata}} {
		if err := unjson(f.b, f.v); err != nil {
			return nil, err
		}
	}
	utc(&ep.CreatedAt, &ep.UpdatedAt)
	utcp(&ep.ActiveFrom, &ep.ActiveUntil, &ep.PreviousSecretUntil, &ep.FailingSince, &ep.PausedUntil)
	return ep, nil
}

// CreateEndpoint stores a new endpoint with its health as given.
func (db *DB) CreateEndpoint(ctx context.Context, ep *herald.Endpoint) error {
	db.stamp(&ep.CreatedAt, &ep.UpdatedAt)
	if ep.Status == "" {
		ep.Status = herald.EndpointHealthy
	}
	normEndpointTimes(ep)
	b := &pgx.Batch{}
	if ep.TenantID != "" {
		// Its tenant, when new: in the batch's implicit transaction.
		b.Queue(`INSERT INTO tenants (project_id, id, name, metadata, created_at, updated_at)
			VALUES ($1, $2, '', '{}', $3, $3) ON CONFLICT DO NOTHING`, ep.ProjectID, ep.TenantID, ep.CreatedAt)
	}
	b.Queue(`INSERT INTO endpoints (`+endpointCols+`) VALUES (
		$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
		$21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35)`,
		ep.ID, ep.ProjectID, ep.URL, ep.Name, ep.Description, jsonText(ep.EventTypes), jsonText(ep.Channels), ep.Filter, ep.Enabled,
		ep.ActiveFrom, ep.ActiveUntil, ep.Order, int64(ep.Timeout), ep.ResponseMode, ep.FailurePolicy, jsonText(ep.RetrySchedule),
		ep.RateLimit, ep.MaxInFlight, ep.Ordered, authText(ep.Auth), jsonText(ep.Headers), ep.BodyTemplate, jsonText(ep.Metadata),
		ep.Secret, ep.PreviousSecret, ep.PreviousSecretUntil,
		ep.Status, ep.DisabledReason, ep.ConsecutiveFailures, ep.FailingSince, ep.PausedUntil, ep.CreatedAt, ep.UpdatedAt, ep.Jittered(), ep.TenantID)
	b.Queue(bumpEndpointRoutingSQL, ep.ID)
	_, err := db.execBatch(ctx, b)
	return dbErr(err, "endpoint "+ep.ID)
}

// normEndpointTimes truncates the optional times as the database will.
func normEndpointTimes(ep *herald.Endpoint) {
	ep.ActiveFrom, ep.ActiveUntil = tmp(ep.ActiveFrom), tmp(ep.ActiveUntil)
	ep.PreviousSecretUntil = tmp(ep.PreviousSecretUntil)
	ep.FailingSince, ep.PausedUntil = tmp(ep.FailingSince), tmp(ep.PausedUntil)
}

// authText is the auth column: NULL when there is none.
func authText(a *herald.Auth) *string {
	if a == nil {
		return nil
	}
	s := jsonText(a)
	return &s
}

// GetEndpoint returns a project's endpoint.
func (db *DB) GetEndpoint(ctx context.Context, projectID, id string) (*herald.Endpoint, error) {
	ep, err := scanEndpoint(db.pool.QueryRow(ctx,
		"SELECT "+endpointCols+" FROM endpoints WHERE project_id = $1 AND id = $2", projectID, id))
	return ep, dbErr(err, "endpoint "+id)
}

// GetEndpointByID returns an endpoint of any project.
func (db *DB) GetEndpointByID(ctx context.Context, id string) (*herald.Endpoint, error) {
	ep, err := scanEndpoint(db.pool.QueryRow(ctx, "SELECT "+endpointCols+" FROM endpoints WHERE id = $1", id))
	return ep, dbErr(err, "endpoint "+id)
}

// ListEndpoints returns a page of a project's endpoints, newest first.
func (db *DB) ListEndpoints(ctx context.Context, projectID string, f store.EndpointFilter, page store.Page) ([]*herald.Endpoint, string, error) {
	var q query
	q.and("project_id = " + q.arg(projectID))
	if f.TenantID != "" {
		q.and("tenant_id = " + q.arg(f.TenantID))
	}
	tail, n, err := q.page(page, "id")
	if err != nil {
		return nil, "", err
	}
	eps, err := collect(ctx, db, "SELECT "+endpointCols+" FROM endpoints"+q.whereSQL()+tail, q.args, scanEndpoint)
	if err != nil {
		return nil, "", dbErr(err, "endpoints")
	}
	eps, next := nextPage(eps, n, func(ep *herald.Endpoint) (time.Time, string) { return ep.CreatedAt, ep.ID })
	return eps, next, nil
}

// ProjectEndpoints returns all of a project's endpoints in application
// order (order, then creation).
func (db *DB) ProjectEndpoints(ctx context.Context, projectID string) ([]*herald.Endpoint, error) {
	eps, err := collect(ctx, db, "SELECT "+endpointCols+" FROM endpoints WHERE project_id = $1 ORDER BY sort_order, created_at, id",
		[]any{projectID}, scanEndpoint)
	return eps, dbErr(err, "endpoints")
}

// TenantEndpoints returns one tenant's endpoints ("": the project-wide
// ones) in application order.
func (db *DB) TenantEndpoints(ctx context.Context, projectID, tenantID string) ([]*herald.Endpoint, error) {
	eps, err := collect(ctx, db, "SELECT "+endpointCols+" FROM endpoints WHERE project_id = $1 AND tenant_id = $2 ORDER BY sort_order, created_at, id",
		[]any{projectID, tenantID}, scanEndpoint)
	return eps, dbErr(err, "endpoints")
}

// UpdateEndpoint replaces the endpoint's configuration and secrets; its
// health columns are left alone.
func (db *DB) UpdateEndpoint(ctx context.Context, ep *herald.Endpoint) error {
	db.stamp(nil, &ep.UpdatedAt)
	normEndpointTimes(ep)
	b := &pgx.Batch{}
	b.Queue(`UPDATE endpoints SET
		url = $3, name = $4, description = $5, event_types = $6, channels = $7, filter = $8, enabled = $9,
		active_from = $10, active_until = $11, sort_order = $12, timeout_ns = $13, response_mode = $14,
		failure_policy = $15, retry_schedule = $16, rate_limit = $17, max_in_flight = $18, ordered = $19,
		auth = $20, headers = $21, body_template = $22, metadata = $23,
		secret = $24, previous_secret = $25, previous_secret_until = $26, updated_at = $27, retry_jitter = $28
		WHERE project_id = $1 AND id = $2`,
		ep.ProjectID, ep.ID, ep.URL, ep.Name, ep.Description, jsonText(ep.EventTypes), jsonText(ep.Channels), ep.Filter, ep.Enabled,
		ep.ActiveFrom, ep.ActiveUntil, ep.Order, int64(ep.Timeout), ep.ResponseMode,
		ep.FailurePolicy, jsonText(ep.RetrySchedule), ep.RateLimit, ep.MaxInFlight, ep.Ordered,
		authText(ep.Auth), jsonText(ep.Headers), ep.BodyTemplate, jsonText(ep.Metadata),
		ep.Secret, ep.PreviousSecret, ep.PreviousSecretUntil, ep.UpdatedAt, ep.Jittered())
	b.Queue(bumpEndpointRoutingSQL, ep.ID)
	tag, err := db.execBatch(ctx, b)
	return affected(tag.RowsAffected(), err, "endpoint "+ep.ID)
}

// bumpRoutingSQL advances the routing version of the project of the row
// of e (project_id, tenant_id) and stamps it on the tenant, or for a
// project-wide endpoint on the project's wide_version (see
// store.Store.RoutingChanges). Queued in the batch of the change, it is in
// its transaction.
const bumpRoutingSQL = `, p AS (UPDATE projects SET routing_version = routing_version + 1,
		wide_version = CASE WHEN (SELECT tenant_id FROM e) = '' THEN routing_version + 1 ELSE wide_version END
		WHERE id = (SELECT project_id FROM e) RETURNING id, routing_version)
	UPDATE tenants t SET routing_version = p.routing_version FROM p, e WHERE t.project_id = p.id AND t.id = e.tenant_id`

// bumpEndpointRoutingSQL is bumpRoutingSQL for the endpoint $1.
const bumpEndpointRoutingSQL = `WITH e AS (SELECT project_id, tenant_id FROM endpoints WHERE id = $1)` + bumpRoutingSQL

// bumpTenantRoutingSQL is bumpRoutingSQL for the project $1 and tenant $2.
const bumpTenantRoutingSQL = `WITH e AS (SELECT $1::text AS project_id, $2::text AS tenant_id)` + bumpRoutingSQL

// cancelLeaseSQL is what canceling an endpoint's deliveries clears besides
// their status: the lease of an in-flight one (whose attempt's late result
// then only adds the attempt, see CompleteAttempts) and the due time of a
// pending one, as a claim's cancel does.
const cancelLeaseSQL = `locked_by = '', locked_until = NULL, next_attempt_at = NULL`

// UpdateEndpointHealth writes the health columns; disabling also turns the
// endpoint off and cancels its unfinished deliveries, in one transaction.
func (db *DB) UpdateEndpointHealth(ctx context.Context, endpointID string, h store.EndpointHealth) error {
	now := tm(db.now())
	disabled := h.Status == herald.EndpointDisabled
	b := &pgx.Batch{}
	b.Queue(`UPDATE endpoints SET status = $2, disabled_reason = $3, consecutive_failures = $4,
		failing_since = $5, paused_until = $6, enabled = enabled AND NOT $7, updated_at = $8 WHERE id = $1`,
		endpointID, h.Status, h.DisabledReason, h.ConsecutiveFailures, tmp(h.FailingSince), tmp(h.PausedUntil), disabled, now)
	if disabled {
		b.Queue(`UPDATE deliveries SET status = 'canceled', `+cancelLeaseSQL+`, updated_at = $2
			WHERE endpoint_id = $1 AND status IN ('pending', 'in_flight')`, endpointID, now)
	}
	if h.Status != herald.EndpointFailing {
		// Disabled, or healthy again (maybe re-enabled): routing sees it.
		b.Queue(bumpEndpointRoutingSQL, endpointID)
	}
	tag, err := db.execBatch(ctx, b)
	return affected(tag.RowsAffected(), err, "endpoint "+endpointID)
}

// DeleteEndpoint removes the endpoint and cancels its unfinished
// deliveries, which stay in the log.
func (db *DB) DeleteEndpoint(ctx context.Context, projectID, id string) error {
	// Its tenant, for the routing version (an endpoint's tenant never
	// changes): the bump must follow the delete, in its transaction.
	var tenantID string
	if err := db.pool.QueryRow(ctx, "SELECT tenant_id FROM endpoints WHERE project_id = $1 AND id = $2", projectID, id).Scan(&tenantID); err != nil {
		return dbErr(err, "endpoint "+id)
	}
	b := &pgx.Batch{}
	b.Queue("DELETE FROM endpoints WHERE project_id = $1 AND id = $2", projectID, id)
	b.Queue(`UPDATE deliveries SET status = 'canceled', `+cancelLeaseSQL+`, updated_at = $3
		WHERE project_id = $1 AND endpoint_id = $2 AND status IN ('pending', 'in_flight')`, projectID, id, tm(db.now()))
	b.Queue(bumpTenantRoutingSQL, projectID, tenantID)
	tag, err := db.execBatch(ctx, b)
	return affected(tag.RowsAffected(), err, "endpoint "+id)
}
