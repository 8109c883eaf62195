-- An endpoint's summary over a window (EndpointStats: the dashboard's
-- endpoint pages, GET …/endpoints/{id}/stats) counted its deliveries by
-- reading every delivery the endpoint ever had; this index reads only those
-- created in the window.

-- +goose Up
CREATE INDEX deliveries_endpoint_created ON deliveries (endpoint_id, created_at);

-- +goose Down
DROP INDEX deliveries_endpoint_created;
