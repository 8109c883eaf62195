package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

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

// Endpoint is a subscription: a URL and how to call it. Durations are Go
// duration strings ("15s", "2h").
type Endpoint struct {
	ID        string `json:"id"`
	ProjectID string `json:"project_id"`
	// TenantID is the tenant that owns the endpoint; "" for a
	// project-wide one, which receives every tenant's events.
	TenantID      string            `json:"tenant_id,omitempty"`
	URL           string            `json:"url"`
	Name          string            `json:"name,omitempty"`
	Description   string            `json:"description,omitempty"`
	EventTypes    []string          `json:"event_types"`
	Channels      []string          `json:"channels"`
	Filter        string            `json:"filter,omitempty"`
	Enabled       bool              `json:"enabled"`
	ActiveFrom    *time.Time        `json:"active_from,omitempty"`
	ActiveUntil   *time.Time        `json:"active_until,omitempty"`
	Order         int               `json:"order"`
	Timeout       string            `json:"timeout"`
	ResponseMode  string            `json:"response_mode"`
	FailurePolicy string            `json:"failure_policy"`
	RetrySchedule []string          `json:"retry_schedule"`
	RetryJitter   *bool             `json:"retry_jitter,omitempty"` // nil: the server's default, true
	RateLimit     int               `json:"rate_limit"`
	MaxInFlight   int               `json:"max_in_flight"`
	Ordered       bool              `json:"ordered"`
	Auth          *EndpointAuth     `json:"auth,omitempty"`
	Headers       map[string]string `json:"headers,omitempty"`
	BodyTemplate  string            `json:"body_template,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	// Secret is returned when the endpoint is created; GetEndpointSecret
	// reads it later.
	Secret string `json:"secret,omitempty"`
	// Status is "healthy", "failing" or "disabled".
	Status         string    `json:"status"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// EndpointAuth is how Herald authenticates to an endpoint: one of Basic or
// Bearer. Reads return it redacted.
type EndpointAuth struct {
	Basic  *BasicAuth `json:"basic,omitempty"`
	Bearer string     `json:"bearer,omitempty"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// EndpointCreate is the body of CreateEndpoint. Only URL is required;
// zero fields take the server's defaults (docs/API.md, "Endpoint fields").
type EndpointCreate struct {
	URL string `json:"url"`
	// TenantID makes the endpoint the tenant's (created if missing): it
	// receives only that tenant's events. Empty: project-wide. It cannot
	// change later.
	TenantID      string     `json:"tenant_id,omitempty"`
	Name          string     `json:"name,omitempty"`
	Description   string     `json:"description,omitempty"`
	EventTypes    []string   `json:"event_types,omitempty"`
	Channels      []string   `json:"channels,omitempty"`
	Filter        string     `json:"filter,omitempty"`
	Enabled       *bool      `json:"enabled,omitempty"` // nil = true
	ActiveFrom    *time.Time `json:"active_from,omitempty"`
	ActiveUntil   *time.Time `json:"active_until,omitempty"`
	Order         int        `json:"order,omitempty"`
	Timeout       string     `json:"timeout,omitempty"`
	ResponseMode  string     `json:"response_mode,omitempty"`
	FailurePolicy string     `json:"failure_policy,omitempty"`
	// RetrySchedule: nil takes the server's default; a non-nil empty
	// slice means one attempt and no retries.
	RetrySchedule []string `json:"retry_schedule,omitzero"`
	// RetryJitter: nil takes the server's default (true); false follows
	// the schedule exactly.
	RetryJitter  *bool             `json:"retry_jitter,omitempty"`
	RateLimit    int               `json:"rate_limit,omitempty"`
	MaxInFlight  int               `json:"max_in_flight,omitempty"`
	Ordered      bool              `json:"ordered,omitempty"`
	Auth         *EndpointAuth     `json:"auth,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	BodyTemplate string            `json:"body_template,omitempty"`
	// Secret is "whsec_" + base64 of 24 to 64 bytes; generated when empty.
	Secret   string            `json:"secret,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// EndpointUpdate is the body of UpdateEndpoint: only the fields that are
// set (client.Set) are sent, and only they change. A field set to
// client.Null is sent as null, which resets it to its default, or clears
// it when it has none (active_from, active_until, auth, filter…).
type EndpointUpdate struct {
	URL           Optional[string]            `json:"url,omitzero"`
	Name          Optional[string]            `json:"name,omitzero"`
	Description   Optional[string]            `json:"description,omitzero"`
	EventTypes    Optional[[]string]          `json:"event_types,omitzero"`
	Channels      Optional[[]string]          `json:"channels,omitzero"`
	Filter        Optional[string]            `json:"filter,omitzero"`
	Enabled       Optional[bool]              `json:"enabled,omitzero"`
	ActiveFrom    Optional[time.Time]         `json:"active_from,omitzero"`
	ActiveUntil   Optional[time.Time]         `json:"active_until,omitzero"`
	Order         Optional[int]               `json:"order,omitzero"`
	Timeout       Optional[string]            `json:"timeout,omitzero"`
	ResponseMode  Optional[string]            `json:"response_mode,omitzero"`
	FailurePolicy Optional[string]            `json:"failure_policy,omitzero"`
	RetrySchedule Optional[[]string]          `json:"retry_schedule,omitzero"`
	RetryJitter   Optional[bool]              `json:"retry_jitter,omitzero"`
	RateLimit     Optional[int]               `json:"rate_limit,omitzero"`
	MaxInFlight   Optional[int]               `json:"max_in_flight,omitzero"`
	Ordered       Optional[bool]              `json:"ordered,omitzero"`
	Auth          Optional[EndpointAuth]      `json:"auth,omitzero"`
	Headers       Optional[map[string]string] `json:"headers,omitzero"`
	BodyTemplate  Optional[string]            `json:"body_template,omitzero"`
	Metadata      Optional[map[string]string] `json:"metadata,omitzero"`
}

// EndpointSecret is an endpoint's signing secret.
type EndpointSecret struct {
	Secret string `json:"secret"`
	// PreviousSecretUntil is set during a rotation's grace period: until
	// then the previous secret signs deliveries too.
	PreviousSecretUntil *time.Time `json:"previous_secret_until,omitempty"`
}

// SecretRotation is the body of RotateEndpointSecret.
type SecretRotation struct {
	// Secret is the new secret; generated when empty.
	Secret string `json:"secret,omitempty"`
	// GracePeriod is how long the old secret keeps signing too, e.g. "24h".
	GracePeriod string `json:"grace_period,omitempty"`
}

// EndpointTest is the body of TestEndpoint.
type EndpointTest struct {
	// Type is the event type whose example is sent; empty sends a ping.
	Type string `json:"type,omitempty"`
}

// Recovery is the body of RecoverEndpoint: the window of failed deliveries
// to requeue.
type Recovery struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until,omitzero"` // zero = now
}

// RecoveryResult says how many deliveries RecoverEndpoint requeued.
type RecoveryResult struct {
	Requeued int `json:"requeued"`
}

// StatsOptions selects the window of EndpointStats; zero fields take the
// server's default window.
type StatsOptions struct {
	Since time.Time
	Until time.Time
}

// EndpointStats summarises an endpoint's deliveries and attempts over a
// window.
type EndpointStats struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until,omitzero"`
	// Deliveries counts deliveries created in the window, by state.
	Deliveries  map[string]int `json:"deliveries"`
	Attempts    int            `json:"attempts"`
	Succeeded   int            `json:"succeeded"`
	Failed      int            `json:"failed"`
	SuccessRate float64        `json:"success_rate"` // 0..1
	LatencyP50  int64          `json:"latency_p50_ms"`
	LatencyP90  int64          `json:"latency_p90_ms"`
	LatencyP99  int64          `json:"latency_p99_ms"`
	// Buckets are attempts per slice of the window, oldest first.
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

func endpointPath(project, id string, rest ...string) string {
	return path(append([]string{"v1", "projects", project, "endpoints", id}, rest...)...)
}

// CreateEndpoint subscribes a URL in the project. The answer includes the
// endpoint's secret.
func (c *Client) CreateEndpoint(ctx context.Context, project string, in EndpointCreate, reqOpts ...RequestOption) (*Endpoint, error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	var out Endpoint
	_, err := c.do(ctx, call{method: http.MethodPost, path: path("v1", "projects", project, "endpoints"), in: in, out: &out, idempotent: true, opts: reqOpts})
	return result(&out, err)
}

// EndpointListOptions filters and pages ListEndpoints; zero fields do not
// filter.
type EndpointListOptions struct {
	// TenantID lists only that tenant's endpoints.
	TenantID string
	ListOptions
}

// ListEndpoints lists the project's endpoints, newest first.
func (c *Client) ListEndpoints(ctx context.Context, project string, opts EndpointListOptions, reqOpts ...RequestOption) (*Page[Endpoint], error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	q := opts.values()
	setString(q, "tenant_id", opts.TenantID)
	var out Page[Endpoint]
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects", project, "endpoints"), query: q, out: &out, opts: reqOpts})
	return result(&out, err)
}

// GetEndpoint returns one endpoint.
func (c *Client) GetEndpoint(ctx context.Context, project, id string, reqOpts ...RequestOption) (*Endpoint, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or endpoint id")
	}
	var out Endpoint
	_, err := c.do(ctx, call{method: http.MethodGet, path: endpointPath(project, id), out: &out, opts: reqOpts})
	return result(&out, err)
}

