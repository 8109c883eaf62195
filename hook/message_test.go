package hook_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/hook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A hook failure's message is shown to the product's users: it says what
// failed in words, never the endpoint's URL or its query string (tokens);
// the attempt log keeps the transport error for the operator.
func TestHookFailureMessageHidesTheURL(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: the connection is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String()
	ln.Close()

	for name, tc := range map[string]struct {
		url  func(t *testing.T) string
		want string
	}{
		"timeout":    {func(t *testing.T) string { return newHook(t, hang).URL }, "timeout"},
		"connection": {func(*testing.T) string { return refused }, "connection failed"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			url := tc.url(t) + "/e4?delay=3&token=s3cret"
			ep := b.endpoint(t, url, timeout(200*time.Millisecond))

			res := b.run(t, `{"data":{}}`)

			require.False(t, res.Allowed)
			assert.Equal(t, hook.CodeHookFailed, res.Code)
			assert.Equal(t, "hook "+ep.ID+" failed: "+tc.want, res.Message)
			require.Len(t, res.Results, 1)
			for _, s := range []string{res.Message, res.Results[0].Error} {
				assert.NotContains(t, s, "s3cret")
				assert.NotContains(t, s, "127.0.0.1")
			}

			// The operator's log has the whole story.
			d := b.deliveryOf(t, res.EventID, ep.ID)
			atts, err := b.st.ListAttempts(context.Background(), b.p.ID, d.ID)
			require.NoError(t, err)
			require.Len(t, atts, 1)
			assert.Equal(t, url, atts[0].RequestURL)
			assert.Contains(t, atts[0].Error, "127.0.0.1")
			assert.Equal(t, tc.want == "timeout", atts[0].ErrorClass == herald.ErrorTimeout)
		})
	}
}

// A run's event carries the verdict the caller got: allowed, or denied by
// whom, with which code and message.
func TestRunStoresItsVerdict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ok := newHook(t, allow)
	no := newHook(t, answerBody(200, `{"status":"error","code":"not_found","message":"Player not found"}`))
	b.endpoint(t, ok.URL, order(1))
	denier := b.endpoint(t, no.URL, order(2))

	res := b.run(t, `{"data":{}}`)
	b.flush(t)
	ev, err := b.st.GetEvent(context.Background(), b.p.ID, res.EventID)
	require.NoError(t, err)
	assert.True(t, ev.Hook)
	assert.Equal(t, &herald.HookVerdict{Allowed: false, DeniedBy: denier.ID, Code: "not_found", Message: "Player not found"}, ev.HookVerdict)
	assert.ErrorContains(t, ev.Replayable(), "cannot be replayed")

	// Past the denier, an allowed run.
	no.Close()
	b2 := setup(t)
	b2.endpoint(t, ok.URL)
	res = b2.run(t, `{"data":{}}`)
	b2.flush(t)
	ev, err = b2.st.GetEvent(context.Background(), b2.p.ID, res.EventID)
	require.NoError(t, err)
	assert.Equal(t, &herald.HookVerdict{Allowed: true}, ev.HookVerdict)
}
