package storetest

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

func (s *suite) insertEvents(t *testing.T) {
	t.Run("StoresEventsDeliveriesAndAttempts", func(t *testing.T) {
		b := s.setup(t)
		ep1, ep2 := b.newEndpoint(t, nil), b.newEndpoint(t, nil)
		ev := b.newEvent("user.created", b.now)
		ev.IdempotencyKey, ev.BodyHash = "k1", "hash1"
		d1, d2 := newDelivery(ev, ep1, b.now), newDelivery(ev, ep2, b.now.Add(time.Second))
		d2.Status, d2.Attempts, d2.NextAttemptAt = herald.DeliverySucceeded, 1, nil
		d2.LastAttemptAt, d2.LastStatus, d2.SucceededAt = &b.now, 200, &b.now
		att := newAttempt(d2, 1, b.now, 200, 12)
		att.Trigger = herald.TriggerHook

		hook := b.newEvent("before_registration", b.now)
		hook.Hook = true

		res := b.insert(t, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{d1, d2}, Attempts: []*herald.Attempt{att}},
			&store.NewEvent{Event: hook})
		require.False(t, res[0].Replayed || res[0].Conflict)
		require.Equal(t, ev.ID, res[0].Event.ID)
		require.Equal(t, 2, res[0].Deliveries)
		require.Equal(t, hook.ID, res[1].Event.ID, "results in input order")
		require.Equal(t, 0, res[1].Deliveries)

		got, err := b.st.GetEvent(b.ctx, b.project.ID, ev.ID)
		require.NoError(t, err)
		equal(t, ev, got)
		got, err = b.st.GetEvent(b.ctx, b.project.ID, hook.ID)
		require.NoError(t, err)
		require.True(t, got.Hook)

		for _, want := range []*herald.Delivery{d1, d2} {
			gd := b.delivery(t, want.ID)
			require.NotZero(t, gd.Seq, "the backend numbers deliveries")
			w := *want
			w.Seq = gd.Seq
			equal(t, &w, gd)
		}
		require.Less(t, b.delivery(t, d1.ID).Seq, b.delivery(t, d2.ID).Seq, "seq follows ingest order")

		atts, err := b.st.ListAttempts(b.ctx, b.project.ID, d2.ID)
		require.NoError(t, err)
		require.Len(t, atts, 1)
		equal(t, att, atts[0])
	})
	t.Run("SeqFollowsIngestOrderAcrossCalls", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		var last int64
		for range 5 {
			_, ds := b.enqueue(t, b.now, ep)
			seq := b.delivery(t, ds[0].ID).Seq
			require.Greater(t, seq, last)
			last = seq
		}
		ev, _ := b.enqueue(t, b.now)
		d := newDelivery(ev, ep, b.now)
		require.NoError(t, b.st.InsertDeliveries(b.ctx, []*herald.Delivery{d}))
		require.Greater(t, b.delivery(t, d.ID).Seq, last, "InsertDeliveries numbers after earlier ones")
	})
	t.Run("MissingEventNotFound", func(t *testing.T) {
		b := s.setup(t)
		_, err := b.st.GetEvent(b.ctx, b.project.ID, "evt_missing")
		requireCode(t, herald.ENOTFOUND, err)
		_, err = b.st.GetDelivery(b.ctx, b.project.ID, "dlv_missing")
		requireCode(t, herald.ENOTFOUND, err)
		ev, _ := b.enqueue(t, b.now)
		other := b.newProject(t, "other")
		_, err = b.st.GetEvent(b.ctx, other.ID, ev.ID)
		requireCode(t, herald.ENOTFOUND, err)
	})
}

