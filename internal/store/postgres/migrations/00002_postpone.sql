-- PostponeEndpoint records the pause in endpoints.paused_until instead of
-- moving each pending delivery (a write per delivery of the backlog): until
-- then, the claim does not take the endpoint's pending deliveries, and they
-- read as due then.

-- +goose Up
-- Each endpoint's due deliveries: the claim's way past a head of the due
-- queue that it may not take (paused, skipped or ordered backlogs).
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at, priority, seq) WHERE status = 'pending';

-- +goose Down
DROP INDEX deliveries_endpoint_due;
