package authcache

import (
	"errors"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/stretchr/testify/require"
)

// reader counts the reads that reach the database.
type reader struct {
	n    int
	name string
	err  error
	// during runs inside the read, as a concurrent write would.
	during func()
}

func (r *reader) project() (*herald.Project, error) {
	r.n++
	if r.during != nil {
		r.during()
	}
	if r.err != nil {
		return nil, r.err
	}
	return &herald.Project{ID: "prj_1", Name: r.name}, nil
}

func TestCacheServesHitsUntilInvalidated(t *testing.T) {
	t.Parallel()
	c := New(0, true)
	r := &reader{name: "a"}
	p, err := c.Project("prj_1", r.project)
	require.NoError(t, err)
	p.Name = "changed by the caller"
	p, err = c.Project("prj_1", r.project)
	require.NoError(t, err)
	require.Equal(t, "a", p.Name, "entries are copies")
	require.Equal(t, 1, r.n)

	r.name = "b"
	c.Invalidate()
	p, err = c.Project("prj_1", r.project)
	require.NoError(t, err)
	require.Equal(t, "b", p.Name)
	require.Equal(t, 2, r.n)
}

func TestCacheKeepsNoMissesAndNoRacedReads(t *testing.T) {
	t.Parallel()
	c := New(0, true)
	gone := errors.New("not found")
	r := &reader{err: gone}
	for range 2 {
		_, err := c.Project("prj_1", r.project)
		require.ErrorIs(t, err, gone)
	}
	require.Equal(t, 2, r.n, "a miss is not cached")

	// A write commits (and invalidates) while the read runs: what the read
	// saw may be stale, so it is returned but not kept.
	r = &reader{name: "old", during: c.Invalidate}
	_, err := c.Project("prj_1", r.project)
	require.NoError(t, err)
	r.during = nil
	_, err = c.Project("prj_1", r.project)
	require.NoError(t, err)
	require.Equal(t, 2, r.n)
}

// age makes every cached project d older, as if that much time had passed
// since it was read: the TTL is tested without waiting on the clock.
func age(c *Cache, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.projects {
		e.at = e.at.Add(-d)
		c.projects[k] = e
	}
}

func TestCacheKeepsNothingWhileNotLiveAndHonoursItsTTL(t *testing.T) {
	t.Parallel()
	const ttl = time.Hour
	c := New(ttl, false)
	r := &reader{name: "a"}
	for range 2 {
		_, err := c.Project("prj_1", r.project)
		require.NoError(t, err)
	}
	require.Equal(t, 2, r.n, "not live: every read goes to the database")

	c.SetLive(true)
	for range 2 {
		_, err := c.Project("prj_1", r.project)
		require.NoError(t, err)
	}
	require.Equal(t, 3, r.n)
	age(c, ttl-time.Minute)
	_, err := c.Project("prj_1", r.project)
	require.NoError(t, err)
	require.Equal(t, 3, r.n, "an entry younger than the TTL is a hit")
	age(c, 2*time.Minute)
	_, err = c.Project("prj_1", r.project)
	require.NoError(t, err)
	require.Equal(t, 4, r.n, "an entry older than the TTL is read again")

	c.SetLive(false)
	_, err = c.Project("prj_1", r.project)
	require.NoError(t, err)
	require.Equal(t, 5, r.n, "going not live forgets everything")
}

func TestCacheCarriesScopesTenantAndExpiryAsCopies(t *testing.T) {
	t.Parallel()
	c := New(0, true)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	reads := 0
	read := func() (*herald.APIKey, error) {
		reads++
		e := exp
		return &herald.APIKey{ID: "key_1", Name: "ci", Scopes: []string{"read", "events:write"}, TenantID: "acme", ExpiresAt: &e}, nil
	}
	k, err := c.Key("h", read)
	require.NoError(t, err)
	k.Scopes[0] = "all" // a caller's change reaches neither the cache nor other callers
	*k.ExpiresAt = time.Time{}
	k, err = c.Key("h", read)
	require.NoError(t, err)
	require.Equal(t, 1, reads, "the second read is a hit")
	require.Equal(t, []string{"read", "events:write"}, k.Scopes)
	require.Equal(t, "acme", k.TenantID)
	require.Equal(t, "ci", k.Name)
	require.Equal(t, exp, *k.ExpiresAt)
}
