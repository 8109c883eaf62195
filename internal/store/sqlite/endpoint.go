package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

const endpointCols = `id, project_id, url, name, description, event_types, channels, filter, enabled,
	active_from, active_until, ord, timeout, response_mode, failure_policy, retry_schedule,
	rate_limit, max_in_flight, ordered, auth, headers, body_template, metadata,
	secret, previous_secret, previous_secret_until,
	status, disabled_reason, consecutive_failures, failing_since, paused_until,
	created_at, updated_at, retry_jitter` + tenantCol

// tenantCol ends the column lists of the tables that have a tenant
// (endpoints, events, deliveries): added by migration 00010, after the
// others.
const tenantCol = `, tenant_id`

// endpointConfig is the argument list of the configuration columns, in
// the order of endpointCols from url to previous_secret_until.
func endpointConfig(ep *herald.Endpoint) ([]any, error) {
	sched := make([]int64, len(ep.RetrySchedule))
	for i, d := range ep.RetrySchedule {
		sched[i] = int64(d)
	}
	schedJSON, err := json.Marshal(sched)
	if err != nil {
		return nil, err
	}
	var auth any
	if ep.Auth != nil {
		b, err := json.Marshal(ep.Auth)
		if err != nil {
			return nil, err
		}
		auth = string(b)
	}
	return []any{ep.URL, ep.Name, ep.Description, jsonList(ep.EventTypes), jsonList(ep.Channels), ep.Filter, ep.Enabled,
		nsPtr(ep.ActiveFrom), nsPtr(ep.ActiveUntil), ep.Order, int64(ep.Timeout), ep.ResponseMode, ep.FailurePolicy, string(schedJSON),
		ep.RateLimit, ep.MaxInFlight, ep.Ordered, auth, jsonMap(ep.Headers), ep.BodyTemplate, jsonMap(ep.Metadata),
		ep.Secret, ep.PreviousSecret, nsPtr(ep.PreviousSecretUntil)}, nil
}

func scanEndpoint(s scanner) (*herald.Endpoint, error) {
	var ep herald.Endpoint
	var types, channels, sched, headers, metadata string
	var auth sql.NullString
	var activeFrom, activeUntil, prevUntil, failingSince, pausedUntil sql.NullInt64
	var timeout, created, updated int64
	jitter := true
	err := s.Scan(&ep.ID, &ep.ProjectID, &ep.URL, &ep.Name, &ep.Description, &types, &channels, &ep.Filter, &ep.Enabled,
		&activeFrom, &activeUntil, &ep.Order, &timeout, &ep.ResponseMode, &ep.FailurePolicy, &sched,
		&ep.RateLimit, &ep.MaxInFlight, &ep.Ordered, &auth, &headers, &ep.BodyTemplate, &metadata,
		&ep.Secret, &ep.PreviousSecret, &prevUntil,
		&ep.Status, &ep.DisabledReason, &ep.ConsecutiveFailures, &failingSince, &pausedUntil,
		&created, &updated, &jitter, &ep.TenantID)
	if err != nil {
		return nil, err
	}
	ep.RetryJitter = &jitter
	if ep.EventTypes, err = parseList(types); err != nil {
		return nil, err
	}
	if ep.Channels, err = parseList(channels); err != nil {
		return nil, err
	}
	if ep.Headers, err = parseMap(headers); err != nil {
		return nil, err
	}
	if ep.Metadata, err = parseMap(metadata); err != nil {
		return nil, err
	}
	var ds []int64
	if err := json.Unmarshal([]byte(sched), &ds); err != nil {
		return nil, fmt.Errorf("sqlite: corrupt retry_schedule of %s: %w", ep.ID, err)
	}
	ep.RetrySchedule = make([]herald.Duration, len(ds))
	for i, d := range ds {
		ep.RetrySchedule[i] = herald.Duration(d)
	}
	if auth.Valid {
		ep.Auth = &herald.Auth{}
		if err := json.Unmarshal([]byte(auth.String), ep.Auth); err != nil {
			return nil, fmt.Errorf("sqlite: corrupt auth of %s: %w", ep.ID, err)
		}
	}
	ep.Timeout = herald.Duration(timeout)
	ep.ActiveFrom, ep.ActiveUntil = fromNull(activeFrom), fromNull(activeUntil)
	ep.PreviousSecretUntil = fromNull(prevUntil)
	ep.FailingSince, ep.PausedUntil = fromNull(failingSince), fromNull(pausedUntil)
	ep.CreatedAt, ep.UpdatedAt = fromNS(created), fromNS(updated)
	return &ep, nil
}

