package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/api"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/herald-dev/herald/internal/tracing"
	"github.com/herald-dev/herald/internal/tracing/tracingtest"
	"github.com/stretchr/testify/require"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// The incoming trace context of the tests' ingest requests.
const (
	inTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	inSpanID  = "00f067aa0ba902b7"
	inParent  = "00-" + inTraceID + "-" + inSpanID + "-01"
)

// tracerFor turns tracing on towards rcv, as an operator would: through
// the OTEL_* variables. The batch processor's delay is short so that
// spans arrive without a flush too.
func tracerFor(t *testing.T, rcv *tracingtest.Receiver) *tracing.Tracer {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	tr, err := tracing.FromEnv(context.Background(), "test")
	require.NoError(t, err)
	require.NotNil(t, tr)
	t.Cleanup(func() { tr.Shutdown(context.Background()) })
	return tr
}

// webhookReceiver records the requests a Herald delivers.
type webhookReceiver struct {
	*testkit.Receiver
	url string
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	rc := testkit.NewReceiver(t, testkit.Status(http.StatusNoContent))
	return &webhookReceiver{Receiver: rc, url: rc.URL + "/hook"}
}

// wait returns the traceparent of the first request ("" when absent).
func (w *webhookReceiver) wait(t *testing.T) string {
	t.Helper()
	testkit.WaitFor(t, "a request at the webhook receiver", func() bool { return w.Count() > 0 })
	return w.Requests()[0].Header.Get("Traceparent")
}

// instance is one Herald over a SQLite file: store, engine (running when
// run is set) and the API behind the tracing middleware, as `herald serve`
// wires them.
type instance struct {
	url   string
	st    store.Store
	admin string
	stop  func()
}

func startHerald(t *testing.T, path string, tr *tracing.Tracer, run bool) *instance {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	eng, err := delivery.New(delivery.Config{AllowPrivateNetworks: true, PollInterval: 20 * time.Millisecond, Logger: discard, Tracer: tr}, st)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	if run {
		go func() { _ = eng.Run(runCtx); close(done) }()
	} else {
		close(done)
	}
	hash, admin, err := api.EnsureAdminKey(ctx, st, "")
	require.NoError(t, err)
	srv, err := api.New(api.Config{Store: st, Engine: eng, Guard: netguard.New(true, nil), AdminKeyHash: hash, RateLimit: -1, Logger: discard})
	require.NoError(t, err)
	ts := httptest.NewServer(tr.Middleware(srv))
	h := &instance{url: ts.URL, st: st, admin: admin}
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			ts.Close()
			cancel()
			<-done
			st.Close()
		})
	}
	t.Cleanup(h.stop)
	return h
}

func (h *instance) call(t *testing.T, method, path, key string, body any, hdr map[string]string, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out), "%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// setup creates a project with one endpoint to url; it returns the
// project's id, key and the endpoint's id.
func (h *instance) setup(t *testing.T, url string) (project, key, endpoint string) {
	t.Helper()
	var p struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	require.Equal(t, 201, h.call(t, "POST", "/v1/projects", h.admin, map[string]any{"name": "traced"}, nil, &p))
	var ep struct {
		ID string `json:"id"`
	}
	require.Equal(t, 201, h.call(t, "POST", "/v1/projects/"+p.ID+"/endpoints", p.APIKey, map[string]any{"url": url}, nil, &ep))
	return p.ID, p.APIKey, ep.ID
}

func (h *instance) ingest(t *testing.T, project, key string, hdr map[string]string) string {
	t.Helper()
	var ev struct {
		ID string `json:"id"`
	}
	require.Equal(t, 202, h.call(t, "POST", "/v1/projects/"+project+"/events", key,
		map[string]any{"type": "order.paid", "data": map[string]any{"n": 1}}, hdr, &ev))
	return ev.ID
}

// one returns the only span named name.
func one(t *testing.T, spans []tracingtest.Span, name string) tracingtest.Span {
	t.Helper()
	found := tracingtest.Find(spans, name)
	require.Len(t, found, 1, "spans named %q", name)
	return found[0]
}

const ingestSpan = "POST /v1/projects/{project}/events"

