-- PostponeEndpoint records the pause on the endpoint instead of moving each
-- pending delivery (a write per delivery of the backlog): until then, the
-- claim does not take the endpoint's deliveries, and they read as due then.
-- A column of its own, not the health's paused_until, so that no health
-- write of another process cuts the pause short.

-- +goose Up
ALTER TABLE endpoints ADD COLUMN postponed_until timestamptz;
-- Each endpoint's due deliveries: the claim's way past a head of the due
-- queue that it may not take (postponed, skipped or ordered backlogs).
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at, priority, seq) WHERE status = 'pending';

-- +goose Down
DROP INDEX deliveries_endpoint_due;
ALTER TABLE endpoints DROP COLUMN postponed_until;
