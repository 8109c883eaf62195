package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/herald-dev/herald/internal/store"
)

// ClaimRequestKey stores k running unless a live row holds its key; see
// store.RequestKeyStore. The insert and the read of the holder are one
// write transaction, so two claims of one key never both succeed.
func (db *DB) ClaimRequestKey(ctx context.Context, k *store.RequestKey, expiredBefore, staleBefore time.Time) (*store.RequestKey, error) {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = db.now()
	}
	var held *store.RequestKey
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		held = nil
		var token string
		err := tx.QueryRowContext(ctx, `INSERT INTO request_keys (project_id, key, route, body_hash, token, status, resource_id, body, created_at)
			VALUES (?, ?, ?, ?, ?, 0, '', NULL, ?)
			ON CONFLICT (project_id, key) DO UPDATE SET route = excluded.route, body_hash = excluded.body_hash,
				token = excluded.token, status = 0, resource_id = '', body = NULL, created_at = excluded.created_at
			WHERE request_keys.created_at < ? OR (request_keys.status = 0 AND request_keys.created_at < ?)
			RETURNING token`,
			k.ProjectID, k.Key, k.Route, k.BodyHash, k.Token, ns(k.CreatedAt), ns(expiredBefore), ns(staleBefore)).Scan(&token)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return conflict(err, "idempotency key", "project "+k.ProjectID)
		}
		h := &store.RequestKey{ProjectID: k.ProjectID, Key: k.Key}
		var created int64
		if err := tx.QueryRowContext(ctx, `SELECT route, body_hash, token, status, resource_id, body, created_at FROM request_keys WHERE project_id = ? AND key = ?`, k.ProjectID, k.Key).
			Scan(&h.Route, &h.BodyHash, &h.Token, &h.Status, &h.ResourceID, &h.Body, &created); err != nil {
			return err
		}
		h.CreatedAt = fromNS(created)
		held = h
		return nil
	})
	if err != nil {
		return nil, err
	}
	return held, nil
}

// FinishRequestKey records the response of the running claim k.
func (db *DB) FinishRequestKey(ctx context.Context, k *store.RequestKey) error {
	_, err := db.exec(ctx, `UPDATE request_keys SET status = ?, resource_id = ?, body = ? WHERE project_id = ? AND key = ? AND token = ? AND status = 0`,
		k.Status, k.ResourceID, k.Body, k.ProjectID, k.Key, k.Token)
	return err
}

// ReleaseRequestKey deletes the running claim with token.
func (db *DB) ReleaseRequestKey(ctx context.Context, projectID, key, token string) error {
	_, err := db.exec(ctx, `DELETE FROM request_keys WHERE project_id = ? AND key = ? AND token = ? AND status = 0`, projectID, key, token)
	return err
}

// purgeRequestKeys deletes the request keys older than the idempotency
// window (Purge).
func (db *DB) purgeRequestKeys(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM request_keys WHERE created_at < ?`, ns(db.now().Add(-store.IdempotencyWindow)))
	return err
}
