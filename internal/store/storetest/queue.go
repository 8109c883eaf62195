package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

func (s *suite) claim(t *testing.T) {
	t.Run("DueOnly", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		_, due := b.enqueue(t, b.now.Add(-time.Second), ep)
		_, exact := b.enqueue(t, b.now, ep)
		b.enqueue(t, b.now.Add(time.Second), ep)
		cs := b.claim(t, store.ClaimParams{Now: b.now})
		require.ElementsMatch(t, []string{due[0].ID, exact[0].ID}, claimedIDs(cs))
	})
	t.Run("OrderByNextAttemptThenPriority", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		mk := func(due time.Time, prio int) string {
			ev := b.newEvent("t", b.now)
			d := newDelivery(ev, ep, due)
			d.Priority = prio
			b.insert(t, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{d}})
			return d.ID
		}
		d1 := mk(b.now.Add(-3*time.Second), 5)
		d2 := mk(b.now.Add(-3*time.Second), 1)
		d3 := mk(b.now.Add(-5*time.Second), 9)
		d4 := mk(b.now.Add(-time.Second), 0)
		require.Equal(t, []string{d3, d2}, claimedIDs(b.claim(t, store.ClaimParams{Now: b.now, Limit: 2})), "limit takes the first in order")
		require.Equal(t, []string{d1, d4}, claimedIDs(b.claim(t, store.ClaimParams{Now: b.now, Limit: 10})))
	})
	t.Run("SetsLeaseAndCarriesEvent", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		ev, ds := b.enqueue(t, b.now, ep)
		cs := b.claim(t, store.ClaimParams{Owner: "proc-1", Now: b.now, Lease: 30 * time.Second})
		require.Len(t, cs, 1)
		c := cs[0]
		require.Equal(t, herald.DeliveryInFlight, c.Delivery.Status)
		require.Equal(t, "proc-1", c.Delivery.LockedBy)
		require.NotNil(t, c.Delivery.LockedUntil)
		require.True(t, b.now.Add(30*time.Second).Equal(*c.Delivery.LockedUntil))
		equal(t, ev, c.Event)
		stored := b.delivery(t, ds[0].ID)
		require.Equal(t, herald.DeliveryInFlight, stored.Status)
		require.Equal(t, "proc-1", stored.LockedBy)
		require.True(t, b.now.Add(30*time.Second).Equal(*stored.LockedUntil))
	})
	t.Run("LiveLeaseNotReclaimedExpiredIs", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		_, ds := b.enqueue(t, b.now, ep)
		require.Len(t, b.claim(t, store.ClaimParams{Owner: "a", Now: b.now, Lease: 10 * time.Second}), 1)
		require.Empty(t, b.claim(t, store.ClaimParams{Owner: "b", Now: b.now.Add(5 * time.Second)}), "lease still live")
		cs := b.claim(t, store.ClaimParams{Owner: "b", Now: b.now.Add(11 * time.Second), Lease: 10 * time.Second})
		require.Equal(t, []string{ds[0].ID}, claimedIDs(cs), "expired lease")
		require.Equal(t, "b", cs[0].Delivery.LockedBy)
		require.True(t, b.now.Add(21*time.Second).Equal(*cs[0].Delivery.LockedUntil))
	})
	t.Run("SkipEndpoints", func(t *testing.T) {
		b := s.setup(t)
		ep1, ep2, ep3 := b.newEndpoint(t, nil), b.newEndpoint(t, nil), b.newEndpoint(t, nil)
		_, ds := b.enqueue(t, b.now, ep1, ep2, ep3)
		cs := b.claim(t, store.ClaimParams{Now: b.now, SkipEndpoints: []string{ep1.ID, ep3.ID}})
		require.Equal(t, []string{ds[1].ID}, claimedIDs(cs))
	})
	t.Run("PerEndpointLimit", func(t *testing.T) {
		b := s.setup(t)
		ep1, ep2 := b.newEndpoint(t, nil), b.newEndpoint(t, nil)
		for range 5 {
			b.enqueue(t, b.now, ep1, ep2)
		}
		cs := b.claim(t, store.ClaimParams{Now: b.now, Limit: 10, PerEndpointLimit: 2})
		per := map[string]int{}
		for _, c := range cs {
			per[c.Delivery.EndpointID]++
		}
		require.Equal(t, map[string]int{ep1.ID: 2, ep2.ID: 2}, per)
	})
	t.Run("CappedBacklogHidesNoOtherWork", func(t *testing.T) {
		// A window full of one endpoint's deliveries, capped: another
		// endpoint's due work beyond the window is still claimed.
		b := s.setup(t)
		big, small := b.newEndpoint(t, nil), b.newEndpoint(t, nil)
		for range 30 {
			b.enqueue(t, b.now.Add(-2*time.Minute), big)
		}
		var want []string
		for range 3 {
			_, ds := b.enqueue(t, b.now.Add(-time.Minute), small)
			want = append(want, ds[0].ID)
		}
		cs := b.claim(t, store.ClaimParams{Now: b.now, Limit: 10, PerEndpointLimit: 4})
		per := map[string]int{}
		var got []string
		for _, c := range cs {
			per[c.Delivery.EndpointID]++
			if c.Delivery.EndpointID == small.ID {
				got = append(got, c.Delivery.ID)
			}
		}
		require.Equal(t, 4, per[big.ID], "the capped endpoint")
		require.ElementsMatch(t, want, got, "the other endpoint's work beyond the window")
	})
	t.Run("OrderedEndpointOneAtATimeInSeq", func(t *testing.T) {
		b := s.setup(t)
		ord := b.newEndpoint(t, func(ep *herald.Endpoint) { ep.Ordered = true })
		free := b.newEndpoint(t, nil)
		var ids, freeIDs []string
		for range 3 {
			_, ds := b.enqueue(t, b.now, ord, free)
			ids, freeIDs = append(ids, ds[0].ID), append(freeIDs, ds[1].ID)
		}
		cs := b.claim(t, store.ClaimParams{Now: b.now, Lease: time.Hour})
		require.ElementsMatch(t, append([]string{ids[0]}, freeIDs...), claimedIDs(cs), "the ordered endpoint's head only")
		require.Empty(t, b.claim(t, store.ClaimParams{Now: b.now, Lease: time.Hour}), "not while its head is in flight")

		head := b.delivery(t, ids[0])
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{{Attempt: newAttempt(head, 1, b.now, 200, 1), Status: herald.DeliverySucceeded}}))
		require.Equal(t, []string{ids[1]}, claimedIDs(b.claim(t, store.ClaimParams{Now: b.now, Lease: time.Hour})))

		second := b.delivery(t, ids[1])
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{{Attempt: newAttempt(second, 1, b.now, 500, 1),
			Status: herald.DeliveryPending, NextAttemptAt: ptr(b.now.Add(time.Minute))}}))
		require.Empty(t, b.claim(t, store.ClaimParams{Now: b.now.Add(time.Second)}), "the third waits for the second's retry")
		require.Equal(t, []string{ids[1]}, claimedIDs(b.claim(t, store.ClaimParams{Now: b.now.Add(time.Minute)})))
	})
	t.Run("OrderedEndpointExpiredHeadReclaimed", func(t *testing.T) {
		b := s.setup(t)
		ord := b.newEndpoint(t, func(ep *herald.Endpoint) { ep.Ordered = true })
		_, first := b.enqueue(t, b.now, ord)
		b.enqueue(t, b.now, ord)
		require.Equal(t, []string{first[0].ID}, claimedIDs(b.claim(t, store.ClaimParams{Now: b.now, Lease: time.Second})))
		require.Equal(t, []string{first[0].ID}, claimedIDs(b.claim(t, store.ClaimParams{Now: b.now.Add(time.Minute)})))
	})
	t.Run("OrderedBacklogDoesNotBlockOtherEndpoints", func(t *testing.T) {
		b := s.setup(t)
		ord := b.newEndpoint(t, func(ep *herald.Endpoint) { ep.Ordered = true })
		free := b.newEndpoint(t, nil)
		var backlog []*store.NewEvent
		var head string
		for i := range 1500 {
			ev := b.newEvent("t", b.now)
			d := newDelivery(ev, ord, b.now.Add(-time.Hour))
			if i == 0 {
				head = d.ID
			}
			backlog = append(backlog, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{d}})
		}
		b.insert(t, backlog...)
		_, other := b.enqueue(t, b.now, free)
		require.Equal(t, []string{head, other[0].ID}, claimedIDs(b.claim(t, store.ClaimParams{Now: b.now, Limit: 10, Lease: time.Hour})))
		_, more := b.enqueue(t, b.now, free)
		require.Equal(t, []string{more[0].ID}, claimedIDs(b.claim(t, store.ClaimParams{Now: b.now, Limit: 10})),
			"while the ordered head is in flight")
	})
	t.Run("DisabledOrDeletedEndpointNotClaimed", func(t *testing.T) {
		b := s.setup(t)
		live := b.newEndpoint(t, nil)
		disabled := b.newEndpoint(t, nil)
		deleted := b.newEndpoint(t, nil)
		off := b.newEndpoint(t, nil)
		ghost := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint)} // routed, then deleted before the insert
		_, ds := b.enqueue(t, b.now, live, disabled, deleted, off, ghost)
		require.NoError(t, b.st.UpdateEndpointHealth(b.ctx, disabled.ID, store.EndpointHealth{Status: herald.EndpointDisabled, DisabledReason: "gone"}))
		require.NoError(t, b.st.DeleteEndpoint(b.ctx, b.project.ID, deleted.ID))
		o := *off
		o.Enabled = false
		require.NoError(t, b.st.UpdateEndpoint(b.ctx, &o))

		cs := b.claim(t, store.ClaimParams{Now: b.now.Add(time.Second), Lease: 2 * time.Hour})
		require.Equal(t, []string{ds[0].ID}, claimedIDs(cs))
		require.Equal(t, herald.DeliveryCanceled, b.delivery(t, ds[1].ID).Status)
		require.Equal(t, herald.DeliveryCanceled, b.delivery(t, ds[2].ID).Status)
		require.NotEqual(t, herald.DeliveryInFlight, b.delivery(t, ds[3].ID).Status)
		require.NotEqual(t, herald.DeliveryInFlight, b.delivery(t, ds[4].ID).Status)
		require.Empty(t, b.claim(t, store.ClaimParams{Now: b.now.Add(time.Hour)}), "nor later")
	})
	t.Run("NothingDue", func(t *testing.T) {
		b := s.setup(t)
		require.Empty(t, b.claim(t, store.ClaimParams{Now: b.now}))
	})
}

