package tracing

import (
	"context"
	"encoding/hex"

	"go.opentelemetry.io/otel/trace"
)

// TraceParentHeader is the W3C trace context header (canonical form).
const TraceParentHeader = "Traceparent"

// TraceParent returns the W3C traceparent of the span in ctx (the ingest
// request's), to be stored with an event; "" when tracing is off or ctx
// has no span.
func (t *Tracer) TraceParent(ctx context.Context) string {
	if t == nil {
		return ""
	}
	return FormatTraceParent(trace.SpanContextFromContext(ctx))
}

// FormatTraceParent renders sc as a version 00 traceparent value, or ""
// when sc is not valid.
func FormatTraceParent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	var b [55]byte
	b[0], b[1], b[2] = '0', '0', '-'
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}

// ParseTraceParent reads a traceparent value: version 00 exactly, or a
// later version's first four fields (as the W3C recommendation asks).
// It returns an invalid SpanContext for anything else, including the
// all-zero ids and version ff.
func ParseTraceParent(s string) trace.SpanContext {
	if len(s) < 55 || (len(s) > 55 && (s[:2] == "00" || s[55] != '-')) {
		return trace.SpanContext{}
	}
	if s[2] != '-' || s[35] != '-' || s[52] != '-' || s[:2] == "ff" {
		return trace.SpanContext{}
	}
	if !lowerHex(s[:2]) || !lowerHex(s[3:35]) || !lowerHex(s[36:52]) || !lowerHex(s[53:55]) {
		return trace.SpanContext{}
	}
	var tid trace.TraceID
	var sid trace.SpanID
	var flags [1]byte
	hex.Decode(tid[:], []byte(s[3:35]))
	hex.Decode(sid[:], []byte(s[36:52]))
	hex.Decode(flags[:], []byte(s[53:55]))
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    tid,
		SpanID:     sid,
		TraceFlags: trace.TraceFlags(flags[0]) & trace.FlagsSampled,
		Remote:     true,
	})
	if !sc.IsValid() {
		return trace.SpanContext{}
	}
	return sc
}

// lowerHex reports whether s is lower-case hexadecimal, as traceparent
// requires.
func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
