package storetest

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// cluster: processes, takeover and Cluster claims (several processes on one
// database).
func (s *suite) cluster(t *testing.T) {
	t.Run("HeartbeatListsLiveProcesses", func(t *testing.T) {
		b := s.setup(t)
		beat := func(id string, started, at time.Time, inFlight int) {
			require.NoError(t, b.st.Heartbeat(b.ctx, &store.Process{ID: id, Address: id + ":8080",
				StartedAt: started, HeartbeatAt: at, InFlight: inFlight, Sees: []string{id, "p3"}}))
		}
		beat("p1", b.now.Add(-time.Hour), b.now.Add(-time.Minute), 0)
		beat("p2", b.now.Add(-2*time.Hour), b.now.Add(-time.Minute), 0)
		beat("p1", b.now.Add(-time.Hour), b.now, 7) // a later heartbeat updates the row
		beat("p3", b.now.Add(-30*time.Minute), b.now.Add(-time.Second), 1)

		ps, err := b.st.ListProcesses(b.ctx, b.now.Add(-10*time.Second))
		require.NoError(t, err)
		require.Len(t, ps, 2, "p2 is silent since before the cut")
		require.Equal(t, "p1", ps[0].ID, "oldest start first")
		require.Equal(t, "p1:8080", ps[0].Address)
		require.Equal(t, 7, ps[0].InFlight)
		require.Equal(t, []string{"p1", "p3"}, ps[0].Sees, "whom it saw")
		require.True(t, b.now.Equal(ps[0].HeartbeatAt))
		require.True(t, b.now.Add(-time.Hour).Equal(ps[0].StartedAt))
		require.Equal(t, "p3", ps[1].ID)

		require.NoError(t, b.st.RemoveProcess(b.ctx, "p1"))
		ps, err = b.st.ListProcesses(b.ctx, b.now.Add(-10*time.Second))
		require.NoError(t, err)
		require.Len(t, ps, 1)
		require.Equal(t, "p3", ps[0].ID)
	})
	t.Run("TakeOverEndsTheLeasesOfTheDeadOnly", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		claimAs := func(owner string) string {
			_, ds := b.enqueue(t, b.now.Add(-time.Second), ep)
			cs := b.claim(t, store.ClaimParams{Owner: owner, Now: b.now, Lease: 90 * time.Second, Limit: 1})
			require.Len(t, cs, 1)
			require.Equal(t, ds[0].ID, cs[0].Delivery.ID)
			return ds[0].ID
		}
		for _, id := range []string{"self", "live", "dead"} {
			at := b.now
			if id == "dead" {
				at = b.now.Add(-time.Minute)
			}
			require.NoError(t, b.st.Heartbeat(b.ctx, &store.Process{ID: id, StartedAt: b.now.Add(-time.Hour), HeartbeatAt: at}))
		}
		mine, live, dead, ghost := claimAs("self"), claimAs("live"), claimAs("dead"), claimAs("ghost")

		n, err := b.st.TakeOver(b.ctx, "self", b.now.Add(-10*time.Second), b.now)
		require.NoError(t, err)
		require.Equal(t, 2, n, "the dead process's claim and the claim of an owner with no row")
		ps, err := b.st.ListProcesses(b.ctx, b.now.Add(-time.Hour))
		require.NoError(t, err)
		var ids []string
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		require.ElementsMatch(t, []string{"self", "live"}, ids, "the dead process's row is gone")

		// The next claim, a moment later, takes exactly the dead's claims.
		cs := b.claim(t, store.ClaimParams{Owner: "live", Now: b.now.Add(time.Millisecond), Lease: 90 * time.Second})
		require.ElementsMatch(t, []string{dead, ghost}, claimedIDs(cs))
		for _, id := range []string{mine, live} {
			d := b.delivery(t, id)
			require.Equal(t, herald.DeliveryInFlight, d.Status)
			require.True(t, b.now.Add(90*time.Second).Equal(*d.LockedUntil), "a live process's lease is untouched")
		}
		n, err = b.st.TakeOver(b.ctx, "self", b.now.Add(-10*time.Second), b.now)
		require.NoError(t, err)
		require.Zero(t, n, "nothing more to take")
	})
	t.Run("ExclusiveTakeOverEndsEveryOtherLease", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		_, ds := b.enqueue(t, b.now.Add(-time.Second), ep)
		require.NoError(t, b.st.Heartbeat(b.ctx, &store.Process{ID: "before", StartedAt: b.now, HeartbeatAt: b.now}))
		require.Len(t, b.claim(t, store.ClaimParams{Owner: "before", Now: b.now, Lease: 90 * time.Second}), 1)
		// A restart holding the file's lock: every other process is dead,
		// however recent its heartbeat.
		n, err := b.st.TakeOver(b.ctx, "after", b.now.Add(100*365*24*time.Hour), b.now)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		cs := b.claim(t, store.ClaimParams{Owner: "after", Now: b.now.Add(time.Millisecond)})
		require.Equal(t, []string{ds[0].ID}, claimedIDs(cs))
	})
	t.Run("ClusterClaimGivesTurnsOnOneSchedule", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, func(ep *herald.Endpoint) { ep.MaxInFlight = 100; ep.RateLimit = 4 })
		for range 10 {
			b.enqueue(t, b.now.Add(-time.Second), ep)
		}
		p := store.ClaimParams{Owner: "a", Now: b.now, Lease: time.Minute, Limit: 100, Cluster: true}
		a := b.claim(t, p)
		require.Len(t, a, 4, "a second's worth of turns")
		for i, c := range a {
			require.WithinDuration(t, b.now.Add(time.Duration(i)*250*time.Millisecond), c.NotBefore, time.Millisecond)
		}
		p.Owner = "b"
		require.Empty(t, b.claim(t, p), "another process finds no turn free within the second")
		p.Now = b.now.Add(500 * time.Millisecond)
		bs := b.claim(t, p)
		require.Len(t, bs, 2, "half a second later, two more turns are within the next second")
		require.WithinDuration(t, b.now.Add(time.Second), bs[0].NotBefore, time.Millisecond)
		require.WithinDuration(t, b.now.Add(1250*time.Millisecond), bs[1].NotBefore, time.Millisecond)
		for _, c := range b.claim(t, store.ClaimParams{Owner: "c", Now: b.now, Lease: time.Minute, Limit: 100}) {
			require.True(t, c.NotBefore.IsZero(), "turns are given to Cluster claims only")
		}
	})
	t.Run("ClusterClaimLeavesOtherEndpointsAlone", func(t *testing.T) {
		b := s.setup(t)
		limited := b.newEndpoint(t, func(ep *herald.Endpoint) { ep.RateLimit = 2 })
		free := b.newEndpoint(t, func(ep *herald.Endpoint) { ep.RateLimit = 0 })
		for range 5 {
			b.enqueue(t, b.now.Add(-time.Second), limited, free)
		}
		cs := b.claim(t, store.ClaimParams{Owner: "a", Now: b.now, Lease: time.Minute, Limit: 100, Cluster: true})
		n := map[string]int{}
		for _, c := range cs {
			n[c.Delivery.EndpointID]++
			require.Equal(t, c.Delivery.EndpointID == free.ID, c.NotBefore.IsZero())
		}
		require.Equal(t, map[string]int{limited.ID: 2, free.ID: 5}, n)
	})
}