func (s *suite) completeAttempts(t *testing.T) {
	t.Run("BatchMovesDeliveriesOn", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		_, ds := b.enqueue(t, b.now, ep, ep, ep)
		require.Len(t, b.claim(t, store.ClaimParams{Now: b.now, Lease: time.Hour}), 3)
		okA := newAttempt(ds[0], 1, b.now, 204, 8)
		failA := newAttempt(ds[1], 2, b.now, 503, 9)
		lastA := newAttempt(ds[2], 8, b.now, 500, 10)
		next := b.now.Add(5 * time.Minute)
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{
			{Attempt: okA, Status: herald.DeliverySucceeded},
			{Attempt: failA, Status: herald.DeliveryPending, NextAttemptAt: &next},
			{Attempt: lastA, Status: herald.DeliveryExhausted},
		}))

		ok := b.delivery(t, ds[0].ID)
		require.Equal(t, herald.DeliverySucceeded, ok.Status)
		require.Equal(t, 1, ok.Attempts)
		require.Empty(t, ok.LockedBy)
		require.Nil(t, ok.LockedUntil)
		require.True(t, b.now.Equal(*ok.LastAttemptAt))
		require.Equal(t, 204, ok.LastStatus)
		require.Empty(t, ok.LastError)
		require.NotNil(t, ok.SucceededAt)

		retry := b.delivery(t, ds[1].ID)
		require.Equal(t, herald.DeliveryPending, retry.Status)
		require.Equal(t, 2, retry.Attempts)
		require.True(t, next.Equal(*retry.NextAttemptAt))
		require.Empty(t, retry.LockedBy)
		require.Nil(t, retry.LockedUntil)
		require.Equal(t, 503, retry.LastStatus)
		require.Equal(t, failA.Error, retry.LastError)
		require.Nil(t, retry.SucceededAt)

		ex := b.delivery(t, ds[2].ID)
		require.Equal(t, herald.DeliveryExhausted, ex.Status)
		require.Equal(t, 8, ex.Attempts)
		require.Nil(t, ex.LockedUntil)

		for i, a := range []*herald.Attempt{okA, failA, lastA} {
			atts, err := b.st.ListAttempts(b.ctx, b.project.ID, ds[i].ID)
			require.NoError(t, err)
			require.Len(t, atts, 1)
			equal(t, a, atts[0])
		}
		require.Empty(t, b.claim(t, store.ClaimParams{Now: b.now.Add(time.Minute)}), "the retry is not due yet")
		require.Equal(t, []string{ds[1].ID}, claimedIDs(b.claim(t, store.ClaimParams{Now: next})))
	})
	t.Run("ManualUnderLiveLeaseOnlyAddsAttempt", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		_, ds := b.enqueue(t, b.now, ep)
		now := stamp(time.Now())
		require.Len(t, b.claim(t, store.ClaimParams{Owner: "other", Now: now, Lease: time.Hour}), 1)
		manual := newAttempt(ds[0], 1, now, 200, 3)
		manual.Trigger = herald.TriggerManual
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{{Attempt: manual, Status: herald.DeliverySucceeded, Manual: true}}))
		d := b.delivery(t, ds[0].ID)
		require.Equal(t, herald.DeliveryInFlight, d.Status)
		require.Equal(t, "other", d.LockedBy)
		require.Equal(t, 0, d.Attempts)
		atts, err := b.st.ListAttempts(b.ctx, b.project.ID, ds[0].ID)
		require.NoError(t, err)
		require.Len(t, atts, 1)
	})
	t.Run("ManualOnFinishedDeliveryMovesIt", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		_, ds := b.enqueue(t, b.now, ep)
		require.Len(t, b.claim(t, store.ClaimParams{Now: b.now}), 1)
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{{Attempt: newAttempt(ds[0], 1, b.now, 500, 1), Status: herald.DeliveryExhausted}}))
		manual := newAttempt(ds[0], 2, b.now.Add(time.Second), 200, 1)
		manual.Trigger = herald.TriggerManual
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{{Attempt: manual, Status: herald.DeliverySucceeded, Manual: true}}))
		d := b.delivery(t, ds[0].ID)
		require.Equal(t, herald.DeliverySucceeded, d.Status)
		require.Equal(t, 2, d.Attempts)
	})
}

