package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/client"
	"github.com/herald-dev/herald/internal/api"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/hook"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/webhook"
)

// The examples run against a Herald started in this process (see
// startHerald at the end of the file), so their output is checked by
// go test. In a program, New takes your server's URL and key instead.

// Send an event to a receiver that verifies its signature.
func Example_sendEvent() {
	herald, stop := startHerald()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(herald.URL, herald.ProjectKey)

	got := make(chan string, 1)
	secret := webhook.NewSecret()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(body, &env)
		got <- fmt.Sprintf("%s %s verified=%v", env.Type, env.Data, webhook.Verify(secret, r.Header, body) == nil)
	}))
	defer receiver.Close()

	if _, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{
		URL: receiver.URL, EventTypes: []string{"order.*"}, Secret: secret,
	}); err != nil {
		log.Fatal(err)
	}
	res, err := c.SendEvent(ctx, "shop", client.EventInput{
		Type: "order.paid",
		Data: map[string]any{"order_id": "o_1", "amount": 4200},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored with", res.Deliveries, "delivery")
	fmt.Println("received", <-got)
	// Output:
	// stored with 1 delivery
	// received order.paid {"amount":4200,"order_id":"o_1"} verified=true
}

// A refused call is a *client.Error: the problem document Herald answered
// with, its type naming the kind of problem and the fields at fault.
func ExampleError() {
	herald, stop := startHerald()
	defer stop()
	c, _ := client.New(herald.URL, herald.ProjectKey)

	_, err := c.CreateEndpoint(context.Background(), "shop", client.EndpointCreate{URL: "ftp://example.com"})
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Status, apiErr.Type, apiErr.RequestID != "")
		for _, f := range apiErr.Errors {
			fmt.Println(f.Location)
		}
	}
	// Output:
	// 422 https://herald.dev/problems/validation true
	// body.url
}

