package delivery

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
)

func TestRetryMakesAManualAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, testkit.Status(500))
	b.endpoint(rc.URL, func(ep *herald.Endpoint) { ep.RetrySchedule = []herald.Duration{} })
	b.run(b.e)
	res := b.ingest("user.created", `{}`)
	testkit.WaitFor(t, "exhausted", func() bool {
		ds := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})
		return len(ds) == 1 && ds[0].Status == herald.DeliveryExhausted
	})
	d := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})[0]

	rc.SetRespond(testkit.Status(200))
	att, err := b.e.Retry(b.ctx, b.project.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if att.Trigger != herald.TriggerManual || att.Number != 2 || !att.Succeeded() {
		t.Errorf("attempt = %+v", att)
	}
	got, _ := b.st.GetDelivery(b.ctx, b.project.ID, d.ID)
	if got.Status != herald.DeliverySucceeded || got.Attempts != 2 {
		t.Errorf("delivery after manual retry: %s, %d attempts", got.Status, got.Attempts)
	}
	if _, err := b.e.Retry(b.ctx, b.project.ID, "dlv_missing"); !herald.IsNotFound(err) {
		t.Errorf("unknown delivery: %v, want not found", err)
	}
}

func TestReplayCreatesNewDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc1, rc2 := testkit.NewReceiver(t, nil), testkit.NewReceiver(t, nil)
	ep1 := b.endpoint(rc1.URL, nil)
	b.endpoint(rc2.URL, nil)
	b.run(b.e)
	res := b.ingest("user.created", `{}`)
	testkit.WaitFor(t, "first deliveries", func() bool { return rc1.Count() == 1 && rc2.Count() == 1 })

	n, err := b.e.Replay(b.ctx, b.project.ID, res.Event.ID, "", false)
	if err != nil || n != 2 {
		t.Fatalf("replay to all: %d, %v", n, err)
	}
	n, err = b.e.Replay(b.ctx, b.project.ID, res.Event.ID, ep1.ID, false)
	if err != nil || n != 1 {
		t.Fatalf("replay to one: %d, %v", n, err)
	}
	testkit.WaitFor(t, "replayed deliveries", func() bool { return rc1.Count() == 3 && rc2.Count() == 2 })
	if id := rc1.Requests()[2].Header.Get("webhook-id"); id != res.Event.ID {
		t.Errorf("replay webhook-id = %q, want the event's", id)
	}
}

func TestRecoverRequeuesFailedDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, testkit.Status(500))
	ep := b.endpoint(rc.URL, func(ep *herald.Endpoint) { ep.RetrySchedule = []herald.Duration{} })
	b.run(b.e)
	since := time.Now().Add(-time.Minute)
	for range 3 {
		b.ingest("user.created", `{}`)
	}
	testkit.WaitFor(t, "all exhausted", func() bool {
		n := 0
		for _, d := range b.deliveries(store.DeliveryFilter{Status: herald.DeliveryExhausted}) {
			_ = d
			n++
		}
		return n == 3
	})
	rc.SetRespond(testkit.Status(200))
	n, err := b.e.Recover(b.ctx, b.project.ID, ep.ID, since, time.Now().Add(time.Minute))
	if err != nil || n != 3 {
		t.Fatalf("recover: %d, %v", n, err)
	}
	testkit.WaitFor(t, "recovered deliveries succeed", func() bool {
		return len(b.deliveries(store.DeliveryFilter{Status: herald.DeliverySucceeded})) == 3
	})
}

func TestTestSendsExampleOrPingAndStoresIt(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, nil)
	ep := b.endpoint(rc.URL, nil)
	now := time.Now()
	if err := b.st.CreateEventType(b.ctx, &herald.EventType{ProjectID: b.project.ID, Name: "order.paid",
		Example: json.RawMessage(`{"order_id":"o_1"}`), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	att, err := b.e.Test(b.ctx, b.project.ID, ep.ID, "order.paid")
	if err != nil {
		t.Fatal(err)
	}
	if att.Trigger != herald.TriggerTest || !att.Succeeded() {
		t.Errorf("attempt = %+v", att)
	}
	var env struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	json.Unmarshal(rc.Requests()[0].Body, &env)
	if env.Type != "order.paid" || string(env.Data) != `{"order_id":"o_1"}` {
		t.Errorf("test body = %s", rc.Requests()[0].Body)
	}
	stored, err := b.st.ListAttempts(b.ctx, b.project.ID, att.DeliveryID)
	if err != nil || len(stored) != 1 || stored[0].ID != att.ID {
		t.Errorf("attempt not stored: %v %v", stored, err)
	}
	d, err := b.st.GetDelivery(b.ctx, b.project.ID, att.DeliveryID)
	if err != nil || d.Status != herald.DeliverySucceeded {
		t.Errorf("test delivery: %+v %v", d, err)
	}

	if _, err := b.e.Test(b.ctx, b.project.ID, ep.ID, ""); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(rc.Requests()[1].Body, &env)
	if env.Type != EventPing {
		t.Errorf("ping type = %q", env.Type)
	}
}

func TestInsertStoresPreparedEventsAndDispatches(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, func(_ int, _ *http.Request, w http.ResponseWriter) {})
	ep := b.endpoint(rc.URL, nil)
	b.run(b.e)
	now := time.Now().UTC()
	ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: b.project.ID, Type: "before_signup",
		Data: json.RawMessage(`{}`), OccurredAt: now, CreatedAt: now, Hook: true}
	res, err := b.e.Insert(b.ctx, []*store.NewEvent{{Event: ev, Deliveries: []*herald.Delivery{pendingDelivery(ev, ep, now)}}})
	if err != nil || len(res) != 1 || res[0].Deliveries != 1 {
		t.Fatalf("insert: %+v %v", res, err)
	}
	testkit.WaitFor(t, "queued hook delivery sent", func() bool { return rc.Count() == 1 })
}
