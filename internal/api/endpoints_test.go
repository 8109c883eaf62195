package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/herald-dev/herald/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateEndpointAppliesDefaultsAndReturnsSecretOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	m := b.endpoint(p, key, map[string]any{"url": "https://example.com/hook"})
	id := m["id"].(string)
	assert.Regexp(t, `^ep_`, id)
	assert.Equal(t, p, m["project_id"])
	assert.Equal(t, true, m["enabled"])
	assert.Equal(t, "15s", m["timeout"])
	assert.Equal(t, "wait", m["response_mode"])
	assert.Equal(t, "fail_closed", m["failure_policy"])
	assert.Equal(t, []any{"5s", "5m", "30m", "2h", "5h", "10h", "10h"}, m["retry_schedule"])
	assert.EqualValues(t, 10, m["max_in_flight"])
	assert.EqualValues(t, 0, m["rate_limit"])
	assert.Equal(t, []any{}, m["event_types"])
	assert.Equal(t, []any{}, m["channels"])
	assert.Equal(t, "healthy", m["status"])
	secret := m["secret"].(string)
	_, err := webhook.ParseSecret(secret)
	require.NoError(t, err, "a generated secret is valid")

	got := b.do("GET", "/v1/projects/"+p+"/endpoints/"+id, key, nil).requireStatus(t, http.StatusOK)
	assert.NotContains(t, string(got.Body), secret, "GET never shows the secret")
	assert.NotContains(t, got.obj(t), "secret")
	list := b.do("GET", "/v1/projects/"+p+"/endpoints", key, nil).requireStatus(t, http.StatusOK)
	assert.NotContains(t, string(list.Body), secret)

	s := b.do("GET", "/v1/projects/"+p+"/endpoints/"+id+"/secret", key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, secret, s["secret"])
}

func TestCreateEndpointWithEveryField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	secret := webhook.NewSecret()
	body := map[string]any{
		"url": "https://example.com/hook", "name": "CRM", "description": "sync users",
		"event_types": []string{"user.created", "order.*"}, "channels": []string{"acct_42"},
		"filter": `type == "user.created"`, "enabled": false,
		"active_from": "2026-01-01T00:00:00Z", "active_until": "2027-01-01T00:00:00Z",
		"order": -3, "timeout": "30s", "response_mode": "data", "failure_policy": "fail_open",
		"retry_schedule": []string{"1s", "1h"}, "rate_limit": 50, "max_in_flight": 2, "ordered": true,
		"auth":          map[string]any{"basic": map[string]any{"username": "u", "password": "hunter22"}},
		"headers":       map[string]string{"X-Tenant": "42"},
		"body_template": `{event_type: .type, data: .data}`,
		"secret":        secret, "metadata": map[string]string{"team": "growth"},
	}
	m := b.endpoint(p, key, body)
	assert.Equal(t, secret, m["secret"])
	assert.Equal(t, false, m["enabled"])
	assert.Equal(t, "disabled", m["status"], "an endpoint created disabled says so")
	assert.Equal(t, []any{"1s", "1h"}, m["retry_schedule"])
	assert.Equal(t, "30s", m["timeout"])
	assert.EqualValues(t, -3, m["order"])
	assert.Equal(t, "2026-01-01T00:00:00Z", m["active_from"])
	assert.Equal(t, map[string]any{"X-Tenant": service.Redacted}, m["headers"], "a custom header may carry a credential: masked")
	assert.Equal(t, map[string]any{"team": "growth"}, m["metadata"])
	assert.Equal(t, map[string]any{"basic": map[string]any{"username": "u", "password": service.Redacted}}, m["auth"])
	assert.NotContains(t, string(mustJSON(t, m)), "hunter22")

	stored, err := b.store.GetEndpoint(context.Background(), p, m["id"].(string))
	require.NoError(t, err)
	assert.Equal(t, "hunter22", stored.Auth.Basic.Password, "the store keeps the real password")
	assert.Equal(t, map[string]string{"X-Tenant": "42"}, stored.Headers, "the store keeps the real header value")
	assert.Equal(t, []herald.Duration{herald.Duration(time.Second), herald.Duration(time.Hour)}, stored.RetrySchedule)

	// An empty retry schedule means one attempt and no retries.
	none := b.endpoint(p, key, map[string]any{"url": "https://example.com/x", "retry_schedule": []string{}})
	assert.Equal(t, []any{}, none["retry_schedule"])
}

