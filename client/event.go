package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// EventInput is one event to send. Data is encoded as JSON and must
// encode to an object: a struct, a map, or a json.RawMessage.
type EventInput struct {
	Type string `json:"type"`
	Data any    `json:"data"`
	// ID is an optional client id; it also serves as the idempotency key.
	ID string `json:"id,omitempty"`
	// TenantID sends the event to that tenant's endpoints (and the
	// project-wide ones); empty: project-wide endpoints only.
	TenantID string   `json:"tenant_id,omitempty"`
	Channels []string `json:"channels,omitempty"`
	// OccurredAt is when it happened; zero means when Herald accepts it.
	OccurredAt time.Time         `json:"occurred_at,omitzero"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	// IdempotencyKey is sent as the Idempotency-Key header. When it and
	// ID are both empty, SendEvent makes a random one, so that the
	// client's retries never create a second event.
	IdempotencyKey string `json:"-"`
}

// SendEventResult is Herald's answer to SendEvent: the event is stored,
// with its deliveries.
type SendEventResult struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	CreatedAt  time.Time `json:"created_at"`
	Deliveries int       `json:"deliveries"`
	TenantID   string    `json:"tenant_id,omitempty"`
	// Replayed is true when Herald had already accepted this idempotency
	// key with the same body and answered with the original event.
	Replayed bool `json:"-"`
}

// BatchResult is Herald's answer to SendEvents: one item per input event,
// in order.
type BatchResult struct {
	Data []BatchItem `json:"data"`
}

// BatchItem is the outcome of one event of a batch: the accepted event
// (ID, Type, CreatedAt, Deliveries, as SendEvent answers) or the Error that
// refused it.
type BatchItem struct {
	ID         string    `json:"id,omitempty"`
	Type       string    `json:"type,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	Deliveries int       `json:"deliveries,omitempty"`
	TenantID   string    `json:"tenant_id,omitempty"`
	// Replayed is true when the event's idempotency key had been accepted
	// before with the same body: ID is the original event.
	Replayed bool   `json:"replayed,omitempty"`
	Error    *Error `json:"error,omitempty"`
}

// UnmarshalJSON accepts the error of an item both as a problem object and
// as a plain string.
func (b *BatchItem) UnmarshalJSON(data []byte) error {
	var raw struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		CreatedAt  time.Time       `json:"created_at"`
		Deliveries int             `json:"deliveries"`
		TenantID   string          `json:"tenant_id"`
		Replayed   bool            `json:"replayed"`
		Error      json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*b = BatchItem{ID: raw.ID, Type: raw.Type, CreatedAt: raw.CreatedAt, Deliveries: raw.Deliveries, TenantID: raw.TenantID, Replayed: raw.Replayed}
	if len(raw.Error) == 0 || string(raw.Error) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw.Error, &s) == nil {
		b.Error = &Error{Detail: s}
		return nil
	}
	var obj struct {
		Error
		Message string `json:"message"`
		Code    string `json:"code"`
	}
	if err := json.Unmarshal(raw.Error, &obj); err != nil {
		return err
	}
	b.Error = &obj.Error
	if b.Error.Detail == "" {
		b.Error.Detail = obj.Message
	}
	if b.Error.Title == "" {
		b.Error.Title = obj.Code
	}
	return nil
}

// Event is a stored event. GetEvent fills in Deliveries.
type Event struct {
	ID         string            `json:"id"`
	ProjectID  string            `json:"project_id"`
	TenantID   string            `json:"tenant_id,omitempty"`
	Type       string            `json:"type"`
	Data       json.RawMessage   `json:"data"`
	Channels   []string          `json:"channels,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	OccurredAt time.Time         `json:"occurred_at"`
	CreatedAt  time.Time         `json:"created_at"`
	Deliveries []Delivery        `json:"deliveries,omitempty"`
	// Hook marks a stored synchronous hook run; HookVerdict is what the
	// run answered its caller.
	Hook        bool         `json:"hook,omitempty"`
	HookVerdict *HookVerdict `json:"hook_verdict,omitempty"`
}

// HookVerdict is a stored hook run's verdict: allowed, or denied by an
// endpoint with a code and a message.
type HookVerdict struct {
	Allowed  bool   `json:"allowed"`
	DeniedBy string `json:"denied_by,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
}

