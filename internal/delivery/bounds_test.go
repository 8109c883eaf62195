package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/peakrss"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/herald-dev/herald/webhook"
)

// sendData makes one Send of an event with data to an endpoint at url
// whose body template is tpl.
func sendData(t *testing.T, b *testBundle, url, tpl, data string) *SendResult {
	t.Helper()
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: b.project.ID, URL: url,
		Enabled: true, Secret: webhook.NewSecret(), ResponseMode: herald.ResponseWait,
		Timeout: herald.Duration(5 * time.Second), BodyTemplate: tpl}
	ev := testEvent(b.project.ID)
	ev.Data = json.RawMessage(data)
	return b.e.Send(context.Background(), SendRequest{Endpoint: ep, Event: ev, Attempt: 1})
}

func TestSendBodyTemplatePassesNumbersThroughExactly(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, nil)
	data := `{"big":12345678901234567890,"neg":-98765432109876543210,"price":1.10,"sci":1e2,"small":7}`
	res := sendData(t, b, rc.URL, `{data: .data, next: (.data.big + 1)}`, data)
	if !res.Attempt.Succeeded() {
		t.Fatalf("attempt failed: %+v", res.Attempt)
	}
	body := string(rc.Requests()[0].Body)
	for _, want := range []string{`"big":12345678901234567890`, `"neg":-98765432109876543210`,
		`"price":1.10`, `"sci":1e2`, `"small":7`, `"next":12345678901234567891`} {
		if !strings.Contains(body, want) {
			t.Errorf("body %s lacks %s", body, want)
		}
	}
}

// A filter that builds gigabytes of strings (the reproduction, with
// 400,000-byte strings over a 10,000-item list) is stopped: ingest accepts
// the event, the other endpoint gets its delivery, the runaway endpoint
// none, the log says why, and the process stays small.
func TestIngestRunawayFilterSkipsOnlyItsEndpoint(t *testing.T) {
	rss := peakrss.Measure(t, func() {
		var logs bytes.Buffer
		b := setup(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
		healthy := b.endpoint("http://127.0.0.1:1/healthy", nil)
		runaway := b.endpoint("http://127.0.0.1:1/runaway", func(ep *herald.Endpoint) {
			ep.Filter = `data.l.map(x, data.s + data.s).size() > 0`
		})
		data, _ := json.Marshal(map[string]any{"l": make([]int, 10_000), "s": strings.Repeat("a", 400_000)})
		res := b.ingest("big.event", string(data))
		ds := b.deliveries(store.DeliveryFilter{EventID: res.Event.ID})
		if len(ds) != 1 || ds[0].EndpointID != healthy.ID {
			t.Fatalf("deliveries = %+v, want one to %s", ds, healthy.ID)
		}
		log := logs.String()
		if !strings.Contains(log, "endpoint filter failed") || !strings.Contains(log, runaway.ID) ||
			!strings.Contains(log, "cost limit exceeded") {
			t.Errorf("log does not name the runaway filter:\n%s", log)
		}
	})
	peakrss.AtMost(t, rss, 256<<20)
}

// A body template that would allocate gigabytes fails its own delivery as
// a template error; nothing is sent and the process stays small with three
// such sends at once.
func TestSendRunawayTemplateFailsAsTemplateError(t *testing.T) {
	rss := peakrss.Measure(t, func() {
		b := setup(t, nil)
		rc := testkit.NewReceiver(t, nil)
		for _, tpl := range []string{`"x" * 1000000000`, `reduce range(40) as $i ("x"; . + .)`} {
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() {
					res := sendData(t, b, rc.URL, tpl, `{}`)
					// The error names the memory bound, or on a starved
					// machine the 100 ms one may come first; either way
					// it is this endpoint's template error and the
					// process keeps its memory (below).
					if res.Attempt.ErrorClass != herald.ErrorTemplate ||
						!strings.Contains(res.Attempt.Error, "memory bound") && !strings.Contains(res.Attempt.Error, "timed out") {
						t.Errorf("%s: attempt %q %q, want a template error", tpl, res.Attempt.ErrorClass, res.Attempt.Error)
					}
				})
			}
			wg.Wait()
		}
		if n := rc.Count(); n != 0 {
			t.Errorf("receiver got %d requests, want none", n)
		}
	})
	peakrss.AtMost(t, rss, 256<<20)
}
