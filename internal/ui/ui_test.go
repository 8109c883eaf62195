package ui_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/ui"
	"github.com/stretchr/testify/require"
)

// testBundle is a dashboard over a real SQLite store and a running engine,
// served on loopback, with two projects and their keys.
type testBundle struct {
	st       *sqlite.DB
	eng      *delivery.Engine
	srv      *httptest.Server
	adminKey string
	a, b     *herald.Project
	keyA     string
	keyB     string
	logger   *slog.Logger
	// skew moves the dashboard's clock forward (session expiry); frozen,
	// when not zero, stops it at that Unix time in nanoseconds.
	skew   atomic.Int64
	frozen atomic.Int64
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := delivery.New(delivery.Config{AllowPrivateNetworks: true, Logger: logger, PollInterval: 50 * time.Millisecond}, st)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	b := &testBundle{st: st, eng: eng, logger: logger}
	b.adminKey = herald.NewKey(herald.AdminKeyPrefix)
	b.a, b.keyA = b.project(t, "prj_alpha", "Alpha shop")
	b.b, b.keyB = b.project(t, "prj_beta", "Beta forum")
	b.srv = b.serve(t, herald.HashKey(b.adminKey))
	return b
}

// serve starts a dashboard over the bundle's store whose admin key has
// the hash adminHash, authenticating keys as the API does; edit may change
// its configuration.
func (b *testBundle) serve(t *testing.T, adminHash string, edit ...func(*ui.Config)) *httptest.Server {
	t.Helper()
	now := func() time.Time {
		now := time.Now()
		if f := b.frozen.Load(); f != 0 {
			now = time.Unix(0, f)
		}
		return now.Add(time.Duration(b.skew.Load()))
	}
	svc, err := service.New(service.Config{Store: b.st, Engine: b.eng, Guard: netguard.New(true, nil), AdminKeyHash: adminHash, Now: now})
	require.NoError(t, err)
	cfg := ui.Config{Store: b.st, Service: svc, Logger: b.logger, Now: now, AdminKeyHash: adminHash}
	for _, e := range edit {
		e(&cfg)
	}
	h, err := ui.New(cfg)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/ui/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func (b *testBundle) project(t *testing.T, id, name string) (*herald.Project, string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	p := &herald.Project{ID: id, Name: name, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, b.st.CreateProject(ctx, p))
	key := herald.NewKey(herald.ProjectKeyPrefix)
	require.NoError(t, b.st.CreateAPIKey(ctx, &herald.APIKey{ID: herald.NewID(herald.PrefixKey), ProjectID: id, Hash: herald.HashKey(key), Prefix: key[:6], CreatedAt: now}))
	return p, key
}

// endpoint stores an endpoint of the project directly.
func (b *testBundle) endpoint(t *testing.T, projectID, target string) *herald.Endpoint {
	t.Helper()
	now := time.Now().UTC()
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: projectID, URL: target, Name: "receiver",
		Enabled: true, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: now, UpdatedAt: now}
	ep.SetDefaults()
	ep.RetrySchedule = []herald.Duration{herald.Duration(time.Hour)}
	require.NoError(t, b.st.CreateEndpoint(context.Background(), ep))
	b.eng.EndpointsChanged(projectID)
	return ep
}

// browser is a cookie-keeping HTTP client that does not follow redirects,
// so tests see each response.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string // from the last page that had a form
}

func (b *testBundle) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, base: b.srv.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// loggedIn returns a browser logged in with project alpha's key.
func (b *testBundle) loggedIn(t *testing.T) *browser {
	t.Helper()
	br := b.browser(t)
	br.login(b.keyA)
	return br
}

