package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/api"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/herald-dev/herald/internal/ui"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The two projects of a parity run: each action is taken once through the
// API in viaAPI and once through the dashboard in viaUI, from the same
// starting state, and the stored results must be equal.
const (
	viaAPI = "via-api"
	viaUI  = "via-ui"
)

// parityEnv is Herald wired as cmd/herald wires it: one service under the
// API and the dashboard (mounted in the API at /ui/), a real SQLite file, a
// running engine, and a receiver that fails while fail is set. The
// service's clock is frozen, so that timestamps compare equal.
type parityEnv struct {
	t    *testing.T
	ctx  context.Context
	st   *sqlite.DB
	svc  *service.Service
	now  time.Time
	url  string
	keys map[string]string
	br   *browser // logged in to viaUI
	fail atomic.Bool
	recv *httptest.Server
}

func newParityEnv(t *testing.T) *parityEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := delivery.New(delivery.Config{AllowPrivateNetworks: true, PollInterval: 20 * time.Millisecond, Logger: quiet}, st)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { _ = eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	e := &parityEnv{t: t, ctx: context.Background(), st: st, keys: map[string]string{}}
	e.now = time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	adminHash := herald.HashKey(herald.NewKey(herald.AdminKeyPrefix))
	e.svc, err = service.New(service.Config{Store: st, Engine: eng, Guard: netguard.New(true, nil), AdminKeyHash: adminHash,
		Now: func() time.Time { return e.now }})
	require.NoError(t, err)
	dash, err := ui.New(ui.Config{Store: st, Service: e.svc, AdminKeyHash: adminHash, Logger: quiet})
	require.NoError(t, err)
	srv, err := api.New(api.Config{Store: st, Service: e.svc, AdminKeyHash: adminHash, RateLimit: -1, UI: dash, Logger: quiet})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e.url = ts.URL
	e.recv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(e.recv.Close)

	for _, id := range []string{viaAPI, viaUI} {
		key, err := e.svc.CreateProject(e.ctx, &herald.Project{ID: id, Name: id})
		require.NoError(t, err)
		e.keys[id] = key
	}
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	e.br = &browser{t: t, base: ts.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	e.br.login(e.keys[viaUI])
	return e
}

// api sends a JSON request to a path under the viaAPI project and returns
// the status.
func (e *parityEnv) api(method, path string, body any) int {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.url+"/v1/projects/"+viaAPI+path, r)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+e.keys[viaAPI])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	e.t.Logf("API %s %s: %d %s", method, path, resp.StatusCode, msg)
	return resp.StatusCode
}

// form posts a dashboard form to a path under the viaUI project (with the
// session and its CSRF token) and returns the status.
func (e *parityEnv) form(path string, values url.Values) int {
	e.t.Helper()
	p := e.br.post("/ui/p/"+viaUI+path, values)
	e.t.Logf("dashboard POST %s: %d", path, p.Status)
	return p.Status
}

// fixture is what a case's setup made in one project.
type fixture struct {
	ep *herald.Endpoint
	ev *herald.Event
	d  *herald.Delivery
}

func (e *parityEnv) endpoint(projectID string, edit ...func(*herald.Endpoint)) *herald.Endpoint {
	e.t.Helper()
	ep := &herald.Endpoint{URL: e.recv.URL + "/hook", Name: "receiver", Enabled: true,
		RetrySchedule: []herald.Duration{herald.Duration(time.Hour)}}
	for _, f := range edit {
		f(ep)
	}
	require.NoError(e.t, e.svc.CreateEndpoint(e.ctx, projectID, ep))
	return ep
}

