package service_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/herald-dev/herald/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testBundle is a Service over a real SQLite file and a running engine,
// with one project, a receiver on loopback and the Service's clock.
type testBundle struct {
	ctx     context.Context
	st      *sqlite.DB
	eng     *delivery.Engine
	svc     *service.Service
	p       *herald.Project
	adminKy string
	// now is the Service's clock (Unix nanoseconds); the engine keeps the
	// real one.
	now atomic.Int64
	// fail makes the receiver answer 500.
	fail atomic.Bool
	recv *httptest.Server
}

func setup(t *testing.T) *testBundle {
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

	b := &testBundle{ctx: context.Background(), st: st, eng: eng}
	b.now.Store(time.Now().UTC().Truncate(time.Millisecond).UnixNano())
	b.adminKy = herald.NewKey(herald.AdminKeyPrefix)
	b.svc, err = service.New(service.Config{
		Store: st, Engine: eng, Guard: netguard.New(true, nil), AdminKeyHash: herald.HashKey(b.adminKy),
		Now: func() time.Time { return time.Unix(0, b.now.Load()) },
	})
	require.NoError(t, err)
	b.recv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(b.recv.Close)
	b.p = &herald.Project{ID: "shop", Name: "Shop"}
	_, err = b.svc.CreateProject(b.ctx, b.p)
	require.NoError(t, err)
	return b
}

func (b *testBundle) clock() time.Time { return time.Unix(0, b.now.Load()).UTC() }

// endpoint creates an endpoint to the receiver through the Service; edit
// may change it first.
func (b *testBundle) endpoint(t *testing.T, edit ...func(*herald.Endpoint)) *herald.Endpoint {
	t.Helper()
	ep := &herald.Endpoint{URL: b.recv.URL + "/hook", Enabled: true, RetrySchedule: []herald.Duration{herald.Duration(time.Hour)}}
	for _, e := range edit {
		e(ep)
	}
	require.NoError(t, b.svc.CreateEndpoint(b.ctx, b.p.ID, ep))
	return ep
}

// ingest sends one event of typ and returns its result.
func (b *testBundle) ingest(t *testing.T, typ, data string) delivery.IngestResult {
	t.Helper()
	res, err := b.svc.Ingest(b.ctx, b.p, []delivery.EventInput{{Type: typ, Data: json.RawMessage(data)}})
	require.NoError(t, err)
	require.Len(t, res, 1)
	return res[0]
}

// deliveries lists the endpoint's deliveries.
func (b *testBundle) deliveries(t *testing.T, endpointID string) []*herald.Delivery {
	t.Helper()
	ds, _, err := b.st.ListDeliveries(b.ctx, b.p.ID, store.DeliveryFilter{EndpointID: endpointID}, store.Page{Limit: 100})
	require.NoError(t, err)
	return ds
}

// pendingDelivery makes the endpoint fail one attempt of a new event, so
// that the delivery waits for its retry (an hour away).
func (b *testBundle) pendingDelivery(t *testing.T, ep *herald.Endpoint) *herald.Delivery {
	t.Helper()
	b.fail.Store(true)
	defer b.fail.Store(false)
	res := b.ingest(t, "order.paid", `{"n":1}`)
	require.NoError(t, res.Err)
	require.Equal(t, 1, res.Deliveries)
	var d *herald.Delivery
	testkit.WaitFor(t, "a failed first attempt", func() bool {
		ds := b.deliveries(t, ep.ID)
		if len(ds) == 1 && ds[0].Attempts >= 1 && ds[0].Status == herald.DeliveryPending {
			d = ds[0]
			return true
		}
		return false
	})
	return d
}

func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var he *herald.Error
	require.ErrorAs(t, err, &he)
	require.Equal(t, herald.EINVALID, he.Code, "%v", err)
	var locs []string
	for _, f := range he.Fields {
		locs = append(locs, f.Location)
	}
	return locs
}