func (s *suite) queue(t *testing.T) {
	t.Run("ReleaseDeliveriesOfOwner", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		_, ds := b.enqueue(t, b.now.Add(-time.Hour), ep, ep)
		now := stamp(time.Now())
		require.Len(t, b.claim(t, store.ClaimParams{Owner: "me", Now: now, Lease: time.Hour}), 2)
		require.NoError(t, b.st.ReleaseDeliveries(b.ctx, "someone-else", []string{ds[1].ID}))
		require.NoError(t, b.st.ReleaseDeliveries(b.ctx, "me", []string{ds[0].ID}))
		d := b.delivery(t, ds[0].ID)
		require.Equal(t, herald.DeliveryPending, d.Status)
		require.Empty(t, d.LockedBy)
		require.Nil(t, d.LockedUntil)
		require.NotNil(t, d.NextAttemptAt)
		require.False(t, d.NextAttemptAt.After(stamp(time.Now())), "due now")
		require.Equal(t, herald.DeliveryInFlight, b.delivery(t, ds[1].ID).Status, "another owner cannot release it")
		require.Equal(t, []string{ds[0].ID}, claimedIDs(b.claim(t, store.ClaimParams{Now: stamp(time.Now()).Add(time.Second)})))
	})
	t.Run("PostponeEndpoint", func(t *testing.T) {
		b := s.setup(t)
		ep, other := b.newEndpoint(t, nil), b.newEndpoint(t, nil)
		_, soon := b.enqueue(t, b.now.Add(-time.Second), ep, other)
		_, later := b.enqueue(t, b.now.Add(2*time.Hour), ep)
		until := b.now.Add(time.Hour)
		require.NoError(t, b.st.PostponeEndpoint(b.ctx, ep.ID, until))
		require.True(t, until.Equal(*b.delivery(t, soon[0].ID).NextAttemptAt))
		require.True(t, b.now.Add(-time.Second).Equal(*b.delivery(t, soon[1].ID).NextAttemptAt), "another endpoint's")
		require.True(t, b.now.Add(2*time.Hour).Equal(*b.delivery(t, later[0].ID).NextAttemptAt), "due after until")
		require.Equal(t, []string{soon[1].ID}, claimedIDs(b.claim(t, store.ClaimParams{Now: b.now})))
	})
	t.Run("RequeueDeliveriesWindow", func(t *testing.T) {
		b := s.setup(t)
		ep, other := b.newEndpoint(t, nil), b.newEndpoint(t, nil)
		mk := func(e *herald.Endpoint, age time.Duration, status string) string {
			ev := b.newEvent("t", b.now.Add(-age))
			d := newDelivery(ev, e, b.now.Add(-age))
			d.Status, d.NextAttemptAt = status, nil
			b.insert(t, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{d}})
			return d.ID
		}
		tooOld := mk(ep, 3*time.Hour, herald.DeliveryExhausted)
		canceled := mk(ep, 2*time.Hour, herald.DeliveryCanceled)
		exhausted := mk(ep, time.Hour, herald.DeliveryExhausted)
		succeeded := mk(ep, 2*time.Hour, herald.DeliverySucceeded)
		otherEP := mk(other, 2*time.Hour, herald.DeliveryExhausted)
		tooNew := mk(ep, 10*time.Minute, herald.DeliveryExhausted)

		n, err := b.st.RequeueDeliveries(b.ctx, b.project.ID, ep.ID, b.now.Add(-2*time.Hour), b.now.Add(-30*time.Minute))
		require.NoError(t, err)
		require.Equal(t, 2, n)
		for id, want := range map[string]string{tooOld: herald.DeliveryExhausted, canceled: herald.DeliveryPending, exhausted: herald.DeliveryPending,
			succeeded: herald.DeliverySucceeded, otherEP: herald.DeliveryExhausted, tooNew: herald.DeliveryExhausted} {
			require.Equal(t, want, b.delivery(t, id).Status, id)
		}
		cs := b.claim(t, store.ClaimParams{Now: stamp(time.Now()).Add(time.Second)})
		require.ElementsMatch(t, []string{canceled, exhausted}, claimedIDs(cs), "due now")
	})
}

