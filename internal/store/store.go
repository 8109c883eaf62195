// Package store defines Herald's storage interface. Each backend is its own
// package (internal/store/sqlite, internal/store/postgres) with its own SQL; both pass the one
// conformance suite in internal/store/storetest. Behaviour shared by both backends
// (routing, group commit, retry policy) lives above them, in delivery.
//
// Errors: a missing row is a *herald.Error with code herald.ENOTFOUND, a
// unique-key clash herald.ECONFLICT. Every method is safe for concurrent use.
package store

import (
	"context"
	"time"

	"github.com/herald-dev/herald"
)

// Page asks for one page of a list, newest first.
type Page struct {
	Limit  int    // 1..1000; the caller validates, backends clamp
	Cursor string // opaque, from a previous page's next cursor; "" = first page
}

// EndpointFilter narrows ListEndpoints. Zero fields do not filter.
type EndpointFilter struct {
	TenantID string // the tenant's endpoints only
}

// EventFilter narrows ListEvents. Zero fields do not filter.
type EventFilter struct {
	TenantID string // the tenant's events only
	Type     string
	Channel  string
	Since    *time.Time // created_at >= Since
	Until    *time.Time // created_at < Until
}

// DeliveryFilter narrows ListDeliveries. Zero fields do not filter.
type DeliveryFilter struct {
	TenantID   string // deliveries to the tenant's endpoints only
	EndpointID string
	EventID    string
	Status     string
	EventType  string // the event's type, exactly
	Since      *time.Time
	Until      *time.Time
}

// NewEvent is one event to insert with its deliveries (and, for a stored
// synchronous hook run, its attempts). The backend stores Deliveries and
// Attempts as given (status, lease, tenant and all): the caller decides
// them (a delivery's TenantID is its endpoint's).
type NewEvent struct {
	Event      *herald.Event
	Deliveries []*herald.Delivery
	Attempts   []*herald.Attempt
}

// InsertResult is the outcome of one NewEvent.
type InsertResult struct {
	// Event is the stored event: the new one, or for a replay the original.
	Event *herald.Event
	// Deliveries is how many deliveries the stored event has.
	Deliveries int
	// Replayed: an event with the same idempotency key and body hash was
	// accepted within IdempotencyWindow; nothing was inserted.
	Replayed bool
	// Conflict: the key was used within the window with another body hash;
	// nothing was inserted.
	Conflict bool
}

// IdempotencyWindow is how long an idempotency key is remembered.
const IdempotencyWindow = 24 * time.Hour

// ClaimParams asks for due deliveries to send.
type ClaimParams struct {
	Owner string        // process id written to locked_by
	Now   time.Time     // due means next_attempt_at <= Now and the endpoint not paused at Now (PostponeEndpoint), or in_flight with locked_until < Now (an expired lease)
	Lease time.Duration // locked_until = Now + Lease
	Limit int           // at most this many in all
	// PerEndpointLimit caps the claims per endpoint in this call (0 = no cap);
	// with SkipEndpoints it keeps one busy endpoint from taking every slot.
	PerEndpointLimit int
	// SkipEndpoints are not claimed from (full, paused or rate limited here).
	SkipEndpoints []string
	// Cluster: other processes claim from the database too. A
	// rate-limited endpoint's deliveries then get turns (Claim.NotBefore)
	// on one schedule kept in the database for every process, 1/rate_limit
	// apart, and a claim takes no more of them than the turns free within
	// the next second. Turns of claims made at the same moment never
	// overlap.
	Cluster bool
}

// Claim is a claimed delivery, with its event so it can be sent at once.
type Claim struct {
	Delivery *herald.Delivery
	Event    *herald.Event
	// NotBefore is the delivery's turn under its endpoint's rate_limit,
	// given when the claim was made with Cluster: every process's claims
	// of the endpoint share one schedule, 1/rate_limit apart. Zero: no
	// turn was given (the process paces the endpoint itself).
	NotBefore time.Time
}