func TestCreateEndpointFillsDefaultsAndGeneratesASecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, func(ep *herald.Endpoint) { ep.RetrySchedule = nil })
	got, err := b.svc.Endpoint(b.ctx, b.p.ID, ep.ID)
	require.NoError(t, err)
	assert.Equal(t, herald.Duration(herald.TimeoutDefault), got.Timeout)
	assert.Equal(t, herald.RetryScheduleDefault, got.RetrySchedule)
	assert.Equal(t, herald.EndpointHealthy, got.Status)
	assert.Equal(t, b.clock(), got.CreatedAt.UTC(), "timestamps come from the Service's clock")
	_, err = webhook.ParseSecret(got.Secret)
	assert.NoError(t, err, "a secret is generated")
}

func TestCreateEndpointRefusesWhatOnlyOtherPackagesCanCheck(t *testing.T) {
	t.Parallel()
	b := setup(t)
	strict, err := service.New(service.Config{Store: b.st, Engine: b.eng})
	require.NoError(t, err)
	ep := &herald.Endpoint{URL: "http://127.0.0.1/x", Filter: "type ==", BodyTemplate: "{", Secret: "nope", Enabled: true}
	err = strict.CreateEndpoint(b.ctx, b.p.ID, ep)
	assert.ElementsMatch(t, []string{"body.url", "body.filter", "body.body_template", "body.secret"}, fieldsOf(t, err))
	eps, err := b.st.ProjectEndpoints(b.ctx, b.p.ID)
	require.NoError(t, err)
	assert.Empty(t, eps, "nothing stored")
}

func TestAnEndpointCreatedDisabledIsDisabled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, func(ep *herald.Endpoint) { ep.Enabled = false; ep.Status = herald.EndpointHealthy })
	got, err := b.svc.Endpoint(b.ctx, b.p.ID, ep.ID)
	require.NoError(t, err)
	assert.False(t, got.Enabled)
	assert.Equal(t, herald.EndpointDisabled, got.Status)
	assert.Equal(t, service.DisabledByUser, got.DisabledReason)
}

func TestANewEndpointIsRoutedToAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The first ingest caches the project's endpoints: none.
	require.Equal(t, 0, b.ingest(t, "order.paid", `{}`).Deliveries)
	b.endpoint(t)
	assert.Equal(t, 1, b.ingest(t, "order.paid", `{}`).Deliveries, "the engine's cache was refreshed")
}

func TestDisablingAnEndpointCancelsItsDeliveriesAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t)
	b.pendingDelivery(t, ep)
	got, err := b.svc.SetEndpointEnabled(b.ctx, ep, false)
	require.NoError(t, err)
	assert.False(t, got.Enabled)
	assert.Equal(t, herald.EndpointDisabled, got.Status)
	assert.Equal(t, service.DisabledByUser, got.DisabledReason)
	ds := b.deliveries(t, ep.ID)
	require.Len(t, ds, 1)
	assert.Equal(t, herald.DeliveryCanceled, ds[0].Status)
	assert.Equal(t, 0, b.ingest(t, "order.paid", `{}`).Deliveries, "a disabled endpoint is not routed to")
}

func TestEnablingADisabledEndpointMakesItHealthy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, func(ep *herald.Endpoint) { ep.Enabled = false })
	require.NoError(t, b.st.UpdateEndpointHealth(b.ctx, ep.ID, store.EndpointHealth{Status: herald.EndpointDisabled, DisabledReason: "failing for 5 days", ConsecutiveFailures: 40}))
	got, err := b.svc.SetEndpointEnabled(b.ctx, ep, true)
	require.NoError(t, err)
	assert.True(t, got.Enabled)
	assert.Equal(t, herald.EndpointHealthy, got.Status)
	assert.Empty(t, got.DisabledReason)
	assert.Zero(t, got.ConsecutiveFailures)
	assert.Equal(t, 1, b.ingest(t, "order.paid", `{}`).Deliveries)
}

