-- An endpoint's pause (PostponeEndpoint) is its paused_until: the claim
-- skips the endpoints paused now, found through this index, which holds
-- only endpoints with a pause set.

-- +goose Up
CREATE INDEX endpoints_paused ON endpoints (paused_until) WHERE paused_until IS NOT NULL;

-- +goose Down
DROP INDEX endpoints_paused;