func (s *suite) stats(t *testing.T) {
	t.Run("EndpointStats", func(t *testing.T) {
		b := s.setup(t)
		ep, other := b.newEndpoint(t, nil), b.newEndpoint(t, nil)
		now := stamp(time.Now())
		since := now.Add(-time.Hour)

		ev := b.newEvent("t", now.Add(-30*time.Minute))
		var ds []*herald.Delivery
		for _, st := range []string{herald.DeliveryPending, herald.DeliverySucceeded, herald.DeliverySucceeded, herald.DeliveryExhausted} {
			d := newDelivery(ev, ep, now)
			d.Status = st
			ds = append(ds, d)
		}
		oldEv := b.newEvent("t", now.Add(-2*time.Hour))
		oldD := newDelivery(oldEv, ep, now)
		otherD := newDelivery(ev, other, now)
		var atts []*herald.Attempt
		for i := 1; i <= 100; i++ { // durations 1..100 ms, 80 successes
			status := 200
			if i%5 == 0 {
				status = 500
			}
			atts = append(atts, newAttempt(ds[1], i, now.Add(-50*time.Minute+time.Duration(i)*time.Second), status, int64(i)))
		}
		var oldAtts []*herald.Attempt
		for i := range 5 {
			oldAtts = append(oldAtts, newAttempt(oldD, i+1, now.Add(-2*time.Hour), 500, 5000))
		}
		b.insert(t, &store.NewEvent{Event: ev, Deliveries: append(ds, otherD), Attempts: append(atts, newAttempt(otherD, 1, now.Add(-time.Minute), 500, 9000))},
			&store.NewEvent{Event: oldEv, Deliveries: []*herald.Delivery{oldD}, Attempts: oldAtts})

		st, err := b.st.EndpointStats(b.ctx, b.project.ID, ep.ID, since)
		require.NoError(t, err)
		require.True(t, since.Equal(st.Since))
		require.Equal(t, 1, st.Deliveries[herald.DeliveryPending])
		require.Equal(t, 2, st.Deliveries[herald.DeliverySucceeded])
		require.Equal(t, 1, st.Deliveries[herald.DeliveryExhausted])
		require.Equal(t, 0, st.Deliveries[herald.DeliveryCanceled])
		require.Equal(t, 100, st.Attempts)
		require.Equal(t, 80, st.Succeeded)
		require.Equal(t, 20, st.Failed)
		require.InDelta(t, 0.8, st.SuccessRate, 1e-9)
		require.Equal(t, int64(50), st.LatencyP50)
		require.Equal(t, int64(90), st.LatencyP90)
		require.Equal(t, int64(99), st.LatencyP99)

		require.NotEmpty(t, st.Buckets)
		var sumA, sumS int
		for i, bk := range st.Buckets {
			sumA += bk.Attempts
			sumS += bk.Succeeded
			if i > 0 {
				require.True(t, bk.Start.After(st.Buckets[i-1].Start), "buckets oldest first")
			}
		}
		require.Equal(t, 100, sumA)
		require.Equal(t, 80, sumS)
		require.False(t, st.Buckets[0].Start.After(since))

		_, err = b.st.EndpointStats(b.ctx, b.project.ID, "ep_missing", since)
		requireCode(t, herald.ENOTFOUND, err)
	})
	t.Run("EndpointStatsEmpty", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		st, err := b.st.EndpointStats(b.ctx, b.project.ID, ep.ID, stamp(time.Now()).Add(-time.Hour))
		require.NoError(t, err)
		require.Zero(t, st.Attempts)
		require.Zero(t, st.SuccessRate)
		require.Zero(t, st.LatencyP99)
	})
	t.Run("QueueStats", func(t *testing.T) {
		b := s.setup(t)
		qs, err := b.st.QueueStats(b.ctx)
		require.NoError(t, err)
		require.Zero(t, qs.Pending)
		require.Nil(t, qs.OldestPending)

		ep := b.newEndpoint(t, nil)
		first := b.newEvent("t", b.now.Add(-time.Hour))
		b.insert(t, &store.NewEvent{Event: first, Deliveries: []*herald.Delivery{newDelivery(first, ep, b.now)}})
		_, ds := b.enqueue(t, b.now, ep, ep, ep)
		require.Len(t, b.claim(t, store.ClaimParams{Now: b.now, Limit: 1}), 1, "one in flight")
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{{Attempt: newAttempt(ds[2], 1, b.now, 200, 1), Status: herald.DeliverySucceeded, Manual: true}}))

		qs, err = b.st.QueueStats(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 3, qs.Pending, "pending and in flight, not finished")
		require.NotNil(t, qs.OldestPending)
		require.True(t, b.now.Add(-time.Hour).Equal(*qs.OldestPending))
	})
}

