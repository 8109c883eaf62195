package ui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// browserLogin logs the browser in with key and waits for the endpoints list.
func browserLogin(t *testing.T, ctx context.Context, b *testBundle, key string) {
	t.Helper()
	step(t, ctx,
		chromedp.Navigate(b.srv.URL+"/ui/login"),
		chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), key),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS("a.button.primary")),
	)
}

// overflow returns how many CSS pixels the page is wider than the window.
func overflow(t *testing.T, ctx context.Context) int {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	n, err := chromedp.Run(sctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
	require.NoError(t, err)
	return n
}

func TestBrowserLongURLsWrapInsteadOfWideningThePage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rcv := receiver(t, 503)
	long := rcv.URL + "/hooks/" + strings.Repeat("a", 500) + "?token=" + strings.Repeat("b", 40)
	ep := b.endpoint(t, b.a.ID, long)
	ep.Name = "" // the list and headings then show the URL itself
	require.NoError(t, b.st.UpdateEndpoint(context.Background(), ep))
	ev := b.ingest(t, b.a, "user.created", `{"user_id":"u_1"}`)
	d := b.waitDelivery(t, b.a.ID, ev.ID)

	ctx := newBrowser(t)
	browserLogin(t, ctx, b, b.keyA)
	for _, path := range []string{
		"/ui/p/prj_alpha/endpoints",
		"/ui/p/prj_alpha/endpoints/" + ep.ID,
		"/ui/p/prj_alpha/endpoints/" + ep.ID + "/edit",
		"/ui/p/prj_alpha/events/" + ev.ID,
		"/ui/p/prj_alpha/deliveries/" + d.ID,
	} {
		step(t, ctx, chromedp.Navigate(b.srv.URL+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		require.LessOrEqual(t, overflow(t, ctx), 0, "%s is wider than the window", path)
	}
}

func TestBrowserTypingIntoADefaultedFieldReplacesTheDefault(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := newBrowser(t)
	browserLogin(t, ctx, b, b.keyA)
	step(t, ctx,
		chromedp.Navigate(b.srv.URL+"/ui/p/prj_alpha/endpoints/new"),
		chromedp.WaitVisible(chromedp.CSS("#endpoint-form")),
		chromedp.SendKeys(chromedp.CSS("#url"), "http://127.0.0.1:9/hooks"),
		chromedp.SendKeys(chromedp.CSS("#timeout"), "90s"),
		chromedp.SendKeys(chromedp.CSS("#max_in_flight"), "3"),
		chromedp.SendKeys(chromedp.CSS("#retry_schedule"), "1m, 1h"),
		chromedp.Click(chromedp.CSS("#endpoint-form button[type=submit]")),
	)
	// The form is refused (timeout at most 60s) and comes back with the
	// typed values, not the defaults with the typing appended.
	step(t, ctx, chromedp.WaitVisible(chromedp.CSS("#field-timeout .error")))
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	values, err := chromedp.Run(sctx, chromedp.Evaluate[map[string]string](`({
		timeout: document.querySelector("#timeout").value,
		max_in_flight: document.querySelector("#max_in_flight").value,
		retry_schedule: document.querySelector("#retry_schedule").value,
		placeholder: document.querySelector("#timeout").placeholder,
	})`))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"timeout": "90s", "max_in_flight": "3", "retry_schedule": "1m, 1h", "placeholder": "15s"}, values)
}

func TestEndpointFormShowsDefaultsAsPlaceholders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.loggedIn(t)
	p := br.get("/ui/p/prj_alpha/endpoints/new")
	require.Equal(t, http.StatusOK, p.Status)
	for id, placeholder := range map[string]string{
		"timeout": "15s", "max_in_flight": "10", "order": "0", "rate_limit": "0",
		"retry_schedule": "5s, 5m, 30m, 2h, 5h, 10h, 10h",
	} {
		block := fieldBlock(t, p.Body, "field-"+id)
		require.Contains(t, block, `value=""`, id)
		require.Contains(t, block, `placeholder="`+placeholder+`"`, id)
	}

	// Saved empty, they take the defaults; an edit of a defaulted
	// endpoint shows them as placeholders again.
	p = br.post("/ui/p/prj_alpha/endpoints/new", map[string][]string{"url": {"http://127.0.0.1:9/x"}, "enabled": {"on"}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	id := strings.TrimPrefix(p.Location, "/ui/p/prj_alpha/endpoints/")
	ep, err := b.st.GetEndpoint(context.Background(), b.a.ID, id)
	require.NoError(t, err)
	require.Equal(t, 15*time.Second, ep.Timeout.D())
	require.Equal(t, 10, ep.MaxInFlight)
	p = br.get("/ui/p/prj_alpha/endpoints/" + id + "/edit")
	require.Contains(t, fieldBlock(t, p.Body, "field-timeout"), `value=""`)
}

func TestEndpointOutsideItsValidityPeriodIsNotShownHealthy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now().UTC()
	future, past := now.Add(48*time.Hour), now.Add(-time.Hour)
	scheduled := b.endpoint(t, b.a.ID, "http://127.0.0.1:9/scheduled")
	scheduled.Name, scheduled.ActiveFrom = "Scheduled one", &future
	require.NoError(t, b.st.UpdateEndpoint(context.Background(), scheduled))
	expired := b.endpoint(t, b.a.ID, "http://127.0.0.1:9/expired")
	expired.Name, expired.ActiveUntil = "Expired one", &past
	require.NoError(t, b.st.UpdateEndpoint(context.Background(), expired))
	current := b.endpoint(t, b.a.ID, "http://127.0.0.1:9/current")
	current.Name, current.ActiveUntil = "Current one", &future
	require.NoError(t, b.st.UpdateEndpoint(context.Background(), current))

	br := b.loggedIn(t)
	p := br.get("/ui/p/prj_alpha/endpoints")
	require.Equal(t, http.StatusOK, p.Status)
	row := func(name string) string {
		i := strings.Index(p.Body, name)
		require.GreaterOrEqual(t, i, 0, name)
		start := strings.LastIndex(p.Body[:i], "<tr>")
		return p.Body[start:i]
	}
	require.Contains(t, row("Scheduled one"), ">scheduled</span>")
	require.NotContains(t, row("Scheduled one"), "healthy")
	require.Contains(t, row("Expired one"), ">expired</span>")
	require.NotContains(t, row("Expired one"), "healthy")
	require.Contains(t, row("Current one"), ">healthy</span>")

	p = br.get("/ui/p/prj_alpha/endpoints/" + scheduled.ID)
	require.Contains(t, p.Body, ">scheduled</span></h1>")
	require.Contains(t, p.Body, "receives events from "+future.Format("2006-01-02 15:04:05"))
	p = br.get("/ui/p/prj_alpha/endpoints/" + expired.ID)
	require.Contains(t, p.Body, ">expired</span></h1>")
	require.NotContains(t, p.Body, ">healthy<")
}
