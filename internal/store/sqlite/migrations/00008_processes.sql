-- The process that opens the file (one at a time: `herald serve` holds a
-- lock beside it) heartbeats its row here, for GET /v1/cluster. A
-- restarted process declares its predecessors dead at once: their claims'
-- leases end and are sent again without waiting for the lease.
-- endpoint_pace is a rate-limited endpoint's next free turn for Cluster
-- claims, as on PostgreSQL. Times are Unix nanoseconds, as elsewhere.

-- +goose Up
CREATE TABLE processes (
    id           TEXT PRIMARY KEY,
    address      TEXT NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    in_flight    INTEGER NOT NULL DEFAULT 0,
    sees         TEXT NOT NULL DEFAULT ''
);

CREATE TABLE endpoint_pace (
    endpoint_id TEXT PRIMARY KEY,
    next_at     INTEGER NOT NULL
);

-- +goose Down
DROP TABLE endpoint_pace;
DROP TABLE processes;
