package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// dropFirst is a server that drops the connection of its first n requests
// without answering, then answers 200 with body.
type dropFirst struct {
	n, seen atomic.Int32
	keys    chan string
	body    string
}

func (d *dropFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case d.keys <- r.Header.Get("Idempotency-Key"):
	default:
	}
	if d.seen.Add(1) <= d.n.Load() {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(d.body))
}

func dropClient(t *testing.T, drops int32, body string) (*Client, *dropFirst) {
	t.Helper()
	d := &dropFirst{keys: make(chan string, 10), body: body}
	d.n.Store(drops)
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	c.sleepFunc = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	return c, d
}

func TestConnectionErrorIsRetriedForIdempotentCalls(t *testing.T) {
	t.Parallel()
	c, d := dropClient(t, 2, `{"id":"p"}`)
	p, err := c.GetProject(context.Background(), "p")
	if err != nil {
		t.Fatalf("GET after two dropped connections: %v", err)
	}
	if p.ID != "p" || d.seen.Load() != 3 {
		t.Fatalf("project %+v after %d requests, want 3", p, d.seen.Load())
	}
}

func TestConnectionErrorIsRetriedForKeyedPOSTWithTheSameKey(t *testing.T) {
	t.Parallel()
	c, d := dropClient(t, 1, `{"id":"evt_1"}`)
	if _, err := c.SendEvent(context.Background(), "shop", EventInput{Type: "t", Data: map[string]int{}}); err != nil {
		t.Fatalf("SendEvent after a dropped connection: %v", err)
	}
	k1, k2 := <-d.keys, <-d.keys
	if k1 == "" || k1 != k2 {
		t.Fatalf("idempotency keys %q then %q: want the same key on the retry", k1, k2)
	}
}

func TestConnectionErrorIsNotRetriedForPOSTWithoutKey(t *testing.T) {
	t.Parallel()
	c, d := dropClient(t, 1, `{"id":"p"}`)
	_, err := c.CreateProject(context.Background(), ProjectCreate{Name: "P"})
	if err == nil {
		t.Fatal("no error after a dropped connection")
	}
	if n := d.seen.Load(); n != 1 {
		t.Fatalf("%d requests: a POST without an idempotency key was repeated", n)
	}
}

func TestBadGatewayAndGatewayTimeoutAreRetriedOnlyWhenSafe(t *testing.T) {
	t.Parallel()
	for _, status := range []int{502, 504} {
		b := setup(t, response{status: status, body: `{}`}, response{status: 200, body: `{"id":"x"}`})
		if _, err := b.client.GetProject(context.Background(), "p"); err != nil {
			t.Fatalf("GET after a %d: %v", status, err)
		}
		if n := len(b.fake.all()); n != 2 {
			t.Fatalf("GET after a %d: %d requests, want 2", status, n)
		}

		b = setup(t, response{status: status, body: `{}`}, response{status: 201, body: `{"id":"p"}`})
		_, err := b.client.CreateProject(context.Background(), ProjectCreate{Name: "P"})
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.Status != status {
			t.Fatalf("POST without a key answered %d: error %v, want that %d", status, err, status)
		}
		if n := len(b.fake.all()); n != 1 {
			t.Fatalf("POST without a key answered %d: %d requests, want 1", status, n)
		}

		b = setup(t, response{status: status, body: `{}`}, response{status: 201, body: `{"id":"ep_1"}`})
		if _, err := b.client.CreateEndpoint(context.Background(), "shop", EndpointCreate{URL: "https://example.com"}); err != nil {
			t.Fatalf("CreateEndpoint after a %d: %v", status, err)
		}
		reqs := b.fake.all()
		if len(reqs) != 2 || reqs[0].Header.Get("Idempotency-Key") == "" ||
			reqs[0].Header.Get("Idempotency-Key") != reqs[1].Header.Get("Idempotency-Key") {
			t.Fatalf("CreateEndpoint after a %d: %d requests, keys must be equal and set", status, len(reqs))
		}
	}
}

func TestBackoffGrowsWithJitterWithoutRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 503, body: `{}`})
	b.client.jitterFunc = jitter
	_, _ = b.client.ListProjects(context.Background(), ListOptions{})
	if len(*b.waits) != MaxRetriesDefault {
		t.Fatalf("waits %v", *b.waits)
	}
	for i, w := range *b.waits {
		base := backoffBase << i
		if w < base*8/10 || w > base*12/10 {
			t.Errorf("wait %d = %v, want %v ± 20 %%", i, w, base)
		}
	}
}

func TestPOSTsThatCreateCarryAnIdempotencyKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	calls := map[string]func(c *Client) error{
		"create endpoint": func(c *Client) error {
			_, err := c.CreateEndpoint(ctx, "shop", EndpointCreate{URL: "https://example.com"})
			return err
		},
		"replay": func(c *Client) error { _, err := c.ReplayEvent(ctx, "shop", "evt_1", Replay{}); return err },
		"retry":  func(c *Client) error { _, err := c.RetryDelivery(ctx, "shop", "dlv_1"); return err },
		"recover": func(c *Client) error {
			_, err := c.RecoverEndpoint(ctx, "shop", "ep_1", Recovery{Since: time.Unix(0, 0)})
			return err
		},
		"batch": func(c *Client) error { _, err := c.SendEvents(ctx, "shop", nil); return err },
		"create event type": func(c *Client) error {
			_, err := c.CreateEventType(ctx, "shop", EventTypeCreate{Name: "order.paid"})
			return err
		},
	}
	for name, fn := range calls {
		b := setup(t, response{status: 200, body: `{}`})
		if err := fn(b.client); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := fn(b.client); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		reqs := b.fake.all()
		k1, k2 := reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key")
		if k1 == "" || k1 == k2 {
			t.Errorf("%s: keys %q and %q, want a fresh key per call", name, k1, k2)
		}
	}
}