func TestBearerAuthIsNeverReturned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	token := "tok_abcdefghijklmnopqrstuvwxyz"
	m := b.endpoint(p, key, map[string]any{"url": "https://example.com/hook", "auth": map[string]any{"bearer": token}})
	assert.Equal(t, map[string]any{"bearer": service.Redacted}, m["auth"])
	for _, path := range []string{"/endpoints/" + m["id"].(string), "/endpoints"} {
		r := b.do("GET", "/v1/projects/"+p+path, key, nil).requireStatus(t, http.StatusOK)
		assert.NotContains(t, string(r.Body), token)
		assert.NotContains(t, string(r.Body), token[len(token)-8:])
	}
}

func TestEndpointValidationNamesTheField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	ok := "https://example.com/hook"
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"missing url", map[string]any{}, "body.url"},
		{"bad url", map[string]any{"url": "not a url"}, "body.url"},
		{"ftp url", map[string]any{"url": "ftp://example.com/x"}, "body.url"},
		{"url too long", map[string]any{"url": "https://example.com/" + strings.Repeat("a", 2048)}, "body.url"},
		{"unknown response_mode", map[string]any{"url": ok, "response_mode": "later"}, "body.response_mode"},
		{"unknown failure_policy", map[string]any{"url": ok, "failure_policy": "maybe"}, "body.failure_policy"},
		{"bad duration", map[string]any{"url": ok, "timeout": "soon"}, "body.timeout"},
		{"duration as number", map[string]any{"url": ok, "timeout": 5}, "body.timeout"},
		{"timeout over 60s", map[string]any{"url": ok, "timeout": "61s"}, "body.timeout"},
		{"timeout under 1s", map[string]any{"url": ok, "timeout": "10ms"}, "body.timeout"},
		{"bad retry delay", map[string]any{"url": ok, "retry_schedule": []string{"5s", "often"}}, "body.retry_schedule[1]"},
		{"retry delay too long", map[string]any{"url": ok, "retry_schedule": []string{"200h"}}, "body.retry_schedule[0]"},
		{"retry schedule too long", map[string]any{"url": ok, "retry_schedule": repeat("1h", 101)}, "body.retry_schedule"},
		{"max_in_flight too big", map[string]any{"url": ok, "max_in_flight": 5000}, "body.max_in_flight"},
		{"negative rate_limit", map[string]any{"url": ok, "rate_limit": -1}, "body.rate_limit"},
		{"order not integer", map[string]any{"url": ok, "order": 1.5}, "body.order"},
		{"forbidden Content-Type", map[string]any{"url": ok, "headers": map[string]string{"content-type": "text/plain"}}, "body.headers.content-type"},
		{"forbidden Authorization", map[string]any{"url": ok, "headers": map[string]string{"Authorization": "x"}}, "body.headers.Authorization"},
		{"forbidden Host", map[string]any{"url": ok, "headers": map[string]string{"HOST": "x"}}, "body.headers.HOST"},
		{"forbidden webhook-*", map[string]any{"url": ok, "headers": map[string]string{"Webhook-Signature": "x"}}, "body.headers.Webhook-Signature"},
		{"bad header name", map[string]any{"url": ok, "headers": map[string]string{"X Bad": "x"}}, "body.headers"},
		{"header value with newline", map[string]any{"url": ok, "headers": map[string]string{"X-A": "a\r\nX-B: b"}}, "body.headers.X-A"},
		{"header value not string", map[string]any{"url": ok, "headers": map[string]any{"X-A": 1}}, "body.headers"},
		{"bad filter", map[string]any{"url": ok, "filter": "type =="}, "body.filter"},
		{"bad template", map[string]any{"url": ok, "body_template": "{{{"}, "body.body_template"},
		{"bad event type pattern", map[string]any{"url": ok, "event_types": []string{"user created"}}, "body.event_types[0]"},
		{"event_types not a list", map[string]any{"url": ok, "event_types": "user.created"}, "body.event_types"},
		{"empty channel", map[string]any{"url": ok, "channels": []string{""}}, "body.channels[0]"},
		{"validity period reversed", map[string]any{"url": ok, "active_from": "2027-01-01T00:00:00Z", "active_until": "2026-01-01T00:00:00Z"}, "body.active_until"},
		{"bad time", map[string]any{"url": ok, "active_from": "yesterday"}, "body.active_from"},
		{"both auths", map[string]any{"url": ok, "auth": map[string]any{"bearer": "t", "basic": map[string]any{"username": "u", "password": "p"}}}, "body.auth"},
		{"empty auth", map[string]any{"url": ok, "auth": map[string]any{}}, "body.auth"},
		{"unknown auth field", map[string]any{"url": ok, "auth": map[string]any{"digest": "x"}}, "body.auth.digest"},
		{"basic without username", map[string]any{"url": ok, "auth": map[string]any{"basic": map[string]any{"password": "p"}}}, "body.auth.basic.username"},
		{"bad secret", map[string]any{"url": ok, "secret": "whsec_short"}, "body.secret"},
		{"secret without prefix", map[string]any{"url": ok, "secret": "plain"}, "body.secret"},
		{"too many metadata keys", map[string]any{"url": ok, "metadata": manyKeys(51)}, "body.metadata"},
		{"too many headers", map[string]any{"url": ok, "headers": manyKeys(51)}, "body.headers"},
		{"unknown field", map[string]any{"url": ok, "retries": 3}, "body.retries"},
		{"read-only field", map[string]any{"url": ok, "status": "healthy"}, "body.status"},
		{"enabled not bool", map[string]any{"url": ok, "enabled": "yes"}, "body.enabled"},
		{"malformed JSON", `{"url": "https://example.com"`, "body"},
		{"not an object", `["https://example.com"]`, "body"},
		{"null body", `null`, "body"},
		{"empty body", ``, "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do("POST", "/v1/projects/"+p+"/endpoints", key, tc.body)
			r.requireField(t, tc.field)
		})
	}
}