func TestUpdateKeepsCredentialsSentBackRedacted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, func(ep *herald.Endpoint) {
		ep.Auth = &herald.Auth{Bearer: "tok-123"}
		ep.Headers = map[string]string{"X-Api-Key": "k-1", "X-Tenant": "42"}
	})
	shown := service.Redact(ep)
	assert.Equal(t, service.Redacted, shown.Auth.Bearer)
	assert.Equal(t, map[string]string{"X-Api-Key": service.Redacted, "X-Tenant": service.Redacted}, shown.Headers)
	assert.Equal(t, "tok-123", ep.Auth.Bearer, "Redact copies")

	edit := service.CloneEndpoint(shown)
	edit.Headers["X-Tenant"] = "43"
	edit.Headers["X-New"] = service.Redacted // not stored before: taken as typed
	got, err := b.svc.UpdateEndpoint(b.ctx, ep, edit)
	require.NoError(t, err)
	assert.Equal(t, "tok-123", got.Auth.Bearer)
	assert.Equal(t, map[string]string{"X-Api-Key": "k-1", "X-Tenant": "43", "X-New": service.Redacted}, got.Headers)
	assert.Equal(t, ep.Secret, got.Secret, "an update keeps the secret")
}

func TestUpdateValidatesTheResult(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t)
	edit := service.CloneEndpoint(ep)
	edit.Timeout = herald.Duration(time.Hour)
	_, err := b.svc.UpdateEndpoint(b.ctx, ep, edit)
	assert.Equal(t, []string{"body.timeout"}, fieldsOf(t, err))
	got, err := b.svc.Endpoint(b.ctx, b.p.ID, ep.ID)
	require.NoError(t, err)
	assert.Equal(t, ep.Timeout, got.Timeout)
}

func TestDeletingAnEndpointCancelsItsDeliveriesAndStopsRouting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t)
	b.pendingDelivery(t, ep)
	require.NoError(t, b.svc.DeleteEndpoint(b.ctx, b.p.ID, ep.ID))
	ds := b.deliveries(t, ep.ID)
	require.Len(t, ds, 1)
	assert.Equal(t, herald.DeliveryCanceled, ds[0].Status)
	assert.Equal(t, 0, b.ingest(t, "order.paid", `{}`).Deliveries)
	assert.True(t, herald.IsNotFound(b.svc.DeleteEndpoint(b.ctx, b.p.ID, ep.ID)))
}

func TestRotatingWithZeroGraceStopsTheOldSecretAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t)
	old := ep.Secret
	zero := time.Duration(0)
	require.NoError(t, b.svc.RotateSecret(b.ctx, ep, service.Rotation{GracePeriod: &zero}))
	got, err := b.svc.Endpoint(b.ctx, b.p.ID, ep.ID)
	require.NoError(t, err)
	assert.NotEqual(t, old, got.Secret)
	assert.Empty(t, got.PreviousSecret)
	assert.Nil(t, got.PreviousSecretUntil)
	assert.Equal(t, []string{got.Secret}, got.Secrets(b.clock()))
}

func TestRotatingWithoutAGracePeriodKeepsTheOldSecretForADay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t)
	old := ep.Secret
	given := webhook.NewSecret()
	require.NoError(t, b.svc.RotateSecret(b.ctx, ep, service.Rotation{Secret: given}))
	got, err := b.svc.Endpoint(b.ctx, b.p.ID, ep.ID)
	require.NoError(t, err)
	assert.Equal(t, given, got.Secret)
	assert.Equal(t, old, got.PreviousSecret)
	require.NotNil(t, got.PreviousSecretUntil)
	assert.Equal(t, b.clock().Add(service.GracePeriodDefault), got.PreviousSecretUntil.UTC())
}

