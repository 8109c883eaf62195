package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

var errShortResults = errors.New("delivery: store returned fewer results than events")

// metrics are the engine's Prometheus series. They exist even when no
// Registerer is configured (then nothing exports them). Labelled series
// on the hot path are resolved once, here: recording an attempt or a hook
// run is an index and an atomic add, never a label lookup.
type metrics struct {
	ingested      prometheus.Counter
	attempts      *prometheus.CounterVec
	latency       prometheus.Histogram
	queueDepth    prometheus.Gauge
	oldestPending prometheus.Gauge
	commitSeconds prometheus.Histogram
	commitEvents  prometheus.Histogram
	opDropped     prometheus.Counter // operational events the full queue dropped

	attemptOutcome [3]prometheus.Counter                    // by outcome index
	failures       [2][len(errorClasses)]prometheus.Counter // retry/exhausted × error class
	attemptSeconds [2]prometheus.Observer                   // success, failure
	hookRuns       [len(hookVerdicts)]prometheus.Counter    // by verdict
	hookSeconds    [len(hookVerdicts)]prometheus.Observer   // by verdict
	backlog        *prometheus.GaugeVec                     // top BacklogTopN endpoints
	backlogAge     *prometheus.GaugeVec                     // same endpoints
	endpoints      *endpointStates                          // collected at scrape time
}

// Attempt outcomes, the label of herald_attempts_total.
const (
	outcomeSuccess   = "success"
	outcomeRetry     = "retry"
	outcomeExhausted = "exhausted"
)

// errorClasses are the values of the error_class label; a class not
// listed (none should be) counts as "other".
var errorClasses = [...]string{
	herald.ErrorTimeout, herald.ErrorConnection, herald.ErrorTLS, herald.ErrorRedirect,
	herald.ErrorStatus, herald.ErrorSSRFBlocked, herald.ErrorTemplate, "other",
}

// Verdicts of a hook run, the label of herald_hook_runs_total: allowed,
// denied by an endpoint, or denied because a fail_closed endpoint failed.
var hookVerdicts = [...]string{"allowed", "denied", "failed"}

// durationBuckets suit an HTTP call to a receiver or a hook run: from a
// millisecond to the longest timeout (60 s).
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

func newMetrics(reg prometheus.Registerer, health *healthBook, now func() time.Time) *metrics {
	m := &metrics{
		ingested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_events_ingested_total", Help: "Events accepted and stored.",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_attempts_total", Help: "Delivery attempts by outcome (success, retry, exhausted).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_delivery_latency_seconds",
			Help:    "Time from an event's creation to its successful delivery.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000},
		}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_queue_depth", Help: "Deliveries pending or in flight.",
		}),
		oldestPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_oldest_pending_seconds", Help: "Age of the oldest pending delivery.",
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_ingest_commit_seconds", Help: "Duration of one group commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		commitEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_ingest_commit_events", Help: "Events per group commit.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000},
		}),
		opDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_operational_events_dropped_total",
			Help: "Operational events (herald.endpoint.failing, herald.endpoint.disabled, herald.delivery.exhausted) dropped because too many were waiting to be ingested.",
		}),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_endpoint_backlog",
			Help: "Deliveries pending or in flight of the endpoints with the most of them (at most 5 endpoints).",
		}, []string{"project_id", "endpoint_id"}),
		backlogAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_endpoint_oldest_pending_seconds",
			Help: "Age of the oldest unfinished delivery of the endpoints of herald_endpoint_backlog.",
		}, []string{"project_id", "endpoint_id"}),
		endpoints: &endpointStates{health: health, now: now, desc: prometheus.NewDesc("herald_endpoints",
			"Endpoints this process has delivered to since it started, by health state: healthy, failing (failures, breaker closed), open (breaker open), half_open (probing), disabled.",
			[]string{"state"}, nil)},
	}
	for i, o := range []string{outcomeSuccess, outcomeRetry, outcomeExhausted} {
		m.attemptOutcome[i] = m.attempts.WithLabelValues(o)
	}
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_attempt_failures_total",
		Help: "Failed delivery attempts by outcome (retry, exhausted) and error class.",
	}, []string{"outcome", "error_class"})
	for i, o := range []string{outcomeRetry, outcomeExhausted} {
		for j, c := range errorClasses {
			m.failures[i][j] = failures.WithLabelValues(o, c)
		}
	}
	attemptSeconds := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "herald_attempt_duration_seconds",
		Help:    "Duration of one delivery attempt (the HTTP call), by result (success, failure).",
		Buckets: durationBuckets,
	}, []string{"result"})
	m.attemptSeconds = [2]prometheus.Observer{attemptSeconds.WithLabelValues("success"), attemptSeconds.WithLabelValues("failure")}
	hookRuns := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_hook_runs_total",
		Help: "Synchronous hook runs by verdict: allowed, denied (by an endpoint), failed (denied because a fail_closed endpoint failed).",
	}, []string{"verdict"})
	hookSeconds := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "herald_hook_run_duration_seconds",
		Help:    "Duration of a synchronous hook run, all its calls, by verdict.",
		Buckets: durationBuckets,
	}, []string{"verdict"})
	for i, v := range hookVerdicts {
		m.hookRuns[i] = hookRuns.WithLabelValues(v)
		m.hookSeconds[i] = hookSeconds.WithLabelValues(v)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.ingested, m.attempts, m.latency, m.queueDepth, m.oldestPending,
			m.commitSeconds, m.commitEvents, m.opDropped, failures, attemptSeconds, hookRuns, hookSeconds, m.backlog, m.backlogAge, m.endpoints} {
			// A second engine on the same registry (tests) keeps its
			// series private rather than failing.
			_ = reg.Register(c)
		}
	}
	return m
}

