package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/api"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/tracing"
	"github.com/herald-dev/herald/webhook"
)

// benchTracer is tracing off (nil) or on, exporting to an OTLP/HTTP
// server that reads and drops what it gets (decoding it here would count
// the receiver's work as Herald's).
func benchTracer(b *testing.B, on bool) *tracing.Tracer {
	if !on {
		return nil
	}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(sink.Close)
	b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.URL)
	tr, err := tracing.FromEnv(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Shutdown(context.Background()) })
	return tr
}

// BenchmarkTracedIngest is one event through the API's ingest route
// (behind the tracing middleware, with an incoming traceparent) on a
// SQLite file, from concurrent clients: with tracing on, the request's
// span, the commit's span and the stored trace context.
func BenchmarkTracedIngest(b *testing.B) {
	for _, mode := range []struct {
		name string
		on   bool
	}{{"off", false}, {"on", true}} {
		b.Run(mode.name, func(b *testing.B) {
			tr := benchTracer(b, mode.on)
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "herald.db"), sqlite.Options{Synchronous: "NORMAL"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			eng, err := delivery.New(delivery.Config{Logger: discard, Tracer: tr}, st)
			if err != nil {
				b.Fatal(err)
			}
			hash, admin, err := api.EnsureAdminKey(ctx, st, "")
			if err != nil {
				b.Fatal(err)
			}
			srv, err := api.New(api.Config{Store: st, Engine: eng, Guard: netguard.New(true, nil), AdminKeyHash: hash, RateLimit: -1, Logger: discard})
			if err != nil {
				b.Fatal(err)
			}
			h := tr.Middleware(srv)
			serve := func(path, key string, body []byte) *httptest.ResponseRecorder {
				req := httptest.NewRequest("POST", path, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Traceparent", inParent)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			rec := serve("/v1/projects", admin, []byte(`{"name":"Bench","id":"bench"}`))
			if rec.Code != http.StatusCreated {
				b.Fatalf("create project: %d %s", rec.Code, rec.Body)
			}
			var p struct {
				APIKey string `json:"api_key"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				b.Fatal(err)
			}
			body := []byte(`{"type":"order.paid","data":{"order_id":"o_1","amount":4200},"channels":["acct_42"]}`)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if rec := serve("/v1/projects/bench/events", p.APIKey, body); rec.Code != http.StatusAccepted {
						b.Errorf("ingest: %d %s", rec.Code, rec.Body)
						return
					}
				}
			})
		})
	}
}

// BenchmarkTracedAttempt is one attempt (Engine.Send) of an event that
// carries an ingest request's trace context, to a loopback receiver: with
// tracing on, the attempt's span and the traceparent header.
func BenchmarkTracedAttempt(b *testing.B) {
	for _, mode := range []struct {
		name string
		on   bool
	}{{"off", false}, {"on", true}} {
		b.Run(mode.name, func(b *testing.B) {
			tr := benchTracer(b, mode.on)
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusNoContent)
			}))
			b.Cleanup(rc.Close)
			st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "herald.db"), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			eng, err := delivery.New(delivery.Config{AllowPrivateNetworks: true, Logger: discard, Tracer: tr}, st)
			if err != nil {
				b.Fatal(err)
			}
			ep := &herald.Endpoint{ID: "ep_bench", URL: rc.URL, Enabled: true, Secret: webhook.NewSecret(), Timeout: herald.Duration(5 * time.Second)}
			ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: "prj_bench", Type: "order.paid",
				Data: json.RawMessage(`{"order_id":"o_1"}`), CreatedAt: time.Now()}
			if mode.on {
				ev.TraceParent = inParent
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res := eng.Send(context.Background(), delivery.SendRequest{Endpoint: ep, Event: ev, Attempt: 1})
				if !res.Attempt.Succeeded() {
					b.Fatal(res.Attempt.Error)
				}
			}
		})
	}
}
