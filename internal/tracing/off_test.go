package tracing_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/tracing"
	"github.com/stretchr/testify/require"
)

// Off (a nil *Tracer), what the hot path calls allocates nothing and
// changes nothing: no stored trace context, no header, the handler as is.
func TestOffCostsNoAllocation(t *testing.T) {
	var tr *tracing.Tracer
	ctx := context.Background()
	ev := &herald.Event{ID: "evt_1", ProjectID: "p", Type: "t", TraceParent: inParent}
	batch := []*store.NewEvent{{Event: ev}}
	att := &herald.Attempt{ResponseStatus: 500, ErrorClass: herald.ErrorStatus, Error: "status 500"}
	h := http.Header{}
	fail := errors.New("x")
	allocs := testing.AllocsPerRun(1000, func() {
		if tr.TraceParent(ctx) != "" {
			t.Fatal("a trace parent with tracing off")
		}
		tr.StartCommit(batch).End(fail)
		c, sp := tr.StartAttempt(ctx, ev, "ep", 1, herald.TriggerScheduled)
		if c != ctx {
			t.Fatal("StartAttempt changed the context with tracing off")
		}
		sp.Inject(h)
		sp.EndAttempt(att)
		_, hs := tr.StartHook(ctx, "p", "t")
		hs.HookResult("evt_1", true, "")
		hs.End(nil)
	})
	require.Zero(t, allocs)
	require.Empty(t, h, "no traceparent header with tracing off")

	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	require.Equal(t, reflect.ValueOf(next).Pointer(), reflect.ValueOf(tr.Middleware(next)).Pointer(), "Middleware returns the handler itself")
	require.NoError(t, tr.Flush(ctx))
	require.NoError(t, tr.Shutdown(ctx))
}

func TestEnabled(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	require.False(t, tracing.Enabled(env()), "off by default")
	require.True(t, tracing.Enabled(env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")))
	require.True(t, tracing.Enabled(env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces")))
	require.False(t, tracing.Enabled(env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", "OTEL_SDK_DISABLED", "true")))
	require.False(t, tracing.Enabled(env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", "OTEL_TRACES_EXPORTER", "none")))
}

func TestFromEnvRefusesAnotherProtocol(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	_, err := tracing.FromEnv(context.Background(), "test")
	require.ErrorContains(t, err, "http/protobuf only")
}

func TestTraceParentRoundTrip(t *testing.T) {
	sc := tracing.ParseTraceParent(inParent)
	require.True(t, sc.IsValid())
	require.True(t, sc.IsSampled())
	require.True(t, sc.IsRemote())
	require.Equal(t, inTraceID, sc.TraceID().String())
	require.Equal(t, inSpanID, sc.SpanID().String())
	require.Equal(t, inParent, tracing.FormatTraceParent(sc))

	unsampled := "00-" + inTraceID + "-" + inSpanID + "-00"
	require.False(t, tracing.ParseTraceParent(unsampled).IsSampled())
	require.Equal(t, unsampled, tracing.FormatTraceParent(tracing.ParseTraceParent(unsampled)))

	// A later version: its first four fields are read, the rest ignored.
	require.True(t, tracing.ParseTraceParent("01-"+inTraceID+"-"+inSpanID+"-01-what-comes-next").IsValid())

	for _, bad := range []string{
		"",
		"garbage",
		"00-" + inTraceID + "-" + inSpanID + "-01-extra",          // version 00 has exactly four fields
		"ff-" + inTraceID + "-" + inSpanID + "-01",                // version ff is invalid
		"00-00000000000000000000000000000000-" + inSpanID + "-01", // zero trace id
		"00-" + inTraceID + "-0000000000000000-01",                // zero span id
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-" + inSpanID + "-01", // upper case
		"00-" + inTraceID + "-" + inSpanID + "-0g",                // not hex
		"00_" + inTraceID + "-" + inSpanID + "-01",                // separator
		"01-" + inTraceID + "-" + inSpanID + "-01x",               // a later version's fifth field needs a dash
	} {
		require.False(t, tracing.ParseTraceParent(bad).IsValid(), "%q", bad)
	}
	require.Empty(t, tracing.FormatTraceParent(tracing.ParseTraceParent("garbage")))
}
