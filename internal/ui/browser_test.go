package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// chromiumPath is Debian's chromium, which CI installs.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts a headless chromium with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("HERALD_TEST_CHROMIUM_REQUIRED") != "" {
			t.Fatalf("HERALD_TEST_CHROMIUM_REQUIRED is set but %s is missing: apt-get install chromium", chromiumPath)
		}
		t.Skip("browser tests need chromium: apt-get install chromium")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser; it must not run under a timeout.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	return ctx
}

// step runs browser actions with a deadline, so a broken page fails the
// test instead of hanging it.
func step(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, chromedp.Do(sctx, actions...))
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err)
	return s
}

func TestBrowserLoginCreateEndpointAndReadEventLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rcv := receiver(t, 200)
	ctx := newBrowser(t)

	// Log in by typing the key.
	step(t, ctx,
		chromedp.Navigate(b.srv.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), b.keyA),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS("a.button.primary")),
	)
	require.Equal(t, "Endpoints", text(t, ctx, "main h1"))

	// Create an endpoint through the form.
	step(t, ctx,
		chromedp.Click(chromedp.CSS("a.button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#endpoint-form")),
		chromedp.SendKeys(chromedp.CSS("#url"), rcv.URL+"/hooks"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Browser endpoint"),
		chromedp.SendKeys(chromedp.CSS("#event_types"), "user.created"),
		chromedp.Click(chromedp.CSS("#endpoint-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#send-test")),
	)
	require.Contains(t, text(t, ctx, "main h1"), "Browser endpoint")
	require.Contains(t, text(t, ctx, ".flash"), "Endpoint created")

	// It is in the list.
	step(t, ctx,
		chromedp.Navigate(b.srv.URL+"/ui/p/prj_alpha/endpoints"),
		chromedp.WaitVisible(chromedp.CSS("#endpoints")),
	)
	list := text(t, ctx, "#endpoints")
	require.Contains(t, list, "Browser endpoint")
	require.Contains(t, list, rcv.URL+"/hooks")

	// An event reaches it; the log shows it and its detail page opens.
	ev := b.ingest(t, b.a, "user.created", `{"user_id":"u_browser"}`)
	b.waitDelivery(t, b.a.ID, ev.ID)
	step(t, ctx,
		chromedp.Click(chromedp.CSS(`header nav a[href$="/events"]`)),
		chromedp.WaitVisible(chromedp.CSS("#log")),
	)
	require.Contains(t, text(t, ctx, "#log"), ev.ID)
	step(t, ctx,
		chromedp.Click(chromedp.CSS(`#log a[href$="/events/`+ev.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#payload")),
	)
	require.Contains(t, text(t, ctx, "#payload"), `"user_id": "u_browser"`)
	require.Contains(t, text(t, ctx, "#deliveries"), "succeeded")
}

// seedHistory stores a day of deliveries and attempts of ep, mostly
// successful, with an outage in the middle; it returns a failed delivery.
func seedHistory(t *testing.T, b *testBundle, ep *herald.Endpoint) (failed string) {
	now := time.Now().UTC()
	var batch []*store.NewEvent
	// Oldest first, so that ids (which sort by creation) follow the times.
	for i := 119; i >= 0; i-- {
		at := now.Add(-time.Duration(i) * 12 * time.Minute)
		ok := i%17 != 0 && (i < 40 || i > 52)
		ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: ep.ProjectID,
			Type: []string{"user.created", "order.paid", "invoice.sent"}[i%3],
			Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"user_id":"u_%d"}`, i, i)), Channels: []string{}, Metadata: map[string]string{},
			OccurredAt: at, CreatedAt: at}
		status, code, class := herald.DeliverySucceeded, 200, ""
		if !ok {
			status, code, class = herald.DeliveryExhausted, 503, herald.ErrorStatus
		}
		d := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: ep.ProjectID, EventID: ev.ID, EndpointID: ep.ID,
			EventType: ev.Type, Status: status, Attempts: 1, LastAttemptAt: &at, LastStatus: code, CreatedAt: at, UpdatedAt: at}
		a := &herald.Attempt{ID: herald.NewID(herald.PrefixAttempt), ProjectID: ep.ProjectID, DeliveryID: d.ID, EventID: ev.ID,
			EndpointID: ep.ID, Number: 1, Trigger: herald.TriggerScheduled, StartedAt: at, DurationMS: int64(40 + (i*37)%200),
			RequestURL: ep.URL, RequestHeaders: map[string]string{"webhook-id": ev.ID, "content-type": "application/json"},
			ResponseStatus: code, ErrorClass: class}
		if !ok {
			failed = d.ID
			a.ResponseHeaders = map[string]string{"Content-Type": "application/json", "Retry-After": "30"}
			a.ResponseBody = `{"error":"maintenance","retry":true}`
		}
		batch = append(batch, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{d}, Attempts: []*herald.Attempt{a}})
	}
	_, err := b.st.InsertEvents(context.Background(), batch)
	require.NoError(t, err)
	return failed
}
