package postgres

import (
	"context"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ---- settings ----

// GetSetting returns a stored setting.
func (db *DB) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, "SELECT value FROM settings WHERE key = $1", key).Scan(&v)
	return v, dbErr(err, "setting "+key)
}

// SetSettingIfAbsent stores value unless key exists and returns the value
// now stored. The read is a statement of its own so that it sees a value
// another process committed while the insert waited on it.
func (db *DB) SetSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	if _, err := db.pool.Exec(ctx,
		"INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", key, value); err != nil {
		return "", dbErr(err, "setting "+key)
	}
	return db.GetSetting(ctx, key)
}

// SetSetting stores value, replacing what key held.
func (db *DB) SetSetting(ctx context.Context, key, value string) error {
	_, err := db.pool.Exec(ctx,
		"INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return dbErr(err, "setting "+key)
}

// ---- projects ----

// stamp fills unset creation and update times from the store's clock and
// truncates them to what the database keeps. Times the caller set are
// stored as given: the caller's clock is the one that counts.
func (db *DB) stamp(created, updated *time.Time) {
	now := db.now()
	if created != nil {
		if created.IsZero() {
			*created = now
		}
		*created = tm(*created)
	}
	if updated != nil {
		if updated.IsZero() {
			*updated = now
		}
		*updated = tm(*updated)
	}
}

// CreateProject stores a new project; ECONFLICT if the id exists.
func (db *DB) CreateProject(ctx context.Context, p *herald.Project) error {
	db.stamp(&p.CreatedAt, &p.UpdatedAt)
	_, err := db.pool.Exec(ctx, `INSERT INTO projects (id, name, strict_event_types, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5)`, p.ID, p.Name, p.StrictEventTypes, p.CreatedAt, p.UpdatedAt)
	return dbErr(err, "project "+p.ID)
}

const projectCols = "id, name, strict_event_types, created_at, updated_at"

func scanProject(row pgx.Row) (*herald.Project, error) {
	p := new(herald.Project)
	if err := row.Scan(&p.ID, &p.Name, &p.StrictEventTypes, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	utc(&p.CreatedAt, &p.UpdatedAt)
	return p, nil
}

// GetProject returns a project (from the auth cache when it can).
func (db *DB) GetProject(ctx context.Context, id string) (*herald.Project, error) {
	return db.cachedProject(id, func() (*herald.Project, error) {
		p, err := scanProject(db.pool.QueryRow(ctx, "SELECT "+projectCols+" FROM projects WHERE id = $1", id))
		return p, dbErr(err, "project "+id)
	})
}

// ListProjects returns a page of projects, newest first.
func (db *DB) ListProjects(ctx context.Context, page store.Page) ([]*herald.Project, string, error) {
	var q query
	tail, n, err := q.page(page, "id")
	if err != nil {
		return nil, "", err
	}
	ps, err := collect(ctx, db, "SELECT "+projectCols+" FROM projects"+q.whereSQL()+tail, q.args, scanProject)
	if err != nil {
		return nil, "", dbErr(err, "projects")
	}
	ps, next := nextPage(ps, n, func(p *herald.Project) (time.Time, string) { return p.CreatedAt, p.ID })
	return ps, next, nil
}

// UpdateProject writes a project's name and settings.
func (db *DB) UpdateProject(ctx context.Context, p *herald.Project) error {
	db.stamp(nil, &p.UpdatedAt)
	tag, err := db.authWrite(ctx, "UPDATE projects SET name = $2, strict_event_types = $3, updated_at = $4 WHERE id = $1",
		p.ID, p.Name, p.StrictEventTypes, p.UpdatedAt)
	return affected(tag.RowsAffected(), err, "project "+p.ID)
}

// DeleteProject removes the project; foreign keys cascade to everything it
// owns (keys, event types, endpoints, events and their deliveries and
// attempts). Deliveries and attempts carry project_id without a foreign key,
// so they go with their events.
func (db *DB) DeleteProject(ctx context.Context, id string) error {
	tag, err := db.authWrite(ctx, "DELETE FROM projects WHERE id = $1", id)
	return affected(tag.RowsAffected(), err, "project "+id)
}

// affected turns "no row changed" into ENOTFOUND.
func affected(n int64, err error, what string) error {
	if err != nil {
		return dbErr(err, what)
	}
	if n == 0 {
		return notFound(what)
	}
	return nil
}

// execBatch runs b's statements, none of which returns rows, in one round
// trip and one implicit transaction; it returns the first one's command
// tag.
func (db *DB) execBatch(ctx context.Context, b *pgx.Batch) (pgconn.CommandTag, error) {
	br := db.pool.SendBatch(ctx, b)
	var first pgconn.CommandTag
	var err error
	for i := range b.Len() {
		var tag pgconn.CommandTag
		if tag, err = br.Exec(); err != nil {
			break
		}
		if i == 0 {
			first = tag
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return first, err
}

// collect runs a query and scans every row with scan.
func collect[T any](ctx context.Context, db *DB, sql string, args []any, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ---- API keys ----

// CreateAPIKey stores a key (its hash).
func (db *DB) CreateAPIKey(ctx context.Context, k *herald.APIKey) error {
	db.stamp(&k.CreatedAt, nil)
	var project *string
	if k.ProjectID != "" {
		project = &k.ProjectID
	}
	_, err := db.pool.Exec(ctx, "INSERT INTO api_keys (id, project_id, hash, prefix, name, scopes, tenant_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		k.ID, project, k.Hash, k.Prefix, k.Name, store.JoinScopes(k.Scopes), k.TenantID, tmp(k.ExpiresAt), k.CreatedAt)
	return dbErr(err, "api key "+k.ID)
}

const apiKeyCols = "id, coalesce(project_id, ''), hash, prefix, name, scopes, tenant_id, expires_at, created_at"

func scanAPIKey(row pgx.Row) (*herald.APIKey, error) {
	k := new(herald.APIKey)
	var scopes string
	if err := row.Scan(&k.ID, &k.ProjectID, &k.Hash, &k.Prefix, &k.Name, &scopes, &k.TenantID, &k.ExpiresAt, &k.CreatedAt); err != nil {
		return nil, err
	}
	k.Scopes = store.SplitScopes(scopes)
	utc(&k.CreatedAt)
	utcp(&k.ExpiresAt)
	return k, nil
}

// GetAPIKeyByHash finds a key of any project, or the admin key (from the
// auth cache when it can).
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash string) (*herald.APIKey, error) {
	return db.cachedKey(hash, func() (*herald.APIKey, error) {
		k, err := scanAPIKey(db.pool.QueryRow(ctx, "SELECT "+apiKeyCols+" FROM api_keys WHERE hash = $1", hash))
		return k, dbErr(err, "api key")
	})
}

// ListAPIKeys returns a project's keys, newest first.
func (db *DB) ListAPIKeys(ctx context.Context, projectID string) ([]*herald.APIKey, error) {
	ks, err := collect(ctx, db, "SELECT "+apiKeyCols+" FROM api_keys WHERE project_id = $1 ORDER BY created_at DESC, id DESC",
		[]any{projectID}, scanAPIKey)
	return ks, dbErr(err, "api keys")
}

// DeleteAPIKey revokes a project's key.
func (db *DB) DeleteAPIKey(ctx context.Context, projectID, id string) error {
	tag, err := db.authWrite(ctx, "DELETE FROM api_keys WHERE project_id = $1 AND id = $2", projectID, id)
	return affected(tag.RowsAffected(), err, "api key "+id)
}

// ---- event types ----

// CreateEventType stores an event type; ECONFLICT if the name exists in the
// project.
func (db *DB) CreateEventType(ctx context.Context, et *herald.EventType) error {
	db.stamp(&et.CreatedAt, &et.UpdatedAt)
	_, err := db.pool.Exec(ctx, `INSERT INTO event_types (project_id, name, description, schema, example, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		et.ProjectID, et.Name, et.Description, rawText(et.Schema), rawText(et.Example), et.CreatedAt, et.UpdatedAt)
	return dbErr(err, "event type "+et.Name)
}

const eventTypeCols = "project_id, name, description, schema, example, created_at, updated_at"

func scanEventType(row pgx.Row) (*herald.EventType, error) {
	et := new(herald.EventType)
	var schema, example []byte
	if err := row.Scan(&et.ProjectID, &et.Name, &et.Description, &schema, &example, &et.CreatedAt, &et.UpdatedAt); err != nil {
		return nil, err
	}
	et.Schema, et.Example = raw(schema), raw(example)
	utc(&et.CreatedAt, &et.UpdatedAt)
	return et, nil
}

// GetEventType returns an event type by name.
func (db *DB) GetEventType(ctx context.Context, projectID, name string) (*herald.EventType, error) {
	et, err := scanEventType(db.pool.QueryRow(ctx,
		"SELECT "+eventTypeCols+" FROM event_types WHERE project_id = $1 AND name = $2", projectID, name))
	return et, dbErr(err, "event type "+name)
}

// ListEventTypes returns a page of a project's event types, newest first.
func (db *DB) ListEventTypes(ctx context.Context, projectID string, page store.Page) ([]*herald.EventType, string, error) {
	var q query
	q.and("project_id = " + q.arg(projectID))
	tail, n, err := q.page(page, "name")
	if err != nil {
		return nil, "", err
	}
	ets, err := collect(ctx, db, "SELECT "+eventTypeCols+" FROM event_types"+q.whereSQL()+tail, q.args, scanEventType)
	if err != nil {
		return nil, "", dbErr(err, "event types")
	}
	ets, next := nextPage(ets, n, func(et *herald.EventType) (time.Time, string) { return et.CreatedAt, et.Name })
	return ets, next, nil
}

// UpdateEventType writes an event type's description, schema and example.
func (db *DB) UpdateEventType(ctx context.Context, et *herald.EventType) error {
	db.stamp(nil, &et.UpdatedAt)
	tag, err := db.pool.Exec(ctx, `UPDATE event_types SET description = $3, schema = $4, example = $5, updated_at = $6
		WHERE project_id = $1 AND name = $2`,
		et.ProjectID, et.Name, et.Description, rawText(et.Schema), rawText(et.Example), et.UpdatedAt)
	return affected(tag.RowsAffected(), err, "event type "+et.Name)
}

// DeleteEventType removes an event type.
func (db *DB) DeleteEventType(ctx context.Context, projectID, name string) error {
	tag, err := db.pool.Exec(ctx, "DELETE FROM event_types WHERE project_id = $1 AND name = $2", projectID, name)
	return affected(tag.RowsAffected(), err, "event type "+name)
}