func (s *suite) idempotency(t *testing.T) {
	keyed := func(b *testBundle, key, hash string, created time.Time) *herald.Event {
		ev := b.newEvent("order.paid", created)
		ev.IdempotencyKey, ev.BodyHash = key, hash
		return ev
	}
	t.Run("SameKeyAndHashReplaysOriginal", func(t *testing.T) {
		b := s.setup(t)
		ep1, ep2 := b.newEndpoint(t, nil), b.newEndpoint(t, nil)
		first := keyed(b, "k", "h", b.now)
		b.insert(t, &store.NewEvent{Event: first, Deliveries: []*herald.Delivery{newDelivery(first, ep1, b.now), newDelivery(first, ep2, b.now)}})

		again := keyed(b, "k", "h", b.now.Add(time.Second))
		res := b.insert(t, &store.NewEvent{Event: again, Deliveries: []*herald.Delivery{newDelivery(again, ep1, b.now)}})
		require.True(t, res[0].Replayed)
		require.False(t, res[0].Conflict)
		require.Equal(t, 2, res[0].Deliveries, "the original's delivery count")
		equal(t, first, res[0].Event)
		_, err := b.st.GetEvent(b.ctx, b.project.ID, again.ID)
		requireCode(t, herald.ENOTFOUND, err)
		ds, _, err := b.st.ListDeliveries(b.ctx, b.project.ID, store.DeliveryFilter{}, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, ds, 2, "nothing inserted")
	})
	t.Run("SameKeyOtherHashConflicts", func(t *testing.T) {
		b := s.setup(t)
		b.insert(t, &store.NewEvent{Event: keyed(b, "k", "h1", b.now)})
		other := keyed(b, "k", "h2", b.now)
		res := b.insert(t, &store.NewEvent{Event: other})
		require.True(t, res[0].Conflict)
		require.False(t, res[0].Replayed)
		_, err := b.st.GetEvent(b.ctx, b.project.ID, other.ID)
		requireCode(t, herald.ENOTFOUND, err)
	})
	t.Run("SameKeyTwiceInOneBatch", func(t *testing.T) {
		b := s.setup(t)
		e1, e2, e3 := keyed(b, "k", "h", b.now), keyed(b, "k", "h", b.now), keyed(b, "k", "other", b.now)
		res := b.insert(t, &store.NewEvent{Event: e1}, &store.NewEvent{Event: e2}, &store.NewEvent{Event: e3})
		require.False(t, res[0].Replayed || res[0].Conflict)
		require.True(t, res[1].Replayed)
		require.Equal(t, e1.ID, res[1].Event.ID)
		require.True(t, res[2].Conflict)
	})
	t.Run("KeysArePerProject", func(t *testing.T) {
		b := s.setup(t)
		b.insert(t, &store.NewEvent{Event: keyed(b, "k", "h", b.now)})
		b2 := *b
		b2.project = b.newProject(t, "other")
		res := b2.insert(t, &store.NewEvent{Event: keyed(&b2, "k", "h", b.now)})
		require.False(t, res[0].Replayed || res[0].Conflict)
	})
	t.Run("KeyOlderThanWindowIsFree", func(t *testing.T) {
		b := s.setup(t)
		old := keyed(b, "k", "h1", b.now.Add(-store.IdempotencyWindow-time.Hour))
		b.insert(t, &store.NewEvent{Event: old})
		fresh := keyed(b, "k", "h2", b.now)
		res := b.insert(t, &store.NewEvent{Event: fresh})
		require.False(t, res[0].Replayed || res[0].Conflict)
		require.Equal(t, fresh.ID, res[0].Event.ID)
		// and the key now belongs to the new event
		res = b.insert(t, &store.NewEvent{Event: keyed(b, "k", "h2", b.now)})
		require.True(t, res[0].Replayed)
		require.Equal(t, fresh.ID, res[0].Event.ID)
	})
	t.Run("NoKeyNoCheck", func(t *testing.T) {
		b := s.setup(t)
		res := b.insert(t, &store.NewEvent{Event: keyed(b, "", "h", b.now)}, &store.NewEvent{Event: keyed(b, "", "h", b.now)})
		require.False(t, res[0].Replayed || res[1].Replayed || res[0].Conflict || res[1].Conflict)
	})
}

