package client

import (
	"context"
	"net/http"
	"time"
)

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
	ID         string `json:"id"`
	ProjectID  string `json:"project_id"`
	EventID    string `json:"event_id"`
	EndpointID string `json:"endpoint_id"`
	// TenantID is its endpoint's tenant; "" for a project-wide endpoint.
	TenantID           string     `json:"tenant_id,omitempty"`
	EventType          string     `json:"event_type"`
	Status             string     `json:"status"`
	Attempts           int        `json:"attempts"`
	NextAttemptAt      *time.Time `json:"next_attempt_at,omitempty"`
	LastAttemptAt      *time.Time `json:"last_attempt_at,omitempty"`
	LastResponseStatus int        `json:"last_response_status,omitempty"`
	LastError          string     `json:"last_error,omitempty"`
	SucceededAt        *time.Time `json:"succeeded_at,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at,omitzero"`
}

// Attempt is one HTTP request of a delivery and what came back.
type Attempt struct {
	ID         string `json:"id"`
	ProjectID  string `json:"project_id,omitempty"`
	DeliveryID string `json:"delivery_id,omitempty"`
	EventID    string `json:"event_id,omitempty"`
	EndpointID string `json:"endpoint_id,omitempty"`
	// Number is the attempt's webhook-attempt, from 1.
	Number int `json:"attempt"`
	// Trigger is "scheduled", "manual", "test" or "hook".
	Trigger        string            `json:"trigger,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	DurationMS     int64             `json:"duration_ms"`
	RequestURL     string            `json:"request_url"`
	RequestHeaders map[string]string `json:"request_headers,omitempty"`
	// ResponseStatus is 0 when no response came back.
	ResponseStatus  int               `json:"response_status"`
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
	ResponseBody    string            `json:"response_body,omitempty"`
	// ErrorClass is "timeout", "connection", "tls", "redirect", "status" or
	// "ssrf_blocked"; empty for a success.
	ErrorClass string `json:"error_class,omitempty"`
	Error      string `json:"error,omitempty"`

	// RequestBody is the body sent when the endpoint's body template
	// rendered it (its first 64 KiB; RequestBodyTruncated when it was
	// longer); empty when the envelope, the event, was sent.
	RequestBody          string `json:"request_body,omitempty"`
	RequestBodyTruncated bool   `json:"request_body_truncated,omitempty"`
}

// Succeeded reports whether the attempt got a 2xx.
func (a *Attempt) Succeeded() bool {
	return a.ErrorClass == "" && a.ResponseStatus >= 200 && a.ResponseStatus < 300
}

// DeliveryListOptions filters and pages ListDeliveries; zero fields do not
// filter.
type DeliveryListOptions struct {
	// TenantID lists only the deliveries to that tenant's endpoints.
	TenantID   string
	EndpointID string
	EventID    string
	// Status is a delivery state, such as DeliveryExhausted.
	Status string
	// Since and Until bound when the deliveries were created.
	Since time.Time
	Until time.Time
	ListOptions
}

// ListDeliveries lists the project's deliveries, newest first.
func (c *Client) ListDeliveries(ctx context.Context, project string, opts DeliveryListOptions, reqOpts ...RequestOption) (*Page[Delivery], error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	q := opts.values()
	setString(q, "tenant_id", opts.TenantID)
	setString(q, "endpoint_id", opts.EndpointID)
	setString(q, "event_id", opts.EventID)
	setString(q, "status", opts.Status)
	setTime(q, "since", opts.Since)
	setTime(q, "until", opts.Until)
	var out Page[Delivery]
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects", project, "deliveries"), query: q, out: &out, opts: reqOpts})
	return result(&out, err)
}

// GetDelivery returns one delivery.
func (c *Client) GetDelivery(ctx context.Context, project, id string, reqOpts ...RequestOption) (*Delivery, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or delivery id")
	}
	var out Delivery
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects", project, "deliveries", id), out: &out, opts: reqOpts})
	return result(&out, err)
}

// ListAttempts lists a delivery's attempts, oldest first.
func (c *Client) ListAttempts(ctx context.Context, project, deliveryID string, opts ListOptions, reqOpts ...RequestOption) (*Page[Attempt], error) {
	if project == "" || deliveryID == "" {
		return nil, errEmpty("project or delivery id")
	}
	var out Page[Attempt]
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects", project, "deliveries", deliveryID, "attempts"), query: opts.values(), out: &out, opts: reqOpts})
	return result(&out, err)
}

// RetryDelivery makes one attempt of the delivery now, whatever its state
// (failed and exhausted deliveries included), and returns it.
func (c *Client) RetryDelivery(ctx context.Context, project, id string, reqOpts ...RequestOption) (*Attempt, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or delivery id")
	}
	var out Attempt
	_, err := c.do(ctx, call{method: http.MethodPost, path: path("v1", "projects", project, "deliveries", id, "retry"), in: struct{}{}, out: &out, idempotent: true, opts: reqOpts})
	return result(&out, err)
}
