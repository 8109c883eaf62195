package oplog

import (
	"testing"
	"time"
)

func TestLimiterHoldsBackPastTheBurstAndCountsWhatItHeld(t *testing.T) {
	t.Parallel()
	l := &Limiter{Burst: 2, Every: time.Minute}
	now := time.Unix(1_700_000_000, 0)
	for i := range 2 {
		if ok, n := l.Allow("ep_a", now); !ok || n != 0 {
			t.Fatalf("line %d of the burst: %v, %d suppressed", i+1, ok, n)
		}
	}
	for range 5 {
		if ok, _ := l.Allow("ep_a", now); ok {
			t.Fatal("a line past the burst was let through")
		}
	}
	if ok, _ := l.Allow("ep_b", now); !ok {
		t.Error("another key is limited by the first one's lines")
	}
	ok, n := l.Allow("ep_a", now.Add(time.Minute))
	if !ok || n != 5 {
		t.Errorf("after the interval: %v, %d suppressed; want true, 5", ok, n)
	}
}

func TestWithoutURLDropsTheRequestURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`Post "http://h/e4?token=s3cret": dial tcp 10.0.0.1:80: connect: connection refused`: "dial tcp 10.0.0.1:80: connect: connection refused",
		"status 500": "status 500",
		"":           "",
	} {
		if got := WithoutURL(in); got != want {
			t.Errorf("WithoutURL(%q) = %q, want %q", in, got, want)
		}
	}
}
