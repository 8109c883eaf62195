package delivery

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
)

func TestMaxInFlightNeverExceeded(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, func(int, *http.Request, http.ResponseWriter) { time.Sleep(20 * time.Millisecond) })
	b.endpoint(rc.URL, func(ep *herald.Endpoint) { ep.MaxInFlight = 3 })
	b.run(b.e)
	in := make([]EventInput, 40)
	for i := range in {
		in[i] = EventInput{Type: "user.created", Data: json.RawMessage(`{}`)}
	}
	if _, err := b.e.Ingest(b.ctx, b.project, in); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "all delivered", func() bool { return rc.Count() == 40 })
	if m := rc.MaxInFlight(); m > 3 {
		t.Errorf("max concurrent requests = %d, want ≤ 3", m)
	}
}

func TestRateLimitNotExceeded(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, nil)
	const perSecond, n = 20, 30
	b.endpoint(rc.URL, func(ep *herald.Endpoint) { ep.RateLimit = perSecond })
	b.run(b.e)
	in := make([]EventInput, n)
	for i := range in {
		in[i] = EventInput{Type: "user.created", Data: json.RawMessage(`{}`)}
	}
	if _, err := b.e.Ingest(b.ctx, b.project, in); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "all delivered", func() bool { return rc.Count() == n })
	reqs := rc.Requests()
	// n requests at perSecond take at least (n-1)/perSecond; allow 10 %.
	span := reqs[n-1].At.Sub(reqs[0].At)
	if min := time.Duration(float64(n-1) / perSecond * 0.9 * float64(time.Second)); span < min {
		t.Errorf("%d requests in %s: faster than %d/s", n, span, perSecond)
	}
}

func TestOrderedEndpointDeliversInOrderDespiteFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var failedOnce atomic.Bool
	rc := testkit.NewReceiver(t, nil)
	b.endpoint(rc.URL, func(ep *herald.Endpoint) {
		ep.Ordered = true
		ep.RetrySchedule = []herald.Duration{herald.Duration(30 * time.Millisecond), herald.Duration(30 * time.Millisecond)}
	})
	// The third event fails its first attempt: the fourth must wait.
	rc.SetRespond(func(_ int, r *http.Request, w http.ResponseWriter) {
		if r.Header.Get("webhook-attempt") == "1" && lastBodyN(rc) == 2 && failedOnce.CompareAndSwap(false, true) {
			w.WriteHeader(500)
		}
	})
	b.run(b.e)
	const n = 6
	for i := range n {
		b.ingest("seq", fmt.Sprintf(`{"n":%d}`, i))
	}
	testkit.WaitFor(t, "all delivered", func() bool {
		return len(b.deliveries(store.DeliveryFilter{Status: herald.DeliverySucceeded})) == n
	})
	var got []int
	for _, r := range rc.Requests() {
		var env struct {
			Data struct{ N int } `json:"data"`
		}
		json.Unmarshal(r.Body, &env)
		got = append(got, env.Data.N)
	}
	want := []int{0, 1, 2, 2, 3, 4, 5}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("request order %v, want %v", got, want)
	}
	if rc.MaxInFlight() > 1 {
		t.Errorf("ordered endpoint had %d requests in flight", rc.MaxInFlight())
	}
}

// lastBodyN is the data.n of the latest request rc got.
func lastBodyN(rc *testkit.Receiver) int {
	reqs := rc.Requests()
	var env struct {
		Data struct{ N int } `json:"data"`
	}
	json.Unmarshal(reqs[len(reqs)-1].Body, &env)
	return env.Data.N
}

func TestSlowEndpointDoesNotBlockAHealthyOne(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Workers = 8 })
	stuck := make(chan struct{})
	var unstick sync.Once
	slow := testkit.NewReceiver(t, func(int, *http.Request, http.ResponseWriter) { <-stuck })
	// Cleanups run last-in first-out: release the stuck handlers before the
	// receiver's Close waits for them, also when the test fails early.
	t.Cleanup(func() { unstick.Do(func() { close(stuck) }) })
	fast := testkit.NewReceiver(t, nil)
	b.endpoint(slow.URL, func(ep *herald.Endpoint) { ep.MaxInFlight = 4; ep.Timeout = herald.Duration(time.Minute) })
	b.endpoint(fast.URL, nil)
	b.run(b.e)
	const n = 50
	for range n {
		b.ingest("user.created", `{}`)
	}
	// Every delivery to the healthy endpoint arrives while the slow one
	// holds all of its requests open.
	testkit.WaitFor(t, "healthy endpoint served", func() bool { return fast.Count() == n })
	if slow.InFlight() == 0 {
		t.Errorf("the slow endpoint was not being served concurrently")
	}
	unstick.Do(func() { close(stuck) })
	testkit.WaitFor(t, "slow endpoint catches up", func() bool { return slow.Count() == n })
}

