package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/herald-dev/herald"
)

// BenchmarkRouteTenants measures routing alone (Engine.route, what ingest
// does before the commit) for an event of a tenant, in a project of one
// endpoint and in projects of many tenants of two endpoints each, the
// events spread over the tenants. "warm": every tenant's set is cached
// (the bound holds them); "bounded": the cache holds a tenth of them, so
// nine events in ten read their tenant's set from the store.
func BenchmarkRouteTenants(b *testing.B) {
	for _, c := range []struct {
		name    string
		tenants int
		max     int
	}{
		{"one-endpoint", 0, 0},
		{"tenants=20000/warm", 20000, 0},
		{"tenants=20000/bounded", 20000, 4000},
	} {
		b.Run(c.name, func(b *testing.B) {
			tb := setup(b, func(cfg *Config) { cfg.RouteCacheMax = c.max })
			createTenants(b, tb, c.tenants)
			ev := &herald.Event{ProjectID: tb.project.ID, Type: "user.created", Data: json.RawMessage(`{}`)}
			warm := func(i int) *herald.Event {
				e := *ev
				if c.tenants > 0 {
					e.TenantID = "t" + strconv.Itoa(i*7919%c.tenants)
				}
				return &e
			}
			for i := range c.tenants {
				if _, err := tb.e.route(tb.ctx, warm(i), tb.e.now()); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					eps, err := tb.e.route(context.Background(), warm(int(next.Add(1))), tb.e.now())
					if err != nil || len(eps) != 1 {
						b.Fatal(err, len(eps))
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// createTenants creates tenants of two endpoints each (the second
// subscribed to another type), or with 0 one project-wide endpoint.
func createTenants(b *testing.B, tb *testBundle, tenants int) {
	b.Helper()
	if tenants == 0 {
		tb.endpoint("http://127.0.0.1:1/wide", nil)
		return
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= tenants {
					return
				}
				for k, types := range [][]string{{"user.*"}, {"order.*"}} {
					tb.endpoint(fmt.Sprintf("http://127.0.0.1:1/%d/%d", i, k), func(ep *herald.Endpoint) {
						ep.TenantID, ep.EventTypes = "t"+strconv.Itoa(i), types
					})
				}
			}
		})
	}
	wg.Wait()
}