// CreateEndpoint stores a new endpoint, health included, and its tenant
// when that does not exist yet.
func (db *DB) CreateEndpoint(ctx context.Context, ep *herald.Endpoint) error {
	cfg, err := endpointConfig(ep)
	if err != nil {
		return err
	}
	args := append([]any{ep.ID, ep.ProjectID}, cfg...)
	args = append(args, ep.Status, ep.DisabledReason, ep.ConsecutiveFailures, nsPtr(ep.FailingSince), nsPtr(ep.PausedUntil),
		ns(ep.CreatedAt), ns(ep.UpdatedAt), ep.Jittered(), ep.TenantID)
	err = db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if ep.TenantID != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (project_id, id, name, metadata, created_at, updated_at)
				VALUES (?, ?, '', '{}', ?, ?) ON CONFLICT DO NOTHING`, ep.ProjectID, ep.TenantID, ns(ep.CreatedAt), ns(ep.CreatedAt)); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO endpoints (`+endpointCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, args...); err != nil {
			return err
		}
		return bumpRouting(ctx, tx, ep.ProjectID, ep.TenantID)
	})
	return conflict(err, "endpoint "+ep.ID, "project "+ep.ProjectID)
}

// GetEndpoint returns a project's endpoint.
func (db *DB) GetEndpoint(ctx context.Context, projectID, id string) (*herald.Endpoint, error) {
	ep, err := scanEndpoint(db.r.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE id = ? AND project_id = ?`, id, projectID))
	return ep, notFound(err, "endpoint %s", id)
}

// GetEndpointByID returns an endpoint of any project.
func (db *DB) GetEndpointByID(ctx context.Context, id string) (*herald.Endpoint, error) {
	ep, err := scanEndpoint(db.r.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE id = ?`, id))
	return ep, notFound(err, "endpoint %s", id)
}

// ListEndpoints lists a project's endpoints, newest first.
func (db *DB) ListEndpoints(ctx context.Context, projectID string, f store.EndpointFilter, page store.Page) ([]*herald.Endpoint, string, error) {
	q := `SELECT ` + endpointCols + ` FROM endpoints WHERE project_id = ?`
	args := []any{projectID}
	if f.TenantID != "" {
		q += ` AND tenant_id = ?`
		args = append(args, f.TenantID)
	}
	if page.Cursor != "" {
		q += ` AND id < ?`
		args = append(args, page.Cursor)
	}
	return listByID(ctx, db.r, q, args, page, scanEndpoint, func(ep *herald.Endpoint) string { return ep.ID })
}

// ProjectEndpoints returns all of a project's endpoints, oldest first.
func (db *DB) ProjectEndpoints(ctx context.Context, projectID string) ([]*herald.Endpoint, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE project_id = ? ORDER BY id`, projectID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanEndpoint)
}

const tenantEndpointsSQL = `SELECT ` + endpointCols + ` FROM endpoints WHERE project_id = ? AND tenant_id = ? ORDER BY id`

// TenantEndpoints returns the endpoints of one tenant ("": the
// project-wide ones), oldest first.
func (db *DB) TenantEndpoints(ctx context.Context, projectID, tenantID string) ([]*herald.Endpoint, error) {
	rows, err := db.stmts.tenantEndpoints.QueryContext(ctx, projectID, tenantID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanEndpoint)
}

// UpdateEndpoint replaces the configuration and secrets, not the health.
func (db *DB) UpdateEndpoint(ctx context.Context, ep *herald.Endpoint) error {
	cfg, err := endpointConfig(ep)
	if err != nil {
		return err
	}
	args := append(cfg, ns(ep.UpdatedAt), ep.Jittered(), ep.ID, ep.ProjectID)
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var tenantID string
		err := tx.QueryRowContext(ctx, `UPDATE endpoints SET url = ?, name = ?, description = ?, event_types = ?, channels = ?,
		filter = ?, enabled = ?, active_from = ?, active_until = ?, ord = ?, timeout = ?, response_mode = ?, failure_policy = ?,
		retry_schedule = ?, rate_limit = ?, max_in_flight = ?, ordered = ?, auth = ?, headers = ?, body_template = ?, metadata = ?,
		secret = ?, previous_secret = ?, previous_secret_until = ?, updated_at = ?, retry_jitter = ?
		WHERE id = ? AND project_id = ? RETURNING tenant_id`, args...).Scan(&tenantID)
		if err != nil {
			return notFound(err, "endpoint %s", ep.ID)
		}
		return bumpRouting(ctx, tx, ep.ProjectID, tenantID)
	})
}

// bumpRouting advances the project's routing version and stamps it on
// the tenant ("": on the project's project-wide endpoints), in the
// transaction of the change (see store.Store.RoutingChanges).
func bumpRouting(ctx context.Context, tx *sql.Tx, projectID, tenantID string) error {
	var v int64
	err := tx.QueryRowContext(ctx, `UPDATE projects SET routing_version = routing_version + 1,
		wide_version = CASE WHEN ?2 = '' THEN routing_version + 1 ELSE wide_version END
		WHERE id = ?1 RETURNING routing_version`, projectID, tenantID).Scan(&v)
	if err != nil || tenantID == "" {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE tenants SET routing_version = ? WHERE project_id = ? AND id = ?`, v, projectID, tenantID)
	return err
}

