// Package delivery is Herald's engine: it validates and routes ingested
// events, commits them in groups, and dispatches their deliveries to
// endpoints — signed, with per-endpoint lanes (concurrency, rate limit,
// circuit breaker), retries on the endpoint's schedule, and attempt results
// written in batches.
//
// This file is the engine's whole public surface; every other file is one
// component, unexported. One event's path, in order:
//
//  1. ingest (ingest.go): Engine.Ingest validates each event and routes it
//     to its endpoints through the router (route.go). Deliveries the
//     dispatcher has room for are created already leased to this process.
//  2. commit (commit.go): the group commit stores many callers' events and
//     deliveries in one store.InsertEvents transaction; Ingest returns once
//     its own are stored.
//  3. notify (notify.go): deliveries left pending wake the claim loop here
//     and, through the store's Notifier, other processes (coalesced, in the
//     background).
//  4. dispatch (dispatch.go): leased deliveries are handed straight to
//     their endpoint's lane; the claim loop claims the rest from the
//     database. A lane sends within the endpoint's max_in_flight and
//     rate_limit, and only while its circuit breaker (health.go) allows.
//  5. send (send.go): one signed HTTP request, its answer bounded and
//     classified.
//  6. record (record.go): the retry policy (retry.go) decides what follows;
//     the health book (health.go) counts the outcome, opening or closing
//     the breaker; the recorder writes the results in batches off the send
//     path. Herald's own events about it (an endpoint failing or disabled,
//     a delivery exhausted) are queued (opevents.go) and ingested by one
//     goroutine, never from the send path.
//
// The components take narrow dependencies (the store interface they use,
// the clock, the logger, metrics, functions for what they ask of each
// other), wired once in New (wire.go). Around the path: operator actions
// (ops.go), the cluster's heartbeats and shares (cluster.go), the end of
// validity periods (validity.go), retention and queue metrics (run.go).
package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/bodytemplate"
	"github.com/herald-dev/herald/internal/filter"
	"github.com/herald-dev/herald/internal/oplog"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/tracing"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures an Engine. Zero values take the …Default constants.
type Config struct {
	// Owner names this process in delivery leases (locked_by). Default: a new id.
	Owner string
	// Workers bounds the HTTP requests in flight across all endpoints.
	Workers int
	// Lease is how long a claim is held before another process may take
	// the delivery; it must exceed the longest endpoint timeout.
	Lease time.Duration
	// PollInterval is the fallback when no wake-up arrives.
	PollInterval time.Duration
	// AllowPrivateNetworks lets endpoints target loopback and private ranges.
	AllowPrivateNetworks bool
	// AllowedNetworks are ranges exempt from the private-network refusal.
	AllowedNetworks []netip.Prefix
	// DisableAfter: an endpoint failing every attempt for this long is disabled.
	DisableAfter time.Duration
	// Retention: events older than this are purged.
	Retention time.Duration
	// BreakerThreshold consecutive failures open an endpoint's breaker for
	// BreakerCooldown.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// DrainTimeout bounds how long Run waits for in-flight attempts on stop.
	DrainTimeout time.Duration
	// Now is the clock; tests inject one.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registerer receives the engine's metrics; nil = not registered.
	Registerer prometheus.Registerer
	// RouteCacheMax bounds the endpoints the route cache holds in routing
	// sets, and again by id (see router); 0 = RouteCacheMaxDefault. A
	// cached endpoint takes about 1 KB.
	RouteCacheMax int
	// Address is where this process serves, shown to the other processes
	// (GET /v1/cluster).
	Address string
	// Heartbeat is how often the process records that it is alive, reads
	// who else is, and takes over the claims of the dead.
	Heartbeat time.Duration
	// DeadAfter: a process silent this long is dead; its claims are sent
	// again by the others.
	DeadAfter time.Duration
	// Exclusive: no other process can use the database (the SQLite file's
	// lock is held); every process recorded there before is dead, and its
	// claims are sent again at once on start.
	Exclusive bool
	// Tracer makes the spans of commits and attempts; nil = tracing off.
	Tracer *tracing.Tracer
}

