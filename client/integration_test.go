package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/client"
	"github.com/herald-dev/herald/internal/api"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/hook"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/herald-dev/herald/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests drive every client method against a real Herald: the API,
// the delivery engine and the hook runner over a SQLite file, served on
// loopback. They check that the client and the server agree on routes,
// fields and errors, which the fake-server tests of client_test.go cannot.

const integrationAdminKey = "hk_admin_client_integration"

// heraldBundle is one in-process Herald and an admin client of it.
type heraldBundle struct {
	url   string
	admin *client.Client
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// setupHerald starts Herald on a temporary database. Private networks are
// allowed, since the receivers of these tests listen on loopback.
func setupHerald(t *testing.T) *heraldBundle {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })

	eng, err := delivery.New(delivery.Config{AllowPrivateNetworks: true, PollInterval: 20 * time.Millisecond, Logger: quiet}, st)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = eng.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	runner := hook.New(eng, hook.Config{Logger: quiet})
	srv, err := api.New(api.Config{
		Store:        st,
		Engine:       eng,
		Guard:        netguard.New(true, nil),
		AdminKeyHash: herald.HashKey(integrationAdminKey),
		RateLimit:    -1,
		Logger:       quiet,
		Hooks: func(ctx context.Context, p *herald.Project, eventType string, body []byte) (any, error) {
			return runner.RunJSON(ctx, p, eventType, body)
		},
	})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &heraldBundle{url: ts.URL, admin: newClient(t, ts.URL, integrationAdminKey)}
}

