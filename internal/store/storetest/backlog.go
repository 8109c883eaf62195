package storetest

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// RunBacklog runs the rules of store.BacklogReader, for a store that
// implements it. open is as for Run.
func RunBacklog(t *testing.T, open func(t *testing.T) store.Store) {
	s := &suite{open: open}
	t.Run("WorstBacklogsRanksEndpointsByUnfinishedDeliveries", s.worstBacklogs)
}

func (s *suite) worstBacklogs(t *testing.T) {
	b := s.setup(t)
	br, ok := b.st.(store.BacklogReader)
	if !ok {
		t.Skip("the store does not rank backlogs")
	}
	small, big, done := b.newEndpoint(t, nil), b.newEndpoint(t, nil), b.newEndpoint(t, nil)
	oldest := b.now.Add(-time.Hour)
	for i, created := range []time.Time{oldest, b.now.Add(-time.Minute), b.now} {
		ev := b.newEvent("t", created)
		ds := []*herald.Delivery{newDelivery(ev, big, b.now)}
		if i == 0 {
			ds = append(ds, newDelivery(ev, small, b.now))
		}
		finished := newDelivery(ev, done, b.now)
		finished.Status, finished.NextAttemptAt = herald.DeliverySucceeded, nil
		ds = append(ds, finished)
		b.insert(t, &store.NewEvent{Event: ev, Deliveries: ds})
	}
	// One of big's deliveries in flight still counts, and its oldest.
	require.NotEmpty(t, b.claim(t, store.ClaimParams{Now: b.now, Limit: 1}))

	got, err := br.WorstBacklogs(b.ctx, 5)
	require.NoError(t, err)
	require.Len(t, got, 2, "endpoints without unfinished deliveries are left out: %+v", got)
	require.Equal(t, big.ID, got[0].EndpointID)
	require.Equal(t, b.project.ID, got[0].ProjectID)
	require.Equal(t, 3, got[0].Pending)
	require.True(t, oldest.Equal(got[0].OldestPending), "oldest %v, want %v", got[0].OldestPending, oldest)
	require.Equal(t, small.ID, got[1].EndpointID)
	require.Equal(t, 1, got[1].Pending)

	got, err = br.WorstBacklogs(b.ctx, 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, big.ID, got[0].EndpointID)
}
