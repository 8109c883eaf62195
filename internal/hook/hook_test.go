package hook_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/hook"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/herald-dev/herald/webhook"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const evType = "before_registration"

// quiet keeps the engine's start and drain lines out of test and benchmark
// output.
var quiet = slog.New(slog.DiscardHandler)

// testBundle is a real engine over a real SQLite file, a project, and a
// runner.
type testBundle struct {
	st  *sqlite.DB
	eng *delivery.Engine
	r   *hook.Runner
	p   *herald.Project
	// created orders endpoints by creation unless a test says otherwise.
	mu      sync.Mutex
	created time.Time
}

func setup(t testing.TB) *testBundle {
	return setupSync(t, "NORMAL")
}

// setupSync opens the database with PRAGMA synchronous sync: tests use
// NORMAL for speed, the benchmark measures FULL (the server's default) too.
func setupSync(t testing.TB, sync string) *testBundle {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{Synchronous: sync})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	eng, err := delivery.New(delivery.Config{AllowPrivateNetworks: true, Logger: quiet}, st)
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = eng.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	now := time.Now().UTC()
	p := &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: "test", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, st.CreateProject(ctx, p))
	// A run that names no timeout gets the longest, so that a loaded machine
	// never cuts short a run whose hooks answer.
	r := hook.New(eng, hook.Config{DefaultTimeout: hook.MaxTimeoutDefault})
	// Registered last, so run first: the queued records are stored before
	// the engine stops and the database closes.
	t.Cleanup(func() { require.NoError(t, r.Close(context.Background())) })
	return &testBundle{st: st, eng: eng, r: r, p: p, created: now.Add(-time.Hour)}
}

// flush waits until the runs answered so far are stored.
func (b *testBundle) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, b.r.Flush(ctx))
}

// endpoint stores an endpoint subscribed to evType in wait mode,
// fail_closed, then applies opts.
func (b *testBundle) endpoint(t testing.TB, url string, opts ...func(*herald.Endpoint)) *herald.Endpoint {
	t.Helper()
	b.mu.Lock()
	b.created = b.created.Add(time.Second)
	created := b.created
	b.mu.Unlock()
	ep := &herald.Endpoint{
		ID:            herald.NewID(herald.PrefixEndpoint),
		ProjectID:     b.p.ID,
		URL:           url,
		EventTypes:    []string{evType},
		Enabled:       true,
		Timeout:       herald.Duration(5 * time.Second),
		ResponseMode:  herald.ResponseWait,
		FailurePolicy: herald.FailClosed,
		RetrySchedule: herald.RetryScheduleDefault,
		MaxInFlight:   herald.MaxInFlightDefault,
		Secret:        webhook.NewSecret(),
		Status:        herald.EndpointHealthy,
		CreatedAt:     created,
		UpdatedAt:     created,
	}
	for _, o := range opts {
		o(ep)
	}
	require.NoError(t, b.st.CreateEndpoint(context.Background(), ep))
	b.eng.EndpointsChanged(b.p.ID)
	return ep
}

func (b *testBundle) run(t *testing.T, body string) *hook.Result {
	t.Helper()
	res, err := b.r.RunJSON(context.Background(), b.p, evType, []byte(body))
	require.NoError(t, err)
	return res
}

func mode(m string) func(*herald.Endpoint) { return func(ep *herald.Endpoint) { ep.ResponseMode = m } }
func failOpen(ep *herald.Endpoint)         { ep.FailurePolicy = herald.FailOpen }
func order(n int) func(*herald.Endpoint)   { return func(ep *herald.Endpoint) { ep.Order = n } }
func timeout(d time.Duration) func(*herald.Endpoint) {
	return func(ep *herald.Endpoint) { ep.Timeout = herald.Duration(d) }
}
func types(ts ...string) func(*herald.Endpoint) {
	return func(ep *herald.Endpoint) { ep.EventTypes = ts }
}

// call is one request a hook server received.
type call struct {
	Header http.Header
	Body   []byte
	Env    webhook.Envelope
}

// hookServer is a real HTTP hook on loopback that records its calls.
type hookServer struct {
	*testkit.Receiver
}

func newHook(t testing.TB, answer func(w http.ResponseWriter, r *http.Request, c call)) *hookServer {
	t.Helper()
	h := &hookServer{}
	h.Receiver = testkit.NewReceiver(t, func(n int, r *http.Request, w http.ResponseWriter) {
		answer(w, r, callOf(h.Requests()[n-1]))
	})
	return h
}