func (s *suite) lists(t *testing.T) {
	t.Run("ListEventsFilters", func(t *testing.T) {
		b := s.setup(t)
		mk := func(typ string, channels []string, created time.Time) string {
			ev := b.newEvent(typ, created)
			ev.Channels = channels
			b.insert(t, &store.NewEvent{Event: ev})
			return ev.ID
		}
		a := mk("user.created", []string{"c1"}, b.now.Add(-3*time.Hour))
		c := mk("user.deleted", []string{"c1", "c2"}, b.now.Add(-2*time.Hour))
		d := mk("user.created", []string{}, b.now.Add(-time.Hour))
		list := func(f store.EventFilter) []string {
			evs, _, err := b.st.ListEvents(b.ctx, b.project.ID, f, store.Page{Limit: 100})
			require.NoError(t, err)
			var ids []string
			for _, e := range evs {
				ids = append(ids, e.ID)
			}
			return ids
		}
		require.Equal(t, []string{d, c, a}, list(store.EventFilter{}))
		require.Equal(t, []string{d, a}, list(store.EventFilter{Type: "user.created"}))
		require.Equal(t, []string{c, a}, list(store.EventFilter{Channel: "c1"}))
		require.Equal(t, []string{c}, list(store.EventFilter{Channel: "c2"}))
		require.Equal(t, []string{d, c}, list(store.EventFilter{Since: ptr(b.now.Add(-2 * time.Hour))}), "since is inclusive")
		require.Equal(t, []string{a}, list(store.EventFilter{Until: ptr(b.now.Add(-2 * time.Hour))}), "until is exclusive")
		require.Equal(t, []string{c}, list(store.EventFilter{Type: "user.deleted", Channel: "c2", Since: ptr(b.now.Add(-4 * time.Hour)), Until: &b.now}))
		other := b.newProject(t, "other")
		evs, _, err := b.st.ListEvents(b.ctx, other.ID, store.EventFilter{}, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Empty(t, evs)
	})
	t.Run("ListDeliveriesFilters", func(t *testing.T) {
		b := s.setup(t)
		ep1, ep2 := b.newEndpoint(t, nil), b.newEndpoint(t, nil)
		old := b.newEvent("a", b.now.Add(-2*time.Hour))
		dOld := newDelivery(old, ep1, b.now)
		b.insert(t, &store.NewEvent{Event: old, Deliveries: []*herald.Delivery{dOld}})
		ev, ds := b.enqueue(t, b.now, ep1, ep2)
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{{Attempt: newAttempt(ds[1], 1, b.now, 500, 3), Status: herald.DeliveryExhausted, Manual: true}}))
		list := func(f store.DeliveryFilter) []string {
			got, _, err := b.st.ListDeliveries(b.ctx, b.project.ID, f, store.Page{Limit: 100})
			require.NoError(t, err)
			var ids []string
			for _, d := range got {
				ids = append(ids, d.ID)
			}
			return ids
		}
		require.Equal(t, []string{ds[1].ID, ds[0].ID, dOld.ID}, list(store.DeliveryFilter{}))
		require.Equal(t, []string{ds[0].ID, dOld.ID}, list(store.DeliveryFilter{EndpointID: ep1.ID}))
		require.Equal(t, []string{ds[1].ID, ds[0].ID}, list(store.DeliveryFilter{EventID: ev.ID}))
		require.Equal(t, []string{ds[1].ID}, list(store.DeliveryFilter{Status: herald.DeliveryExhausted}))
		require.Equal(t, []string{ds[1].ID, ds[0].ID}, list(store.DeliveryFilter{Since: ptr(b.now.Add(-time.Hour))}))
		require.Equal(t, []string{dOld.ID}, list(store.DeliveryFilter{Until: ptr(b.now.Add(-time.Hour))}))
		require.Equal(t, []string{ds[0].ID}, list(store.DeliveryFilter{EndpointID: ep1.ID, Status: herald.DeliveryPending, Since: ptr(b.now.Add(-time.Hour))}))
	})
	t.Run("ListAttemptsOldestFirst", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		_, ds := b.enqueue(t, b.now, ep)
		var want []string
		var results []*store.AttemptResult
		for i := 1; i <= 3; i++ {
			a := newAttempt(ds[0], i, b.now.Add(time.Duration(i)*time.Minute), 500, int64(i))
			want = append(want, a.ID)
			results = append(results, &store.AttemptResult{Attempt: a, Status: herald.DeliveryPending, NextAttemptAt: ptr(b.now.Add(time.Hour)), Manual: true})
		}
		// recorded newest first, listed oldest first
		for i := len(results) - 1; i >= 0; i-- {
			require.NoError(t, b.st.CompleteAttempts(b.ctx, results[i:i+1]))
		}
		atts, err := b.st.ListAttempts(b.ctx, b.project.ID, ds[0].ID)
		require.NoError(t, err)
		var got []string
		for _, a := range atts {
			got = append(got, a.ID)
		}
		require.Equal(t, want, got)

		latest, err := b.st.ListEndpointAttempts(b.ctx, b.project.ID, ep.ID, 2)
		require.NoError(t, err)
		require.Len(t, latest, 2)
		require.Equal(t, []string{want[2], want[1]}, []string{latest[0].ID, latest[1].ID}, "endpoint attempts newest first")
	})
}
