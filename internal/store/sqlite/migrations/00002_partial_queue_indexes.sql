-- The claim's indexes cover only the rows a claim can take: pending rows by
-- due time (globally, and per endpoint so that a busy endpoint skipped by
-- the dispatcher costs a seek, not a scan of its backlog) and in-flight rows
-- by lease. Finished deliveries, the vast majority, are in none of them.

-- +goose Up
DROP INDEX deliveries_due;
DROP INDEX deliveries_lease;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, priority) WHERE status = 'pending';
CREATE INDEX deliveries_lease ON deliveries (locked_until) WHERE status = 'in_flight';
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at, priority) WHERE status = 'pending';

-- +goose Down
DROP INDEX deliveries_endpoint_due;
DROP INDEX deliveries_lease;
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at, priority);
CREATE INDEX deliveries_lease ON deliveries (status, locked_until);
