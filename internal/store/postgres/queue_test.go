package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
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

// When the head of the due queue is a backlog the claim may not take —
// a paused endpoint's, a skipped one's, an ordered one's, each longer than
// the claim's window — other endpoints' due work behind it is still
// claimed.
func TestClaimFindsWorkBehindBacklog(t *testing.T) {
	baseURL(t)
	f := setup(t)
	paused, skipped, ordered, free := f.endpoint(t, false), f.endpoint(t, false), f.endpoint(t, true), f.endpoint(t, false)
	const backlog = 300 // the window is 128 rows for a claim of 10
	f.enqueue(t, backlog, paused, f.now.Add(-3*time.Hour))
	f.enqueue(t, backlog, skipped, f.now.Add(-2*time.Hour))
	heads := f.enqueue(t, backlog, ordered, f.now.Add(-time.Hour))
	behind := f.enqueue(t, 3, free, f.now)
	require.NoError(t, f.a.PostponeEndpoint(f.ctx, paused.ID, f.now.Add(time.Hour)))

	got := f.claimIDs(t, store.ClaimParams{Now: f.now, SkipEndpoints: []string{skipped.ID}})
	require.Equal(t, []string{heads[0].ID, behind[0].ID, behind[1].ID, behind[2].ID}, got,
		"the ordered endpoint's head and the free endpoint's deliveries, in due order")
}

// A keyed batch that fails after its keys were taken (here: text
// PostgreSQL refuses) takes none of them, and leaves no connection in the
// pool inside its transaction.
func TestKeyedInsertFailureTakesNoKey(t *testing.T) {
	baseURL(t)
	f := setup(t)
	ep := f.endpoint(t, false)
	bad := f.events(2, func(i int) string { return fmt.Sprint("key-", i) }, ep)
	bad[1].Event.Type = "nul\x00"
	_, err := f.a.InsertEvents(f.ctx, bad)
	require.Equal(t, herald.EINVALID, herald.ErrorCode(err), "error: %v", err)

	for range 10 { // more than the pool's connections
		good := f.events(2, func(i int) string { return fmt.Sprint("key-", i) }, ep)
		res, err := f.a.InsertEvents(f.ctx, good)
		require.NoError(t, err)
		for _, r := range res {
			require.False(t, r.Replayed || r.Conflict, "the failed batch took no key")
		}
		_, err = sqlConn(t, f.url).Exec(f.ctx, "DELETE FROM events")
		require.NoError(t, err)
	}
}
