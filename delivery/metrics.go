package delivery

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

var errShortResults = errors.New("delivery: store returned fewer results than events")

// metrics are the engine's Prometheus series. They exist even when no
// Registerer is configured (then nothing exports them).
type metrics struct {
	ingested      prometheus.Counter
	attempts      *prometheus.CounterVec
	latency       prometheus.Histogram
	queueDepth    prometheus.Gauge
	oldestPending prometheus.Gauge
	commitSeconds prometheus.Histogram
	commitEvents  prometheus.Histogram
}

// Attempt outcomes, the label of herald_attempts_total.
const (
	outcomeSuccess   = "success"
	outcomeRetry     = "retry"
	outcomeExhausted = "exhausted"
)

func newMetrics(reg prometheus.Registerer) *metrics {
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
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.ingested, m.attempts, m.latency, m.queueDepth, m.oldestPending, m.commitSeconds, m.commitEvents} {
			// A second engine on the same registry (tests) keeps its
			// series private rather than failing.
			_ = reg.Register(c)
		}
	}
	return m
}
