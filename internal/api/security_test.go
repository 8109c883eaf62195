package api

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/bodytemplate"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/filter"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/ratelimit"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", to read the file directly
)

// Security rules of issue 7. Rules already covered elsewhere: body size
// 413 (TestBodyOverLimitIs413), batch size and the ingest Idempotency-Key
// (TestIngestBatch, TestIngestIdempotency), headers/metadata/retry
// schedule counts (TestEndpointValidationNamesTheField), the 429 and its
// per-key buckets (TestRateLimitPerKeyAnswers429WithRetryAfter).

func TestEndpointLimitsNameTheField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	ok := "https://example.com/hook"
	long := func(n int) string { return strings.Repeat("a", n) }
	list := func(n int, item func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = item(i)
		}
		return out
	}
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"too many event_types", map[string]any{"event_types": list(herald.EventTypesMaxLen+1, func(i int) string { return fmt.Sprintf("t%d", i) })}, "body.event_types"},
		{"event type too long", map[string]any{"event_types": []string{long(herald.EventTypeNameMaxLen + 1)}}, "body.event_types[0]"},
		{"too many channels", map[string]any{"channels": list(herald.ChannelsMaxLen+1, func(i int) string { return fmt.Sprintf("c%d", i) })}, "body.channels"},
		{"channel too long", map[string]any{"channels": []string{long(herald.ChannelMaxLen + 1)}}, "body.channels[0]"},
		{"header value too long", map[string]any{"headers": map[string]string{"X-A": long(herald.HeaderValueMaxLen + 1)}}, "body.headers.X-A"},
		{"metadata key too long", map[string]any{"metadata": map[string]string{long(herald.MetadataKeyMaxLen + 1): "v"}}, "body.metadata"},
		{"metadata value too long", map[string]any{"metadata": map[string]string{"k": long(herald.MetadataValueMaxLen + 1)}}, "body.metadata.k"},
		{"filter too long", map[string]any{"filter": `type == "` + long(filter.MaxLen) + `"`}, "body.filter"},
		{"body template too long", map[string]any{"body_template": `"` + long(bodytemplate.MaxSource) + `"`}, "body.body_template"},
		{"name too long", map[string]any{"name": long(herald.NameMaxLen + 1)}, "body.name"},
		{"description too long", map[string]any{"description": long(herald.DescriptionMaxLen + 1)}, "body.description"},
		{"bearer too long", map[string]any{"auth": map[string]any{"bearer": long(herald.AuthValueMaxLen + 1)}}, "body.auth.bearer"},
		{"password too long", map[string]any{"auth": map[string]any{"basic": map[string]any{"username": "u", "password": long(herald.AuthValueMaxLen + 1)}}}, "body.auth.basic.password"},
	}
	created := b.endpoint(p, key, map[string]any{"url": ok})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.body["url"] = ok
			b.do("POST", "/v1/projects/"+p+"/endpoints", key, tc.body).requireField(t, tc.field)
			// PATCH applies the same bounds.
			delete(tc.body, "url")
			b.do("PATCH", "/v1/projects/"+p+"/endpoints/"+created["id"].(string), key, tc.body).requireField(t, tc.field)
		})
	}
}