func newClient(t *testing.T, url, key string) *client.Client {
	t.Helper()
	c, err := client.New(url, key, client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	require.NoError(t, err)
	return c
}

// project creates a project with the admin client and returns a client
// holding the project's own key.
func (b *heraldBundle) project(t *testing.T, slug string) *client.Client {
	t.Helper()
	p, err := b.admin.CreateProject(context.Background(), client.ProjectCreate{Name: "Project " + slug, ID: slug})
	require.NoError(t, err)
	require.Equal(t, slug, p.ID)
	require.NotEmpty(t, p.APIKey)
	return newClient(t, b.url, p.APIKey)
}

// requireAPIError asserts that err is a *client.Error with the status.
func requireAPIError(t *testing.T, err error, status int) *client.Error {
	t.Helper()
	var apiErr *client.Error
	require.True(t, errors.As(err, &apiErr), "error %v (%T) is not a *client.Error", err, err)
	require.Equal(t, status, apiErr.Status, "error: %v", apiErr)
	return apiErr
}

// requireLocation asserts a 422 naming the location among its field errors.
func requireLocation(t *testing.T, err error, location string) {
	t.Helper()
	apiErr := requireAPIError(t, err, http.StatusUnprocessableEntity)
	var locs []string
	for _, f := range apiErr.Errors {
		if f.Location == location {
			require.NotEmpty(t, f.Message)
			return
		}
		locs = append(locs, f.Location)
	}
	t.Fatalf("no field error at %q; errors at %v", location, locs)
}

// receiver is a webhook receiver on loopback that answers status and
// checks each request's signature with the secrets it is given.
type receiver struct {
	*testkit.Receiver
	url string

	mu      sync.Mutex
	secrets []string
}

// received is one request as the receiver saw it.
type received struct {
	header http.Header
	body   []byte
	valid  map[string]bool // secret → does it verify
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	rc := &receiver{Receiver: testkit.NewReceiver(t, testkit.Status(status))}
	rc.url = rc.URL + "/webhooks"
	return rc
}

func (rc *receiver) setStatus(s int) { rc.SetRespond(testkit.Status(s)) }

func (rc *receiver) trust(secrets ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secrets = append(rc.secrets, secrets...)
}

// all is every request so far, each checked against the trusted secrets.
func (rc *receiver) all() []received {
	rc.mu.Lock()
	secrets := append([]string(nil), rc.secrets...)
	rc.mu.Unlock()
	var out []received
	for _, r := range rc.Requests() {
		got := received{header: r.Header, body: r.Body, valid: map[string]bool{}}
		for _, s := range secrets {
			got.valid[s] = webhook.Verify(s, r.Header, r.Body) == nil
		}
		out = append(out, got)
	}
	return out
}

func TestIntegrationProjectsAndAPIKeys(t *testing.T) {
	t.Parallel()
	b := setupHerald(t)
	ctx := context.Background()

	created, err := b.admin.CreateProject(ctx, client.ProjectCreate{Name: "Shop", ID: "shop"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(created.APIKey, "hk_"), "api_key %q", created.APIKey)
	require.False(t, created.CreatedAt.IsZero())
	generated, err := b.admin.CreateProject(ctx, client.ProjectCreate{Name: "No slug"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(generated.ID, "prj_"), "id %q", generated.ID)

	page, err := b.admin.ListProjects(ctx, client.ListOptions{Limit: 1})
	require.NoError(t, err)
	require.Len(t, page.Data, 1)
	require.NotEmpty(t, page.NextCursor, "two projects, pages of one")
	var ids []string
	for p, err := range client.All(ctx, func(ctx context.Context, cursor string) (*client.Page[client.Project], error) {
		return b.admin.ListProjects(ctx, client.ListOptions{Limit: 1, Cursor: cursor})
	}) {
		require.NoError(t, err)
		ids = append(ids, p.ID)
	}
	require.ElementsMatch(t, []string{"shop", generated.ID}, ids)

	shop := newClient(t, b.url, created.APIKey)
	own, err := shop.GetProject(ctx, "shop")
	require.NoError(t, err)
	require.Equal(t, "Shop", own.Name)
	require.Empty(t, own.APIKey, "the key is shown only when the project is created")

	renamed, err := b.admin.UpdateProject(ctx, "shop", client.ProjectUpdate{Name: client.Set("Shop EU"), StrictEventTypes: client.Set(true)})
	require.NoError(t, err)
	require.Equal(t, "Shop EU", renamed.Name)
	require.True(t, renamed.StrictEventTypes)

	key, err := shop.CreateAPIKey(ctx, "shop", client.APIKeyCreate{})
	require.NoError(t, err)
	require.NotEmpty(t, key.ID)
	require.True(t, strings.HasPrefix(key.Key, "hk_"), "key %q", key.Key)
	keys, err := shop.ListAPIKeys(ctx, "shop", client.ListOptions{})
	require.NoError(t, err)
	require.Len(t, keys.Data, 2)
	for _, k := range keys.Data {
		require.Empty(t, k.Key, "a list never shows the keys themselves")
		require.NotEmpty(t, k.Prefix)
	}
	second := newClient(t, b.url, key.Key)
	_, err = second.GetProject(ctx, "shop")
	require.NoError(t, err, "the new key works")
	require.NoError(t, shop.DeleteAPIKey(ctx, "shop", key.ID))
	_, err = second.GetProject(ctx, "shop")
	requireAPIError(t, err, http.StatusUnauthorized)

	require.NoError(t, b.admin.DeleteProject(ctx, "shop"))
	_, err = b.admin.GetProject(ctx, "shop")
	requireAPIError(t, err, http.StatusNotFound)
}

func TestIntegrationProjectKeySeesAnotherProjectAsNotFound(t *testing.T) {
	t.Parallel()
	b := setupHerald(t)
	ctx := context.Background()
	shop := b.project(t, "shop")
	b.project(t, "forum")

	_, err := shop.GetProject(ctx, "forum")
	requireAPIError(t, err, http.StatusNotFound)
	_, err = shop.ListEndpoints(ctx, "forum", client.EndpointListOptions{})
	requireAPIError(t, err, http.StatusNotFound)
	_, err = shop.SendEvent(ctx, "forum", client.EventInput{Type: "user.created", Data: map[string]any{}})
	requireAPIError(t, err, http.StatusNotFound)

	stranger := newClient(t, b.url, "hk_not_a_key")
	_, err = stranger.GetProject(ctx, "shop")
	apiErr := requireAPIError(t, err, http.StatusUnauthorized)
	require.Contains(t, apiErr.Error(), "401")
}

func TestIntegrationEventTypes(t *testing.T) {
	t.Parallel()
	b := setupHerald(t)
	ctx := context.Background()
	c := b.project(t, "shop")

	schema := json.RawMessage(`{"type":"object","required":["order_id"],"properties":{"order_id":{"type":"string"}}}`)
	et, err := c.CreateEventType(ctx, "shop", client.EventTypeCreate{
		Name: "order.paid", Description: "An order was paid", Schema: schema, Example: json.RawMessage(`{"order_id":"o_1"}`),
	})
	require.NoError(t, err)
	require.Equal(t, "order.paid", et.Name)
	require.JSONEq(t, string(schema), string(et.Schema))

	_, err = c.CreateEventType(ctx, "shop", client.EventTypeCreate{Name: "bad name!"})
	requireLocation(t, err, "body.name")

	list, err := c.ListEventTypes(ctx, "shop", client.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Data, 1)

	got, err := c.GetEventType(ctx, "shop", "order.paid")
	require.NoError(t, err)
	require.Equal(t, "An order was paid", got.Description)
	require.JSONEq(t, `{"order_id":"o_1"}`, string(got.Example))

	updated, err := c.UpdateEventType(ctx, "shop", "order.paid", client.EventTypeUpdate{Description: client.Set("Paid")})
	require.NoError(t, err)
	require.Equal(t, "Paid", updated.Description)
	require.JSONEq(t, string(schema), string(updated.Schema), "fields not given are kept")

	// The schema applies to ingest: a 422 naming the data.
	_, err = c.SendEvent(ctx, "shop", client.EventInput{Type: "order.paid", Data: map[string]any{"order_id": 42}})
	apiErr := requireAPIError(t, err, http.StatusUnprocessableEntity)
	require.NotEmpty(t, apiErr.Errors)
	require.True(t, strings.HasPrefix(apiErr.Errors[0].Location, "body.data"), "location %q", apiErr.Errors[0].Location)

	// Null clears the schema: the same data is accepted now.
	updated, err = c.UpdateEventType(ctx, "shop", "order.paid", client.EventTypeUpdate{Schema: client.Null[json.RawMessage]()})
	require.NoError(t, err)
	require.Empty(t, updated.Schema)
	_, err = c.SendEvent(ctx, "shop", client.EventInput{Type: "order.paid", Data: map[string]any{"order_id": 42}})
	require.NoError(t, err)

	require.NoError(t, c.DeleteEventType(ctx, "shop", "order.paid"))
	_, err = c.GetEventType(ctx, "shop", "order.paid")
	requireAPIError(t, err, http.StatusNotFound)
}

func TestIntegrationEndpoints(t *testing.T) {
	t.Parallel()
	b := setupHerald(t)
	ctx := context.Background()
	c := b.project(t, "shop")
	rc := newReceiver(t, http.StatusOK)

	_, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: "ftp://example.com/x"})
	requireLocation(t, err, "body.url")
	apiErr := requireAPIError(t, err, http.StatusUnprocessableEntity)
	require.Equal(t, "body.url", apiErr.Errors[0].Location)
	require.Contains(t, apiErr.Error(), "body.url")

	first := webhook.NewSecret()
	ep, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{
		URL:           rc.url,
		Name:          "CRM",
		EventTypes:    []string{"order.*"},
		Timeout:       "5s",
		RetrySchedule: []string{"1s", "1m"},
		Headers:       map[string]string{"X-Team": "billing"},
		Auth:          &client.EndpointAuth{Bearer: "s3cret-token"},
		Secret:        first,
		Metadata:      map[string]string{"owner": "ops"},
	})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(ep.ID, "ep_"), "id %q", ep.ID)
	require.Equal(t, first, ep.Secret)
	require.Equal(t, "shop", ep.ProjectID)
	require.True(t, ep.Enabled)
	require.Equal(t, "healthy", ep.Status)
	require.Equal(t, client.ResponseWait, ep.ResponseMode, "the default")
	require.Equal(t, client.FailClosed, ep.FailurePolicy, "the default")
	require.Equal(t, []string{"1s", "1m"}, ep.RetrySchedule)
	require.Equal(t, 10, ep.MaxInFlight, "the default")

	list, err := c.ListEndpoints(ctx, "shop", client.EndpointListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Data, 1)
	require.Empty(t, list.Data[0].Secret, "only the create answer carries the secret")

	got, err := c.GetEndpoint(ctx, "shop", ep.ID)
	require.NoError(t, err)
	require.Equal(t, "CRM", got.Name)
	require.Equal(t, map[string]string{"X-Team": "********"}, got.Headers, "header values may be credentials: masked in reads")
	require.NotNil(t, got.Auth)
	require.NotEqual(t, "s3cret-token", got.Auth.Bearer, "credentials are redacted in reads")

	updated, err := c.UpdateEndpoint(ctx, "shop", ep.ID, client.EndpointUpdate{
		Name:       client.Set("CRM v2"),
		EventTypes: client.Set([]string{}), // all types
		Order:      client.Set(5),
	})
	require.NoError(t, err)
	require.Equal(t, "CRM v2", updated.Name)
	require.Empty(t, updated.EventTypes)
	require.Equal(t, 5, updated.Order)
	require.Equal(t, "5s", updated.Timeout, "fields not given are kept")
	_, err = c.UpdateEndpoint(ctx, "shop", ep.ID, client.EndpointUpdate{Timeout: client.Set("5 minutes")})
	requireLocation(t, err, "body.timeout")

	sec, err := c.GetEndpointSecret(ctx, "shop", ep.ID)
	require.NoError(t, err)
	require.Equal(t, first, sec.Secret)
	require.Nil(t, sec.PreviousSecretUntil)

	// A test attempt goes out now, signed with the current secret.
	rc.trust(first)
	att, err := c.TestEndpoint(ctx, "shop", ep.ID, client.EndpointTest{})
	require.NoError(t, err)
	require.True(t, att.Succeeded(), "attempt %+v", att)
	require.Equal(t, http.StatusOK, att.ResponseStatus)
	require.Equal(t, 1, att.Number)
	reqs := rc.all()
	require.Len(t, reqs, 1)
	require.True(t, reqs[0].valid[first], "the test request verifies with the secret")
	require.Equal(t, "Bearer s3cret-token", reqs[0].header.Get("Authorization"))
	require.Equal(t, "billing", reqs[0].header.Get("X-Team"))

	// During a rotation's grace period both secrets sign.
	second := webhook.NewSecret()
	rotated, err := c.RotateEndpointSecret(ctx, "shop", ep.ID, client.SecretRotation{Secret: second, GracePeriod: "1h"})
	require.NoError(t, err)
	require.Equal(t, second, rotated.Secret)
	require.NotNil(t, rotated.PreviousSecretUntil)
	require.WithinDuration(t, time.Now().Add(time.Hour), *rotated.PreviousSecretUntil, time.Minute)
	rc.trust(second)
	_, err = c.TestEndpoint(ctx, "shop", ep.ID, client.EndpointTest{})
	require.NoError(t, err)
	reqs = rc.all()
	require.Len(t, reqs, 2)
	require.True(t, reqs[1].valid[first] && reqs[1].valid[second], "both secrets verify during the grace period: %v", reqs[1].valid)
	_, err = c.RotateEndpointSecret(ctx, "shop", ep.ID, client.SecretRotation{Secret: "not-a-secret"})
	requireLocation(t, err, "body.secret")

	stats, err := c.GetEndpointStats(ctx, "shop", ep.ID, client.StatsOptions{Since: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 2, stats.Attempts)
	require.Equal(t, 2, stats.Succeeded)
	require.InDelta(t, 1.0, stats.SuccessRate, 1e-9)
	require.False(t, stats.Until.IsZero())

	// Null clears: a validity end and the auth set, then both cleared.
	until := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	updated, err = c.UpdateEndpoint(ctx, "shop", ep.ID, client.EndpointUpdate{ActiveUntil: client.Set(until)})
	require.NoError(t, err)
	require.NotNil(t, updated.ActiveUntil)
	require.True(t, until.Equal(*updated.ActiveUntil))
	require.NotNil(t, updated.Auth)
	updated, err = c.UpdateEndpoint(ctx, "shop", ep.ID, client.EndpointUpdate{
		ActiveUntil: client.Null[time.Time](),
		Auth:        client.Null[client.EndpointAuth](),
	})
	require.NoError(t, err)
	require.Nil(t, updated.ActiveUntil, "null clears active_until")
	require.Nil(t, updated.Auth, "null clears auth")
	require.Equal(t, "CRM v2", updated.Name, "fields not given are kept")

	require.NoError(t, c.DeleteEndpoint(ctx, "shop", ep.ID))
	_, err = c.GetEndpoint(ctx, "shop", ep.ID)
	requireAPIError(t, err, http.StatusNotFound)
}

