package storetest

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// completeAttemptsCanceled: a delivery is canceled when its endpoint is
// deleted or disabled, possibly while an attempt of it runs. That attempt's
// result, when it comes, is logged but does not bring the delivery back:
// otherwise a retry result would make it claimable again for an endpoint
// that is gone, and a success would report as delivered what the user
// canceled. An operator's manual attempt is another matter: it moves a
// canceled delivery like a finished one.
func (s *suite) completeAttemptsCanceled(t *testing.T) {
	t.Run("EndpointDeletedWhileAttemptRan", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		_, ds := b.enqueue(t, b.now, ep)
		require.Len(t, b.claim(t, store.ClaimParams{Now: b.now, Lease: time.Minute}), 1)
		require.NoError(t, b.st.DeleteEndpoint(b.ctx, b.project.ID, ep.ID))
		// The delete canceled the delivery (EndpointCancelsInFlight); a
		// claim after its lease ran out must not revive it.
		require.Empty(t, b.claim(t, store.ClaimParams{Now: b.now.Add(2 * time.Minute)}))
		before := b.delivery(t, ds[0].ID)
		require.Equal(t, herald.DeliveryCanceled, before.Status)

		late := newAttempt(ds[0], 1, b.now, 200, 5)
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{{Attempt: late, Status: herald.DeliverySucceeded}}))
		requireStillCanceled(t, b, before, late)
	})
	t.Run("NormalResultsLeaveItCanceled", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		ev := b.newEvent("user.created", b.now)
		ds := make([]*herald.Delivery, 3)
		for i := range ds {
			ds[i] = newDelivery(ev, ep, b.now)
			ds[i].Status, ds[i].NextAttemptAt = herald.DeliveryCanceled, nil
		}
		b.insert(t, &store.NewEvent{Event: ev, Deliveries: ds})

		next := b.now.Add(time.Minute)
		as := []*herald.Attempt{newAttempt(ds[0], 1, b.now, 200, 1), newAttempt(ds[1], 1, b.now, 503, 1), newAttempt(ds[2], 1, b.now, 500, 1)}
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{
			{Attempt: as[0], Status: herald.DeliverySucceeded},
			{Attempt: as[1], Status: herald.DeliveryPending, NextAttemptAt: &next},
			{Attempt: as[2], Status: herald.DeliveryExhausted},
		}))
		for i, d := range ds {
			requireStillCanceled(t, b, d, as[i])
		}
		require.Empty(t, b.claim(t, store.ClaimParams{Now: next.Add(time.Minute)}), "a retry result does not make it due")
	})
	t.Run("ManualResultMovesIt", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		ev := b.newEvent("user.created", b.now)
		d := newDelivery(ev, ep, b.now)
		d.Status, d.NextAttemptAt = herald.DeliveryCanceled, nil
		b.insert(t, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{d}})

		manual := newAttempt(d, 1, b.now, 200, 1)
		manual.Trigger = herald.TriggerManual
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{{Attempt: manual, Status: herald.DeliverySucceeded, Manual: true}}))
		got := b.delivery(t, d.ID)
		require.Equal(t, herald.DeliverySucceeded, got.Status)
		require.Equal(t, 1, got.Attempts)
		require.NotNil(t, got.SucceededAt)
	})
}

// requireStillCanceled checks that the canceled delivery d only gained the
// attempt a.
func requireStillCanceled(t *testing.T, b *testBundle, d *herald.Delivery, a *herald.Attempt) {
	t.Helper()
	got := b.delivery(t, d.ID)
	require.Equal(t, herald.DeliveryCanceled, got.Status, "a canceled delivery stays canceled")
	require.Equal(t, d.Attempts, got.Attempts, "its attempts counter is not moved")
	require.Nil(t, got.NextAttemptAt)
	require.Nil(t, got.SucceededAt)
	require.Empty(t, got.LockedBy)
	require.Nil(t, got.LockedUntil)
	atts, err := b.st.ListAttempts(b.ctx, b.project.ID, d.ID)
	require.NoError(t, err)
	require.Len(t, atts, 1, "the attempt is still logged")
	equal(t, a, atts[0])
}

