// Package herald holds Herald's domain: the types every other package speaks
// (projects, event types, endpoints, events, deliveries, attempts), their
// validation, and the error type the HTTP layer turns into status codes.
//
// The packages that implement behaviour are named after what they do:
// store (persistence), delivery (ingest routing and the dispatcher), hook
// (synchronous hooks), api (HTTP), ui (dashboard), webhook (signing).
package herald

import (
	"encoding/json"
	"time"
)

// Version is reported in the User-Agent of every delivery.
const Version = "0.1.0"

// Project is a tenant: one product environment.
type Project struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	StrictEventTypes bool      `json:"strict_event_types"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// APIKey is a credential. The key itself is never stored: only its SHA-256
// hash. ProjectID is empty for the admin key.
//
// Scopes bound what the key may do (see the Scope constants; empty means
// ScopeAll, as for keys made before scopes existed); TenantID, when set,
// confines it to one tenant of its project; after ExpiresAt it no longer
// authenticates.
type APIKey struct {
	ID        string     `json:"id"`
	ProjectID string     `json:"project_id,omitempty"`
	Hash      string     `json:"-"`
	Prefix    string     `json:"prefix"` // first characters, to recognise a key in a list
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	TenantID  string     `json:"tenant_id,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// EventType names a kind of event a project sends.
type EventType struct {
	ProjectID   string          `json:"-"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Example     json.RawMessage `json:"example,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// Response modes of an endpoint.
const (
	ResponseWait   = "wait"
	ResponseIgnore = "ignore"
	ResponseData   = "data"
)

// Failure policies of an endpoint in a synchronous hook run.
const (
	FailClosed = "fail_closed"
	FailOpen   = "fail_open"
)

// Endpoint health states.
const (
	EndpointHealthy  = "healthy"
	EndpointFailing  = "failing"
	EndpointDisabled = "disabled"
)

// Endpoint defaults.
const (
	TimeoutDefault     = 15 * time.Second
	TimeoutMax         = 60 * time.Second
	MaxInFlightDefault = 10
	URLMaxLen          = 2048
)

// RetryScheduleDefault is the delay before each retry: 8 attempts over about
// 28 hours.
var RetryScheduleDefault = []Duration{
	Duration(5 * time.Second), Duration(5 * time.Minute), Duration(30 * time.Minute),
	Duration(2 * time.Hour), Duration(5 * time.Hour), Duration(10 * time.Hour), Duration(10 * time.Hour),
}

// Auth is how Herald authenticates to an endpoint.
type Auth struct {
	Basic  *BasicAuth `json:"basic,omitempty"`
	Bearer string     `json:"bearer,omitempty"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Endpoint is a subscription: a URL and everything about how to call it.
type Endpoint struct {
	ID            string            `json:"id"`
	ProjectID     string            `json:"project_id"`
	TenantID      string            `json:"tenant_id,omitempty"` // "" = project-wide; fixed at creation
	URL           string            `json:"url"`
	Name          string            `json:"name"`
	Description   string            `json:"description"`
	EventTypes    []string          `json:"event_types"`
	Channels      []string          `json:"channels"`
	Filter        string            `json:"filter,omitempty"`
	Enabled       bool              `json:"enabled"`
	ActiveFrom    *time.Time        `json:"active_from,omitempty"`
	ActiveUntil   *time.Time        `json:"active_until,omitempty"`
	Order         int               `json:"order"`
	Timeout       Duration          `json:"timeout"`
	ResponseMode  string            `json:"response_mode"`
	FailurePolicy string            `json:"failure_policy"`
	RetrySchedule []Duration        `json:"retry_schedule"`
	RetryJitter   *bool             `json:"retry_jitter,omitempty"` // nil: the default, true (see Jittered)
	RateLimit     int               `json:"rate_limit"`
	MaxInFlight   int               `json:"max_in_flight"`
	Ordered       bool              `json:"ordered"`
	Auth          *Auth             `json:"auth,omitempty"`
	Headers       map[string]string `json:"headers"`
	BodyTemplate  string            `json:"body_template,omitempty"`
	Metadata      map[string]string `json:"metadata"`

	// Secret signs deliveries. PreviousSecret, until PreviousSecretUntil,
	// signs too (secret rotation's grace period).
	Secret              string     `json:"-"`
	PreviousSecret      string     `json:"-"`
	PreviousSecretUntil *time.Time `json:"-"`

	// Health, maintained by the delivery engine.
	Status              string     `json:"status"`
	DisabledReason      string     `json:"disabled_reason,omitempty"`
	ConsecutiveFailures int        `json:"-"`
	FailingSince        *time.Time `json:"-"` // first failure of the current run of failures
	PausedUntil         *time.Time `json:"-"` // circuit breaker open until then

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Secrets returns the secrets that sign a request at now: the current one,
// then the previous one during a rotation's grace period.
func (e *Endpoint) Secrets(now time.Time) []string {
	s := []string{e.Secret}
	if e.PreviousSecret != "" && e.PreviousSecretUntil != nil && now.Before(*e.PreviousSecretUntil) {
		s = append(s, e.PreviousSecret)
	}
	return s
}

// Jittered reports whether the endpoint's retries are spread ±20 % around
// their schedule, so that deliveries that failed together do not retry
// together (retry_jitter, default true); false follows it exactly.
func (e *Endpoint) Jittered() bool { return e.RetryJitter == nil || *e.RetryJitter }

// ActiveAt reports whether the endpoint is enabled and inside its validity
// period at t.
func (e *Endpoint) ActiveAt(t time.Time) bool {
	if !e.Enabled {
		return false
	}
	if e.ActiveFrom != nil && t.Before(*e.ActiveFrom) {
		return false
	}
	if e.ActiveUntil != nil && !t.Before(*e.ActiveUntil) {
		return false
	}
	return true
}

// Event is one thing that happened. Immutable once accepted.
type Event struct {
	ID             string            `json:"id"`
	ProjectID      string            `json:"project_id"`
	TenantID       string            `json:"tenant_id,omitempty"` // "" = no tenant: reaches only project-wide endpoints
	Type           string            `json:"type"`
	Data           json.RawMessage   `json:"data"`
	Channels       []string          `json:"channels"`
	Metadata       map[string]string `json:"metadata"`
	OccurredAt     time.Time         `json:"occurred_at"`
	CreatedAt      time.Time         `json:"created_at"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	BodyHash       string            `json:"-"`              // of the ingest request, to tell a replay from a conflict
	Hook           bool              `json:"hook,omitempty"` // stored record of a synchronous hook run
	// HookVerdict is a hook run's verdict (nil for other events).
	HookVerdict *HookVerdict `json:"hook_verdict,omitempty"`
	// TraceParent is the W3C traceparent of the ingest request, when
	// tracing is on.
	TraceParent string `json:"-"`
}

// HookVerdict is what a synchronous hook run answered its caller: allowed,
// or denied by an endpoint with a code and a message.
type HookVerdict struct {
	Allowed  bool   `json:"allowed"`
	DeniedBy string `json:"denied_by,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
}

// Replayable reports why the event cannot be replayed, or nil when it can.
// A hook run's event cannot: its calls answered a caller that is long
// gone, and replaying it would send the before-the-operation event to
// every hook endpoint as an ordinary delivery, with retries.
func (e *Event) Replayable() error {
	if e.Hook {
		return Errorf(ECONFLICT, "event %s is a synchronous hook run: its verdict was given to its caller, and a hook run cannot be replayed", e.ID)
	}
	return nil
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryInFlight  = "in_flight"
	DeliverySucceeded = "succeeded"
	DeliveryExhausted = "exhausted"
	DeliveryCanceled  = "canceled"
)

// Delivery is one event for one endpoint.
type Delivery struct {
	ID            string     `json:"id"`
	ProjectID     string     `json:"project_id"`
	TenantID      string     `json:"tenant_id,omitempty"` // its endpoint's tenant ("" for a project-wide endpoint)
	EventID       string     `json:"event_id"`
	EndpointID    string     `json:"endpoint_id"`
	EventType     string     `json:"event_type"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	Priority      int        `json:"-"` // the endpoint's order at routing time; lower first
	Seq           int64      `json:"-"` // ingest order, for ordered endpoints
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	LockedBy      string     `json:"-"`
	LockedUntil   *time.Time `json:"-"`
	LastAttemptAt *time.Time `json:"last_attempt_at"`
	LastStatus    int        `json:"last_response_status,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	SucceededAt   *time.Time `json:"succeeded_at,omitempty"`
}

// Attempt error classes.
const (
	ErrorTimeout     = "timeout"
	ErrorConnection  = "connection"
	ErrorTLS         = "tls"
	ErrorRedirect    = "redirect"
	ErrorStatus      = "status"
	ErrorSSRFBlocked = "ssrf_blocked"
	ErrorTemplate    = "template"
)

// Attempt triggers.
const (
	TriggerScheduled = "scheduled"
	TriggerManual    = "manual"
	TriggerTest      = "test"
	TriggerHook      = "hook"
)

// Attempt is one HTTP request of a delivery and what came back.
type Attempt struct {
	ID              string            `json:"id"`
	ProjectID       string            `json:"project_id"`
	DeliveryID      string            `json:"delivery_id"`
	EventID         string            `json:"event_id"`
	EndpointID      string            `json:"endpoint_id"`
	Number          int               `json:"attempt"`
	Trigger         string            `json:"trigger"`
	StartedAt       time.Time         `json:"created_at"`
	DurationMS      int64             `json:"duration_ms"`
	RequestURL      string            `json:"request_url"`
	RequestHeaders  map[string]string `json:"request_headers"`
	ResponseStatus  int               `json:"response_status"`
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	ResponseBody    string            `json:"response_body,omitempty"`
	ErrorClass      string            `json:"error_class,omitempty"`
	Error           string            `json:"error,omitempty"`

	// RequestBody is the body sent when it was not the event's envelope
	// (a body template rendered it): its first 64 KiB, with
	// RequestBodyTruncated set when there was more. Empty for an envelope.
	RequestBody          string `json:"request_body,omitempty"`
	RequestBodyTruncated bool   `json:"request_body_truncated,omitempty"`
}

// Succeeded reports whether the attempt got a 2xx.
func (a *Attempt) Succeeded() bool {
	return a.ErrorClass == "" && a.ResponseStatus >= 200 && a.ResponseStatus < 300
}

// LastError is what a delivery's last_error says after this attempt: the
// error's message, or its class when it has none (empty after a success).
func (a *Attempt) LastError() string {
	if a.Error != "" {
		return a.Error
	}
	return a.ErrorClass
}