// event ingests one event and waits until its deliveries have settled
// (none due now); with fail set, the first attempt fails.
func (e *parityEnv) event(projectID string, fail bool) *herald.Event {
	e.t.Helper()
	e.fail.Store(fail)
	defer e.fail.Store(false)
	p, err := e.svc.Project(e.ctx, projectID)
	require.NoError(e.t, err)
	res, err := e.svc.Ingest(e.ctx, p, []delivery.EventInput{{Type: "order.paid", Data: json.RawMessage(`{"n":1}`)}})
	require.NoError(e.t, err)
	require.NoError(e.t, res[0].Err)
	e.settled(projectID, res[0].Event.ID)
	return res[0].Event
}

// settled waits until every delivery of the event has been attempted and
// none is in flight or due, and returns them.
func (e *parityEnv) settled(projectID, eventID string) []*herald.Delivery {
	e.t.Helper()
	var ds []*herald.Delivery
	testkit.WaitFor(e.t, "the deliveries of "+eventID+" to settle", func() bool {
		var err error
		ds, _, err = e.st.ListDeliveries(e.ctx, projectID, store.DeliveryFilter{EventID: eventID}, store.Page{Limit: 100})
		require.NoError(e.t, err)
		return !slices.ContainsFunc(ds, func(d *herald.Delivery) bool {
			return d.Status == herald.DeliveryInFlight || d.Attempts == 0 && d.Status == herald.DeliveryPending ||
				d.Status == herald.DeliveryPending && d.NextAttemptAt != nil && !d.NextAttemptAt.After(time.Now())
		})
	})
	return ds
}

// outcome sums up an event's deliveries: "status, attempts" each, sorted.
func (e *parityEnv) outcome(projectID, eventID string) []string {
	e.t.Helper()
	var out []string
	for _, d := range e.settled(projectID, eventID) {
		out = append(out, fmt.Sprintf("%s, %d attempts", d.Status, d.Attempts))
	}
	slices.Sort(out)
	return out
}

// storedEndpoint is the endpoint as stored, with what differs between two
// projects by nature (ids, secrets drawn at random, the engine's health
// timestamps) replaced by what they say: the secret generated, unchanged, or given; the previous secret the
// old one or none.
func (e *parityEnv) storedEndpoint(projectID, id string, fx fixture) any {
	e.t.Helper()
	ep, err := e.st.GetEndpoint(e.ctx, projectID, id)
	if herald.IsNotFound(err) {
		return "deleted"
	}
	require.NoError(e.t, err)
	c := *ep
	c.ID, c.ProjectID = "", ""
	// The engine keeps health with its own, real, clock: when is not the
	// point, whether is.
	for _, t := range []**time.Time{&c.FailingSince, &c.PausedUntil} {
		if *t != nil {
			*t = &time.Time{}
		}
	}
	switch {
	case fx.ep != nil && c.Secret == fx.ep.Secret:
		c.Secret = "unchanged"
	case c.Secret != "":
		c.Secret = "new"
	}
	if c.PreviousSecret != "" {
		c.PreviousSecret = "other"
		if fx.ep != nil && ep.PreviousSecret == fx.ep.Secret {
			c.PreviousSecret = "the old secret"
		}
	}
	return c
}

// onlyEndpoint is the project's one endpoint, as storedEndpoint shows it.
func (e *parityEnv) onlyEndpoint(projectID string, fx fixture) any {
	e.t.Helper()
	eps, err := e.st.ProjectEndpoints(e.ctx, projectID)
	require.NoError(e.t, err)
	require.Len(e.t, eps, 1)
	return e.storedEndpoint(projectID, eps[0].ID, fx)
}

func (e *parityEnv) storedEventType(projectID, name string) any {
	e.t.Helper()
	et, err := e.st.GetEventType(e.ctx, projectID, name)
	if herald.IsNotFound(err) {
		return "absent"
	}
	require.NoError(e.t, err)
	et.ProjectID = ""
	return *et
}

