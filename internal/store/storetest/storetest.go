// Package storetest is the conformance suite of store.Store: one subtest per
// rule of the interface's doc comments. Every backend's tests call Run with
// a function that opens a fresh, empty, migrated store; the two backends
// differ in SQL, not in behaviour.
//
// Backend-neutral conventions the suite relies on:
//   - times round-trip at microsecond precision (PostgreSQL's), in any
//     location: the suite compares instants, not locations;
//   - JSON columns (event data, schemas) round-trip as equal JSON, not
//     byte-equal text (jsonb reformats);
//   - the store's own clock (used for "now" in idempotency windows, release,
//     requeue and stats) is close to the wall clock;
//   - the backend numbers deliveries (Delivery.Seq) in ingest order, in
//     InsertEvents and InsertDeliveries alike; the caller's Seq is ignored;
//   - ListAttempts of an unknown delivery is an empty list, not ENOTFOUND;
//   - ClaimDeliveries never leases a delivery whose endpoint is missing,
//     disabled or enabled=false (SQLite cancels such due deliveries);
//   - TryLock is exclusive within one process too, so a second TryLock of a
//     held name fails even from the same *Store (SQLite implements it with an
//     in-process mutex; PostgreSQL with advisory locks on separate sessions).
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// Run runs the conformance suite. open must return a new empty store for
// each call (subtests run in parallel); it should register its own cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	s := &suite{open: open}
	t.Run("Settings", s.settings)
	t.Run("RevokedSessions", s.revokedSessions)
	t.Run("AttemptRequestBody", s.attemptRequestBody)
	t.Run("Projects", s.projects)
	t.Run("APIKeys", s.apiKeys)
	t.Run("EventTypes", s.eventTypes)
	t.Run("Endpoints", s.endpoints)
	t.Run("Tenants", s.tenants)
	t.Run("PortalSessions", s.portalSessions)
	t.Run("DeliveryEventType", s.deliveryEventType)
	t.Run("Pagination", s.pagination)
	t.Run("InsertEvents", s.insertEvents)
	t.Run("Idempotency", s.idempotency)
	t.Run("Lists", s.lists)
	t.Run("Claim", s.claim)
	t.Run("CompleteAttempts", s.completeAttempts)
	t.Run("CompleteAttemptsGone", s.completeAttemptsGone)
	t.Run("CompleteAttemptsCanceled", s.completeAttemptsCanceled)
	t.Run("EndpointCancelsInFlight", s.endpointCancelsInFlight)
	t.Run("CompleteAttemptsLastError", s.completeAttemptsLastError)
	t.Run("Queue", s.queue)
	t.Run("Stats", s.stats)
	t.Run("Purge", s.purge)
	t.Run("TraceParent", s.traceParent)
	t.Run("TryLock", s.tryLock)
	t.Run("Concurrency", s.concurrency)
	t.Run("ValidityEnded", s.validityEnded)
	t.Run("HookVerdict", s.hookVerdict)
	t.Run("Batches", func(t *testing.T) { RunBatches(t, open) })
	t.Run("EndpointPause", func(t *testing.T) { RunEndpointPause(t, open) })
	t.Run("RequestKeys", func(t *testing.T) { RunRequestKeys(t, open) })
	t.Run("Cluster", s.cluster)
}

type suite struct {
	open func(t *testing.T) store.Store
}

// testBundle is what every subtest starts with: a fresh store holding one
// project, and a base time at the precision every backend keeps.
type testBundle struct {
	ctx     context.Context
	st      store.Store
	now     time.Time
	project *herald.Project
}

func (s *suite) setup(t *testing.T) *testBundle {
	t.Helper()
	t.Parallel()
	b := &testBundle{ctx: context.Background(), st: s.open(t), now: stamp(time.Now())}
	b.project = b.newProject(t, "main")
	return b
}

// stamp drops what a backend may not keep: sub-microsecond digits, location.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func ptr[T any](v T) *T { return &v }

func (b *testBundle) newProject(t *testing.T, name string) *herald.Project {
	t.Helper()
	p := &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: name, CreatedAt: b.now, UpdatedAt: b.now}
	require.NoError(t, b.st.CreateProject(b.ctx, p))
	return p
}

// newEndpoint creates an endpoint of the bundle's project with every field
// set; mod, if given, changes it before it is stored.
func (b *testBundle) newEndpoint(t *testing.T, mod func(*herald.Endpoint)) *herald.Endpoint {
	t.Helper()
	ep := &herald.Endpoint{
		ID:            herald.NewID(herald.PrefixEndpoint),
		ProjectID:     b.project.ID,
		URL:           "https://example.com/hook",
		Name:          "receiver",
		Description:   "the receiver",
		EventTypes:    []string{"user.*", "order.paid"},
		Channels:      []string{"acct_1"},
		Filter:        `data.amount > 10`,
		Enabled:       true,
		ActiveFrom:    ptr(b.now.Add(-time.Hour)),
		ActiveUntil:   ptr(b.now.Add(48 * time.Hour)),
		Order:         3,
		Timeout:       herald.Duration(7 * time.Second),
		ResponseMode:  herald.ResponseData,
		FailurePolicy: herald.FailOpen,
		RetrySchedule: []herald.Duration{herald.Duration(time.Second), herald.Duration(90 * time.Minute)},
		RetryJitter:   ptr(false),
		RateLimit:     25,
		MaxInFlight:   4,
		Ordered:       false,
		Auth:          &herald.Auth{Basic: &herald.BasicAuth{Username: "u", Password: "p"}},
		Headers:       map[string]string{"X-Team": "core"},
		BodyTemplate:  `{type: .type}`,
		Metadata:      map[string]string{"owner": "ops"},
		Secret:        "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0",
		Status:        herald.EndpointHealthy,
		CreatedAt:     b.now,
		UpdatedAt:     b.now,
	}
	if mod != nil {
		mod(ep)
	}
	require.NoError(t, b.st.CreateEndpoint(b.ctx, ep))
	return ep
}