// callOf is a recorded request with its envelope decoded.
func callOf(req testkit.Request) call {
	c := call{Header: req.Header, Body: req.Body}
	_ = json.Unmarshal(req.Body, &c.Env)
	return c
}

func (h *hookServer) received() []call {
	var out []call
	for _, req := range h.Requests() {
		out = append(out, callOf(req))
	}
	return out
}

// answerBody answers every call with status and body.
func answerBody(status int, body string) func(http.ResponseWriter, *http.Request, call) {
	return func(w http.ResponseWriter, _ *http.Request, _ call) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func allow(w http.ResponseWriter, _ *http.Request, _ call) { webhook.Allow(w) }

// hang answers only when Herald gives up on the call (or the test ends).
func hang(_ http.ResponseWriter, r *http.Request, _ call) {
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// answerTimeout is the per-hook timeout of a hook that answers at once: far
// longer than any load can delay that answer, so only a hook that hangs
// times out.
const answerTimeout = 60 * time.Second

// deliveryOf returns the stored delivery of the run's event to ep.
func (b *testBundle) deliveryOf(t *testing.T, eventID, endpointID string) *herald.Delivery {
	t.Helper()
	b.flush(t)
	ds, _, err := b.st.ListDeliveries(context.Background(), b.p.ID, store.DeliveryFilter{EventID: eventID, EndpointID: endpointID}, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	return ds[0]
}

func outcomes(res *hook.Result) []string {
	var out []string
	for _, r := range res.Results {
		out = append(out, r.EndpointID+":"+r.Outcome)
	}
	return out
}

func TestHooksRunInOrderThenCreationThenID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	var seen []string
	named := func(name string) *hookServer {
		return newHook(t, func(w http.ResponseWriter, _ *http.Request, _ call) {
			mu.Lock()
			seen = append(seen, name)
			mu.Unlock()
			webhook.Allow(w)
		})
	}
	last := b.endpoint(t, named("last").URL, order(5))
	// Same order: the one created first runs first, whatever the ids say.
	early := time.Now().Add(-2 * time.Hour)
	second := b.endpoint(t, named("second").URL, order(1), func(ep *herald.Endpoint) { ep.CreatedAt = early.Add(time.Second) })
	first := b.endpoint(t, named("first").URL, order(1), func(ep *herald.Endpoint) { ep.CreatedAt = early })
	negative := b.endpoint(t, named("negative").URL, order(-3))

	res := b.run(t, `{"data":{"email":"a@example.com"}}`)

	assert.Equal(t, []string{"negative", "first", "second", "last"}, seen)
	assert.Equal(t, []string{
		negative.ID + ":allowed", first.ID + ":allowed", second.ID + ":allowed", last.ID + ":allowed",
	}, outcomes(res))
	assert.True(t, res.Allowed)
}

func TestDataModeMergesPatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := newHook(t, answerBody(200, `{"status":"ok","data":{"nickname":"Neo","profile":{"city":"Zion","tags":null},"referrer":null}}`))
	b.endpoint(t, h.URL, mode(herald.ResponseData))

	res := b.run(t, `{"data":{"email":"a@example.com","referrer":"x","profile":{"age":30,"city":"Paris","tags":["a"]}}}`)

	require.True(t, res.Allowed)
	assert.JSONEq(t, `{"email":"a@example.com","nickname":"Neo","profile":{"age":30,"city":"Zion"}}`, string(res.Data))
}

func TestNextHookSeesChangedData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	enrich := newHook(t, func(w http.ResponseWriter, _ *http.Request, _ call) {
		webhook.AllowWithData(w, map[string]any{"nickname": "Neo"})
	})
	check := newHook(t, allow)
	b.endpoint(t, enrich.URL, mode(herald.ResponseData), order(1))
	b.endpoint(t, check.URL, order(2))

	res := b.run(t, `{"data":{"email":"a@example.com"}}`)

	require.True(t, res.Allowed)
	calls := check.received()
	require.Len(t, calls, 1)
	assert.JSONEq(t, `{"email":"a@example.com","nickname":"Neo"}`, string(calls[0].Env.Data))
	assert.Equal(t, res.EventID, calls[0].Env.ID)
}

