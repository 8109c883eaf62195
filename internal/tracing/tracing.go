// Package tracing is Herald's OpenTelemetry tracing: spans for ingest
// requests, group commits, delivery attempts and synchronous hook runs,
// exported over OTLP/HTTP, with the W3C trace context carried from the
// ingest request to the receiver of each attempt.
//
// Tracing is off unless an OTLP endpoint is configured (FromEnv). Off, the
// *Tracer is nil and every method is a nil check: the hot path calls them
// unconditionally and pays no allocation.
package tracing

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ServiceNameDefault is service.name unless OTEL_SERVICE_NAME (or
// service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise.
const ServiceNameDefault = "herald"

// scope names the instrumentation in exported spans.
const scope = "github.com/herald-dev/herald"

// Tracer makes Herald's spans. A nil *Tracer is tracing switched off: all
// its methods do nothing and return zero values.
type Tracer struct {
	tp *sdktrace.TracerProvider
	t  trace.Tracer
}

// Enabled reports whether tracing is on: the OTLP endpoint is set
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT) and
// neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none turns it
// off. getenv is os.Getenv in production.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")), "none") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// FromEnv returns a Tracer exporting over OTLP/HTTP as the standard OTEL_*
// variables configure it (endpoint, headers, timeout, compression,
// certificates, sampler, batch processor, span limits, resource), or nil
// when tracing is off (see Enabled). version is service.version.
func FromEnv(ctx context.Context, version string) (*Tracer, error) {
	if !Enabled(os.Getenv) {
		return nil, nil
	}
	if p := strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")); p == "" {
		if p = strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")); p != "" && p != "http/protobuf" {
			return nil, errors.New("OTEL_EXPORTER_OTLP_PROTOCOL: Herald exports traces over http/protobuf only, not " + p)
		}
	} else if p != "http/protobuf" {
		return nil, errors.New("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Herald exports traces over http/protobuf only, not " + p)
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	// Later sources win: the environment overrides the defaults.
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("service.name", ServiceNameDefault),
			attribute.String("service.version", version),
		),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, err
	}
	// No sampler option: the SDK takes OTEL_TRACES_SAMPLER and
	// OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on).
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	// The SDK reports failed exports here: into Herald's log, not the
	// standard library's.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		slog.Warn("tracing: exporting spans failed", "error", err)
	}))
	return &Tracer{tp: tp, t: tp.Tracer(scope, trace.WithInstrumentationVersion(version))}, nil
}

// Flush exports the spans ended so far.
func (t *Tracer) Flush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}

// Shutdown exports what is left and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// Span is one of Herald's spans; the zero Span (tracing off) does nothing.
type Span struct {
	s trace.Span
}

// End ends the span, marking it failed when err is not nil.
func (s Span) End(err error) {
	if s.s == nil {
		return
	}
	if err != nil {
		s.s.RecordError(err)
		s.s.SetStatus(codes.Error, err.Error())
	}
	s.s.End()
}

// Context returns the span's trace context (invalid for the zero Span).
func (s Span) Context() trace.SpanContext {
	if s.s == nil {
		return trace.SpanContext{}
	}
	return s.s.SpanContext()
}