type page struct {
	Status   int
	Body     string
	Location string
	Resp     *http.Response
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (br *browser) do(req *http.Request) *page {
	br.t.Helper()
	resp, err := br.c.Do(req)
	require.NoError(br.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(br.t, err)
	p := &page{Status: resp.StatusCode, Body: string(body), Location: resp.Header.Get("Location"), Resp: resp}
	if m := csrfField.FindStringSubmatch(p.Body); m != nil {
		br.csrf = m[1]
	}
	return p
}

func (br *browser) get(path string) *page {
	br.t.Helper()
	req, err := http.NewRequest(http.MethodGet, br.base+path, nil)
	require.NoError(br.t, err)
	return br.do(req)
}

// follow GETs the redirect target of p.
func (br *browser) follow(p *page) *page {
	br.t.Helper()
	require.Equal(br.t, http.StatusSeeOther, p.Status, "expected a redirect: %s", p.Body)
	return br.get(p.Location)
}

// post sends a form with the current CSRF token unless the form has one.
func (br *browser) post(path string, form url.Values) *page {
	br.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && br.csrf != "" {
		form.Set("csrf", br.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, br.base+path, strings.NewReader(form.Encode()))
	require.NoError(br.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return br.do(req)
}

func (br *browser) login(key string) *page {
	br.t.Helper()
	br.get("/ui/login")
	p := br.post("/ui/login", url.Values{"key": {key}})
	require.Equal(br.t, http.StatusSeeOther, p.Status, p.Body)
	return br.follow(p)
}

// fieldBlock returns the HTML of the form field div with the id.
func fieldBlock(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	require.GreaterOrEqual(t, i, 0, "no element %s", id)
	rest := body[i:]
	if j := strings.Index(rest, `<div class="field`); j > 0 {
		rest = rest[:j]
	}
	if j := strings.Index(rest, `</fieldset>`); j > 0 {
		rest = rest[:j]
	}
	return rest
}

func TestLoginWithProjectKeyOpensItsProject(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	p := br.login(b.keyA)
	require.Equal(t, http.StatusOK, p.Status)
	require.Equal(t, "/ui/p/prj_alpha/endpoints", p.Resp.Request.URL.Path)
	require.Contains(t, p.Body, "Alpha shop")
	require.NotContains(t, p.Body, b.keyA)
}

func TestLoginRefusesUnknownKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	p := br.post("/ui/login", url.Values{"key": {"hk_not_a_key"}})
	require.Equal(t, http.StatusUnauthorized, p.Status)
	require.Contains(t, p.Body, "This key is not valid.")
	require.NotContains(t, p.Body, "hk_not_a_key", "the key typed is not echoed")
	for _, c := range p.Resp.Cookies() {
		require.NotEqual(t, "herald_session", c.Name)
	}
	// Without a session, pages send the visitor to the login page.
	p = br.get("/ui/p/prj_alpha/endpoints")
	require.Equal(t, http.StatusSeeOther, p.Status)
	require.True(t, strings.HasPrefix(p.Location, "/ui/login"), p.Location)
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "herald_session" {
			return c
		}
	}
	t.Fatal("no session cookie set")
	return nil
}

func TestSessionCookieIsHttpOnlyStrictAndHoldsNoKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	p := br.post("/ui/login", url.Values{"key": {b.keyA}})
	require.Equal(t, http.StatusSeeOther, p.Status)
	c := sessionCookie(t, p.Resp)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.Equal(t, "/ui", c.Path)
	require.False(t, c.Secure, "plain HTTP request")
	require.Equal(t, int((12 * time.Hour).Seconds()), c.MaxAge)
	payload, _, _ := strings.Cut(c.Value, ".")
	claims, err := base64.RawURLEncoding.DecodeString(payload)
	require.NoError(t, err)
	require.NotContains(t, string(claims), b.keyA)
	require.NotContains(t, c.Value, b.keyA)
	require.Contains(t, string(claims), "prj_alpha")
}

func TestSessionCookieIsSecureBehindTLSProxy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/ui/login", strings.NewReader(url.Values{"key": {b.keyA}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.True(t, sessionCookie(t, resp).Secure)
}

func TestTamperedSessionCookieIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	p := br.post("/ui/login", url.Values{"key": {b.keyA}})
	c := sessionCookie(t, p.Resp)
	// Claim admin with the project's signature.
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"a":true,"e":9999999999,"n":"x"}`))
	_, sig, _ := strings.Cut(c.Value, ".")
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+"/ui/projects", nil)
	req.AddCookie(&http.Cookie{Name: "herald_session", Value: forged + "." + sig})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/ui/login"))
}

func TestPostWithoutOrWithWrongCSRFTokenIsForbidden(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, b.a.ID, "http://127.0.0.1:1/hook")
	br := b.loggedIn(t)
	path := "/ui/p/prj_alpha/endpoints/" + ep.ID + "/disable"

	p := br.post(path, url.Values{"csrf": {""}})
	require.Equal(t, http.StatusForbidden, p.Status)
	p = br.post(path, url.Values{"csrf": {base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))}})
	require.Equal(t, http.StatusForbidden, p.Status)

	stored, err := b.st.GetEndpoint(context.Background(), b.a.ID, ep.ID)
	require.NoError(t, err)
	require.True(t, stored.Enabled, "refused posts change nothing")

	// A token from another session does not pass either.
	other := b.browser(t)
	other.login(b.keyA)
	p = br.post(path, url.Values{"csrf": {other.csrf}})
	require.Equal(t, http.StatusForbidden, p.Status)

	// The right token does.
	br.get("/ui/p/prj_alpha/endpoints/" + ep.ID)
	p = br.post(path, nil)
	require.Equal(t, http.StatusSeeOther, p.Status)
	stored, err = b.st.GetEndpoint(context.Background(), b.a.ID, ep.ID)
	require.NoError(t, err)
	require.False(t, stored.Enabled)
}

func TestCrossSitePostIsForbidden(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, b.a.ID, "http://127.0.0.1:1/hook")
	br := b.loggedIn(t)
	for _, hdr := range [][2]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}} {
		form := url.Values{"csrf": {br.csrf}}
		req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/ui/p/prj_alpha/endpoints/"+ep.ID+"/delete", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(hdr[0], hdr[1])
		p := br.do(req)
		require.Equal(t, http.StatusForbidden, p.Status, hdr[0])
	}
	_, err := b.st.GetEndpoint(context.Background(), b.a.ID, ep.ID)
	require.NoError(t, err, "the endpoint is not deleted")
}

func TestProjectKeyCannotSeeAnotherProject(t *testing.T) {
	t.Parallel()
	b := setup(t)
	epB := b.endpoint(t, b.b.ID, "http://127.0.0.1:1/hook")
	br := b.loggedIn(t)
	for _, path := range []string{
		"/ui/p/prj_beta/endpoints",
		"/ui/p/prj_beta/endpoints/" + epB.ID,
		"/ui/p/prj_beta/events",
		"/ui/p/prj_alpha/endpoints/" + epB.ID, // B's endpoint through A's path
		"/ui/p/prj_nope/endpoints",
	} {
		p := br.get(path)
		require.Equal(t, http.StatusNotFound, p.Status, path)
		require.NotContains(t, p.Body, epB.ID)
	}
	p := br.post("/ui/p/prj_beta/endpoints/"+epB.ID+"/delete", nil)
	require.Equal(t, http.StatusNotFound, p.Status)
	_, err := b.st.GetEndpoint(context.Background(), b.b.ID, epB.ID)
	require.NoError(t, err)
	// Nor the admin's project list.
	p = br.get("/ui/projects")
	require.Equal(t, http.StatusSeeOther, p.Status)
	require.Equal(t, "/ui/p/prj_alpha/endpoints", p.Location)
}

func TestAdminPicksAProject(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.endpoint(t, b.b.ID, "http://127.0.0.1:1/beta-hook")
	br := b.browser(t)
	p := br.login(b.adminKey)
	require.Equal(t, "/ui/projects", p.Resp.Request.URL.Path)
	require.Contains(t, p.Body, "Alpha shop")
	require.Contains(t, p.Body, `href="/ui/p/prj_beta/endpoints"`)
	p = br.get("/ui/p/prj_beta/endpoints")
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, "http://127.0.0.1:1/beta-hook")
}

func TestSessionExpiresAfter12Hours(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.loggedIn(t)
	b.skew.Store(int64(11 * time.Hour))
	require.Equal(t, http.StatusOK, br.get("/ui/p/prj_alpha/endpoints").Status)
	b.skew.Store(int64(12*time.Hour + time.Minute))
	p := br.get("/ui/p/prj_alpha/endpoints")
	require.Equal(t, http.StatusSeeOther, p.Status)
	require.True(t, strings.HasPrefix(p.Location, "/ui/login"))
}

func TestLoginReturnsToTheRequestedPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	p := br.follow(br.get("/ui/p/prj_alpha/event-types"))
	require.Contains(t, p.Body, `name="next" value="/ui/p/prj_alpha/event-types"`)
	p = br.post("/ui/login", url.Values{"key": {b.keyA}, "next": {"/ui/p/prj_alpha/event-types"}})
	require.Equal(t, "/ui/p/prj_alpha/event-types", p.Location)
	// Only paths inside the dashboard: no open redirect.
	p = br.post("/ui/login", url.Values{"key": {b.keyA}, "next": {"//evil.example/ui/"}})
	require.Equal(t, "/ui/p/prj_alpha/endpoints", p.Location)
}

func TestOversizedFormIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.loggedIn(t)
	form := fullEndpointForm()
	form.Set("description", strings.Repeat("x", 2<<20))
	p := br.post("/ui/p/prj_alpha/endpoints/new", form)
	require.Equal(t, http.StatusRequestEntityTooLarge, p.Status)
}

func TestLogoutEndsTheSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.loggedIn(t)
	p := br.post("/ui/logout", nil)
	require.Equal(t, http.StatusSeeOther, p.Status)
	p = br.get("/ui/p/prj_alpha/endpoints")
	require.Equal(t, http.StatusSeeOther, p.Status)
}

// revokedNotice is the start of the login page's message for a session
// whose key is gone.
const revokedNotice = "Your session has ended: the API key you logged in with was revoked"

// requireSentToLoginWithNotice checks that p redirects to the login page,
// which then says why.
func requireSentToLoginWithNotice(t *testing.T, br *browser, p *page) {
	t.Helper()
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	require.True(t, strings.HasPrefix(p.Location, "/ui/login"), p.Location)
	p = br.follow(p)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, revokedNotice)
	require.Contains(t, p.Body, `id="key"`, "the login form")
}

func TestRevokingAKeyEndsItsSessions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ep := b.endpoint(t, b.a.ID, "http://127.0.0.1:1/hook")
	keyA2 := herald.NewKey(herald.ProjectKeyPrefix)
	require.NoError(t, b.st.CreateAPIKey(ctx, &herald.APIKey{ID: herald.NewID(herald.PrefixKey), ProjectID: b.a.ID,
		Hash: herald.HashKey(keyA2), Prefix: keyA2[:6], CreatedAt: time.Now()}))
	posting, revoked, kept := b.loggedIn(t), b.loggedIn(t), b.browser(t)
	kept.login(keyA2)

	k, err := b.st.GetAPIKeyByHash(ctx, herald.HashKey(b.keyA))
	require.NoError(t, err)
	require.NoError(t, b.st.DeleteAPIKey(ctx, b.a.ID, k.ID))

	// A form posted with the session is refused and changes nothing.
	p := posting.post("/ui/p/prj_alpha/endpoints/"+ep.ID+"/disable", nil)
	require.Equal(t, http.StatusUnauthorized, p.Status)
	require.Contains(t, p.Body, revokedNotice)
	stored, err := b.st.GetEndpoint(ctx, b.a.ID, ep.ID)
	require.NoError(t, err)
	require.True(t, stored.Enabled)
	// A page sends it to the login page, which says why, once: the
	// session cookie is gone.
	requireSentToLoginWithNotice(t, revoked, revoked.get("/ui/p/prj_alpha/endpoints"))
	p = revoked.follow(revoked.get("/ui/p/prj_alpha/endpoints"))
	require.NotContains(t, p.Body, revokedNotice)
	// The revoked key cannot log in again; the project's other key's
	// session goes on.
	p = revoked.post("/ui/login", url.Values{"key": {b.keyA}})
	require.Equal(t, http.StatusUnauthorized, p.Status)
	require.Equal(t, http.StatusOK, kept.get("/ui/p/prj_alpha/endpoints").Status)
}

func TestDeletingAProjectEndsItsSessions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	home, login := b.browser(t), b.browser(t)
	home.login(b.keyB)
	login.login(b.keyB)
	require.NoError(t, b.st.DeleteProject(context.Background(), b.b.ID))
	requireSentToLoginWithNotice(t, home, home.get("/ui/"))
	// The login page itself, which would otherwise skip to the project.
	requireSentToLoginWithNotice(t, login, login.get("/ui/login"))
}

func TestANewAdminKeyEndsTheOldKeysSessions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	br.login(b.adminKey)
	// A restart with another admin key (HERALD_ADMIN_KEY): the same
	// database, so the same session secret.
	newKey := herald.NewKey(herald.AdminKeyPrefix)
	restarted := b.serve(t, herald.HashKey(newKey))
	require.Equal(t, http.StatusOK, br.get("/ui/projects").Status, "the old server still has the old key")
	br.base = restarted.URL
	requireSentToLoginWithNotice(t, br, br.get("/ui/projects"))
	p := br.login(newKey)
	require.Equal(t, "/ui/projects", p.Resp.Request.URL.Path)
}

func TestAdminCannotLogInWhenTheDashboardLacksTheAdminKeyHash(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := b.serve(t, herald.HashKey(b.adminKey), func(c *ui.Config) { c.AdminKeyHash = "" })
	br := b.browser(t)
	br.base = srv.URL
	p := br.post("/ui/login", url.Values{"key": {b.adminKey}})
	require.Equal(t, http.StatusForbidden, p.Status)
	require.Contains(t, p.Body, "not configured with it")
	for _, c := range p.Resp.Cookies() {
		require.NotEqual(t, "herald_session", c.Name)
	}
	// Project keys are not affected.
	require.Equal(t, http.StatusOK, br.login(b.keyA).Status)
}

// tryKey posts key to the login form.
func (br *browser) tryKey(key string) *page {
	br.t.Helper()
	return br.post("/ui/login", url.Values{"key": {key}})
}

func TestFailedLoginsAreLimitedPerClientAddress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.frozen.Store(time.Now().UnixNano())
	br := b.browser(t)
	for i := range 10 {
		require.Equal(t, http.StatusUnauthorized, br.tryKey("hk_wrong").Status, "failure %d", i+1)
	}
	p := br.tryKey("hk_wrong")
	require.Equal(t, http.StatusTooManyRequests, p.Status)
	require.Equal(t, "6", p.Resp.Header.Get("Retry-After"))
	require.Contains(t, p.Body, "Too many failed logins from your address. Try again in 6 s.")
	require.Contains(t, p.Body, `id="key"`, "the login form")
	// Over the limit a good key is refused too: answering it would let
	// guessing go on.
	require.Equal(t, http.StatusTooManyRequests, br.tryKey(b.keyA).Status)

	// Another address is counted apart.
	other := b.browserFrom(t, "127.0.0.2")
	require.Equal(t, http.StatusUnauthorized, other.tryKey("hk_wrong").Status)
	require.Equal(t, http.StatusSeeOther, other.tryKey(b.keyA).Status)

	// One more failure each 6 s.
	b.skew.Add(int64(6 * time.Second))
	require.Equal(t, http.StatusUnauthorized, br.tryKey("hk_wrong").Status)
	require.Equal(t, http.StatusTooManyRequests, br.tryKey("hk_wrong").Status)
	b.skew.Add(int64(6 * time.Second))
	require.Equal(t, http.StatusSeeOther, br.tryKey(b.keyA).Status)
}

func TestSuccessfulLoginsAreNotCounted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.frozen.Store(time.Now().UnixNano())
	br := b.browser(t)
	for range 9 {
		require.Equal(t, http.StatusUnauthorized, br.tryKey("hk_wrong").Status)
	}
	for range 20 {
		require.Equal(t, http.StatusSeeOther, br.tryKey(b.keyA).Status)
	}
	// The tenth failure is still allowed, the eleventh is not.
	require.Equal(t, http.StatusUnauthorized, br.tryKey("hk_wrong").Status)
	require.Equal(t, http.StatusTooManyRequests, br.tryKey("hk_wrong").Status)
}

// browserFrom is a browser whose connections come from the loopback
// address ip (Linux answers on all of 127.0.0.0/8); the test skips where
// that address cannot be used.
func (b *testBundle) browserFrom(t *testing.T, ip string) *browser {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err := d.Dial("tcp", b.srv.Listener.Addr().String())
	if err != nil {
		t.Skipf("cannot connect from %s: %v", ip, err)
	}
	conn.Close()
	br := b.browser(t)
	br.c.Transport = &http.Transport{DialContext: d.DialContext}
	return br
}

func fullEndpointForm() url.Values {
	return url.Values{
		"name": {"Billing"}, "description": {"Invoices to the ERP"}, "url": {"http://127.0.0.1:9/billing"},
		"event_types": {"order.paid\nuser.*"}, "channels": {"acct_42, acct_7"}, "filter": {"data.amount > 100"},
		"enabled": {"on"}, "active_from": {"2026-01-01T00:00"}, "active_until": {"2099-01-01T12:30"},
		"order": {"3"}, "timeout": {"20s"}, "response_mode": {"data"}, "failure_policy": {"fail_open"},
		"retry_schedule": {"10s, 1m, 1h"}, "rate_limit": {"5"}, "max_in_flight": {"4"}, "ordered": {"on"},
		"body_template": {"{t: .type}"}, "basic_username": {"erp"}, "basic_password": {"s3cret-pw"},
		"headers": {"X-Tenant: acme\nX-Env: prod"}, "metadata": {"team=payments\nowner=ops"},
	}
}

func TestEndpointFormCreatesEndpointWithEveryField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.loggedIn(t)
	require.Equal(t, http.StatusOK, br.get("/ui/p/prj_alpha/endpoints/new").Status)
	p := br.post("/ui/p/prj_alpha/endpoints/new", fullEndpointForm())
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	id := strings.TrimPrefix(p.Location, "/ui/p/prj_alpha/endpoints/")
	ep, err := b.st.GetEndpoint(context.Background(), b.a.ID, id)
	require.NoError(t, err)

	require.Equal(t, "Billing", ep.Name)
	require.Equal(t, "Invoices to the ERP", ep.Description)
	require.Equal(t, "http://127.0.0.1:9/billing", ep.URL)
	require.Equal(t, []string{"order.paid", "user.*"}, ep.EventTypes)
	require.Equal(t, []string{"acct_42", "acct_7"}, ep.Channels)
	require.Equal(t, "data.amount > 100", ep.Filter)
	require.True(t, ep.Enabled)
	require.Equal(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ep.ActiveFrom.UTC())
	require.Equal(t, time.Date(2099, 1, 1, 12, 30, 0, 0, time.UTC), ep.ActiveUntil.UTC())
	require.Equal(t, 3, ep.Order)
	require.Equal(t, 20*time.Second, ep.Timeout.D())
	require.Equal(t, herald.ResponseData, ep.ResponseMode)
	require.Equal(t, herald.FailOpen, ep.FailurePolicy)
	require.Equal(t, []herald.Duration{herald.Duration(10 * time.Second), herald.Duration(time.Minute), herald.Duration(time.Hour)}, ep.RetrySchedule)
	require.Equal(t, 5, ep.RateLimit)
	require.Equal(t, 4, ep.MaxInFlight)
	require.True(t, ep.Ordered)
	require.Equal(t, "{t: .type}", ep.BodyTemplate)
	require.Equal(t, &herald.Auth{Basic: &herald.BasicAuth{Username: "erp", Password: "s3cret-pw"}}, ep.Auth)
	require.Equal(t, map[string]string{"X-Tenant": "acme", "X-Env": "prod"}, ep.Headers)
	require.Equal(t, map[string]string{"team": "payments", "owner": "ops"}, ep.Metadata)
	require.True(t, strings.HasPrefix(ep.Secret, "whsec_"))

	// The list shows it, and the edit form never shows the password.
	p = br.get("/ui/p/prj_alpha/endpoints")
	require.Contains(t, p.Body, "Billing")
	require.Contains(t, p.Body, "http://127.0.0.1:9/billing")
	require.Contains(t, p.Body, `<span class="badge ok">healthy</span>`)
	p = br.get("/ui/p/prj_alpha/endpoints/" + id + "/edit")
	require.Equal(t, http.StatusOK, p.Status)
	require.NotContains(t, p.Body, "s3cret-pw")
	require.Contains(t, p.Body, `value="erp"`)
}

func TestEndpointFormShowsFieldErrorsNextToFields(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.loggedIn(t)
	br.get("/ui/p/prj_alpha/endpoints/new")
	form := fullEndpointForm()
	form.Set("url", "ftp://files.example/x")
	form.Set("timeout", "90s")
	form.Set("order", "first")
	form.Set("headers", "Content-Type: text/plain")
	form.Set("retry_schedule", "5s, soon")
	form.Set("active_from", "tomorrow")
	form.Set("filter", "data.amount >")
	form.Set("body_template", "{unclosed")
	p := br.post("/ui/p/prj_alpha/endpoints/new", form)
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)

	for _, id := range []string{"field-url", "field-timeout", "field-order", "field-headers", "field-retry_schedule", "field-active_from", "field-filter", "field-body_template"} {
		block := fieldBlock(t, p.Body, id)
		require.Contains(t, block, `class="error"`, "%s has its error next to it", id)
	}
	require.Contains(t, fieldBlock(t, p.Body, "field-timeout"), "60s")
	require.Contains(t, fieldBlock(t, p.Body, "field-retry_schedule"), "soon")
	require.NotContains(t, fieldBlock(t, p.Body, "field-name"), `class="error"`)
	// What the user typed comes back.
	require.Contains(t, p.Body, `value="ftp://files.example/x"`)
	require.Contains(t, p.Body, `value="first"`)
	require.Contains(t, p.Body, "Invoices to the ERP")
	require.NotContains(t, p.Body, "s3cret-pw", "passwords are never written into the page")

	eps, err := b.st.ProjectEndpoints(context.Background(), b.a.ID)
	require.NoError(t, err)
	require.Empty(t, eps, "nothing is stored")
}

func TestEndpointEditKeepsSecretsLeftEmpty(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.loggedIn(t)
	br.get("/ui/p/prj_alpha/endpoints/new")
	p := br.post("/ui/p/prj_alpha/endpoints/new", fullEndpointForm())
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	id := strings.TrimPrefix(p.Location, "/ui/p/prj_alpha/endpoints/")

	br.get("/ui/p/prj_alpha/endpoints/" + id + "/edit")
	form := fullEndpointForm()
	form.Set("name", "Billing v2")
	form.Set("basic_password", "")
	form.Del("enabled")
	p = br.post("/ui/p/prj_alpha/endpoints/"+id+"/edit", form)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	ep, err := b.st.GetEndpoint(context.Background(), b.a.ID, id)
	require.NoError(t, err)
	require.Equal(t, "Billing v2", ep.Name)
	require.False(t, ep.Enabled)
	require.Equal(t, "s3cret-pw", ep.Auth.Basic.Password, "an empty password keeps the stored one")

	// An invalid edit keeps the stored endpoint as it was.
	form.Set("max_in_flight", "-1")
	p = br.post("/ui/p/prj_alpha/endpoints/"+id+"/edit", form)
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Contains(t, fieldBlock(t, p.Body, "field-max_in_flight"), `class="error"`)
	ep, err = b.st.GetEndpoint(context.Background(), b.a.ID, id)
	require.NoError(t, err)
	require.Equal(t, 4, ep.MaxInFlight)

	// Remove authentication clears it.
	form.Set("max_in_flight", "4")
	form.Set("clear_auth", "on")
	p = br.post("/ui/p/prj_alpha/endpoints/"+id+"/edit", form)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	ep, err = b.st.GetEndpoint(context.Background(), b.a.ID, id)
	require.NoError(t, err)
	require.Nil(t, ep.Auth)
}

// ingest sends events through the engine, as the API would.
func (b *testBundle) ingest(t *testing.T, p *herald.Project, typ string, data string) *herald.Event {
	t.Helper()
	res, err := b.eng.Ingest(context.Background(), p, []delivery.EventInput{{Type: typ, Data: json.RawMessage(data)}})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	return res[0].Event
}

// receiver is an HTTP server on loopback answering status with a marker
// header and a JSON body.
func receiver(t *testing.T, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Receiver", "test-receiver")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"received":true}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// waitDelivery waits until the event's delivery leaves pending.
func (b *testBundle) waitDelivery(t *testing.T, projectID, eventID string) *herald.Delivery {
	t.Helper()
	var d *herald.Delivery
	require.Eventually(t, func() bool {
		ds, _, err := b.st.ListDeliveries(context.Background(), projectID, store.DeliveryFilter{EventID: eventID}, store.Page{Limit: 10})
		if err != nil || len(ds) == 0 || ds[0].Attempts == 0 {
			return false
		}
		d = ds[0]
		return true
	}, time.Minute, 20*time.Millisecond)
	return d
}

func TestEventLogFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ok := receiver(t, 200)
	bad := receiver(t, 500)
	epOK := b.endpoint(t, b.a.ID, ok.URL+"/ok")
	epOK.EventTypes = []string{"user.created"}
	require.NoError(t, b.st.UpdateEndpoint(context.Background(), epOK))
	epBad := b.endpoint(t, b.a.ID, bad.URL+"/bad")
	epBad.EventTypes = []string{"order.paid"}
	require.NoError(t, b.st.UpdateEndpoint(context.Background(), epBad))
	b.eng.EndpointsChanged(b.a.ID)

	user := b.ingest(t, b.a, "user.created", `{"user_id":"u_1"}`)
	order := b.ingest(t, b.a, "order.paid", `{"order_id":"o_9"}`)
	b.waitDelivery(t, b.a.ID, user.ID)
	dBad := b.waitDelivery(t, b.a.ID, order.ID)
	require.NotEqual(t, herald.DeliverySucceeded, dBad.Status)

	br := b.loggedIn(t)
	p := br.get("/ui/p/prj_alpha/events")
	require.Contains(t, p.Body, user.ID)
	require.Contains(t, p.Body, order.ID)
	require.Less(t, strings.Index(p.Body, order.ID), strings.Index(p.Body, user.ID), "newest first")

	p = br.get("/ui/p/prj_alpha/events?type=user.created")
	require.Contains(t, p.Body, user.ID)
	require.NotContains(t, p.Body, order.ID)

	p = br.get("/ui/p/prj_alpha/events?status=succeeded")
	require.Contains(t, p.Body, user.ID)
	require.NotContains(t, p.Body, order.ID)

	p = br.get("/ui/p/prj_alpha/events?endpoint=" + epBad.ID)
	require.Contains(t, p.Body, order.ID)
	require.NotContains(t, p.Body, user.ID)

	future := time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04")
	p = br.get("/ui/p/prj_alpha/events?since=" + future)
	require.NotContains(t, p.Body, user.ID)
	require.Contains(t, p.Body, "No events match.")

	p = br.get("/ui/p/prj_alpha/events?since=yesterday")
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Contains(t, p.Body, "not a date and time")
	p = br.get("/ui/p/prj_alpha/events?status=lost")
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
}

func TestEventLogPaginates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []string
	for i := 0; i < 53; i++ {
		ids = append(ids, b.ingest(t, b.a, "tick", `{"n":1}`).ID)
	}
	br := b.loggedIn(t)
	p := br.get("/ui/p/prj_alpha/events?type=tick")
	require.Contains(t, p.Body, ids[52])
	require.NotContains(t, p.Body, ids[0])
	next := regexp.MustCompile(`href="([^"]+)" id="next-page"`).FindStringSubmatch(p.Body)
	require.NotNil(t, next)
	p = br.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, ids[0])
	require.NotContains(t, p.Body, ids[52])
	require.NotContains(t, p.Body, `id="next-page"`)
}

func TestDetailPagesRenderAttemptsWithHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rcv := receiver(t, 503)
	ep := b.endpoint(t, b.a.ID, rcv.URL+"/hooks")
	ev := b.ingest(t, b.a, "user.created", `{"user_id":"u_1","nick":"<b>neo</b>"}`)
	d := b.waitDelivery(t, b.a.ID, ev.ID)

	br := b.loggedIn(t)
	p := br.get("/ui/p/prj_alpha/events/" + ev.ID)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, `&#34;user_id&#34;: &#34;u_1&#34;`, "pretty-printed payload")
	require.Contains(t, p.Body, "&lt;b&gt;neo&lt;/b&gt;", "payload is escaped")
	require.NotContains(t, p.Body, "<b>neo</b>")
	require.Contains(t, p.Body, d.ID)

	p = br.get("/ui/p/prj_alpha/deliveries/" + d.ID)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, "POST "+rcv.URL+"/hooks")
	require.Contains(t, strings.ToLower(p.Body), "webhook-id")
	require.Contains(t, p.Body, ev.ID)
	require.Contains(t, p.Body, "test-receiver", "response headers")
	require.Contains(t, p.Body, "HTTP 503")
	require.Contains(t, p.Body, "&#34;received&#34;: true", "the failed response body")
	require.NotContains(t, p.Body, ep.Secret)

	// Retry makes one more attempt, shown on the page.
	p = br.post("/ui/p/prj_alpha/deliveries/"+d.ID+"/retry", nil)
	require.Equal(t, http.StatusSeeOther, p.Status)
	p = br.follow(p)
	require.Contains(t, p.Body, "Retried: failed with HTTP 503")
	require.Contains(t, p.Body, "#2")

	// The endpoint page lists the attempts and its stats.
	p = br.get("/ui/p/prj_alpha/endpoints/" + ep.ID)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, d.ID)
	require.Contains(t, p.Body, `<svg class="chart"`)

	// Replay makes a new delivery of the event.
	p = br.post("/ui/p/prj_alpha/events/"+ev.ID+"/replay", nil)
	require.Equal(t, http.StatusSeeOther, p.Status)
	p = br.follow(p)
	require.Contains(t, p.Body, "Replayed: 1 new deliveries.")
}

func TestSendTestEventShowsTheOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rcv := receiver(t, 200)
	ep := b.endpoint(t, b.a.ID, rcv.URL)
	br := b.loggedIn(t)
	br.get("/ui/p/prj_alpha/endpoints/" + ep.ID)
	p := br.post("/ui/p/prj_alpha/endpoints/"+ep.ID+"/test", url.Values{"type": {""}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	p = br.follow(p)
	require.Contains(t, p.Body, "Test event sent: HTTP 200")
	atts, err := b.st.ListEndpointAttempts(context.Background(), b.a.ID, ep.ID, 10)
	require.NoError(t, err)
	require.Len(t, atts, 1)
	require.Contains(t, p.Body, atts[0].DeliveryID)
}

func TestRotateSecretShowsNewSecretOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, b.a.ID, "http://127.0.0.1:1/hook")
	br := b.loggedIn(t)
	p := br.get("/ui/p/prj_alpha/endpoints/" + ep.ID)
	require.NotContains(t, html.UnescapeString(p.Body), ep.Secret, "the detail page does not show the secret")

	p = br.post("/ui/p/prj_alpha/endpoints/"+ep.ID+"/rotate", url.Values{"grace_period": {"1h"}})
	require.Equal(t, http.StatusOK, p.Status)
	require.Equal(t, "no-store", p.Resp.Header.Get("Cache-Control"))
	stored, err := b.st.GetEndpoint(context.Background(), b.a.ID, ep.ID)
	require.NoError(t, err)
	require.NotEqual(t, ep.Secret, stored.Secret)
	require.Equal(t, ep.Secret, stored.PreviousSecret, "the old secret signs during the grace period")
	require.WithinDuration(t, time.Now().Add(time.Hour), *stored.PreviousSecretUntil, time.Minute)
	require.Contains(t, html.UnescapeString(p.Body), `<pre class="mono" id="secret">`+stored.Secret+`</pre>`)

	p = br.get("/ui/p/prj_alpha/endpoints/" + ep.ID)
	require.NotContains(t, html.UnescapeString(p.Body), stored.Secret, "shown once")

	// Reveal shows it again only on an explicit (POST) request.
	p = br.post("/ui/p/prj_alpha/endpoints/"+ep.ID+"/secret", nil)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, html.UnescapeString(p.Body), stored.Secret)

	p = br.post("/ui/p/prj_alpha/endpoints/"+ep.ID+"/rotate", url.Values{"grace_period": {"forever"}})
	require.Equal(t, http.StatusSeeOther, p.Status)
	require.Contains(t, br.follow(p).Body, "grace period is a duration")
}

func TestEnableClearsDisabledHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, b.a.ID, "http://127.0.0.1:1/hook")
	ctx := context.Background()
	require.NoError(t, b.st.UpdateEndpointHealth(ctx, ep.ID, store.EndpointHealth{Status: herald.EndpointDisabled, DisabledReason: "failing for 5 days"}))
	br := b.loggedIn(t)
	p := br.get("/ui/p/prj_alpha/endpoints/" + ep.ID)
	require.Contains(t, p.Body, "failing for 5 days")
	p = br.post("/ui/p/prj_alpha/endpoints/"+ep.ID+"/enable", nil)
	require.Equal(t, http.StatusSeeOther, p.Status)
	stored, err := b.st.GetEndpoint(ctx, b.a.ID, ep.ID)
	require.NoError(t, err)
	require.True(t, stored.Enabled)
	require.Equal(t, herald.EndpointHealthy, stored.Status)

	br.get("/ui/p/prj_alpha/endpoints/" + ep.ID)
	p = br.post("/ui/p/prj_alpha/endpoints/"+ep.ID+"/delete", nil)
	require.Equal(t, http.StatusSeeOther, p.Status)
	_, err = b.st.GetEndpoint(ctx, b.a.ID, ep.ID)
	require.True(t, herald.IsNotFound(err))
}

func TestRecoverRequeuesFailedDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, b.a.ID, "http://127.0.0.1:1/hook")
	br := b.loggedIn(t)
	br.get("/ui/p/prj_alpha/endpoints/" + ep.ID)
	since := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	p := br.post("/ui/p/prj_alpha/endpoints/"+ep.ID+"/recover", url.Values{"since": {since}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	require.Contains(t, br.follow(p).Body, "Requeued 0 failed deliveries")

	p = br.post("/ui/p/prj_alpha/endpoints/"+ep.ID+"/recover", url.Values{"since": {"last week"}})
	require.Equal(t, http.StatusSeeOther, p.Status)
	require.Contains(t, br.follow(p).Body, "give a start time")
}

func TestEventTypesValidateSchemaAndExample(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.loggedIn(t)
	br.get("/ui/p/prj_alpha/event-types")

	p := br.post("/ui/p/prj_alpha/event-types", url.Values{"name": {"user.created"}, "schema": {`{"type": 12}`}})
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Contains(t, fieldBlock(t, p.Body, "field-schema"), `class="error"`)
	require.Contains(t, p.Body, `value="user.created"`)

	schema := `{"type":"object","required":["user_id"],"properties":{"user_id":{"type":"string"}}}`
	p = br.post("/ui/p/prj_alpha/event-types", url.Values{"name": {"user.created"}, "schema": {schema}, "example": {`{"user_id": 7}`}})
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Contains(t, fieldBlock(t, p.Body, "field-example"), `class="error"`)
	require.NotContains(t, fieldBlock(t, p.Body, "field-schema"), `class="error"`)

	p = br.post("/ui/p/prj_alpha/event-types", url.Values{"name": {"bad name"}})
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Contains(t, fieldBlock(t, p.Body, "field-name"), `class="error"`)

	p = br.post("/ui/p/prj_alpha/event-types", url.Values{"name": {"user.created"}, "description": {"A user signed up"}, "schema": {schema}, "example": {`{"user_id":"u_1"}`}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	p = br.follow(p)
	require.Contains(t, p.Body, "A user signed up")
	et, err := b.st.GetEventType(context.Background(), b.a.ID, "user.created")
	require.NoError(t, err)
	require.JSONEq(t, schema, string(et.Schema))

	p = br.post("/ui/p/prj_alpha/event-types", url.Values{"name": {"user.created"}})
	require.Equal(t, http.StatusConflict, p.Status)
	require.Contains(t, fieldBlock(t, p.Body, "field-name"), "exists")

	p = br.post("/ui/p/prj_alpha/event-types/user.created/delete", nil)
	require.Equal(t, http.StatusSeeOther, p.Status)
	_, err = b.st.GetEventType(context.Background(), b.a.ID, "user.created")
	require.True(t, herald.IsNotFound(err))
}

func TestBadIDsAndInputsAreClientErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.loggedIn(t)
	for _, path := range []string{
		"/ui/p/prj_alpha/endpoints/ep_nope", "/ui/p/prj_alpha/endpoints/ep_nope/edit",
		"/ui/p/prj_alpha/events/evt_nope", "/ui/p/prj_alpha/deliveries/dlv_nope",
		"/ui/p/prj_alpha/events/%00", "/ui/nowhere",
	} {
		p := br.get(path)
		require.Equal(t, http.StatusNotFound, p.Status, path)
	}
	for _, path := range []string{
		"/ui/p/prj_alpha/endpoints/ep_nope/test", "/ui/p/prj_alpha/deliveries/dlv_nope/retry",
		"/ui/p/prj_alpha/events/evt_nope/replay", "/ui/p/prj_alpha/event-types/nope/delete",
	} {
		p := br.post(path, nil)
		require.Equal(t, http.StatusNotFound, p.Status, path)
	}
	for _, path := range []string{"/ui/p/prj_alpha/events?cursor=%%%garbage", "/ui/p/prj_alpha/endpoints?cursor=garbage!"} {
		p := br.get(path)
		require.Less(t, p.Status, 500, path)
		require.GreaterOrEqual(t, p.Status, 200, path)
	}
}

func TestCustomHeaderValuesAreMaskedAndKept(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.loggedIn(t)
	br.get("/ui/p/prj_alpha/endpoints/new")
	p := br.post("/ui/p/prj_alpha/endpoints/new", fullEndpointForm())
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	id := strings.TrimPrefix(p.Location, "/ui/p/prj_alpha/endpoints/")

	p = br.get("/ui/p/prj_alpha/endpoints/" + id)
	require.Equal(t, http.StatusOK, p.Status)
	require.NotContains(t, p.Body, "acme", "a header value may be a credential")
	require.Contains(t, p.Body, "X-Tenant: ********")

	p = br.get("/ui/p/prj_alpha/endpoints/" + id + "/edit")
	require.Contains(t, fieldBlock(t, p.Body, "field-headers"), ">X-Env: ********\nX-Tenant: ********</textarea>")

	// The form sent back as shown, one value changed: the masked one is kept.
	form := fullEndpointForm()
	form.Set("headers", "X-Tenant: ********\nX-Env: staging")
	p = br.post("/ui/p/prj_alpha/endpoints/"+id+"/edit", form)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	ep, err := b.st.GetEndpoint(context.Background(), b.a.ID, id)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"X-Tenant": "acme", "X-Env": "staging"}, ep.Headers)
}