// observeAttempt records a dispatched attempt whose delivery is now in
// status (succeeded, pending for a retry, or exhausted).
func (m *metrics) observeAttempt(status string, att *herald.Attempt, eventCreated, now time.Time) {
	seconds := float64(att.DurationMS) / 1000
	if status == herald.DeliverySucceeded {
		m.attemptOutcome[0].Inc()
		m.attemptSeconds[0].Observe(seconds)
		m.latency.Observe(now.Sub(eventCreated).Seconds())
		return
	}
	m.attemptSeconds[1].Observe(seconds)
	o := 1 // exhausted
	if status == herald.DeliveryPending {
		o = 0
	}
	m.attemptOutcome[o+1].Inc()
	m.failures[o][errorClassIndex(att.ErrorClass)].Inc()
}

func errorClassIndex(class string) int {
	for i, c := range errorClasses[:len(errorClasses)-1] {
		if c == class {
			return i
		}
	}
	return len(errorClasses) - 1
}

// observeHookRun records a finished synchronous hook run (see
// Engine.ObserveHookRun).
func (m *metrics) observeHookRun(allowed bool, code, failCode string, d time.Duration) {
	v := 0
	switch {
	case allowed:
	case code == failCode:
		v = 2
	default:
		v = 1
	}
	m.hookRuns[v].Inc()
	m.hookSeconds[v].Observe(d.Seconds())
}

// refreshBacklog replaces the per-endpoint backlog series with the
// BacklogTopN worst endpoints, when the store can rank them.
func (m *metrics) refreshBacklog(ctx context.Context, st store.Store, now time.Time) {
	br, ok := st.(store.BacklogReader)
	if !ok {
		return
	}
	worst, err := br.WorstBacklogs(ctx, BacklogTopN)
	if err != nil {
		return // the previous values stay; the next refresh tries again
	}
	m.backlog.Reset()
	m.backlogAge.Reset()
	for _, b := range worst {
		m.backlog.WithLabelValues(b.ProjectID, b.EndpointID).Set(float64(b.Pending))
		m.backlogAge.WithLabelValues(b.ProjectID, b.EndpointID).Set(max(now.Sub(b.OldestPending).Seconds(), 0))
	}
}

// endpointStates counts, at scrape time, the endpoints of the engine's
// health book by state: nothing is kept up to date on the hot path.
type endpointStates struct {
	health *healthBook
	now    func() time.Time
	desc   *prometheus.Desc
}

// endpointStateNames are the values of herald_endpoints's state label.
var endpointStateNames = [...]string{"healthy", "failing", "open", "half_open", "disabled"}

func (s *endpointStates) Describe(ch chan<- *prometheus.Desc) { ch <- s.desc }

func (s *endpointStates) Collect(ch chan<- prometheus.Metric) {
	var n [len(endpointStateNames)]int
	if h := s.health; h != nil {
		now := s.now()
		h.mu.Lock()
		for _, st := range h.m {
			switch {
			case st.disabled:
				n[4]++
			case st.probing:
				n[3]++
			case !st.openUntil.IsZero() && now.Before(st.openUntil):
				n[2]++
			case st.failures > 0 || !st.openUntil.IsZero():
				n[1]++
			default:
				n[0]++
			}
		}
		h.mu.Unlock()
	}
	for i, name := range endpointStateNames {
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, float64(n[i]), name)
	}
}
