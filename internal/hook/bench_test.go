package hook_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/gcfloor"
	"github.com/herald-dev/herald/internal/store"
)

// BenchmarkRun3Hooks measures a run over three local hooks that answer at
// once: Herald's own overhead (selection, three signed calls, reading the
// answers). The run queues nothing, so its record is stored after the
// answer, by the background recorder; that work runs alongside the next runs
// and counts through the CPU it takes from them. It reports the per-run
// latency percentiles, with the database synced as the server does (FULL)
// and with NORMAL.
func BenchmarkRun3Hooks(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			serverGC(b)
			benchRun3Hooks(b, sync, hookURL(b, false))
		})
	}
	b.Run("sync=FULL/hooks=process", func(b *testing.B) {
		serverGC(b)
		benchRun3Hooks(b, "FULL", hookURL(b, true))
	})
	b.Run("sync=FULL/gc=go-default", func(b *testing.B) {
		benchRun3Hooks(b, "FULL", hookURL(b, false))
	})
}

// serverGC sets the garbage collector up as `herald serve` does (see
// internal/gcfloor) for the rest of the benchmark.
func serverGC(b *testing.B) {
	stop, _ := gcfloor.Start()
	b.Cleanup(stop)
}

// hookURL starts a hook that allows everything, in this process or in a
// process of its own.
func hookURL(b *testing.B, process bool) string {
	if process {
		return startHookProcess(b)
	}
	srv := httptest.NewServer(allowAll)
	b.Cleanup(srv.Close)
	return srv.URL
}

// threeHooks is a runner over a database synced as sync, with three
// endpoints on url for evType, the first in data mode.
func threeHooks(b *testing.B, sync, url string) *testBundle {
	tb := setupSync(b, sync)
	tb.endpoint(b, url, order(1), mode(herald.ResponseData))
	tb.endpoint(b, url, order(2))
	tb.endpoint(b, url, order(3))
	return tb
}

// runThree runs tb's three hooks once and returns how long the run took.
func runThree(b *testing.B, tb *testBundle) time.Duration {
	start := time.Now()
	res, err := tb.r.RunJSON(context.Background(), tb.p, evType, runBody)
	took := time.Since(start)
	if err != nil || !res.Allowed || len(res.Results) != 3 {
		b.Fatalf("run: %v %+v", err, res)
	}
	return took
}

var runBody = []byte(`{"data":{"email":"neo@example.com","name":"Thomas Anderson"}}`)

func benchRun3Hooks(b *testing.B, sync, url string) {
	tb := threeHooks(b, sync, url)
	lat := make([]time.Duration, 0, 4096)
	for b.Loop() {
		lat = append(lat, runThree(b, tb))
	}
	reportPercentiles(b, lat)
}

// BenchmarkHookOverhead reports what Herald adds to the hooks' own round
// trips: three plain POSTs to the hook server (nothing of Herald's: no
// signing, no selection, no record) and a run over three endpoints on the
// same server, b.N of each, in alternating blocks so that the machine's
// state weighs on both alike, with the database synced and the collector set
// up as the server does. overhead-p50-ms and overhead-p99-ms are the run's
// percentile minus the plain POSTs' (an estimate of the percentile of the
// difference). The hook runs in the benchmark's process (inline) or in a
// process of its own, as a real hook does.
func BenchmarkHookOverhead(b *testing.B) {
	for _, proc := range []bool{false, true} {
		name := "hooks=inline"
		if proc {
			name = "hooks=process"
		}
		b.Run(name, func(b *testing.B) {
			serverGC(b)
			url := hookURL(b, proc)
			tb := threeHooks(b, "FULL", url)
			client := &http.Client{Timeout: 5 * time.Second}
			bare := make([]time.Duration, 0, b.N)
			runs := make([]time.Duration, 0, b.N)
			const block = 1000
			b.ResetTimer()
			for len(runs) < b.N {
				n := min(block, b.N-len(runs))
				for range n {
					bare = append(bare, threePosts(b, client, url))
				}
				for range n {
					runs = append(runs, runThree(b, tb))
				}
			}
			b.StopTimer()
			slices.Sort(bare)
			slices.Sort(runs)
			for _, q := range []struct {
				name string
				q    float64
			}{{"p50", 0.50}, {"p99", 0.99}} {
				r, p := percentile(runs, q.q), percentile(bare, q.q)
				b.ReportMetric(r, "run-"+q.name+"-ms")
				b.ReportMetric(p, "bare-"+q.name+"-ms")
				b.ReportMetric(r-p, "overhead-"+q.name+"-ms")
			}
		})
	}
}