// Defaults of Config.
const (
	WorkersDefault          = 256
	RouteCacheMaxDefault    = 100_000
	LeaseDefault            = 90 * time.Second
	PollIntervalDefault     = time.Second
	DisableAfterDefault     = 120 * time.Hour
	RetentionDefault        = 720 * time.Hour
	BreakerThresholdDefault = 10
	BreakerCooldownDefault  = 30 * time.Second
	DrainTimeoutDefault     = 10 * time.Second
	HeartbeatDefault        = 2 * time.Second
	DeadAfterDefault        = 10 * time.Second
)

// EventInput is one event as a product sends it, already decoded.
type EventInput struct {
	ID         string            `json:"id,omitempty"` // client id, also an idempotency key
	Type       string            `json:"type"`
	Data       json.RawMessage   `json:"data"`
	Channels   []string          `json:"channels,omitempty"`
	OccurredAt *time.Time        `json:"occurred_at,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	// TenantID: the tenant the event is for ("" = none). It reaches that
	// tenant's endpoints and the project-wide ones; without it, only the
	// project-wide ones.
	TenantID string `json:"tenant_id,omitempty"`
	// IdempotencyKey: the Idempotency-Key header, else ID.
	IdempotencyKey string `json:"-"`
	// BodyHash identifies the request body, to tell a replay from a conflict.
	BodyHash string `json:"-"`
}

// IngestResult is the outcome of one EventInput.
type IngestResult struct {
	Event      *herald.Event
	Deliveries int
	Replayed   bool  // same idempotency key and body: the original event
	Err        error // *herald.Error: EINVALID (with fields), ECONFLICT
}

// SendRequest is one signed HTTP request to an endpoint.
type SendRequest struct {
	Endpoint *herald.Endpoint
	Event    *herald.Event
	Attempt  int    // webhook-attempt, from 1
	Trigger  string // herald.Trigger…
	// Header is added to the request (e.g. Herald-Deadline-Ms for hooks).
	Header map[string]string
	// KeepBody keeps the response body whatever the endpoint's response_mode.
	KeepBody bool
}

// SendResult is what came back.
type SendResult struct {
	Attempt *herald.Attempt // filled in, not stored
	Body    []byte          // the response body, at most 64 KiB, when kept
}

// Bounds of what an attempt keeps of a receiver's answer. The receiver is
// not trusted: whatever it sends, the stored attempt is valid UTF-8 and at
// most this big, so that one receiver cannot make another's results
// unstorable or fill the database.
const (
	// ResponseBodyMax is how much of a response body is read and kept.
	ResponseBodyMax = 64 << 10
	// ResponseHeadersMax bounds the response headers kept, names and
	// values together; the shortest are kept first (Retry-After among them).
	ResponseHeadersMax = 64 << 10
	// ErrorMax bounds an attempt's error text (a redirect's Location, a
	// transport error quoting what the receiver sent).
	ErrorMax = 2 << 10
)

// RequestBodyMax is how much of a templated request body an attempt keeps.
const RequestBodyMax = 64 << 10

// CommitBatchMax bounds the events of one group commit.
const CommitBatchMax = 1000

// Jitter is the spread applied to each scheduled delay: ±20 %.
const Jitter = 0.2

// BacklogTopN is how many endpoints herald_endpoint_backlog and
// herald_endpoint_oldest_pending_seconds report: those with the most
// unfinished deliveries. A bound, so that the series stay few whatever
// the number of endpoints.
const BacklogTopN = 5

// OperationalPrefix starts the types of Herald's own events. They reach
// only endpoints whose event_types name them with a pattern that starts with
// it, never catch-all endpoints.
const OperationalPrefix = "herald."

// Herald's operational event types, delivered only to endpoints that name
// them (see MatchType).
const (
	EventEndpointFailing   = "herald.endpoint.failing"
	EventEndpointDisabled  = "herald.endpoint.disabled"
	EventDeliveryExhausted = "herald.delivery.exhausted"
	EventPing              = "herald.ping"
)

// Engine is the ingest router and the dispatcher. It is safe for concurrent
// use; Ingest, Send and the operator actions work whether or not Run is
// running (without Run, new deliveries wait in the database).
type Engine struct {
	cfg    Config
	store  store.Store
	log    *slog.Logger
	now    func() time.Time
	client *http.Client

	templates compiledCache[*bodytemplate.Template]
	filters   compiledCache[*filter.Filter]
	routes    *router
	types     typeCache

	commit committer
	notes  notifier
	disp   *dispatcher
	rec    *recorder // made by each Run, from recDeps
	health *healthBook
	ops    *opQueue // operational events, off the send path (opevents.go)
	m      *metrics

	recDeps recorderDeps

	failLog oplog.Limiter // of the failed-attempt log lines, per endpoint
	members members       // the cluster as the heartbeats see it (cluster.go)

	runMu sync.Mutex // one Run at a time
}

// New returns an Engine over st. Call Run to start dispatching.
func New(cfg Config, st store.Store) (*Engine, error) {
	if st == nil {
		return nil, errors.New("delivery: nil store")
	}
	cfg.setDefaults()
	e := &Engine{cfg: cfg, store: st, log: cfg.Logger, now: cfg.Now, client: newClient(&cfg)}
	e.types.init(st)
	e.wire()
	return e, nil
}

// Run dispatches until ctx ends, then drains (bounded by DrainTimeout) and
// returns. Maintenance (retention, queue metrics) runs here too. Run may be
// called once at a time.
func (e *Engine) Run(ctx context.Context) error {
	if !e.runMu.TryLock() {
		return errors.New("delivery: Run is already running")
	}
	defer e.runMu.Unlock()
	return e.run(ctx)
}

// Ingest validates, routes and durably stores events; it returns once they
// are committed (group commit across concurrent callers), and wakes the
// dispatcher. Results are in input order; a per-item failure is in Err.
//
// Field errors of an item are located relative to the event object ("type",
// "data", "data.email", "channels[2]", "metadata"): the API prefixes them
// with "body." or "body.events[i].".
func (e *Engine) Ingest(ctx context.Context, p *herald.Project, in []EventInput) ([]IngestResult, error) {
	return e.ingest(ctx, p, in, false)
}

// Insert stores prepared events with their deliveries (and attempts)
// through the group commit, then wakes the dispatcher: used by hook runs,
// which decide their deliveries themselves.
func (e *Engine) Insert(ctx context.Context, events []*store.NewEvent) ([]store.InsertResult, error) {
	return e.insert(ctx, events)
}

// Send makes one signed request (no storage): used by the dispatcher, hooks
// and tests. It never returns nil; failures are described by the attempt's
// ErrorClass and Error. The attempt's DeliveryID is left for the caller.
// What the attempt keeps of the answer is valid UTF-8 and bounded
// (ResponseBodyMax, ResponseHeadersMax, ErrorMax); the result's Body is
// the body's bytes as received.
func (e *Engine) Send(ctx context.Context, r SendRequest) *SendResult {
	res := e.send(ctx, r)
	keepable(res.Attempt)
	return res
}

// Envelope returns the default JSON body of ev as sent to endpoints.
func Envelope(ev *herald.Event) ([]byte, error) { return encodeEnvelope(ev) }

// Retry makes one attempt of the delivery now, whatever its state, and
// returns the stored attempt. A success marks the delivery succeeded; a
// failure leaves a pending delivery on its schedule and a finished one as
// it was (exhausted). If the delivery is in flight under a live lease, it
// only gains the attempt (the store's Manual rule).
func (e *Engine) Retry(ctx context.Context, projectID, deliveryID string) (*herald.Attempt, error) {
	return e.retry(ctx, projectID, deliveryID)
}

// Replay creates new deliveries of the event: to every matching endpoint, or
// to endpointID only (whatever its subscriptions, if it is enabled). It
// returns how many. A hook run is refused (see herald.Event.Replayable).
// tenantOnly leaves out the project-wide endpoints (a tenant's own replay).
func (e *Engine) Replay(ctx context.Context, projectID, eventID, endpointID string, tenantOnly bool) (int, error) {
	return e.replay(ctx, projectID, eventID, endpointID, tenantOnly)
}

// Recover requeues the endpoint's failed deliveries created in [since,
// until) and sends them now: the endpoint's circuit breaker closes (see
// EndpointResumed).
func (e *Engine) Recover(ctx context.Context, projectID, endpointID string, since, until time.Time) (int, error) {
	return e.recoverRange(ctx, projectID, endpointID, since, until)
}

// Test sends the event type's example (or a ping when eventType is empty or
// has no example) to the endpoint now, stores it as an event with one
// delivery and attempt, and returns the attempt. A test is not retried.
func (e *Engine) Test(ctx context.Context, projectID, endpointID, eventType string) (*herald.Attempt, error) {
	return e.sendTest(ctx, projectID, endpointID, eventType)
}

// EndpointResumed tells the engine that an operator wants the endpoint
// tried now: its deliveries were recovered, one of them retried, or the
// endpoint enabled. An open circuit breaker closes (in this process and in
// the store, whose pause ends), and waiting deliveries are claimed at once
// instead of after the cooldown. The failure count is kept: if the
// endpoint still fails, its first failure opens the breaker again. A
// disabled endpoint is left as it is. Failures are logged.
func (e *Engine) EndpointResumed(endpointID string) { e.endpointResumed(endpointID) }

// EndpointsChanged tells the engine that the project's endpoints changed
// (call after an endpoint create, update, delete or health reset, or a
// tenant's delete, once the change is stored). Only the routing sets the
// store reports changed are dropped, else every set of the project.
func (e *Engine) EndpointsChanged(projectID string) { e.endpointsChanged(projectID) }

// TenantEndpointsChanged drops the cached routing of one tenant's
// endpoints, or with tenantID "" of the project-wide ones (call after an
// endpoint of it is created, updated or deleted, or the tenant deleted).
func (e *Engine) TenantEndpointsChanged(projectID, tenantID string) {
	e.tenantEndpointsChanged(projectID, tenantID)
}

// EventTypesChanged drops cached event types and schemas of the project
// (call after any event type create, update or delete).
func (e *Engine) EventTypesChanged(projectID string) { e.types.changed(projectID) }

// Endpoints returns the endpoints an event of tenantID ("" = none) in the
// project can reach: the project-wide ones, then the tenant's own, never
// another tenant's (see herald.Endpoint.Reaches). They come from the
// route cache and are shared with the dispatcher: do not modify them.
// Synchronous hook runs select their endpoints from these.
func (e *Engine) Endpoints(ctx context.Context, projectID, tenantID string) ([]*herald.Endpoint, error) {
	return e.routes.endpointsFor(ctx, projectID, tenantID)
}

// MatchType reports whether an endpoint subscribed to patterns receives
// events of type typ: no patterns means every type, otherwise an exact name
// or a trailing wildcard ("user.*"). Herald's own types (herald.…) match
// only patterns that themselves begin with "herald.".
func MatchType(patterns []string, typ string) bool { return matchType(patterns, typ) }

// Processes lists the live processes on the database (heard from within
// DeadAfter), oldest first, as GET /v1/cluster shows them.
func (e *Engine) Processes(ctx context.Context) ([]*store.Process, error) {
	return e.members.processes(ctx)
}

// ObserveHookRun records a finished synchronous hook run: whether it
// allowed, the code of its deny (failCode for a deny by a failed
// fail_closed endpoint) and how long it took.
func (e *Engine) ObserveHookRun(allowed bool, code, failCode string, d time.Duration) {
	e.m.observeHookRun(allowed, code, failCode, d)
}

// TraceParent returns the W3C traceparent of the span in ctx for an event
// made outside Ingest (a hook run's), so that its deliveries continue that
// trace; "" when tracing is off.
func (e *Engine) TraceParent(ctx context.Context) string {
	return e.cfg.Tracer.TraceParent(ctx)
}