func TestIngestLimitsNameTheField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	path := "/v1/projects/" + p + "/events"
	event := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"type": "a", "data": map[string]any{}}
		edit(m)
		return m
	}
	manyStrings := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("c%d", i)
		}
		return out
	}
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"type too long", event(func(m map[string]any) { m["type"] = strings.Repeat("t", herald.EventTypeNameMaxLen+1) }), "body.type"},
		{"too many channels", event(func(m map[string]any) { m["channels"] = manyStrings(herald.EventChannelsMaxLen + 1) }), "body.channels"},
		{"channel too long", event(func(m map[string]any) { m["channels"] = []string{strings.Repeat("c", herald.ChannelMaxLen+1)} }), "body.channels[0]"},
		{"too many metadata keys", event(func(m map[string]any) { m["metadata"] = manyKeys(herald.EventMetadataMaxLen + 1) }), "body.metadata"},
		{"id too long", event(func(m map[string]any) { m["id"] = strings.Repeat("i", herald.IdempotencyKeyMaxLen+1) }), "body.id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b.do("POST", path, key, tc.body).requireField(t, tc.field)
		})
	}
	// The batch route keys events without an id "<header>:<index>", so its
	// header is shorter.
	b.do("POST", path+"/batch", key, map[string]any{"events": []any{event(func(map[string]any) {})}},
		"Idempotency-Key", strings.Repeat("k", herald.IdempotencyKeyMaxLen-4)).requireField(t, "header.Idempotency-Key")
	// A batch item over a limit is refused alone, located in the batch.
	r := b.do("POST", path+"/batch", key, map[string]any{"events": []any{cases[1].body, event(func(map[string]any) {})}}).requireStatus(t, http.StatusAccepted).obj(t)
	items := r["data"].([]any)
	require.Len(t, items, 2)
	e0 := items[0].(map[string]any)["error"].(map[string]any)
	assert.EqualValues(t, 422, e0["status"])
	assert.Equal(t, "body.events[0].channels", e0["errors"].([]any)[0].(map[string]any)["location"])
	assert.Contains(t, items[1], "id")
}

func TestListLimitIsFrom1To1000OnEveryList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	b.endpoint(p, key, map[string]any{"url": "https://example.com/hook"})
	b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "a", "data": map[string]any{}}).requireStatus(t, http.StatusAccepted)
	dl := b.do("GET", "/v1/projects/"+p+"/deliveries", key, nil).requireStatus(t, http.StatusOK).obj(t)["data"].([]any)[0].(map[string]any)

	var lists []string
	for _, rt := range b.server.routes {
		if rt.method != "GET" || !(strings.HasSuffix(rt.path, "s") || strings.HasSuffix(rt.path, "types")) || rt.path == "/metrics" || strings.HasSuffix(rt.path, "/stats") {
			continue
		}
		path := strings.ReplaceAll(rt.path, "{project}", p)
		path = strings.ReplaceAll(path, "{id}", dl["id"].(string))
		lists = append(lists, path)
	}
	require.Len(t, lists, 8, "projects, api-keys, tenants, event-types, endpoints, events, deliveries, attempts: %v", lists)
	for _, path := range lists {
		for _, bad := range []string{"0", "-1", "1001", "ten", "1e3"} {
			b.do("GET", path+"?limit="+bad, b.admin, nil).requireField(t, "query.limit")
		}
		for _, good := range []string{"1", "1000"} {
			b.do("GET", path+"?limit="+good, b.admin, nil).requireStatus(t, http.StatusOK)
		}
	}
}

// TestRateLimitProblemCarriesRetryAfter: the 429 is a problem document
// whose Retry-After matches its detail, for a project key as for the admin
// key, and another key is not slowed by it.
func TestRateLimitProblemCarriesRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.RateLimit = 2 })
	p, key := b.project("shop")
	_, other := b.project("other")
	var limited *resp
	for range 5 {
		if r := b.do("GET", "/v1/projects/"+p+"/endpoints", key, nil); r.Status == http.StatusTooManyRequests {
			limited = r
			break
		}
	}
	require.NotNil(t, limited, "a burst over the limit is refused")
	prob := limited.problem(t)
	ra := limited.Header.Get("Retry-After")
	require.NotEmpty(t, ra)
	assert.Contains(t, prob.Detail, "retry in "+ra+" s")
	b.do("GET", "/v1/projects/other", other, nil).requireStatus(t, http.StatusOK)
}

// TestUnauthenticatedFloodCreatesNoLimiterState: keys are authenticated
// before a bucket is made, so unknown keys cost no memory; buckets of keys
// gone idle are dropped.
func TestUnauthenticatedFloodCreatesNoLimiterState(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.RateLimit = 5 })
	for i := range 200 {
		b.do("GET", "/v1/projects", fmt.Sprintf("hk_flood_%d", i), nil).requireStatus(t, http.StatusUnauthorized)
	}
	b.do("GET", "/v1/projects", "", nil).requireStatus(t, http.StatusUnauthorized)
	assert.Zero(t, b.server.limiter.keys.Len(), "no bucket for a key that does not authenticate")
}