func (s *suite) purge(t *testing.T) {
	t.Run("DeletesOldEventsInBatchesWithWhatTheyOwn", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		var old []*herald.Event
		var oldD []*herald.Delivery
		for i := range 5 {
			ev := b.newEvent("t", b.now.Add(-2*time.Hour))
			ev.IdempotencyKey, ev.BodyHash = fmt.Sprint("key-", i), "h"
			d := newDelivery(ev, ep, b.now)
			b.insert(t, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{d}, Attempts: []*herald.Attempt{newAttempt(d, 1, b.now.Add(-2*time.Hour), 500, 1)}})
			old, oldD = append(old, ev), append(oldD, d)
		}
		keep, keepD := b.enqueue(t, b.now, ep)

		before := b.now.Add(-time.Hour)
		n, err := b.st.Purge(b.ctx, before, 3)
		require.NoError(t, err)
		require.Equal(t, 3, n, "at most limit")
		n, err = b.st.Purge(b.ctx, before, 3)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		n, err = b.st.Purge(b.ctx, before, 3)
		require.NoError(t, err)
		require.Equal(t, 0, n)

		for i, ev := range old {
			_, err := b.st.GetEvent(b.ctx, b.project.ID, ev.ID)
			requireCode(t, herald.ENOTFOUND, err)
			_, err = b.st.GetDelivery(b.ctx, b.project.ID, oldD[i].ID)
			requireCode(t, herald.ENOTFOUND, err)
			atts, err := b.st.ListAttempts(b.ctx, b.project.ID, oldD[i].ID)
			require.NoError(t, err)
			require.Empty(t, atts)
		}
		_, err = b.st.GetEvent(b.ctx, b.project.ID, keep.ID)
		require.NoError(t, err)
		b.delivery(t, keepD[0].ID)

		// a purged event's idempotency key is free again
		again := b.newEvent("t", b.now)
		again.IdempotencyKey, again.BodyHash = "key-0", "other"
		res := b.insert(t, &store.NewEvent{Event: again})
		require.False(t, res[0].Replayed || res[0].Conflict)
	})
}

