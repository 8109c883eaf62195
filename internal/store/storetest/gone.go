package storetest

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// completeAttemptsGone: a delivery can disappear while its attempt runs
// (its project deleted, its event purged). CompleteAttempts then has
// nothing to record for it, and must still record the rest of its batch:
// failing the batch would leave the other deliveries in flight until their
// leases expire, and send them twice.
func (s *suite) completeAttemptsGone(t *testing.T) {
	// finish claims a delivery of an event created at b.now-age in b's
	// project and one of a new event in another project, runs gone on the
	// first, then completes both in one batch.
	finish := func(t *testing.T, b *testBundle, age time.Duration, gone func(d *herald.Delivery)) {
		t.Helper()
		other := &testBundle{ctx: b.ctx, st: b.st, now: b.now}
		other.project = b.newProject(t, "other")
		_, kept := other.enqueue(t, b.now, other.newEndpoint(t, nil))
		b.now = b.now.Add(-age)
		_, lost := b.enqueue(t, b.now, b.newEndpoint(t, nil))
		require.Len(t, b.claim(t, store.ClaimParams{Now: other.now, Lease: time.Hour}), 2)

		gone(lost[0])
		keptA := newAttempt(kept[0], 1, b.now, 200, 4)
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{
			{Attempt: newAttempt(lost[0], 1, b.now, 200, 3), Status: herald.DeliverySucceeded},
			{Attempt: keptA, Status: herald.DeliverySucceeded},
		}))

		d := other.delivery(t, kept[0].ID)
		require.Equal(t, herald.DeliverySucceeded, d.Status, "the rest of the batch is recorded")
		require.Equal(t, 1, d.Attempts)
		atts, err := b.st.ListAttempts(b.ctx, other.project.ID, kept[0].ID)
		require.NoError(t, err)
		require.Len(t, atts, 1)
		equal(t, keptA, atts[0])

		_, err = b.st.GetDelivery(b.ctx, lost[0].ProjectID, lost[0].ID)
		requireCode(t, herald.ENOTFOUND, err)
		atts, err = b.st.ListAttempts(b.ctx, lost[0].ProjectID, lost[0].ID)
		require.NoError(t, err)
		require.Empty(t, atts, "no attempt recorded for a delivery that is gone")
	}
	t.Run("ProjectDeletedSkipsItsResults", func(t *testing.T) {
		b := s.setup(t)
		finish(t, b, 0, func(d *herald.Delivery) {
			require.NoError(t, b.st.DeleteProject(b.ctx, d.ProjectID))
		})
	})
	t.Run("EventPurgedSkipsItsResults", func(t *testing.T) {
		b := s.setup(t)
		finish(t, b, 2*time.Hour, func(d *herald.Delivery) {
			n, err := b.st.Purge(b.ctx, b.now.Add(time.Hour), 1000)
			require.NoError(t, err)
			require.Equal(t, 1, n, "the old event only")
		})
	})
}
