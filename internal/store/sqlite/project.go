package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"time"
)

// GetSetting returns a stored setting.
func (db *DB) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	return v, notFound(err, "setting %s", key)
}

// SetSettingIfAbsent stores value unless key exists, and returns what is stored.
func (db *DB) SetSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	var v string
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	})
	return v, err
}

// SetSetting stores value, replacing what key held.
func (db *DB) SetSetting(ctx context.Context, key, value string) error {
	_, err := db.exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// CreateProject stores a new project.
func (db *DB) CreateProject(ctx context.Context, p *herald.Project) error {
	_, err := db.exec(ctx, `INSERT INTO projects (id, name, strict_event_types, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		p.ID, p.Name, p.StrictEventTypes, ns(p.CreatedAt), ns(p.UpdatedAt))
	return conflict(err, "project "+p.ID, "")
}

const projectCols = `id, name, strict_event_types, created_at, updated_at`

func scanProject(s scanner) (*herald.Project, error) {
	var p herald.Project
	var created, updated int64
	if err := s.Scan(&p.ID, &p.Name, &p.StrictEventTypes, &created, &updated); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = fromNS(created), fromNS(updated)
	return &p, nil
}

// GetProject returns one project.
func (db *DB) GetProject(ctx context.Context, id string) (*herald.Project, error) {
	return db.auth.Project(id, func() (*herald.Project, error) {
		p, err := scanProject(db.r.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects WHERE id = ?`, id))
		if err != nil {
			return nil, notFound(err, "project %s", id)
		}
		return p, nil
	})
}

// ListProjects lists projects, newest id first.
func (db *DB) ListProjects(ctx context.Context, page store.Page) ([]*herald.Project, string, error) {
	q := `SELECT ` + projectCols + ` FROM projects`
	var args []any
	if page.Cursor != "" {
		q += ` WHERE id < ?`
		args = append(args, page.Cursor)
	}
	return listByID(ctx, db.r, q, args, page, scanProject, func(p *herald.Project) string { return p.ID })
}

// UpdateProject writes the project's name and settings.
func (db *DB) UpdateProject(ctx context.Context, p *herald.Project) error {
	res, err := db.exec(ctx, `UPDATE projects SET name = ?, strict_event_types = ?, updated_at = ? WHERE id = ?`,
		p.Name, p.StrictEventTypes, ns(p.UpdatedAt), p.ID)
	db.auth.Invalidate()
	return mustAffect(res, err, "project %s", p.ID)
}

// DeleteProject removes the project; foreign keys cascade to what it owns.
func (db *DB) DeleteProject(ctx context.Context, id string) error {
	res, err := db.exec(ctx, `DELETE FROM projects WHERE id = ?`, id)
	db.auth.Invalidate()
	return mustAffect(res, err, "project %s", id)
}

// CreateAPIKey stores a key's hash.
func (db *DB) CreateAPIKey(ctx context.Context, k *herald.APIKey) error {
	_, err := db.exec(ctx, `INSERT INTO api_keys (id, project_id, hash, prefix, name, scopes, tenant_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, nullStr(k.ProjectID), k.Hash, k.Prefix, k.Name, store.JoinScopes(k.Scopes), k.TenantID, nsPtr(k.ExpiresAt), ns(k.CreatedAt))
	return conflict(err, "api key "+k.ID, "project "+k.ProjectID)
}

const apiKeyCols = `id, COALESCE(project_id, ''), hash, prefix, name, scopes, tenant_id, expires_at, created_at`

func scanAPIKey(s scanner) (*herald.APIKey, error) {
	var k herald.APIKey
	var created int64
	var scopes string
	var expires sql.NullInt64
	if err := s.Scan(&k.ID, &k.ProjectID, &k.Hash, &k.Prefix, &k.Name, &scopes, &k.TenantID, &expires, &created); err != nil {
		return nil, err
	}
	k.Scopes, k.ExpiresAt = store.SplitScopes(scopes), fromNull(expires)
	k.CreatedAt = fromNS(created)
	return &k, nil
}

// GetAPIKeyByHash finds a key by its hash (authentication, on every API
// request: see authcache).
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash string) (*herald.APIKey, error) {
	return db.auth.Key(hash, func() (*herald.APIKey, error) {
		k, err := scanAPIKey(db.r.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE hash = ?`, hash))
		if err != nil {
			return nil, notFound(err, "api key")
		}
		return k, nil
	})
}

// ListAPIKeys lists a project's keys ("" = admin keys), newest first.
func (db *DB) ListAPIKeys(ctx context.Context, projectID string) ([]*herald.APIKey, error) {
	// project_id = ? / IS NULL rather than COALESCE(project_id, '') = ?,
	// which cannot use the index and read every key (the dashboard runs
	// this on each request).
	q := `SELECT ` + apiKeyCols + ` FROM api_keys WHERE project_id = ? ORDER BY id DESC`
	args := []any{projectID}
	if projectID == "" {
		q, args = `SELECT `+apiKeyCols+` FROM api_keys WHERE project_id IS NULL ORDER BY id DESC`, nil
	}
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanAPIKey)
}

// DeleteAPIKey revokes a key.
func (db *DB) DeleteAPIKey(ctx context.Context, projectID, id string) error {
	res, err := db.exec(ctx, `DELETE FROM api_keys WHERE id = ? AND COALESCE(project_id, '') = ?`, id, projectID)
	db.auth.Invalidate()
	return mustAffect(res, err, "api key %s", id)
}

