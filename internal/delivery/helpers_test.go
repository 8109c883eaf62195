package delivery

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/webhook"
)

// testBundle is one engine over a real SQLite file with one project.
type testBundle struct {
	t       testing.TB
	ctx     context.Context
	st      store.Store
	db      *sqlite.DB
	path    string
	e       *Engine
	project *herald.Project
}

// setup opens a fresh database and an engine with test-friendly settings;
// mutate adjusts the config first.
func setup(t testing.TB, mutate func(*Config)) *testBundle {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := &testBundle{t: t, ctx: ctx, st: db, db: db, path: path}
	now := time.Now().UTC()
	b.project = &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: "test", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateProject(ctx, b.project); err != nil {
		t.Fatal(err)
	}
	b.e = b.engine(db, mutate)
	return b
}

func (b *testBundle) engine(st store.Store, mutate func(*Config)) *Engine {
	b.t.Helper()
	cfg := Config{
		AllowPrivateNetworks: true,
		PollInterval:         50 * time.Millisecond,
		DrainTimeout:         5 * time.Second,
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := New(cfg, st)
	if err != nil {
		b.t.Fatal(err)
	}
	return e
}

// run starts the engine's Run; the returned stop cancels it and waits.
func (b *testBundle) run(e *Engine) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				b.t.Errorf("Run: %v", err)
			}
		})
	}
	b.t.Cleanup(stop)
	return stop
}

// endpoint stores an endpoint to url with short retries; mutate adjusts it.
func (b *testBundle) endpoint(url string, mutate func(*herald.Endpoint)) *herald.Endpoint {
	b.t.Helper()
	now := time.Now().UTC()
	ep := &herald.Endpoint{
		ID:            herald.NewID(herald.PrefixEndpoint),
		ProjectID:     b.project.ID,
		URL:           url,
		EventTypes:    []string{},
		Channels:      []string{},
		Enabled:       true,
		Timeout:       herald.Duration(5 * time.Second),
		ResponseMode:  herald.ResponseWait,
		FailurePolicy: herald.FailClosed,
		RetrySchedule: []herald.Duration{herald.Duration(20 * time.Millisecond), herald.Duration(20 * time.Millisecond)},
		MaxInFlight:   herald.MaxInFlightDefault,
		Headers:       map[string]string{},
		Metadata:      map[string]string{},
		Secret:        webhook.NewSecret(),
		Status:        herald.EndpointHealthy,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if mutate != nil {
		mutate(ep)
	}
	if err := b.st.CreateEndpoint(b.ctx, ep); err != nil {
		b.t.Fatal(err)
	}
	b.e.EndpointsChanged(b.project.ID)
	return ep
}

// ingest ingests one event and fails the test on any error.
func (b *testBundle) ingest(typ string, data string) IngestResult {
	b.t.Helper()
	res, err := b.e.Ingest(b.ctx, b.project, []EventInput{{Type: typ, Data: json.RawMessage(data)}})
	if err != nil {
		b.t.Fatal(err)
	}
	if res[0].Err != nil {
		b.t.Fatal(res[0].Err)
	}
	return res[0]
}

// deliveries lists the event's deliveries.
func (b *testBundle) deliveries(f store.DeliveryFilter) []*herald.Delivery {
	b.t.Helper()
	ds, _, err := b.st.ListDeliveries(b.ctx, b.project.ID, f, store.Page{Limit: 1000})
	if err != nil {
		b.t.Fatal(err)
	}
	return ds
}

// testEvent is an event for Send tests, not stored.
func testEvent(projectID string) *herald.Event {
	now := time.Now().UTC().Truncate(time.Second)
	return &herald.Event{
		ID: herald.NewID(herald.PrefixEvent), ProjectID: projectID, Type: "user.created",
		Data: json.RawMessage(`{"user_id":"u_1"}`), Channels: []string{"acct_42"},
		Metadata: map[string]string{"request_id": "r1"}, OccurredAt: now, CreatedAt: now,
	}
}
