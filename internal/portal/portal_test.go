package portal_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/portal"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpeningLinkSetsCookieAndCleansURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	link := e.link(t, service.PortalSessionInput{TenantID: "acme"})
	b := e.browser(t)
	p := b.get(link)
	require.Equal(t, http.StatusSeeOther, p.Status)
	require.Equal(t, "/portal/endpoints", p.Header.Get("Location"), "the token does not stay in the address bar")
	c := p.Header.Get("Set-Cookie")
	require.Contains(t, c, portal.CookieName+"=hpt_")
	require.Contains(t, c, "HttpOnly")
	require.Contains(t, c, "SameSite=Lax")
	require.Contains(t, c, "Path=/portal/")

	p = b.get("/portal/endpoints")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	require.Contains(t, p.Body, "<code>acme</code>")
}

func TestEveryAnswerHasThePortalHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	check := func(p *page, ancestors string) {
		t.Helper()
		assert.Equal(t, "no-store", p.Header.Get("Cache-Control"))
		assert.Equal(t, "no-referrer", p.Header.Get("Referrer-Policy"))
		assert.Contains(t, p.Header.Get("Content-Security-Policy"), "frame-ancestors "+ancestors)
	}
	check(b.get("/portal/endpoints"), "'self'") // no session: 401
	check(b.get("/portal/nothing-here"), "'self'")
	b.open(e.link(t, service.PortalSessionInput{TenantID: "acme"}))
	for _, path := range []string{"/portal/endpoints", "/portal/endpoints/new", "/portal/catalog", "/portal/logs"} {
		p := b.get(path)
		require.Equal(t, http.StatusOK, p.Status, path)
		check(p, "'self'")
		require.NotContains(t, p.Header.Get("Content-Security-Policy"), "frame-ancestors 'self' ")
	}
	require.NoError(t, e.svc.SetPortalSettings(e.ctx, e.p.ID, &herald.PortalSettings{DisplayName: "Acme Shop", AccentColor: "#0a7f5a",
		AllowedOrigins: []string{"https://app.acme.example", "https://admin.acme.example"}}))
	p := b.get("/portal/endpoints")
	check(p, "'self' https://app.acme.example https://admin.acme.example")
	require.Contains(t, p.Body, "Acme Shop", "branding")
	css := b.get("/portal/brand.css")
	require.Contains(t, css.Body, "--accent:#0a7f5a")
}

func TestNoOrBadCookieIs401(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	p := b.get("/portal/endpoints")
	require.Equal(t, http.StatusUnauthorized, p.Status)
	require.Contains(t, p.Body, "This link is not valid")
	p = b.get("/portal/s/hpt_guessed")
	require.Equal(t, http.StatusUnauthorized, p.Status)
	u, _ := url.Parse(e.url + "/portal/")
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: portal.CookieName, Value: "hpt_forged", Path: "/portal/"}})
	require.Equal(t, http.StatusUnauthorized, b.get("/portal/logs").Status)
}

func TestExpiredLinkIs401SayingSo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := time.Minute
	link := e.link(t, service.PortalSessionInput{TenantID: "acme", ExpiresIn: &d})
	b := e.browser(t)
	opened := b.get(link)
	require.Equal(t, http.StatusSeeOther, opened.Status)
	require.Equal(t, http.StatusOK, b.get("/portal/endpoints").Status)
	// A real browser drops a cookie at its Max-Age: the cookie outlives
	// the session, or the pages below would say "not valid" instead.
	cookies, err := http.ParseSetCookie(opened.Header.Get("Set-Cookie"))
	require.NoError(t, err)
	require.Greater(t, cookies.MaxAge, int((d + portal.ExpiredNotice - time.Second).Seconds()))

	e.now.Add(int64(time.Minute))
	p := b.get("/portal/endpoints")
	require.Equal(t, http.StatusUnauthorized, p.Status, "the open session ends at expires_at")
	require.Contains(t, p.Body, "This link has expired")
	p = e.browser(t).get(link)
	require.Equal(t, http.StatusUnauthorized, p.Status, "so does the link")
	require.Contains(t, p.Body, "This link has expired")
	require.Empty(t, p.Header.Get("Location"))
}

func TestDeletingTheTenantEndsItsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.open(e.link(t, service.PortalSessionInput{TenantID: "acme"}))
	require.NoError(t, e.st.DeleteTenant(e.ctx, e.p.ID, "acme"))
	require.Equal(t, http.StatusUnauthorized, b.get("/portal/endpoints").Status)
}

