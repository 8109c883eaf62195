package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herald-dev/herald/internal/testkit"
	"github.com/herald-dev/herald/internal/tracing"
	"github.com/herald-dev/herald/internal/tracing/tracingtest"
)

// `herald serve` with OTEL_EXPORTER_OTLP_ENDPOINT set traces an event from
// its ingest request to the receiver, and a synchronous hook run with its
// call; the batch processor's delay is ten minutes, so the spans reach the
// OTLP receiver only because the shutdown on SIGTERM flushes them.
func TestServeTracesToOTLPAndFlushesOnShutdown(t *testing.T) {
	rcv := tracingtest.NewReceiver(t)
	var mu sync.Mutex
	parents := map[string]string{} // path and webhook-id → traceparent received
	webhooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		parents[r.URL.Path+" "+r.Header.Get("Webhook-Id")] = r.Header.Get("Traceparent")
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(webhooks.Close)

	db := "sqlite:" + filepath.Join(t.TempDir(), "herald.db")
	srv := startServer(t, db,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+rcv.URL,
		"OTEL_BSP_SCHEDULE_DELAY=600000",
		"OTEL_SERVICE_NAME=herald-e2e",
	)
	var p struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	if code := call(t, srv.addr, testAdminKey, "POST", "/v1/projects", map[string]any{"name": "traced"}, &p); code != 201 {
		t.Fatalf("create project: %d", code)
	}
	var ep struct {
		ID string `json:"id"`
	}
	if code := call(t, srv.addr, p.APIKey, "POST", "/v1/projects/"+p.ID+"/endpoints", map[string]any{
		"url": webhooks.URL, "event_types": []string{"order.paid", "user.signup"},
	}, &ep); code != 201 {
		t.Fatalf("create endpoint: %d", code)
	}
	// A hook endpoint that is not waited for: the run queues its delivery.
	var ignore struct {
		ID string `json:"id"`
	}
	if code := call(t, srv.addr, p.APIKey, "POST", "/v1/projects/"+p.ID+"/endpoints", map[string]any{
		"url": webhooks.URL + "/ignore", "event_types": []string{"user.signup"}, "response_mode": "ignore",
	}, &ignore); code != 201 {
		t.Fatalf("create endpoint: %d", code)
	}

	const (
		eventTrace = "11111111111111111111111111111111"
		hookTrace  = "22222222222222222222222222222222"
		inSpan     = "3333333333333333"
	)
	post := func(path, traceID string, body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+srv.addr+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+p.APIKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Traceparent", "00-"+traceID+"-"+inSpan+"-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
	}
	post("/v1/projects/"+p.ID+"/events", eventTrace, `{"type":"order.paid","data":{"n":1}}`)
	post("/v1/projects/"+p.ID+"/hooks/user.signup", hookTrace, `{"data":{"email":"a@example.com"}}`)

	testkit.WaitFor(t, "3 requests at the receiver (the event, the hook call, the hook's queued delivery)", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(parents) >= 3
	})
	mu.Lock()
	traces := map[string]bool{}
	for _, tp := range parents {
		traces[tracing.ParseTraceParent(tp).TraceID().String()] = true
	}
	mu.Unlock()
	if !traces[eventTrace] || !traces[hookTrace] || len(traces) != 2 {
		t.Fatalf("receiver traceparents %v: want one in each incoming trace", parents)
	}

	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.done:
	case <-time.After(time.Minute):
		t.Fatal("herald serve did not exit within a minute of SIGTERM")
	}
	spans := rcv.Spans()
	find := func(name, traceID string) tracingtest.Span {
		t.Helper()
		for _, s := range spans {
			if s.Name == name && s.TraceID == traceID {
				return s
			}
		}
		t.Fatalf("no span %q in trace %s among %+v", name, traceID, spans)
		return tracingtest.Span{}
	}

	in := find("POST /v1/projects/{project}/events", eventTrace)
	if in.ParentSpanID != inSpan || in.Service != "herald-e2e" {
		t.Errorf("ingest span %+v: want parent %s, service herald-e2e (OTEL_SERVICE_NAME)", in, inSpan)
	}
	if c := find(tracing.SpanCommit, eventTrace); c.ParentSpanID != in.SpanID {
		t.Errorf("commit span %+v: want the ingest span as parent", c)
	}
	if a := find(tracing.SpanAttempt, eventTrace); a.ParentSpanID != in.SpanID || a.Attrs[tracing.AttrEndpointID] != ep.ID || a.Attrs[tracing.AttrTrigger] != "scheduled" {
		t.Errorf("attempt span %+v: want the ingest span as parent, endpoint %s", a, ep.ID)
	}

	hookReq := find("POST /v1/projects/{project}/hooks/{event_type}", hookTrace)
	run := find(tracing.SpanHook, hookTrace)
	if hookReq.ParentSpanID != inSpan || run.ParentSpanID != hookReq.SpanID {
		t.Errorf("hook request %+v, run %+v: want incoming → request → run", hookReq, run)
	}
	if run.Attrs[tracing.AttrHookAllowed] != "true" || run.Attrs[tracing.AttrEventType] != "user.signup" || run.Attrs[tracing.AttrEventID] == "" {
		t.Errorf("hook run span attributes %v", run.Attrs)
	}
	var hookCall, queued tracingtest.Span
	for _, s := range spans {
		if s.Name == tracing.SpanAttempt && s.TraceID == hookTrace {
			if s.Attrs[tracing.AttrEndpointID] == ignore.ID {
				queued = s
			} else {
				hookCall = s
			}
		}
	}
	if hookCall.ParentSpanID != run.SpanID || hookCall.Attrs[tracing.AttrTrigger] != "hook" || hookCall.Attrs["http.response.status_code"] != "204" {
		t.Errorf("hook call span %+v: want a child of the run, trigger hook, status 204", hookCall)
	}
	if queued.ParentSpanID != run.SpanID || queued.Attrs[tracing.AttrTrigger] != "scheduled" {
		t.Errorf("queued hook delivery's attempt %+v: want a child of the run, sent by the dispatcher", queued)
	}
}
