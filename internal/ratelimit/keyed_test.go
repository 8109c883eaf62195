package ratelimit

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// take reports whether key's bucket had a token.
func take[K comparable](k *Keyed[K], key K) bool {
	lim, now := k.Bucket(key)
	return lim.AllowN(now, 1)
}

func TestKeyedBucketsAreSeparateAndRefill(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	k := New[string](rate.Limit(2), 2, 100, func() time.Time { return now })
	require.True(t, take(k, "a"))
	require.True(t, take(k, "a"))
	require.False(t, take(k, "a"), "a's burst of 2 is spent")
	require.True(t, take(k, "b"), "b has a bucket of its own")
	now = now.Add(500 * time.Millisecond)
	require.True(t, take(k, "a"), "one token back after half a second at 2/s")
	require.False(t, take(k, "a"))
}

func TestKeyedSweepsFullBucketsWhenTheMapIsFull(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	k := New[string](rate.Limit(1), 1, 10, func() time.Time { return now }) // full again after 1 s
	for i := range 10 {
		require.True(t, take(k, fmt.Sprint(i)))
	}
	require.True(t, take(k, "new"), "no overflow key: a new key is added anyway")
	require.Equal(t, 11, k.Len(), "less than a second since the last sweep: the map is not walked again")

	now = now.Add(1100 * time.Millisecond)
	require.True(t, take(k, "0"))
	require.True(t, take(k, "newer"))
	require.Equal(t, 2, k.Len(), "the full map was swept of every bucket idle for its refill time")

	now = now.Add(SweepEvery)
	require.True(t, take(k, "later"))
	require.Equal(t, 1, k.Len(), "the periodic sweep dropped every idle bucket")
}

func TestKeyedOverflowSharesOneBucket(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	k := New[int](rate.Every(time.Minute), 3, 5, func() time.Time { return now }).WithOverflow(-1)
	for i := range 5 {
		require.True(t, take(k, i))
	}
	// Keys past the bound share the overflow bucket: a burst of 3 in all.
	ok := 0
	for i := 100; i < 110; i++ {
		if take(k, i) {
			ok++
		}
	}
	require.Equal(t, 3, ok)
	require.Equal(t, 6, k.Len(), "the five keys and the overflow bucket")
	require.True(t, take(k, 2), "a known key keeps its own bucket")
}
