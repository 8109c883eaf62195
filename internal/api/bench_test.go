package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/herald-dev/herald/internal/store/sqlite"
)

// BenchmarkIngestHandler is one event through the API's ingest route
// (authentication, decoding, the engine's validation, routing and group
// commit) on a SQLite file, from concurrent clients, with no network.
func BenchmarkIngestHandler(b *testing.B) {
	bd := start(b, sqlite.Options{Synchronous: "NORMAL"})
	serve := func(path, key string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		bd.server.ServeHTTP(rec, req)
		return rec
	}
	rec := serve("/v1/projects", bd.admin, []byte(`{"name":"Bench","id":"bench"}`))
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
}