func (b *testBundle) newEvent(typ string, created time.Time) *herald.Event {
	return &herald.Event{
		ID:         herald.NewID(herald.PrefixEvent),
		ProjectID:  b.project.ID,
		Type:       typ,
		Data:       json.RawMessage(`{"amount":42,"user":"u_1"}`),
		Channels:   []string{"acct_1", "acct_2"},
		Metadata:   map[string]string{"request_id": "r_1"},
		OccurredAt: created.Add(-time.Minute),
		CreatedAt:  created,
	}
}

// newDelivery is a pending delivery of ev to ep, due at due.
func newDelivery(ev *herald.Event, ep *herald.Endpoint, due time.Time) *herald.Delivery {
	return &herald.Delivery{
		ID:            herald.NewID(herald.PrefixDelivery),
		ProjectID:     ev.ProjectID,
		EventID:       ev.ID,
		EndpointID:    ep.ID,
		EventType:     ev.Type,
		Status:        herald.DeliveryPending,
		Priority:      ep.Order,
		NextAttemptAt: ptr(due),
		CreatedAt:     ev.CreatedAt,
		UpdatedAt:     ev.CreatedAt,
	}
}

func newAttempt(d *herald.Delivery, number int, started time.Time, status int, ms int64) *herald.Attempt {
	a := &herald.Attempt{
		ID:              herald.NewID(herald.PrefixAttempt),
		ProjectID:       d.ProjectID,
		DeliveryID:      d.ID,
		EventID:         d.EventID,
		EndpointID:      d.EndpointID,
		Number:          number,
		Trigger:         herald.TriggerScheduled,
		StartedAt:       started,
		DurationMS:      ms,
		RequestURL:      "https://example.com/hook",
		RequestHeaders:  map[string]string{"webhook-id": d.EventID},
		ResponseStatus:  status,
		ResponseHeaders: map[string]string{"Content-Type": "text/plain"},
		ResponseBody:    "body",
	}
	if status < 200 || status > 299 {
		a.ErrorClass = herald.ErrorStatus
		a.Error = fmt.Sprintf("status %d", status)
	}
	return a
}

func (b *testBundle) insert(t *testing.T, events ...*store.NewEvent) []store.InsertResult {
	t.Helper()
	res, err := b.st.InsertEvents(b.ctx, events)
	require.NoError(t, err)
	require.Len(t, res, len(events))
	return res
}

// enqueue inserts one event created at b.now with a pending delivery to
// each endpoint, due at due.
func (b *testBundle) enqueue(t *testing.T, due time.Time, eps ...*herald.Endpoint) (*herald.Event, []*herald.Delivery) {
	t.Helper()
	ev := b.newEvent("user.created", b.now)
	var ds []*herald.Delivery
	for _, ep := range eps {
		ds = append(ds, newDelivery(ev, ep, due))
	}
	b.insert(t, &store.NewEvent{Event: ev, Deliveries: ds})
	return ev, ds
}

func (b *testBundle) delivery(t *testing.T, id string) *herald.Delivery {
	t.Helper()
	d, err := b.st.GetDelivery(b.ctx, b.project.ID, id)
	require.NoError(t, err)
	return d
}

func (b *testBundle) claim(t *testing.T, p store.ClaimParams) []*store.Claim {
	t.Helper()
	if p.Owner == "" {
		p.Owner = "owner-a"
	}
	if p.Lease == 0 {
		p.Lease = time.Minute
	}
	if p.Limit == 0 {
		p.Limit = 100
	}
	cs, err := b.st.ClaimDeliveries(b.ctx, p)
	require.NoError(t, err)
	return cs
}

func claimedIDs(cs []*store.Claim) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.Delivery.ID
	}
	return ids
}

func requireCode(t *testing.T, code string, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, herald.ErrorCode(err), "error: %v", err)
}

// equal compares after normalize, so a backend may return times in another
// location and JSON reformatted.
func equal(t *testing.T, want, got any, msgAndArgs ...any) {
	t.Helper()
	normalize(reflect.ValueOf(want))
	normalize(reflect.ValueOf(got))
	require.Equal(t, want, got, msgAndArgs...)
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// normalize puts every time.Time in UTC and compacts every json.RawMessage,
// in place.
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			normalize(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == timeType {
			if v.CanSet() {
				v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
			}
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				normalize(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Type() == rawType {
			if v.Len() > 0 && v.CanSet() {
				var buf bytes.Buffer
				if json.Compact(&buf, v.Bytes()) == nil {
					v.SetBytes(buf.Bytes())
				}
			}
			return
		}
		for i := range v.Len() {
			normalize(v.Index(i))
		}
	case reflect.Map:
		// Maps in the domain hold strings only.
	}
}

// pages walks a list page by page (size 3) and returns the ids in order,
// failing on a repeated cursor.
func pages[T any](t *testing.T, list func(store.Page) ([]T, string, error), id func(T) string) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	cursor := ""
	for range 100 {
		items, next, err := list(store.Page{Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		require.LessOrEqual(t, len(items), 3)
		for _, it := range items {
			ids = append(ids, id(it))
		}
		if next == "" {
			return ids
		}
		require.False(t, seen[next], "cursor %q repeated", next)
		seen[next] = true
		cursor = next
	}
	t.Fatal("pagination did not end")
	return nil
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
