package sqlite

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// BenchmarkTenantSuccessPath is BenchmarkSuccessPath's burst path (insert
// events each with one delivery leased at insert, then record a successful
// attempt for each) in a project of one endpoint and in projects of many
// tenants of two endpoints each, the events spread over the tenants as
// `herald bench --scenario tenants` spreads them: each event of a batch
// goes to another tenant's endpoint. What the writer pays per event for
// the spread shows in cpu-us/event and in written-bytes/event (the WAL
// frames: a page for each index leaf an event's rows dirty). With one
// endpoint every index is appended to at one place; spread over tenants,
// the indexes keyed by tenant (events_tenant, deliveries_tenant) or by
// endpoint (deliveries_endpoint_created, attempts_endpoint,
// deliveries_endpoint) each take a leaf of their own per event.
func BenchmarkTenantSuccessPath(b *testing.B) {
	for _, tenants := range []int{0, 50, 20000} {
		b.Run(fmt.Sprintf("tenants=%d", tenants), func(b *testing.B) {
			benchTenantSuccessPath(b, tenants, 32)
		})
	}
}

func benchTenantSuccessPath(b *testing.B, tenants, size int) {
	db, p, _ := benchDB(b, 0)
	ctx := context.Background()
	eps := benchTenantEndpoints(b, db, p, tenants)
	var cpu time.Duration
	var written int64
	done := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += size {
		b.StopTimer()
		n := min(size, b.N-i)
		batch := benchEvents(p, n, eps[0])
		until := time.Now().Add(time.Minute)
		var cs []*store.Claim
		for j, ne := range batch {
			ne.Event.IdempotencyKey = ""
			if tenants > 0 {
				ep := eps[(i+j)*7919%tenants]
				ne.Event.TenantID = ep.TenantID
				for _, d := range ne.Deliveries {
					d.EndpointID, d.TenantID = ep.ID, ep.TenantID
				}
			}
			for _, d := range ne.Deliveries {
				d.Status, d.LockedBy, d.LockedUntil = herald.DeliveryInFlight, "bench", &until
				cs = append(cs, &store.Claim{Delivery: d, Event: ne.Event})
			}
		}
		results := benchResults(cs)
		b.StartTimer()
		c0, w0 := cpuNow(), writtenBytes()
		_, err := db.InsertEvents(ctx, batch)
		require.NoError(b, err)
		require.NoError(b, db.CompleteAttempts(ctx, results))
		cpu += cpuNow() - c0
		written += writtenBytes() - w0
		done += n
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(done), "cpu-us/event")
	b.ReportMetric(float64(written)/float64(done), "written-bytes/event")
}

// benchTenantEndpoints creates tenants tenants of two endpoints each (the
// second subscribed to another type) and returns each tenant's first; with
// 0, one project-wide endpoint.
func benchTenantEndpoints(b *testing.B, db *DB, p *herald.Project, tenants int) []*herald.Endpoint {
	ctx := context.Background()
	now := time.Now().UTC()
	newEP := func(tenant string, types ...string) *herald.Endpoint {
		return &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: p.ID, TenantID: tenant, URL: "https://example.com/",
			EventTypes: types, Enabled: true, Status: herald.EndpointHealthy, CreatedAt: now, UpdatedAt: now}
	}
	if tenants == 0 {
		ep := newEP("", "bench.*")
		require.NoError(b, db.CreateEndpoint(ctx, ep))
		return []*herald.Endpoint{ep}
	}
	first := make([]*herald.Endpoint, tenants)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= tenants {
					return
				}
				tenant := "t" + strconv.Itoa(i)
				first[i] = newEP(tenant, "bench.*")
				require.NoError(b, db.CreateEndpoint(ctx, first[i]))
				require.NoError(b, db.CreateEndpoint(ctx, newEP(tenant, "other.*")))
			}
		})
	}
	wg.Wait()
	return first
}

// writtenBytes is what this process has passed to write(2) and its kind
// so far (/proc/self/io wchar): SQLite's WAL frames and checkpoints.
func writtenBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