// One event, traced from the ingest request to the receiver: the ingest
// request's span continues the incoming traceparent, the group commit and
// the attempt are its children, the attempt carries the endpoint, status
// and attempt number, and the receiver gets a traceparent of the same
// trace whose parent is the attempt.
func TestTraceOfOneEvent(t *testing.T) {
	rcv := tracingtest.NewReceiver(t)
	tr := tracerFor(t, rcv)
	hook := newWebhookReceiver(t)
	h := startHerald(t, filepath.Join(t.TempDir(), "herald.db"), tr, true)
	project, key, endpoint := h.setup(t, hook.url)

	eventID := h.ingest(t, project, key, map[string]string{"traceparent": inParent})
	got := tracing.ParseTraceParent(hook.wait(t))
	require.True(t, got.IsValid(), "the webhook request carries a valid traceparent")
	require.Equal(t, inTraceID, got.TraceID().String(), "the webhook is in the ingest request's trace")

	spans := rcv.WaitFor(t, time.Minute, nil, func(s []tracingtest.Span) bool {
		return len(tracingtest.Find(s, ingestSpan)) > 0 && len(tracingtest.Find(s, tracing.SpanCommit)) > 0 &&
			len(tracingtest.Find(s, tracing.SpanAttempt)) > 0
	})
	in := one(t, spans, ingestSpan)
	commit := one(t, spans, tracing.SpanCommit)
	att := one(t, spans, tracing.SpanAttempt)

	require.Equal(t, inTraceID, in.TraceID)
	require.Equal(t, inSpanID, in.ParentSpanID, "the ingest span continues the incoming traceparent")
	require.Equal(t, "herald", in.Service, "service.name defaults to herald")
	require.Equal(t, project, in.Attrs[tracing.AttrProjectID])
	require.Equal(t, "202", in.Attrs["http.response.status_code"])
	require.NotEmpty(t, in.Attrs[tracing.AttrRequestID], "the span names the request id of the log lines")

	require.Equal(t, inTraceID, commit.TraceID)
	require.Equal(t, in.SpanID, commit.ParentSpanID, "a commit of one request's events is that request's child")
	require.Equal(t, "1", commit.Attrs[tracing.AttrCommitEvents])

	require.Equal(t, inTraceID, att.TraceID)
	require.Equal(t, in.SpanID, att.ParentSpanID, "the attempt is a child of the ingest request")
	require.Equal(t, endpoint, att.Attrs[tracing.AttrEndpointID])
	require.Equal(t, eventID, att.Attrs[tracing.AttrEventID])
	require.Equal(t, "204", att.Attrs["http.response.status_code"])
	require.Equal(t, "1", att.Attrs[tracing.AttrAttempt])
	require.Empty(t, att.Attrs["error.type"])
	require.Equal(t, att.SpanID, got.SpanID().String(), "the receiver's parent is the attempt")

	stored, err := h.st.GetEvent(context.Background(), project, eventID)
	require.NoError(t, err)
	require.Equal(t, "00-"+inTraceID+"-"+in.SpanID+"-01", stored.TraceParent, "the event keeps the ingest span's context")
}

// A failed attempt's span says why: the error class and status code.
func TestAttemptSpanOfAFailure(t *testing.T) {
	rcv := tracingtest.NewReceiver(t)
	tr := tracerFor(t, rcv)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	h := startHerald(t, filepath.Join(t.TempDir(), "herald.db"), tr, true)
	project, key, _ := h.setup(t, failing.URL)
	h.ingest(t, project, key, nil)

	spans := rcv.WaitFor(t, time.Minute, nil, func(s []tracingtest.Span) bool {
		return len(tracingtest.Find(s, tracing.SpanAttempt)) > 0 && len(tracingtest.Find(s, ingestSpan)) > 0
	})
	att := tracingtest.Find(spans, tracing.SpanAttempt)[0]
	require.Equal(t, "503", att.Attrs["http.response.status_code"])
	require.Equal(t, "status", att.Attrs["error.type"])
	require.Equal(t, "STATUS_CODE_ERROR", att.Status.String())
	in := one(t, spans, ingestSpan)
	require.Empty(t, in.ParentSpanID, "with no incoming traceparent the ingest request starts a trace")
	require.Equal(t, in.TraceID, att.TraceID)
}

