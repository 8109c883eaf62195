package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPortalSessionCreatedWithLinkAndTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	m := b.do("POST", "/v1/projects/"+p+"/portal-sessions", key, map[string]any{"tenant_id": "acme", "expires_in": "2h", "locale": "fr"}).
		requireStatus(t, http.StatusCreated).obj(t)
	link := m["url"].(string)
	require.True(t, strings.HasPrefix(link, b.url+"/portal/s/hpt_"), link)
	exp, err := time.Parse(time.RFC3339Nano, m["expires_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(2*time.Hour), exp, time.Minute)
	_, err = b.store.GetTenant(t.Context(), p, "acme")
	require.NoError(t, err, "the link created its tenant")

	// Two links never share a token.
	m2 := b.do("POST", "/v1/projects/"+p+"/portal-sessions", key, map[string]any{"tenant_id": "acme"}).requireStatus(t, http.StatusCreated).obj(t)
	require.NotEqual(t, link, m2["url"])
}

func TestPortalSessionPublicURL(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.PublicURL = "https://hooks.example.com/" })
	p, key := b.project("shop")
	m := b.do("POST", "/v1/projects/"+p+"/portal-sessions", key, map[string]any{"tenant_id": "acme"}).requireStatus(t, http.StatusCreated).obj(t)
	require.True(t, strings.HasPrefix(m["url"].(string), "https://hooks.example.com/portal/s/hpt_"), m["url"])
}

// Behind a TLS proxy with no public URL set, the link is https as the
// browser will reach it (and as the portal's cookie is set).
func TestPortalSessionLinkFollowsTheProxysScheme(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	path := "/v1/projects/" + p + "/portal-sessions"
	m := b.do("POST", path, key, map[string]any{"tenant_id": "acme"}, "X-Forwarded-Proto", "https").requireStatus(t, http.StatusCreated).obj(t)
	host := strings.TrimPrefix(b.url, "http://")
	require.True(t, strings.HasPrefix(m["url"].(string), "https://"+host+"/portal/s/hpt_"), m["url"])
	m = b.do("POST", path, key, map[string]any{"tenant_id": "acme"}).requireStatus(t, http.StatusCreated).obj(t)
	require.True(t, strings.HasPrefix(m["url"].(string), b.url+"/portal/s/hpt_"), m["url"])
}

func TestPortalSessionRefusesBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	path := "/v1/projects/" + p + "/portal-sessions"
	for body, field := range map[string]string{
		`{}`:                                         "body.tenant_id",
		`{"tenant_id":"no spaces"}`:                  "body.tenant_id",
		`{"tenant_id":"a","expires_in":"169h"}`:      "body.expires_in",
		`{"tenant_id":"a","expires_in":"0s"}`:        "body.expires_in",
		`{"tenant_id":"a","expires_in":"soon"}`:      "body.expires_in",
		`{"tenant_id":"a","locale":"de"}`:            "body.locale",
		`{"tenant_id":"a","event_types":["nope.x"]}`: "body.event_types",
		`{"tenant_id":"a","read_only":"yes"}`:        "body.read_only",
		`{"tenant_id":"a","scopes":["everything"]}`:  "body.scopes",
	} {
		b.do("POST", path, key, body).requireField(t, field)
	}
	b.do("POST", path, "", `{"tenant_id":"a"}`).requireStatus(t, http.StatusUnauthorized)
	_, otherKey := b.project("other")
	b.do("POST", path, otherKey, `{"tenant_id":"a"}`).requireStatus(t, http.StatusNotFound)
}

func TestPortalSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	path := "/v1/projects/" + p + "/portal"
	m := b.do("GET", path, key, nil).requireStatus(t, http.StatusOK).obj(t)
	require.Equal(t, "", m["display_name"])
	b.do("PUT", path, key, map[string]any{"display_name": "Acme", "accent_color": "#112233", "allowed_origins": []string{"https://App.example"}}).
		requireStatus(t, http.StatusOK)
	m = b.do("GET", path, key, nil).requireStatus(t, http.StatusOK).obj(t)
	require.Equal(t, "Acme", m["display_name"])
	require.Equal(t, []any{"https://app.example"}, m["allowed_origins"])
	b.do("PUT", path, key, `{"accent_color":"red"}`).requireField(t, "body.accent_color")
	b.do("PUT", path, key, `{"allowed_origins":["*"]}`).requireField(t, "body.allowed_origins")
}