// customerEndpoint creates an endpoint through the portal's form and
// returns its id.
func customerEndpoint(t *testing.T, b *browser, recvURL string, types ...string) string {
	t.Helper()
	form := url.Values{"url": {recvURL}, "description": {"Orders"}, "enabled": {"on"}, "rate_limit": {"5"},
		"headers": {"X-Api-Key: k-123"}, "auth": {"bearer"}, "bearer": {"tok-456"}, "event_types": types}
	p := b.post("/portal/endpoints/new", "/portal/endpoints/new", form)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	loc := p.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/portal/endpoints/ep_"), loc)
	return strings.TrimPrefix(loc, "/portal/endpoints/")
}

func TestCustomerCreatesEndpointReceivesEventAndReadsAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.open(e.link(t, service.PortalSessionInput{TenantID: "acme"}))
	id := customerEndpoint(t, b, e.recv.URL, "order.paid")
	ep, err := e.st.GetEndpoint(e.ctx, e.p.ID, id)
	require.NoError(t, err)
	require.Equal(t, "acme", ep.TenantID)
	require.Equal(t, []string{"order.paid"}, ep.EventTypes)
	require.Equal(t, 5, ep.RateLimit)
	require.Equal(t, "tok-456", ep.Auth.Bearer)
	require.Equal(t, "k-123", ep.Headers["X-Api-Key"])

	page := b.get("/portal/endpoints/" + id)
	require.Contains(t, page.Body, "Endpoint created")
	require.NotContains(t, page.Body, "tok-456", "credentials are never shown")
	require.NotContains(t, page.Body, "k-123")
	require.NotContains(t, html.UnescapeString(page.Body), ep.Secret, "the secret only on request")
	require.Contains(t, html.UnescapeString(b.get("/portal/endpoints/"+id+"?reveal=1").Body), ep.Secret)

	_, err = e.svc.Ingest(e.ctx, e.p, []delivery.EventInput{
		{Type: "order.paid", Data: json.RawMessage(`{"order_id":"ord_9"}`), TenantID: "acme"},
		{Type: "order.paid", Data: json.RawMessage(`{"order_id":"ord_x"}`), TenantID: "globex"},
	})
	require.NoError(t, err)
	testkit.WaitFor(t, "the event arrives", func() bool { return e.receivedCount() == 1 })
	var dlv string
	testkit.WaitFor(t, "the delivery succeeds", func() bool {
		ds, _, err := e.st.ListDeliveries(e.ctx, e.p.ID, store.DeliveryFilter{TenantID: "acme"}, page1())
		require.NoError(t, err)
		if len(ds) == 1 && ds[0].Status == herald.DeliverySucceeded {
			dlv = ds[0].ID
			return true
		}
		return false
	})
	logs := b.get("/portal/logs")
	require.Contains(t, logs.Body, "/portal/deliveries/"+dlv)
	require.NotContains(t, b.get("/portal/logs?type=order.shipped").Body, dlv, "the type filter")
	require.Contains(t, b.get("/portal/logs?status=succeeded&endpoint="+id).Body, dlv)
	require.NotContains(t, b.get("/portal/logs?status=exhausted").Body, dlv, "the status filter")

	att := b.get("/portal/deliveries/" + dlv)
	require.Equal(t, http.StatusOK, att.Status)
	require.Contains(t, att.Body, "202")
	require.Contains(t, att.Body, "X-Receiver")
	require.Contains(t, att.Body, "<th>X-Api-Key</th><td><code>[redacted]</code>")
	require.Contains(t, att.Body, "ord_9")
	require.NotContains(t, att.Body, "tok-456", "request headers are redacted")

	p := b.post("/portal/deliveries/"+dlv, "/portal/deliveries/"+dlv+"/retry", nil)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	testkit.WaitFor(t, "the retry arrives", func() bool { return e.receivedCount() == 2 })

	p = b.post("/portal/endpoints/"+id, "/portal/endpoints/"+id+"/test", url.Values{"type": {"order.paid"}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	require.Contains(t, b.get(p.Header.Get("Location")).Body, "your endpoint answered 202")

	since := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	p = b.post("/portal/endpoints/"+id, "/portal/endpoints/"+id+"/recover", url.Values{"since": {since}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
}

func TestRotateEditAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.open(e.link(t, service.PortalSessionInput{TenantID: "acme"}))
	id := customerEndpoint(t, b, e.recv.URL)
	before, err := e.st.GetEndpoint(e.ctx, e.p.ID, id)
	require.NoError(t, err)

	p := b.post("/portal/endpoints/"+id, "/portal/endpoints/"+id+"/rotate", nil)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	after, err := e.st.GetEndpoint(e.ctx, e.p.ID, id)
	require.NoError(t, err)
	require.NotEqual(t, before.Secret, after.Secret)
	require.Equal(t, before.Secret, after.PreviousSecret)
	require.Contains(t, html.UnescapeString(b.get(p.Header.Get("Location")).Body), after.Secret, "the new secret is shown")

	// Edit: the stored bearer token and header value stay when sent back
	// as shown.
	form := url.Values{"url": {e.recv.URL + "/v2"}, "enabled": {"on"}, "rate_limit": {"0"}, "headers": {"X-Api-Key: " + service.Redacted},
		"auth": {"bearer"}, "event_types": {"order.shipped"}}
	p = b.post("/portal/endpoints/"+id+"/edit", "/portal/endpoints/"+id+"/edit", form)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	edited, err := e.st.GetEndpoint(e.ctx, e.p.ID, id)
	require.NoError(t, err)
	require.Equal(t, e.recv.URL+"/v2", edited.URL)
	require.Equal(t, "tok-456", edited.Auth.Bearer)
	require.Equal(t, "k-123", edited.Headers["X-Api-Key"])
	require.Equal(t, []string{"order.shipped"}, edited.EventTypes)

	// A refused form comes back with the service's word next to the field.
	form.Set("url", "ftp://nope")
	p = b.post("/portal/endpoints/"+id+"/edit", "/portal/endpoints/"+id+"/edit", form)
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Contains(t, p.Body, `class="field-error"`)

	p = b.post("/portal/endpoints/"+id, "/portal/endpoints/"+id+"/delete", nil)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	_, err = e.st.GetEndpoint(e.ctx, e.p.ID, id)
	require.True(t, herald.IsNotFound(err))
}

func TestSessionEventTypesLimitTheForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.open(e.link(t, service.PortalSessionInput{TenantID: "acme", EventTypes: []string{"order.paid"}}))
	form := b.get("/portal/endpoints/new").Body
	require.Contains(t, form, `value="order.paid"`)
	require.NotContains(t, form, `value="order.shipped"`)
	require.NotContains(t, b.get("/portal/catalog").Body, "order.shipped")

	p := b.post("/portal/endpoints/new", "/portal/endpoints/new", url.Values{"url": {e.recv.URL}, "enabled": {"on"}, "event_types": {"order.shipped"}})
	require.Equal(t, http.StatusUnprocessableEntity, p.Status, "a type the session does not offer, posted by hand")
	eps, err := e.st.TenantEndpoints(e.ctx, e.p.ID, "acme")
	require.NoError(t, err)
	require.Empty(t, eps)
}

func TestAnotherTenantsIDsAre404(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// globex's endpoint and delivery, and a project-wide one.
	other := &herald.Endpoint{URL: e.recv.URL, Enabled: true, TenantID: "globex"}
	require.NoError(t, e.svc.CreateEndpoint(e.ctx, e.p.ID, other))
	wide := &herald.Endpoint{URL: e.recv.URL, Enabled: true}
	require.NoError(t, e.svc.CreateEndpoint(e.ctx, e.p.ID, wide))
	_, err := e.svc.Ingest(e.ctx, e.p, []delivery.EventInput{{Type: "order.paid", Data: json.RawMessage(`{}`), TenantID: "globex"}})
	require.NoError(t, err)
	var dlvs []string
	testkit.WaitFor(t, "two deliveries", func() bool {
		ds, _, err := e.st.ListDeliveries(e.ctx, e.p.ID, store.DeliveryFilter{}, page1())
		require.NoError(t, err)
		dlvs = dlvs[:0]
		for _, d := range ds {
			dlvs = append(dlvs, d.ID)
		}
		return len(ds) == 2
	})

	b := e.browser(t)
	b.open(e.link(t, service.PortalSessionInput{TenantID: "acme"}))
	for _, id := range []string{other.ID, wide.ID} {
		require.Equal(t, http.StatusNotFound, b.get("/portal/endpoints/"+id).Status)
		require.Equal(t, http.StatusNotFound, b.get("/portal/endpoints/"+id+"/edit").Status)
		for _, action := range []string{"delete", "rotate", "test", "edit"} {
			p := b.post("/portal/endpoints/new", "/portal/endpoints/"+id+"/"+action, url.Values{"url": {"https://evil.example"}, "since": {"2026-01-01T00:00"}})
			require.Equal(t, http.StatusNotFound, p.Status, action)
		}
		p := b.post("/portal/endpoints/new", "/portal/endpoints/"+id+"/recover", url.Values{"since": {"2026-01-01T00:00"}})
		require.Equal(t, http.StatusNotFound, p.Status)
	}
	for _, id := range dlvs {
		require.Equal(t, http.StatusNotFound, b.get("/portal/deliveries/"+id).Status)
		require.Equal(t, http.StatusNotFound, b.post("/portal/endpoints/new", "/portal/deliveries/"+id+"/retry", nil).Status)
		require.NotContains(t, b.get("/portal/logs").Body, id)
	}
	require.NotContains(t, b.get("/portal/logs?endpoint="+other.ID).Body, "/portal/deliveries/")

	// Another project's tenant of the same id is another customer.
	p2 := &herald.Project{ID: "forum", Name: "Forum"}
	_, err = e.svc.CreateProject(e.ctx, p2)
	require.NoError(t, err)
	theirs := &herald.Endpoint{URL: e.recv.URL, Enabled: true, TenantID: "acme"}
	require.NoError(t, e.svc.CreateEndpoint(e.ctx, p2.ID, theirs))
	require.Equal(t, http.StatusNotFound, b.get("/portal/endpoints/"+theirs.ID).Status)
	require.Equal(t, http.StatusNotFound, b.post("/portal/endpoints/new", "/portal/endpoints/"+theirs.ID+"/rotate", nil).Status)
	require.NotContains(t, b.get("/portal/endpoints").Body, theirs.ID)
	_, err = e.st.GetEndpoint(e.ctx, e.p.ID, other.ID)
	require.NoError(t, err, "still there")
}

func TestReadOnlySessionSeesButCannotChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ep := &herald.Endpoint{URL: e.recv.URL, Enabled: true, TenantID: "acme"}
	require.NoError(t, e.svc.CreateEndpoint(e.ctx, e.p.ID, ep))
	writer := e.browser(t)
	writer.open(e.link(t, service.PortalSessionInput{TenantID: "acme"}))
	token := writer.csrf("/portal/endpoints/" + ep.ID)

	b := e.browser(t)
	b.open(e.link(t, service.PortalSessionInput{TenantID: "acme", ReadOnly: true}))
	for _, path := range []string{"/portal/endpoints", "/portal/endpoints/" + ep.ID, "/portal/catalog", "/portal/logs"} {
		p := b.get(path)
		require.Equal(t, http.StatusOK, p.Status, path)
		require.NotContains(t, p.Body, `method="post"`, "no form on %s", path)
		require.Contains(t, p.Body, "Read-only")
	}
	require.Contains(t, html.UnescapeString(b.get("/portal/endpoints/"+ep.ID+"?reveal=1").Body), ep.Secret, "seeing includes the secret")
	require.Equal(t, http.StatusForbidden, b.get("/portal/endpoints/new").Status)
	require.Equal(t, http.StatusForbidden, b.get("/portal/endpoints/"+ep.ID+"/edit").Status)
	for _, action := range []string{"/portal/endpoints/new", "/portal/endpoints/" + ep.ID + "/delete", "/portal/endpoints/" + ep.ID + "/rotate", "/portal/endpoints/" + ep.ID + "/edit"} {
		// Even with a token of a writable session.
		p := b.do("POST", action, url.Values{"csrf": {token}, "url": {e.recv.URL}})
		require.Equal(t, http.StatusForbidden, p.Status, action)
		require.Contains(t, p.Body, "read-only")
	}
	got, err := e.st.GetEndpoint(e.ctx, e.p.ID, ep.ID)
	require.NoError(t, err)
	require.Equal(t, ep.Secret, got.Secret)
}

func TestFormsNeedTheSessionsCSRFToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.open(e.link(t, service.PortalSessionInput{TenantID: "acme"}))
	other := e.browser(t)
	other.open(e.link(t, service.PortalSessionInput{TenantID: "acme"}))
	foreign := other.csrf("/portal/endpoints/new")
	form := url.Values{"url": {e.recv.URL}, "enabled": {"on"}}
	require.Equal(t, http.StatusForbidden, b.do("POST", "/portal/endpoints/new", form).Status, "no token")
	form.Set("csrf", foreign)
	require.Equal(t, http.StatusForbidden, b.do("POST", "/portal/endpoints/new", form).Status, "another session's token")
	eps, err := e.st.TenantEndpoints(e.ctx, e.p.ID, "acme")
	require.NoError(t, err)
	require.Empty(t, eps)
}

func TestPortalCookieOpensNeitherDashboardNorAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	link := e.link(t, service.PortalSessionInput{TenantID: "acme"})
	b := e.browser(t)
	b.open(link)
	token := link[strings.LastIndex(link, "/")+1:]
	// The browser would not even send the cookie (Path=/portal/); send it
	// by hand, and the token as a key.
	b.header.Set("Cookie", portal.CookieName+"="+token)
	for _, path := range []string{"/ui/", "/ui/p/" + e.p.ID + "/endpoints", "/ui/projects"} {
		p := b.get(path)
		require.NotEqual(t, http.StatusOK, p.Status, path)
		if p.Status == http.StatusSeeOther || p.Status == http.StatusFound {
			require.Contains(t, p.Header.Get("Location"), "/ui/login", path)
		}
	}
	for _, path := range []string{"/v1/projects/" + e.p.ID + "/endpoints", "/v1/projects/" + e.p.ID, "/v1/projects"} {
		require.Equal(t, http.StatusUnauthorized, b.get(path).Status, path)
	}
	b.header.Set("Authorization", "Bearer "+token)
	require.Equal(t, http.StatusUnauthorized, b.get("/v1/projects/"+e.p.ID+"/endpoints").Status)
}

func TestLocaleFromSessionElseBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.open(e.link(t, service.PortalSessionInput{TenantID: "acme"}))
	require.Contains(t, b.get("/portal/endpoints").Body, "Add endpoint")
	b.header.Set("Accept-Language", "de-DE, fr-CA;q=0.8, en;q=0.5")
	p := b.get("/portal/endpoints")
	require.Contains(t, p.Body, "Ajouter un point de terminaison")
	require.Contains(t, p.Body, `<html lang="fr">`)

	ru := e.browser(t)
	ru.header.Set("Accept-Language", "fr")
	ru.open(e.link(t, service.PortalSessionInput{TenantID: "acme", Locale: "ru"}))
	require.Contains(t, ru.get("/portal/endpoints").Body, "Добавить эндпоинт", "the session's locale wins")
	// The expired page speaks the browser's language too.
	x := e.browser(t)
	x.header.Set("Accept-Language", "ru")
	require.Contains(t, x.get("/portal/endpoints").Body, "Ссылка недействительна")
}

func page1() store.Page { return store.Page{Limit: 100} }

func TestHostileInputIs4xx(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.open(e.link(t, service.PortalSessionInput{TenantID: "acme"}))
	id := customerEndpoint(t, b, e.recv.URL)
	for path, want := range map[string]int{
		"/portal/logs?cursor=%00garbage":                 0, // a 4xx, or an empty page
		"/portal/logs?status=%3Cscript%3E&type=x%00":     http.StatusOK,
		"/portal/endpoints/..%2F..%2Fui":                 http.StatusNotFound,
		"/portal/endpoints/" + strings.Repeat("x", 5000): http.StatusNotFound,
		"/portal/deliveries/dlv_nope":                    http.StatusNotFound,
		"/portal/static/../portal.go":                    0, // cleaned and redirected, then 404
	} {
		p := b.get(path)
		if want == 0 {
			require.Less(t, p.Status, 500, path)
		} else {
			require.Equal(t, want, p.Status, path)
		}
		require.NotContains(t, p.Body, "<script>", path)
	}
	for form, want := range map[string]int{
		"since=yesterday":        http.StatusBadRequest,
		"since=2999-01-01T00:00": http.StatusBadRequest,
	} {
		v, _ := url.ParseQuery(form)
		p := b.post("/portal/endpoints/"+id, "/portal/endpoints/"+id+"/recover", v)
		require.Equal(t, want, p.Status, form)
	}
	p := b.post("/portal/endpoints/"+id, "/portal/endpoints/"+id+"/test", url.Values{"type": {"not a type!"}})
	require.Equal(t, http.StatusBadRequest, p.Status)
	// A body over the limit is refused, not read.
	big := url.Values{"headers": {strings.Repeat("X-A: b\n", 100000)}}
	p = b.post("/portal/endpoints/new", "/portal/endpoints/new", big)
	require.Equal(t, http.StatusForbidden, p.Status)
}
