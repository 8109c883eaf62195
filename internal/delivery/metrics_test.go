package delivery

import (
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/prometheus/client_golang/prometheus"
)

// gathered returns the registry's series as "name{label=value,…}" → value
// (a histogram's value is its sample count).
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return got
}

func TestFailedAttemptsAreCountedByOutcomeAndErrorClass(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b := setup(t, func(c *Config) { c.Registerer = reg })
	rc := testkit.NewReceiver(t, testkit.Status(500))
	b.endpoint(rc.URL, nil) // three attempts: retry, retry, exhausted
	b.endpoint("http://127.0.0.1:1/refused", func(ep *herald.Endpoint) { ep.RetrySchedule = nil })
	b.run(b.e)
	res := b.ingest("user.created", `{}`)
	testkit.WaitFor(t, "both deliveries exhausted", func() bool {
		ds := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})
		return len(ds) == 2 && ds[0].Status == herald.DeliveryExhausted && ds[1].Status == herald.DeliveryExhausted
	})
	testkit.WaitFor(t, "the metrics", func() bool {
		got := gathered(t, reg)
		return got["herald_attempt_failures_total{error_class=status,outcome=retry}"] == 2 &&
			got["herald_attempt_failures_total{error_class=status,outcome=exhausted}"] == 1 &&
			got["herald_attempt_failures_total{error_class=connection,outcome=exhausted}"] == 1 &&
			got["herald_attempt_duration_seconds{result=failure}"] == 4 &&
			got["herald_attempt_duration_seconds{result=success}"] == 0
	})
}

func TestEndpointsAreCountedByHealthState(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b := setup(t, func(c *Config) {
		c.Registerer = reg
		c.BreakerThreshold = 2
		c.BreakerCooldown = time.Hour
	})
	ok := testkit.NewReceiver(t, nil)
	failing := testkit.NewReceiver(t, testkit.Status(500))
	b.endpoint(ok.URL, func(ep *herald.Endpoint) { ep.EventTypes = []string{"ok"} })
	b.endpoint(failing.URL, func(ep *herald.Endpoint) {
		ep.EventTypes = []string{"bad"}
		ep.RetrySchedule = []herald.Duration{herald.Duration(10 * time.Millisecond), herald.Duration(10 * time.Millisecond)}
	})
	b.run(b.e)
	b.ingest("ok", `{}`)
	b.ingest("bad", `{}`)
	testkit.WaitFor(t, "one healthy and one open endpoint", func() bool {
		got := gathered(t, reg)
		return got["herald_endpoints{state=healthy}"] == 1 && got["herald_endpoints{state=open}"] == 1 &&
			got["herald_endpoints{state=disabled}"] == 0
	})
}

func TestBacklogIsReportedForTheWorstEndpointsOnly(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b := setup(t, func(c *Config) { c.Registerer = reg })
	// Endpoints that are never sent to (paused far ahead): their deliveries
	// stay pending, one more for each endpoint than the previous.
	var eps []*herald.Endpoint
	for i := range BacklogTopN + 2 {
		ep := b.endpoint("http://127.0.0.1:1/", func(ep *herald.Endpoint) { ep.EventTypes = []string{"t" + string(rune('a'+i))} })
		if err := b.st.PostponeEndpoint(b.ctx, ep.ID, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
		for range i + 1 {
			b.ingest("t"+string(rune('a'+i)), `{}`)
		}
	}
	start := time.Now()
	b.e.m.refreshBacklog(b.ctx, b.st, time.Now().Add(time.Minute))
	got := gathered(t, reg)
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "herald_endpoint_backlog{") {
			n++
		}
	}
	if n != BacklogTopN {
		t.Fatalf("%d endpoints reported, want %d: %v", n, BacklogTopN, got)
	}
	worst := eps[len(eps)-1]
	key := "{endpoint_id=" + worst.ID + ",project_id=" + b.project.ID + "}"
	if got["herald_endpoint_backlog"+key] != float64(len(eps)) {
		t.Errorf("worst endpoint's backlog = %v, want %d", got["herald_endpoint_backlog"+key], len(eps))
	}
	if age := got["herald_endpoint_oldest_pending_seconds"+key]; age < 60 || age > 60+time.Since(start).Seconds()+5 {
		t.Errorf("worst endpoint's oldest pending age = %v, want about 60 s", age)
	}
	if _, ok := got["herald_endpoint_backlog{endpoint_id="+eps[0].ID+",project_id="+b.project.ID+"}"]; ok {
		t.Error("the endpoint with the least backlog is reported")
	}
}

func TestObserveHookRunCountsByVerdict(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b := setup(t, func(c *Config) { c.Registerer = reg })
	b.e.ObserveHookRun(true, "", "hook_failed", time.Millisecond)
	b.e.ObserveHookRun(false, "not_found", "hook_failed", time.Millisecond)
	b.e.ObserveHookRun(false, "hook_failed", "hook_failed", time.Millisecond)
	b.e.ObserveHookRun(false, "hook_failed", "hook_failed", time.Millisecond)
	got := gathered(t, reg)
	for k, want := range map[string]float64{
		"herald_hook_runs_total{verdict=allowed}":           1,
		"herald_hook_runs_total{verdict=denied}":            1,
		"herald_hook_runs_total{verdict=failed}":            2,
		"herald_hook_run_duration_seconds{verdict=failed}":  2,
		"herald_hook_run_duration_seconds{verdict=allowed}": 1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
}

// Recording an attempt allocates nothing: the series are resolved once.
func TestObserveAttemptDoesNotAllocate(t *testing.T) {
	m := newMetrics(nil, nil, nil)
	att := &herald.Attempt{DurationMS: 12, ErrorClass: herald.ErrorTimeout}
	now := time.Now()
	allocs := testing.AllocsPerRun(100, func() {
		m.observeAttempt(herald.DeliveryPending, att, now, now)
		m.observeAttempt(herald.DeliverySucceeded, att, now, now)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per recorded attempt", allocs)
	}
}