// Process is one running `herald serve` on the database, as its heartbeats
// describe it.
type Process struct {
	ID          string    `json:"id"`
	Address     string    `json:"address"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"last_heartbeat_at"`
	InFlight    int       `json:"in_flight"` // deliveries claimed by it, at its last heartbeat
	// Sees are the ids of the live processes it saw at its last heartbeat
	// (a process joining waits until every other one sees it).
	Sees []string `json:"-"`
}

// AttemptResult records one finished attempt and moves its delivery on.
type AttemptResult struct {
	Attempt *herald.Attempt
	// Status is the delivery's new state: succeeded, pending (retry at
	// NextAttemptAt), or exhausted. The delivery's attempts counter becomes
	// Attempt.Number, its lease is cleared, last_* fields are set; last_error
	// is the attempt's Error, or its ErrorClass when Error is empty (a
	// successful attempt has neither, so a success empties it). A canceled
	// delivery is not moved: its endpoint was deleted or disabled while the
	// attempt ran, and the attempt is only added to its log.
	Status        string
	NextAttemptAt *time.Time
	// Manual: an operator's attempt on a delivery this process has not
	// claimed. The delivery's state changes only when it is not in_flight
	// under a live lease (it then just gains the attempt); unlike a normal
	// result, it does move a canceled delivery.
	Manual bool
}

// EndpointHealth is the health part of an endpoint, written by the engine.
type EndpointHealth struct {
	Status              string
	DisabledReason      string
	ConsecutiveFailures int
	FailingSince        *time.Time
	PausedUntil         *time.Time // the endpoint's pause (see PostponeEndpoint); nil: none
}

// EndpointStats summarises an endpoint's deliveries and attempts in a window.
type EndpointStats struct {
	Since       time.Time      `json:"since"`
	Deliveries  map[string]int `json:"deliveries"` // by state, deliveries created since Since
	Attempts    int            `json:"attempts"`
	Succeeded   int            `json:"succeeded"`
	Failed      int            `json:"failed"`
	SuccessRate float64        `json:"success_rate"` // succeeded / attempts, 0..1; 0 with no attempts
	LatencyP50  int64          `json:"latency_p50_ms"`
	LatencyP90  int64          `json:"latency_p90_ms"`
	LatencyP99  int64          `json:"latency_p99_ms"`
	// Buckets: attempts per time bucket for charts, oldest first.
	Buckets []StatsBucket `json:"buckets,omitempty"`
}

// StatsBucket is one slice of time in EndpointStats.
type StatsBucket struct {
	Start      time.Time `json:"start"`
	Attempts   int       `json:"attempts"`
	Succeeded  int       `json:"succeeded"`
	LatencyP50 int64     `json:"latency_p50_ms"`
	LatencyP99 int64     `json:"latency_p99_ms"`
}

// QueueStats describes the work waiting, for metrics.
type QueueStats struct {
	Pending       int        // deliveries pending or in_flight
	OldestPending *time.Time // created_at of the oldest pending delivery
}

// ValidityEndedReason is the last_error of a delivery canceled because its
// endpoint's validity period ended before it could be sent.
const ValidityEndedReason = "canceled: the endpoint's validity period (active_until) ended before the delivery succeeded"

// RoutingChanges is what changed in a project's routing since a version
// (Store.RoutingChanges). Routing here means the endpoints an event can
// reach and their configuration: endpoints created, updated, deleted,
// disabled or healthy again, tenants deleted. A health write that only
// says failing is not included.
type RoutingChanges struct {
	// Version is the project's routing version now: pass it as since next
	// time.
	Version int64
	// All: forget every cached route of the project (a tenant was deleted,
	// or more tenants changed than Tenants lists).
	All bool
	// Wide: the project-wide endpoints changed.
	Wide bool
	// Tenants whose endpoints changed (at most RoutingChangesMax).
	Tenants []string
}

// PortalSessionKeep is how long an expired portal session is kept (its
// link then says it expired, rather than that it is unknown).
const PortalSessionKeep = 7 * 24 * time.Hour

