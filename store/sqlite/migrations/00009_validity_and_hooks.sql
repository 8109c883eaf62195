-- Endpoints with a validity period, found by the sweep that cancels the
-- deliveries of those whose period has ended (CancelEndedDeliveries).

-- +goose Up
CREATE INDEX endpoints_active_until ON endpoints (active_until) WHERE active_until IS NOT NULL;

-- +goose Down
DROP INDEX endpoints_active_until;
