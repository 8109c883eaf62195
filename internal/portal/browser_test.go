package portal_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/stretchr/testify/require"
)

// The portal in a real browser: Debian's chromium, headless, driven by
// chromedp, against the whole server (API, dashboard and portal).

const chromium = "/usr/bin/chromium"

// chrome starts a headless chromium with its own profile; the test is
// skipped where chromium is not installed (unless
// HERALD_TEST_CHROMIUM_REQUIRED says it must be).
func chrome(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("HERALD_TEST_CHROMIUM_REQUIRED") != "" {
			t.Fatalf("%s is missing: apt-get install chromium", chromium)
		}
		t.Skip("browser tests need chromium (apt-get install chromium)")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank"))) // starts the browser, without a deadline
	return ctx
}

// act runs actions with a deadline, so a broken page fails the test
// rather than hanging it.
func act(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(sctx, actions...))
}

func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err)
	return s
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Location())
	require.NoError(t, err)
	return s
}

func TestBrowserCustomer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := chrome(t)

	// Open the link: the portal, at a clean URL.
	act(t, ctx, chromedp.Navigate(e.link(t, service.PortalSessionInput{TenantID: "acme"})), chromedp.WaitVisible(chromedp.CSS("main h1")))
	require.Equal(t, e.url+"/portal/endpoints", location(t, ctx), "the token is not left in the address bar")
	require.Equal(t, "Endpoints", textOf(t, ctx, "main h1"))

	// Create an endpoint in the form.
	act(t, ctx,
		chromedp.Click(chromedp.CSS(`a.button[href="/portal/endpoints/new"]`)),
		chromedp.WaitVisible(chromedp.CSS("#endpoint-form")),
		chromedp.SendKeys(chromedp.CSS("#url"), e.recv.URL+"/hooks"),
		chromedp.SendKeys(chromedp.CSS("#description"), "Our order system"),
		chromedp.Click(chromedp.CSS(`input[name=event_types][value="order.paid"]`)),
		chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS("#rotate")),
	)
	require.Contains(t, textOf(t, ctx, ".flash"), "Endpoint created")
	require.Equal(t, e.recv.URL+"/hooks", textOf(t, ctx, "main h1"))
	eps, err := e.st.TenantEndpoints(e.ctx, e.p.ID, "acme")
	require.NoError(t, err)
	require.Len(t, eps, 1)
	ep := eps[0]
	require.Equal(t, []string{"order.paid"}, ep.EventTypes)

	// Receive an event, and read its attempt in the logs.
	_, err = e.svc.Ingest(e.ctx, e.p, []delivery.EventInput{{Type: "order.paid", Data: json.RawMessage(`{"order_id":"ord_browser"}`), TenantID: "acme"}})
	require.NoError(t, err)
	testkit.WaitFor(t, "the event arrives", func() bool { return e.receivedCount() == 1 })
	testkit.WaitFor(t, "the delivery is recorded as succeeded", func() bool {
		ds, _, err := e.st.ListDeliveries(e.ctx, e.p.ID, store.DeliveryFilter{TenantID: "acme", Status: herald.DeliverySucceeded}, page1())
		require.NoError(t, err)
		return len(ds) == 1
	})
	act(t, ctx,
		chromedp.Click(chromedp.CSS(`header nav a[href="/portal/logs"]`)),
		chromedp.WaitVisible(chromedp.CSS("#deliveries")),
	)
	require.Contains(t, textOf(t, ctx, "#deliveries"), "order.paid")
	act(t, ctx,
		chromedp.Click(chromedp.CSS(`#deliveries a[href^="/portal/deliveries/"]`)),
		chromedp.WaitVisible(chromedp.CSS("article.attempt")),
	)
	attempt := textOf(t, ctx, "article.attempt")
	require.Contains(t, attempt, "202")
	require.Contains(t, attempt, "Webhook-Signature")
	require.Contains(t, attempt, "X-Receiver")
	require.Contains(t, textOf(t, ctx, "main"), "ord_browser")

	// Rotate the secret: the page shows the new one.
	act(t, ctx,
		chromedp.Navigate(e.url+"/portal/endpoints/"+ep.ID),
		chromedp.WaitVisible(chromedp.CSS("#rotate")),
		chromedp.Click(chromedp.CSS("#rotate")),
		chromedp.WaitVisible(chromedp.CSS("#secret")),
	)
	rotated, err := e.st.GetEndpoint(e.ctx, e.p.ID, ep.ID)
	require.NoError(t, err)
	require.NotEqual(t, ep.Secret, rotated.Secret)
	require.Equal(t, rotated.Secret, textOf(t, ctx, "#secret"))
	require.Contains(t, textOf(t, ctx, ".flash"), "New secret")
}