// A stuck endpoint's backlog, waiting in the database when the engine
// starts, must not take every slot of the dispatcher in one claim: beyond
// twice its max_in_flight a lane holds more only while the dispatcher is
// less than half full, and the healthy endpoint's deliveries must flow.
func TestStuckBacklogLeavesRoomForAHealthyEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Workers = 8 })
	stuck := make(chan struct{})
	var unstick sync.Once
	slow := testkit.NewReceiver(t, func(int, *http.Request, http.ResponseWriter) { <-stuck })
	t.Cleanup(func() { unstick.Do(func() { close(stuck) }) })
	fast := testkit.NewReceiver(t, nil)
	b.endpoint(slow.URL, func(ep *herald.Endpoint) {
		ep.EventTypes, ep.MaxInFlight, ep.Timeout = []string{"slow"}, 4, herald.Duration(time.Minute)
	})
	b.endpoint(fast.URL, func(ep *herald.Endpoint) { ep.EventTypes = []string{"fast"} })
	// Ingested before Run: all of it waits in the database.
	const n = 50
	for range n {
		b.ingest("slow", `{}`)
	}
	b.run(b.e)
	testkit.WaitFor(t, "the slow endpoint's requests to be open", func() bool { return slow.InFlight() == 4 })
	for range n {
		b.ingest("fast", `{}`)
	}
	testkit.WaitFor(t, "healthy endpoint served", func() bool { return fast.Count() == n })
	if got := slow.Count(); got != 4 {
		t.Errorf("the slow endpoint got %d requests while stuck, want its max_in_flight 4", got)
	}
	unstick.Do(func() { close(stuck) })
	testkit.WaitFor(t, "slow endpoint catches up", func() bool { return slow.Count() == n })
}

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	t.Parallel()
	const cooldown = 300 * time.Millisecond
	b := setup(t, func(c *Config) { c.BreakerThreshold, c.BreakerCooldown = 3, cooldown })
	// The first three attempts fail (the threshold); the probe succeeds.
	rc := testkit.NewReceiver(t, func(n int, _ *http.Request, w http.ResponseWriter) {
		if n <= 3 {
			w.WriteHeader(500)
		}
	})
	ops := testkit.NewReceiver(t, nil)
	ep := b.endpoint(rc.URL, func(ep *herald.Endpoint) {
		ep.RetrySchedule = make([]herald.Duration, 20)
		for i := range ep.RetrySchedule {
			ep.RetrySchedule[i] = herald.Duration(10 * time.Millisecond)
		}
	})
	b.endpoint(ops.URL, func(ep *herald.Endpoint) { ep.EventTypes = []string{EventEndpointFailing} })
	b.run(b.e)
	res := b.ingest("user.created", `{}`)

	testkit.WaitFor(t, "breaker opened: failing event", func() bool { return ops.Count() == 1 })
	var env struct {
		Data struct {
			EndpointID          string `json:"endpoint_id"`
			ConsecutiveFailures int    `json:"consecutive_failures"`
		} `json:"data"`
	}
	json.Unmarshal(ops.Requests()[0].Body, &env)
	if env.Data.EndpointID != ep.ID || env.Data.ConsecutiveFailures != 3 {
		t.Errorf("failing event data = %+v", env.Data)
	}
	testkit.WaitFor(t, "delivery succeeded by the probe", func() bool {
		ds := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})
		return ds[0].Status == herald.DeliverySucceeded
	})
	reqs := rc.Requests()
	if len(reqs) != 4 {
		t.Fatalf("requests = %d, want 3 failures and one probe", len(reqs))
	}
	if gap := reqs[3].At.Sub(reqs[2].At); gap < cooldown*9/10 {
		t.Errorf("probe %s after the breaker opened, want after the %s cooldown", gap, cooldown)
	}
	testkit.WaitFor(t, "breaker closed", func() bool {
		got, _ := b.st.GetEndpoint(b.ctx, b.project.ID, ep.ID)
		return got.Status == herald.EndpointHealthy && got.ConsecutiveFailures == 0 && got.PausedUntil == nil
	})
}

