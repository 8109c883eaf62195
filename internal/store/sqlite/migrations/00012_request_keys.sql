-- Idempotency-Key of the POST routes other than ingest (create endpoint,
-- replay, retry, recover, create event type): one row per project and key,
-- claimed before the request runs (status 0) and given its response after
-- (status, and the created resource's id or the response body). Rows older
-- than the idempotency window are purged with old events.

-- +goose Up
CREATE TABLE request_keys (
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    route       TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    token       TEXT NOT NULL,
    status      INTEGER NOT NULL DEFAULT 0,
    resource_id TEXT NOT NULL DEFAULT '',
    body        BLOB,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (project_id, key)
) WITHOUT ROWID;
CREATE INDEX request_keys_created ON request_keys (created_at);

-- +goose Down
DROP TABLE request_keys;