func rawOrNull(r json.RawMessage) any {
	if len(r) == 0 {
		return nil
	}
	return string(r)
}

// CreateEventType stores a new event type.
func (db *DB) CreateEventType(ctx context.Context, et *herald.EventType) error {
	_, err := db.exec(ctx, `INSERT INTO event_types (project_id, name, description, schema, example, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		et.ProjectID, et.Name, et.Description, rawOrNull(et.Schema), rawOrNull(et.Example), ns(et.CreatedAt), ns(et.UpdatedAt))
	return conflict(err, "event type "+et.Name, "project "+et.ProjectID)
}

const eventTypeCols = `project_id, name, description, schema, example, created_at, updated_at`

func scanEventType(s scanner) (*herald.EventType, error) {
	var et herald.EventType
	var schema, example sql.NullString
	var created, updated int64
	if err := s.Scan(&et.ProjectID, &et.Name, &et.Description, &schema, &example, &created, &updated); err != nil {
		return nil, err
	}
	if schema.Valid {
		et.Schema = json.RawMessage(schema.String)
	}
	if example.Valid {
		et.Example = json.RawMessage(example.String)
	}
	et.CreatedAt, et.UpdatedAt = fromNS(created), fromNS(updated)
	return &et, nil
}

// GetEventType returns one event type.
func (db *DB) GetEventType(ctx context.Context, projectID, name string) (*herald.EventType, error) {
	et, err := scanEventType(db.r.QueryRowContext(ctx, `SELECT `+eventTypeCols+` FROM event_types WHERE project_id = ? AND name = ?`, projectID, name))
	return et, notFound(err, "event type %s", name)
}

// ListEventTypes lists event types newest first. Event types have no
// sortable id, so the cursor is (created_at, name), base64-encoded.
func (db *DB) ListEventTypes(ctx context.Context, projectID string, page store.Page) ([]*herald.EventType, string, error) {
	return listByCreated(ctx, db.r, `SELECT `+eventTypeCols+` FROM event_types WHERE project_id = ?`, []any{projectID}, page,
		"name", scanEventType, func(et *herald.EventType) (time.Time, string) { return et.CreatedAt, et.Name })
}

// listByCreated runs a list query of rows without a sortable id, newest
// first: by created_at, then by keyCol (a name or the caller's id). The
// cursor is (created_at, key), base64-encoded.
func listByCreated[T any](ctx context.Context, q querier, query string, args []any, page store.Page, keyCol string,
	scan func(scanner) (*T, error), key func(*T) (time.Time, string)) ([]*T, string, error) {
	limit := clampLimit(page.Limit)
	if page.Cursor != "" {
		at, k, err := decodeTypeCursor(page.Cursor)
		if err != nil {
			return nil, "", err
		}
		query += ` AND (created_at < ? OR (created_at = ? AND ` + keyCol + ` < ?))`
		args = append(args, at, at, k)
	}
	query += ` ORDER BY created_at DESC, ` + keyCol + ` DESC LIMIT ?`
	rows, err := q.QueryContext(ctx, query, append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	list, err := collect(rows, scan)
	if err != nil || len(list) <= limit {
		return list, "", err
	}
	list = list[:limit]
	at, k := key(list[limit-1])
	cur := strconv.FormatInt(ns(at), 10) + ":" + k
	return list, base64.RawURLEncoding.EncodeToString([]byte(cur)), nil
}

func decodeTypeCursor(c string) (int64, string, error) {
	bad := herald.Errorf(herald.EINVALID, "cursor %q is not one this list returned", c)
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", bad
	}
	at, name, ok := strings.Cut(string(b), ":")
	if !ok {
		return 0, "", bad
	}
	n, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return 0, "", bad
	}
	return n, name, nil
}

// UpdateEventType writes an event type's description, schema and example.
func (db *DB) UpdateEventType(ctx context.Context, et *herald.EventType) error {
	res, err := db.exec(ctx, `UPDATE event_types SET description = ?, schema = ?, example = ?, updated_at = ? WHERE project_id = ? AND name = ?`,
		et.Description, rawOrNull(et.Schema), rawOrNull(et.Example), ns(et.UpdatedAt), et.ProjectID, et.Name)
	return mustAffect(res, err, "event type %s", et.Name)
}

// DeleteEventType removes an event type.
func (db *DB) DeleteEventType(ctx context.Context, projectID, name string) error {
	res, err := db.exec(ctx, `DELETE FROM event_types WHERE project_id = ? AND name = ?`, projectID, name)
	return mustAffect(res, err, "event type %s", name)
}

// collect scans every row.
func collect[T any](rows *sql.Rows, scan func(scanner) (*T, error)) ([]*T, error) {
	defer rows.Close()
	list := []*T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	return list, rows.Err()
}

// listByID runs a list query whose WHERE is complete (cursor included),
// ordering by id descending and reading one row more than the page to know
// whether another page follows. The cursor is the last row's id.
func listByID[T any](ctx context.Context, q querier, query string, args []any, page store.Page, scan func(scanner) (*T, error), id func(*T) string) ([]*T, string, error) {
	limit := clampLimit(page.Limit)
	query += ` ORDER BY id DESC LIMIT ?`
	rows, err := q.QueryContext(ctx, query, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list: %w", err)
	}
	list, err := collect(rows, scan)
	if err != nil {
		return nil, "", err
	}
	if len(list) <= limit {
		return list, "", nil
	}
	list = list[:limit]
	return list, id(list[limit-1]), nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}