func TestBrowserAttacker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := &herald.Endpoint{URL: e.recv.URL, Enabled: true, TenantID: "globex"}
	require.NoError(t, e.svc.CreateEndpoint(e.ctx, e.p.ID, other))
	_, err := e.svc.Ingest(e.ctx, e.p, []delivery.EventInput{{Type: "order.paid", Data: json.RawMessage(`{}`), TenantID: "globex"}})
	require.NoError(t, err)
	var otherDelivery string
	testkit.WaitFor(t, "globex's delivery", func() bool {
		ds, _, err := e.st.ListDeliveries(e.ctx, e.p.ID, store.DeliveryFilter{TenantID: "globex"}, page1())
		require.NoError(t, err)
		if len(ds) == 1 {
			otherDelivery = ds[0].ID
		}
		return len(ds) == 1
	})
	ctx := chrome(t)

	// Another tenant's ids.
	act(t, ctx, chromedp.Navigate(e.link(t, service.PortalSessionInput{TenantID: "acme", ReadOnly: true})), chromedp.WaitVisible(chromedp.CSS("main h1")))
	for _, path := range []string{"/portal/endpoints/" + other.ID, "/portal/endpoints/" + other.ID + "/edit", "/portal/deliveries/" + otherDelivery} {
		act(t, ctx, chromedp.Navigate(e.url+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		require.Equal(t, "Not found", textOf(t, ctx, "main h1"), path)
	}

	// A read-only session posting a form it was never shown.
	act(t, ctx, chromedp.Navigate(e.url+"/portal/endpoints"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	require.NotContains(t, textOf(t, ctx, "main"), "Add endpoint")
	script := fmt.Sprintf(`(() => { const f = document.createElement("form"); f.method = "post"; f.action = "/portal/endpoints/new";
		for (const [k, v] of [["url", %q], ["enabled", "on"], ["csrf", "forged"]]) { const i = document.createElement("input"); i.name = k; i.value = v; f.appendChild(i); }
		document.body.appendChild(f); f.submit(); return true; })()`, e.recv.URL)
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = chromedp.Run(sctx, chromedp.Evaluate[bool](script))
	cancel()
	require.NoError(t, err)
	act(t, ctx, chromedp.WaitVisible(chromedp.CSS("section.message")))
	require.Equal(t, "Not allowed", textOf(t, ctx, "main h1"))
	require.Contains(t, textOf(t, ctx, "section.message"), "read-only")
	eps, err := e.st.TenantEndpoints(e.ctx, e.p.ID, "acme")
	require.NoError(t, err)
	require.Empty(t, eps)

	// The portal's cookie opens neither the dashboard nor the API.
	act(t, ctx, chromedp.Navigate(e.url+"/ui/p/"+e.p.ID+"/endpoints"), chromedp.WaitReady(chromedp.CSS("body")))
	require.True(t, strings.HasPrefix(location(t, ctx), e.url+"/ui/login"), location(t, ctx))
	act(t, ctx, chromedp.Navigate(e.url+"/v1/projects/"+e.p.ID+"/endpoints"), chromedp.WaitReady(chromedp.CSS("body")))
	require.Contains(t, textOf(t, ctx, "body"), `"status":401`)

	// An expired link, and the session it opened.
	d := time.Minute
	link := e.link(t, service.PortalSessionInput{TenantID: "acme", ExpiresIn: &d})
	act(t, ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("main h1")))
	require.Equal(t, "Endpoints", textOf(t, ctx, "main h1"))
	e.now.Add(int64(2 * time.Minute))
	act(t, ctx, chromedp.Navigate(e.url+"/portal/endpoints"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	require.Equal(t, "This link has expired", textOf(t, ctx, "main h1"), "the open session ends at expires_at")
	act(t, ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("main h1")))
	require.Equal(t, "This link has expired", textOf(t, ctx, "main h1"))
}

// TestBrowserIframe: the portal renders in an iframe of an allowed origin
// and not in one of any other. A rendered page fetches its stylesheets; a
// page the browser refuses to frame fetches nothing.
func TestBrowserIframe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := func(link string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><title>Product</title><h1>Your webhooks</h1><iframe id="portal" src="%s" width="1000" height="700"></iframe>`, link)
		}))
		t.Cleanup(s.Close)
		return s
	}
	allowed := host(e.link(t, service.PortalSessionInput{TenantID: "acme"}))
	other := host(e.link(t, service.PortalSessionInput{TenantID: "acme"}))
	require.NoError(t, e.svc.SetPortalSettings(e.ctx, e.p.ID, &herald.PortalSettings{AllowedOrigins: []string{allowed.URL}}))
	ctx := chrome(t)
	const page, style = "GET /portal/endpoints iframe", "GET /portal/brand.css style"

	// Navigate returns after the load event, which waits for the iframe.
	act(t, ctx, chromedp.Navigate(other.URL), chromedp.WaitVisible(chromedp.CSS("h1")))
	testkit.WaitFor(t, "the framed page is asked for", func() bool { return e.servedCount(page) == 1 })
	require.Zero(t, e.servedCount(style), "a page framed by another origin is not rendered")

	act(t, ctx, chromedp.Navigate(allowed.URL), chromedp.WaitVisible(chromedp.CSS("h1")))
	testkit.WaitFor(t, "the portal renders in the allowed origin's iframe", func() bool { return e.servedCount(style) == 1 })
}

var update = flag.Bool("update", false, "write the portal's screenshots to docs/screenshots")

// TestScreenshots writes docs/screenshots/portal-*.png with -update: the
// portal's main pages over a day of history, for the guide.
func TestScreenshots(t *testing.T) {
	if !*update {
		t.Skip("run with -update to write docs/screenshots/portal-*.png")
	}
	e := newEnv(t)
	require.NoError(t, e.svc.SetPortalSettings(e.ctx, e.p.ID, &herald.PortalSettings{DisplayName: "Acme Shop · Webhooks", AccentColor: "#0a7f5a"}))
	ep := &herald.Endpoint{URL: "https://erp.globex.example/webhooks/acme", Description: "ERP order sync", Enabled: true, TenantID: "globex",
		EventTypes: []string{"order.paid", "order.shipped"}, RateLimit: 20, Headers: map[string]string{"X-Api-Key": "k"}}
	require.NoError(t, e.svc.CreateEndpoint(e.ctx, e.p.ID, ep))
	second := &herald.Endpoint{URL: "https://hooks.globex.example/slack", Description: "Ops channel", Enabled: true, TenantID: "globex",
		EventTypes: []string{"order.shipped"}}
	require.NoError(t, e.svc.CreateEndpoint(e.ctx, e.p.ID, second))
	failed := seed(t, e, ep)
	ctx := chrome(t)
	act(t, ctx, chromedp.Navigate(e.link(t, service.PortalSessionInput{TenantID: "globex"})), chromedp.WaitVisible(chromedp.CSS("main h1")))
	dir := filepath.Join("..", "docs", "screenshots")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, path := range map[string]string{
		"portal-endpoints.png":     "/portal/endpoints",
		"portal-endpoint.png":      "/portal/endpoints/" + ep.ID,
		"portal-endpoint-form.png": "/portal/endpoints/" + ep.ID + "/edit",
		"portal-logs.png":          "/portal/logs",
		"portal-attempt.png":       "/portal/deliveries/" + failed,
		"portal-catalog.png":       "/portal/catalog",
	} {
		act(t, ctx, chromedp.Navigate(e.url+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		cancel()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
	}
}

// seed stores a day of ep's deliveries, mostly successful, and returns a
// failed one.
func seed(t *testing.T, e *env, ep *herald.Endpoint) (failed string) {
	now := time.Now().UTC()
	var batch []*store.NewEvent
	for i := 13; i >= 0; i-- {
		at := now.Add(-time.Duration(i) * 47 * time.Minute)
		typ := []string{"order.paid", "order.shipped"}[i%2]
		ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: ep.ProjectID, TenantID: ep.TenantID, Type: typ,
			Data: json.RawMessage(fmt.Sprintf(`{"order_id":"ord_%d","amount":%d}`, 1000+i, 20+i*3)), Channels: []string{}, Metadata: map[string]string{},
			OccurredAt: at, CreatedAt: at}
		ok := i%7 != 3
		status, code, class := herald.DeliverySucceeded, 200, ""
		if !ok {
			status, code, class = herald.DeliveryExhausted, 503, herald.ErrorStatus
		}
		d := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: ep.ProjectID, TenantID: ep.TenantID, EventID: ev.ID, EndpointID: ep.ID,
			EventType: typ, Status: status, Attempts: 1, LastAttemptAt: &at, LastStatus: code, CreatedAt: at, UpdatedAt: at}
		a := &herald.Attempt{ID: herald.NewID(herald.PrefixAttempt), ProjectID: ep.ProjectID, DeliveryID: d.ID, EventID: ev.ID, EndpointID: ep.ID,
			Number: 1, Trigger: herald.TriggerScheduled, StartedAt: at, DurationMS: int64(60 + (i*53)%240), RequestURL: ep.URL,
			RequestHeaders: map[string]string{"Content-Type": "application/json", "Webhook-Id": ev.ID, "Webhook-Signature": "[redacted]",
				"Webhook-Timestamp": fmt.Sprint(at.Unix()), "X-Api-Key": "[redacted]"},
			ResponseStatus: code, ResponseHeaders: map[string]string{"Content-Type": "application/json"}, ErrorClass: class}
		if !ok {
			failed = d.ID
			a.ResponseHeaders["Retry-After"] = "30"
			a.ResponseBody = `{"error":"maintenance window","retry":true}`
		}
		batch = append(batch, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{d}, Attempts: []*herald.Attempt{a}})
	}
	_, err := e.st.InsertEvents(e.ctx, batch)
	require.NoError(t, err)
	return failed
}
