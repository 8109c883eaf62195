-- Several processes on one database. processes: each `herald serve`
-- heartbeats its row; a process whose heartbeat stops is declared dead by
-- the others, its row removed and its claims' leases ended, so that they are
-- sent again at once instead of after the lease. endpoint_pace: a
-- rate-limited endpoint's next free turn, shared by every process's claims.

-- +goose Up
CREATE TABLE processes (
    id           text PRIMARY KEY,
    address      text NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    in_flight    integer NOT NULL DEFAULT 0,
    -- the ids of the live processes this one saw at its heartbeat, comma
    -- separated: a process joining waits until every other one sees it
    sees         text NOT NULL DEFAULT ''
);

CREATE TABLE endpoint_pace (
    endpoint_id text PRIMARY KEY,
    next_at     timestamptz NOT NULL
);

-- +goose Down
DROP TABLE endpoint_pace;
DROP TABLE processes;
