package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// RunRequestKeys runs the rules of store.RequestKeyStore: one claim per
// project and key, the response kept for a repeat, expired and stale rows
// taken over, released claims freed, and Purge. open is as for Run.
func RunRequestKeys(t *testing.T, open func(t *testing.T) store.Store) {
	s := &suite{open: open}
	t.Run("FirstClaimWinsAndTheHolderIsReturned", s.requestKeyHeld)
	t.Run("FinishedClaimKeepsItsResponse", s.requestKeyFinished)
	t.Run("ReleasedClaimFreesTheKey", s.requestKeyReleased)
	t.Run("KeysArePerProject", s.requestKeyPerProject)
	t.Run("ExpiredAndStaleRowsAreTakenOver", s.requestKeyTakeover)
	t.Run("OldTokenCannotTouchATakenOverClaim", s.requestKeyOldToken)
	t.Run("ConcurrentClaimsOneWins", s.requestKeyConcurrent)
	t.Run("PurgeDeletesExpiredKeys", s.requestKeyPurge)
}

func (b *testBundle) requestKey(key, token string) *store.RequestKey {
	return &store.RequestKey{ProjectID: b.project.ID, Key: key, Route: "route", BodyHash: "hash", Token: token, CreatedAt: b.now}
}

// claimKey claims with the window and lease measured from b.now.
func (b *testBundle) claimKey(t *testing.T, k *store.RequestKey) *store.RequestKey {
	t.Helper()
	held, err := b.st.ClaimRequestKey(b.ctx, k, k.CreatedAt.Add(-store.IdempotencyWindow), k.CreatedAt.Add(-time.Minute))
	require.NoError(t, err)
	return held
}

func (s *suite) requestKeyHeld(t *testing.T) {
	b := s.setup(t)
	require.Nil(t, b.claimKey(t, b.requestKey("k", "t1")), "the first claim stores the key")
	k2 := b.requestKey("k", "t2")
	k2.Route, k2.BodyHash = "other route", "other hash"
	held := b.claimKey(t, k2)
	require.NotNil(t, held, "a second claim of a running key is refused")
	require.Equal(t, "t1", held.Token)
	require.Equal(t, "route", held.Route)
	require.Equal(t, "hash", held.BodyHash)
	require.Equal(t, 0, held.Status, "running")
	require.True(t, held.CreatedAt.Equal(b.now), "created_at %v, want %v", held.CreatedAt, b.now)
}

func (s *suite) requestKeyFinished(t *testing.T) {
	b := s.setup(t)
	k := b.requestKey("k", "t1")
	require.Nil(t, b.claimKey(t, k))
	k.Status, k.Body = 202, []byte(`{"requeued":3}`)
	require.NoError(t, b.st.FinishRequestKey(b.ctx, k))
	held := b.claimKey(t, b.requestKey("k", "t2"))
	require.NotNil(t, held)
	require.Equal(t, 202, held.Status)
	require.JSONEq(t, `{"requeued":3}`, string(held.Body))
	require.Equal(t, "", held.ResourceID)

	r := b.requestKey("r", "t3")
	require.Nil(t, b.claimKey(t, r))
	r.Status, r.ResourceID = 201, "ep_1"
	require.NoError(t, b.st.FinishRequestKey(b.ctx, r))
	held = b.claimKey(t, b.requestKey("r", "t4"))
	require.NotNil(t, held)
	require.Equal(t, 201, held.Status)
	require.Equal(t, "ep_1", held.ResourceID)
	require.Empty(t, held.Body)

	// A finished claim is not released by its token any more.
	require.NoError(t, b.st.ReleaseRequestKey(b.ctx, b.project.ID, "r", "t3"))
	require.NotNil(t, b.claimKey(t, b.requestKey("r", "t5")))
}

func (s *suite) requestKeyReleased(t *testing.T) {
	b := s.setup(t)
	require.Nil(t, b.claimKey(t, b.requestKey("k", "t1")))
	require.NoError(t, b.st.ReleaseRequestKey(b.ctx, b.project.ID, "k", "t1"))
	require.Nil(t, b.claimKey(t, b.requestKey("k", "t2")), "a released key can be claimed again")
}

func (s *suite) requestKeyPerProject(t *testing.T) {
	b := s.setup(t)
	other := b.newProject(t, "other")
	require.Nil(t, b.claimKey(t, b.requestKey("k", "t1")))
	k := b.requestKey("k", "t2")
	k.ProjectID = other.ID
	require.Nil(t, b.claimKey(t, k), "the same key in another project is another key")
}

