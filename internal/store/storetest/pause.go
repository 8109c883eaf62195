package storetest

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// RunEndpointPause runs the rules of PostponeEndpoint: the endpoint is
// paused until a time, and its pending deliveries wait for it, however many
// there are. open is as for Run.
func RunEndpointPause(t *testing.T, open func(t *testing.T) store.Store) {
	s := &suite{open: open}
	t.Run("PendingWaitForTheEndOfThePause", s.pauseHoldsPending)
	t.Run("DeliveriesAddedDuringThePauseWaitToo", s.pauseHoldsNewWork)
	t.Run("APauseIsNeverShortenedByPostpone", s.pauseNeverShortened)
	t.Run("HealthWithoutPauseLiftsIt", s.pauseLiftedByHealth)
	t.Run("ExpiredLeaseIsReclaimedDuringThePause", s.pauseKeepsLeaseRecovery)
	t.Run("PausedBacklogHidesNoOtherWork", s.pausedBacklogHidesNothing)
	t.Run("UnknownEndpointIsNoError", s.pauseUnknownEndpoint)
}

// pauseHoldsPending: what Queue/PostponeEndpoint checks at the start of
// the pause, followed to its end.
func (s *suite) pauseHoldsPending(t *testing.T) {
	b := s.setup(t)
	ep := b.newEndpoint(t, nil)
	until := b.now.Add(time.Hour)
	_, ds := b.enqueue(t, b.now.Add(-time.Minute), ep, ep)
	_, later := b.enqueue(t, until.Add(time.Hour), ep)
	require.NoError(t, b.st.PostponeEndpoint(b.ctx, ep.ID, until))

	require.Empty(t, b.claim(t, store.ClaimParams{Now: until.Add(-time.Second)}), "not before the pause ends")
	require.ElementsMatch(t, []string{ds[0].ID, ds[1].ID}, claimedIDs(b.claim(t, store.ClaimParams{Now: until, Lease: 3 * time.Hour})))
	require.True(t, until.Add(time.Hour).Equal(*b.delivery(t, later[0].ID).NextAttemptAt), "due after the pause anyway")
	require.Empty(t, b.claim(t, store.ClaimParams{Now: until.Add(time.Minute)}))
	require.Equal(t, []string{later[0].ID}, claimedIDs(b.claim(t, store.ClaimParams{Now: until.Add(time.Hour)})))
}

func (s *suite) pauseHoldsNewWork(t *testing.T) {
	b := s.setup(t)
	ep := b.newEndpoint(t, nil)
	until := b.now.Add(time.Hour)
	require.NoError(t, b.st.PostponeEndpoint(b.ctx, ep.ID, until))
	_, ds := b.enqueue(t, b.now, ep)
	require.True(t, until.Equal(*b.delivery(t, ds[0].ID).NextAttemptAt))
	require.Empty(t, b.claim(t, store.ClaimParams{Now: b.now}))

	ev := b.newEvent("t", b.now.Add(-time.Minute))
	failed := newDelivery(ev, ep, b.now)
	failed.Status, failed.NextAttemptAt = herald.DeliveryExhausted, nil
	b.insert(t, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{failed}})
	n, err := b.st.RequeueDeliveries(b.ctx, b.project.ID, ep.ID, b.now.Add(-time.Hour), b.now)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	ds, _, err = b.st.ListDeliveries(b.ctx, b.project.ID, store.DeliveryFilter{EndpointID: ep.ID}, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, ds, 2)
	for _, d := range ds {
		require.True(t, until.Equal(*d.NextAttemptAt), "lists report the pause too, requeued work waits for it")
	}
	require.Empty(t, b.claim(t, store.ClaimParams{Now: until.Add(-time.Second)}))
	require.Len(t, b.claim(t, store.ClaimParams{Now: until}), 2)
}