// TestLimiterKeepsOnlyRecentlyUsedKeys: a bucket idle for its refill time
// is full, the same as a new one, so the limiter drops it; the map never
// holds more than the keys used within the last refill time (plus those
// added since the last sweep).
func TestLimiterKeepsOnlyRecentlyUsedKeys(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	l := newLimiter(1, func() time.Time { return now }) // refill: 1 s
	for i := range limiterMaxBuckets {
		require.Zero(t, l.allow(fmt.Sprintf("k%d", i)))
	}
	require.Equal(t, limiterMaxBuckets, l.keys.Len())
	now = now.Add(500 * time.Millisecond)
	assert.Positive(t, l.allow("k0"), "k0 has not refilled yet")
	now = now.Add(600 * time.Millisecond)
	assert.Zero(t, l.allow("new"))
	assert.Equal(t, 2, l.keys.Len(), "the full map was swept of every refilled bucket: only k0 (seen 0.6 s ago) and the new key remain")

	now = now.Add(ratelimit.SweepEvery + time.Second)
	assert.Zero(t, l.allow("other"))
	assert.Equal(t, 1, l.keys.Len(), "the periodic sweep dropped every idle bucket")
	assert.Zero(t, l.allow("k0"), "a dropped bucket comes back full")
}

// TestSecretsAreNeverLoggedAndAttemptsRedactCredentials runs a whole flow
// with the API and the engine logging at debug level into one buffer.
func TestSecretsAreNeverLoggedAndAttemptsRedactCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logs testkit.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	eng, err := delivery.New(delivery.Config{AllowPrivateNetworks: true, PollInterval: 20 * time.Millisecond, Logger: log}, st)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = eng.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	hash, admin, err := EnsureAdminKey(ctx, st, "")
	require.NoError(t, err)
	srv, err := New(Config{Store: st, Engine: eng, Guard: netguard.New(true, nil), AdminKeyHash: hash, RateLimit: -1, Logger: log})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	b := &bundle{t: t, url: ts.URL, store: st, engine: eng, server: srv, admin: admin}

	// The receiver keeps what it got, to show the credentials were sent.
	var mu sync.Mutex
	var got []http.Header
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)

	const (
		password = "pw-c0rrect-horse-battery"
		bearer   = "tok-8f3a9c2e-very-secret"
		custom   = "hdr-5ecret-api-token"
	)
	p, key := b.project("shop")
	second := b.do("POST", "/v1/projects/"+p+"/api-keys", key, nil).requireStatus(t, http.StatusCreated).obj(t)["key"].(string)
	basicEp := b.endpoint(p, second, map[string]any{
		"url":     rc.URL + "/basic",
		"auth":    map[string]any{"basic": map[string]any{"username": "herald", "password": password}},
		"headers": map[string]string{"X-Api-Token": custom, "Accept": "application/json"},
	})
	bearerEp := b.endpoint(p, key, map[string]any{"url": rc.URL + "/bearer", "auth": map[string]any{"bearer": bearer}})
	b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "user.created", "data": map[string]any{"user_id": "u_1"}}).requireStatus(t, http.StatusAccepted)
	test := b.do("POST", "/v1/projects/"+p+"/endpoints/"+bearerEp["id"].(string)+"/test", key, nil).requireStatus(t, http.StatusOK)

	var deliveries []any
	testkit.WaitFor(t, "three succeeded deliveries (the event's two, and the test's ping)", func() bool {
		deliveries = b.do("GET", "/v1/projects/"+p+"/deliveries?status=succeeded", key, nil).obj(t)["data"].([]any)
		return len(deliveries) == 3
	})
	var attempts []map[string]any
	var bodies []string
	for _, d := range deliveries {
		r := b.do("GET", "/v1/projects/"+p+"/deliveries/"+d.(map[string]any)["id"].(string)+"/attempts", key, nil).requireStatus(t, http.StatusOK)
		bodies = append(bodies, string(r.Body))
		for _, a := range r.obj(t)["data"].([]any) {
			attempts = append(attempts, a.(map[string]any))
		}
	}
	var testAttempt map[string]any
	require.NoError(t, json.Unmarshal(test.Body, &testAttempt))
	attempts = append(attempts, testAttempt)
	bodies = append(bodies, string(test.Body))
	require.Len(t, attempts, 4)

	// Sent for real, then redacted in the record.
	mu.Lock()
	var auths []string
	for _, h := range got {
		auths = append(auths, h.Get("Authorization"))
	}
	mu.Unlock()
	basicValue := "Basic " + base64.StdEncoding.EncodeToString([]byte("herald:"+password))
	assert.Contains(t, auths, basicValue)
	assert.Contains(t, auths, "Bearer "+bearer)
	for _, a := range attempts {
		h, _ := a["request_headers"].(map[string]any)
		require.NotNil(t, h, "attempt %v records its request headers", a["id"])
		assert.NotEmpty(t, h["Authorization"])
		assert.NotContains(t, h["Authorization"], "Basic ", "Authorization is redacted")
		assert.NotContains(t, h["Authorization"], "Bearer ", "Authorization is redacted")
		sig, _ := h["Webhook-Signature"].(string)
		assert.NotEmpty(t, sig)
		assert.NotContains(t, sig, "v1,", "webhook-signature is redacted")
		if a["endpoint_id"] == basicEp["id"] {
			assert.NotEqual(t, custom, h["X-Api-Token"], "a custom header may carry a credential: redacted")
			assert.Equal(t, "application/json", h["Accept"], "harmless headers stay readable")
		}
	}
	secrets := map[string]string{
		"admin key": admin, "project key": key, "second project key": second,
		"basic endpoint secret": basicEp["secret"].(string), "bearer endpoint secret": bearerEp["secret"].(string),
		"password": password, "basic header": basicValue, "bearer token": bearer, "custom header": custom,
	}
	all := logs.String()
	require.Contains(t, all, `"route":"/v1/projects/{project}/deliveries/{id}/attempts"`, "requests are logged at debug")
	for what, s := range secrets {
		assert.NotContains(t, all, s, "the log holds the %s", what)
		for i, body := range bodies {
			assert.NotContains(t, body, s, "attempt answer %d holds the %s", i, what)
		}
	}
}

