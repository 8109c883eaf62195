package ui_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/stretchr/testify/require"
)

// scopedKey stores a key of the project with scopes, a tenant and an
// expiry, and returns it.
func (b *testBundle) scopedKey(t *testing.T, projectID string, scopes []string, tenant string, expires *time.Time) string {
	t.Helper()
	key := herald.NewKey(herald.ProjectKeyPrefix)
	require.NoError(t, b.st.CreateAPIKey(context.Background(), &herald.APIKey{ID: herald.NewID(herald.PrefixKey), ProjectID: projectID,
		Hash: herald.HashKey(key), Prefix: key[:6], Scopes: scopes, TenantID: tenant, ExpiresAt: expires, CreatedAt: time.Now().UTC()}))
	return key
}

func TestAReadKeySeesNoEditAndCannotPostOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, b.a.ID, "https://example.com/hook")
	br := b.browser(t)
	list := br.login(b.scopedKey(t, b.a.ID, []string{herald.ScopeRead}, "", nil))
	require.Equal(t, http.StatusOK, list.Status)
	require.Contains(t, list.Body, ep.ID, "a read key reads")
	require.NotContains(t, list.Body, "New endpoint")

	detail := br.get("/ui/p/prj_alpha/endpoints/" + ep.ID)
	require.Equal(t, http.StatusOK, detail.Status)
	for _, hidden := range []string{"Edit settings", "Send test", "Rotate", "Reveal secret", "Disable", ">Delete<"} {
		require.NotContains(t, detail.Body, hidden)
	}
	types := br.get("/ui/p/prj_alpha/event-types")
	require.NotContains(t, types.Body, "New event type")

	p := br.post("/ui/p/prj_alpha/endpoints/"+ep.ID+"/disable", nil)
	require.Equal(t, http.StatusForbidden, p.Status)
	require.Contains(t, p.Body, "endpoints:write", "the page names the scope needed")
	got, err := b.st.GetEndpoint(context.Background(), b.a.ID, ep.ID)
	require.NoError(t, err)
	require.True(t, got.Enabled, "nothing changed")
	require.Equal(t, http.StatusForbidden, br.get("/ui/p/prj_alpha/endpoints/new").Status)
}

func TestAnEndpointsWriteKeySeesTheEndpointFormsNotTheEventTypeForm(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, b.a.ID, "https://example.com/hook")
	br := b.browser(t)
	br.login(b.scopedKey(t, b.a.ID, []string{herald.ScopeRead, herald.ScopeEndpointsWrite}, "", nil))
	detail := br.get("/ui/p/prj_alpha/endpoints/" + ep.ID)
	require.Contains(t, detail.Body, "Edit settings")
	require.Contains(t, detail.Body, "Send test")
	require.NotContains(t, br.get("/ui/p/prj_alpha/event-types").Body, "New event type")
	p := br.post("/ui/p/prj_alpha/endpoints/"+ep.ID+"/disable", nil)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
}

func TestATenantBoundSessionSeesOnlyItsTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mine := b.endpoint(t, b.a.ID, "https://example.com/mine")
	theirs := b.endpoint(t, b.a.ID, "https://example.com/theirs")
	wide := b.endpoint(t, b.a.ID, "https://example.com/wide")
	ctx := context.Background()
	for ep, tenant := range map[*herald.Endpoint]string{mine: "acme", theirs: "globex"} {
		edit := *ep
		edit.TenantID = tenant
		require.NoError(t, b.st.DeleteEndpoint(ctx, b.a.ID, ep.ID))
		require.NoError(t, b.st.CreateEndpoint(ctx, &edit))
	}
	b.eng.EndpointsChanged(b.a.ID)
	br := b.browser(t)
	list := br.login(b.scopedKey(t, b.a.ID, []string{herald.ScopeAll}, "acme", nil))
	require.Contains(t, list.Body, mine.ID)
	require.NotContains(t, list.Body, theirs.ID)
	require.NotContains(t, list.Body, wide.ID, "the project's own endpoints are not the tenant's")
	require.Equal(t, http.StatusNotFound, br.get("/ui/p/prj_alpha/endpoints/"+theirs.ID).Status)
	require.Equal(t, http.StatusNotFound, br.get("/ui/p/prj_alpha/endpoints/"+wide.ID).Status)
	require.Equal(t, http.StatusOK, br.get("/ui/p/prj_alpha/endpoints/"+mine.ID).Status)
	require.Equal(t, http.StatusNotFound, br.post("/ui/p/prj_alpha/endpoints/"+theirs.ID+"/delete", nil).Status)
	_, err := b.st.GetEndpoint(ctx, b.a.ID, theirs.ID)
	require.NoError(t, err, "another tenant's endpoint survives")
}

func TestAnExpiredKeyEndsItsSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	exp := time.Now().Add(time.Hour)
	br := b.browser(t)
	require.Equal(t, http.StatusOK, br.login(b.scopedKey(t, b.a.ID, []string{herald.ScopeRead}, "", &exp)).Status)
	b.skew.Store(int64(2 * time.Hour))
	p := br.get("/ui/p/prj_alpha/endpoints")
	require.Equal(t, http.StatusSeeOther, p.Status)
	require.Contains(t, p.Location, "/ui/login")
}
