package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/client"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/secret"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/postgres"
	"github.com/herald-dev/herald/internal/store/postgres/pgtest"
	"github.com/herald-dev/herald/internal/store/sealed"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// The Idempotency-Key tests run over HTTP against a server on each store,
// with endpoint secrets encrypted as `herald serve` does.

// onEachStore runs fn against a fresh server over SQLite and over
// PostgreSQL (skipped when HERALD_TEST_POSTGRES_URL is not set).
func onEachStore(t *testing.T, fn func(t *testing.T, b *bundle)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, serveOn(t, openSQLite(t)))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		base := os.Getenv("HERALD_TEST_POSTGRES_URL")
		if base == "" {
			t.Skip("set HERALD_TEST_POSTGRES_URL to run against PostgreSQL")
		}
		dbURL, drop, err := pgtest.CreateTestDatabase(context.Background(), base)
		require.NoError(t, err)
		t.Cleanup(drop)
		st, err := postgres.Open(context.Background(), dbURL, postgres.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		fn(t, serveOn(t, st))
	})
}

// serveOn starts an engine and an API server over st, its endpoint
// secrets sealed.
func serveOn(t *testing.T, inner store.Store) *bundle {
	t.Helper()
	ctx := context.Background()
	c, err := secret.NewCipher("idempotency tests: a long enough random key")
	require.NoError(t, err)
	st := sealed.New(inner, c)
	eng, err := delivery.New(delivery.Config{AllowPrivateNetworks: true, PollInterval: 20 * time.Millisecond, Logger: discard}, st)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = eng.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	hash, admin, err := EnsureAdminKey(ctx, st, "")
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	srv, err := New(Config{Store: st, Engine: eng, Guard: netguard.New(true, nil), AdminKeyHash: hash, RateLimit: -1, Registerer: reg, Gatherer: reg, Logger: discard})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &bundle{t: t, url: ts.URL, store: st, engine: eng, server: srv, admin: admin, reg: reg}
}

// endpointCount is how many endpoints the project has.
func (b *bundle) endpointCount(project string) int {
	b.t.Helper()
	eps, err := b.store.ProjectEndpoints(context.Background(), project)
	require.NoError(b.t, err)
	return len(eps)
}

func TestIdempotencyKeyRepeatCreatesOneEndpoint(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, b *bundle) {
		p, key := b.project("shop")
		rc := testkit.NewReceiver(t, testkit.Status(200))
		body := map[string]any{"url": rc.URL, "name": "orders"}
		first := b.do("POST", "/v1/projects/"+p+"/endpoints", key, body, "Idempotency-Key", "create-1").requireStatus(t, 201)
		require.Empty(t, first.Header.Get("Idempotent-Replayed"))
		again := b.do("POST", "/v1/projects/"+p+"/endpoints", key, body, "Idempotency-Key", "create-1").requireStatus(t, 201)
		require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		f, a := first.obj(t), again.obj(t)
		require.Equal(t, f["id"], a["id"])
		require.NotEmpty(t, f["secret"])
		require.Equal(t, f["secret"], a["secret"], "the repeat shows the secret, read from the store")
		require.Equal(t, 1, b.endpointCount(p))

		// Without the key, the same body creates another endpoint.
		b.do("POST", "/v1/projects/"+p+"/endpoints", key, body).requireStatus(t, 201)
		require.Equal(t, 2, b.endpointCount(p))
	})
}

func TestIdempotencyKeyWithAnotherBodyOrRouteIsAConflict(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, b *bundle) {
		p, key := b.project("shop")
		rc := testkit.NewReceiver(t, testkit.Status(200))
		b.do("POST", "/v1/projects/"+p+"/endpoints", key, map[string]any{"url": rc.URL}, "Idempotency-Key", "k").requireStatus(t, 201)
		res := b.do("POST", "/v1/projects/"+p+"/endpoints", key, map[string]any{"url": rc.URL + "/other"}, "Idempotency-Key", "k").requireStatus(t, 409)
		require.Equal(t, ProblemTypeBase+herald.KindIdempotencyConflict, res.problem(t).Type)
		res = b.do("POST", "/v1/projects/"+p+"/event-types", key, map[string]any{"url": rc.URL}, "Idempotency-Key", "k").requireStatus(t, 409)
		require.Equal(t, ProblemTypeBase+herald.KindIdempotencyConflict, res.problem(t).Type)
		require.Equal(t, 1, b.endpointCount(p))
	})
}

