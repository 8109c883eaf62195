-- Herald's PostgreSQL schema. Times are timestamptz (microseconds); lists,
-- maps and auth are jsonb; event data, schemas and examples are json so that
-- they come back byte for byte as they were sent.

-- +goose Up
CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE projects (
    id                 text PRIMARY KEY,
    name               text NOT NULL,
    strict_event_types boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX projects_created ON projects (created_at DESC, id DESC);

-- project_id is NULL for the admin key.
CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    project_id text REFERENCES projects (id) ON DELETE CASCADE,
    hash       text NOT NULL UNIQUE,
    prefix     text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX api_keys_project ON api_keys (project_id);

CREATE TABLE event_types (
    project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    schema      json,
    example     json,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (project_id, name)
);
CREATE INDEX event_types_created ON event_types (project_id, created_at DESC, name DESC);

CREATE TABLE endpoints (
    id                    text PRIMARY KEY,
    project_id            text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    url                   text NOT NULL,
    name                  text NOT NULL DEFAULT '',
    description           text NOT NULL DEFAULT '',
    event_types           jsonb NOT NULL DEFAULT 'null',
    channels              jsonb NOT NULL DEFAULT 'null',
    filter                text NOT NULL DEFAULT '',
    enabled               boolean NOT NULL DEFAULT true,
    active_from           timestamptz,
    active_until          timestamptz,
    sort_order            integer NOT NULL DEFAULT 0,
    timeout_ns            bigint NOT NULL DEFAULT 0,
    response_mode         text NOT NULL DEFAULT '',
    failure_policy        text NOT NULL DEFAULT '',
    retry_schedule        jsonb NOT NULL DEFAULT 'null',
    rate_limit            integer NOT NULL DEFAULT 0,
    max_in_flight         integer NOT NULL DEFAULT 0,
    ordered               boolean NOT NULL DEFAULT false,
    auth                  jsonb,
    headers               jsonb NOT NULL DEFAULT 'null',
    body_template         text NOT NULL DEFAULT '',
    metadata              jsonb NOT NULL DEFAULT 'null',
    secret                text NOT NULL DEFAULT '',
    previous_secret       text NOT NULL DEFAULT '',
    previous_secret_until timestamptz,
    status                text NOT NULL DEFAULT 'healthy',
    disabled_reason       text NOT NULL DEFAULT '',
    consecutive_failures  integer NOT NULL DEFAULT 0,
    failing_since         timestamptz,
    paused_until          timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX endpoints_project ON endpoints (project_id, created_at DESC, id DESC);

CREATE TABLE events (
    id              text PRIMARY KEY,
    project_id      text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    type            text NOT NULL,
    data            json,
    channels        jsonb NOT NULL DEFAULT 'null',
    metadata        json,
    occurred_at     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    idempotency_key text NOT NULL DEFAULT '',
    body_hash       text NOT NULL DEFAULT '',
    hook            boolean NOT NULL DEFAULT false
);
CREATE INDEX events_project ON events (project_id, created_at DESC, id DESC);
CREATE INDEX events_created ON events (created_at);

-- Uniqueness of a key across processes is this primary key's job.
CREATE TABLE idempotency_keys (
    project_id text NOT NULL,
    key        text NOT NULL,
    -- Deferred: the key is taken before its event is inserted.
    event_id   text NOT NULL REFERENCES events (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    body_hash  text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, key)
);
CREATE INDEX idempotency_keys_event ON idempotency_keys (event_id);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Deliveries outlive their endpoint (canceled, kept for the log), so
-- endpoint_id has no foreign key. seq is the ingest order.
CREATE TABLE deliveries (
    id              text PRIMARY KEY,
    project_id      text NOT NULL,
    event_id        text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    endpoint_id     text NOT NULL,
    event_type      text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'in_flight', 'succeeded', 'exhausted', 'canceled')),
    attempts        integer NOT NULL DEFAULT 0,
    priority        integer NOT NULL DEFAULT 0,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    next_attempt_at timestamptz,
    locked_by       text NOT NULL DEFAULT '',
    locked_until    timestamptz,
    last_attempt_at timestamptz,
    last_status     integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    succeeded_at    timestamptz
);
-- The claim's two ways of being due (pending by schedule, in flight under
-- an expired lease), and an ordered endpoint's head and live lease.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, priority, seq) WHERE status = 'pending';
CREATE INDEX deliveries_in_flight ON deliveries (endpoint_id, locked_until) WHERE status = 'in_flight';
CREATE INDEX deliveries_unfinished ON deliveries (endpoint_id, seq) WHERE status IN ('pending', 'in_flight');
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_project ON deliveries (project_id, created_at DESC, id DESC);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at);

CREATE TABLE attempts (
    id               text PRIMARY KEY,
    project_id       text NOT NULL,
    delivery_id      text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    event_id         text NOT NULL,
    endpoint_id      text NOT NULL,
    number           integer NOT NULL,
    trigger          text NOT NULL DEFAULT '',
    started_at       timestamptz NOT NULL,
    duration_ms      bigint NOT NULL DEFAULT 0,
    request_url      text NOT NULL DEFAULT '',
    request_headers  jsonb NOT NULL DEFAULT 'null',
    response_status  integer NOT NULL DEFAULT 0,
    response_headers jsonb NOT NULL DEFAULT 'null',
    -- bytea: a receiver's body may be any bytes, and text refuses NUL.
    response_body    bytea,
    error_class      text NOT NULL DEFAULT '',
    error            text NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, started_at, id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, started_at DESC, id DESC);

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