func TestIntegrationEventsAndDeliveries(t *testing.T) {
	t.Parallel()
	b := setupHerald(t)
	ctx := context.Background()
	c := b.project(t, "shop")
	rc := newReceiver(t, http.StatusNoContent)
	secret := webhook.NewSecret()
	rc.trust(secret)
	ep, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: rc.url, EventTypes: []string{"order.*"}, Secret: secret})
	require.NoError(t, err)

	// Ingest, with the automatic Idempotency-Key.
	sent, err := c.SendEvent(ctx, "shop", client.EventInput{
		Type: "order.paid", Data: map[string]any{"order_id": "o_1"}, Channels: []string{"acct_42"},
		Metadata: map[string]string{"request_id": "r_1"},
	})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(sent.ID, "evt_"), "id %q", sent.ID)
	require.Equal(t, "order.paid", sent.Type)
	require.Equal(t, 1, sent.Deliveries)
	require.False(t, sent.Replayed)

	// A repeat with the same key and body is the original event; with
	// another body, a conflict.
	in := client.EventInput{Type: "order.paid", Data: map[string]any{"order_id": "o_2"}, IdempotencyKey: "order-o_2-paid"}
	first, err := c.SendEvent(ctx, "shop", in)
	require.NoError(t, err)
	again, err := c.SendEvent(ctx, "shop", in)
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, first.ID, again.ID)
	in.Data = map[string]any{"order_id": "o_3"}
	_, err = c.SendEvent(ctx, "shop", in)
	requireAPIError(t, err, http.StatusConflict)

	// The body's id is the idempotency key too.
	byID, err := c.SendEvent(ctx, "shop", client.EventInput{ID: "order-o_4", Type: "order.refunded", Data: map[string]any{}})
	require.NoError(t, err)
	byIDAgain, err := c.SendEvent(ctx, "shop", client.EventInput{ID: "order-o_4", Type: "order.refunded", Data: map[string]any{}})
	require.NoError(t, err)
	require.True(t, byIDAgain.Replayed)
	require.Equal(t, byID.ID, byIDAgain.ID)

	_, err = c.SendEvent(ctx, "shop", client.EventInput{Type: "order.paid", Data: []int{1}})
	requireLocation(t, err, "body.data")

	// A batch: each event accepted or refused on its own.
	batch, err := c.SendEvents(ctx, "shop", []client.EventInput{
		{Type: "order.shipped", Data: map[string]any{"n": 1}},
		{Type: "order.shipped", Data: "not an object"},
		{Type: "user.created", Data: map[string]any{"n": 3}},
	})
	require.NoError(t, err)
	require.Len(t, batch.Data, 3)
	require.True(t, strings.HasPrefix(batch.Data[0].ID, "evt_"), "item 0: %+v", batch.Data[0])
	require.Nil(t, batch.Data[0].Error)
	require.Equal(t, 1, batch.Data[0].Deliveries)
	require.Equal(t, "order.shipped", batch.Data[0].Type)
	require.Empty(t, batch.Data[1].ID)
	require.NotNil(t, batch.Data[1].Error)
	require.Equal(t, http.StatusUnprocessableEntity, batch.Data[1].Error.Status)
	require.NotEmpty(t, batch.Data[1].Error.Errors)
	require.Equal(t, "body.events[1].data", batch.Data[1].Error.Errors[0].Location)
	require.Equal(t, 0, batch.Data[2].Deliveries, "no endpoint takes user.*")

	// Lists and filters.
	shipped, err := c.ListEvents(ctx, "shop", client.EventListOptions{Type: "order.shipped"})
	require.NoError(t, err)
	require.Len(t, shipped.Data, 1)
	require.Equal(t, batch.Data[0].ID, shipped.Data[0].ID)
	inChannel, err := c.ListEvents(ctx, "shop", client.EventListOptions{Channel: "acct_42", Since: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	require.Len(t, inChannel.Data, 1)
	require.Equal(t, sent.ID, inChannel.Data[0].ID)
	var count int
	for _, err := range client.All(ctx, func(ctx context.Context, cursor string) (*client.Page[client.Event], error) {
		return c.ListEvents(ctx, "shop", client.EventListOptions{ListOptions: client.ListOptions{Limit: 2, Cursor: cursor}})
	}) {
		require.NoError(t, err)
		count++
	}
	require.Equal(t, 5, count, "o_1, o_2, o_4, and two of the batch")

	// The event arrives signed; its delivery and attempt are logged.
	var dlv *client.Delivery
	testkit.WaitFor(t, "the delivery to succeed", func() bool {
		ev, err := c.GetEvent(ctx, "shop", sent.ID)
		require.NoError(t, err)
		if len(ev.Deliveries) != 1 {
			return false
		}
		dlv = &ev.Deliveries[0]
		return dlv.Status == client.DeliverySucceeded
	})
	ev, err := c.GetEvent(ctx, "shop", sent.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"order_id":"o_1"}`, string(ev.Data))
	require.Equal(t, []string{"acct_42"}, ev.Channels)
	require.Equal(t, "r_1", ev.Metadata["request_id"])
	require.Equal(t, ep.ID, dlv.EndpointID)

	var delivered *received
	for _, r := range rc.all() {
		if r.header.Get(webhook.HeaderID) == sent.ID {
			delivered = &r
		}
	}
	require.NotNil(t, delivered, "the receiver got the event")
	require.True(t, delivered.valid[secret], "the delivery verifies with the endpoint's secret")

	got, err := c.GetDelivery(ctx, "shop", dlv.ID)
	require.NoError(t, err)
	require.Equal(t, client.DeliverySucceeded, got.Status)
	require.Equal(t, 1, got.Attempts)
	require.Equal(t, sent.ID, got.EventID)
	require.Equal(t, http.StatusNoContent, got.LastResponseStatus)
	require.NotNil(t, got.SucceededAt)

	byEvent, err := c.ListDeliveries(ctx, "shop", client.DeliveryListOptions{EventID: sent.ID})
	require.NoError(t, err)
	require.Len(t, byEvent.Data, 1)
	require.Equal(t, dlv.ID, byEvent.Data[0].ID)
	none, err := c.ListDeliveries(ctx, "shop", client.DeliveryListOptions{EndpointID: ep.ID, Status: client.DeliveryExhausted})
	require.NoError(t, err)
	require.Empty(t, none.Data)
	_, err = c.ListDeliveries(ctx, "shop", client.DeliveryListOptions{Status: "lost"})
	requireLocation(t, err, "query.status")

	attempts, err := c.ListAttempts(ctx, "shop", dlv.ID, client.ListOptions{})
	require.NoError(t, err)
	require.Len(t, attempts.Data, 1)
	require.Equal(t, 1, attempts.Data[0].Number)
	require.Equal(t, rc.url, attempts.Data[0].RequestURL)
	require.True(t, attempts.Data[0].Succeeded())

	// A manual retry is one more attempt, now.
	retried, err := c.RetryDelivery(ctx, "shop", dlv.ID)
	require.NoError(t, err)
	require.Equal(t, 2, retried.Number)
	require.Equal(t, "manual", retried.Trigger)
	require.Equal(t, http.StatusNoContent, retried.ResponseStatus)
	attempts, err = c.ListAttempts(ctx, "shop", dlv.ID, client.ListOptions{})
	require.NoError(t, err)
	require.Len(t, attempts.Data, 2)

	// A replay makes new deliveries of the event.
	replay, err := c.ReplayEvent(ctx, "shop", sent.ID, client.Replay{EndpointID: ep.ID})
	require.NoError(t, err)
	require.Equal(t, 1, replay.Deliveries)
	testkit.WaitFor(t, "the replay to arrive", func() bool {
		n := 0
		for _, r := range rc.all() {
			if r.header.Get(webhook.HeaderID) == sent.ID {
				n++
			}
		}
		return n == 3 // the delivery, the manual retry, the replay
	})

	_, err = c.GetEvent(ctx, "shop", "evt_missing")
	requireAPIError(t, err, http.StatusNotFound)
	_, err = c.RetryDelivery(ctx, "shop", "dlv_missing")
	requireAPIError(t, err, http.StatusNotFound)
}

func TestIntegrationRecoverRequeuesExhaustedDeliveries(t *testing.T) {
	t.Parallel()
	b := setupHerald(t)
	ctx := context.Background()
	c := b.project(t, "shop")
	rc := newReceiver(t, http.StatusInternalServerError)
	// An empty retry schedule means one attempt and no retries.
	ep, err := c.CreateEndpoint(ctx, "shop", client.EndpointCreate{URL: rc.url, RetrySchedule: []string{}})
	require.NoError(t, err)
	require.Empty(t, ep.RetrySchedule)

	sent, err := c.SendEvent(ctx, "shop", client.EventInput{Type: "order.paid", Data: map[string]any{}})
	require.NoError(t, err)
	var dlvID string
	testkit.WaitFor(t, "the delivery to be exhausted", func() bool {
		page, err := c.ListDeliveries(ctx, "shop", client.DeliveryListOptions{EventID: sent.ID, Status: client.DeliveryExhausted})
		require.NoError(t, err)
		if len(page.Data) == 1 {
			dlvID = page.Data[0].ID
		}
		return dlvID != ""
	})
	attempts, err := c.ListAttempts(ctx, "shop", dlvID, client.ListOptions{})
	require.NoError(t, err)
	require.Len(t, attempts.Data, 1)
	require.Equal(t, "status", attempts.Data[0].ErrorClass)
	require.Equal(t, http.StatusInternalServerError, attempts.Data[0].ResponseStatus)

	rc.setStatus(http.StatusOK)
	res, err := c.RecoverEndpoint(ctx, "shop", ep.ID, client.Recovery{Since: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, res.Requeued)
	testkit.WaitFor(t, "the recovered delivery to succeed", func() bool {
		d, err := c.GetDelivery(ctx, "shop", dlvID)
		require.NoError(t, err)
		return d.Status == client.DeliverySucceeded
	})

	_, err = c.RecoverEndpoint(ctx, "shop", ep.ID, client.Recovery{Since: time.Now().Add(time.Hour)})
	requireLocation(t, err, "body.since")
}

func TestIntegrationRunHook(t *testing.T) {
	t.Parallel()
	b := setupHerald(t)
	ctx := context.Background()
	c := b.project(t, "game")

	// Two hooks of before_registration, each verifying Herald's signature:
	// the first fills in a nickname, the second denies taken emails.
	nickSecret, guardSecret := webhook.NewSecret(), webhook.NewSecret()
	nick := httptest.NewServer(webhook.Middleware(nickSecret, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		webhook.AllowWithData(w, map[string]string{"nickname": "Neo"})
	})))
	t.Cleanup(nick.Close)
	guard := httptest.NewServer(webhook.Middleware(guardSecret, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Data struct {
				Email    string `json:"email"`
				Nickname string `json:"nickname"`
			} `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil || env.Data.Nickname != "Neo" {
			webhook.Deny(w, "bad_request", "the nickname hook did not run first")
			return
		}
		if env.Data.Email == "taken@example.com" {
			webhook.Deny(w, "email_taken", "That email is registered")
			return
		}
		webhook.Allow(w)
	})))
	t.Cleanup(guard.Close)

	nickEP, err := c.CreateEndpoint(ctx, "game", client.EndpointCreate{
		URL: nick.URL, EventTypes: []string{"before_registration"}, ResponseMode: client.ResponseData, Order: 1, Secret: nickSecret,
	})
	require.NoError(t, err)
	guardEP, err := c.CreateEndpoint(ctx, "game", client.EndpointCreate{
		URL: guard.URL, EventTypes: []string{"before_registration"}, Order: 2, Secret: guardSecret,
	})
	require.NoError(t, err)

	ok, err := c.RunHook(ctx, "game", "before_registration", client.HookInput{
		Data: map[string]string{"email": "new@example.com"}, Timeout: "5s",
	})
	require.NoError(t, err)
	require.True(t, ok.Allowed, "verdict %+v", ok)
	require.JSONEq(t, `{"email":"new@example.com","nickname":"Neo"}`, string(ok.Data))
	require.True(t, strings.HasPrefix(ok.EventID, "evt_"), "event_id %q", ok.EventID)
	require.Len(t, ok.Results, 2)
	require.Equal(t, nickEP.ID, ok.Results[0].EndpointID)
	require.Equal(t, client.OutcomeAllowed, ok.Results[0].Outcome)
	require.Equal(t, guardEP.ID, ok.Results[1].EndpointID)

	// The run is stored as an event. A run that queued nothing is logged
	// just after its answer (docs/HOOKS.md), so the event may take a moment.
	var ev *client.Event
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		ev, err = c.GetEvent(ctx, "game", ok.EventID)
		require.NoError(ct, err)
	}, time.Minute, 10*time.Millisecond)
	require.Equal(t, "before_registration", ev.Type)
	require.True(t, ev.Hook)
	require.Equal(t, &client.HookVerdict{Allowed: true}, ev.HookVerdict)

	denied, err := c.RunHook(ctx, "game", "before_registration", client.HookInput{
		Data: map[string]string{"email": "taken@example.com"},
	})
	require.NoError(t, err, "a deny is a verdict, not an error")
	require.False(t, denied.Allowed)
	require.Equal(t, guardEP.ID, denied.DeniedBy)
	require.Equal(t, "email_taken", denied.Code)
	require.Equal(t, "That email is registered", denied.Message)
	require.Equal(t, client.OutcomeDenied, denied.Results[1].Outcome)

	_, err = c.RunHook(ctx, "game", "before_registration", client.HookInput{Data: map[string]string{}, Timeout: "forever"})
	requireLocation(t, err, "body.timeout")
}