func (s *suite) pauseNeverShortened(t *testing.T) {
	b := s.setup(t)
	ep := b.newEndpoint(t, nil)
	_, ds := b.enqueue(t, b.now, ep)
	require.NoError(t, b.st.PostponeEndpoint(b.ctx, ep.ID, b.now.Add(time.Hour)))
	require.NoError(t, b.st.PostponeEndpoint(b.ctx, ep.ID, b.now.Add(10*time.Minute)))
	require.True(t, b.now.Add(time.Hour).Equal(*b.delivery(t, ds[0].ID).NextAttemptAt))
	require.Empty(t, b.claim(t, store.ClaimParams{Now: b.now.Add(30 * time.Minute)}))
	require.NoError(t, b.st.PostponeEndpoint(b.ctx, ep.ID, b.now.Add(2*time.Hour)))
	require.Empty(t, b.claim(t, store.ClaimParams{Now: b.now.Add(90 * time.Minute)}), "a later end extends it")
	require.Len(t, b.claim(t, store.ClaimParams{Now: b.now.Add(2 * time.Hour)}), 1)
}

// pauseLiftedByHealth: the pause is the endpoint's paused_until, which
// UpdateEndpointHealth writes as given: a closed breaker frees the work at
// once.
func (s *suite) pauseLiftedByHealth(t *testing.T) {
	b := s.setup(t)
	ep := b.newEndpoint(t, nil)
	_, ds := b.enqueue(t, b.now, ep)
	until := b.now.Add(time.Hour)
	require.NoError(t, b.st.PostponeEndpoint(b.ctx, ep.ID, until))
	got, err := b.st.GetEndpoint(b.ctx, b.project.ID, ep.ID)
	require.NoError(t, err)
	require.NotNil(t, got.PausedUntil, "the pause is the endpoint's PausedUntil")
	require.True(t, until.Equal(*got.PausedUntil))

	require.NoError(t, b.st.UpdateEndpointHealth(b.ctx, ep.ID, store.EndpointHealth{Status: herald.EndpointHealthy}))
	require.True(t, b.now.Equal(*b.delivery(t, ds[0].ID).NextAttemptAt), "its own due time again")
	require.Equal(t, []string{ds[0].ID}, claimedIDs(b.claim(t, store.ClaimParams{Now: b.now})))
}

func (s *suite) pauseKeepsLeaseRecovery(t *testing.T) {
	b := s.setup(t)
	ep := b.newEndpoint(t, nil)
	_, ds := b.enqueue(t, b.now, ep)
	require.Len(t, b.claim(t, store.ClaimParams{Owner: "crashed", Now: b.now, Lease: time.Second}), 1)
	require.NoError(t, b.st.PostponeEndpoint(b.ctx, ep.ID, b.now.Add(time.Hour)))
	d := b.delivery(t, ds[0].ID)
	require.Equal(t, herald.DeliveryInFlight, d.Status, "in flight, not postponed")
	require.Equal(t, []string{ds[0].ID}, claimedIDs(b.claim(t, store.ClaimParams{Now: b.now.Add(time.Minute)})),
		"a lease that ran out is taken back as before")
}

// pausedBacklogHidesNothing: a paused endpoint's backlog at the head of the
// due queue, longer than any claim looks ahead, does not keep other
// endpoints' due work (an ordered endpoint's head included) from being
// claimed.
func (s *suite) pausedBacklogHidesNothing(t *testing.T) {
	b := s.setup(t)
	paused, free := b.newEndpoint(t, nil), b.newEndpoint(t, nil)
	ord := b.newEndpoint(t, func(ep *herald.Endpoint) { ep.Ordered = true })
	var backlog []*store.NewEvent
	for range 300 {
		ev := b.newEvent("t", b.now)
		backlog = append(backlog, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{newDelivery(ev, paused, b.now.Add(-time.Hour))}})
	}
	b.insert(t, backlog...)
	require.NoError(t, b.st.PostponeEndpoint(b.ctx, paused.ID, b.now.Add(time.Hour)))
	_, heads := b.enqueue(t, b.now, free, ord)
	b.enqueue(t, b.now, ord)
	cs := b.claim(t, store.ClaimParams{Now: b.now, Limit: 10, PerEndpointLimit: 5})
	require.ElementsMatch(t, []string{heads[0].ID, heads[1].ID}, claimedIDs(cs), "the free endpoint's and the ordered head only")
}

func (s *suite) pauseUnknownEndpoint(t *testing.T) {
	b := s.setup(t)
	require.NoError(t, b.st.PostponeEndpoint(b.ctx, "ep_missing", b.now.Add(time.Hour)))
}
