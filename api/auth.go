package api

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/store"
	"golang.org/x/time/rate"
)

// Authenticate resolves an API key: the admin key (admin true), or a
// project key (its project's id). An empty or unknown key is an
// EUNAUTHORIZED error. The dashboard logs in with it.
func (s *Server) Authenticate(ctx context.Context, key string) (projectID string, admin bool, err error) {
	if key == "" {
		return "", false, herald.Errorf(herald.EUNAUTHORIZED, "missing API key")
	}
	return s.authenticateHash(ctx, herald.HashKey(key))
}

func (s *Server) authenticateHash(ctx context.Context, hash string) (string, bool, error) {
	if s.cfg.AdminKeyHash != "" && subtle.ConstantTimeCompare([]byte(hash), []byte(s.cfg.AdminKeyHash)) == 1 {
		return "", true, nil
	}
	k, err := s.store.GetAPIKeyByHash(ctx, hash)
	if err != nil {
		if herald.IsNotFound(err) {
			return "", false, herald.Errorf(herald.EUNAUTHORIZED, "unknown API key")
		}
		return "", false, err
	}
	if k.ProjectID == "" {
		// An admin key row would be stored in settings, not as an APIKey;
		// a key without a project grants nothing.
		return "", false, herald.Errorf(herald.EUNAUTHORIZED, "unknown API key")
	}
	return k.ProjectID, false, nil
}

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
// authenticated get a bucket, so unknown keys cost no memory. A bucket
// left alone for its refill time is full again, the same as a new one, so
// dropping it loses nothing: sweeps (every limiterSweep, or as soon as the
// map reaches limiterMaxBuckets) drop those, and the map holds only the
// keys used within the last refill time (one second with the default
// burst).
type limiter struct {
	mu      sync.Mutex
	rps     float64
	burst   int
	refill  time.Duration // from empty to full
	now     func() time.Time
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

const (
	limiterSweep      = time.Minute
	limiterMaxBuckets = 10_000
)

func newLimiter(rps float64, now func() time.Time) *limiter {
	burst := int(rps)
	if burst < 1 {
		burst = 1
	}
	refill := time.Duration(float64(burst) / rps * float64(time.Second))
	return &limiter{rps: rps, burst: burst, refill: refill, now: now, buckets: map[string]*bucket{}, swept: now()}
}

// allow takes a token for key; when none is left it returns how long until
// one is, and takes nothing.
func (l *limiter) allow(key string) time.Duration {
	now := l.now()
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		if now.Sub(l.swept) > limiterSweep || len(l.buckets) >= limiterMaxBuckets {
			l.sweep(now)
		}
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.rps), l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	l.mu.Unlock()

	res := b.lim.ReserveN(now, 1)
	if !res.OK() {
		return time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

// sweep drops the buckets that have refilled; call with l.mu held.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.seen) >= l.refill {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}