func TestWithIdempotencyKeyReplacesTheRandomKey(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 201, body: `{"id":"ep_1"}`})
	_, err := b.client.CreateEndpoint(context.Background(), "shop", EndpointCreate{URL: "https://example.com"}, WithIdempotencyKey("ep-for-order-42"))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.fake.all()[0].Header.Get("Idempotency-Key"); got != "ep-for-order-42" {
		t.Fatalf("Idempotency-Key = %q", got)
	}
}

func TestWithHeaderAddsHeaderButNotAuthorization(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 200, body: `{"id":"p"}`})
	_, err := b.client.GetProject(context.Background(), "p", WithHeader("X-Request-Id", "req-1"), WithHeader("Authorization", "Bearer other"))
	if err != nil {
		t.Fatal(err)
	}
	h := b.fake.all()[0].Header
	if h.Get("X-Request-Id") != "req-1" {
		t.Errorf("X-Request-Id = %q", h.Get("X-Request-Id"))
	}
	if h.Get("Authorization") != "Bearer hk_test_key" {
		t.Errorf("Authorization = %q: a request option replaced the client's key", h.Get("Authorization"))
	}
}

func TestWithTimeoutBoundsTheCall(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := New(srv.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetProject(context.Background(), "p", WithTimeout(50*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want the deadline", err)
	}
}

func TestOptionalEncodesValueNullOrNothing(t *testing.T) {
	t.Parallel()
	until := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	in := EndpointUpdate{
		ActiveUntil: Null[time.Time](),
		Auth:        Null[EndpointAuth](),
		ActiveFrom:  Set(until),
		Order:       Set(0),
	}
	got, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"active_from":"2027-01-01T00:00:00Z","active_until":null,"order":0,"auth":null}`
	if string(got) != want {
		t.Fatalf("encoded %s\nwant    %s", got, want)
	}
	var back EndpointUpdate
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if !back.ActiveUntil.IsNull() || !back.URL.IsZero() {
		t.Fatalf("decoded %+v", back)
	}
	if v, ok := back.ActiveFrom.Get(); !ok || !v.Equal(until) {
		t.Fatalf("active_from decoded as %v, %v", v, ok)
	}
}

// TestPOSTsTheServerDoesNotDeduplicateAreNeverRepeated: Herald honours
// Idempotency-Key only on some POSTs (see TestIntegrationProjectCreateIgnoresIdempotencyKey).
// A caller's key on another one — a project, an API key, a rotation, a
// test send, a hook run — does not make it safe: repeated after a dropped
// connection, a 502 or a 504, it could act twice.
func TestPOSTsTheServerDoesNotDeduplicateAreNeverRepeated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	calls := map[string]func(c *Client, o RequestOption) error{
		"create project": func(c *Client, o RequestOption) error {
			_, err := c.CreateProject(ctx, ProjectCreate{Name: "P"}, o)
			return err
		},
		"create api key": func(c *Client, o RequestOption) error {
			_, err := c.CreateAPIKey(ctx, "shop", APIKeyCreate{Name: "ci"}, o)
			return err
		},
		"rotate secret": func(c *Client, o RequestOption) error {
			_, err := c.RotateEndpointSecret(ctx, "shop", "ep_1", SecretRotation{}, o)
			return err
		},
		"test endpoint": func(c *Client, o RequestOption) error {
			_, err := c.TestEndpoint(ctx, "shop", "ep_1", EndpointTest{}, o)
			return err
		},
		"run hook": func(c *Client, o RequestOption) error {
			_, err := c.RunHook(ctx, "shop", "user.created", HookInput{Data: map[string]int{}}, o)
			return err
		},
	}
	keys := map[string]RequestOption{
		"WithIdempotencyKey": WithIdempotencyKey("caller-key"),
		"WithHeader":         WithHeader("Idempotency-Key", "caller-key"),
	}
	for name, fn := range calls {
		for how, opt := range keys {
			c, d := dropClient(t, 1, `{"id":"x"}`)
			if err := fn(c, opt); err == nil {
				t.Errorf("%s (%s): no error after a dropped connection", name, how)
			}
			if n := d.seen.Load(); n != 1 {
				t.Errorf("%s (%s): %d requests after a dropped connection, want 1", name, how, n)
			}
			for _, status := range []int{502, 504} {
				b := setup(t, response{status: status, body: `{}`}, response{status: 201, body: `{"id":"x"}`})
				err := fn(b.client, opt)
				var apiErr *Error
				if !errors.As(err, &apiErr) || apiErr.Status != status {
					t.Errorf("%s (%s) answered %d: error %v, want that %d", name, how, status, err, status)
				}
				if n := len(b.fake.all()); n != 1 {
					t.Errorf("%s (%s) answered %d: %d requests, want 1", name, how, status, n)
				}
			}
		}
	}
}