func TestRotationRefusesABadSecretAndGracePeriod(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t)
	long := service.GracePeriodMax + time.Second
	err := b.svc.RotateSecret(b.ctx, ep, service.Rotation{Secret: "whsec_short", GracePeriod: &long})
	assert.ElementsMatch(t, []string{"body.secret", "body.grace_period"}, fieldsOf(t, err))
	negative := -time.Second
	assert.Equal(t, []string{"body.grace_period"}, fieldsOf(t, b.svc.RotateSecret(b.ctx, ep, service.Rotation{GracePeriod: &negative})))
}

func TestTestingAnEndpointRecordsATestAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t)
	att, err := b.svc.TestEndpoint(b.ctx, ep, "")
	require.NoError(t, err)
	assert.Equal(t, herald.TriggerTest, att.Trigger)
	assert.Equal(t, http.StatusNoContent, att.ResponseStatus)
	_, err = b.svc.TestEndpoint(b.ctx, ep, "not a type")
	assert.Equal(t, []string{"body.type"}, fieldsOf(t, err))
}

func TestRecoverNeedsASinceBeforeUntil(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t)
	_, err := b.svc.RecoverEndpoint(b.ctx, ep, time.Time{}, time.Time{})
	assert.Equal(t, []string{"body.since"}, fieldsOf(t, err))
	_, err = b.svc.RecoverEndpoint(b.ctx, ep, b.clock().Add(time.Minute), time.Time{})
	assert.Equal(t, []string{"body.since"}, fieldsOf(t, err), "until defaults to the clock's now")
}

func TestRecoverRequeuesExhaustedDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, func(ep *herald.Endpoint) { ep.RetrySchedule = []herald.Duration{} })
	b.fail.Store(true)
	b.ingest(t, "order.paid", `{}`)
	testkit.WaitFor(t, "an exhausted delivery", func() bool {
		ds := b.deliveries(t, ep.ID)
		return len(ds) == 1 && ds[0].Status == herald.DeliveryExhausted
	})
	b.fail.Store(false)
	n, err := b.svc.RecoverEndpoint(b.ctx, ep, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	testkit.WaitFor(t, "the recovered delivery to succeed", func() bool {
		ds := b.deliveries(t, ep.ID)
		return len(ds) == 1 && ds[0].Status == herald.DeliverySucceeded
	})
}

func TestSubscribingTwiceCreatesOneEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	url := b.recv.URL + "/sub"
	require.NoError(t, b.svc.Subscribe(b.ctx, b.p.ID, "user.created", url))
	require.NoError(t, b.svc.Subscribe(b.ctx, b.p.ID, "user.created", url))
	eps, err := b.st.ProjectEndpoints(b.ctx, b.p.ID)
	require.NoError(t, err)
	require.Len(t, eps, 1)
	assert.Equal(t, []string{"user.created"}, eps[0].EventTypes)
	assert.ElementsMatch(t, []string{"path.event_type", "body.url"}, fieldsOf(t, b.svc.Subscribe(b.ctx, b.p.ID, "a b", "")))
}

func TestAnEventTypeExampleIsEventDataValidAgainstTheSchema(t *testing.T) {
	t.Parallel()
	b := setup(t)
	schema := json.RawMessage(`{"type":"object","required":["user_id"]}`)
	for _, example := range []string{`[1]`, `"x"`, `{"user_id"`, `{}`} {
		et := &herald.EventType{ProjectID: b.p.ID, Name: "user.created", Schema: schema, Example: json.RawMessage(example)}
		err := b.svc.CreateEventType(b.ctx, et)
		require.Error(t, err, example)
		assert.Contains(t, fieldsOf(t, err), "body.example", example)
	}
	et := &herald.EventType{ProjectID: b.p.ID, Name: "user.created", Schema: schema, Example: json.RawMessage(`{ "user_id" : 7 }`)}
	require.NoError(t, b.svc.CreateEventType(b.ctx, et))
	got, err := b.svc.EventType(b.ctx, b.p.ID, "user.created")
	require.NoError(t, err)
	assert.JSONEq(t, `{"user_id":7}`, string(got.Example))
	assert.Equal(t, `{"user_id":7}`, string(got.Example), "stored compacted")
	err = b.svc.CreateEventType(b.ctx, &herald.EventType{ProjectID: b.p.ID, Name: "user.created"})
	assert.Equal(t, herald.ECONFLICT, herald.ErrorCode(err))
}

