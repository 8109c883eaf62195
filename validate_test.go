package herald

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidEventTypeName(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"user.created", "before_registration", "a", "order:paid", "v2-user.created", "herald.endpoint.failing", strings.Repeat("a", 128)} {
		if !ValidEventTypeName(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", "user created", "user.*", "*", "ü", "a/b", strings.Repeat("a", 129), "a\n"} {
		if ValidEventTypeName(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestValidEventTypePattern(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"user.created", "user.*", "herald.*", "*", "user*"} {
		if !ValidEventTypePattern(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", "**", "*.created", "user.*.x", "us er.*", ".*x"} {
		if ValidEventTypePattern(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestValidProjectID(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"shop", "game-prod_1", "0", "prj_01jd6v0000000000000000000", strings.Repeat("a", 63)} {
		if !ValidProjectID(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", "Shop", "-x", "_x", "a b", "a.b", strings.Repeat("a", 64)} {
		if ValidProjectID(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestSetDefaultsFillsOnlyZeroFields(t *testing.T) {
	t.Parallel()
	var e Endpoint
	e.SetDefaults()
	if e.Timeout.D() != TimeoutDefault || e.ResponseMode != ResponseWait || e.FailurePolicy != FailClosed ||
		e.MaxInFlight != MaxInFlightDefault || e.Status != EndpointHealthy {
		t.Fatalf("defaults not set: %+v", e)
	}
	if len(e.RetrySchedule) != len(RetryScheduleDefault) || e.EventTypes == nil || e.Channels == nil || e.Headers == nil || e.Metadata == nil {
		t.Fatalf("collections not set: %+v", e)
	}
	e.RetrySchedule[0] = Duration(time.Hour)
	if RetryScheduleDefault[0] == Duration(time.Hour) {
		t.Fatal("SetDefaults shares the default schedule")
	}

	set := Endpoint{Timeout: Duration(time.Second), ResponseMode: ResponseData, RetrySchedule: []Duration{}, MaxInFlight: 3}
	set.SetDefaults()
	if set.Timeout.D() != time.Second || set.ResponseMode != ResponseData || len(set.RetrySchedule) != 0 || set.MaxInFlight != 3 {
		t.Fatalf("SetDefaults overwrote given values: %+v", set)
	}
	if set.Enabled {
		t.Fatal("SetDefaults must leave Enabled to the caller")
	}
}

func validEndpoint() *Endpoint {
	e := &Endpoint{URL: "https://example.com/hook", Enabled: true}
	e.SetDefaults()
	return e
}

func TestEndpointValidate(t *testing.T) {
	t.Parallel()
	if err := validEndpoint().Validate(); err != nil {
		t.Fatalf("a default endpoint is invalid: %v", err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		edit  func(e *Endpoint)
		field string
	}{
		{"no url", func(e *Endpoint) { e.URL = "" }, "body.url"},
		{"url too long", func(e *Endpoint) { e.URL = "https://a.com/" + strings.Repeat("a", URLMaxLen) }, "body.url"},
		{"scheme", func(e *Endpoint) { e.URL = "gopher://a.com" }, "body.url"},
		{"no host", func(e *Endpoint) { e.URL = "https:///path" }, "body.url"},
		{"credentials in url", func(e *Endpoint) { e.URL = "https://u:p@a.com" }, "body.url"},
		{"timeout too long", func(e *Endpoint) { e.Timeout = Duration(61 * time.Second) }, "body.timeout"},
		{"timeout too short", func(e *Endpoint) { e.Timeout = Duration(time.Millisecond) }, "body.timeout"},
		{"response mode", func(e *Endpoint) { e.ResponseMode = "later" }, "body.response_mode"},
		{"failure policy", func(e *Endpoint) { e.FailurePolicy = "x" }, "body.failure_policy"},
		{"retry delay", func(e *Endpoint) { e.RetrySchedule = []Duration{0} }, "body.retry_schedule[0]"},
		{"retry schedule length", func(e *Endpoint) { e.RetrySchedule = make([]Duration, 101) }, "body.retry_schedule"},
		{"rate limit", func(e *Endpoint) { e.RateLimit = -1 }, "body.rate_limit"},
		{"max in flight", func(e *Endpoint) { e.MaxInFlight = 1001 }, "body.max_in_flight"},
		{"event type pattern", func(e *Endpoint) { e.EventTypes = []string{"ok", "not ok"} }, "body.event_types[1]"},
		{"too many event types", func(e *Endpoint) { e.EventTypes = make([]string, 101) }, "body.event_types"},
		{"empty channel", func(e *Endpoint) { e.Channels = []string{""} }, "body.channels[0]"},
		{"reversed validity", func(e *Endpoint) { u := from.Add(-time.Hour); e.ActiveFrom, e.ActiveUntil = &from, &u }, "body.active_until"},
		{"empty validity", func(e *Endpoint) { e.ActiveFrom, e.ActiveUntil = &from, &from }, "body.active_until"},
		{"both auths", func(e *Endpoint) { e.Auth = &Auth{Bearer: "t", Basic: &BasicAuth{Username: "u"}} }, "body.auth"},
		{"no auth", func(e *Endpoint) { e.Auth = &Auth{} }, "body.auth"},
		{"colon in username", func(e *Endpoint) { e.Auth = &Auth{Basic: &BasicAuth{Username: "a:b"}} }, "body.auth.basic.username"},
		{"newline in bearer", func(e *Endpoint) { e.Auth = &Auth{Bearer: "a\nb"} }, "body.auth.bearer"},
		{"forbidden header", func(e *Endpoint) { e.Headers = map[string]string{"Content-Length": "1"} }, "body.headers.Content-Length"},
		{"webhook header", func(e *Endpoint) { e.Headers = map[string]string{"WEBHOOK-ID": "1"} }, "body.headers.WEBHOOK-ID"},
		{"header name", func(e *Endpoint) { e.Headers = map[string]string{"a:b": "1"} }, "body.headers"},
		{"header value", func(e *Endpoint) { e.Headers = map[string]string{"X-A": "1\r\n"} }, "body.headers.X-A"},
		{"metadata key", func(e *Endpoint) { e.Metadata = map[string]string{"": "v"} }, "body.metadata"},
		{"metadata value", func(e *Endpoint) { e.Metadata = map[string]string{"k": strings.Repeat("v", 1025)} }, "body.metadata.k"},
		{"name", func(e *Endpoint) { e.Name = strings.Repeat("n", NameMaxLen+1) }, "body.name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := validEndpoint()
			tc.edit(e)
			err := e.Validate()
			var he *Error
			if !errors.As(err, &he) || he.Code != EINVALID {
				t.Fatalf("want an EINVALID error, got %v", err)
			}
			for _, f := range he.Fields {
				if f.Location == tc.field {
					return
				}
			}
			t.Fatalf("no error at %s: %v", tc.field, he.Fields)
		})
	}
}