func TestIntegrationSubscribe(t *testing.T) {
	t.Parallel()
	b := setupHerald(t)
	ctx := context.Background()
	c := b.project(t, "forum")
	rc := newReceiver(t, http.StatusOK)

	require.NoError(t, c.Subscribe(ctx, "forum", "post.created", rc.url))
	require.NoError(t, c.Subscribe(ctx, "forum", "post.created", rc.url), "subscribing again is not an error")
	list, err := c.ListEndpoints(ctx, "forum", client.EndpointListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Data, 1, "nor a second endpoint")
	require.Equal(t, rc.url, list.Data[0].URL)
	require.Equal(t, []string{"post.created"}, list.Data[0].EventTypes)

	err = c.Subscribe(ctx, "forum", "post.created", "http://127.0.0.1/"+strings.Repeat("a", 500))
	requireLocation(t, err, "body.url")
	err = c.Subscribe(ctx, "other", "post.created", rc.url)
	requireAPIError(t, err, http.StatusNotFound)
}

func TestIntegrationPageEncodesAsTheServerAnswers(t *testing.T) {
	t.Parallel()
	b := setupHerald(t)
	ctx := context.Background()
	c := b.project(t, "shop")
	page, err := c.ListEndpoints(ctx, "shop", client.EndpointListOptions{})
	require.NoError(t, err)

	req, err := http.NewRequest(http.MethodGet, b.url+"/v1/projects/shop/endpoints", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+integrationAdminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)

	encoded, err := json.Marshal(page)
	require.NoError(t, err)
	require.JSONEq(t, string(raw), string(encoded))
	require.JSONEq(t, `{"data":[],"next_cursor":null}`, string(encoded))
}

