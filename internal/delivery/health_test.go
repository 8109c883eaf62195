package delivery

import (
	"bytes"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/stretchr/testify/require"
)

// Another process's breaker paused the endpoint; this process, which has
// not seen it open, fails its first attempt. Its health write must not end
// the pause, and it holds off too.
func TestFirstFailureKeepsAnotherProcesssPause(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	// The first request succeeds (this engine caches the endpoint, healthy);
	// every later one fails.
	rc := testkit.NewReceiver(t, func(n int, _ *http.Request, w http.ResponseWriter) {
		if n > 1 {
			w.WriteHeader(500)
		}
	})
	ep := b.endpoint(rc.URL, nil)
	b.run(b.e)
	first := b.ingest("user.created", `{}`)
	testkit.WaitFor(t, "first delivery", func() bool {
		return b.deliveries(store.DeliveryFilter{EventID: first.Event.ID})[0].Status == herald.DeliverySucceeded
	})

	pause := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	if err := b.st.PostponeEndpoint(b.ctx, ep.ID, pause); err != nil {
		t.Fatal(err)
	}
	res := b.ingest("user.created", `{}`)
	testkit.WaitFor(t, "the failure recorded", func() bool {
		ds := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})
		return ds[0].Attempts == 1
	})
	// The retry was scheduled before now, 20 ms after the failure.
	retryDue := time.Now().Add(ep.RetrySchedule[0].D())
	// The health write of the failure comes after the result: give it time.
	testkit.WaitFor(t, "failing status written", func() bool {
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
	// The retry (due in 20 ms) waits for the pause in this process too: its
	// breaker holds the other's pause, so no lane sends to the endpoint.
	testkit.WaitFor(t, "this process's breaker to take on the pause", func() bool {
		return b.e.health.paused(ep.ID, time.Now())
	})
	testkit.WaitFor(t, "the retry to fall due", func() bool { return time.Now().After(retryDue) })
	d := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})[0]
	if n := rc.Count(); n != 2 || d.Status != herald.DeliveryPending || d.Attempts != 1 {
		t.Fatalf("%d requests, delivery %s after %d attempts; want 2 requests and the retry pending: it must wait for the pause",
			n, d.Status, d.Attempts)
	}
	if d.NextAttemptAt == nil || d.NextAttemptAt.Before(pause) {
		t.Fatalf("next attempt at %v, want the end of the pause %v", d.NextAttemptAt, pause)
	}
}

// An operational event for a project deleted meanwhile (its endpoint's
// breaker opened as the project went) has nobody to reach: it is noted at
// debug level, not logged as an error.
func TestEmitToDeletedProjectIsNotAnError(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	b := setup(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	b.e.ops.emit(b.ctx, []opEvent{{projectID: herald.NewID(herald.PrefixProject), typ: EventEndpointFailing, data: map[string]any{"endpoint_id": "ep_gone"}}})
	require.NotContains(t, logs.String(), "level=ERROR")
	require.Contains(t, logs.String(), "project no longer exists")
	// A project that exists still gets its event.
	b.e.ops.emit(b.ctx, []opEvent{{projectID: b.project.ID, typ: EventEndpointFailing, data: map[string]any{"endpoint_id": "ep_x"}}})
	require.NotContains(t, logs.String(), "level=ERROR")
	evs, _, err := b.st.ListEvents(b.ctx, b.project.ID, store.EventFilter{Type: EventEndpointFailing}, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, evs, 1)
}