// endpointCancelsInFlight: deleting or disabling an endpoint cancels its
// in-flight deliveries as well as its pending ones, there and then, not
// when their leases run out. The attempts running meanwhile finish later,
// and their results (a retry, a success) must then find the delivery
// canceled and leave it so: a retry would otherwise queue it again for an
// endpoint that is gone or off, and a success would mark as delivered what
// the user called off.
func (s *suite) endpointCancelsInFlight(t *testing.T) {
	for _, c := range []struct {
		name   string
		cancel func(t *testing.T, b *testBundle, ep *herald.Endpoint)
	}{
		{"Deleted", func(t *testing.T, b *testBundle, ep *herald.Endpoint) {
			require.NoError(t, b.st.DeleteEndpoint(b.ctx, b.project.ID, ep.ID))
		}},
		{"Disabled", func(t *testing.T, b *testBundle, ep *herald.Endpoint) {
			require.NoError(t, b.st.UpdateEndpointHealth(b.ctx, ep.ID, store.EndpointHealth{
				Status: herald.EndpointDisabled, DisabledReason: "turned off", ConsecutiveFailures: 3, FailingSince: &b.now,
			}))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := s.setup(t)
			ep := b.newEndpoint(t, nil)
			_, ds := b.enqueue(t, b.now, ep, ep)
			require.Len(t, b.claim(t, store.ClaimParams{Now: b.now, Lease: time.Hour}), 2)
			c.cancel(t, b, ep)

			for _, d := range ds {
				got := b.delivery(t, d.ID)
				require.Equal(t, herald.DeliveryCanceled, got.Status, "canceled at once, lease still live")
				require.Zero(t, got.Attempts)
				require.Nil(t, got.NextAttemptAt)
				require.Empty(t, got.LockedBy, "the lease is cleared")
				require.Nil(t, got.LockedUntil)
			}

			next := b.now.Add(time.Minute)
			retry, success := newAttempt(ds[0], 1, b.now, 503, 2), newAttempt(ds[1], 1, b.now, 200, 2)
			require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{
				{Attempt: retry, Status: herald.DeliveryPending, NextAttemptAt: &next},
				{Attempt: success, Status: herald.DeliverySucceeded},
			}))
			requireStillCanceled(t, b, ds[0], retry)
			requireStillCanceled(t, b, ds[1], success)
			require.Empty(t, b.claim(t, store.ClaimParams{Now: next.Add(time.Hour)}), "nothing to claim again")
		})
	}
}

// completeAttemptsLastError: a delivery's last_error says why its last
// attempt failed, and is empty once one succeeded. An attempt that failed
// with a class but no message (nothing more to say than "timeout") still
// leaves that class there: an empty last_error on a failed delivery would
// read as no error at all.
func (s *suite) completeAttemptsLastError(t *testing.T) {
	b := s.setup(t)
	ep := b.newEndpoint(t, nil)
	_, ds := b.enqueue(t, b.now, ep, ep)
	require.Len(t, b.claim(t, store.ClaimParams{Now: b.now, Lease: time.Hour}), 2)

	classOnly := newAttempt(ds[0], 1, b.now, 0, 30)
	classOnly.ErrorClass, classOnly.Error = herald.ErrorTimeout, ""
	worded := newAttempt(ds[1], 1, b.now, 502, 4)
	next := b.now.Add(time.Minute)
	require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{
		{Attempt: classOnly, Status: herald.DeliveryPending, NextAttemptAt: &next},
		{Attempt: worded, Status: herald.DeliveryPending, NextAttemptAt: &next},
	}))
	require.Equal(t, herald.ErrorTimeout, b.delivery(t, ds[0].ID).LastError, "the class when there is no message")
	require.Equal(t, worded.Error, b.delivery(t, ds[1].ID).LastError, "the message when there is one")
	atts, err := b.st.ListAttempts(b.ctx, b.project.ID, ds[0].ID)
	require.NoError(t, err)
	require.Len(t, atts, 1)
	equal(t, classOnly, atts[0], "the attempt itself is kept as it was")

	require.Len(t, b.claim(t, store.ClaimParams{Now: next, Lease: time.Hour}), 2)
	require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{
		{Attempt: newAttempt(ds[0], 2, next, 200, 3), Status: herald.DeliverySucceeded},
		{Attempt: newAttempt(ds[1], 2, next, 200, 3), Status: herald.DeliverySucceeded},
	}))
	for _, d := range ds {
		require.Empty(t, b.delivery(t, d.ID).LastError, "a success clears it")
	}
}
