-- Idempotency-Key of the POST routes other than ingest (create endpoint,
-- replay, retry, recover, create event type): one row per project and key,
-- claimed before the request runs (status 0) and given its response after
-- (status, and the created resource's id or the response body). Rows older
-- than the idempotency window are purged with old events.

-- +goose Up
CREATE TABLE request_keys (
    project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key         text NOT NULL,
    route       text NOT NULL,
    body_hash   text NOT NULL,
    token       text NOT NULL,
    status      integer NOT NULL DEFAULT 0,
    resource_id text NOT NULL DEFAULT '',
    body        bytea,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (project_id, key)
);
CREATE INDEX request_keys_created ON request_keys (created_at);

-- +goose Down
DROP TABLE request_keys;
