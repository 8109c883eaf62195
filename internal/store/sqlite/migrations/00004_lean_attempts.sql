-- Attempts are written once per delivery attempt and read by delivery or by
-- endpoint, never by their own id: the id's unique index (an autoindex,
-- hence the rebuild) cost every attempt a b-tree insert and every commit
-- its pages. The ids are ULIDs minted by the engine. attempts_delivery
-- drops started_at: a delivery's few attempts are sorted when read.
--
-- The table is rebuilt with foreign keys off (dropping it with them on
-- would not cascade anywhere, but the rename must not rewrite references),
-- which PRAGMA cannot do inside a transaction: hence NO TRANSACTION and an
-- explicit one. Run again after a crash before goose recorded it, it gives
-- the same table.

-- +goose NO TRANSACTION
-- +goose Up
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE attempts_v4 (
    id               TEXT NOT NULL,
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
INSERT INTO attempts_v4 (id, project_id, delivery_id, event_id, endpoint_id, number, trigger, started_at, duration_ms,
    request_url, request_headers, response_status, response_headers, response_body, error_class, error)
SELECT id, project_id, delivery_id, event_id, endpoint_id, number, trigger, started_at, duration_ms,
    request_url, request_headers, response_status, response_headers, response_body, error_class, error FROM attempts ORDER BY rowid;
DROP TABLE attempts;
ALTER TABLE attempts_v4 RENAME TO attempts;
CREATE INDEX attempts_delivery ON attempts (delivery_id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, started_at);
COMMIT;
PRAGMA foreign_keys = ON;

-- +goose Down
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE attempts_v3 (
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
    request_headers  TEXT NOT NULL,
    response_status  INTEGER NOT NULL,
    response_headers TEXT NOT NULL,
    response_body    TEXT NOT NULL,
    error_class      TEXT NOT NULL,
    error            TEXT NOT NULL
);
INSERT INTO attempts_v3 SELECT id, project_id, delivery_id, event_id, endpoint_id, number, trigger, started_at, duration_ms,
    request_url, request_headers, response_status, response_headers, response_body, error_class, error FROM attempts ORDER BY rowid;
DROP TABLE attempts;
ALTER TABLE attempts_v3 RENAME TO attempts;
CREATE INDEX attempts_delivery ON attempts (delivery_id, started_at);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, started_at);
COMMIT;
PRAGMA foreign_keys = ON;