func TestAnEventTypeNameFollowsTheRules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, name := range []string{"", "a b", string(make([]byte, herald.EventTypeNameMaxLen+1))} {
		err := b.svc.CreateEventType(b.ctx, &herald.EventType{ProjectID: b.p.ID, Name: name})
		assert.Equal(t, []string{"body.name"}, fieldsOf(t, err), "%q", name)
	}
}

func TestEventTypeChangesApplyToIngestAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.ingest(t, "user.created", `{}`).Err, "no schema yet (and now cached)")
	et := &herald.EventType{ProjectID: b.p.ID, Name: "user.created", Schema: json.RawMessage(`{"required":["user_id"]}`)}
	require.NoError(t, b.svc.CreateEventType(b.ctx, et))
	assert.Error(t, b.ingest(t, "user.created", `{}`).Err, "the new schema applies")
	et.Schema = nil
	require.NoError(t, b.svc.UpdateEventType(b.ctx, et))
	assert.NoError(t, b.ingest(t, "user.created", `{}`).Err, "the schema's removal applies")
	et.Schema = json.RawMessage(`{"required":["user_id"]}`)
	require.NoError(t, b.svc.UpdateEventType(b.ctx, et))
	require.NoError(t, b.svc.DeleteEventType(b.ctx, b.p.ID, "user.created"))
	assert.NoError(t, b.ingest(t, "user.created", `{}`).Err, "the deletion applies")
}

func TestAProjectsStrictnessAppliesToIngestAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.ingest(t, "undeclared", `{}`).Err)
	b.p.StrictEventTypes = true
	require.NoError(t, b.svc.UpdateProject(b.ctx, b.p))
	assert.Error(t, b.ingest(t, "undeclared", `{}`).Err)
}

func TestAProjectIsCreatedWithItsFirstKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := &herald.Project{Name: "Forum"}
	key, err := b.svc.CreateProject(b.ctx, p)
	require.NoError(t, err)
	assert.Regexp(t, `^prj_`, p.ID)
	who, err := b.svc.Authenticate(b.ctx, key)
	require.NoError(t, err)
	assert.Equal(t, p.ID, who.ProjectID)

	_, err = b.svc.CreateProject(b.ctx, &herald.Project{ID: "Bad ID"})
	assert.ElementsMatch(t, []string{"body.name", "body.id"}, fieldsOf(t, err))
	_, err = b.svc.CreateProject(b.ctx, &herald.Project{ID: p.ID, Name: "again"})
	assert.Equal(t, herald.ECONFLICT, herald.ErrorCode(err))
}

func TestDeletingAProjectStopsItsRoutingAndKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.endpoint(t)
	k, key, err := b.svc.CreateAPIKey(b.ctx, b.p.ID, service.APIKeyInput{})
	require.NoError(t, err)
	require.NotEmpty(t, k.ID)
	require.NoError(t, b.svc.DeleteProject(b.ctx, b.p.ID))
	_, err = b.svc.Authenticate(b.ctx, key)
	assert.Equal(t, herald.EUNAUTHORIZED, herald.ErrorCode(err))
	_, err = b.svc.Project(b.ctx, b.p.ID)
	assert.True(t, herald.IsNotFound(err))
}

