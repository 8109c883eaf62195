package delivery

// This file fixes the engine's public surface, which api, hook, ui and
// cmd/herald program against. Bodies live in the other files.

import (
	"encoding/json"
	"log/slog"
	"net/netip"
	"time"

	"github.com/herald-dev/herald"
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
	// sets, and again by id (see routeCache); 0 = RouteCacheMaxDefault. A
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
