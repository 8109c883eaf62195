package postgres_test

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/store"
	"github.com/stretchr/testify/require"
)

// claimIDs claims from f.a at now and returns the claimed deliveries' ids.
func (f *fixture) claimIDs(t *testing.T, p store.ClaimParams) []string {
	t.Helper()
	p.Owner, p.Lease = "a", time.Hour
	if p.Limit == 0 {
		p.Limit = 10
	}
	cs, err := f.a.ClaimDeliveries(f.ctx, p)
	require.NoError(t, err)
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.Delivery.ID
	}
	return ids
}

// enqueue inserts n events with a delivery to ep due at due, and returns
// the deliveries.
func (f *fixture) enqueue(t *testing.T, n int, ep *herald.Endpoint, due time.Time) []*herald.Delivery {
	t.Helper()
	evs := f.events(n, nil, ep)
	var ds []*herald.Delivery
	for _, ne := range evs {
		ne.Deliveries[0].NextAttemptAt = &due
		ds = append(ds, ne.Deliveries[0])
	}
	_, err := f.a.InsertEvents(f.ctx, evs)
	require.NoError(t, err)
	return ds
}

// Deliveries that become pending while their endpoint is postponed (new
// events, a requeue) wait for the postponement's end like the others: the
// endpoint is not ready for them either.
func TestPostponeHoldsDeliveriesPendingLater(t *testing.T) {
	baseURL(t)
	f := setup(t)
	ep := f.endpoint(t, false)
	until := f.now.Add(time.Hour)
	require.NoError(t, f.a.PostponeEndpoint(f.ctx, ep.ID, until))
	later := f.enqueue(t, 1, ep, f.now)
	require.Empty(t, f.claimIDs(t, store.ClaimParams{Now: f.now.Add(time.Minute)}))
	d, err := f.b.GetDelivery(f.ctx, f.project.ID, later[0].ID)
	require.NoError(t, err)
	require.True(t, until.Equal(*d.NextAttemptAt), "reads as due when the postponement ends")
	require.Equal(t, []string{later[0].ID}, f.claimIDs(t, store.ClaimParams{Now: until}))
}

// A postponement is extended by a later one, never shortened by an earlier
// one, nor ended by a health write (another process's breaker may see the
// endpoint as healthy).
func TestPostponeOnlyExtends(t *testing.T) {
	baseURL(t)
	f := setup(t)
	ep := f.endpoint(t, false)
	ds := f.enqueue(t, 1, ep, f.now)
	require.NoError(t, f.a.PostponeEndpoint(f.ctx, ep.ID, f.now.Add(2*time.Hour)))
	require.NoError(t, f.b.PostponeEndpoint(f.ctx, ep.ID, f.now.Add(time.Hour)))
	require.NoError(t, f.b.UpdateEndpointHealth(f.ctx, ep.ID, store.EndpointHealth{Status: herald.EndpointHealthy}))
	require.Empty(t, f.claimIDs(t, store.ClaimParams{Now: f.now.Add(90 * time.Minute)}))
	require.Equal(t, []string{ds[0].ID}, f.claimIDs(t, store.ClaimParams{Now: f.now.Add(2 * time.Hour)}))
}

// When the head of the due queue is a backlog the claim may not take —
// a postponed endpoint's, a skipped one's, more than the claim's window —
// other endpoints' due work behind it is still claimed.
func TestClaimFindsWorkBehindBacklog(t *testing.T) {
	baseURL(t)
	f := setup(t)
	postponed, skipped, ordered, free := f.endpoint(t, false), f.endpoint(t, false), f.endpoint(t, true), f.endpoint(t, false)
	const backlog = 300 // the window is 128 rows for a claim of 10
	f.enqueue(t, backlog, postponed, f.now.Add(-3*time.Hour))
	f.enqueue(t, backlog, skipped, f.now.Add(-2*time.Hour))
	heads := f.enqueue(t, backlog, ordered, f.now.Add(-time.Hour))
	behind := f.enqueue(t, 3, free, f.now)
	require.NoError(t, f.a.PostponeEndpoint(f.ctx, postponed.ID, f.now.Add(time.Hour)))

	got := f.claimIDs(t, store.ClaimParams{Now: f.now, SkipEndpoints: []string{skipped.ID}})
	require.Equal(t, []string{heads[0].ID, behind[0].ID, behind[1].ID, behind[2].ID}, got,
		"the ordered endpoint's head and the free endpoint's deliveries, in due order")
}
