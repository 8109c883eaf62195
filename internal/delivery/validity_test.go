package delivery

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
)

// testClock is an injectable clock that tests move forward.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *testClock) now() time.Time                   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) add(d time.Duration)              { c.ns.Add(int64(d)) }
func (c *testClock) set(cfg *Config)                  { cfg.Now = c.now }
func (c *testClock) after(d time.Duration) *time.Time { t := c.now().Add(d); return &t }

func TestRetryDueAfterValidityPeriodEndsCanceled(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	b := setup(t, clock.set)
	rc := testkit.NewReceiver(t, testkit.Status(500))
	b.endpoint(rc.URL, func(ep *herald.Endpoint) {
		ep.ActiveUntil = clock.after(time.Minute)
		ep.RetrySchedule = []herald.Duration{herald.Duration(10 * time.Minute)}
	})
	b.run(b.e)
	res := b.ingest("user.created", `{}`)
	testkit.WaitFor(t, "the first attempt to fail and a retry to be scheduled", func() bool {
		ds := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})
		return len(ds) == 1 && ds[0].Status == herald.DeliveryPending && ds[0].Attempts == 1
	})

	clock.add(2 * time.Minute) // past active_until, before the retry
	testkit.WaitFor(t, "the delivery to end canceled", func() bool {
		return b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})[0].Status == herald.DeliveryCanceled
	})
	d := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})[0]
	if d.LastError != store.ValidityEndedReason || d.NextAttemptAt != nil {
		t.Errorf("canceled delivery: last_error %q, next_attempt_at %v; want the reason and no next attempt", d.LastError, d.NextAttemptAt)
	}
	if n := rc.Count(); n != 1 {
		t.Errorf("receiver got %d requests, want 1 (none after the period ended)", n)
	}
}

// sweepStore is the real store, counting the validity sweeps.
type sweepStore struct {
	store.Store
	n atomic.Int64
}

func (s *sweepStore) CancelEndedDeliveries(ctx context.Context, now time.Time) (int, error) {
	defer s.n.Add(1)
	return s.Store.CancelEndedDeliveries(ctx, now)
}

func TestDeliveryBeforeValidityPeriodWaits(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	b := setup(t, clock.set)
	sweeps := &sweepStore{Store: b.st}
	b.e = b.engine(sweeps, clock.set)
	rc := testkit.NewReceiver(t, nil)
	ep := b.endpoint(rc.URL, func(ep *herald.Endpoint) { ep.ActiveFrom = clock.after(time.Hour) })
	b.run(b.e)
	// Routing skips an endpoint outside its period; a replay to it queues
	// a delivery all the same.
	ev := b.ingest("user.created", `{}`).Event
	if n, err := b.e.Replay(b.ctx, b.project.ID, ev.ID, ep.ID, false); err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	// Several sweeps pass: the delivery waits, neither sent nor canceled
	// (it may be claimed and handed back meanwhile: in flight, not sent).
	from := sweeps.n.Load()
	testkit.WaitFor(t, "three sweeps", func() bool {
		ds := b.deliveries(store.DeliveryFilter{EndpointID: ep.ID})
		waiting := len(ds) == 1 && (ds[0].Status == herald.DeliveryPending || ds[0].Status == herald.DeliveryInFlight)
		if !waiting || rc.Count() != 0 {
			t.Fatalf("before the period began: %d deliveries, status %s, %d requests; want one waiting, none sent", len(ds), ds[0].Status, rc.Count())
		}
		return sweeps.n.Load() >= from+3
	})
	clock.add(2 * time.Hour)
	testkit.WaitFor(t, "the delivery once the period began", func() bool {
		ds := b.deliveries(store.DeliveryFilter{EndpointID: ep.ID})
		return ds[0].Status == herald.DeliverySucceeded && rc.Count() == 1
	})
}
