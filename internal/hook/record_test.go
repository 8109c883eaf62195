package hook_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storedRun checks the record of a run: its event, one delivery per
// endpoint, and an attempt for each called one.
func (b *testBundle) storedRun(t require.TestingT, eventID string, called []*herald.Endpoint, queued []*herald.Endpoint) {
	ctx := context.Background()
	ev, err := b.st.GetEvent(ctx, b.p.ID, eventID)
	require.NoError(t, err)
	assert.True(t, ev.Hook)
	ds, _, err := b.st.ListDeliveries(ctx, b.p.ID, store.DeliveryFilter{EventID: eventID}, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, ds, len(called)+len(queued))
	byEndpoint := map[string]*herald.Delivery{}
	for _, d := range ds {
		byEndpoint[d.EndpointID] = d
	}
	for _, ep := range called {
		d := byEndpoint[ep.ID]
		require.NotNil(t, d, "no delivery for %s", ep.ID)
		assert.Equal(t, herald.DeliverySucceeded, d.Status)
		atts, err := b.st.ListAttempts(ctx, b.p.ID, d.ID)
		require.NoError(t, err)
		require.Len(t, atts, 1)
		assert.Equal(t, herald.TriggerHook, atts[0].Trigger)
		assert.Equal(t, 200, atts[0].ResponseStatus)
	}
	for _, ep := range queued {
		assert.NotNil(t, byEndpoint[ep.ID], "no delivery for %s", ep.ID)
	}
}

func TestRunThatQueuesNothingIsStoredAfterItsAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := newHook(t, allow)
	first := b.endpoint(t, h.URL, order(1))
	second := b.endpoint(t, h.URL, order(2), mode(herald.ResponseData))

	res := b.run(t, `{"data":{"a":1}}`)
	require.True(t, res.Allowed)

	// Neither Flush nor Close: the background recorder stores it by itself.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		b.storedRun(c, res.EventID, []*herald.Endpoint{first, second}, nil)
	}, time.Minute, 10*time.Millisecond)
}

func TestCloseStoresTheQueuedRuns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := newHook(t, allow)
	ep := b.endpoint(t, h.URL)

	// Concurrent callers, so that records queue up behind a commit.
	const callers, runs = 4, 10
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range runs {
				res, err := b.r.RunJSON(context.Background(), b.p, evType, []byte(`{"data":{}}`))
				if assert.NoError(t, err) {
					mu.Lock()
					ids = append(ids, res.EventID)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, b.r.Close(context.Background()))

	require.Len(t, ids, callers*runs)
	for _, id := range ids {
		b.storedRun(t, id, []*herald.Endpoint{ep}, nil)
	}
	// After Close a run still works, stored before its answer.
	res := b.run(t, `{"data":{}}`)
	b.storedRun(t, res.EventID, []*herald.Endpoint{ep}, nil)
}

func TestRunThatQueuesADeliveryIsDurableWhenRunReturns(t *testing.T) {
	t.Parallel()
	// FULL, as the server runs: a record left to the background would
	// still be in its commit's fsync when Run returns.
	b := setupSync(t, "FULL")
	h := newHook(t, allow)
	ign := b.endpoint(t, h.URL, order(1), mode(herald.ResponseIgnore))
	called := b.endpoint(t, h.URL, order(2))

	for range 5 {
		res := b.run(t, `{"data":{"a":1}}`)
		require.True(t, res.Allowed)
		require.Equal(t, []string{ign.ID + ":queued", called.ID + ":allowed"}, outcomes(res))
		// Read at once, without Flush or polling.
		b.storedRun(t, res.EventID, []*herald.Endpoint{called}, []*herald.Endpoint{ign})
	}
}
