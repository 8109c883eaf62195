package hook_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/hook"
	"github.com/herald-dev/herald/internal/testkit"
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
		url     func(t *testing.T) string
		timeout time.Duration
		want    string
	}{
		"timeout":    {func(t *testing.T) string { return newHook(t, hang).URL }, 200 * time.Millisecond, "timeout"},
		"connection": {func(*testing.T) string { return refused }, answerTimeout, "connection failed"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			url := tc.url(t) + "/e4?delay=3&token=s3cret"
			ep := b.endpoint(t, url, timeout(tc.timeout))

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

// A hook failure is logged at info for the operator, with the shared keys
// and the transport error, but without the endpoint's URL.
func TestHookFailureIsLogged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var logs testkit.Buffer
	r := hook.New(b.eng, hook.Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	t.Cleanup(func() { r.Close(context.Background()) })
	h := newHook(t, answerBody(502, `bad gateway`))
	ep := b.endpoint(t, h.URL+"/hook?token=s3cret", order(1), failOpen)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String() + "/hook?token=s3cret"
	ln.Close()
	gone := b.endpoint(t, refused, order(2))

	res, err := r.RunJSON(context.Background(), b.p, evType, []byte(`{"data":{}}`))
	require.NoError(t, err)
	require.False(t, res.Allowed)

	lines := map[any]map[string]any{} // by endpoint
	for _, raw := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(raw), &m))
		if m["msg"] == "hook call failed" {
			lines[m["endpoint_id"]] = m
		}
	}
	require.Len(t, lines, 2, "hook failure lines in %s", logs.String())
	for _, line := range lines {
		assert.Equal(t, "INFO", line["level"])
		assert.Equal(t, b.p.ID, line["project_id"])
		assert.Equal(t, res.EventID, line["event_id"])
		assert.NotEmpty(t, line["attempt_id"])
	}
	first, second := lines[ep.ID], lines[gone.ID]
	assert.Equal(t, herald.ErrorStatus, first["error_class"])
	assert.Equal(t, hook.OutcomeSkipped, first["outcome"])
	assert.EqualValues(t, 502, first["status"])
	assert.Equal(t, herald.ErrorConnection, second["error_class"])
	assert.Equal(t, hook.OutcomeFailed, second["outcome"])
	assert.Contains(t, second["error"], "connection refused")
	assert.NotContains(t, logs.String(), "s3cret")
}
