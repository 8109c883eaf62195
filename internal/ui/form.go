package ui

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/service"
)

// form carries what the user typed and the errors of each field, so that a
// refused form comes back as it was sent, with each message next to its
// field.
type form struct {
	Values  map[string]string
	Errors  map[string][]string
	General []string // errors no field of the form matches
}

func newForm() *form { return &form{Values: map[string]string{}, Errors: map[string][]string{}} }

// V returns a field's value.
func (f *form) V(name string) string { return f.Values[name] }

// Checked reports whether a checkbox is on.
func (f *form) Checked(name string) bool { return f.Values[name] != "" }

// Err returns a field's errors.
func (f *form) Err(name string) []string { return f.Errors[name] }

// HasErrors reports whether anything is wrong.
func (f *form) HasErrors() bool { return len(f.Errors) > 0 || len(f.General) > 0 }

func (f *form) add(field, msg string) { f.Errors[field] = append(f.Errors[field], msg) }

// datetimeLocal is the format of <input type="datetime-local">; the
// dashboard reads and writes it as UTC.
const datetimeLocal = "2006-01-02T15:04"

// endpointFields are the form's inputs, named after the API's JSON fields
// (auth is split into basic_username, basic_password and bearer).
var endpointFields = []string{
	"name", "description", "url", "event_types", "channels", "filter", "enabled",
	"active_from", "active_until", "order", "timeout", "response_mode", "failure_policy",
	"retry_schedule", "rate_limit", "max_in_flight", "ordered", "body_template",
	"basic_username", "basic_password", "bearer", "clear_auth", "headers", "metadata",
}

// endpointForm fills a form from a stored endpoint (edit) or defaults (new).
// Passwords and tokens are never written back into the page.
func endpointForm(ep *herald.Endpoint) *form {
	f := newForm()
	v := f.Values
	v["name"], v["description"], v["url"] = ep.Name, ep.Description, ep.URL
	v["event_types"] = strings.Join(ep.EventTypes, "\n")
	v["channels"] = strings.Join(ep.Channels, "\n")
	v["filter"] = ep.Filter
	if ep.Enabled {
		v["enabled"] = "on"
	}
	if ep.ActiveFrom != nil {
		v["active_from"] = ep.ActiveFrom.UTC().Format(datetimeLocal)
	}
	if ep.ActiveUntil != nil {
		v["active_until"] = ep.ActiveUntil.UTC().Format(datetimeLocal)
	}
	// A value equal to its default is left empty: the input shows the
	// default as its placeholder, so typing replaces it rather than
	// appending to it ("15s90s"), and empty means the default on save.
	v["order"] = nonDefault(strconv.Itoa(ep.Order), "order")
	if ep.Timeout != 0 {
		v["timeout"] = nonDefault(ep.Timeout.String(), "timeout")
	}
	v["response_mode"], v["failure_policy"] = ep.ResponseMode, ep.FailurePolicy
	v["retry_schedule"] = nonDefault(joinDurations(ep.RetrySchedule), "retry_schedule")
	v["rate_limit"] = nonDefault(strconv.Itoa(ep.RateLimit), "rate_limit")
	v["max_in_flight"] = nonDefault(strconv.Itoa(ep.MaxInFlight), "max_in_flight")
	if ep.Ordered {
		v["ordered"] = "on"
	}
	v["body_template"] = ep.BodyTemplate
	if ep.Auth != nil && ep.Auth.Basic != nil {
		v["basic_username"] = ep.Auth.Basic.Username
	}
	v["headers"] = joinMap(service.Redact(ep).Headers, ": ") // values masked; sent back, they are kept
	v["metadata"] = joinMap(ep.Metadata, "=")
	return f
}

// fieldDefaults are what an input left empty stands for (the defaults
// herald.Endpoint.SetDefaults fills in, and the zeros meaning "none"),
// shown as placeholders.
var fieldDefaults = map[string]string{
	"order":          "0",
	"timeout":        herald.Duration(herald.TimeoutDefault).String(),
	"retry_schedule": joinDurations(herald.RetryScheduleDefault),
	"rate_limit":     "0",
	"max_in_flight":  strconv.Itoa(herald.MaxInFlightDefault),
}

// P returns the placeholder of an input: its default, if it has one.
func (f *form) P(name string) string { return fieldDefaults[name] }

// nonDefault is value, or "" when it is the default of the input name.
func nonDefault(value, name string) string {
	if value == fieldDefaults[name] {
		return ""
	}
	return value
}

func joinDurations(ds []herald.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return strings.Join(s, ", ")
}

func joinMap(m map[string]string, sep string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + sep + m[k]
	}
	return strings.Join(lines, "\n")
}

