package api

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/herald-dev/herald"
	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the API's request metrics, labelled by route pattern.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_http_requests_total",
			Help: "HTTP requests answered by the API, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "herald_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
		// The same on every server of a registry: a second one finds it there.
		if err := reg.Register(buildInfo()); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return nil, err
		}
	}
	return m, nil
}

// buildInfo is herald_build_info: 1, labelled with Herald's version, the
// Go version and the VCS revision the binary was built from ("" when the
// build did not record it).
func buildInfo() prometheus.Collector {
	revision := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "herald_build_info",
		Help: "Always 1; its labels say which Herald runs: version, Go version, VCS revision.",
		ConstLabels: prometheus.Labels{
			"version": herald.Version, "goversion": runtime.Version(), "revision": revision,
		},
	})
	g.Set(1)
	return g
}

// knownMethods bounds the method label: a client can send any token.
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

// observe records one answered request and logs it at debug level. Only
// the route pattern is logged, never headers (API keys) or bodies.
func (s *Server) observe(r *http.Request, code int, d time.Duration) {
	route := s.routeOf(r)
	method := r.Method
	if !knownMethods[method] {
		method = "other"
	}
	s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	s.metrics.duration.WithLabelValues(route, method).Observe(d.Seconds())
	s.log.DebugContext(r.Context(), "http request",
		slog.String("method", method), slog.String("route", route),
		slog.Int("status", code), slog.Duration("duration", d),
		slog.String(logKeyRequestID, requestIDOf(r.Context())))
}
