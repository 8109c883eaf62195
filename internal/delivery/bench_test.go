package delivery

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/herald-dev/herald/webhook"
)

// BenchmarkIngest measures ingest through the group commit on SQLite
// (synchronous=NORMAL, as setup opens it): many concurrent callers, one
// event each, routed to two endpoints. Deliveries stay pending (no Run).
func BenchmarkIngest(b *testing.B) {
	tb := setup(b, nil)
	tb.endpoint("http://127.0.0.1:1/a", nil)
	tb.endpoint("http://127.0.0.1:1/b", nil)
	data := json.RawMessage(`{"user_id":"u_1","email":"a@example.com","plan":"pro"}`)
	b.SetParallelism(32) // 32 × GOMAXPROCS concurrent callers
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		in := []EventInput{{Type: "user.created", Data: data}}
		for pb.Next() {
			res, err := tb.e.Ingest(context.Background(), tb.project, in)
			if err != nil || res[0].Err != nil {
				b.Fatal(err, res[0].Err)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSend measures one signed delivery to a local receiver over a
// reused connection.
func BenchmarkSend(b *testing.B) {
	tb := setup(b, nil)
	rc := testkit.NewReceiver(b, nil)
	ep := &herald.Endpoint{ID: "ep_bench", URL: rc.URL, Enabled: true, Secret: webhook.NewSecret(), Timeout: herald.Duration(5 * time.Second)}
	ev := testEvent(tb.project.ID)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := tb.e.Send(context.Background(), SendRequest{Endpoint: ep, Event: ev, Attempt: 1})
		if !res.Attempt.Succeeded() {
			b.Fatal(res.Attempt.Error)
		}
	}
}

// BenchmarkPipeline measures ingest to delivered: concurrent ingests, the
// hot path hands each delivery to its lane, a local receiver answers 200,
// results are recorded in batches. It ends when every delivery succeeded
// at the receiver.
func BenchmarkPipeline(b *testing.B) {
	tb := setup(b, nil)
	cs := &countingStore{Store: tb.st}
	tb.st, tb.e = cs, tb.engine(cs, func(c *Config) { c.PollInterval = time.Second })
	rc := testkit.NewReceiver(b, nil)
	tb.endpoint(rc.URL, func(ep *herald.Endpoint) { ep.MaxInFlight = 64 })
	tb.run(tb.e)
	data := json.RawMessage(`{"user_id":"u_1"}`)
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		in := []EventInput{{Type: "user.created", Data: data}}
		for pb.Next() {
			if _, err := tb.e.Ingest(context.Background(), tb.project, in); err != nil {
				b.Fatal(err)
			}
		}
	})
	for rc.Count() < b.N {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/float64(cs.inserts.Load()), "events/commit")
	b.ReportMetric(float64(b.N)/float64(max(cs.completes.Load(), 1)), "results/write")
	b.ReportMetric(float64(cs.claims.Load())/float64(b.N), "claims/delivery")
}