// UpdateEndpoint changes the fields of in that are set.
func (c *Client) UpdateEndpoint(ctx context.Context, project, id string, in EndpointUpdate, reqOpts ...RequestOption) (*Endpoint, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or endpoint id")
	}
	var out Endpoint
	_, err := c.do(ctx, call{method: http.MethodPatch, path: endpointPath(project, id), in: in, out: &out, opts: reqOpts})
	return result(&out, err)
}

// DeleteEndpoint deletes an endpoint; its pending deliveries are canceled.
func (c *Client) DeleteEndpoint(ctx context.Context, project, id string, reqOpts ...RequestOption) error {
	if project == "" || id == "" {
		return errEmpty("project or endpoint id")
	}
	_, err := c.do(ctx, call{method: http.MethodDelete, path: endpointPath(project, id), opts: reqOpts})
	return err
}

// GetEndpointSecret returns the endpoint's current signing secret.
func (c *Client) GetEndpointSecret(ctx context.Context, project, id string, reqOpts ...RequestOption) (*EndpointSecret, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or endpoint id")
	}
	var out EndpointSecret
	_, err := c.do(ctx, call{method: http.MethodGet, path: endpointPath(project, id, "secret"), out: &out, opts: reqOpts})
	return result(&out, err)
}

// RotateEndpointSecret replaces the endpoint's secret. During the grace
// period deliveries carry signatures with both secrets.
func (c *Client) RotateEndpointSecret(ctx context.Context, project, id string, in SecretRotation, reqOpts ...RequestOption) (*EndpointSecret, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or endpoint id")
	}
	var out EndpointSecret
	_, err := c.do(ctx, call{method: http.MethodPost, path: endpointPath(project, id, "secret", "rotate"), in: in, out: &out, opts: reqOpts})
	return result(&out, err)
}