func TestWaitModeIgnoresAnswerData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := newHook(t, answerBody(200, `{"status":"ok","data":{"nickname":"Neo"}}`))
	ep := b.endpoint(t, h.URL, mode(herald.ResponseWait))

	res := b.run(t, `{"data":{"email":"a@example.com"}}`)

	assert.True(t, res.Allowed)
	assert.JSONEq(t, `{"email":"a@example.com"}`, string(res.Data))
	assert.Equal(t, []string{ep.ID + ":allowed"}, outcomes(res))
}

func TestDenyStopsTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	deny := newHook(t, func(w http.ResponseWriter, _ *http.Request, _ call) {
		webhook.Deny(w, "banned_domain", "example.org addresses cannot register")
	})
	later := newHook(t, allow)
	ep := b.endpoint(t, deny.URL, order(1))
	b.endpoint(t, later.URL, order(2))

	res := b.run(t, `{"data":{"email":"a@example.org"}}`)

	assert.False(t, res.Allowed)
	assert.Equal(t, ep.ID, res.DeniedBy)
	assert.Equal(t, "banned_domain", res.Code)
	assert.Equal(t, "example.org addresses cannot register", res.Message)
	assert.Equal(t, []string{ep.ID + ":denied"}, outcomes(res))
	assert.Empty(t, later.received(), "a hook after a deny must not be called")
	// A deny with a 2xx is an answered call: a succeeded delivery.
	assert.Equal(t, herald.DeliverySucceeded, b.deliveryOf(t, res.EventID, ep.ID).Status)
}

func TestErrorAnswerWith4xxIsDeny(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := newHook(t, answerBody(404, `{"status":"error","code":"not_found","message":"Player not found"}`))
	ep := b.endpoint(t, h.URL)

	res := b.run(t, `{"data":{"player":"p1"}}`)

	assert.False(t, res.Allowed)
	assert.Equal(t, "not_found", res.Code)
	assert.Equal(t, "Player not found", res.Message)
	require.Len(t, res.Results, 1)
	assert.Equal(t, hook.OutcomeDenied, res.Results[0].Outcome)
	assert.Equal(t, 404, res.Results[0].Status)
	assert.Equal(t, ep.ID, res.DeniedBy)
	// The hook answered, but not with a 2xx: the delivery did not succeed.
	assert.Equal(t, herald.DeliveryExhausted, b.deliveryOf(t, res.EventID, ep.ID).Status)
}

func TestDenyWithoutCodeUsesDenied(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := newHook(t, answerBody(200, `{"status":"error"}`))
	b.endpoint(t, h.URL)

	res := b.run(t, `{"data":{}}`)

	assert.False(t, res.Allowed)
	assert.Equal(t, hook.CodeDenied, res.Code)
	assert.NotEmpty(t, res.Message)
}

func TestFailClosedDeniesOnFailure(t *testing.T) {
	t.Parallel()
	// Only the case that tests the timeout has a short one, and its hook
	// blocks until Herald gives up; the hooks that answer get all the time a
	// loaded machine may need, so they can never be cut short.
	for name, tc := range map[string]struct {
		answer  func(http.ResponseWriter, *http.Request, call)
		timeout time.Duration
		cause   string
	}{
		"500":          {answerBody(500, `{"status":"error","code":"x"}`), answerTimeout, "status 500"},
		"400 no error": {answerBody(400, `bad request`), answerTimeout, "status 400"},
		"timeout":      {hang, 200 * time.Millisecond, "timeout"},
		"garbage body": {answerBody(200, `<html>ok</html>`), answerTimeout, "invalid answer"},
		"bad status":   {answerBody(200, `{"status":"maybe"}`), answerTimeout, "invalid answer"},
		"data array":   {answerBody(200, `{"status":"ok","data":[1]}`), answerTimeout, "must be a JSON object"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			h := newHook(t, tc.answer)
			later := newHook(t, allow)
			ep := b.endpoint(t, h.URL, order(1), timeout(tc.timeout), mode(herald.ResponseData))
			b.endpoint(t, later.URL, order(2))

			res := b.run(t, `{"data":{"a":1}}`)

			assert.False(t, res.Allowed)
			assert.Equal(t, ep.ID, res.DeniedBy)
			assert.Equal(t, hook.CodeHookFailed, res.Code)
			assert.Contains(t, res.Message, tc.cause)
			assert.Contains(t, res.Message, ep.ID)
			require.Len(t, res.Results, 1)
			assert.Equal(t, hook.OutcomeFailed, res.Results[0].Outcome)
			assert.Contains(t, res.Results[0].Error, tc.cause)
			assert.Empty(t, later.received())
			assert.JSONEq(t, `{"a":1}`, string(res.Data))
		})
	}
}