func TestBreakerProbeFailureReopens(t *testing.T) {
	t.Parallel()
	const cooldown = 200 * time.Millisecond
	b := setup(t, func(c *Config) { c.BreakerThreshold, c.BreakerCooldown = 2, cooldown })
	rc := testkit.NewReceiver(t, func(n int, _ *http.Request, w http.ResponseWriter) {
		if n <= 3 { // two to open, then a failing probe
			w.WriteHeader(500)
		}
	})
	ep := b.endpoint(rc.URL, func(ep *herald.Endpoint) {
		ep.RetrySchedule = []herald.Duration{herald.Duration(10 * time.Millisecond), herald.Duration(10 * time.Millisecond), herald.Duration(10 * time.Millisecond)}
	})
	b.run(b.e)
	res := b.ingest("user.created", `{}`)
	testkit.WaitFor(t, "delivery succeeded", func() bool {
		ds := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})
		return ds[0].Status == herald.DeliverySucceeded
	})
	reqs := rc.Requests()
	if len(reqs) != 4 {
		t.Fatalf("requests = %d, want 4", len(reqs))
	}
	for i := 2; i <= 3; i++ {
		if gap := reqs[i].At.Sub(reqs[i-1].At); gap < cooldown*9/10 {
			t.Errorf("request %d came %s after the previous, want a cooldown (%s)", i+1, gap, cooldown)
		}
	}
	testkit.WaitFor(t, "breaker closed", func() bool {
		got, _ := b.st.GetEndpoint(b.ctx, b.project.ID, ep.ID)
		return got.Status == herald.EndpointHealthy
	})
}

func TestAutoDisableAfterFailingForDisableAfter(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.DisableAfter = 200 * time.Millisecond; c.BreakerThreshold = 1000 })
	rc := testkit.NewReceiver(t, testkit.Status(500))
	ops := testkit.NewReceiver(t, nil)
	ep := b.endpoint(rc.URL, func(ep *herald.Endpoint) {
		ep.RetrySchedule = make([]herald.Duration, 100)
		for i := range ep.RetrySchedule {
			ep.RetrySchedule[i] = herald.Duration(20 * time.Millisecond)
		}
	})
	catchAll := testkit.NewReceiver(t, nil)
	b.endpoint(ops.URL, func(ep *herald.Endpoint) { ep.EventTypes = []string{"herald.*"} })
	b.endpoint(catchAll.URL, func(ep *herald.Endpoint) { ep.EventTypes = []string{"*"} })
	b.run(b.e)
	b.ingest("user.created", `{}`)
	testkit.WaitFor(t, "endpoint disabled", func() bool {
		got, _ := b.st.GetEndpoint(b.ctx, b.project.ID, ep.ID)
		return got.Status == herald.EndpointDisabled
	})
	testkit.WaitFor(t, "disabled event delivered", func() bool {
		for _, r := range ops.Requests() {
			var env struct {
				Type string         `json:"type"`
				Data map[string]any `json:"data"`
			}
			json.Unmarshal(r.Body, &env)
			if env.Type == EventEndpointDisabled && env.Data["endpoint_id"] == ep.ID {
				return true
			}
		}
		return false
	})
	got, _ := b.st.GetEndpoint(b.ctx, b.project.ID, ep.ID)
	if got.Enabled || got.DisabledReason == "" {
		t.Errorf("disabled endpoint: enabled=%v reason=%q", got.Enabled, got.DisabledReason)
	}
	for _, r := range catchAll.Requests() {
		var env struct{ Type string }
		json.Unmarshal(r.Body, &env)
		if env.Type != "user.created" {
			t.Errorf("a catch-all endpoint received %q", env.Type)
		}
	}
}

// TestIdleLanesForgotten: once an endpoint's deliveries are sent, its lane
// goes, so that the lanes the claim loop walks are those with work rather
// than every endpoint ever sent to (a project of many tenants); the next
// delivery makes a new one.
func TestIdleLanesForgotten(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, nil)
	const endpoints = 20
	for range endpoints {
		b.endpoint(rc.URL, nil)
	}
	b.run(b.e)
	lanes := func() int {
		b.e.disp.mu.Lock()
		defer b.e.disp.mu.Unlock()
		return len(b.e.disp.lanes)
	}
	for round := 1; round <= 2; round++ {
		if _, err := b.e.Ingest(b.ctx, b.project, []EventInput{{Type: "user.created", Data: json.RawMessage(`{}`)}}); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, "all delivered", func() bool { return rc.Count() == round*endpoints })
		testkit.WaitFor(t, "no lanes left", func() bool { return lanes() == 0 })
	}
}
