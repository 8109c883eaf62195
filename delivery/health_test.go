package delivery

import (
	"net/http"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/store"
)

// Another process's breaker paused the endpoint; this process, which has
// not seen it open, fails its first attempt. Its health write must not end
// the pause, and it holds off too.
func TestFirstFailureKeepsAnotherProcesssPause(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := newReceiver(t, func(_ int, _ *http.Request, w http.ResponseWriter) { w.WriteHeader(500) })
	ep := b.endpoint(rc.URL, nil)
	b.run(b.e)
	// This engine routes (and caches) the endpoint before the pause.
	res := b.ingest("user.created", `{}`)
	waitFor(t, "first attempt", func() bool { return rc.count() == 1 })

	pause := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	if err := b.st.PostponeEndpoint(b.ctx, ep.ID, pause); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failure recorded", func() bool {
		ds := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})
		return ds[0].Attempts == 1 && ds[0].Status == herald.DeliveryPending
	})
	// The health write of the failure comes after the result: give it time.
	waitFor(t, "failing status written", func() bool {
		got, err := b.st.GetEndpointByID(b.ctx, ep.ID)
		return err == nil && got.ConsecutiveFailures == 1
	})
	got, err := b.st.GetEndpointByID(b.ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PausedUntil == nil || got.PausedUntil.Before(pause) {
		t.Fatalf("paused_until = %v after this process's first failure, want the other's pause %v kept", got.PausedUntil, pause)
	}
	// The retry (due in 20 ms) waits for the pause in this process too.
	time.Sleep(200 * time.Millisecond)
	if n := rc.count(); n != 1 {
		t.Fatalf("%d requests during the pause, want only the first", n)
	}
}
