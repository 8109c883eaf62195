package delivery

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/herald-dev/herald"
)

// verdict is what an attempt means for its delivery.
type verdict struct {
	Status  string     // succeeded, pending or exhausted
	Next    *time.Time // when pending
	Disable bool       // 410 Gone: disable the endpoint
	Success bool       // the attempt itself succeeded
}

// decide applies the retry policy to a finished attempt: 2xx succeeds;
// otherwise the next attempt follows the endpoint's retry schedule, with
// jitter unless retry_jitter is false (honouring Retry-After on 429/503, capped at twice the scheduled
// delay), until the schedule is used up. response_mode ignore sends once.
// 410 Gone ends the delivery and disables the endpoint.
func decide(ep *herald.Endpoint, att *herald.Attempt, now time.Time) verdict {
	if att.ResponseStatus == http.StatusGone {
		return verdict{Status: herald.DeliveryExhausted, Disable: true}
	}
	if att.Succeeded() {
		return verdict{Status: herald.DeliverySucceeded, Success: true}
	}
	if ep.ResponseMode == herald.ResponseIgnore {
		// Sent once, whatever happens. The status does not judge the
		// receiver in this mode: a request that reached it succeeded.
		switch att.ErrorClass {
		case "", herald.ErrorStatus, herald.ErrorRedirect:
			return verdict{Status: herald.DeliverySucceeded, Success: true}
		}
		return verdict{Status: herald.DeliveryExhausted}
	}
	sched := schedule(ep)
	n := att.Number
	if n > len(sched) {
		return verdict{Status: herald.DeliveryExhausted}
	}
	base := sched[n-1].D()
	delay := base
	if ep.Jittered() {
		delay = jitter(base)
	}
	if att.ResponseStatus == http.StatusTooManyRequests || att.ResponseStatus == http.StatusServiceUnavailable {
		if ra, ok := retryAfter(att.ResponseHeaders["Retry-After"], now); ok {
			delay = max(delay, min(ra, 2*base))
		}
	}
	next := now.Add(delay).UTC()
	return verdict{Status: herald.DeliveryPending, Next: &next}
}

// schedule is the endpoint's retry schedule, or the default.
func schedule(ep *herald.Endpoint) []herald.Duration {
	if ep.RetrySchedule != nil {
		return ep.RetrySchedule
	}
	return herald.RetryScheduleDefault
}

// jitter spreads d uniformly over [d×0.8, d×1.2], so that deliveries that
// failed together do not retry together.
func jitter(d time.Duration) time.Duration {
	f := 1 - Jitter + 2*Jitter*rand.Float64()
	return time.Duration(float64(d) * f)
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, int64(365*24*3600))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
