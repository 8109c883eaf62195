package delivery

import (
	"net/http"
	"testing"
	"time"

	"github.com/herald-dev/herald"
)

func failed(n, status int, header map[string]string) *herald.Attempt {
	return &herald.Attempt{Number: n, ResponseStatus: status, ResponseHeaders: header, ErrorClass: herald.ErrorStatus}
}

func TestRetryScheduleWithJitterBounds(t *testing.T) {
	t.Parallel()
	ep := &herald.Endpoint{RetrySchedule: []herald.Duration{herald.Duration(time.Second), herald.Duration(time.Hour)}}
	now := time.Now()
	lo, hi := time.Duration(1<<62), time.Duration(0)
	for range 2000 {
		v := decide(ep, failed(2, 500, nil), now)
		if v.Status != herald.DeliveryPending {
			t.Fatalf("status %s, want pending", v.Status)
		}
		d := v.Next.Sub(now)
		lo, hi = min(lo, d), max(hi, d)
		if d < 48*time.Minute || d > 72*time.Minute {
			t.Fatalf("delay %s outside 1h ±20%%", d)
		}
	}
	// The spread is used, not a constant.
	if hi-lo < 10*time.Minute {
		t.Errorf("jitter spread %s..%s too narrow", lo, hi)
	}
	if v := decide(ep, failed(3, 500, nil), now); v.Status != herald.DeliveryExhausted {
		t.Errorf("after len(schedule)+1 attempts: %s, want exhausted", v.Status)
	}
	if v := decide(&herald.Endpoint{}, failed(8, 500, nil), now); v.Status != herald.DeliveryExhausted {
		t.Errorf("default schedule, attempt 8: %s, want exhausted", v.Status)
	}
	if v := decide(&herald.Endpoint{}, failed(7, 500, nil), now); v.Status != herald.DeliveryPending {
		t.Errorf("default schedule, attempt 7: %s, want pending", v.Status)
	}
}

func TestRetryAfterHonouredAndCapped(t *testing.T) {
	t.Parallel()
	ep := &herald.Endpoint{RetrySchedule: []herald.Duration{herald.Duration(time.Hour)}}
	now := time.Now()
	cases := []struct {
		status int
		value  string
		lo, hi time.Duration
	}{
		{429, "5400", 90 * time.Minute, 90 * time.Minute},                                                    // honoured
		{503, "36000", 2 * time.Hour, 2 * time.Hour},                                                         // capped at 2× the schedule
		{429, now.Add(100 * time.Minute).UTC().Format(http.TimeFormat), 99 * time.Minute, 100 * time.Minute}, // HTTP date
		{429, "60", 48 * time.Minute, 72 * time.Minute},                                                      // shorter than the schedule: schedule
		{500, "5400", 48 * time.Minute, 72 * time.Minute},                                                    // only on 429/503
	}
	for _, c := range cases {
		v := decide(ep, failed(1, c.status, map[string]string{"Retry-After": c.value}), now)
		if d := v.Next.Sub(now); d < c.lo || d > c.hi {
			t.Errorf("%d Retry-After %q: delay %s, want %s..%s", c.status, c.value, d, c.lo, c.hi)
		}
	}
}

func TestGoneEndsTheDeliveryAndDisables(t *testing.T) {
	t.Parallel()
	v := decide(&herald.Endpoint{}, failed(1, 410, nil), time.Now())
	if v.Status != herald.DeliveryExhausted || !v.Disable {
		t.Errorf("410: %+v", v)
	}
}

func TestIgnoreModeIsNeverRetried(t *testing.T) {
	t.Parallel()
	ep := &herald.Endpoint{ResponseMode: herald.ResponseIgnore}
	if v := decide(ep, &herald.Attempt{Number: 1, ErrorClass: herald.ErrorConnection}, time.Now()); v.Status != herald.DeliveryExhausted {
		t.Errorf("ignore mode, connection error: %s, want exhausted", v.Status)
	}
	if v := decide(ep, failed(1, 500, nil), time.Now()); v.Status != herald.DeliverySucceeded {
		t.Errorf("ignore mode, 500: %s, want succeeded (the status is not awaited)", v.Status)
	}
}

func TestRetryJitterOffFollowsTheScheduleExactly(t *testing.T) {
	t.Parallel()
	off := false
	hourly := make([]herald.Duration, 72)
	for i := range hourly {
		hourly[i] = herald.Duration(time.Hour)
	}
	ep := &herald.Endpoint{RetrySchedule: hourly, RetryJitter: &off}
	now := time.Now()
	for n := 1; n <= 72; n++ {
		v := decide(ep, failed(n, 500, nil), now)
		if v.Status != herald.DeliveryPending || v.Next.Sub(now) != time.Hour {
			t.Fatalf("attempt %d: %s, next in %v; want pending, in exactly 1h", n, v.Status, v.Next.Sub(now))
		}
	}
	if v := decide(ep, failed(73, 500, nil), now); v.Status != herald.DeliveryExhausted {
		t.Errorf("attempt 73: %s, want exhausted", v.Status)
	}
}
