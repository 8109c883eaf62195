package hook_test

import (
	"context"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/stretchr/testify/require"
)

func tenant(id string) func(*herald.Endpoint) { return func(ep *herald.Endpoint) { ep.TenantID = id } }

func TestHookRunOfATenantCallsItsAndProjectWideHooksNeverAnothers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wideH, aH, bH := newHook(t, allow), newHook(t, allow), newHook(t, allow)
	wide := b.endpoint(t, wideH.URL, order(1))
	a := b.endpoint(t, aH.URL, order(2), tenant("a"))
	b.endpoint(t, bH.URL, order(3), tenant("b"))

	res := b.run(t, `{"data":{"email":"a@example.com"},"tenant_id":"a"}`)
	require.True(t, res.Allowed)
	require.Equal(t, []string{wide.ID + ":allowed", a.ID + ":allowed"}, outcomes(res))
	require.Empty(t, bH.received(), "another tenant's hook is never called")
	for _, h := range []*hookServer{wideH, aH} {
		require.Len(t, h.received(), 1)
		require.Equal(t, "a", h.received()[0].Env.TenantID, "the envelope carries the run's tenant")
	}
	b.flush(t)
	ev, err := b.st.GetEvent(context.Background(), b.p.ID, res.EventID)
	require.NoError(t, err)
	require.Equal(t, "a", ev.TenantID, "the stored run belongs to its tenant")
	require.Equal(t, "a", b.deliveryOf(t, res.EventID, a.ID).TenantID)
	require.Empty(t, b.deliveryOf(t, res.EventID, wide.ID).TenantID, "a call of a project-wide hook belongs to no tenant")
}

func TestHookRunWithoutTenantCallsOnlyProjectWideHooks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wideH, aH := newHook(t, allow), newHook(t, allow)
	wide := b.endpoint(t, wideH.URL)
	b.endpoint(t, aH.URL, tenant("a"))

	res := b.run(t, `{"data":{}}`)
	require.Equal(t, []string{wide.ID + ":allowed"}, outcomes(res))
	require.Empty(t, aH.received())
	require.Empty(t, wideH.received()[0].Env.TenantID)
}

func TestHookRunRefusesAnInvalidTenantID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, body := range []string{`{"data":{},"tenant_id":"no spaces"}`, `{"data":{},"tenant_id":5}`} {
		_, err := b.r.RunJSON(context.Background(), b.p, evType, []byte(body))
		var he *herald.Error
		require.ErrorAs(t, err, &he, body)
		require.Equal(t, herald.EINVALID, he.Code, body)
		require.Equal(t, "body.tenant_id", he.Fields[0].Location, body)
	}
}
