package portal_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/api"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/portal"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/ui"
	"github.com/stretchr/testify/require"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a whole Herald (store, engine, API, dashboard and portal) on a
// real SQLite file behind an httptest server, with one project whose
// catalog has two types, and a receiver on loopback.
type env struct {
	ctx     context.Context
	url     string
	st      *sqlite.DB
	svc     *service.Service
	p       *herald.Project
	projKey string
	admin   string
	// now is the Service's clock (Unix nanoseconds): expiry is tested by
	// moving it.
	now atomic.Int64

	recv     *httptest.Server
	mu       sync.Mutex
	received []receivedReq
	// served is every request the server got: "METHOD path Sec-Fetch-Dest".
	served []string
}

type receivedReq struct {
	Header http.Header
	Body   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	eng, err := delivery.New(delivery.Config{AllowPrivateNetworks: true, PollInterval: 20 * time.Millisecond, Logger: quiet}, st)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { _ = eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	e := &env{ctx: context.Background(), st: st}
	e.now.Store(time.Now().UnixNano())
	hash, admin, err := api.EnsureAdminKey(ctx, st, "")
	require.NoError(t, err)
	e.admin = admin
	e.svc, err = service.New(service.Config{Store: st, Engine: eng, Guard: netguard.New(true, nil), AdminKeyHash: hash,
		Now: func() time.Time { return time.Unix(0, e.now.Load()) }})
	require.NoError(t, err)
	dash, err := ui.New(ui.Config{Store: st, Service: e.svc, AdminKeyHash: hash, Logger: quiet})
	require.NoError(t, err)
	cust, err := portal.New(portal.Config{Service: e.svc, Store: st, Logger: quiet})
	require.NoError(t, err)
	srv, err := api.New(api.Config{Store: st, Engine: eng, Service: e.svc, AdminKeyHash: hash, UI: dash, Portal: cust, RateLimit: -1, Logger: quiet})
	require.NoError(t, err)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.served = append(e.served, r.Method+" "+r.URL.Path+" "+r.Header.Get("Sec-Fetch-Dest"))
		e.mu.Unlock()
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	e.url = ts.URL

	e.recv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.received = append(e.received, receivedReq{r.Header.Clone(), string(body)})
		e.mu.Unlock()
		w.Header().Set("X-Receiver", "test")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(e.recv.Close)

	e.p = &herald.Project{ID: "shop", Name: "Shop"}
	e.projKey, err = e.svc.CreateProject(e.ctx, e.p)
	require.NoError(t, err)
	for _, et := range []*herald.EventType{
		{Name: "order.paid", Description: "An order was paid.", Schema: json.RawMessage(`{"type":"object","properties":{"order_id":{"type":"string"}}}`), Example: json.RawMessage(`{"order_id":"ord_1"}`)},
		{Name: "order.shipped", Description: "An order left the warehouse.", Example: json.RawMessage(`{"order_id":"ord_1","carrier":"DHL"}`)},
	} {
		et.ProjectID = e.p.ID
		require.NoError(t, e.svc.CreateEventType(e.ctx, et))
	}
	return e
}

func (e *env) receivedCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.received)
}

// link mints a portal link as the API does.
func (e *env) link(t *testing.T, in service.PortalSessionInput) string {
	t.Helper()
	_, token, err := e.svc.CreatePortalSession(e.ctx, e.p.ID, in)
	require.NoError(t, err)
	return e.url + service.PortalLinkPath + token
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each answer can be checked.
type browser struct {
	t      *testing.T
	e      *env
	c      *http.Client
	header http.Header
}

func (e *env) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, e: e, header: http.Header{}, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	Status int
	Header http.Header
	Body   string
}

func (b *browser) do(method, target string, form url.Values) *page {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.e.url + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	require.NoError(b.t, err)
	for k, v := range b.header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	return &page{res.StatusCode, res.Header, string(data)}
}

func (b *browser) get(target string) *page { return b.do("GET", target, nil) }

// open follows a portal link: it must redirect to the endpoints page.
func (b *browser) open(link string) {
	b.t.Helper()
	p := b.get(link)
	require.Equal(b.t, http.StatusSeeOther, p.Status, p.Body)
	require.Equal(b.t, "/portal/endpoints", p.Header.Get("Location"))
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// csrf reads the CSRF token from a page with a form.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	p := b.get(path)
	require.Equal(b.t, http.StatusOK, p.Status, p.Body)
	m := csrfRe.FindStringSubmatch(p.Body)
	require.NotNil(b.t, m, "no CSRF token on %s", path)
	return m[1]
}

// post sends a form with the CSRF token of the page at from.
func (b *browser) post(from, target string, form url.Values) *page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf(from))
	return b.do("POST", target, form)
}

// servedCount counts the requests served that were exactly line.
func (e *env) servedCount(line string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, s := range e.served {
		if s == line {
			n++
		}
	}
	return n
}