// TestPrivateTargetsRefusedOnEveryRoute: with private networks refused,
// no way of setting an endpoint URL reaches loopback, private, link-local
// or metadata addresses, whatever their spelling.
func TestPrivateTargetsRefusedOnEveryRoute(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Guard = netguard.New(false, nil) })
	p, key := b.project("shop")
	ep := b.endpoint(p, key, map[string]any{"url": "https://93.184.216.34/x"})
	targets := []string{
		"http://127.0.0.1:8080/", "http://[::1]/", "http://169.254.169.254/", "http://10.0.0.1/", "http://localhost/",
		// Other spellings of the same places.
		"http://LOCALHOST./", "http://api.localhost/", "http://0x7f.1/", "http://2130706433/", "http://0177.0.0.1/",
		"http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/", "http://0.0.0.0/", "http://192.168.1.1/", "http://172.16.0.1/",
		"http://[fe80::1]/", "http://[fc00::1]/", "https://100.64.0.1/",
	}
	for _, u := range targets {
		b.do("POST", "/v1/projects/"+p+"/endpoints", key, map[string]any{"url": u}).requireField(t, "body.url")
		b.do("PATCH", "/v1/projects/"+p+"/endpoints/"+ep["id"].(string), key, map[string]any{"url": u}).requireField(t, "body.url")
		b.do("POST", "/projects/"+p+"/events/user.created/webhooks", key, map[string]any{"url": u}).requireField(t, "body.url")
	}
	// Nothing was created or changed.
	eps := b.do("GET", "/v1/projects/"+p+"/endpoints", key, nil).requireStatus(t, http.StatusOK).obj(t)["data"].([]any)
	require.Len(t, eps, 1)
	assert.Equal(t, "https://93.184.216.34/x", eps[0].(map[string]any)["url"])
}

