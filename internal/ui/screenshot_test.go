package ui_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "TestScreenshots: write docs/screenshots/*.png")

// screenshotDir is where the README's screenshots live.
const screenshotDir = "../docs/screenshots"

// TestScreenshots writes the README's screenshots of the main pages,
// taken in chromium against a dashboard seeded with a day of history:
//
//	go test ./ui -run TestScreenshots -update
//
// It is skipped without -update: it makes pictures for people, it asserts
// nothing about looks.
func TestScreenshots(t *testing.T) {
	if !*update {
		t.Skip("run with -update to write docs/screenshots")
	}
	b := setup(t)
	s := seedScreens(t, b)
	ctx := newBrowser(t)
	browserLogin(t, ctx, b, b.keyA)
	require.NoError(t, os.MkdirAll(screenshotDir, 0o755))
	for _, shot := range []struct{ file, path, ready string }{
		{"endpoints.png", "/ui/p/prj_alpha/endpoints", "#endpoints"},
		{"endpoint.png", "/ui/p/prj_alpha/endpoints/" + s.erp.ID, "svg.chart"},
		{"events.png", "/ui/p/prj_alpha/events", "#log"},
		{"event.png", "/ui/p/prj_alpha/events/" + s.event.ID, "#deliveries"},
		{"delivery.png", "/ui/p/prj_alpha/deliveries/" + s.delivery.ID, ".attempt"},
		{"event-types.png", "/ui/p/prj_alpha/event-types", "#event-types"},
	} {
		step(t, ctx, chromedp.Navigate(b.srv.URL+shot.path), chromedp.WaitVisible(chromedp.CSS(shot.ready)))
		png := screenshot(t, ctx, 1280, 1000)
		require.NoError(t, os.WriteFile(filepath.Join(screenshotDir, shot.file), png, 0o644))
	}
}

// screenshot captures the page as a PNG, width CSS pixels wide and as
// tall as the page up to maxHeight, so that long pages stay small files.
func screenshot(t *testing.T, ctx context.Context, width, maxHeight int64) []byte {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(sctx, chromedp.EmulateViewport(width, 600)))
	height, err := chromedp.Run(sctx, chromedp.Evaluate[int64](`document.documentElement.scrollHeight`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(sctx, chromedp.EmulateViewport(width, min(height, maxHeight))))
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	return png
}

// screens are the seeded things the screenshots show.
type screens struct {
	erp      *herald.Endpoint
	event    *herald.Event
	delivery *herald.Delivery
}