// EventListOptions filters and pages ListEvents; zero fields do not filter.
type EventListOptions struct {
	// TenantID lists only that tenant's events.
	TenantID string
	Type     string
	Channel  string
	Since    time.Time
	Until    time.Time
	ListOptions
}

// Replay is the body of ReplayEvent.
type Replay struct {
	// EndpointID limits the replay to one endpoint; empty replays to every
	// matching endpoint.
	EndpointID string `json:"endpoint_id,omitempty"`
}

// ReplayResult says how many deliveries ReplayEvent created.
type ReplayResult struct {
	Deliveries int `json:"deliveries"`
}

// SendEvent ingests one event. A nil error means Herald stored the event
// and its deliveries durably.
func (c *Client) SendEvent(ctx context.Context, project string, in EventInput, reqOpts ...RequestOption) (*SendEventResult, error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	h := http.Header{}
	if in.IdempotencyKey != "" {
		h.Set("Idempotency-Key", in.IdempotencyKey)
	}
	var out SendEventResult
	respHeader, err := c.do(ctx, call{method: http.MethodPost, path: path("v1", "projects", project, "events"), in: in, out: &out, header: h,
		idempotent: in.ID == "", dedupByBody: in.ID != "", opts: reqOpts})
	if err != nil {
		return nil, err
	}
	out.Replayed = respHeader.Get("Idempotent-Replayed") == "true"
	return &out, nil
}

// SendEvents ingests up to 1000 events in one request. Each event is
// accepted or refused on its own: check every item's Error.
func (c *Client) SendEvents(ctx context.Context, project string, events []EventInput, reqOpts ...RequestOption) (*BatchResult, error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	in := struct {
		Events []EventInput `json:"events"`
	}{events}
	var out BatchResult
	_, err := c.do(ctx, call{method: http.MethodPost, path: path("v1", "projects", project, "events", "batch"), in: in, out: &out, idempotent: true, opts: reqOpts})
	return result(&out, err)
}

// ListEvents lists the project's events, newest first.
func (c *Client) ListEvents(ctx context.Context, project string, opts EventListOptions, reqOpts ...RequestOption) (*Page[Event], error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	q := opts.values()
	setString(q, "tenant_id", opts.TenantID)
	setString(q, "type", opts.Type)
	setString(q, "channel", opts.Channel)
	setTime(q, "since", opts.Since)
	setTime(q, "until", opts.Until)
	var out Page[Event]
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects", project, "events"), query: q, out: &out, opts: reqOpts})
	return result(&out, err)
}

// GetEvent returns an event with its deliveries.
func (c *Client) GetEvent(ctx context.Context, project, id string, reqOpts ...RequestOption) (*Event, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or event id")
	}
	var out Event
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects", project, "events", id), out: &out, opts: reqOpts})
	return result(&out, err)
}

// ReplayEvent creates new deliveries of an event.
func (c *Client) ReplayEvent(ctx context.Context, project, id string, in Replay, reqOpts ...RequestOption) (*ReplayResult, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or event id")
	}
	var out ReplayResult
	_, err := c.do(ctx, call{method: http.MethodPost, path: path("v1", "projects", project, "events", id, "replay"), in: in, out: &out, idempotent: true, opts: reqOpts})
	return result(&out, err)
}

// Subscribe is the compatibility route POST
// /projects/{project}/events/{event_type}/webhooks: it subscribes rawURL
// (at most 500 characters) to one event type.
func (c *Client) Subscribe(ctx context.Context, project, eventType, rawURL string, reqOpts ...RequestOption) error {
	if project == "" || eventType == "" {
		return errEmpty("project or event type")
	}
	in := struct {
		URL string `json:"url"`
	}{rawURL}
	_, err := c.do(ctx, call{method: http.MethodPost, path: path("projects", project, "events", eventType, "webhooks"), in: in, opts: reqOpts})
	return err
}
