package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/prometheus/client_golang/prometheus"
)

func TestDeliveryRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b := setup(t, func(c *Config) { c.Registerer = reg })
	rc := testkit.NewReceiver(t, func(n int, _ *http.Request, w http.ResponseWriter) {
		if n < 3 {
			w.WriteHeader(500)
		}
	})
	ep := b.endpoint(rc.URL, nil) // retry schedule 20ms, 20ms: three attempts
	b.run(b.e)
	res := b.ingest("user.created", `{"user_id":"u_1"}`)
	if res.Deliveries != 1 {
		t.Fatalf("deliveries = %d, want 1", res.Deliveries)
	}
	testkit.WaitFor(t, "delivery succeeded", func() bool {
		ds := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})
		return len(ds) == 1 && ds[0].Status == herald.DeliverySucceeded
	})
	reqs := rc.Requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d, want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.Header.Get("webhook-id") != res.Event.ID || r.Header.Get("webhook-attempt") != strconv.Itoa(i+1) {
			t.Errorf("request %d: webhook-id %q attempt %q", i, r.Header.Get("webhook-id"), r.Header.Get("webhook-attempt"))
		}
	}
	d := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})[0]
	atts, err := b.st.ListAttempts(b.ctx, b.project.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 3 || atts[0].ResponseStatus != 500 || atts[2].ResponseStatus != 200 || atts[2].EndpointID != ep.ID {
		t.Errorf("attempts recorded: %d", len(atts))
	}
	if atts[0].RequestHeaders["Webhook-Signature"] != redacted {
		t.Errorf("stored signature not redacted: %q", atts[0].RequestHeaders["Webhook-Signature"])
	}

	// The metrics tell the same story.
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetValue() + "}"
			}
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for k, want := range map[string]float64{
		"herald_events_ingested_total":    1,
		"herald_attempts_total{retry}":    2,
		"herald_attempts_total{success}":  1,
		"herald_delivery_latency_seconds": 1,
		"herald_ingest_commit_events":     1,
	} {
		if got[k] != want {
			t.Errorf("metric %s = %v, want %v", k, got[k], want)
		}
	}
}

func TestDeliveryExhaustedAfterLastAttemptEmitsOperationalEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, testkit.Status(500))
	ops := testkit.NewReceiver(t, nil)
	b.endpoint(rc.URL, nil)
	b.endpoint(ops.URL, func(ep *herald.Endpoint) { ep.EventTypes = []string{EventDeliveryExhausted} })
	b.run(b.e)
	res := b.ingest("user.created", `{}`)
	testkit.WaitFor(t, "exhausted event delivered", func() bool { return ops.Count() == 1 })
	if rc.Count() != 3 {
		t.Errorf("attempts = %d, want 3 (schedule of 2 + 1)", rc.Count())
	}
	d := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})
	if len(d) != 1 || d[0].Status != herald.DeliveryExhausted || d[0].Attempts != 3 {
		t.Fatalf("delivery = %+v, want exhausted after 3", d)
	}
	var env struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	json.Unmarshal(ops.Requests()[0].Body, &env)
	if env.Type != EventDeliveryExhausted || env.Data["delivery_id"] != d[0].ID {
		t.Errorf("operational event = %+v", env)
	}
}

func TestGoneDisablesEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, testkit.Status(410))
	ep := b.endpoint(rc.URL, nil)
	b.run(b.e)
	b.ingest("user.created", `{}`)
	testkit.WaitFor(t, "endpoint disabled, in the store and in the engine's routing", func() bool {
		got, err := b.st.GetEndpoint(b.ctx, b.project.ID, ep.ID)
		eps, rerr := b.e.Endpoints(b.ctx, b.project.ID, "")
		return err == nil && got.Status == herald.EndpointDisabled &&
			rerr == nil && len(eps) == 1 && eps[0].Status == herald.EndpointDisabled
	})
	got, _ := b.st.GetEndpoint(b.ctx, b.project.ID, ep.ID)
	if got.Enabled || got.DisabledReason != "endpoint answered 410 Gone" {
		t.Errorf("endpoint enabled=%v reason=%q", got.Enabled, got.DisabledReason)
	}
	if rc.Count() != 1 {
		t.Errorf("requests = %d, want 1 (no retry after 410)", rc.Count())
	}
	// A disabled endpoint receives nothing new.
	if res := b.ingest("user.created", `{}`); res.Deliveries != 0 {
		t.Errorf("deliveries to a disabled endpoint = %d", res.Deliveries)
	}
}

