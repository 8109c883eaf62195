// Package ratelimit keeps a token bucket per key (an API key, a client
// network) in a map whose memory stays bounded however many keys come.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// SweepEvery is how often idle buckets are dropped.
const SweepEvery = time.Minute

// Keyed is a token bucket per key. A bucket left alone long enough to fill
// up is the same as a new one, so sweeps drop those: every SweepEvery, and
// when the map has reached its bound (then at most once a second, as a
// sweep walks the whole map under the lock). If the map is still at its
// bound, a new key shares the overflow key's bucket when one was set
// (WithOverflow), or is added anyway.
type Keyed[K comparable] struct {
	limit    rate.Limit
	burst    int
	full     time.Duration // from empty to full
	max      int
	overflow *K
	now      func() time.Time

	mu      sync.Mutex
	buckets map[K]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New makes buckets of limit tokens a second, burst deep, for up to max
// keys. now is the clock (time.Now outside tests).
func New[K comparable](limit rate.Limit, burst, max int, now func() time.Time) *Keyed[K] {
	return &Keyed[K]{
		limit: limit, burst: burst, max: max, now: now,
		full:    time.Duration(float64(burst) / float64(limit) * float64(time.Second)),
		buckets: map[K]*bucket{}, swept: now(),
	}
}

// WithOverflow makes new keys that find the map full share key's bucket,
// so that a flood from many keys slows down new keys instead of growing
// the map.
func (k *Keyed[K]) WithOverflow(key K) *Keyed[K] {
	k.overflow = &key
	return k
}

// Bucket returns key's bucket, made full if the key has none, and the time
// to use with it.
func (k *Keyed[K]) Bucket(key K) (*rate.Limiter, time.Time) {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.buckets[key]
	if b == nil {
		if since := now.Sub(k.swept); since >= SweepEvery || (len(k.buckets) >= k.max && since >= time.Second) {
			k.sweep(now)
		}
		if len(k.buckets) >= k.max && k.overflow != nil {
			key = *k.overflow
			b = k.buckets[key]
		}
	}
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(k.limit, k.burst)}
		k.buckets[key] = b
	}
	b.seen = now
	return b.lim, now
}

// Len is the number of buckets held.
func (k *Keyed[K]) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// sweep drops the buckets that are full again; k.mu is held.
func (k *Keyed[K]) sweep(now time.Time) {
	for key, b := range k.buckets {
		if now.Sub(b.seen) >= k.full {
			delete(k.buckets, key)
		}
	}
	k.swept = now
}