func TestEndpointValidationReportsEveryBadField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	r := b.do("POST", "/v1/projects/"+p+"/endpoints", key, map[string]any{"url": "nope", "timeout": "2m", "response_mode": "x"})
	r.requireField(t, "body.url")
	r.requireField(t, "body.timeout")
	r.requireField(t, "body.response_mode")
}

func TestPrivateURLRefusedUnlessAllowed(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.Guard = netguard.New(false, nil) })
	p, key := b.project("shop")
	for _, u := range []string{"http://127.0.0.1:8080/x", "http://10.0.0.1/x", "http://localhost/x", "http://169.254.169.254/latest", "http://[::1]/x"} {
		b.do("POST", "/v1/projects/"+p+"/endpoints", key, map[string]any{"url": u}).requireField(t, "body.url")
	}
	b.endpoint(p, key, map[string]any{"url": "https://93.184.216.34/x"})
	// The compatibility route applies the same guard.
	b.do("POST", "/projects/"+p+"/events/user.created/webhooks", key, map[string]any{"url": "http://127.0.0.1/x"}).requireField(t, "body.url")
}

func TestUpdateEndpointChangesOnlyGivenFields(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	m := b.endpoint(p, key, map[string]any{
		"url": "https://example.com/hook", "name": "CRM", "filter": `type == "a"`,
		"headers": map[string]string{"X-A": "1"}, "timeout": "30s", "event_types": []string{"a"},
		"auth": map[string]any{"basic": map[string]any{"username": "u", "password": "secret-pw"}},
	})
	path := "/v1/projects/" + p + "/endpoints/" + m["id"].(string)

	u := b.do("PATCH", path, key, map[string]any{"description": "new"}).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, "new", u["description"])
	for _, f := range []string{"url", "name", "filter", "headers", "timeout", "event_types", "retry_schedule", "auth"} {
		assert.Equal(t, m[f], u[f], f)
	}

	// null clears optional fields and resets defaults.
	u = b.do("PATCH", path, key, `{"filter":null,"headers":null,"timeout":null,"name":null,"event_types":null}`).requireStatus(t, http.StatusOK).obj(t)
	assert.NotContains(t, u, "filter")
	assert.Equal(t, map[string]any{}, u["headers"])
	assert.Equal(t, "15s", u["timeout"])
	assert.Equal(t, "", u["name"])
	assert.Equal(t, []any{}, u["event_types"])
	assert.Equal(t, "new", u["description"], "fields not given stay")

	// The redacted password sent back keeps the stored one; so does a
	// masked header value, beside a new header.
	b.do("PATCH", path, key, map[string]any{"headers": map[string]string{"X-A": "9"}}).requireStatus(t, http.StatusOK)
	u = b.do("PATCH", path, key, map[string]any{"auth": u["auth"], "headers": map[string]string{"X-A": service.Redacted, "X-B": "2"}}).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, map[string]any{"X-A": service.Redacted, "X-B": service.Redacted}, u["headers"])
	ep, err := b.store.GetEndpoint(context.Background(), p, m["id"].(string))
	require.NoError(t, err)
	assert.Equal(t, "secret-pw", ep.Auth.Basic.Password)
	assert.Equal(t, map[string]string{"X-A": "9", "X-B": "2"}, ep.Headers)
	b.do("PATCH", path, key, `{"auth":null}`).requireStatus(t, http.StatusOK)
	ep, err = b.store.GetEndpoint(context.Background(), p, m["id"].(string))
	require.NoError(t, err)
	assert.Nil(t, ep.Auth)

	// PATCH validates the result.
	b.do("PATCH", path, key, map[string]any{"timeout": "90s"}).requireField(t, "body.timeout")
	b.do("PATCH", path, key, `{"url":null}`).requireField(t, "body.url")
	b.do("PATCH", path, key, map[string]any{"secret": webhook.NewSecret()}).requireField(t, "body.secret")
	b.do("PATCH", path, key, map[string]any{"bogus": 1}).requireField(t, "body.bogus")
	b.do("PATCH", "/v1/projects/"+p+"/endpoints/ep_nope", key, map[string]any{"name": "x"}).requireStatus(t, http.StatusNotFound)

	// The secret is untouched by PATCH.
	s := b.do("GET", path+"/secret", key, nil).obj(t)
	assert.Equal(t, m["secret"], s["secret"])
}

func TestDisablingAndReenablingAnEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	m := b.endpoint(p, key, map[string]any{"url": "https://example.com/hook"})
	path := "/v1/projects/" + p + "/endpoints/" + m["id"].(string)
	u := b.do("PATCH", path, key, map[string]any{"enabled": false}).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, false, u["enabled"])
	assert.Equal(t, "disabled", u["status"])

	u = b.do("PATCH", path, key, map[string]any{"enabled": true}).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, true, u["enabled"])
	assert.Equal(t, "healthy", u["status"])
	assert.NotContains(t, u, "disabled_reason")
}

func TestReenablingAnAutoDisabledEndpointMakesItHealthy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	m := b.endpoint(p, key, map[string]any{"url": "https://example.com/hook"})
	id := m["id"].(string)
	require.NoError(t, b.store.UpdateEndpointHealth(context.Background(), id, storeHealthDisabled()))
	got := b.do("GET", "/v1/projects/"+p+"/endpoints/"+id, key, nil).obj(t)
	require.Equal(t, "disabled", got["status"])
	u := b.do("PATCH", "/v1/projects/"+p+"/endpoints/"+id, key, map[string]any{"enabled": true}).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, "healthy", u["status"])
	assert.Equal(t, true, u["enabled"])
}

func TestDeleteEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	m := b.endpoint(p, key, map[string]any{"url": "https://example.com/hook"})
	path := "/v1/projects/" + p + "/endpoints/" + m["id"].(string)
	b.do("DELETE", path, key, nil).requireStatus(t, http.StatusNoContent)
	b.do("GET", path, key, nil).requireStatus(t, http.StatusNotFound).problem(t)
	b.do("DELETE", path, key, nil).requireStatus(t, http.StatusNotFound)
}