// countingStore counts calls on a real store.
type countingStore struct {
	store.Store
	inserts, claims, completes atomic.Int64
}

func (c *countingStore) ClaimDeliveries(ctx context.Context, p store.ClaimParams) ([]*store.Claim, error) {
	c.claims.Add(1)
	return c.Store.ClaimDeliveries(ctx, p)
}

func (c *countingStore) CompleteAttempts(ctx context.Context, rs []*store.AttemptResult) error {
	c.completes.Add(1)
	return c.Store.CompleteAttempts(ctx, rs)
}

func (c *countingStore) InsertEvents(ctx context.Context, evs []*store.NewEvent) ([]store.InsertResult, error) {
	c.inserts.Add(1)
	return c.Store.InsertEvents(ctx, evs)
}

// gatedStore holds the first InsertEvents until release is closed, and
// records the size of every call.
type gatedStore struct {
	store.Store
	release chan struct{}
	first   sync.Once
	mu      sync.Mutex
	sizes   []int
}

func (g *gatedStore) InsertEvents(ctx context.Context, evs []*store.NewEvent) ([]store.InsertResult, error) {
	g.first.Do(func() { <-g.release })
	g.mu.Lock()
	g.sizes = append(g.sizes, len(evs))
	g.mu.Unlock()
	return g.Store.InsertEvents(ctx, evs)
}

