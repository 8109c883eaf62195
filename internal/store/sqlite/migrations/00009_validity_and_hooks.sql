-- Endpoints with a validity period, found by the sweep that cancels the
-- deliveries of those whose period has ended (CancelEndedDeliveries);
-- retry_jitter (1: retries spread ±20 % around the schedule); and a hook
-- run's verdict, stored with its event (JSON, NULL for other events).

-- +goose Up
CREATE INDEX endpoints_active_until ON endpoints (active_until) WHERE active_until IS NOT NULL;
ALTER TABLE endpoints ADD COLUMN retry_jitter INTEGER NOT NULL DEFAULT 1;
ALTER TABLE events ADD COLUMN hook_verdict TEXT;

-- +goose Down
ALTER TABLE events DROP COLUMN hook_verdict;
ALTER TABLE endpoints DROP COLUMN retry_jitter;
DROP INDEX endpoints_active_until;