// seedScreens fills project alpha as a shop's would look after a day: an
// ERP endpoint with a day of history (seedHistory), a chat endpoint with a
// body template, one expired and one scheduled endpoint, an event that
// reached two endpoints (one after two failed attempts), and event types.
func seedScreens(t *testing.T, b *testBundle) screens {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	mk := func(name, url string, mod func(*herald.Endpoint)) *herald.Endpoint {
		ep := b.endpoint(t, b.a.ID, url)
		ep.Name = name
		if mod != nil {
			mod(ep)
		}
		require.NoError(t, b.st.UpdateEndpoint(ctx, ep))
		return ep
	}
	erp := mk("ERP invoices", "https://erp.example.com/webhooks/herald", func(ep *herald.Endpoint) {
		ep.EventTypes = []string{"order.paid", "invoice.sent"}
	})
	seedHistory(t, b, erp)
	chat := mk("Team chat", "https://chat.example.com/hooks/T024BE7LD/B01H7QK6W4L/4bS0cQmPZp1sK9yVn3XwT2aR", func(ep *herald.Endpoint) {
		ep.EventTypes = []string{"order.paid"}
		ep.BodyTemplate = `{text: "Order \(.data.order_id) paid: \(.data.amount) \(.data.currency)"}`
	})
	mk("Old CRM", "https://crm-legacy.example.com/api/v1/events", func(ep *herald.Endpoint) {
		ep.ActiveUntil = ptrTime(now.Add(-72 * time.Hour))
	})
	mk("Black Friday promo", "https://promo.example.com/hooks/orders", func(ep *herald.Endpoint) {
		ep.EventTypes = []string{"order.*"}
		ep.ActiveFrom = ptrTime(time.Date(now.Year(), 11, 27, 0, 0, 0, 0, time.UTC).AddDate(1, 0, 0))
	})
	b.eng.EndpointsChanged(b.a.ID)

	at := now.Add(-7 * time.Minute)
	ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: b.a.ID, Type: "order.paid",
		Data:     json.RawMessage(`{"order_id":"ord_8841","amount":"149.90","currency":"EUR","customer":{"id":"cus_311","email":"ana@example.com"}}`),
		Channels: []string{"store_eu"}, Metadata: map[string]string{"source": "checkout"}, OccurredAt: at, CreatedAt: at,
		IdempotencyKey: "checkout-ord_8841"}
	hdr := func(id string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "User-Agent": "Herald/" + herald.Version,
			"Webhook-Id": id, "Webhook-Signature": "[redacted]", "Webhook-Timestamp": "1764680000"}
	}
	toERP := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: b.a.ID, EventID: ev.ID, EndpointID: erp.ID,
		EventType: ev.Type, Status: herald.DeliverySucceeded, Attempts: 3, LastStatus: 200, CreatedAt: at, UpdatedAt: now,
		LastAttemptAt: ptrTime(at.Add(5*time.Minute + 5*time.Second)), SucceededAt: ptrTime(at.Add(5*time.Minute + 5*time.Second))}
	toChat := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: b.a.ID, EventID: ev.ID, EndpointID: chat.ID,
		EventType: ev.Type, Status: herald.DeliverySucceeded, Attempts: 1, LastStatus: 200, CreatedAt: at, UpdatedAt: at,
		LastAttemptAt: ptrTime(at), SucceededAt: ptrTime(at)}
	attempt := func(d *herald.Delivery, n int, start time.Time, ms int64, status int) *herald.Attempt {
		a := &herald.Attempt{ID: herald.NewID(herald.PrefixAttempt), ProjectID: b.a.ID, DeliveryID: d.ID, EventID: ev.ID,
			EndpointID: d.EndpointID, Number: n, Trigger: herald.TriggerScheduled, StartedAt: start, DurationMS: ms,
			RequestURL: erp.URL, RequestHeaders: hdr(ev.ID), ResponseStatus: status,
			ResponseHeaders: map[string]string{"Content-Type": "application/json"}}
		if status >= 300 {
			a.ErrorClass, a.Error = herald.ErrorStatus, "status 503"
			a.ResponseHeaders["Retry-After"] = "5"
			a.ResponseBody = `{"error":"maintenance window","retry":true}`
		}
		return a
	}
	erpAttempts := []*herald.Attempt{
		attempt(toERP, 1, at, 61, 503),
		attempt(toERP, 2, at.Add(5*time.Second), 58, 503),
		attempt(toERP, 3, at.Add(5*time.Minute+5*time.Second), 74, 200),
	}
	chatAttempt := attempt(toChat, 1, at, 132, 200)
	chatAttempt.RequestURL = chat.URL
	chatAttempt.RequestBody = `{"text":"Order ord_8841 paid: 149.90 EUR"}`
	_, err := b.st.InsertEvents(ctx, []*store.NewEvent{{Event: ev, Deliveries: []*herald.Delivery{toERP, toChat},
		Attempts: append(erpAttempts, chatAttempt)}})
	require.NoError(t, err)

	for _, et := range []*herald.EventType{
		{Name: "order.paid", Description: "A customer paid an order.",
			Schema:  json.RawMessage(`{"type":"object","required":["order_id","amount"],"properties":{"order_id":{"type":"string"},"amount":{"type":"string"}}}`),
			Example: json.RawMessage(`{"order_id":"ord_1","amount":"10.00","currency":"EUR"}`)},
		{Name: "invoice.sent", Description: "An invoice was e-mailed to the customer."},
		{Name: "user.created", Description: "A customer opened an account.",
			Example: json.RawMessage(`{"user_id":"u_1"}`)},
	} {
		et.ProjectID, et.CreatedAt, et.UpdatedAt = b.a.ID, now, now
		require.NoError(t, b.st.CreateEventType(ctx, et))
	}
	return screens{erp: erp, event: ev, delivery: toChat}
}

func ptrTime(t time.Time) *time.Time { return &t }