// parseEndpointForm reads the posted form into ep, which holds the stored
// endpoint when editing (so that secrets and auth left empty are kept).
// Inputs that cannot be parsed are recorded as field errors; validation of
// the values themselves is the service's, so the rules live once.
func parseEndpointForm(r *http.Request, ep *herald.Endpoint) *form {
	f := newForm()
	for _, name := range endpointFields {
		f.Values[name] = r.PostFormValue(name)
	}
	v := f.Values
	ep.Name = strings.TrimSpace(v["name"])
	ep.Description = strings.TrimSpace(v["description"])
	ep.URL = strings.TrimSpace(v["url"])
	ep.EventTypes = splitList(v["event_types"])
	ep.Channels = splitList(v["channels"])
	ep.Filter = strings.TrimSpace(v["filter"])
	ep.Enabled = v["enabled"] != ""
	ep.Ordered = v["ordered"] != ""
	ep.ActiveFrom = parseTime(f, "active_from")
	ep.ActiveUntil = parseTime(f, "active_until")
	ep.Order = parseInt(f, "order")
	ep.RateLimit = parseInt(f, "rate_limit")
	ep.MaxInFlight = parseInt(f, "max_in_flight")
	ep.Timeout = 0
	if s := strings.TrimSpace(v["timeout"]); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			f.add("timeout", "not a duration (use e.g. 15s, 1m)")
		} else {
			ep.Timeout = herald.Duration(d)
		}
	}
	ep.ResponseMode = v["response_mode"]
	ep.FailurePolicy = v["failure_policy"]
	ep.RetrySchedule = nil
	for _, s := range splitList(v["retry_schedule"]) {
		d, err := time.ParseDuration(s)
		if err != nil {
			f.add("retry_schedule", strconv.Quote(s)+" is not a duration (use e.g. 5s, 5m, 2h)")
			continue
		}
		ep.RetrySchedule = append(ep.RetrySchedule, herald.Duration(d))
	}
	ep.BodyTemplate = strings.TrimSpace(v["body_template"])
	ep.Headers = parseLines(f, "headers", ":", "Name: value")
	ep.Metadata = parseLines(f, "metadata", "=", "key=value")
	ep.Auth = formAuth(v, ep.Auth)
	return f
}

// formAuth applies the auth inputs to the stored auth: a password or token
// left empty keeps the stored one; "remove authentication" clears both.
func formAuth(v map[string]string, old *herald.Auth) *herald.Auth {
	if v["clear_auth"] != "" {
		return nil
	}
	if old == nil {
		old = &herald.Auth{}
	}
	a := &herald.Auth{Bearer: old.Bearer}
	if t := strings.TrimSpace(v["bearer"]); t != "" {
		a.Bearer = t
	}
	if u := strings.TrimSpace(v["basic_username"]); u != "" {
		pw := v["basic_password"]
		if pw == "" && old.Basic != nil {
			pw = old.Basic.Password
		}
		a.Basic = &herald.BasicAuth{Username: u, Password: pw}
	} else if v["basic_password"] != "" {
		// A password with no user name: let validation name the problem.
		a.Basic = &herald.BasicAuth{Password: v["basic_password"]}
	}
	if a.Basic == nil && a.Bearer == "" {
		return nil
	}
	return a
}

// splitList splits on commas and newlines, dropping blanks.
func splitList(s string) []string {
	out := []string{}
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseInt(f *form, name string) int {
	s := strings.TrimSpace(f.Values[name])
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		f.add(name, "not a whole number")
	}
	return n
}

func parseTime(f *form, name string) *time.Time {
	s := strings.TrimSpace(f.Values[name])
	if s == "" {
		return nil
	}
	for _, layout := range []string{datetimeLocal, "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			t = t.UTC()
			return &t
		}
	}
	f.add(name, "not a date and time (YYYY-MM-DDTHH:MM, UTC)")
	return nil
}

// parseLines reads "key<sep>value" lines into a map.
func parseLines(f *form, name, sep, shape string) map[string]string {
	m := map[string]string{}
	for i, line := range strings.Split(f.Values[name], "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, sep)
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			f.add(name, "line "+strconv.Itoa(i+1)+" is not "+shape)
			continue
		}
		m[k] = strings.TrimSpace(val)
	}
	return m
}

// formField maps an API field location ("body.url",
// "body.auth.basic.password", "body.headers.X-Foo", "body.retry_schedule[2]")
// to the form input it belongs to.
func formField(location string) string {
	loc := strings.TrimPrefix(location, "body.")
	if loc == location && strings.Contains(location, ".") {
		return ""
	}
	switch {
	case strings.HasPrefix(loc, "auth.basic.password"):
		return "basic_password"
	case strings.HasPrefix(loc, "auth.basic"):
		return "basic_username"
	case strings.HasPrefix(loc, "auth.bearer"):
		return "bearer"
	case strings.HasPrefix(loc, "auth"):
		return "basic_username"
	}
	if i := strings.IndexAny(loc, ".["); i >= 0 {
		loc = loc[:i]
	}
	for _, name := range endpointFields {
		if name == loc {
			return name
		}
	}
	return ""
}

// addFieldErrors attaches validation errors to the form's fields.
func (f *form) addFieldErrors(fields []herald.FieldError) {
	for _, fe := range fields {
		if name := formField(fe.Location); name != "" {
			f.add(name, fe.Message)
		} else {
			f.General = append(f.General, fe.Location+": "+fe.Message)
		}
	}
}