// An attempt made after a restart — its delivery claimed from the
// database, not handed over in memory — continues the trace stored with
// the event.
func TestAttemptAfterRestartContinuesStoredTrace(t *testing.T) {
	rcv := tracingtest.NewReceiver(t)
	tr := tracerFor(t, rcv)
	hook := newWebhookReceiver(t)
	path := filepath.Join(t.TempDir(), "herald.db")

	// First process: accepts the event but does not dispatch.
	h := startHerald(t, path, tr, false)
	project, key, _ := h.setup(t, hook.url)
	eventID := h.ingest(t, project, key, map[string]string{"traceparent": inParent})
	spans := rcv.WaitFor(t, time.Minute, nil, func(s []tracingtest.Span) bool { return len(tracingtest.Find(s, ingestSpan)) > 0 })
	in := one(t, spans, ingestSpan)
	h.stop()

	// Second process over the same file: claims and sends it.
	h2 := startHerald(t, path, tr, true)
	got := tracing.ParseTraceParent(hook.wait(t))
	require.Equal(t, inTraceID, got.TraceID().String())
	spans = rcv.WaitFor(t, time.Minute, nil, func(s []tracingtest.Span) bool { return len(tracingtest.Find(s, tracing.SpanAttempt)) > 0 })
	att := one(t, spans, tracing.SpanAttempt)
	require.Equal(t, inTraceID, att.TraceID)
	require.Equal(t, in.SpanID, att.ParentSpanID, "the stored traceparent is the attempt's parent")
	require.Equal(t, eventID, att.Attrs[tracing.AttrEventID])
	require.Equal(t, att.SpanID, got.SpanID().String())
	_ = h2
}

// Off, nothing is traced: no trace context is stored with the event and
// the receiver gets no traceparent, even when the ingest request had one.
func TestOffStoresAndSendsNoTraceContext(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tr, err := tracing.FromEnv(context.Background(), "test")
	require.NoError(t, err)
	require.Nil(t, tr)
	hook := newWebhookReceiver(t)
	h := startHerald(t, filepath.Join(t.TempDir(), "herald.db"), tr, true)
	project, key, _ := h.setup(t, hook.url)
	eventID := h.ingest(t, project, key, map[string]string{"traceparent": inParent})
	require.Empty(t, hook.wait(t))
	ev, err := h.st.GetEvent(context.Background(), project, eventID)
	require.NoError(t, err)
	require.Empty(t, ev.TraceParent)
}

// A group commit of events from several traces starts a trace of its own,
// linked to each request's span; events without a trace context do not
// count, and a commit of none of them gets no span.
func TestCommitOfSeveralTracesLinksThem(t *testing.T) {
	rcv := tracingtest.NewReceiver(t)
	tr := tracerFor(t, rcv)
	other := "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01"
	ev := func(tp string) *store.NewEvent { return &store.NewEvent{Event: &herald.Event{TraceParent: tp}} }
	tr.StartCommit([]*store.NewEvent{ev(""), ev("")}).End(nil)
	tr.StartCommit([]*store.NewEvent{ev(inParent), ev(other), ev(inParent), ev("")}).End(nil)

	spans := rcv.WaitFor(t, time.Minute, func() { tr.Flush(context.Background()) }, func(s []tracingtest.Span) bool {
		return len(tracingtest.Find(s, tracing.SpanCommit)) > 0
	})
	c := one(t, spans, tracing.SpanCommit)
	require.Empty(t, c.ParentSpanID, "a commit of several traces is a root")
	require.NotEqual(t, inTraceID, c.TraceID)
	require.ElementsMatch(t, []tracingtest.Link{{TraceID: inTraceID, SpanID: inSpanID}, {TraceID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", SpanID: "bbbbbbbbbbbbbbbb"}}, c.Links)
	require.Equal(t, "4", c.Attrs[tracing.AttrCommitEvents])
	require.Equal(t, "2", c.Attrs[tracing.AttrCommitTraces])
}

// An unsampled incoming traceparent (flags 00) is not recorded, but its
// context still travels: the receiver gets a traceparent of the same
// trace, unsampled, and no span is exported.
func TestUnsampledTraceTravelsUnrecorded(t *testing.T) {
	rcv := tracingtest.NewReceiver(t)
	tr := tracerFor(t, rcv)
	hook := newWebhookReceiver(t)
	h := startHerald(t, filepath.Join(t.TempDir(), "herald.db"), tr, true)
	project, key, _ := h.setup(t, hook.url)
	h.ingest(t, project, key, map[string]string{"traceparent": "00-" + inTraceID + "-" + inSpanID + "-00"})
	got := tracing.ParseTraceParent(hook.wait(t))
	require.True(t, got.IsValid())
	require.Equal(t, inTraceID, got.TraceID().String())
	require.False(t, got.IsSampled())
	require.NoError(t, tr.Flush(context.Background()))
	for _, s := range rcv.Spans() {
		require.NotEqual(t, inTraceID, s.TraceID, "span %q of an unsampled trace exported", s.Name)
	}
}