// TestEndpoint sends the example of an event type (or a ping) to the
// endpoint now and returns the attempt.
func (c *Client) TestEndpoint(ctx context.Context, project, id string, in EndpointTest, reqOpts ...RequestOption) (*Attempt, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or endpoint id")
	}
	var out Attempt
	_, err := c.do(ctx, call{method: http.MethodPost, path: endpointPath(project, id, "test"), in: in, out: &out, opts: reqOpts})
	return result(&out, err)
}

// RecoverEndpoint requeues the endpoint's failed deliveries created in the
// window.
func (c *Client) RecoverEndpoint(ctx context.Context, project, id string, in Recovery, reqOpts ...RequestOption) (*RecoveryResult, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or endpoint id")
	}
	var out RecoveryResult
	_, err := c.do(ctx, call{method: http.MethodPost, path: endpointPath(project, id, "recover"), in: in, out: &out, idempotent: true, opts: reqOpts})
	return result(&out, err)
}

// GetEndpointStats returns delivery counts, success rate and latency
// percentiles of the endpoint over a window.
func (c *Client) GetEndpointStats(ctx context.Context, project, id string, opts StatsOptions, reqOpts ...RequestOption) (*EndpointStats, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or endpoint id")
	}
	q := url.Values{}
	setTime(q, "since", opts.Since)
	setTime(q, "until", opts.Until)
	var out EndpointStats
	_, err := c.do(ctx, call{method: http.MethodGet, path: endpointPath(project, id, "stats"), query: q, out: &out, opts: reqOpts})
	return result(&out, err)
}