func TestAProjectHasAtMostAPIKeysMaxKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for range service.APIKeysMax - 1 { // the project's first key exists
		_, _, err := b.svc.CreateAPIKey(b.ctx, b.p.ID, service.APIKeyInput{})
		require.NoError(t, err)
	}
	_, _, err := b.svc.CreateAPIKey(b.ctx, b.p.ID, service.APIKeyInput{})
	assert.Equal(t, herald.ECONFLICT, herald.ErrorCode(err))
}

func TestAPIKeysAreListedByPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for range 4 {
		_, _, err := b.svc.CreateAPIKey(b.ctx, b.p.ID, service.APIKeyInput{})
		require.NoError(t, err)
	}
	var seen []string
	cursor := ""
	for {
		keys, next, err := b.svc.ListAPIKeys(b.ctx, b.p.ID, store.Page{Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		assert.LessOrEqual(t, len(keys), 2)
		for _, k := range keys {
			seen = append(seen, k.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Len(t, seen, 5)
	_, _, err := b.svc.ListAPIKeys(b.ctx, b.p.ID, store.Page{Cursor: "key_nope"})
	assert.Equal(t, []string{"query.cursor"}, fieldsOf(t, err))
}

func TestARevokedKeyNoLongerAuthenticates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k, key, err := b.svc.CreateAPIKey(b.ctx, b.p.ID, service.APIKeyInput{})
	require.NoError(t, err)
	who, err := b.svc.Authenticate(b.ctx, key)
	require.NoError(t, err)
	assert.Equal(t, service.Principal{ProjectID: b.p.ID, KeyID: k.ID, Scopes: []string{herald.ScopeAll}}, who)
	require.NoError(t, b.svc.RevokeAPIKey(b.ctx, b.p.ID, k.ID))
	_, err = b.svc.Authenticate(b.ctx, key)
	assert.Equal(t, herald.EUNAUTHORIZED, herald.ErrorCode(err))
	assert.True(t, herald.IsNotFound(b.svc.RevokeAPIKey(b.ctx, b.p.ID, k.ID)))
}

func TestTheAdminKeyAuthenticatesAsAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	who, err := b.svc.Authenticate(b.ctx, b.adminKy)
	require.NoError(t, err)
	assert.Equal(t, service.Principal{Admin: true}, who)
	for _, bad := range []string{"", "hk_nope"} {
		_, err := b.svc.Authenticate(b.ctx, bad)
		assert.Equal(t, herald.EUNAUTHORIZED, herald.ErrorCode(err))
	}
}

func TestReplayIsRefusedForAnUnknownOrDisabledEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t)
	res := b.ingest(t, "order.paid", `{}`)
	require.NoError(t, res.Err)
	_, err := b.svc.ReplayEvent(b.ctx, res.Event, "ep_nope")
	assert.Equal(t, []string{"body.endpoint_id"}, fieldsOf(t, err))
	_, err = b.svc.SetEndpointEnabled(b.ctx, ep, false)
	require.NoError(t, err)
	_, err = b.svc.ReplayEvent(b.ctx, res.Event, ep.ID)
	assert.Equal(t, []string{"body.endpoint_id"}, fieldsOf(t, err))
}

func TestReplayDeliversAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t)
	res := b.ingest(t, "order.paid", `{}`)
	n, err := b.svc.ReplayEvent(b.ctx, res.Event, ep.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Len(t, b.deliveries(t, ep.ID), 2)
}

func TestRetryAttemptsADeliveryNow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t)
	d := b.pendingDelivery(t, ep)
	att, err := b.svc.RetryDelivery(b.ctx, d)
	require.NoError(t, err)
	assert.Equal(t, herald.TriggerManual, att.Trigger)
	got, err := b.svc.Delivery(b.ctx, b.p.ID, d.ID)
	require.NoError(t, err)
	assert.Equal(t, herald.DeliverySucceeded, got.Status)
	_, err = b.svc.Delivery(b.ctx, b.p.ID, "dlv_nope")
	assert.Equal(t, "delivery not found", err.Error())
}