func (s *suite) tryLock(t *testing.T) {
	t.Run("HeldLockIsExclusiveUntilReleased", func(t *testing.T) {
		b := s.setup(t)
		release, ok, err := b.st.TryLock(b.ctx, "maintenance")
		require.NoError(t, err)
		require.True(t, ok)
		_, ok2, err := b.st.TryLock(b.ctx, "maintenance")
		require.NoError(t, err)
		require.False(t, ok2, "held")
		r3, ok3, err := b.st.TryLock(b.ctx, "other")
		require.NoError(t, err)
		require.True(t, ok3, "another name")
		r3()
		release()
		r4, ok4, err := b.st.TryLock(b.ctx, "maintenance")
		require.NoError(t, err)
		require.True(t, ok4, "released")
		r4()
	})
}

// concurrency: inserters and claimers race; with leases long enough never
// to expire, every delivery is claimed exactly once.
func (s *suite) concurrency(t *testing.T) {
	t.Run("EveryDeliveryClaimedExactlyOnce", func(t *testing.T) {
		b := s.setup(t)
		eps := []*herald.Endpoint{b.newEndpoint(t, nil), b.newEndpoint(t, nil), b.newEndpoint(t, nil)}
		const inserters, batches, perBatch, claimers = 4, 10, 5, 4
		total := inserters * batches * perBatch * len(eps)

		var mu sync.Mutex
		claimed := map[string]int{}
		var insertWG, claimWG sync.WaitGroup
		done := make(chan struct{})
		errs := make(chan error, inserters+claimers)
		for range inserters {
			insertWG.Add(1)
			go func() {
				defer insertWG.Done()
				for range batches {
					var batch []*store.NewEvent
					for range perBatch {
						ev := b.newEvent("t", stamp(time.Now()))
						var ds []*herald.Delivery
						for _, ep := range eps {
							ds = append(ds, newDelivery(ev, ep, ev.CreatedAt))
						}
						batch = append(batch, &store.NewEvent{Event: ev, Deliveries: ds})
					}
					if _, err := b.st.InsertEvents(b.ctx, batch); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		for i := range claimers {
			claimWG.Add(1)
			go func() {
				defer claimWG.Done()
				owner := fmt.Sprint("claimer-", i)
				for {
					finished := false
					select {
					case <-done:
						finished = true
					default:
					}
					cs, err := b.st.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: owner, Now: time.Now().Add(time.Second), Lease: time.Hour, Limit: 16, PerEndpointLimit: 8})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					for _, c := range cs {
						claimed[c.Delivery.ID]++
					}
					mu.Unlock()
					if finished && len(cs) == 0 {
						return
					}
				}
			}()
		}
		insertWG.Wait()
		close(done)
		claimWG.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, claimed, total)
		for id, n := range claimed {
			require.Equal(t, 1, n, "delivery %s claimed %d times", id, n)
		}
	})
}
