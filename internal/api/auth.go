package api

import (
	"context"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/ratelimit"
	"github.com/herald-dev/herald/internal/store"
	"golang.org/x/time/rate"
)

// EnsureAdminKey returns the hash of the admin key to put in
// Config.AdminKeyHash.
//
//   - configured (HERALD_ADMIN_KEY) non-empty: its hash. It is not stored:
//     the configuration stays the source of truth, and a key generated
//     earlier stays in the database unused until the configuration is unset.
//   - otherwise the hash stored in the setting herald.SettingAdminKeyHash.
//   - otherwise a new key is generated, its hash stored (if another process
//     stored one first, that one wins and nothing is generated), and the key
//     itself returned as generated, for the caller to print once: it cannot
//     be recovered later.
func EnsureAdminKey(ctx context.Context, st store.Store, configured string) (hash string, generated string, err error) {
	if configured != "" {
		return herald.HashKey(configured), "", nil
	}
	stored, err := st.GetSetting(ctx, herald.SettingAdminKeyHash)
	if err == nil && stored != "" {
		return stored, "", nil
	}
	if err != nil && !herald.IsNotFound(err) {
		return "", "", err
	}
	key := herald.NewKey(herald.AdminKeyPrefix)
	h := herald.HashKey(key)
	now, err := st.SetSettingIfAbsent(ctx, herald.SettingAdminKeyHash, h)
	if err != nil {
		return "", "", err
	}
	if now != h { // another process won the race; its key stands
		return now, "", nil
	}
	return h, key, nil
}

// limiter is a token bucket per API key (by hash). Only keys that
// authenticated get a bucket, so unknown keys cost no memory; the buckets
// of keys idle for their refill time are dropped (ratelimit.Keyed), so
// the map holds about the keys used within the last refill time (one
// second with the default burst).
type limiter struct {
	keys *ratelimit.Keyed[string]
}

// limiterMaxBuckets is the number of keys past which a new one sweeps the
// map at once rather than at the next periodic sweep.
const limiterMaxBuckets = 10_000

func newLimiter(rps float64, now func() time.Time) *limiter {
	burst := max(int(rps), 1)
	return &limiter{keys: ratelimit.New[string](rate.Limit(rps), burst, limiterMaxBuckets, now)}
}

// allow takes a token for key; when none is left it returns how long until
// one is, and takes nothing.
func (l *limiter) allow(key string) time.Duration {
	lim, now := l.keys.Bucket(key)
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}
