package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// RunBatches runs the rules of large and mixed batches: a backend may write
// a call's rows many at a time, and must then behave as if it wrote them one
// by one, in order. open is as for Run.
func RunBatches(t *testing.T, open func(t *testing.T) store.Store) {
	s := &suite{open: open}
	t.Run("InsertEventsManyInOneCall", s.insertMany)
	t.Run("DuplicateEventInBatchInsertsNothing", s.duplicateInBatch)
	t.Run("CompleteAttemptsManyInOneCall", s.completeMany)
	t.Run("TwoResultsForOneDeliveryApplyInOrder", s.twoResultsOneDelivery)
}

// batchSize is more rows than one statement of a backend is likely to
// take, and not a round number, so that every way of splitting it is used.
const batchSize = 203

// newEvents makes n events, each with one delivery to ep due now.
func (b *testBundle) newEvents(n int, ep *herald.Endpoint) []*store.NewEvent {
	batch := make([]*store.NewEvent, n)
	for i := range batch {
		ev := b.newEvent("t", b.now)
		batch[i] = &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{newDelivery(ev, ep, b.now)}}
	}
	return batch
}

func (s *suite) insertMany(t *testing.T) {
	b := s.setup(t)
	ep1, ep2 := b.newEndpoint(t, nil), b.newEndpoint(t, nil)
	var batch []*store.NewEvent
	for i := range batchSize {
		ev := b.newEvent("t", b.now)
		if i%3 == 0 {
			ev.IdempotencyKey, ev.BodyHash = fmt.Sprint("key-", i), "h"
		}
		ne := &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{newDelivery(ev, ep1, b.now)}}
		if i%2 == 0 {
			d := newDelivery(ev, ep2, b.now)
			ne.Deliveries = append(ne.Deliveries, d)
			ne.Attempts = []*herald.Attempt{newAttempt(d, 1, b.now, 200, int64(i))}
		}
		batch = append(batch, ne)
	}
	res := b.insert(t, batch...)
	require.Len(t, res, batchSize)
	var last int64
	for i, ne := range batch {
		require.False(t, res[i].Replayed || res[i].Conflict, i)
		require.Equal(t, ne.Event.ID, res[i].Event.ID, "results in input order")
		require.Equal(t, len(ne.Deliveries), res[i].Deliveries)
		got, err := b.st.GetEvent(b.ctx, b.project.ID, ne.Event.ID)
		require.NoError(t, err)
		equal(t, ne.Event, got)
		for _, d := range ne.Deliveries {
			stored := b.delivery(t, d.ID)
			require.Greater(t, stored.Seq, last, "seq follows input order")
			last = stored.Seq
		}
		for _, a := range ne.Attempts {
			atts, err := b.st.ListAttempts(b.ctx, b.project.ID, a.DeliveryID)
			require.NoError(t, err)
			require.Len(t, atts, 1)
			equal(t, a, atts[0])
		}
	}
	again := b.newEvent("t", b.now)
	again.IdempotencyKey, again.BodyHash = "key-102", "h"
	res = b.insert(t, &store.NewEvent{Event: again})
	require.True(t, res[0].Replayed, "the keys of a large batch are kept")
	require.Equal(t, batch[102].Event.ID, res[0].Event.ID)
}

func (s *suite) duplicateInBatch(t *testing.T) {
	b := s.setup(t)
	ep := b.newEndpoint(t, nil)
	batch := b.newEvents(batchSize, ep)
	dup := *batch[10].Event
	batch[150].Event = &dup
	batch[150].Deliveries[0].EventID = dup.ID
	_, err := b.st.InsertEvents(b.ctx, batch)
	requireCode(t, herald.ECONFLICT, err)
	for _, i := range []int{0, 10, 149, batchSize - 1} {
		_, err := b.st.GetEvent(b.ctx, b.project.ID, batch[i].Event.ID)
		requireCode(t, herald.ENOTFOUND, err)
	}
	ds, _, err := b.st.ListDeliveries(b.ctx, b.project.ID, store.DeliveryFilter{}, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, ds, "nothing of the call is stored")
}

func (s *suite) completeMany(t *testing.T) {
	b := s.setup(t)
	ep := b.newEndpoint(t, nil)
	batch := b.newEvents(batchSize, ep)
	b.insert(t, batch...)
	cs := b.claim(t, store.ClaimParams{Now: b.now, Lease: time.Hour, Limit: batchSize})
	require.Len(t, cs, batchSize)
	next := b.now.Add(time.Hour)
	var results []*store.AttemptResult
	for i, c := range cs {
		r := &store.AttemptResult{Attempt: newAttempt(c.Delivery, 1, b.now, 200, int64(i)), Status: herald.DeliverySucceeded}
		if i%4 == 0 {
			r.Attempt.ResponseStatus, r.Status, r.NextAttemptAt = 503, herald.DeliveryPending, &next
		}
		results = append(results, r)
	}
	require.NoError(t, b.st.CompleteAttempts(b.ctx, results))
	for _, r := range results {
		d := b.delivery(t, r.Attempt.DeliveryID)
		require.Equal(t, r.Status, d.Status)
		require.Equal(t, 1, d.Attempts)
		require.Equal(t, r.Attempt.ResponseStatus, d.LastStatus)
		require.Nil(t, d.LockedUntil)
		atts, err := b.st.ListAttempts(b.ctx, b.project.ID, d.ID)
		require.NoError(t, err)
		require.Len(t, atts, 1)
		equal(t, r.Attempt, atts[0])
	}
}

func (s *suite) twoResultsOneDelivery(t *testing.T) {
	b := s.setup(t)
	ep := b.newEndpoint(t, nil)
	_, ds := b.enqueue(t, b.now, ep, ep, ep)
	require.Len(t, b.claim(t, store.ClaimParams{Now: b.now, Lease: time.Hour}), 3)
	next := b.now.Add(time.Minute)
	// ds[0] fails, then succeeds; ds[2] succeeds, then fails: whichever
	// order a backend would pick between two rows, one of them shows it.
	retry := func(d *herald.Delivery, n int) *store.AttemptResult {
		return &store.AttemptResult{Attempt: newAttempt(d, n, b.now.Add(time.Duration(n)*time.Second), 503, 5),
			Status: herald.DeliveryPending, NextAttemptAt: &next}
	}
	success := func(d *herald.Delivery, n int) *store.AttemptResult {
		return &store.AttemptResult{Attempt: newAttempt(d, n, b.now.Add(time.Duration(n)*time.Second), 200, 5),
			Status: herald.DeliverySucceeded}
	}
	require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{
		retry(ds[0], 1), success(ds[2], 1), success(ds[1], 1), success(ds[0], 2), retry(ds[2], 2),
	}))
	for _, c := range []struct {
		d      *herald.Delivery
		status string
		last   int
	}{{ds[0], herald.DeliverySucceeded, 200}, {ds[1], herald.DeliverySucceeded, 200}, {ds[2], herald.DeliveryPending, 503}} {
		d := b.delivery(t, c.d.ID)
		require.Equal(t, c.status, d.Status, "the later result is the last word")
		require.Equal(t, c.last, d.LastStatus)
		atts, err := b.st.ListAttempts(b.ctx, b.project.ID, d.ID)
		require.NoError(t, err)
		require.Len(t, atts, d.Attempts, "every attempt is kept")
	}
}