// RoutingChangesMax bounds RoutingChanges.Tenants; past it All is set.
const RoutingChangesMax = 1000

// Store is everything Herald keeps.
type Store interface {
	// Close releases the database.
	Close() error
	// Ping checks the database answers (readiness).
	Ping(ctx context.Context) error

	// GetSetting returns a stored setting, ENOTFOUND if absent.
	GetSetting(ctx context.Context, key string) (string, error)
	// SetSettingIfAbsent stores value unless the key exists; it returns the
	// value now stored.
	SetSettingIfAbsent(ctx context.Context, key, value string) (string, error)
	// SetSetting stores value, replacing what the key held.
	SetSetting(ctx context.Context, key, value string) error

	// RevokeSession records that the dashboard session id has ended
	// (logout), so that every process refuses its cookie from now on. The
	// record is kept until expires, when the cookie expires anyway;
	// records past their expiry are dropped meanwhile.
	RevokeSession(ctx context.Context, id string, expires time.Time) error
	// SessionRevoked reports whether RevokeSession recorded id (and its
	// expiry has not passed).
	SessionRevoked(ctx context.Context, id string) (bool, error)

	CreateProject(ctx context.Context, p *herald.Project) error // ECONFLICT if the id exists
	GetProject(ctx context.Context, id string) (*herald.Project, error)
	ListProjects(ctx context.Context, page Page) ([]*herald.Project, string, error)
	UpdateProject(ctx context.Context, p *herald.Project) error
	// DeleteProject removes the project and everything it owns.
	DeleteProject(ctx context.Context, id string) error

	CreateAPIKey(ctx context.Context, k *herald.APIKey) error
	GetAPIKeyByHash(ctx context.Context, hash string) (*herald.APIKey, error)
	ListAPIKeys(ctx context.Context, projectID string) ([]*herald.APIKey, error)
	DeleteAPIKey(ctx context.Context, projectID, id string) error

	CreateEventType(ctx context.Context, et *herald.EventType) error // ECONFLICT if the name exists in the project
	GetEventType(ctx context.Context, projectID, name string) (*herald.EventType, error)
	ListEventTypes(ctx context.Context, projectID string, page Page) ([]*herald.EventType, string, error)
	UpdateEventType(ctx context.Context, et *herald.EventType) error
	DeleteEventType(ctx context.Context, projectID, name string) error

	// PutTenant creates the tenant, or replaces the name and metadata of
	// the existing one (its created_at stays; the stored one is written back
	// into t). created reports which. The caller validates t.
	PutTenant(ctx context.Context, t *herald.Tenant) (created bool, err error)
	GetTenant(ctx context.Context, projectID, id string) (*herald.Tenant, error)
	// ListTenants lists a project's tenants, newest first.
	ListTenants(ctx context.Context, projectID string, page Page) ([]*herald.Tenant, string, error)
	// DeleteTenant removes the tenant and its endpoints, canceling their
	// pending and in-flight deliveries as DeleteEndpoint does, in one
	// transaction. Its events and their deliveries stay until retention
	// (Purge). ENOTFOUND when the tenant does not exist.
	DeleteTenant(ctx context.Context, projectID, id string) error

	// CreatePortalSession stores a portal session of an existing tenant
	// (ENOTFOUND when it does not exist), and in the same transaction
	// deletes the tenant's sessions that expired more than
	// PortalSessionKeep before s.CreatedAt, so that minting a link per
	// page view keeps a bounded table. Deleting the tenant or its project
	// deletes its sessions.
	CreatePortalSession(ctx context.Context, s *herald.PortalSession) error
	// GetPortalSessionByHash finds a session by its token's hash
	// (herald.HashKey), expired or not; ENOTFOUND when there is none.
	GetPortalSessionByHash(ctx context.Context, hash string) (*herald.PortalSession, error)
	// DeletePortalSessions ends every session of the tenant; it returns how
	// many there were.
	DeletePortalSessions(ctx context.Context, projectID, tenantID string) (int, error)

	// CreateEndpoint stores a new endpoint. When ep.TenantID names a tenant
	// that does not exist, the store creates it (no name, no metadata) in
	// the same transaction: endpoints are how most tenants come to be, and
	// a tenant created by the caller beforehand could be deleted in
	// between. An endpoint's tenant never changes (UpdateEndpoint ignores
	// TenantID).
	CreateEndpoint(ctx context.Context, ep *herald.Endpoint) error
	GetEndpoint(ctx context.Context, projectID, id string) (*herald.Endpoint, error)
	// GetEndpointByID finds an endpoint in any project (the engine's cache).
	GetEndpointByID(ctx context.Context, id string) (*herald.Endpoint, error)
	ListEndpoints(ctx context.Context, projectID string, f EndpointFilter, page Page) ([]*herald.Endpoint, string, error)
	// ProjectEndpoints returns all of a project's endpoints, of every
	// tenant. Routing does not use it (see TenantEndpoints): with many
	// tenants it is large.
	ProjectEndpoints(ctx context.Context, projectID string) ([]*herald.Endpoint, error)
	// RoutingChanges reports what changed in the project's routing since
	// version since (a Version an earlier call returned); with since < 0
	// only Version is set. A process that caches routes reads the version
	// before loading any, then asks for the changes every so often: one
	// lookup per project, whatever the number of tenants. Every method
	// that changes routing (CreateEndpoint, UpdateEndpoint, DeleteEndpoint,
	// UpdateEndpointHealth to any status but failing, DeleteTenant)
	// advances the version in its own transaction. ENOTFOUND for an
	// unknown project.
	RoutingChanges(ctx context.Context, projectID string, since int64) (*RoutingChanges, error)
	// TenantEndpoints returns the endpoints of one tenant of the project;
	// tenantID "" returns the project-wide endpoints (those without a
	// tenant). Routing loads an event's candidates with it: its cost
	// follows the tenant's endpoints, not the project's.
	TenantEndpoints(ctx context.Context, projectID, tenantID string) ([]*herald.Endpoint, error)
	// UpdateEndpoint replaces the endpoint's configuration and secrets (not
	// its health, see UpdateEndpointHealth).
	UpdateEndpoint(ctx context.Context, ep *herald.Endpoint) error
	// UpdateEndpointHealth writes the health fields. When Status is
	// disabled it also sets enabled=false and cancels the endpoint's pending
	// and in-flight deliveries at once (leases cleared), as DeleteEndpoint does.
	UpdateEndpointHealth(ctx context.Context, endpointID string, h EndpointHealth) error
	// DeleteEndpoint removes the endpoint and cancels its pending and
	// in-flight deliveries at once, clearing their leases; they stay in the
	// log. The late result of an attempt that was running does not revive
	// one (see AttemptResult).
	DeleteEndpoint(ctx context.Context, projectID, id string) error

	// InsertEvents inserts events and their deliveries in one transaction,
	// each with its own idempotency check. Results are in input order.
	InsertEvents(ctx context.Context, events []*NewEvent) ([]InsertResult, error)
	GetEvent(ctx context.Context, projectID, id string) (*herald.Event, error)
	ListEvents(ctx context.Context, projectID string, f EventFilter, page Page) ([]*herald.Event, string, error)

	// InsertDeliveries adds deliveries to existing events (replay).
	InsertDeliveries(ctx context.Context, ds []*herald.Delivery) error
	GetDelivery(ctx context.Context, projectID, id string) (*herald.Delivery, error)
	ListDeliveries(ctx context.Context, projectID string, f DeliveryFilter, page Page) ([]*herald.Delivery, string, error)
	// ListAttempts returns a delivery's attempts, oldest first.
	ListAttempts(ctx context.Context, projectID, deliveryID string) ([]*herald.Attempt, error)
	// ListEndpointAttempts returns an endpoint's latest attempts, newest first.
	ListEndpointAttempts(ctx context.Context, projectID, endpointID string, limit int) ([]*herald.Attempt, error)

	// ClaimDeliveries leases due deliveries to p.Owner: status in_flight,
	// locked_by, locked_until. Order: next_attempt_at, then priority (lower
	// first). For an endpoint with ordered=true only its oldest unfinished
	// delivery (lowest seq among pending and in_flight) can be claimed, and
	// only when no other delivery of it is in flight.
	ClaimDeliveries(ctx context.Context, p ClaimParams) ([]*Claim, error)
	// CompleteAttempts records attempts and moves their deliveries on, in one
	// transaction. A normal result leaves a canceled delivery canceled and
	// only adds its attempt; a manual one moves it (see AttemptResult).
	CompleteAttempts(ctx context.Context, results []*AttemptResult) error
	// ReleaseDeliveries hands back in_flight deliveries of owner (shutdown):
	// pending, due now, lease cleared.
	ReleaseDeliveries(ctx context.Context, owner string, deliveryIDs []string) error
	// PostponeEndpoint pauses the endpoint until until (circuit breaker
	// open): no pending delivery of it is claimed before until, and reads
	// report such a delivery's NextAttemptAt as until when its own is
	// earlier. The pause is the endpoint's PausedUntil: a second call
	// never brings its end forward (the later end wins), UpdateEndpointHealth
	// replaces it (nil ends it). It holds deliveries added or requeued
	// during it too, but not in-flight ones (an expired lease is claimed as
	// ever), and its cost does not grow with the endpoint's backlog.
	PostponeEndpoint(ctx context.Context, endpointID string, until time.Time) error
	// RequeueDeliveries makes the endpoint's exhausted and canceled deliveries
	// created in [since, until) pending and due now; it returns how many.
	RequeueDeliveries(ctx context.Context, projectID, endpointID string, since, until time.Time) (int, error)
	// CancelEndedDeliveries cancels the pending deliveries of every
	// endpoint whose validity period has ended (active_until <= now), and
	// its in-flight ones whose lease has expired, with last_error
	// ValidityEndedReason; it returns how many. In-flight ones under a live
	// lease are left to finish: their result makes them pending, and a
	// later call cancels them.
	CancelEndedDeliveries(ctx context.Context, now time.Time) (int, error)

	EndpointStats(ctx context.Context, projectID, endpointID string, since time.Time) (*EndpointStats, error)
	QueueStats(ctx context.Context) (*QueueStats, error)

	// Purge deletes at most limit events created before `before`, with their
	// deliveries and attempts, and idempotency keys (RequestKey too) older
	// than IdempotencyWindow. It returns how many events it deleted.
	Purge(ctx context.Context, before time.Time, limit int) (int, error)

	// Heartbeat records that p is alive at p.HeartbeatAt: it inserts or
	// updates p's row (its address, start time and in-flight count too).
	Heartbeat(ctx context.Context, p *Process) error
	// ListProcesses returns the processes that have heartbeat at or after
	// since, oldest start first.
	ListProcesses(ctx context.Context, since time.Time) ([]*Process, error)
	// TakeOver declares dead every process other than self whose last
	// heartbeat is before deadBefore, removes their rows, and ends at now
	// the leases of in-flight deliveries held by an owner that has no row
	// (a dead process, or one from before heartbeats): the claim then
	// takes them as expired leases. It returns how many leases it ended.
	TakeOver(ctx context.Context, self string, deadBefore, now time.Time) (int, error)
	// RemoveProcess deletes a process's row (clean shutdown).
	RemoveProcess(ctx context.Context, id string) error

	// TryLock takes a named lock held until release is called, for work that
	// must run on one process at a time (maintenance). ok is false when
	// another process holds it.
	TryLock(ctx context.Context, name string) (release func(), ok bool, err error)

	RequestKeyStore
}

// Notifier is implemented by backends that can wake other processes when
// work arrives (PostgreSQL LISTEN/NOTIFY). Polling remains the fallback.
type Notifier interface {
	// Notify tells every process that deliveries are due.
	Notify(ctx context.Context) error
	// Wakeups delivers a value each time a Notify is received, until ctx ends.
	Wakeups(ctx context.Context) <-chan struct{}
}
