package store

import (
	"context"
	"time"
)

// EndpointBacklog is the unfinished work of one endpoint, for the metrics
// of the few endpoints with the most of it.
type EndpointBacklog struct {
	EndpointID string
	ProjectID  string
	// Pending counts the endpoint's deliveries pending or in flight.
	Pending int
	// OldestPending is the created_at of its oldest unfinished delivery.
	OldestPending time.Time
}

// BacklogReader is implemented by the stores that can rank endpoints by
// backlog. It is not part of Store: the engine uses it when it is there.
type BacklogReader interface {
	// WorstBacklogs returns at most limit endpoints with unfinished
	// deliveries, the most first (ties by endpoint id).
	WorstBacklogs(ctx context.Context, limit int) ([]EndpointBacklog, error)
}
