package client

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestRoutes checks every method against the contract's route table: the
// method, path, query and body it sends, and what it makes of the answer.
func TestRoutes(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		call   func(ctx context.Context, c *Client) (any, error)
		method string
		path   string
		query  string
		body   string // JSON; "" means no body
		status int
		resp   string
		want   any // compared with the call's result when non-nil
	}{
		{
			name: "create project",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateProject(ctx, ProjectCreate{Name: "Shop", ID: "shop"})
			},
			method: "POST", path: "/v1/projects", body: `{"name":"Shop","id":"shop"}`,
			status: 201, resp: `{"id":"shop","name":"Shop","created_at":"2026-11-23T10:00:00Z","api_key":"hk_abc"}`,
			want: &Project{ID: "shop", Name: "Shop", CreatedAt: t0, APIKey: "hk_abc"},
		},
		{
			name:   "list projects",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.ListProjects(ctx, ListOptions{Limit: 10}) },
			method: "GET", path: "/v1/projects", query: "limit=10",
			status: 200, resp: `{"data":[{"id":"shop","name":"Shop"}],"next_cursor":null}`,
			want: &Page[Project]{Data: []Project{{ID: "shop", Name: "Shop"}}},
		},
		{
			name:   "get project escapes the id",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetProject(ctx, "a b/c") },
			method: "GET", path: "/v1/projects/a%20b%2Fc",
			status: 200, resp: `{"id":"a b/c"}`, want: &Project{ID: "a b/c"},
		},
		{
			name: "update project",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.UpdateProject(ctx, "shop", ProjectUpdate{StrictEventTypes: Set(false)})
			},
			method: "PATCH", path: "/v1/projects/shop", body: `{"strict_event_types":false}`,
			status: 200, resp: `{"id":"shop"}`, want: &Project{ID: "shop"},
		},
		{
			name:   "delete project",
			call:   func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteProject(ctx, "shop") },
			method: "DELETE", path: "/v1/projects/shop", status: 204,
		},
		{
			name:   "create api key",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.CreateAPIKey(ctx, "shop", APIKeyCreate{}) },
			method: "POST", path: "/v1/projects/shop/api-keys", body: `{}`,
			status: 201, resp: `{"id":"key_1","key":"hk_secret"}`, want: &APIKey{ID: "key_1", Key: "hk_secret"},
		},
		{
			name: "create scoped api key",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateAPIKey(ctx, "shop", APIKeyCreate{Name: "ci", Scopes: []string{ScopeRead, ScopeEventsWrite}, TenantID: "acme", ExpiresAt: t0})
			},
			method: "POST", path: "/v1/projects/shop/api-keys",
			body:   `{"name":"ci","scopes":["read","events:write"],"tenant_id":"acme","expires_at":"2026-11-23T10:00:00Z"}`,
			status: 201, resp: `{"id":"key_1","key":"hk_secret","name":"ci","scopes":["read","events:write"],"tenant_id":"acme","expires_at":"2026-11-23T10:00:00Z"}`,
			want: &APIKey{ID: "key_1", Key: "hk_secret", Name: "ci", Scopes: []string{"read", "events:write"}, TenantID: "acme", ExpiresAt: &t0},
		},
		{
			name: "put tenant (created)",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PutTenant(ctx, "shop", "org:42", TenantPut{Name: "Acme", Metadata: map[string]string{"plan": "pro"}})
			},
			method: "PUT", path: "/v1/projects/shop/tenants/org:42", body: `{"name":"Acme","metadata":{"plan":"pro"}}`,
			status: 201, resp: `{"project_id":"shop","id":"org:42","name":"Acme","metadata":{"plan":"pro"}}`,
			want: &Tenant{ProjectID: "shop", ID: "org:42", Name: "Acme", Metadata: map[string]string{"plan": "pro"}, Created: true},
		},
		{
			name: "put tenant (updated)",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PutTenant(ctx, "shop", "acme", TenantPut{})
			},
			method: "PUT", path: "/v1/projects/shop/tenants/acme", body: `{}`,
			status: 200, resp: `{"id":"acme"}`, want: &Tenant{ID: "acme"},
		},
		{
			name:   "get tenant",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetTenant(ctx, "shop", "acme") },
			method: "GET", path: "/v1/projects/shop/tenants/acme",
			status: 200, resp: `{"id":"acme","name":"Acme"}`, want: &Tenant{ID: "acme", Name: "Acme"},
		},
		{
			name: "list tenants",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListTenants(ctx, "shop", ListOptions{Limit: 5})
			},
			method: "GET", path: "/v1/projects/shop/tenants", query: "limit=5",
			status: 200, resp: `{"data":[{"id":"acme"}],"next_cursor":null}`,
			want: &Page[Tenant]{Data: []Tenant{{ID: "acme"}}},
		},
		{
			name:   "delete tenant",
			call:   func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteTenant(ctx, "shop", "acme") },
			method: "DELETE", path: "/v1/projects/shop/tenants/acme", status: 204,
		},
		{
			name:   "cluster",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.Cluster(ctx) },
			method: "GET", path: "/v1/cluster",
			status: 200, resp: `{"data":[{"id":"prc_1","address":"10.0.0.1:8080","in_flight":3,"heartbeat_age_ms":120,"last_heartbeat_at":"2026-11-23T10:00:00Z"}],"next_cursor":null}`,
			want: &Page[Process]{Data: []Process{{ID: "prc_1", Address: "10.0.0.1:8080", InFlight: 3, HeartbeatAgeMS: 120, HeartbeatAt: t0}}},
		},
		{
			name: "list api keys",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListAPIKeys(ctx, "shop", ListOptions{Limit: 2})
			},
			method: "GET", path: "/v1/projects/shop/api-keys", query: "limit=2",
			status: 200, resp: `{"data":[{"id":"key_1","prefix":"hk_ab","created_at":"2026-11-23T10:00:00Z"}],"next_cursor":null}`,
			want: &Page[APIKey]{Data: []APIKey{{ID: "key_1", Prefix: "hk_ab", CreatedAt: t0}}},
		},
		{
			name:   "delete api key",
			call:   func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteAPIKey(ctx, "shop", "key_1") },
			method: "DELETE", path: "/v1/projects/shop/api-keys/key_1", status: 204,
		},
		{
			name: "create event type",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateEventType(ctx, "shop", EventTypeCreate{Name: "order.paid", Schema: json.RawMessage(`{"type":"object"}`)})
			},
			method: "POST", path: "/v1/projects/shop/event-types", body: `{"name":"order.paid","schema":{"type":"object"}}`,
			status: 201, resp: `{"name":"order.paid"}`, want: &EventType{Name: "order.paid"},
		},
		{
			name: "list event types",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListEventTypes(ctx, "shop", ListOptions{Cursor: "x"})
			},
			method: "GET", path: "/v1/projects/shop/event-types", query: "cursor=x",
			status: 200, resp: `{"data":[],"next_cursor":null}`, want: &Page[EventType]{Data: []EventType{}},
		},
		{
			name:   "get event type",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetEventType(ctx, "shop", "order.paid") },
			method: "GET", path: "/v1/projects/shop/event-types/order.paid",
			status: 200, resp: `{"name":"order.paid","description":"d"}`, want: &EventType{Name: "order.paid", Description: "d"},
		},
		{
			name: "update event type",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.UpdateEventType(ctx, "shop", "order.paid", EventTypeUpdate{Description: Set("")})
			},
			method: "PATCH", path: "/v1/projects/shop/event-types/order.paid", body: `{"description":""}`,
			status: 200, resp: `{"name":"order.paid"}`, want: &EventType{Name: "order.paid"},
		},
		{
			name: "delete event type",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.DeleteEventType(ctx, "shop", "order.paid")
			},
			method: "DELETE", path: "/v1/projects/shop/event-types/order.paid", status: 204,
		},
		{
			name: "create endpoint",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateEndpoint(ctx, "shop", EndpointCreate{
					URL: "https://example.com/hook", EventTypes: []string{"user.*"}, Timeout: "30s",
					RetrySchedule: []string{"1m", "1h"}, Enabled: Ptr(false),
					Auth: &EndpointAuth{Bearer: "tok"}, ActiveUntil: &t0,
				})
			},
			method: "POST", path: "/v1/projects/shop/endpoints",
			body: `{"url":"https://example.com/hook","event_types":["user.*"],"timeout":"30s","retry_schedule":["1m","1h"],
				"enabled":false,"auth":{"bearer":"tok"},"active_until":"2026-11-23T10:00:00Z"}`,
			status: 201,
			resp: `{"id":"ep_1","project_id":"shop","url":"https://example.com/hook","event_types":["user.*"],"channels":[],
				"enabled":false,"order":0,"timeout":"30s","response_mode":"wait","failure_policy":"fail_closed",
				"retry_schedule":["1m","1h"],"rate_limit":0,"max_in_flight":10,"ordered":false,"secret":"whsec_abc",
				"status":"healthy","created_at":"2026-11-23T10:00:00Z","updated_at":"2026-11-23T10:00:00Z"}`,
			want: &Endpoint{
				ID: "ep_1", ProjectID: "shop", URL: "https://example.com/hook", EventTypes: []string{"user.*"}, Channels: []string{},
				Timeout: "30s", ResponseMode: ResponseWait, FailurePolicy: FailClosed, RetrySchedule: []string{"1m", "1h"},
				MaxInFlight: 10, Secret: "whsec_abc", Status: "healthy", CreatedAt: t0, UpdatedAt: t0,
			},
		},
		{
			name: "list endpoints",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListEndpoints(ctx, "shop", EndpointListOptions{TenantID: "acme"})
			},
			method: "GET", path: "/v1/projects/shop/endpoints", query: "tenant_id=acme",
			status: 200, resp: `{"data":[{"id":"ep_1"}],"next_cursor":"c"}`,
			want: &Page[Endpoint]{Data: []Endpoint{{ID: "ep_1"}}, NextCursor: "c"},
		},
		{
			name:   "get endpoint",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetEndpoint(ctx, "shop", "ep_1") },
			method: "GET", path: "/v1/projects/shop/endpoints/ep_1",
			status: 200, resp: `{"id":"ep_1"}`, want: &Endpoint{ID: "ep_1"},
		},
		{
			name: "update endpoint sends only the fields set",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.UpdateEndpoint(ctx, "shop", "ep_1", EndpointUpdate{Enabled: Set(true), Channels: Set([]string{}), Order: Set(0)})
			},
			method: "PATCH", path: "/v1/projects/shop/endpoints/ep_1", body: `{"enabled":true,"channels":[],"order":0}`,
			status: 200, resp: `{"id":"ep_1","enabled":true}`, want: &Endpoint{ID: "ep_1", Enabled: true},
		},
		{
			name:   "delete endpoint",
			call:   func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteEndpoint(ctx, "shop", "ep_1") },
			method: "DELETE", path: "/v1/projects/shop/endpoints/ep_1", status: 204,
		},
		{
			name:   "get endpoint secret",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetEndpointSecret(ctx, "shop", "ep_1") },
			method: "GET", path: "/v1/projects/shop/endpoints/ep_1/secret",
			status: 200, resp: `{"secret":"whsec_abc"}`, want: &EndpointSecret{Secret: "whsec_abc"},
		},
		{
			name: "rotate endpoint secret",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.RotateEndpointSecret(ctx, "shop", "ep_1", SecretRotation{GracePeriod: "24h"})
			},
			method: "POST", path: "/v1/projects/shop/endpoints/ep_1/secret/rotate", body: `{"grace_period":"24h"}`,
			status: 200, resp: `{"secret":"whsec_new","previous_secret_until":"2026-11-23T10:00:00Z"}`,
			want: &EndpointSecret{Secret: "whsec_new", PreviousSecretUntil: &t0},
		},
		{
			name: "test endpoint",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.TestEndpoint(ctx, "shop", "ep_1", EndpointTest{Type: "order.paid"})
			},
			method: "POST", path: "/v1/projects/shop/endpoints/ep_1/test", body: `{"type":"order.paid"}`,
			status: 200, resp: `{"id":"att_1","attempt":1,"trigger":"test","response_status":204,"duration_ms":3,"created_at":"2026-11-23T10:00:00Z"}`,
			want: &Attempt{ID: "att_1", Number: 1, Trigger: "test", ResponseStatus: 204, DurationMS: 3, CreatedAt: t0},
		},
		{
			name: "recover endpoint",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.RecoverEndpoint(ctx, "shop", "ep_1", Recovery{Since: t0})
			},
			method: "POST", path: "/v1/projects/shop/endpoints/ep_1/recover", body: `{"since":"2026-11-23T10:00:00Z"}`,
			status: 202, resp: `{"requeued":7}`, want: &RecoveryResult{Requeued: 7},
		},
		{
			name: "endpoint stats",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.GetEndpointStats(ctx, "shop", "ep_1", StatsOptions{Since: t0})
			},
			method: "GET", path: "/v1/projects/shop/endpoints/ep_1/stats", query: "since=2026-11-23T10%3A00%3A00Z",
			status: 200, resp: `{"since":"2026-11-23T10:00:00Z","deliveries":{"succeeded":9,"exhausted":1},"attempts":12,
				"succeeded":9,"failed":3,"success_rate":0.75,"latency_p50_ms":4,"latency_p90_ms":9,"latency_p99_ms":30}`,
			want: &EndpointStats{Since: t0, Deliveries: map[string]int{"succeeded": 9, "exhausted": 1}, Attempts: 12,
				Succeeded: 9, Failed: 3, SuccessRate: 0.75, LatencyP50: 4, LatencyP90: 9, LatencyP99: 30},
		},
		{
			name: "send events in a batch",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.SendEvents(ctx, "shop", []EventInput{
					{Type: "a", Data: json.RawMessage(`{"n":1}`)},
					{Type: "b", Data: json.RawMessage(`[]`)},
					{Type: "c", Data: json.RawMessage(`{}`), OccurredAt: t0},
				})
			},
			method: "POST", path: "/v1/projects/shop/events/batch",
			body: `{"events":[{"type":"a","data":{"n":1}},{"type":"b","data":[]},
				{"type":"c","data":{},"occurred_at":"2026-11-23T10:00:00Z"}]}`,
			status: 202,
			resp: `{"data":[{"id":"evt_1"},{"error":{"status":422,"title":"Unprocessable Entity","detail":"data must be an object"}},
				{"error":"type is unknown"}]}`,
			want: &BatchResult{Data: []BatchItem{
				{ID: "evt_1"},
				{Error: &Error{Status: 422, Title: "Unprocessable Entity", Detail: "data must be an object"}},
				{Error: &Error{Detail: "type is unknown"}},
			}},
		},
		{
			name: "list events with filters",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListEvents(ctx, "shop", EventListOptions{TenantID: "acme", Type: "order.paid", Channel: "acct_42", Since: t0, ListOptions: ListOptions{Limit: 5}})
			},
			method: "GET", path: "/v1/projects/shop/events",
			query:  "channel=acct_42&limit=5&since=2026-11-23T10%3A00%3A00Z&tenant_id=acme&type=order.paid",
			status: 200, resp: `{"data":[{"id":"evt_1","type":"order.paid","data":{"x":1}}],"next_cursor":null}`,
			want: &Page[Event]{Data: []Event{{ID: "evt_1", Type: "order.paid", Data: json.RawMessage(`{"x":1}`)}}},
		},
		{
			name:   "get event with its deliveries",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetEvent(ctx, "shop", "evt_1") },
			method: "GET", path: "/v1/projects/shop/events/evt_1",
			status: 200, resp: `{"id":"evt_1","deliveries":[{"id":"dlv_1","status":"succeeded","attempts":1}]}`,
			want: &Event{ID: "evt_1", Deliveries: []Delivery{{ID: "dlv_1", Status: DeliverySucceeded, Attempts: 1}}},
		},
		{
			name: "replay event",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ReplayEvent(ctx, "shop", "evt_1", Replay{EndpointID: "ep_1"})
			},
			method: "POST", path: "/v1/projects/shop/events/evt_1/replay", body: `{"endpoint_id":"ep_1"}`,
			status: 202, resp: `{"deliveries":1}`, want: &ReplayResult{Deliveries: 1},
		},
		{
			name: "list deliveries with filters",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListDeliveries(ctx, "shop", DeliveryListOptions{TenantID: "acme", EndpointID: "ep_1", Status: DeliveryExhausted, Until: t0})
			},
			method: "GET", path: "/v1/projects/shop/deliveries", query: "endpoint_id=ep_1&status=exhausted&tenant_id=acme&until=2026-11-23T10%3A00%3A00Z",
			status: 200, resp: `{"data":[{"id":"dlv_1","status":"exhausted"}],"next_cursor":null}`,
			want: &Page[Delivery]{Data: []Delivery{{ID: "dlv_1", Status: DeliveryExhausted}}},
		},
		{
			name:   "get delivery",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetDelivery(ctx, "shop", "dlv_1") },
			method: "GET", path: "/v1/projects/shop/deliveries/dlv_1",
			status: 200, resp: `{"id":"dlv_1","next_attempt_at":"2026-11-23T10:00:00Z"}`,
			want: &Delivery{ID: "dlv_1", NextAttemptAt: &t0},
		},
		{
			name: "list attempts",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListAttempts(ctx, "shop", "dlv_1", ListOptions{})
			},
			method: "GET", path: "/v1/projects/shop/deliveries/dlv_1/attempts",
			status: 200, resp: `{"data":[{"id":"att_1","attempt":1,"error_class":"timeout"}],"next_cursor":null}`,
			want: &Page[Attempt]{Data: []Attempt{{ID: "att_1", Number: 1, ErrorClass: "timeout"}}},
		},
		{
			name:   "retry delivery",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.RetryDelivery(ctx, "shop", "dlv_1") },
			method: "POST", path: "/v1/projects/shop/deliveries/dlv_1/retry", body: `{}`,
			status: 200, resp: `{"id":"att_2","attempt":2,"response_status":200}`,
			want: &Attempt{ID: "att_2", Number: 2, ResponseStatus: 200},
		},
		{
			name: "run hook",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.RunHook(ctx, "game", "before_registration", HookInput{Data: map[string]string{"nickname": ""}, Timeout: "5s"})
			},
			method: "POST", path: "/v1/projects/game/hooks/before_registration", body: `{"data":{"nickname":""},"timeout":"5s"}`,
			status: 200,
			resp: `{"allowed":false,"data":{"nickname":"Neo"},"denied_by":"ep_2","code":"not_found","message":"Player not found",
				"results":[{"endpoint_id":"ep_1","outcome":"allowed","status":200,"duration_ms":3},
				{"endpoint_id":"ep_2","outcome":"denied","status":200,"duration_ms":4}]}`,
			want: &HookResult{Allowed: false, Data: json.RawMessage(`{"nickname":"Neo"}`), DeniedBy: "ep_2", Code: "not_found",
				Message: "Player not found", Results: []HookCallResult{
					{EndpointID: "ep_1", Outcome: OutcomeAllowed, Status: 200, DurationMS: 3},
					{EndpointID: "ep_2", Outcome: OutcomeDenied, Status: 200, DurationMS: 4},
				}},
		},
		{
			name: "subscribe through the compatibility route",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Subscribe(ctx, "shop", "order.paid", "https://example.com/h")
			},
			method: "POST", path: "/projects/shop/events/order.paid/webhooks", body: `{"url":"https://example.com/h"}`,
			status: 200, resp: `{}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, response{status: tt.status, body: tt.resp})
			got, err := tt.call(context.Background(), b.client)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			reqs := b.fake.all()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != tt.path || r.Query != tt.query {
				t.Errorf("request %s %s?%s, want %s %s?%s", r.Method, r.Path, r.Query, tt.method, tt.path, tt.query)
			}
			if r.Header.Get("Authorization") != "Bearer hk_test_key" {
				t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
			}
			switch {
			case tt.body == "" && r.Body != "":
				t.Errorf("body = %s, want none", r.Body)
			case tt.body != "" && !jsonEqual(t, r.Body, tt.body):
				t.Errorf("body = %s\nwant %s", r.Body, tt.body)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(tt.want)
				t.Errorf("result = %s\nwant     %s", gj, wj)
			}
		})
	}
}