// TestIntegrationProjectAndKeyCreateIgnoreIdempotencyKey is why the client
// never repeats CreateProject or CreateAPIKey after a failure the server
// may have acted on: Herald does not deduplicate them by Idempotency-Key,
// so the same request sent twice with the same key makes two projects and
// two keys. Should the server learn to, this test fails and the client may
// retry them like the other keyed POSTs.
func TestIntegrationProjectAndKeyCreateIgnoreIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setupHerald(t)
	ctx := context.Background()
	same := client.WithIdempotencyKey("one-project-please")
	p1, err := b.admin.CreateProject(ctx, client.ProjectCreate{Name: "Shop"}, same)
	require.NoError(t, err)
	p2, err := b.admin.CreateProject(ctx, client.ProjectCreate{Name: "Shop"}, same)
	require.NoError(t, err)
	require.NotEqual(t, p1.ID, p2.ID, "the server deduplicated project create by Idempotency-Key")

	shop := newClient(t, b.url, p1.APIKey)
	sameKey := client.WithIdempotencyKey("one-key-please")
	k1, err := shop.CreateAPIKey(ctx, p1.ID, client.APIKeyCreate{Name: "ci"}, sameKey)
	require.NoError(t, err)
	k2, err := shop.CreateAPIKey(ctx, p1.ID, client.APIKeyCreate{Name: "ci"}, sameKey)
	require.NoError(t, err)
	require.NotEqual(t, k1.ID, k2.ID, "the server deduplicated API key create by Idempotency-Key")
}
