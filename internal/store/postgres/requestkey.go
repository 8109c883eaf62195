package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/herald-dev/herald/internal/store"
	"github.com/jackc/pgx/v5"
)

// ClaimRequestKey stores k running unless a live row holds its key; see
// store.RequestKeyStore. The insert decides under the key's unique index,
// so two claims of one key, from any processes, never both succeed.
func (db *DB) ClaimRequestKey(ctx context.Context, k *store.RequestKey, expiredBefore, staleBefore time.Time) (*store.RequestKey, error) {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = db.now()
	}
	// The holder can be released between the insert and the read: then
	// the key is free again and the insert is tried anew.
	for range 5 {
		var token string
		err := db.pool.QueryRow(ctx, `INSERT INTO request_keys AS r (project_id, key, route, body_hash, token, status, resource_id, body, created_at)
			VALUES ($1, $2, $3, $4, $5, 0, '', NULL, $6)
			ON CONFLICT (project_id, key) DO UPDATE SET route = excluded.route, body_hash = excluded.body_hash,
				token = excluded.token, status = 0, resource_id = '', body = NULL, created_at = excluded.created_at
			WHERE r.created_at < $7 OR (r.status = 0 AND r.created_at < $8)
			RETURNING token`,
			k.ProjectID, k.Key, k.Route, k.BodyHash, k.Token, tm(k.CreatedAt), tm(expiredBefore), tm(staleBefore)).Scan(&token)
		if err == nil {
			return nil, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, dbErr(err, "idempotency key")
		}
		h := &store.RequestKey{ProjectID: k.ProjectID, Key: k.Key}
		err = db.pool.QueryRow(ctx, `SELECT route, body_hash, token, status, resource_id, body, created_at FROM request_keys WHERE project_id = $1 AND key = $2`, k.ProjectID, k.Key).
			Scan(&h.Route, &h.BodyHash, &h.Token, &h.Status, &h.ResourceID, &h.Body, &h.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, dbErr(err, "idempotency key")
		}
		utc(&h.CreatedAt)
		return h, nil
	}
	return nil, errors.New("postgres: idempotency key: claimed and released too often to settle")
}

// FinishRequestKey records the response of the running claim k.
func (db *DB) FinishRequestKey(ctx context.Context, k *store.RequestKey) error {
	_, err := db.pool.Exec(ctx, `UPDATE request_keys SET status = $1, resource_id = $2, body = $3 WHERE project_id = $4 AND key = $5 AND token = $6 AND status = 0`,
		k.Status, k.ResourceID, k.Body, k.ProjectID, k.Key, k.Token)
	return dbErr(err, "idempotency key")
}

// ReleaseRequestKey deletes the running claim with token.
func (db *DB) ReleaseRequestKey(ctx context.Context, projectID, key, token string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM request_keys WHERE project_id = $1 AND key = $2 AND token = $3 AND status = 0`, projectID, key, token)
	return dbErr(err, "idempotency key")
}

// queuePurgeRequestKeys adds to b the deletion of request keys older than
// the idempotency window (Purge).
func (db *DB) queuePurgeRequestKeys(b *pgx.Batch) {
	b.Queue("DELETE FROM request_keys WHERE created_at < $1", tm(db.now()).Add(-store.IdempotencyWindow))
}