func TestFailOpenSkipsOnFailure(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		answer  func(http.ResponseWriter, *http.Request, call)
		timeout time.Duration
	}{
		"500":     {answerBody(503, `unavailable`), answerTimeout},
		"timeout": {hang, 200 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			h := newHook(t, tc.answer)
			later := newHook(t, allow)
			ep := b.endpoint(t, h.URL, order(1), timeout(tc.timeout), failOpen)
			next := b.endpoint(t, later.URL, order(2))

			res := b.run(t, `{"data":{"a":1}}`)

			assert.True(t, res.Allowed)
			assert.Empty(t, res.DeniedBy)
			assert.Equal(t, []string{ep.ID + ":skipped", next.ID + ":allowed"}, outcomes(res))
			assert.NotEmpty(t, res.Results[0].Error)
			assert.Len(t, later.received(), 1)
		})
	}
}

func TestEmptyBodyAllows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := newHook(t, func(w http.ResponseWriter, _ *http.Request, _ call) { w.WriteHeader(http.StatusNoContent) })
	ep := b.endpoint(t, h.URL, mode(herald.ResponseData))

	res := b.run(t, `{"data":{"a":1}}`)

	assert.True(t, res.Allowed)
	assert.Equal(t, []string{ep.ID + ":allowed"}, outcomes(res))
	assert.Equal(t, 204, res.Results[0].Status)
	assert.JSONEq(t, `{"a":1}`, string(res.Data))
}

func TestRunTimeoutBoundsTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	slow := newHook(t, hang)
	after := newHook(t, allow)
	// The slow hook may take 30s by its own timeout, but the run has 300ms:
	// it fails at the run's deadline, and the next hook is never called.
	first := b.endpoint(t, slow.URL, order(1), timeout(30*time.Second), failOpen)
	second := b.endpoint(t, after.URL, order(2))

	res := b.run(t, `{"data":{},"timeout":"300ms"}`)

	assert.False(t, res.Allowed)
	assert.Equal(t, []string{first.ID + ":skipped", second.ID + ":failed"}, outcomes(res))
	assert.Contains(t, res.Results[0].Error, "timeout")
	assert.Contains(t, res.Results[0].Error, "run's timeout")
	assert.Contains(t, res.Results[1].Error, "not called")
	assert.Equal(t, second.ID, res.DeniedBy)
	assert.Equal(t, hook.CodeHookFailed, res.Code)
	assert.Empty(t, after.received())
	d := b.deliveryOf(t, res.EventID, second.ID)
	assert.Equal(t, herald.DeliveryExhausted, d.Status)
	assert.Zero(t, d.Attempts)
	assert.Contains(t, d.LastError, "not called")
}

func TestPerHookTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	slow := newHook(t, hang)
	after := newHook(t, allow)
	first := b.endpoint(t, slow.URL, order(1), timeout(100*time.Millisecond), failOpen)
	second := b.endpoint(t, after.URL, order(2))

	// The run has time; only the first hook's own timeout expires.
	res := b.run(t, `{"data":{},"timeout":"60s"}`)

	assert.True(t, res.Allowed)
	assert.Equal(t, []string{first.ID + ":skipped", second.ID + ":allowed"}, outcomes(res))
	assert.Contains(t, res.Results[0].Error, "timeout")
	assert.NotContains(t, res.Results[0].Error, "run's timeout")
}

func TestDeadlineHeaderIsTheTimeLeft(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := newHook(t, allow)
	// The first hook's limit is the run's (shorter than its own timeout), the
	// second's its own (shorter than what is left of the run).
	b.endpoint(t, h.URL, order(1), timeout(60*time.Second))
	b.endpoint(t, h.URL, order(2), timeout(2*time.Second))

	b.run(t, `{"data":{},"timeout":"30s"}`)

	calls := h.received()
	require.Len(t, calls, 2)
	for i, limit := range []int64{30000, 2000} {
		v := calls[i].Header.Get(hook.DeadlineHeader)
		require.NotEmpty(t, v, "call %d has no %s", i, hook.DeadlineHeader)
		ms, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err)
		assert.Positive(t, ms)
		assert.LessOrEqual(t, ms, limit)
	}
}