func TestIdempotencyKeyConcurrentPairCreatesOneEndpoint(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, b *bundle) {
		p, key := b.project("shop")
		rc := testkit.NewReceiver(t, testkit.Status(200))
		body := mustJSON(t, map[string]any{"url": rc.URL})
		for round := range 5 {
			idem := fmt.Sprint("pair-", round)
			start := make(chan struct{})
			var wg sync.WaitGroup
			statuses := make([]int, 2)
			replayed := make([]bool, 2)
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequest("POST", b.url+"/v1/projects/"+p+"/endpoints", nil)
					req.Header.Set("Authorization", "Bearer "+key)
					req.Header.Set("Idempotency-Key", idem)
					<-start
					req.Body = io.NopCloser(bytes.NewReader(body))
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					statuses[i], replayed[i] = res.StatusCode, res.Header.Get("Idempotent-Replayed") == "true"
				}()
			}
			close(start)
			wg.Wait()
			created := 0
			for i, st := range statuses {
				require.Contains(t, []int{201, 409}, st, "round %d: a repeat gets the creation or 409 in progress", round)
				if st == 201 && !replayed[i] {
					created++
				}
			}
			require.Equal(t, 1, created, "round %d: exactly one of the pair acted (%v, replayed %v)", round, statuses, replayed)
			require.Equal(t, round+1, b.endpointCount(p), "round %d", round)
		}
	})
}

func TestIdempotencyKeyOfAFailedRequestIsNotRemembered(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, b *bundle) {
		p, key := b.project("shop")
		rc := testkit.NewReceiver(t, testkit.Status(200))
		b.do("POST", "/v1/projects/"+p+"/endpoints", key, map[string]any{"url": "not a url"}, "Idempotency-Key", "k").requireField(t, "body.url")
		res := b.do("POST", "/v1/projects/"+p+"/endpoints", key, map[string]any{"url": rc.URL}, "Idempotency-Key", "k").requireStatus(t, 201)
		require.Empty(t, res.Header.Get("Idempotent-Replayed"), "the corrected request ran")
		require.Equal(t, 1, b.endpointCount(p))
	})
}

func TestIdempotencyKeyIsPerProject(t *testing.T) {
	t.Parallel()
	b := serveOn(t, openSQLite(t))
	rc := testkit.NewReceiver(t, testkit.Status(200))
	p1, k1 := b.project("one")
	p2, k2 := b.project("two")
	body := map[string]any{"url": rc.URL}
	b.do("POST", "/v1/projects/"+p1+"/endpoints", k1, body, "Idempotency-Key", "same").requireStatus(t, 201)
	res := b.do("POST", "/v1/projects/"+p2+"/endpoints", k2, body, "Idempotency-Key", "same").requireStatus(t, 201)
	require.Empty(t, res.Header.Get("Idempotent-Replayed"))
	require.Equal(t, 1, b.endpointCount(p1))
	require.Equal(t, 1, b.endpointCount(p2))
}

func TestIdempotencyKeyTooLongOrNotTextIsRefused(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, b *bundle) {
		p, key := b.project("shop")
		body := map[string]any{"url": "https://example.com"}
		long := strings.Repeat("k", herald.IdempotencyKeyMaxLen+1)
		b.do("POST", "/v1/projects/"+p+"/endpoints", key, body, "Idempotency-Key", long).requireField(t, "header.Idempotency-Key")
		b.do("POST", "/v1/projects/"+p+"/endpoints", key, body, "Idempotency-Key", "k\xff\xfe").requireField(t, "header.Idempotency-Key")
		require.Equal(t, 0, b.endpointCount(p))
	})
}