// everyEndpointField is one endpoint, as JSON for the API and as the
// dashboard's form.
var (
	everyEndpointFieldJSON = func(target string) map[string]any {
		return map[string]any{
			"url": target, "name": "Billing", "description": "Invoices to the ERP",
			"event_types": []string{"order.paid", "user.*"}, "channels": []string{"acct_42", "acct_7"},
			"filter": "data.n > 0", "enabled": true,
			"active_from": "2026-01-01T00:00:00Z", "active_until": "2037-01-01T12:30:00Z",
			"order": 3, "timeout": "20s", "response_mode": "data", "failure_policy": "fail_open",
			"retry_schedule": []string{"10s", "1m", "1h"}, "rate_limit": 5, "max_in_flight": 4, "ordered": true,
			"body_template": "{t: .type}", "auth": map[string]any{"basic": map[string]string{"username": "erp", "password": "s3cret-pw"}},
			"headers": map[string]string{"X-Tenant": "acme", "X-Env": "prod"}, "metadata": map[string]string{"team": "payments", "owner": "ops"},
		}
	}
	everyEndpointFieldForm = func(target string) url.Values {
		return url.Values{
			"url": {target}, "name": {"Billing"}, "description": {"Invoices to the ERP"},
			"event_types": {"order.paid\nuser.*"}, "channels": {"acct_42, acct_7"},
			"filter": {"data.n > 0"}, "enabled": {"on"},
			"active_from": {"2026-01-01T00:00"}, "active_until": {"2037-01-01T12:30"},
			"order": {"3"}, "timeout": {"20s"}, "response_mode": {"data"}, "failure_policy": {"fail_open"},
			"retry_schedule": {"10s, 1m, 1h"}, "rate_limit": {"5"}, "max_in_flight": {"4"}, "ordered": {"on"},
			"body_template": {"{t: .type}"}, "basic_username": {"erp"}, "basic_password": {"s3cret-pw"},
			"headers": {"X-Tenant: acme\nX-Env: prod"}, "metadata": {"team=payments\nowner=ops"},
		}
	}
)

// parityCase is one action both transports offer.
type parityCase struct {
	name string
	// setup prepares the same state in a project; may be nil.
	setup func(e *parityEnv, projectID string) fixture
	// api and form take the action, each in its project, and return the
	// status; wantAPI and wantForm are the statuses expected.
	api      func(e *parityEnv, fx fixture) int
	form     func(e *parityEnv, fx fixture) int
	wantAPI  int
	wantForm int
	// stored is the result to compare.
	stored func(e *parityEnv, projectID string, fx fixture) any
}

func withEndpoint(e *parityEnv, projectID string) fixture {
	return fixture{ep: e.endpoint(projectID)}
}

// withPendingDelivery: an endpoint with a delivery whose first attempt
// failed, its retry an hour away.
func withPendingDelivery(e *parityEnv, projectID string) fixture {
	fx := withEndpoint(e, projectID)
	fx.ev = e.event(projectID, true)
	ds := e.settled(projectID, fx.ev.ID)
	require.Len(e.t, ds, 1)
	require.Equal(e.t, herald.DeliveryPending, ds[0].Status)
	fx.d = ds[0]
	return fx
}

func endpointAndDeliveries(e *parityEnv, projectID string, fx fixture) any {
	return []any{e.storedEndpoint(projectID, fx.ep.ID, fx), e.outcome(projectID, fx.ev.ID)}
}

func endpointOf(e *parityEnv, projectID string, fx fixture) any {
	return e.storedEndpoint(projectID, fx.ep.ID, fx)
}

