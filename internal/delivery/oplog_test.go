package delivery

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
)

// logBuffer collects JSON log lines; safe for concurrent writers.
type logBuffer struct{ testkit.Buffer }

// lines returns the decoded lines whose msg starts with prefix.
func (l *logBuffer) lines(t *testing.T, prefix string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if raw == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		if strings.HasPrefix(m["msg"].(string), prefix) {
			out = append(out, m)
		}
	}
	return out
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func TestFailedAttemptsAndExhaustionAreLoggedWithSharedKeys(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	b := setup(t, func(c *Config) { c.Logger = logs.logger() })
	rc := testkit.NewReceiver(t, testkit.Status(500))
	ep := b.endpoint(rc.URL+"/hook?token=s3cret", nil) // two quick retries
	b.run(b.e)
	ev := b.ingest("user.created", `{}`).Event
	testkit.WaitFor(t, "the delivery exhausted and its line written", func() bool {
		ds := b.deliveries(store.DeliveryFilter{EventID: ev.ID})
		return ds[0].Status == herald.DeliveryExhausted && len(logs.lines(t, "delivery exhausted")) == 1
	})
	d := b.deliveries(store.DeliveryFilter{EventID: ev.ID})[0]
	failed := logs.lines(t, "delivery attempt failed")
	if len(failed) != 2 {
		t.Fatalf("%d failed-attempt lines, want 2 (the third attempt exhausts)", len(failed))
	}
	for _, line := range append(failed, logs.lines(t, "delivery exhausted")...) {
		for key, want := range map[string]any{
			"project_id": b.project.ID, "endpoint_id": ep.ID, "delivery_id": d.ID, "event_id": ev.ID,
			"error_class": herald.ErrorStatus, "status": 500.0,
		} {
			if line[key] != want {
				t.Errorf("%s: %s = %v, want %v", line["msg"], key, line[key], want)
			}
		}
	}
	if lvl := logs.lines(t, "delivery exhausted")[0]["level"]; lvl != "WARN" {
		t.Errorf("exhausted at %v, want WARN", lvl)
	}
	if lvl := failed[0]["level"]; lvl != "INFO" {
		t.Errorf("failed attempt at %v, want INFO", lvl)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Error("the log carries the endpoint's query string")
	}
}

func TestOneDeadEndpointCannotFloodTheLog(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	b := setup(t, func(c *Config) { c.Logger = logs.logger(); c.BreakerThreshold = 1000 })
	rc := testkit.NewReceiver(t, testkit.Status(503))
	other := testkit.NewReceiver(t, testkit.Status(500))
	b.endpoint(rc.URL, func(ep *herald.Endpoint) {
		ep.RetrySchedule = []herald.Duration{herald.Duration(time.Millisecond), herald.Duration(time.Millisecond), herald.Duration(time.Millisecond)}
		ep.EventTypes = []string{"dead.*"}
	})
	quiet := b.endpoint(other.URL, func(ep *herald.Endpoint) { ep.EventTypes = []string{"other.*"} })
	b.run(b.e)
	start := time.Now()
	for range 10 {
		b.ingest("dead.letter", `{}`)
	}
	b.ingest("other.thing", `{}`)
	testkit.WaitFor(t, "every delivery exhausted", func() bool {
		return len(b.deliveries(store.DeliveryFilter{Status: herald.DeliveryExhausted})) == 11
	})
	// 30 failed attempts went to the dead endpoint; its lines stop after
	// the burst (one more per 10 s that the test took).
	byEndpoint := map[any]int{}
	for _, line := range logs.lines(t, "delivery attempt failed") {
		byEndpoint[line["endpoint_id"]]++
	}
	dead := 0
	for id, n := range byEndpoint {
		if id != quiet.ID {
			dead = n
		}
	}
	if limit := 3 + int(time.Since(start)/(10*time.Second)) + 1; dead > limit || dead == 0 {
		t.Errorf("dead endpoint: %d failed-attempt lines for 30 failures, want 1..%d", dead, limit)
	}
	if byEndpoint[quiet.ID] != 2 {
		t.Errorf("the other endpoint: %d lines, want 2 (its own limit is untouched)", byEndpoint[quiet.ID])
	}
	if n := len(logs.lines(t, "delivery exhausted")); n != 11 {
		t.Errorf("%d exhausted lines, want every one (11)", n)
	}
}

func TestTemplateErrorIsLogged(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	b := setup(t, func(c *Config) { c.Logger = logs.logger() })
	rc := testkit.NewReceiver(t, nil)
	ep := b.endpoint(rc.URL, func(ep *herald.Endpoint) { ep.BodyTemplate = `error("no body for you")` })
	b.run(b.e)
	ev := b.ingest("user.created", `{}`).Event
	testkit.WaitFor(t, "a template error line", func() bool {
		return len(logs.lines(t, "delivery attempt failed: body template error")) > 0
	})
	line := logs.lines(t, "delivery attempt failed: body template error")[0]
	if line["endpoint_id"] != ep.ID || line["event_id"] != ev.ID || line["error_class"] != herald.ErrorTemplate {
		t.Errorf("template error line: %v", line)
	}
	if msg, _ := line["error"].(string); !strings.Contains(msg, "no body for you") {
		t.Errorf("template error line says %q, want the template's error", msg)
	}
}
