-- deliveries_endpoint holds only unfinished deliveries (pending, in flight).
-- Every query that reads it asks for those alone: an ordered endpoint's
-- head and its live lease (the claim), the cancel of an endpoint's work,
-- QueueStats' oldest; the delivery lists and RequeueDeliveries (finished
-- deliveries) go by deliveries_project and deliveries_endpoint_created.
-- A delivery that finishes now leaves the index instead of moving within
-- it (status is in its key), and the index no longer grows with the log.
--
-- The condition is an OR, not status IN (...): SQLite takes a partial
-- index for a query whose WHERE has the condition itself as a term, or a
-- term that implies it (status = 'pending' implies the OR, not the IN).
-- The queries spell it as `unfinished` in queue.go.

-- +goose Up
DROP INDEX deliveries_endpoint;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status, seq) WHERE status = 'pending' OR status = 'in_flight';

-- +goose Down
DROP INDEX deliveries_endpoint;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status, seq);
