package postgres_test

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store/postgres"
	"github.com/stretchr/testify/require"
)

// warmKeys creates keys and has db read (so cache) them once its auth
// cache is live.
func (f *fixture) warmKeys(t *testing.T, db *postgres.DB, hashes ...string) []*herald.APIKey {
	t.Helper()
	var ks []*herald.APIKey
	for _, h := range hashes {
		k := &herald.APIKey{ID: herald.NewID(herald.PrefixKey), ProjectID: f.project.ID, Hash: h, Prefix: "hk_x", CreatedAt: f.now}
		require.NoError(t, f.a.CreateAPIKey(f.ctx, k))
		ks = append(ks, k)
	}
	_, err := db.GetProject(f.ctx, f.project.ID) // starts the listener
	require.NoError(t, err)
	require.Eventually(t, func() bool { return postgres.AuthCacheLive(db) }, time.Minute, 10*time.Millisecond)
	for _, h := range hashes {
		_, err := db.GetAPIKeyByHash(f.ctx, h)
		require.NoError(t, err)
	}
	return ks
}

// A write to keys or projects on one process empties every other process's
// auth cache once its notification arrives.
func TestAuthCacheEmptiedByAnotherProcessWrite(t *testing.T) {
	baseURL(t)
	f := setup(t)
	ks := f.warmKeys(t, f.b, "h1", "h2")
	// Behind the store's back (no notification), h2 stays cached on b.
	_, err := sqlConn(t, f.url).Exec(f.ctx, "DELETE FROM api_keys WHERE hash = 'h2'")
	require.NoError(t, err)
	_, err = f.b.GetAPIKeyByHash(f.ctx, "h2")
	require.NoError(t, err, "served from b's cache")

	require.NoError(t, f.a.DeleteAPIKey(f.ctx, f.project.ID, ks[0].ID))
	require.Eventually(t, func() bool {
		_, err1 := f.b.GetAPIKeyByHash(f.ctx, "h1")
		_, err2 := f.b.GetAPIKeyByHash(f.ctx, "h2")
		return herald.IsNotFound(err1) && herald.IsNotFound(err2)
	}, time.Minute, 10*time.Millisecond, "the revoked key and everything else cached are gone from b")

	_, err = f.b.GetProject(f.ctx, f.project.ID)
	require.NoError(t, err)
	renamed := *f.project
	renamed.Name = "renamed"
	require.NoError(t, f.a.UpdateProject(f.ctx, &renamed))
	require.Eventually(t, func() bool {
		p, err := f.b.GetProject(f.ctx, f.project.ID)
		return err == nil && p.Name == "renamed"
	}, time.Minute, 10*time.Millisecond)
}

// A process's own writes empty its cache before they return.
func TestAuthCacheEmptiedByOwnWriteAtOnce(t *testing.T) {
	baseURL(t)
	f := setup(t)
	ks := f.warmKeys(t, f.a, "h1")
	require.NoError(t, f.a.DeleteAPIKey(f.ctx, f.project.ID, ks[0].ID))
	_, err := f.a.GetAPIKeyByHash(f.ctx, "h1")
	require.True(t, herald.IsNotFound(err), "revoked: %v", err)

	require.NoError(t, f.a.DeleteProject(f.ctx, f.project.ID))
	_, err = f.a.GetProject(f.ctx, f.project.ID)
	require.True(t, herald.IsNotFound(err), "deleted: %v", err)
}

// When the listener's connection drops, notifications may be missed: the
// entries cached before are forgotten, nothing is cached until it listens
// again, and it reconnects.
func TestAuthCacheForgetsAllWhenListenerDrops(t *testing.T) {
	baseURL(t)
	f := setup(t)
	f.warmKeys(t, f.b, "h1")
	conn := sqlConn(t, f.url)
	_, err := conn.Exec(f.ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN herald_auth'`)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !postgres.AuthCacheLive(f.b) }, time.Minute, time.Millisecond)
	_, err = conn.Exec(f.ctx, "DELETE FROM api_keys WHERE hash = 'h1'")
	require.NoError(t, err)
	_, err = f.b.GetAPIKeyByHash(f.ctx, "h1")
	require.True(t, herald.IsNotFound(err), "not served from a cache that may have missed a notification: %v", err)
	require.Eventually(t, func() bool { return postgres.AuthCacheLive(f.b) }, time.Minute, 10*time.Millisecond, "listening again")
}