// bumpEndpointRouting is bumpRouting for the endpoint's tenant; nothing
// when the endpoint does not exist.
func bumpEndpointRouting(ctx context.Context, tx *sql.Tx, endpointID string) error {
	var projectID, tenantID string
	err := tx.QueryRowContext(ctx, `SELECT project_id, tenant_id FROM endpoints WHERE id = ?`, endpointID).Scan(&projectID, &tenantID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return bumpRouting(ctx, tx, projectID, tenantID)
}

// UpdateEndpointHealth writes the health fields; disabling also turns the
// endpoint off and cancels its unfinished deliveries.
func (db *DB) UpdateEndpointHealth(ctx context.Context, endpointID string, h store.EndpointHealth) error {
	now := ns(db.now())
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		q := `UPDATE endpoints SET status = ?, disabled_reason = ?, consecutive_failures = ?, failing_since = ?, paused_until = ?`
		if h.Status == herald.EndpointDisabled {
			q += `, enabled = 0`
		}
		res, err := tx.ExecContext(ctx, q+` WHERE id = ?`,
			h.Status, h.DisabledReason, h.ConsecutiveFailures, nsPtr(h.FailingSince), nsPtr(h.PausedUntil), endpointID)
		if err := mustAffect(res, err, "endpoint %s", endpointID); err != nil {
			return err
		}
		if h.Status != herald.EndpointFailing {
			// Disabled, or healthy again (maybe re-enabled): routing sees it.
			if err := bumpEndpointRouting(ctx, tx, endpointID); err != nil {
				return err
			}
		}
		if h.Status == herald.EndpointDisabled {
			return cancelEndpoint(ctx, tx, endpointID, now)
		}
		return nil
	})
}

// cancelEndpointSQL cancels an endpoint's unfinished deliveries (now, endpoint id).
const cancelEndpointSQL = `UPDATE deliveries SET status = 'canceled', locked_by = NULL, locked_until = NULL, next_attempt_at = NULL, updated_at = ?
	WHERE endpoint_id = ? AND ` + unfinished

// cancelEndpoint cancels the endpoint's pending and in-flight deliveries.
// An in-flight one's late result only adds its attempt (see CompleteAttempts).
func cancelEndpoint(ctx context.Context, tx *sql.Tx, endpointID string, now int64) error {
	_, err := tx.ExecContext(ctx, cancelEndpointSQL, now, endpointID)
	return err
}

// DeleteEndpoint removes the endpoint and cancels its unfinished deliveries.
func (db *DB) DeleteEndpoint(ctx context.Context, projectID, id string) error {
	now := ns(db.now())
	return db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var tenantID string
		err := tx.QueryRowContext(ctx, `DELETE FROM endpoints WHERE id = ? AND project_id = ? RETURNING tenant_id`, id, projectID).Scan(&tenantID)
		if err != nil {
			return notFound(err, "endpoint %s", id)
		}
		if err := bumpRouting(ctx, tx, projectID, tenantID); err != nil {
			return err
		}
		return cancelEndpoint(ctx, tx, id, now)
	})
}