func parityCases() []parityCase {
	return []parityCase{
		{
			name: "create an endpoint with every field",
			api: func(e *parityEnv, _ fixture) int {
				return e.api("POST", "/endpoints", everyEndpointFieldJSON(e.recv.URL+"/billing"))
			},
			form: func(e *parityEnv, _ fixture) int {
				return e.form("/endpoints/new", everyEndpointFieldForm(e.recv.URL+"/billing"))
			},
			wantAPI: http.StatusCreated, wantForm: http.StatusSeeOther,
			stored: func(e *parityEnv, projectID string, fx fixture) any { return e.onlyEndpoint(projectID, fx) },
		},
		{
			name: "create an endpoint disabled",
			api: func(e *parityEnv, _ fixture) int {
				return e.api("POST", "/endpoints", map[string]any{"url": e.recv.URL + "/off", "enabled": false})
			},
			form: func(e *parityEnv, _ fixture) int {
				return e.form("/endpoints/new", url.Values{"url": {e.recv.URL + "/off"}})
			},
			wantAPI: http.StatusCreated, wantForm: http.StatusSeeOther,
			stored: func(e *parityEnv, projectID string, fx fixture) any { return e.onlyEndpoint(projectID, fx) },
		},
		{
			name: "create an invalid endpoint",
			api: func(e *parityEnv, _ fixture) int {
				return e.api("POST", "/endpoints", map[string]any{"url": "ftp://example.com", "timeout": "2m"})
			},
			form: func(e *parityEnv, _ fixture) int {
				return e.form("/endpoints/new", url.Values{"url": {"ftp://example.com"}, "timeout": {"2m"}})
			},
			wantAPI: http.StatusUnprocessableEntity, wantForm: http.StatusUnprocessableEntity,
			stored: func(e *parityEnv, projectID string, _ fixture) any {
				eps, err := e.st.ProjectEndpoints(e.ctx, projectID)
				require.NoError(e.t, err)
				return len(eps)
			},
		},
		{
			name: "edit an endpoint, credentials and masked headers kept",
			setup: func(e *parityEnv, projectID string) fixture {
				return fixture{ep: e.endpoint(projectID, func(ep *herald.Endpoint) {
					ep.Auth = &herald.Auth{Bearer: "tok-1"}
					ep.Headers = map[string]string{"X-Api-Key": "k-1"}
				})}
			},
			api: func(e *parityEnv, fx fixture) int {
				body := everyEndpointFieldJSON(e.recv.URL + "/edited")
				delete(body, "auth")
				body["headers"] = map[string]string{"X-Api-Key": service.Redacted, "X-Env": "prod"}
				return e.api("PATCH", "/endpoints/"+fx.ep.ID, body)
			},
			form: func(e *parityEnv, fx fixture) int {
				f := everyEndpointFieldForm(e.recv.URL + "/edited")
				f.Del("basic_username")
				f.Del("basic_password")
				f.Set("headers", "X-Api-Key: "+service.Redacted+"\nX-Env: prod")
				return e.form("/endpoints/"+fx.ep.ID+"/edit", f)
			},
			wantAPI: http.StatusOK, wantForm: http.StatusSeeOther,
			stored: endpointOf,
		},
		{
			name:  "disable an endpoint",
			setup: withPendingDelivery,
			api: func(e *parityEnv, fx fixture) int {
				return e.api("PATCH", "/endpoints/"+fx.ep.ID, map[string]any{"enabled": false})
			},
			form:    func(e *parityEnv, fx fixture) int { return e.form("/endpoints/"+fx.ep.ID+"/disable", nil) },
			wantAPI: http.StatusOK, wantForm: http.StatusSeeOther,
			stored: endpointAndDeliveries,
		},
		{
			name: "enable a disabled endpoint",
			setup: func(e *parityEnv, projectID string) fixture {
				fx := withEndpoint(e, projectID)
				require.NoError(e.t, e.st.UpdateEndpointHealth(e.ctx, fx.ep.ID, store.EndpointHealth{Status: herald.EndpointDisabled, DisabledReason: "failing for 5 days", ConsecutiveFailures: 9}))
				return fx
			},
			api: func(e *parityEnv, fx fixture) int {
				return e.api("PATCH", "/endpoints/"+fx.ep.ID, map[string]any{"enabled": true})
			},
			form:    func(e *parityEnv, fx fixture) int { return e.form("/endpoints/"+fx.ep.ID+"/enable", nil) },
			wantAPI: http.StatusOK, wantForm: http.StatusSeeOther,
			stored: endpointOf,
		},
		{
			name:     "delete an endpoint",
			setup:    withPendingDelivery,
			api:      func(e *parityEnv, fx fixture) int { return e.api("DELETE", "/endpoints/"+fx.ep.ID, nil) },
			form:     func(e *parityEnv, fx fixture) int { return e.form("/endpoints/"+fx.ep.ID+"/delete", nil) },
			wantAPI:  http.StatusNoContent,
			wantForm: http.StatusSeeOther,
			stored:   endpointAndDeliveries,
		},
		{
			name:  "rotate the secret with no grace period",
			setup: withEndpoint,
			api: func(e *parityEnv, fx fixture) int {
				return e.api("POST", "/endpoints/"+fx.ep.ID+"/secret/rotate", map[string]any{"grace_period": "0s"})
			},
			form: func(e *parityEnv, fx fixture) int {
				return e.form("/endpoints/"+fx.ep.ID+"/rotate", url.Values{"grace_period": {"0s"}})
			},
			wantAPI: http.StatusOK, wantForm: http.StatusOK,
			stored: endpointOf,
		},
		{
			name:     "rotate the secret with the default grace period",
			setup:    withEndpoint,
			api:      func(e *parityEnv, fx fixture) int { return e.api("POST", "/endpoints/"+fx.ep.ID+"/secret/rotate", nil) },
			form:     func(e *parityEnv, fx fixture) int { return e.form("/endpoints/"+fx.ep.ID+"/rotate", nil) },
			wantAPI:  http.StatusOK,
			wantForm: http.StatusOK,
			stored:   endpointOf,
		},
		{
			name:     "send a test event",
			setup:    withEndpoint,
			api:      func(e *parityEnv, fx fixture) int { return e.api("POST", "/endpoints/"+fx.ep.ID+"/test", nil) },
			form:     func(e *parityEnv, fx fixture) int { return e.form("/endpoints/"+fx.ep.ID+"/test", nil) },
			wantAPI:  http.StatusOK,
			wantForm: http.StatusSeeOther,
			stored: func(e *parityEnv, projectID string, fx fixture) any {
				atts, err := e.st.ListEndpointAttempts(e.ctx, projectID, fx.ep.ID, 10)
				require.NoError(e.t, err)
				var out []string
				for _, a := range atts {
					out = append(out, fmt.Sprintf("%s %d", a.Trigger, a.ResponseStatus))
				}
				return out
			},
		},
		{
			name: "recover failed deliveries",
			setup: func(e *parityEnv, projectID string) fixture {
				fx := fixture{ep: e.endpoint(projectID, func(ep *herald.Endpoint) { ep.RetrySchedule = []herald.Duration{} })}
				fx.ev = e.event(projectID, true)
				require.Equal(e.t, []string{"exhausted, 1 attempts"}, e.outcome(projectID, fx.ev.ID))
				return fx
			},
			api: func(e *parityEnv, fx fixture) int {
				return e.api("POST", "/endpoints/"+fx.ep.ID+"/recover", map[string]any{"since": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)})
			},
			form: func(e *parityEnv, fx fixture) int {
				return e.form("/endpoints/"+fx.ep.ID+"/recover", url.Values{"since": {time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")}})
			},
			wantAPI: http.StatusAccepted, wantForm: http.StatusSeeOther,
			stored: endpointAndDeliveries,
		},
		{
			name: "create an event type with a schema and an example",
			api: func(e *parityEnv, _ fixture) int {
				return e.api("POST", "/event-types", map[string]any{"name": "user.created", "description": "A user signed up",
					"schema":  json.RawMessage(`{"type": "object", "required": ["user_id"]}`),
					"example": map[string]any{"user_id": 7}})
			},
			form: func(e *parityEnv, _ fixture) int {
				return e.form("/event-types", url.Values{"name": {"user.created"}, "description": {"A user signed up"},
					"schema": {`{ "type": "object", "required": ["user_id"] }`}, "example": {`{ "user_id": 7 }`}})
			},
			wantAPI: http.StatusCreated, wantForm: http.StatusSeeOther,
			stored: func(e *parityEnv, projectID string, _ fixture) any {
				return e.storedEventType(projectID, "user.created")
			},
		},
		{
			name: "an event type's example is event data, a JSON object",
			api: func(e *parityEnv, _ fixture) int {
				return e.api("POST", "/event-types", map[string]any{"name": "user.created", "example": []int{1}})
			},
			form: func(e *parityEnv, _ fixture) int {
				return e.form("/event-types", url.Values{"name": {"user.created"}, "example": {`[1]`}})
			},
			wantAPI: http.StatusUnprocessableEntity, wantForm: http.StatusUnprocessableEntity,
			stored: func(e *parityEnv, projectID string, _ fixture) any {
				return e.storedEventType(projectID, "user.created")
			},
		},
		{
			name: "delete an event type",
			setup: func(e *parityEnv, projectID string) fixture {
				require.NoError(e.t, e.svc.CreateEventType(e.ctx, &herald.EventType{ProjectID: projectID, Name: "user.created"}))
				return fixture{}
			},
			api:      func(e *parityEnv, _ fixture) int { return e.api("DELETE", "/event-types/user.created", nil) },
			form:     func(e *parityEnv, _ fixture) int { return e.form("/event-types/user.created/delete", nil) },
			wantAPI:  http.StatusNoContent,
			wantForm: http.StatusSeeOther,
			stored: func(e *parityEnv, projectID string, _ fixture) any {
				return e.storedEventType(projectID, "user.created")
			},
		},
		{
			name: "replay an event to one endpoint",
			setup: func(e *parityEnv, projectID string) fixture {
				fx := withEndpoint(e, projectID)
				fx.ev = e.event(projectID, false)
				return fx
			},
			api: func(e *parityEnv, fx fixture) int {
				return e.api("POST", "/events/"+fx.ev.ID+"/replay", map[string]any{"endpoint_id": fx.ep.ID})
			},
			form: func(e *parityEnv, fx fixture) int {
				return e.form("/events/"+fx.ev.ID+"/replay", url.Values{"endpoint_id": {fx.ep.ID}})
			},
			wantAPI: http.StatusAccepted, wantForm: http.StatusSeeOther,
			stored: endpointAndDeliveries,
		},
		{
			name:     "retry a delivery",
			setup:    withPendingDelivery,
			api:      func(e *parityEnv, fx fixture) int { return e.api("POST", "/deliveries/"+fx.d.ID+"/retry", nil) },
			form:     func(e *parityEnv, fx fixture) int { return e.form("/deliveries/"+fx.d.ID+"/retry", nil) },
			wantAPI:  http.StatusOK,
			wantForm: http.StatusSeeOther,
			stored:   endpointAndDeliveries,
		},
	}
}

// TestTheAPIAndTheDashboardStoreTheSameResult takes every action the two
// transports share once through each, from the same state, and compares
// what is stored.
func TestTheAPIAndTheDashboardStoreTheSameResult(t *testing.T) {
	t.Parallel()
	for _, c := range parityCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newParityEnv(t)
			var fxAPI, fxUI fixture
			if c.setup != nil {
				fxAPI, fxUI = c.setup(e, viaAPI), c.setup(e, viaUI)
			}
			require.Equal(t, c.wantAPI, c.api(e, fxAPI), "API status")
			require.Equal(t, c.wantForm, c.form(e, fxUI), "dashboard status")
			// The engine records attempts and health in batches, a moment
			// after a delivery's state: wait for the two to agree, and
			// compare what they show at the deadline.
			deadline := time.Now().Add(time.Minute)
			for {
				viaAPI, viaUI := c.stored(e, viaAPI, fxAPI), c.stored(e, viaUI, fxUI)
				if assert.ObjectsAreEqual(viaAPI, viaUI) || time.Now().After(deadline) {
					assert.Equal(t, viaAPI, viaUI)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