// Ingests that arrive while a commit runs are committed together in the
// next one. The first commit is held until every other ingest is queued,
// so the test does not depend on how the goroutines happen to be scheduled.
func TestGroupCommitBatchesConcurrentIngests(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	gs := &gatedStore{Store: b.st, release: make(chan struct{})}
	e := b.engine(gs, nil)
	const n = 200
	var wg sync.WaitGroup
	ids := make([]string, n)
	for i := range n {
		wg.Go(func() {
			res, err := e.Ingest(b.ctx, b.project, []EventInput{{Type: "user.created", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}})
			if err != nil || res[0].Err != nil {
				t.Errorf("ingest %d: %v %v", i, err, res[0].Err)
				return
			}
			ids[i] = res[0].Event.ID
		})
	}
	queued := func() int {
		e.commit.mu.Lock()
		defer e.commit.mu.Unlock()
		return len(e.commit.queue)
	}
	deadline := time.Now().Add(time.Minute)
	for queued() < n-1 {
		if time.Now().After(deadline) {
			close(gs.release)
			t.Fatalf("only %d of %d ingests queued behind the first commit", queued(), n-1)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(gs.release)
	wg.Wait()
	gs.mu.Lock()
	sizes := gs.sizes
	gs.mu.Unlock()
	if len(sizes) != 2 || sizes[0] != 1 || sizes[1] != n-1 {
		t.Errorf("InsertEvents calls of %v events for %d concurrent ingests, want [1 %d]", sizes, n, n-1)
	}
	for i, id := range ids {
		ev, err := b.st.GetEvent(b.ctx, b.project.ID, id)
		if err != nil || string(ev.Data) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("event %d not stored with its own data: %v", i, err)
		}
	}
}

func TestIdempotentReplayAndConflict(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.endpoint("http://127.0.0.1:1/", nil)
	in := EventInput{Type: "order.paid", Data: json.RawMessage(`{"n":1}`), IdempotencyKey: "k1", BodyHash: "h1"}
	first, err := b.e.Ingest(b.ctx, b.project, []EventInput{in})
	if err != nil || first[0].Err != nil {
		t.Fatal(err, first[0].Err)
	}
	again, _ := b.e.Ingest(b.ctx, b.project, []EventInput{in})
	if !again[0].Replayed || again[0].Event.ID != first[0].Event.ID || again[0].Deliveries != 1 {
		t.Errorf("replay = %+v, want the original event, replayed", again[0])
	}
	in.BodyHash, in.Data = "h2", json.RawMessage(`{"n":2}`)
	conflict, _ := b.e.Ingest(b.ctx, b.project, []EventInput{in})
	if herald.ErrorCode(conflict[0].Err) != herald.ECONFLICT {
		t.Errorf("different body: err %v, want conflict", conflict[0].Err)
	}
	if n := len(b.deliveries(store.DeliveryFilter{})); n != 1 {
		t.Errorf("deliveries stored = %d, want 1", n)
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	eps := map[string]*herald.Endpoint{
		"all":      b.endpoint("http://127.0.0.1:1/all", nil),
		"exact":    b.endpoint("http://127.0.0.1:1/exact", func(ep *herald.Endpoint) { ep.EventTypes = []string{"user.created"} }),
		"wildcard": b.endpoint("http://127.0.0.1:1/wild", func(ep *herald.Endpoint) { ep.EventTypes = []string{"user.*"} }),
		"channel":  b.endpoint("http://127.0.0.1:1/ch", func(ep *herald.Endpoint) { ep.Channels = []string{"acct_42"} }),
		"expired":  b.endpoint("http://127.0.0.1:1/exp", func(ep *herald.Endpoint) { ep.ActiveUntil = &past }),
		"future":   b.endpoint("http://127.0.0.1:1/fut", func(ep *herald.Endpoint) { ep.ActiveFrom = &future }),
		"disabled": b.endpoint("http://127.0.0.1:1/off", func(ep *herald.Endpoint) { ep.Enabled = false }),
		"filter":   b.endpoint("http://127.0.0.1:1/f", func(ep *herald.Endpoint) { ep.Filter = `data.plan == "pro"` }),
		"ops":      b.endpoint("http://127.0.0.1:1/ops", func(ep *herald.Endpoint) { ep.EventTypes = []string{"herald.*"} }),
	}
	cases := []struct {
		typ      string
		channels []string
		data     string
		internal bool
		want     []string
	}{
		{"user.created", nil, `{"plan":"free"}`, false, []string{"all", "exact", "wildcard"}},
		{"user.deleted", []string{"acct_42"}, `{"plan":"pro"}`, false, []string{"all", "wildcard", "channel", "filter"}},
		{"order.paid", []string{"acct_7"}, `{}`, false, []string{"all"}},
		{EventEndpointFailing, nil, `{}`, true, []string{"ops"}},
	}
	for _, c := range cases {
		res, err := b.e.ingest(b.ctx, b.project, []EventInput{{Type: c.typ, Channels: c.channels, Data: json.RawMessage(c.data)}}, c.internal)
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res[0].Err)
		}
		got := map[string]bool{}
		for _, d := range b.deliveries(store.DeliveryFilter{EventID: res[0].Event.ID}) {
			for name, ep := range eps {
				if ep.ID == d.EndpointID {
					got[name] = true
				}
			}
		}
		if len(got) != len(c.want) {
			t.Errorf("%s %v: routed to %v, want %v", c.typ, c.channels, got, c.want)
		}
		for _, w := range c.want {
			if !got[w] {
				t.Errorf("%s %v: not routed to %s (got %v)", c.typ, c.channels, w, got)
			}
		}
	}
}

func TestMatchTypeReservesHeraldTypes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		patterns []string
		typ      string
		want     bool
	}{
		{nil, "user.created", true},
		{nil, "herald.endpoint.failing", false},
		{[]string{"*"}, "herald.endpoint.failing", false},
		{[]string{"herald.*"}, "herald.endpoint.failing", true},
		{[]string{"herald.endpoint.disabled"}, "herald.endpoint.disabled", true},
		{[]string{"user.*"}, "user.created", true},
		{[]string{"user.*"}, "users.created", false},
		{[]string{"user.created"}, "user.created.v2", false},
	}
	for _, c := range cases {
		if got := MatchType(c.patterns, c.typ); got != c.want {
			t.Errorf("MatchType(%v, %q) = %v, want %v", c.patterns, c.typ, got, c.want)
		}
	}
}

func TestIngestValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	schema := json.RawMessage(`{"type":"object","required":["email"],"properties":{"email":{"type":"string"}}}`)
	now := time.Now()
	if err := b.st.CreateEventType(b.ctx, &herald.EventType{ProjectID: b.project.ID, Name: "signup", Schema: schema, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	long := string(make([]byte, 129))
	cases := []struct {
		name string
		in   EventInput
		loc  string
	}{
		{"missing type", EventInput{Data: json.RawMessage(`{}`)}, "type"},
		{"bad characters", EventInput{Type: "user created", Data: json.RawMessage(`{}`)}, "type"},
		{"too long", EventInput{Type: "a" + long, Data: json.RawMessage(`{}`)}, "type"},
		{"reserved", EventInput{Type: "herald.ping", Data: json.RawMessage(`{}`)}, "type"},
		{"data array", EventInput{Type: "x", Data: json.RawMessage(`[1]`)}, "data"},
		{"data missing", EventInput{Type: "x"}, "data"},
		{"too many channels", EventInput{Type: "x", Data: json.RawMessage(`{}`), Channels: make([]string, 11)}, "channels"},
		{"schema", EventInput{Type: "signup", Data: json.RawMessage(`{"email":3}`)}, "data.email"},
	}
	ins := make([]EventInput, len(cases))
	for i, c := range cases {
		ins[i] = c.in
	}
	ins = append(ins, EventInput{Type: "signup", Data: json.RawMessage(`{"email":"a@b"}`)})
	res, err := b.e.Ingest(b.ctx, b.project, ins)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		var he *herald.Error
		e, ok := res[i].Err.(*herald.Error)
		he = e
		if !ok || he.Code != herald.EINVALID || len(he.Fields) == 0 || he.Fields[0].Location != c.loc {
			t.Errorf("%s: err = %v, want EINVALID at %q", c.name, res[i].Err, c.loc)
		}
	}
	if last := res[len(cases)]; last.Err != nil || last.Event == nil {
		t.Errorf("valid event refused: %v", last.Err)
	}

	// A strict project refuses unknown types; a changed schema applies at once.
	b.project.StrictEventTypes = true
	res, _ = b.e.Ingest(b.ctx, b.project, []EventInput{{Type: "unknown", Data: json.RawMessage(`{}`)}})
	if herald.ErrorCode(res[0].Err) != herald.EINVALID {
		t.Errorf("strict project accepted an unknown type")
	}
	et, _ := b.st.GetEventType(b.ctx, b.project.ID, "signup")
	et.Schema = json.RawMessage(`{"type":"object"}`)
	if err := b.st.UpdateEventType(b.ctx, et); err != nil {
		t.Fatal(err)
	}
	b.e.EventTypesChanged(b.project.ID)
	res, _ = b.e.Ingest(b.ctx, b.project, []EventInput{{Type: "signup", Data: json.RawMessage(`{"email":3}`)}})
	if res[0].Err != nil {
		t.Errorf("after the schema changed: %v", res[0].Err)
	}
}

