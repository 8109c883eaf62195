package tracing

import (
	"context"
	"net/http"
	"strings"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Attribute keys of Herald's own span attributes.
const (
	AttrProjectID     = "herald.project_id"
	AttrRequestID     = "herald.request_id"
	AttrEventID       = "herald.event_id"
	AttrEventType     = "herald.event_type"
	AttrEndpointID    = "herald.endpoint_id"
	AttrAttempt       = "herald.attempt.number"
	AttrTrigger       = "herald.attempt.trigger"
	AttrCommitEvents  = "herald.commit.events"
	AttrCommitTraces  = "herald.commit.traces"
	AttrHookAllowed   = "herald.hook.allowed"
	AttrHookDeniedBy  = "herald.hook.denied_by"
	attrStatusCode    = "http.response.status_code"
	attrMethod        = "http.request.method"
	attrRoute         = "http.route"
	attrErrorType     = "error.type"
	projectPathPrefix = "/v1/projects/"
)

// Span names.
const (
	SpanCommit  = "herald.commit"
	SpanAttempt = "herald.attempt"
	SpanHook    = "herald.hook"
)

// Middleware returns next with a server span around each ingest request
// (POST …/events and …/events/batch) and each synchronous hook request,
// continuing the trace of the request's traceparent (and tracestate)
// when it has a valid one. Other requests pass untraced. With tracing off
// it returns next itself.
func (t *Tracer) Middleware(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, project := tracedRouteOf(r)
		if rt == nil {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		if sc := ParseTraceParent(r.Header.Get(TraceParentHeader)); sc.IsValid() {
			if ts, err := trace.ParseTraceState(r.Header.Get("Tracestate")); err == nil {
				sc = sc.WithTraceState(ts)
			}
			ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
		}
		ctx, sp := t.t.Start(ctx, rt.name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String(attrMethod, http.MethodPost),
				attribute.String(attrRoute, rt.pattern),
				attribute.String(AttrProjectID, project),
			))
		defer sp.End()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		sp.SetAttributes(attribute.Int(attrStatusCode, status))
		if id := w.Header().Get("X-Request-Id"); id != "" {
			sp.SetAttributes(attribute.String(AttrRequestID, id))
		}
		if status >= 500 {
			sp.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// tracedRoute is a route whose requests get a span.
type tracedRoute struct{ pattern, name string }

var (
	ingestRoute      = &tracedRoute{"/v1/projects/{project}/events", "POST /v1/projects/{project}/events"}
	ingestBatchRoute = &tracedRoute{"/v1/projects/{project}/events/batch", "POST /v1/projects/{project}/events/batch"}
	hookRoute        = &tracedRoute{"/v1/projects/{project}/hooks/{event_type}", "POST /v1/projects/{project}/hooks/{event_type}"}
)

// tracedRouteOf returns the route and project id of a request that gets a
// span, or nil.
func tracedRouteOf(r *http.Request) (rt *tracedRoute, project string) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, projectPathPrefix) {
		return nil, ""
	}
	project, rest, ok := strings.Cut(r.URL.Path[len(projectPathPrefix):], "/")
	if !ok || project == "" {
		return nil, ""
	}
	switch {
	case rest == "events":
		return ingestRoute, project
	case rest == "events/batch":
		return ingestBatchRoute, project
	case strings.HasPrefix(rest, "hooks/") && len(rest) > len("hooks/") && !strings.Contains(rest[len("hooks/"):], "/"):
		return hookRoute, project
	}
	return nil, ""
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// StartCommit starts the span of one group commit of events. The commit
// stores many requests' events in one transaction: when they all come
// from one trace context the span is its child; from several, it starts a
// trace of its own with a link to each. Events with no trace context do
// not count; a commit with none gets no span.
func (t *Tracer) StartCommit(events []*store.NewEvent) Span {
	if t == nil {
		return Span{}
	}
	var (
		seen  = map[string]bool{}
		links []trace.Link
	)
	for _, ne := range events {
		tp := ne.Event.TraceParent
		if tp == "" || seen[tp] {
			continue
		}
		seen[tp] = true
		if sc := ParseTraceParent(tp); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	if len(links) == 0 {
		return Span{}
	}
	ctx := context.Background()
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.Int(AttrCommitEvents, len(events)), attribute.Int(AttrCommitTraces, len(links))),
	}
	if len(links) == 1 {
		ctx = trace.ContextWithRemoteSpanContext(ctx, links[0].SpanContext)
	} else {
		opts = append(opts, trace.WithNewRoot(), trace.WithLinks(links...))
	}
	_, sp := t.t.Start(ctx, SpanCommit, opts...)
	return Span{s: sp}
}

// StartAttempt starts the span of one attempt to send ev to an endpoint.
// Its parent is the trace context stored with the event (the ingest
// request's), or else the span in ctx (a hook run's, say). The returned
// context carries the span.
func (t *Tracer) StartAttempt(ctx context.Context, ev *herald.Event, endpointID string, number int, trigger string) (context.Context, Span) {
	if t == nil {
		return ctx, Span{}
	}
	if sc := ParseTraceParent(ev.TraceParent); sc.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	ctx, sp := t.t.Start(ctx, SpanAttempt, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String(attrMethod, http.MethodPost),
			attribute.String(AttrProjectID, ev.ProjectID),
			attribute.String(AttrEventID, ev.ID),
			attribute.String(AttrEventType, ev.Type),
			attribute.String(AttrEndpointID, endpointID),
			attribute.Int(AttrAttempt, number),
			attribute.String(AttrTrigger, trigger),
		))
	return ctx, Span{s: sp}
}

// Inject sets the traceparent (and tracestate) of the span on an outgoing
// request's headers, so that the receiver's spans join the trace.
func (s Span) Inject(h http.Header) {
	if s.s == nil {
		return
	}
	sc := s.s.SpanContext()
	if tp := FormatTraceParent(sc); tp != "" {
		h[TraceParentHeader] = []string{tp}
		if ts := sc.TraceState().String(); ts != "" {
			h["Tracestate"] = []string{ts}
		}
	}
}

// EndAttempt ends an attempt's span with its outcome: the response status,
// and for a failure the error class (error.type) and message.
func (s Span) EndAttempt(att *herald.Attempt) {
	if s.s == nil {
		return
	}
	if att.ResponseStatus != 0 {
		s.s.SetAttributes(attribute.Int(attrStatusCode, att.ResponseStatus))
	}
	if att.ErrorClass != "" {
		s.s.SetAttributes(attribute.String(attrErrorType, att.ErrorClass))
		s.s.SetStatus(codes.Error, att.Error)
	}
	s.s.End()
}

// StartHook starts the span of one synchronous hook run; the returned
// context carries it, so the run's calls are its children.
func (t *Tracer) StartHook(ctx context.Context, projectID, eventType string) (context.Context, Span) {
	if t == nil {
		return ctx, Span{}
	}
	ctx, sp := t.t.Start(ctx, SpanHook, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String(AttrProjectID, projectID), attribute.String(AttrEventType, eventType)))
	return ctx, Span{s: sp}
}

// HookResult records a hook run's outcome on its span.
func (s Span) HookResult(eventID string, allowed bool, deniedBy string) {
	if s.s == nil {
		return
	}
	s.s.SetAttributes(attribute.String(AttrEventID, eventID), attribute.Bool(AttrHookAllowed, allowed))
	if deniedBy != "" {
		s.s.SetAttributes(attribute.String(AttrHookDeniedBy, deniedBy))
	}
}