// The same idempotency key and body, sent twice (say, by two processes
// that both believe they own the order), make one event.
func ExampleWithIdempotencyKey() {
	herald, stop := startHerald()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(herald.URL, herald.ProjectKey)

	in := client.EventInput{Type: "order.paid", Data: map[string]string{"order_id": "o_42"}}
	first, err := c.SendEvent(ctx, "shop", in, client.WithIdempotencyKey("order-o_42-paid"))
	if err != nil {
		log.Fatal(err)
	}
	again, err := c.SendEvent(ctx, "shop", in, client.WithIdempotencyKey("order-o_42-paid"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same event:", first.ID == again.ID, "replayed:", again.Replayed)
	// Output: same event: true replayed: true
}

// Fields set to client.Null are sent as null: the endpoint's validity end
// and credentials are cleared, the rest is kept.
func ExampleClient_UpdateEndpoint() {
	herald, stop := startHerald()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(herald.URL, herald.ProjectKey)

	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ep, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{
		URL: "https://example.com/hooks", ActiveUntil: &until,
		Auth: &client.EndpointAuth{Bearer: "token"}, Timeout: "5s",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("until", ep.ActiveUntil.Format(time.DateOnly), "auth", ep.Auth != nil)

	ep, err = c.UpdateEndpoint(ctx, "shop", ep.ID, client.EndpointUpdate{
		ActiveUntil: client.Null[time.Time](),
		Auth:        client.Null[client.EndpointAuth](),
		Name:        client.Set("billing"),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("until", ep.ActiveUntil, "auth", ep.Auth != nil, "name", ep.Name, "timeout", ep.Timeout)
	// Output:
	// until 2030-01-01 auth true
	// until <nil> auth false name billing timeout 5s
}

// Ask the hooks subscribed to before_registration whether a registration
// may go on; this one refuses a domain.
func ExampleClient_RunHook() {
	herald, stop := startHerald()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(herald.URL, herald.ProjectKey)

	policy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Data struct {
				Email string `json:"email"`
			} `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&env)
		if filepath.Ext(env.Data.Email) == ".invalid" {
			_, _ = io.WriteString(w, `{"status":"error","code":"blocked_domain","message":"this domain cannot register"}`)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer policy.Close()
	if _, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: policy.URL, EventTypes: []string{"before_registration"}}); err != nil {
		log.Fatal(err)
	}

	for _, email := range []string{"neo@example.com", "smith@matrix.invalid"} {
		verdict, err := c.RunHook(ctx, "shop", "before_registration", client.HookInput{
			Data:    map[string]string{"email": email},
			Timeout: "3s",
		})
		if err != nil {
			log.Fatal(err)
		}
		if verdict.Allowed {
			fmt.Println(email, "allowed")
		} else {
			fmt.Println(email, "refused:", verdict.Code, verdict.Message)
		}
	}
	// Output:
	// neo@example.com allowed
	// smith@matrix.invalid refused: blocked_domain this domain cannot register
}

// A product serves each of its customers from one project: a tenant per
// customer, its endpoints, and events sent to it. A tenant's event reaches
// its own endpoints and the project-wide ones, never another tenant's.
func ExampleClient_PutTenant() {
	herald, stop := startHerald()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(herald.URL, herald.ProjectKey)

	received := make(chan string, 10)
	var stops []func()
	receiverOf := func(name string) string {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var env struct {
				TenantID string `json:"tenant_id"`
			}
			_ = json.NewDecoder(r.Body).Decode(&env)
			received <- fmt.Sprintf("%s got an event for %q", name, env.TenantID)
		}))
		stops = append(stops, ts.Close)
		return ts.URL
	}
	defer func() {
		for _, s := range stops {
			s()
		}
	}()

	for _, id := range []string{"acme", "globex"} {
		t, err := c.PutTenant(ctx, "shop", id, client.TenantPut{Name: strings.ToUpper(id[:1]) + id[1:]})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("tenant", t.ID, "created:", t.Created)
		if _, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: receiverOf(id), TenantID: id}); err != nil {
			log.Fatal(err)
		}
	}
	// The product's own sink: no tenant, so it receives every tenant's events.
	if _, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: receiverOf("the product's sink")}); err != nil {
		log.Fatal(err)
	}

	res, err := c.SendEvent(ctx, "shop", client.EventInput{Type: "order.paid", Data: map[string]string{"order_id": "o_1"}, TenantID: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("event for", res.TenantID, "with", res.Deliveries, "deliveries")
	got := []string{<-received, <-received}
	slices.Sort(got)
	for _, g := range got {
		fmt.Println(g)
	}
	// Output:
	// tenant acme created: true
	// tenant globex created: true
	// event for acme with 2 deliveries
	// acme got an event for "acme"
	// the product's sink got an event for "acme"
}

// exampleHerald is a Herald served in-process, with a project "shop".
type exampleHerald struct {
	URL        string
	ProjectKey string
}

// startHerald starts Herald on a temporary SQLite file, lets endpoints
// target loopback (the examples' receivers listen there), creates the
// project "shop" and returns a function that stops it all.
func startHerald() (*exampleHerald, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	dir, err := os.MkdirTemp("", "herald-example-")
	if err != nil {
		log.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "herald.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := delivery.New(delivery.Config{AllowPrivateNetworks: true, PollInterval: 20 * time.Millisecond, Logger: quiet}, st)
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = eng.Run(ctx); close(done) }()
	runner := hook.New(eng, hook.Config{Logger: quiet})
	const adminKey = "hk_admin_example"
	srv, err := api.New(api.Config{
		Store: st, Engine: eng, Guard: netguard.New(true, nil),
		AdminKeyHash: herald.HashKey(adminKey), RateLimit: -1, Logger: quiet,
		Hooks: func(ctx context.Context, p *herald.Project, eventType string, body []byte) (any, error) {
			return runner.RunJSON(ctx, p, eventType, body)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	admin, _ := client.New(ts.URL, adminKey)
	p, err := admin.CreateProject(ctx, client.ProjectCreate{Name: "Shop", ID: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	return &exampleHerald{URL: ts.URL, ProjectKey: p.APIKey}, func() {
		ts.Close()
		cancel()
		<-done
		st.Close()
		os.RemoveAll(dir)
	}
}