// The other keyed routes: a repeat answers the first answer and does not
// act again.
func TestIdempotencyKeyRepeatOfReplayRetryRecoverAndEventTypeActsOnce(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		p, key := b.project("shop")
		rc := testkit.NewReceiver(t, testkit.Status(500))
		ep := b.endpoint(p, key, map[string]any{"url": rc.URL, "retry_schedule": []string{"1h"}})
		ev := b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "order.paid", "data": map[string]any{}}).requireStatus(t, 202).obj(t)
		evID := ev["id"].(string)
		deliveries := func() []*herald.Delivery {
			ds, _, err := b.store.ListDeliveries(ctx, p, store.DeliveryFilter{EventID: evID}, store.Page{Limit: 100})
			require.NoError(t, err)
			return ds
		}
		testkit.WaitFor(t, "the first attempt", func() bool { ds := deliveries(); return len(ds) == 1 && ds[0].Attempts == 1 })

		// Replay: one new delivery, however many repeats.
		for i := range 2 {
			res := b.do("POST", "/v1/projects/"+p+"/events/"+evID+"/replay", key, map[string]any{}, "Idempotency-Key", "replay-1").requireStatus(t, 202)
			require.JSONEq(t, `{"deliveries":1}`, string(res.Body))
			require.Equal(t, i == 1, res.Header.Get("Idempotent-Replayed") == "true")
		}
		require.Len(t, deliveries(), 2)

		// Retry: one attempt, however many repeats.
		ds := deliveries()
		d := ds[len(ds)-1]
		testkit.WaitFor(t, "the replay's first attempt", func() bool {
			got, err := b.store.GetDelivery(ctx, p, d.ID)
			require.NoError(t, err)
			return got.Attempts >= 1
		})
		before, err := b.store.ListAttempts(ctx, p, d.ID)
		require.NoError(t, err)
		first := b.do("POST", "/v1/projects/"+p+"/deliveries/"+d.ID+"/retry", key, map[string]any{}, "Idempotency-Key", "retry-1").requireStatus(t, 200)
		again := b.do("POST", "/v1/projects/"+p+"/deliveries/"+d.ID+"/retry", key, map[string]any{}, "Idempotency-Key", "retry-1").requireStatus(t, 200)
		require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(first.Body), string(again.Body))
		after, err := b.store.ListAttempts(ctx, p, d.ID)
		require.NoError(t, err)
		require.Len(t, after, len(before)+1, "one manual attempt")

		// Recover: the same count answered again.
		since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		rec := map[string]any{"since": since}
		first = b.do("POST", "/v1/projects/"+p+"/endpoints/"+ep["id"].(string)+"/recover", key, rec, "Idempotency-Key", "recover-1").requireStatus(t, 202)
		again = b.do("POST", "/v1/projects/"+p+"/endpoints/"+ep["id"].(string)+"/recover", key, rec, "Idempotency-Key", "recover-1").requireStatus(t, 202)
		require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(first.Body), string(again.Body))

		// Event type: the original answer, no "exists" conflict.
		et := map[string]any{"name": "order.shipped", "description": "shipped"}
		first = b.do("POST", "/v1/projects/"+p+"/event-types", key, et, "Idempotency-Key", "et-1").requireStatus(t, 201)
		again = b.do("POST", "/v1/projects/"+p+"/event-types", key, et, "Idempotency-Key", "et-1").requireStatus(t, 201)
		require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		require.JSONEq(t, string(first.Body), string(again.Body))
	})
}

// dropFirstAnswer is a proxy in front of the server: the first request it
// sees reaches the server, which acts, but the client's connection is
// closed before the answer comes back, as when a connection drops on the
// way back. Later requests pass.
type dropFirstAnswer struct {
	target   *url.URL
	requests atomic.Int64
	keys     sync.Map // Idempotency-Key values seen, in order of index
}

func (d *dropFirstAnswer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := d.requests.Add(1)
	d.keys.Store(n, r.Header.Get("Idempotency-Key"))
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = d.target.Scheme, d.target.Host
	res, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if n == 1 {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(body)
}

func TestIdempotencyKeySDKRetryAfterADroppedAnswerCreatesOneEndpoint(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, b *bundle) {
		p, key := b.project("shop")
		rc := testkit.NewReceiver(t, testkit.Status(200))
		target, err := url.Parse(b.url)
		require.NoError(t, err)
		proxy := &dropFirstAnswer{target: target}
		ps := httptest.NewServer(proxy)
		t.Cleanup(ps.Close)

		cl, err := client.New(ps.URL, key)
		require.NoError(t, err)
		ep, err := cl.CreateEndpoint(context.Background(), p, client.EndpointCreate{URL: rc.URL})
		require.NoError(t, err, "the SDK retries the dropped POST")
		require.EqualValues(t, 2, proxy.requests.Load(), "one request dropped, one retry")
		k1, _ := proxy.keys.Load(int64(1))
		k2, _ := proxy.keys.Load(int64(2))
		require.NotEmpty(t, k1)
		require.Equal(t, k1, k2, "the retry carries the same key")
		require.Equal(t, 1, b.endpointCount(p), "the retry did not create a second endpoint")
		stored, err := b.store.GetEndpoint(context.Background(), p, ep.ID)
		require.NoError(t, err)
		require.Equal(t, stored.Secret, ep.Secret)
	})
}

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}
