package storetest

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// validityEnded: CancelEndedDeliveries cancels, with its reason, the
// pending deliveries of endpoints whose active_until is at or before now,
// and its in-flight ones whose lease expired, and nothing else (an
// endpoint still in its period, or with none, or a delivery in flight
// under a live lease).
func (s *suite) validityEnded(t *testing.T) {
	b := s.setup(t)
	ended := b.newEndpoint(t, func(ep *herald.Endpoint) { ep.ActiveUntil = ptr(b.now.Add(-time.Second)) })
	open := b.newEndpoint(t, nil) // active until b.now + 48h
	forever := b.newEndpoint(t, func(ep *herald.Endpoint) { ep.ActiveFrom, ep.ActiveUntil = nil, nil })
	notYet := b.newEndpoint(t, func(ep *herald.Endpoint) { ep.ActiveFrom = ptr(b.now.Add(time.Hour)) })

	_, due := b.enqueue(t, b.now.Add(time.Hour), ended, open, forever, notYet)
	// One claim under a lease that outlives now, one whose lease expired
	// (its process died).
	_, flying := b.enqueue(t, b.now.Add(-time.Minute), ended)
	require.Len(t, b.claim(t, store.ClaimParams{Now: b.now.Add(-time.Minute + time.Millisecond), SkipEndpoints: []string{open.ID, forever.ID, notYet.ID}}), 1)
	_, lost := b.enqueue(t, b.now.Add(-2*time.Minute), ended)
	require.Len(t, b.claim(t, store.ClaimParams{Now: b.now.Add(-2 * time.Minute), Lease: time.Second, SkipEndpoints: []string{open.ID, forever.ID, notYet.ID}}), 1)

	n, err := b.st.CancelEndedDeliveries(b.ctx, b.now)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, herald.DeliveryCanceled, b.delivery(t, lost[0].ID).Status)

	got := b.delivery(t, due[0].ID)
	require.Equal(t, herald.DeliveryCanceled, got.Status)
	require.Equal(t, store.ValidityEndedReason, got.LastError)
	require.Nil(t, got.NextAttemptAt)
	for _, d := range due[1:] {
		require.Equal(t, herald.DeliveryPending, b.delivery(t, d.ID).Status, "delivery to %s", d.EndpointID)
	}
	require.Equal(t, herald.DeliveryInFlight, b.delivery(t, flying[0].ID).Status)

	// Nothing left to end: a second sweep is a no-op.
	n, err = b.st.CancelEndedDeliveries(b.ctx, b.now)
	require.NoError(t, err)
	require.Zero(t, n)
}
