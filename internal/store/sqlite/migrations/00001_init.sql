-- Herald's SQLite schema. Times are INTEGER unix nanoseconds (UTC): exact
-- round trips and cheap comparisons. Lists, maps and auth are JSON text.

-- +goose Up
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE projects (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    strict_event_types INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    project_id TEXT REFERENCES projects (id) ON DELETE CASCADE, -- NULL: the admin key
    hash       TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX api_keys_project ON api_keys (project_id, id);

CREATE TABLE event_types (
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    schema      TEXT,
    example     TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (project_id, name)
);
CREATE INDEX event_types_list ON event_types (project_id, created_at, name);

CREATE TABLE endpoints (
    id                    TEXT PRIMARY KEY,
    project_id            TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    url                   TEXT NOT NULL,
    name                  TEXT NOT NULL,
    description           TEXT NOT NULL,
    event_types           TEXT NOT NULL, -- JSON list
    channels              TEXT NOT NULL, -- JSON list
    filter                TEXT NOT NULL,
    enabled               INTEGER NOT NULL,
    active_from           INTEGER,
    active_until          INTEGER,
    ord                   INTEGER NOT NULL,
    timeout               INTEGER NOT NULL, -- nanoseconds
    response_mode         TEXT NOT NULL,
    failure_policy        TEXT NOT NULL,
    retry_schedule        TEXT NOT NULL, -- JSON list of nanoseconds
    rate_limit            INTEGER NOT NULL,
    max_in_flight         INTEGER NOT NULL,
    ordered               INTEGER NOT NULL,
    auth                  TEXT,          -- JSON, NULL when none
    headers               TEXT NOT NULL, -- JSON map
    body_template         TEXT NOT NULL,
    metadata              TEXT NOT NULL, -- JSON map
    secret                TEXT NOT NULL,
    previous_secret       TEXT NOT NULL,
    previous_secret_until INTEGER,
    status                TEXT NOT NULL,
    disabled_reason       TEXT NOT NULL,
    consecutive_failures  INTEGER NOT NULL,
    failing_since         INTEGER,
    paused_until          INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX endpoints_project ON endpoints (project_id, id);

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    data            TEXT NOT NULL,
    channels        TEXT NOT NULL, -- JSON list
    metadata        TEXT NOT NULL, -- JSON map
    occurred_at     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL,
    body_hash       TEXT NOT NULL,
    is_hook         INTEGER NOT NULL
);
CREATE INDEX events_project ON events (project_id, id);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE idempotency_keys (
    project_id TEXT NOT NULL,
    key        TEXT NOT NULL,
    event_id   TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    body_hash  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_event ON idempotency_keys (event_id);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL,
    event_id        TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL, -- no foreign key: a deleted endpoint's deliveries stay, canceled
    event_type      TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    priority        INTEGER NOT NULL,
    seq             INTEGER NOT NULL, -- ingest order
    next_attempt_at INTEGER,
    locked_by       TEXT,
    locked_until    INTEGER,
    last_attempt_at INTEGER,
    last_status     INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    succeeded_at    INTEGER
);
-- Claim: due pending work in order, and expired leases.
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at, priority);
CREATE INDEX deliveries_lease ON deliveries (status, locked_until);
-- Ordered endpoints' head, per-endpoint cancel and postpone.
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status, seq);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_project ON deliveries (project_id, id);

CREATE TABLE attempts (
    id               TEXT PRIMARY KEY,
    project_id       TEXT NOT NULL,
    delivery_id      TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    number           INTEGER NOT NULL,
    trigger          TEXT NOT NULL,
    started_at       INTEGER NOT NULL,
    duration_ms      INTEGER NOT NULL,
    request_url      TEXT NOT NULL,
    request_headers  TEXT NOT NULL, -- JSON map
    response_status  INTEGER NOT NULL,
    response_headers TEXT NOT NULL, -- JSON map
    response_body    TEXT NOT NULL,
    error_class      TEXT NOT NULL,
    error            TEXT NOT NULL
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, started_at);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, started_at);

-- +goose Down
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE idempotency_keys;
DROP TABLE events;
DROP TABLE endpoints;
DROP TABLE event_types;
DROP TABLE api_keys;
DROP TABLE projects;
DROP TABLE settings;
