package delivery

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
)

// breaker1h opens an endpoint's breaker after two failures, for an hour.
func breaker1h(c *Config) { c.BreakerThreshold, c.BreakerCooldown = 2, time.Hour }

// openBreaker makes a bundle whose endpoint fails until healed: two
// exhausted deliveries open its breaker for an hour, and a third delivery
// waits behind it. It returns the endpoint, the receiver and the time
// before the first event.
func openBreaker(t *testing.T) (*testBundle, *herald.Endpoint, *testkit.Receiver, time.Time) {
	t.Helper()
	b := setup(t, breaker1h)
	ep, rc, since := breakOpen(t, b)
	return b, ep, rc, since
}

// breakOpen runs b's engine (made with breaker1h) against a failing
// endpoint until its breaker opens, queues a third delivery behind it,
// then heals the receiver (see openBreaker).
func breakOpen(t *testing.T, b *testBundle) (*herald.Endpoint, *testkit.Receiver, time.Time) {
	t.Helper()
	rc := testkit.NewReceiver(t, testkit.Status(500))
	ep := b.endpoint(rc.URL, func(ep *herald.Endpoint) { ep.RetrySchedule = []herald.Duration{} })
	b.run(b.e)
	since := time.Now().Add(-time.Minute)
	b.ingest("user.created", `{}`)
	b.ingest("user.created", `{}`)
	// Each send writes the endpoint's health as this process sees it
	// before it ends (the first failure's may land after the breaker
	// opened): a resume by another process must come after the last of
	// those writes, or that write would undo it.
	testkit.WaitFor(t, "two exhausted deliveries, the breaker open and its sends ended", func() bool {
		cur, err := b.st.GetEndpointByID(b.ctx, ep.ID)
		return err == nil && cur.PausedUntil != nil && cur.Status == herald.EndpointFailing &&
			len(b.deliveries(store.DeliveryFilter{Status: herald.DeliveryExhausted})) == 2 &&
			b.e.disp.holding() == 0
	})
	b.ingest("user.created", `{}`)
	rc.SetRespond(testkit.Status(200))
	return ep, rc, since
}

func TestRecoverClosesTheBreaker(t *testing.T) {
	t.Parallel()
	b, ep, _, since := openBreaker(t)
	n, err := b.e.Recover(b.ctx, b.project.ID, ep.ID, since, time.Now().Add(time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("recover: %d, %v", n, err)
	}
	// Well before the hour's cooldown: the recovered deliveries and the
	// one waiting behind the breaker go out now.
	testkit.WaitFor(t, "every delivery succeeded", func() bool {
		return len(b.deliveries(store.DeliveryFilter{Status: herald.DeliverySucceeded})) == 3
	})
	testkit.WaitFor(t, "the endpoint healthy, unpaused", func() bool {
		cur, err := b.st.GetEndpointByID(b.ctx, ep.ID)
		return err == nil && cur.PausedUntil == nil && cur.Status == herald.EndpointHealthy && cur.ConsecutiveFailures == 0
	})
}

func TestRetrySuccessClosesTheBreaker(t *testing.T) {
	t.Parallel()
	b, _, _, _ := openBreaker(t)
	d := b.deliveries(store.DeliveryFilter{Status: herald.DeliveryExhausted})[0]
	if att, err := b.e.Retry(b.ctx, b.project.ID, d.ID); err != nil || !att.Succeeded() {
		t.Fatalf("retry: %+v, %v", att, err)
	}
	testkit.WaitFor(t, "the delivery waiting behind the breaker to succeed", func() bool {
		return len(b.deliveries(store.DeliveryFilter{Status: herald.DeliverySucceeded})) == 2
	})
}

func TestEndpointResumedClosesTheBreaker(t *testing.T) {
	t.Parallel()
	b, ep, _, _ := openBreaker(t)
	b.e.EndpointResumed(ep.ID)
	testkit.WaitFor(t, "the delivery waiting behind the breaker to succeed", func() bool {
		return len(b.deliveries(store.DeliveryFilter{Status: herald.DeliverySucceeded})) == 1
	})
}

func TestEndpointResumedStillFailingReopens(t *testing.T) {
	t.Parallel()
	b, ep, rc, _ := openBreaker(t)
	rc.SetRespond(testkit.Status(500))
	b.e.EndpointResumed(ep.ID)
	// The waiting delivery is tried at once; its failure opens the breaker
	// again (the failure count was kept), so the endpoint is paused anew.
	testkit.WaitFor(t, "the waiting delivery tried and the breaker open again", func() bool {
		cur, err := b.st.GetEndpointByID(b.ctx, ep.ID)
		return rc.Count() == 3 && err == nil && cur.PausedUntil != nil && cur.Status == herald.EndpointFailing
	})
}

// In a cluster the operator's recover may reach another process than the
// one whose breaker opened: the pause is in the database, and that process
// ends it and sends at once.
func TestPostgresRecoverOnAnotherProcessClosesTheBreaker(t *testing.T) {
	t.Parallel()
	b, _, db2, _ := twoProcesses(t)
	b.e = b.engine(b.st, breaker1h)
	ep, _, since := breakOpen(t, b)

	other := b.engine(db2, breaker1h)
	b.run(other)
	n, err := other.Recover(b.ctx, b.project.ID, ep.ID, since, time.Now().Add(time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("recover on the other process: %d, %v", n, err)
	}
	testkit.WaitFor(t, "every delivery succeeded", func() bool {
		return len(b.deliveries(store.DeliveryFilter{Status: herald.DeliverySucceeded})) == 3
	})
}