func TestAtLeastOnceAcrossACrash(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Lease, c.DrainTimeout = 500*time.Millisecond, 50*time.Millisecond })
	hang := make(chan struct{})
	defer close(hang)
	rc := testkit.NewReceiver(t, func(n int, _ *http.Request, _ http.ResponseWriter) {
		if n == 1 {
			<-hang // the first process dies while this request is out
		}
	})
	b.endpoint(rc.URL, nil)
	stop1 := b.run(b.e)
	res := b.ingest("user.created", `{}`)
	testkit.WaitFor(t, "first request", func() bool { return rc.Count() == 1 })
	// The process loses its database (as a crash would): it can neither
	// record the attempt nor hand the lease back.
	b.db.Close()
	go stop1()

	db2, err := sqlite.Open(b.ctx, b.path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	e2 := b.engine(db2, func(c *Config) { c.Lease = 500 * time.Millisecond })
	b.run(e2)
	testkit.WaitFor(t, "redelivery", func() bool {
		d, _, err := db2.ListDeliveries(b.ctx, b.project.ID, store.DeliveryFilter{EventID: res.Event.ID}, store.Page{Limit: 10})
		return err == nil && len(d) == 1 && d[0].Status == herald.DeliverySucceeded
	})
	reqs := rc.Requests()
	if len(reqs) < 2 || reqs[1].Header.Get("webhook-id") != res.Event.ID {
		t.Errorf("redelivery did not carry the same webhook-id")
	}
}

func TestDrainOnStopFinishesAndRecordsInFlightAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	arrived := make(chan struct{}, 1)
	rc := testkit.NewReceiver(t, func(int, *http.Request, http.ResponseWriter) {
		arrived <- struct{}{}
		time.Sleep(200 * time.Millisecond)
	})
	b.endpoint(rc.URL, nil)
	stop := b.run(b.e)
	res := b.ingest("user.created", `{}`)
	<-arrived
	stop() // returns after the attempt finished and was recorded
	d := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})
	if len(d) != 1 || d[0].Status != herald.DeliverySucceeded {
		t.Errorf("after drain: %+v, want succeeded", d[0])
	}
}

func TestDrainHandsBackUnsentClaims(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.DrainTimeout = 100 * time.Millisecond })
	hang := make(chan struct{})
	defer close(hang)
	rc := testkit.NewReceiver(t, func(int, *http.Request, http.ResponseWriter) { <-hang })
	b.endpoint(rc.URL, func(ep *herald.Endpoint) { ep.MaxInFlight = 1; ep.Timeout = herald.Duration(time.Minute) })
	stop := b.run(b.e)
	b.ingest("a", `{}`)
	b.ingest("b", `{}`) // waits in the lane behind the first
	testkit.WaitFor(t, "first request", func() bool { return rc.Count() == 1 })
	// The attempt in flight outlives the drain timeout: it is cut off, and
	// it and the queued claim go back to the database, due now.
	stop()
	ds := b.deliveries(store.DeliveryFilter{})
	if len(ds) != 2 {
		t.Fatalf("deliveries = %d", len(ds))
	}
	for _, d := range ds {
		if d.Status != herald.DeliveryPending || d.Attempts != 0 {
			t.Errorf("delivery %s after drain: %s with %d attempts, want pending with none", d.EventType, d.Status, d.Attempts)
		}
	}
}

func TestRetentionPurgesOldEvents(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	b := setup(t, func(c *Config) {
		c.Retention = time.Hour
		c.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	})
	res := b.ingest("user.created", `{}`)
	b.e.purge(b.ctx)
	if _, err := b.st.GetEvent(b.ctx, b.project.ID, res.Event.ID); err != nil {
		t.Fatalf("event within retention purged: %v", err)
	}
	clock.Add(int64(2 * time.Hour))
	b.e.purge(b.ctx)
	if _, err := b.st.GetEvent(b.ctx, b.project.ID, res.Event.ID); !herald.IsNotFound(err) {
		t.Errorf("event past retention: %v, want purged", err)
	}
}

func TestBacklogInTheDatabaseDrainsWithoutWaitingForThePoll(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.PollInterval = time.Hour })
	rc := testkit.NewReceiver(t, nil)
	b.endpoint(rc.URL, nil)
	const n = 100
	in := make([]EventInput, n)
	for i := range in {
		in[i] = EventInput{Type: "user.created", Data: json.RawMessage(`{}`)}
	}
	// Ingested while no dispatcher runs: the backlog is in the database.
	if _, err := b.e.Ingest(b.ctx, b.project, in); err != nil {
		t.Fatal(err)
	}
	b.run(b.e)
	testkit.WaitFor(t, "backlog delivered", func() bool { return rc.Count() == n })
}