func (s *suite) requestKeyTakeover(t *testing.T) {
	b := s.setup(t)
	// A finished row older than the window is taken over.
	old := b.requestKey("expired", "t1")
	old.CreatedAt = b.now.Add(-store.IdempotencyWindow - time.Second)
	require.Nil(t, b.claimKey(t, old))
	old.Status, old.Body = 200, []byte(`{}`)
	require.NoError(t, b.st.FinishRequestKey(b.ctx, old))
	require.Nil(t, b.claimKey(t, b.requestKey("expired", "t2")), "an expired key is free")
	held := b.claimKey(t, b.requestKey("expired", "t3"))
	require.NotNil(t, held)
	require.Equal(t, "t2", held.Token)
	require.Equal(t, 0, held.Status, "the takeover starts afresh")

	// A finished row within the window but older than the lease is kept.
	done := b.requestKey("done", "t1")
	done.CreatedAt = b.now.Add(-time.Hour)
	require.Nil(t, b.claimKey(t, done))
	done.Status, done.Body = 200, []byte(`{}`)
	require.NoError(t, b.st.FinishRequestKey(b.ctx, done))
	require.NotNil(t, b.claimKey(t, b.requestKey("done", "t2")), "a finished key within the window holds")

	// A running row older than the lease is stale: taken over.
	stale := b.requestKey("stale", "t1")
	stale.CreatedAt = b.now.Add(-2 * time.Minute)
	require.Nil(t, b.claimKey(t, stale))
	require.Nil(t, b.claimKey(t, b.requestKey("stale", "t2")), "a stale running claim is taken over")
}

func (s *suite) requestKeyOldToken(t *testing.T) {
	b := s.setup(t)
	stale := b.requestKey("k", "old")
	stale.CreatedAt = b.now.Add(-2 * time.Minute)
	require.Nil(t, b.claimKey(t, stale))
	require.Nil(t, b.claimKey(t, b.requestKey("k", "new")))
	// The old owner finishes or releases late: nothing changes.
	stale.Status, stale.Body = 200, []byte(`{"old":true}`)
	require.NoError(t, b.st.FinishRequestKey(b.ctx, stale))
	require.NoError(t, b.st.ReleaseRequestKey(b.ctx, b.project.ID, "k", "old"))
	held := b.claimKey(t, b.requestKey("k", "probe"))
	require.NotNil(t, held)
	require.Equal(t, "new", held.Token)
	require.Equal(t, 0, held.Status)
}

func (s *suite) requestKeyConcurrent(t *testing.T) {
	b := s.setup(t)
	const n = 8
	var wg sync.WaitGroup
	won := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := b.requestKey("k", fmt.Sprint("t", i))
			held, err := b.st.ClaimRequestKey(b.ctx, k, b.now.Add(-store.IdempotencyWindow), b.now.Add(-time.Minute))
			won[i], errs[i] = held == nil && err == nil, err
		}()
	}
	wg.Wait()
	wins := 0
	for i := range n {
		require.NoError(t, errs[i])
		if won[i] {
			wins++
		}
	}
	require.Equal(t, 1, wins, "exactly one of %d concurrent claims wins", n)
}

func (s *suite) requestKeyPurge(t *testing.T) {
	b := s.setup(t)
	old := b.requestKey("old", "t1")
	old.CreatedAt = time.Now().Add(-store.IdempotencyWindow - time.Minute)
	require.Nil(t, b.claimKey(t, old))
	old.Status = 200
	require.NoError(t, b.st.FinishRequestKey(b.ctx, old))
	fresh := b.requestKey("fresh", "t1")
	require.Nil(t, b.claimKey(t, fresh))
	fresh.Status = 200
	require.NoError(t, b.st.FinishRequestKey(b.ctx, fresh))

	_, err := b.st.Purge(b.ctx, time.Now().Add(-time.Hour), 100)
	require.NoError(t, err)
	// With no window at all, a claim sees what Purge left.
	probe := func(key string) *store.RequestKey {
		k := b.requestKey(key, "probe")
		held, err := b.st.ClaimRequestKey(b.ctx, k, time.Time{}, time.Time{})
		require.NoError(t, err)
		return held
	}
	require.Nil(t, probe("old"), "Purge deleted the expired key")
	require.NotNil(t, probe("fresh"), "Purge kept the key within the window")
}
