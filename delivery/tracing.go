package delivery

import "context"

// TraceParent returns the W3C traceparent of the span in ctx for an event
// made outside Ingest (a hook run's), so that its deliveries continue that
// trace; "" when tracing is off.
func (e *Engine) TraceParent(ctx context.Context) string {
	return e.cfg.Tracer.TraceParent(ctx)
}
