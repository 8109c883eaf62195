-- The W3C traceparent of the request that ingested an event, stored when
-- tracing is on so that attempts made after a restart (claimed from the
-- database rather than handed over in memory) continue the event's trace.
-- NULL when tracing is off: nothing is stored then.

-- +goose Up
ALTER TABLE events ADD COLUMN trace_parent TEXT;

-- +goose Down
ALTER TABLE events DROP COLUMN trace_parent;