func TestRotateSecretKeepsPreviousDuringGrace(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	b := setup(t, func(c *Config) { c.Now = func() time.Time { return now } })
	p, key := b.project("shop")
	m := b.endpoint(p, key, map[string]any{"url": "https://example.com/hook"})
	id := m["id"].(string)
	path := "/v1/projects/" + p + "/endpoints/" + id + "/secret"

	r := b.do("POST", path+"/rotate", key, nil).requireStatus(t, http.StatusOK).obj(t)
	fresh := r["secret"].(string)
	assert.NotEqual(t, m["secret"], fresh)
	assert.Equal(t, "2026-11-24T10:00:00Z", r["previous_secret_until"], "the default grace period is 24h")
	ep, err := b.store.GetEndpoint(context.Background(), p, id)
	require.NoError(t, err)
	assert.Equal(t, []string{fresh, m["secret"].(string)}, ep.Secrets(now.Add(time.Hour)))
	assert.Equal(t, []string{fresh}, ep.Secrets(now.Add(25*time.Hour)))
	assert.Equal(t, fresh, b.do("GET", path, key, nil).obj(t)["secret"])

	chosen := webhook.NewSecret()
	r = b.do("POST", path+"/rotate", key, map[string]any{"secret": chosen, "grace_period": "0s"}).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, chosen, r["secret"])
	assert.NotContains(t, r, "previous_secret_until")

	b.do("POST", path+"/rotate", key, map[string]any{"grace_period": "200h"}).requireField(t, "body.grace_period")
	b.do("POST", path+"/rotate", key, map[string]any{"grace_period": "-1h"}).requireField(t, "body.grace_period")
	b.do("POST", path+"/rotate", key, map[string]any{"grace_period": "later"}).requireField(t, "body.grace_period")
	b.do("POST", path+"/rotate", key, map[string]any{"secret": "whsec_bad"}).requireField(t, "body.secret")
	b.do("POST", "/v1/projects/"+p+"/endpoints/ep_nope/secret/rotate", key, nil).requireStatus(t, http.StatusNotFound)
}

func TestTestEndpointReturnsTheAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := testkit.NewReceiver(t, testkit.Status(http.StatusOK))
	p, key := b.project("shop")
	m := b.endpoint(p, key, map[string]any{"url": rc.URL + "/hook"})
	path := "/v1/projects/" + p + "/endpoints/" + m["id"].(string) + "/test"
	a := b.do("POST", path, key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.EqualValues(t, 200, a["response_status"])
	assert.Equal(t, "test", a["trigger"])
	assert.EqualValues(t, 1, rc.Count())

	b.do("POST", path, key, map[string]any{"type": "not a type"}).requireField(t, "body.type")
	b.do("POST", "/v1/projects/"+p+"/endpoints/ep_nope/test", key, nil).requireStatus(t, http.StatusNotFound)
}

func TestRecoverEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	m := b.endpoint(p, key, map[string]any{"url": "https://example.com/hook"})
	path := "/v1/projects/" + p + "/endpoints/" + m["id"].(string) + "/recover"
	r := b.do("POST", path, key, map[string]any{"since": time.Now().Add(-time.Hour).Format(time.RFC3339)}).requireStatus(t, http.StatusAccepted).obj(t)
	assert.EqualValues(t, 0, r["requeued"])

	b.do("POST", path, key, map[string]any{}).requireField(t, "body.since")
	b.do("POST", path, key, map[string]any{"since": "yesterday"}).requireField(t, "body.since")
	b.do("POST", path, key, map[string]any{"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}).requireField(t, "body.since")
}

func TestEndpointStats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	m := b.endpoint(p, key, map[string]any{"url": "https://example.com/hook"})
	path := "/v1/projects/" + p + "/endpoints/" + m["id"].(string) + "/stats"
	s := b.do("GET", path, key, nil).requireStatus(t, http.StatusOK).obj(t)
	for _, f := range []string{"since", "until", "deliveries", "attempts", "success_rate"} {
		assert.Contains(t, s, f)
	}
	since, err := time.Parse(time.RFC3339, s["since"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(-24*time.Hour), since, time.Minute, "the default window is 24h")

	s = b.do("GET", path+"?since=1h", key, nil).requireStatus(t, http.StatusOK).obj(t)
	since, _ = time.Parse(time.RFC3339, s["since"].(string))
	assert.WithinDuration(t, time.Now().Add(-time.Hour), since, time.Minute)
	b.do("GET", path+"?since=2026-01-01T00:00:00Z", key, nil).requireStatus(t, http.StatusOK)
	b.do("GET", path+"?since=yesterday", key, nil).requireField(t, "query.since")
	b.do("GET", path+"?since=2999-01-01T00:00:00Z", key, nil).requireField(t, "query.since")
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func manyKeys(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m["X-K"+strings.Repeat("a", i+1)] = "v"
	}
	return m
}