// TestKeysAreStoredOnlyAsHashes reads the SQLite file directly: neither the
// admin key nor a project key is anywhere in it in plain text.
func TestKeysAreStoredOnlyAsHashes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	eng, err := delivery.New(delivery.Config{Logger: discard}, st)
	require.NoError(t, err)
	hash, admin, err := EnsureAdminKey(ctx, st, "")
	require.NoError(t, err)
	srv, err := New(Config{Store: st, Engine: eng, AdminKeyHash: hash, RateLimit: -1, Logger: discard})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	b := &bundle{t: t, url: ts.URL, server: srv, admin: admin}

	p, key := b.project("shop")
	second := b.do("POST", "/v1/projects/"+p+"/api-keys", key, nil).requireStatus(t, http.StatusCreated).obj(t)["key"].(string)
	keys := map[string]string{"admin key": admin, "project key": key, "second key": second}

	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer raw.Close()
	// Every text column of both tables, whatever the schema calls them.
	var cells []string
	for _, table := range []string{"api_keys", "settings"} {
		rows, err := raw.QueryContext(ctx, "SELECT * FROM "+table)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for _, v := range vals {
				switch x := v.(type) {
				case string:
					cells = append(cells, x)
				case []byte:
					cells = append(cells, string(x))
				}
			}
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	joined := strings.Join(cells, "\n")
	require.Contains(t, joined, herald.HashKey(key), "the project key's hash is stored")
	require.Contains(t, joined, herald.HashKey(admin), "the admin key's hash is stored")
	for what, k := range keys {
		assert.NotContains(t, joined, k, "the %s is stored in plain text", what)
		// Nor its random part (a prefix kept for display is fine).
		secretPart := strings.TrimPrefix(strings.TrimPrefix(k, herald.AdminKeyPrefix), herald.ProjectKeyPrefix)
		assert.NotContains(t, joined, secretPart[len(secretPart)/2:], "half of the %s is stored", what)
	}
}

// TestSchemaReferencesAreNeverFetched: an event type's JSON Schema may not
// make the server fetch a URL ($ref, $schema), which would be a way around
// the private-network refusal.
func TestSchemaReferencesAreNeverFetched(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	var hits sync.Map
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.Path, true)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"type":"object"}`))
	}))
	t.Cleanup(target.Close)
	for i, schema := range []map[string]any{
		{"$ref": target.URL + "/ref"},
		{"$schema": target.URL + "/meta", "type": "object"},
		{"type": "object", "properties": map[string]any{"a": map[string]any{"$ref": target.URL + "/nested#/x"}}},
	} {
		b.do("POST", "/v1/projects/"+p+"/event-types", key, map[string]any{"name": fmt.Sprintf("t%d", i), "schema": schema}).requireField(t, "body.schema")
	}
	hits.Range(func(k, _ any) bool {
		t.Errorf("the server fetched %s", k)
		return true
	})
}

func TestAPIKeysPerProjectAreBounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop") // its first key
	var last map[string]any
	for range service.APIKeysMax - 1 {
		last = b.do("POST", "/v1/projects/"+p+"/api-keys", key, nil).requireStatus(t, http.StatusCreated).obj(t)
	}
	r := b.do("POST", "/v1/projects/"+p+"/api-keys", key, nil).requireStatus(t, http.StatusConflict)
	assert.Contains(t, r.problem(t).Detail, "revoke one first")
	b.do("DELETE", "/v1/projects/"+p+"/api-keys/"+last["id"].(string), key, nil).requireStatus(t, http.StatusNoContent)
	b.do("POST", "/v1/projects/"+p+"/api-keys", key, nil).requireStatus(t, http.StatusCreated)
}

func TestProjectAndEventTypeLimitsNameTheField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do("POST", "/v1/projects", b.admin, map[string]any{"name": strings.Repeat("n", herald.ProjectNameMaxLen+1)}).requireField(t, "body.name")
	b.do("POST", "/v1/projects", b.admin, map[string]any{"name": "x", "id": strings.Repeat("p", 64)}).requireField(t, "body.id")
	p, key := b.project("shop")
	b.do("PATCH", "/v1/projects/"+p, b.admin, map[string]any{"name": strings.Repeat("n", herald.ProjectNameMaxLen+1)}).requireField(t, "body.name")
	b.do("POST", "/v1/projects/"+p+"/event-types", key, map[string]any{"name": strings.Repeat("t", herald.EventTypeNameMaxLen+1)}).requireField(t, "body.name")
}