// threePosts makes three plain POSTs of a hook call's size to url, one
// after the other, and returns how long they took.
func threePosts(b *testing.B, client *http.Client, url string) time.Duration {
	start := time.Now()
	for range 3 {
		resp, err := client.Post(url, "application/json", bytes.NewReader(bareBody))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	return time.Since(start)
}

// bareBody is about the size of the body Herald sends a hook in these
// benchmarks.
var bareBody = []byte(`{"type":"before_registration","timestamp":"2026-11-23T22:00:00Z","data":{"email":"neo@example.com","name":"Thomas Anderson"}}`)

// percentile of sorted durations, in milliseconds.
func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(int(q*float64(len(sorted))), len(sorted)-1)
	return float64(sorted[i].Microseconds()) / 1000
}

// BenchmarkStoreRun measures the commit of a run's record (an event, three
// deliveries, three attempts): what a run that queues a delivery pays before
// answering, and what the background recorder spends on any other run.
func BenchmarkStoreRun(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			tb := setupSync(b, sync)
			var eps []*herald.Endpoint
			for i := range 3 {
				eps = append(eps, tb.endpoint(b, "http://127.0.0.1:1/", order(i)))
			}
			ctx := context.Background()
			lat := make([]time.Duration, 0, 4096)
			for b.Loop() {
				ne := storedRun(tb.p.ID, eps)
				start := time.Now()
				if _, err := tb.eng.Insert(ctx, []*store.NewEvent{ne}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			reportPercentiles(b, lat)
		})
	}
}

// storedRun builds the record of a run like Runner.Run does.
func storedRun(projectID string, eps []*herald.Endpoint) *store.NewEvent {
	now := time.Now().UTC()
	ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: projectID, Type: evType,
		Data: []byte(`{"email":"neo@example.com"}`), OccurredAt: now, CreatedAt: now, Hook: true}
	ne := &store.NewEvent{Event: ev}
	for _, ep := range eps {
		d := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: projectID, EventID: ev.ID,
			EndpointID: ep.ID, EventType: evType, Status: herald.DeliverySucceeded, Attempts: 1,
			LastAttemptAt: &now, LastStatus: 200, SucceededAt: &now, CreatedAt: now, UpdatedAt: now}
		ne.Deliveries = append(ne.Deliveries, d)
		ne.Attempts = append(ne.Attempts, &herald.Attempt{ID: herald.NewID(herald.PrefixAttempt), ProjectID: projectID,
			DeliveryID: d.ID, EventID: ev.ID, EndpointID: ep.ID, Number: 1, Trigger: herald.TriggerHook, StartedAt: now,
			RequestURL: ep.URL, RequestHeaders: map[string]string{"Content-Type": "application/json"},
			ResponseStatus: 200, ResponseBody: `{"status":"ok"}`})
	}
	return ne
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(percentile(lat, 0.50), "p50-ms")
	b.ReportMetric(percentile(lat, 0.99), "p99-ms")
}

// BenchmarkThreeSends measures the calls of a three-hook run alone: three
// signed requests to a local hook answering at once, one after the other,
// without selection or storage.
func BenchmarkThreeSends(b *testing.B) {
	tb := setup(b)
	ep := tb.endpoint(b, hookURL(b, false))
	ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: tb.p.ID, Type: evType,
		Data: []byte(`{"email":"neo@example.com"}`), CreatedAt: time.Now(), Hook: true}
	ctx := context.Background()
	lat := make([]time.Duration, 0, 4096)
	for b.Loop() {
		start := time.Now()
		for range 3 {
			res := tb.eng.Send(ctx, delivery.SendRequest{Endpoint: ep, Event: ev, Attempt: 1, Trigger: herald.TriggerHook, KeepBody: true})
			if !res.Attempt.Succeeded() {
				b.Fatalf("send: %s", res.Attempt.Error)
			}
		}
		lat = append(lat, time.Since(start))
	}
	reportPercentiles(b, lat)
}

// BenchmarkThreeBarePosts is the floor under a three-hook run: three plain
// POSTs of the same size, one after the other, with Go's HTTP client to the
// same kind of local hook, with nothing of Herald's (no signing, no
// selection, no record). A run's latency minus this, at the same
// percentile, estimates what Herald adds to the hooks' own round trips.
func BenchmarkThreeBarePosts(b *testing.B) {
	b.Run("hooks=inline", func(b *testing.B) { benchThreeBarePosts(b, hookURL(b, false)) })
	b.Run("hooks=process", func(b *testing.B) { benchThreeBarePosts(b, hookURL(b, true)) })
}

func benchThreeBarePosts(b *testing.B, url string) {
	client := &http.Client{Timeout: 5 * time.Second}
	lat := make([]time.Duration, 0, 4096)
	for b.Loop() {
		lat = append(lat, threePosts(b, client, url))
	}
	reportPercentiles(b, lat)
}
