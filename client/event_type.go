package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// EventType names a kind of event a project sends.
type EventType struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Schema is a JSON Schema the data of events of this type must match.
	Schema json.RawMessage `json:"schema,omitempty"`
	// Example is a sample data object, sent by TestEndpoint.
	Example   json.RawMessage `json:"example,omitempty"`
	CreatedAt time.Time       `json:"created_at,omitzero"`
	UpdatedAt time.Time       `json:"updated_at,omitzero"`
}

// EventTypeCreate is the body of CreateEventType.
type EventTypeCreate struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Example     json.RawMessage `json:"example,omitempty"`
}

// EventTypeUpdate is the body of UpdateEventType: only the fields set
// (client.Set) change; client.Null clears one (the schema: events of the
// type are no longer validated).
type EventTypeUpdate struct {
	Description Optional[string]          `json:"description,omitzero"`
	Schema      Optional[json.RawMessage] `json:"schema,omitzero"`
	Example     Optional[json.RawMessage] `json:"example,omitzero"`
}

// CreateEventType declares an event type in the project.
func (c *Client) CreateEventType(ctx context.Context, project string, in EventTypeCreate, reqOpts ...RequestOption) (*EventType, error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	var out EventType
	_, err := c.do(ctx, call{method: http.MethodPost, path: path("v1", "projects", project, "event-types"), in: in, out: &out, idempotent: true, opts: reqOpts})
	return result(&out, err)
}

// ListEventTypes lists the project's event types.
func (c *Client) ListEventTypes(ctx context.Context, project string, opts ListOptions, reqOpts ...RequestOption) (*Page[EventType], error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	var out Page[EventType]
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects", project, "event-types"), query: opts.values(), out: &out, opts: reqOpts})
	return result(&out, err)
}

// GetEventType returns one event type by name.
func (c *Client) GetEventType(ctx context.Context, project, name string, reqOpts ...RequestOption) (*EventType, error) {
	if project == "" || name == "" {
		return nil, errEmpty("project or event type")
	}
	var out EventType
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects", project, "event-types", name), out: &out, opts: reqOpts})
	return result(&out, err)
}

// UpdateEventType changes the fields of in that are set.
func (c *Client) UpdateEventType(ctx context.Context, project, name string, in EventTypeUpdate, reqOpts ...RequestOption) (*EventType, error) {
	if project == "" || name == "" {
		return nil, errEmpty("project or event type")
	}
	var out EventType
	_, err := c.do(ctx, call{method: http.MethodPatch, path: path("v1", "projects", project, "event-types", name), in: in, out: &out, opts: reqOpts})
	return result(&out, err)
}

// DeleteEventType deletes an event type.
func (c *Client) DeleteEventType(ctx context.Context, project, name string, reqOpts ...RequestOption) error {
	if project == "" || name == "" {
		return errEmpty("project or event type")
	}
	_, err := c.do(ctx, call{method: http.MethodDelete, path: path("v1", "projects", project, "event-types", name), opts: reqOpts})
	return err
}