func TestIgnoreModeIsQueuedNotAwaited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := make(chan struct{})
	got := make(chan call, 1)
	slow := newHook(t, func(w http.ResponseWriter, r *http.Request, c call) {
		got <- c
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	check := newHook(t, allow)
	ign := b.endpoint(t, slow.URL, order(1), mode(herald.ResponseIgnore))
	next := b.endpoint(t, check.URL, order(2))

	res := b.run(t, `{"data":{"a":1}}`)

	// The answer is here while the ignore hook, if called yet, is blocked.
	assert.True(t, res.Allowed)
	assert.Equal(t, []string{ign.ID + ":queued", next.ID + ":allowed"}, outcomes(res))
	close(release)

	select {
	case c := <-got:
		assert.Equal(t, res.EventID, c.Header.Get("webhook-id"))
		assert.Equal(t, evType, c.Env.Type)
	case <-time.After(time.Minute):
		t.Fatal("the ignore hook was never delivered")
	}
	// The dispatcher records the delivery like any other.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		ds, _, err := b.st.ListDeliveries(context.Background(), b.p.ID, store.DeliveryFilter{EndpointID: ign.ID}, store.Page{Limit: 10})
		require.NoError(c, err)
		require.Len(c, ds, 1)
		assert.Equal(c, res.EventID, ds[0].EventID)
		assert.Equal(c, herald.DeliverySucceeded, ds[0].Status)
	}, time.Minute, 20*time.Millisecond)
}

func TestOnlyHooksOfTheEventTypeAreCalled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const typ = "signup.before"
	called := newHook(t, allow)
	notCalled := newHook(t, allow)
	past := time.Now().Add(-time.Minute)
	exact := b.endpoint(t, called.URL, types(typ))
	wildcard := b.endpoint(t, called.URL, types("other", "signup.*"))
	b.endpoint(t, notCalled.URL, types())               // catch-all: not a hook
	b.endpoint(t, notCalled.URL, types("signup.after")) // another type
	b.endpoint(t, notCalled.URL, types("*"))            // a bare wildcard is a catch-all too
	b.endpoint(t, notCalled.URL, types(typ), func(ep *herald.Endpoint) { ep.Enabled = false })
	b.endpoint(t, notCalled.URL, types(typ), func(ep *herald.Endpoint) { ep.ActiveUntil = &past })
	b.endpoint(t, notCalled.URL, types(typ), func(ep *herald.Endpoint) { ep.Filter = `data.plan == "pro"` })

	res, err := b.r.RunJSON(context.Background(), b.p, typ, []byte(`{"data":{"plan":"free"}}`))
	require.NoError(t, err)

	assert.Equal(t, []string{exact.ID + ":allowed", wildcard.ID + ":allowed"}, outcomes(res))
	assert.Len(t, called.received(), 2)
	assert.Empty(t, notCalled.received())
}

func TestFilterErrorSkipsTheHook(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := newHook(t, allow)
	ep := b.endpoint(t, h.URL, func(ep *herald.Endpoint) { ep.Filter = `data.profile.age > 18` })

	res := b.run(t, `{"data":{"email":"a@example.com"}}`)

	assert.True(t, res.Allowed)
	assert.Equal(t, []string{ep.ID + ":skipped"}, outcomes(res))
	assert.Contains(t, res.Results[0].Error, "filter")
	assert.Empty(t, h.received())
}

func TestNoHooksAllows(t *testing.T) {
	t.Parallel()
	b := setup(t)

	res := b.run(t, `{"data":{"a":1}}`)

	assert.True(t, res.Allowed)
	assert.JSONEq(t, `{"a":1}`, string(res.Data))
	assert.Empty(t, res.Results)
	assert.NotEmpty(t, res.EventID)
}

func TestCallsAreSignedPerStandardWebhooks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	secret := webhook.NewSecret()
	var mu sync.Mutex
	var errs []error
	h := newHook(t, func(w http.ResponseWriter, _ *http.Request, c call) {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(c.Body, c.Header)
		}
		mu.Lock()
		errs = append(errs, err, webhook.Verify(secret, c.Header, c.Body))
		mu.Unlock()
		webhook.AllowWithData(w, map[string]string{"checked": "yes"})
	})
	b.endpoint(t, h.URL, order(1), mode(herald.ResponseData), func(ep *herald.Endpoint) { ep.Secret = secret })
	b.endpoint(t, h.URL, order(2), func(ep *herald.Endpoint) { ep.Secret = secret })

	res := b.run(t, `{"data":{"a":1}}`)

	require.True(t, res.Allowed)
	calls := h.received()
	require.Len(t, calls, 2)
	for _, c := range calls {
		assert.Equal(t, res.EventID, c.Header.Get("webhook-id"))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, err := range errs {
		assert.NoError(t, err)
	}
}

func TestRunIsStoredWithDeliveriesAndAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ok := newHook(t, answerBody(200, `{"status":"ok","data":{"nickname":"Neo"}}`))
	bad := newHook(t, answerBody(500, `boom`))
	epOK := b.endpoint(t, ok.URL, order(1), mode(herald.ResponseData))
	epBad := b.endpoint(t, bad.URL, order(2), failOpen)
	ctx := context.Background()

	res, err := b.r.RunJSON(ctx, b.p, evType, []byte(`{"data":{"email":"a@example.com"},"metadata":{"request_id":"r1"}}`))
	require.NoError(t, err)
	require.True(t, res.Allowed)
	b.flush(t)

	ev, err := b.st.GetEvent(ctx, b.p.ID, res.EventID)
	require.NoError(t, err)
	assert.True(t, ev.Hook)
	assert.Equal(t, evType, ev.Type)
	assert.JSONEq(t, `{"email":"a@example.com"}`, string(ev.Data), "the event keeps the request's data")
	assert.Equal(t, "r1", ev.Metadata["request_id"])

	ds, _, err := b.st.ListDeliveries(ctx, b.p.ID, store.DeliveryFilter{EventID: res.EventID}, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, ds, 2)
	byEndpoint := map[string]*herald.Delivery{}
	for _, d := range ds {
		byEndpoint[d.EndpointID] = d
	}
	want := map[string]struct {
		status, body string
		code         int
	}{
		epOK.ID:  {herald.DeliverySucceeded, `{"status":"ok","data":{"nickname":"Neo"}}`, 200},
		epBad.ID: {herald.DeliveryExhausted, `boom`, 500},
	}
	for id, w := range want {
		d := byEndpoint[id]
		require.NotNil(t, d, "no delivery for %s", id)
		assert.Equal(t, w.status, d.Status)
		assert.Equal(t, 1, d.Attempts)
		atts, err := b.st.ListAttempts(ctx, b.p.ID, d.ID)
		require.NoError(t, err)
		require.Len(t, atts, 1)
		assert.Equal(t, herald.TriggerHook, atts[0].Trigger)
		assert.Equal(t, w.code, atts[0].ResponseStatus)
		assert.Equal(t, w.body, atts[0].ResponseBody)
		assert.Equal(t, res.EventID, atts[0].EventID)
	}
}

func TestBadInputIsInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name, eventType, body, location string
	}{
		{"data not an object", evType, `{"data":[1,2]}`, "body.data"},
		{"data null", evType, `{"data":null}`, "body.data"},
		{"data missing", evType, `{"metadata":{}}`, "body.data"},
		{"unknown field", evType, `{"data":{},"extra":1}`, "body.extra"},
		{"timeout too long", evType, `{"data":{},"timeout":"2m"}`, "body.timeout"},
		{"timeout not a duration", evType, `{"data":{},"timeout":"soon"}`, "body.timeout"},
		{"timeout zero", evType, `{"data":{},"timeout":"0s"}`, "body.timeout"},
		{"metadata not strings", evType, `{"data":{},"metadata":{"a":1}}`, "body.metadata"},
		{"metadata value too long", evType, `{"data":{},"metadata":{"a":"` + strings.Repeat("x", 1025) + `"}}`, "body.metadata.a"},
		{"malformed JSON", evType, `{"data":`, "body"},
		{"not an object", evType, `[]`, "body"},
		{"empty", evType, ``, "body"},
		{"trailing data", evType, `{"data":{}} {}`, "body"},
		{"empty event type", "", `{"data":{}}`, "path.event_type"},
		{"bad event type", "before registration!", `{"data":{}}`, "path.event_type"},
		{"long event type", strings.Repeat("a", 129), `{"data":{}}`, "path.event_type"},
		{"reserved event type", "herald.endpoint.failing", `{"data":{}}`, "path.event_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.r.RunJSON(context.Background(), b.p, tc.eventType, []byte(tc.body))
			require.Error(t, err)
			assert.Equal(t, herald.EINVALID, herald.ErrorCode(err))
			var he *herald.Error
			require.ErrorAs(t, err, &he)
			require.NotEmpty(t, he.Fields)
			assert.Equal(t, tc.location, he.Fields[0].Location)
		})
	}
}
