// Package oplog holds what Herald's operator log lines share: the keys of
// their attributes, so that an operator can search the log by project,
// endpoint, delivery or event whichever component wrote the line, and a
// per-key rate limit, so that one failing endpoint cannot flood the log.
package oplog

import (
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Attribute keys of log lines about a project's work.
const (
	ProjectID  = "project_id"
	TenantID   = "tenant_id"
	EndpointID = "endpoint_id"
	DeliveryID = "delivery_id"
	EventID    = "event_id"
	AttemptID  = "attempt_id"
	ErrorClass = "error_class"
	// Suppressed counts the lines a Limiter held back before this one.
	Suppressed = "suppressed"
)

// Limiter defaults.
const (
	BurstDefault = 3
	EveryDefault = 10 * time.Second
	// keysMax bounds the keys remembered; past it the limiter starts
	// afresh (a few more lines, never unbounded memory).
	keysMax = 10000
)

// Limiter lets, per key, a burst of Burst lines and then one per Every;
// the lines it holds back are counted and reported with the next line let
// through. The zero value uses the defaults. It is safe for concurrent use.
type Limiter struct {
	Burst int
	Every time.Duration

	mu sync.Mutex
	m  map[string]*keyLimit
}

type keyLimit struct {
	lim        *rate.Limiter
	suppressed int
}

// Allow reports whether a line about key may be written at now, and how
// many lines about it were held back since the last one let through.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil || len(l.m) >= keysMax {
		l.m = make(map[string]*keyLimit)
	}
	k := l.m[key]
	if k == nil {
		burst, every := l.Burst, l.Every
		if burst <= 0 {
			burst = BurstDefault
		}
		if every <= 0 {
			every = EveryDefault
		}
		k = &keyLimit{lim: rate.NewLimiter(rate.Every(every), burst)}
		l.m[key] = k
	}
	if !k.lim.AllowN(now, 1) {
		k.suppressed++
		return false, 0
	}
	n := k.suppressed
	k.suppressed = 0
	return true, n
}

// WithoutURL drops the request URL a transport error starts with
// (Post "https://host/path?token=…": …): the URL and its query string may
// carry credentials. The attempt log keeps it for whoever needs it.
func WithoutURL(msg string) string {
	if rest, ok := strings.CutPrefix(msg, `Post "`); ok {
		if i := strings.Index(rest, `": `); i >= 0 {
			return rest[i+3:]
		}
	}
	return msg
}
