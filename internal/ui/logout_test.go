package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/stretchr/testify/require"
)

// withCookie makes a request carrying only the given session cookie, as a
// copy of a cookie would be replayed, without following redirects.
func withCookie(t *testing.T, method, target, cookie string, form url.Values) *http.Response {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, target, body)
	require.NoError(t, err)
	req.Header.Set("Cookie", "herald_session="+cookie)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func TestLogoutRevokesTheSessionInEveryProcess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, b.a.ID, "http://127.0.0.1:9/hooks")
	// A second dashboard on the same database stands for another process.
	other := b.serve(t, herald.HashKey(b.adminKey))
	br := b.loggedIn(t)
	br.get("/ui/p/prj_alpha/endpoints")
	base, err := url.Parse(b.srv.URL + "/ui/")
	require.NoError(t, err)
	var cookie string
	for _, c := range br.c.Jar.Cookies(base) {
		if c.Name == "herald_session" {
			cookie = c.Value
		}
	}
	require.NotEmpty(t, cookie)
	csrf := br.csrf
	require.NotEmpty(t, csrf)
	list := "/ui/p/prj_alpha/endpoints"
	disable := "/ui/p/prj_alpha/endpoints/" + ep.ID + "/disable"
	for _, srv := range []string{b.srv.URL, other.URL} {
		require.Equal(t, http.StatusOK, withCookie(t, http.MethodGet, srv+list, cookie, nil).StatusCode, "the copy works before the logout")
	}

	p := br.post("/ui/logout", nil)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)

	for _, srv := range []string{b.srv.URL, other.URL} {
		resp := withCookie(t, http.MethodGet, srv+list, cookie, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "%s: a page opened with the logged-out cookie", srv)
		require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/ui/login"), resp.Header.Get("Location"))
		resp = withCookie(t, http.MethodPost, srv+disable, cookie, url.Values{"csrf": {csrf}})
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s: a form posted with the logged-out cookie and its token", srv)
	}
	got, err := b.st.GetEndpoint(context.Background(), b.a.ID, ep.ID)
	require.NoError(t, err)
	require.True(t, got.Enabled, "the replayed form changed nothing")

	// Logging in again opens a new session, which works.
	br.login(b.keyA)
	require.Equal(t, http.StatusOK, br.get(list).Status)
}
