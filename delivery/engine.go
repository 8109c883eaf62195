package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/store"
)

// STUB: the delivery engineer replaces this file. The signatures are the
// contract the other packages use.

var errStub = errors.New("delivery engine not implemented yet")

// Engine is the ingest router and the dispatcher.
type Engine struct {
	cfg   Config
	store store.Store
}

// New returns an Engine over st. Call Run to start dispatching.
func New(cfg Config, st store.Store) (*Engine, error) { return &Engine{cfg: cfg, store: st}, nil }

// Run dispatches until ctx ends, then drains (bounded by DrainTimeout) and
// returns. Maintenance (retention, auto-disable) runs here too.
func (e *Engine) Run(ctx context.Context) error { <-ctx.Done(); return nil }

// Ingest validates, routes and durably stores events; it returns once they
// are committed (group commit across concurrent callers), and wakes the
// dispatcher. Results are in input order; a per-item failure is in Err.
func (e *Engine) Ingest(ctx context.Context, p *herald.Project, in []EventInput) ([]IngestResult, error) {
	return nil, errStub
}

// Retry makes one attempt of the delivery now, whatever its state, and
// returns the stored attempt.
func (e *Engine) Retry(ctx context.Context, projectID, deliveryID string) (*herald.Attempt, error) {
	return nil, errStub
}

// Replay creates new deliveries of the event: to every matching endpoint, or
// to endpointID only. It returns how many.
func (e *Engine) Replay(ctx context.Context, projectID, eventID, endpointID string) (int, error) {
	return 0, errStub
}

// Recover requeues the endpoint's failed deliveries created in [since, until).
func (e *Engine) Recover(ctx context.Context, projectID, endpointID string, since, until time.Time) (int, error) {
	return 0, errStub
}

// Test sends the event type's example (or a ping when eventType is empty or
// has no example) to the endpoint now, stores it as an event with one
// delivery and attempt, and returns the attempt.
func (e *Engine) Test(ctx context.Context, projectID, endpointID, eventType string) (*herald.Attempt, error) {
	return nil, errStub
}

// EndpointsChanged drops cached routing for the project (call after any
// endpoint create, update or delete).
func (e *Engine) EndpointsChanged(projectID string) {}

// Send makes one signed request (no storage): used by hooks and tests.
func (e *Engine) Send(ctx context.Context, r SendRequest) *SendResult { return nil }

// Insert stores prepared events with their deliveries (and attempts)
// through the group commit, then wakes the dispatcher: used by hook runs,
// which decide their deliveries themselves.
func (e *Engine) Insert(ctx context.Context, events []*store.NewEvent) ([]store.InsertResult, error) {
	return nil, errStub
}
