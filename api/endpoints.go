package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/bodytemplate"
	"github.com/herald-dev/herald/filter"
	"github.com/herald-dev/herald/netguard"
	"github.com/herald-dev/herald/store"
	"github.com/herald-dev/herald/webhook"
)

// PrepareEndpoint fills an endpoint's defaults and validates it entirely:
// herald's pure checks (Endpoint.Validate), then those needing other
// packages: the URL against the guard, the filter (CEL), the body template
// (jq), and the secret, which is generated when empty. The error is an
// EINVALID *herald.Error listing every bad field ("body.<field>"). The
// dashboard calls it too, so both paths accept exactly the same endpoints.
func PrepareEndpoint(ep *herald.Endpoint, g *netguard.Guard) error {
	ep.SetDefaults()
	var v herald.Validation
	if err := ep.Validate(); err != nil {
		var he *herald.Error
		if !errors.As(err, &he) {
			return err
		}
		v.Fields = append(v.Fields, he.Fields...)
	}
	if !hasError(&v, "body.url") {
		if err := g.CheckURL(ep.URL); err != nil {
			v.Add("body.url", clip(ep.URL), "%s", strings.TrimPrefix(err.Error(), "url: "))
		}
	}
	if ep.Filter != "" {
		if _, err := filter.Compile(ep.Filter); err != nil {
			v.Add("body.filter", nil, "%s", err.Error())
		}
	}
	if ep.BodyTemplate != "" {
		if _, err := bodytemplate.Compile(ep.BodyTemplate); err != nil {
			v.Add("body.body_template", nil, "%s", err.Error())
		}
	}
	if ep.Secret == "" {
		ep.Secret = webhook.NewSecret()
	} else if _, err := webhook.ParseSecret(ep.Secret); err != nil {
		v.Add("body.secret", nil, "must be \"whsec_\" followed by the base64 of %d to %d random bytes", webhook.MinSecretBytes, webhook.MaxSecretBytes)
	}
	return v.Err()
}

// redacted replaces credentials in responses. A client that sends it back
// unchanged in a PATCH keeps the stored credential.
const redacted = "********"

// endpointView is an endpoint in responses: auth redacted, and the secret
// only when the endpoint is created.
type endpointView struct {
	*herald.Endpoint
	Auth   *herald.Auth `json:"auth,omitempty"`
	Secret string       `json:"secret,omitempty"`
}

func viewEndpoint(ep *herald.Endpoint) endpointView {
	v := endpointView{Endpoint: ep}
	if a := ep.Auth; a != nil {
		ra := &herald.Auth{}
		if a.Basic != nil {
			ra.Basic = &herald.BasicAuth{Username: a.Basic.Username}
			if a.Basic.Password != "" {
				ra.Basic.Password = redacted
			}
		}
		if a.Bearer != "" {
			ra.Bearer = redacted
		}
		v.Auth = ra
	}
	return v
}

// decodeEndpoint applies the fields present in o to ep. For a PATCH, old
// is the stored endpoint (nil on create): absent fields keep their value,
// null resets a field to its default.
func decodeEndpoint(o *object, ep *herald.Endpoint, old *herald.Endpoint) {
	patch := old != nil
	str := func(name string, dst *string) {
		if o.null(name) {
			*dst = ""
		}
		o.get(name, dst)
	}
	str("url", &ep.URL)
	str("name", &ep.Name)
	str("description", &ep.Description)
	str("filter", &ep.Filter)
	str("body_template", &ep.BodyTemplate)
	str("response_mode", &ep.ResponseMode)
	str("failure_policy", &ep.FailurePolicy)

	strs := func(name string, dst *[]string) {
		if o.null(name) {
			*dst = []string{}
		}
		var list []string
		if o.get(name, &list) {
			if list == nil {
				list = []string{}
			}
			*dst = list
		}
	}
	strs("event_types", &ep.EventTypes)
	strs("channels", &ep.Channels)

	maps := func(name string, dst *map[string]string) {
		if o.null(name) {
			*dst = map[string]string{}
		}
		var m map[string]string
		if o.get(name, &m) {
			*dst = m
		}
	}
	maps("headers", &ep.Headers)
	maps("metadata", &ep.Metadata)

	if o.null("enabled") {
		ep.Enabled = true
	}
	o.get("enabled", &ep.Enabled)
	if o.null("ordered") {
		ep.Ordered = false
	}
	o.get("ordered", &ep.Ordered)

	ints := func(name string, dst *int) {
		if o.null(name) {
			*dst = 0
		}
		o.get(name, dst)
	}
	ints("order", &ep.Order)
	ints("rate_limit", &ep.RateLimit)
	ints("max_in_flight", &ep.MaxInFlight)

	times := func(name string, dst **time.Time) {
		if o.null(name) {
			*dst = nil
		}
		var t time.Time
		if o.get(name, &t) {
			t = t.UTC()
			*dst = &t
		}
	}
	times("active_from", &ep.ActiveFrom)
	times("active_until", &ep.ActiveUntil)

	if o.null("timeout") {
		ep.Timeout = 0
	}
	o.get("timeout", &ep.Timeout)
	if o.null("retry_schedule") {
		ep.RetrySchedule = nil
	}
	if rs, ok := o.durations("retry_schedule"); ok {
		ep.RetrySchedule = rs
	}

	if o.null("auth") {
		ep.Auth = nil
	}
	if a, ok := decodeAuth(o); ok {
		if patch && old.Auth != nil {
			// A redacted credential sent back means "keep it".
			if a.Basic != nil && a.Basic.Password == redacted && old.Auth.Basic != nil {
				a.Basic.Password = old.Auth.Basic.Password
			}
			if a.Bearer == redacted && old.Auth.Bearer != "" {
				a.Bearer = old.Auth.Bearer
			}
		}
		ep.Auth = a
	}

	if patch {
		if o.has("secret") {
			o.take("secret")
			o.v.Add("body.secret", nil, "use POST …/secret/rotate to change the secret")
		}
	} else {
		o.get("secret", &ep.Secret)
	}
	o.readOnly("id", "project_id", "status", "disabled_reason", "created_at", "updated_at")
	o.done()
}

// decodeAuth reads {"basic":{"username","password"}} or {"bearer":"…"},
// naming unknown and mistyped fields precisely.
func decodeAuth(o *object) (*herald.Auth, bool) {
	ao, ok := o.sub("auth")
	if !ok {
		return nil, false
	}
	a := &herald.Auth{}
	if bo, ok := ao.sub("basic"); ok {
		a.Basic = &herald.BasicAuth{}
		bo.get("username", &a.Basic.Username)
		bo.get("password", &a.Basic.Password)
		bo.done()
	}
	ao.get("bearer", &a.Bearer)
	ao.done()
	return a, true
}

func (s *Server) createEndpoint(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var v herald.Validation
	ep := &herald.Endpoint{Enabled: true}
	if o, ok := decodeObject(body, "body", &v, false); ok {
		decodeEndpoint(o, ep, nil)
	}
	if err := v.Err(); err != nil {
		return err
	}
	if err := PrepareEndpoint(ep, s.guard); err != nil {
		return err
	}
	now := s.now().UTC()
	ep.ID = herald.NewID(herald.PrefixEndpoint)
	ep.ProjectID = c.project.ID
	ep.CreatedAt, ep.UpdatedAt = now, now
	if !ep.Enabled {
		ep.Status, ep.DisabledReason = herald.EndpointDisabled, disabledByAPI
	}
	if err := s.store.CreateEndpoint(r.Context(), ep); err != nil {
		return err
	}
	s.engine.EndpointsChanged(ep.ProjectID)
	view := viewEndpoint(ep)
	view.Secret = ep.Secret
	writeJSON(w, http.StatusCreated, view)
	return nil
}

// disabledByAPI is the disabled_reason of an endpoint a client disabled.
const disabledByAPI = "disabled through the API"

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request, c *call) error {
	var v herald.Validation
	page := newQuery(r, &v).page()
	if err := v.Err(); err != nil {
		return err
	}
	eps, next, err := s.store.ListEndpoints(r.Context(), c.project.ID, store.EndpointFilter{}, page)
	if err != nil {
		return err
	}
	views := make([]endpointView, len(eps))
	for i, ep := range eps {
		views[i] = viewEndpoint(ep)
	}
	writeJSON(w, http.StatusOK, newList(views, next))
	return nil
}

func (s *Server) loadEndpoint(r *http.Request, c *call) (*herald.Endpoint, error) {
	ep, err := s.store.GetEndpoint(r.Context(), c.project.ID, r.PathValue("id"))
	if herald.IsNotFound(err) {
		return nil, notFound("endpoint")
	}
	return ep, err
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request, c *call) error {
	ep, err := s.loadEndpoint(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewEndpoint(ep))
	return nil
}

func (s *Server) updateEndpoint(w http.ResponseWriter, r *http.Request, c *call) error {
	old, err := s.loadEndpoint(r, c)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	ep := cloneEndpoint(old)
	var v herald.Validation
	if o, ok := decodeObject(body, "body", &v, false); ok {
		decodeEndpoint(o, ep, old)
	}
	if err := v.Err(); err != nil {
		return err
	}
	if err := PrepareEndpoint(ep, s.guard); err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now().UTC()
	ep.UpdatedAt = now
	if err := s.store.UpdateEndpoint(ctx, ep); err != nil {
		if herald.IsNotFound(err) {
			return notFound("endpoint")
		}
		return err
	}
	switch {
	case ep.Enabled && old.Status == herald.EndpointDisabled:
		// Re-enabling starts afresh: no failure history, breaker closed.
		err = s.store.UpdateEndpointHealth(ctx, ep.ID, store.EndpointHealth{Status: herald.EndpointHealthy})
	case !ep.Enabled && old.Enabled:
		// Disabled endpoints get nothing: their pending deliveries are canceled.
		err = s.store.UpdateEndpointHealth(ctx, ep.ID, store.EndpointHealth{Status: herald.EndpointDisabled, DisabledReason: disabledByAPI})
	}
	if err != nil {
		return err
	}
	s.engine.EndpointsChanged(ep.ProjectID)
	if ep, err = s.loadEndpoint(r, c); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewEndpoint(ep))
	return nil
}

// cloneEndpoint copies ep deeply enough that editing the copy's lists,
// maps and auth leaves ep as it was (the PATCH compares both).
func cloneEndpoint(ep *herald.Endpoint) *herald.Endpoint {
	c := *ep
	c.EventTypes = append([]string(nil), ep.EventTypes...)
	c.Channels = append([]string(nil), ep.Channels...)
	c.RetrySchedule = append([]herald.Duration(nil), ep.RetrySchedule...)
	c.Headers = make(map[string]string, len(ep.Headers))
	for k, v := range ep.Headers {
		c.Headers[k] = v
	}
	c.Metadata = make(map[string]string, len(ep.Metadata))
	for k, v := range ep.Metadata {
		c.Metadata[k] = v
	}
	if ep.Auth != nil {
		a := *ep.Auth
		if a.Basic != nil {
			b := *a.Basic
			a.Basic = &b
		}
		c.Auth = &a
	}
	if ep.RetrySchedule != nil && len(ep.RetrySchedule) == 0 {
		c.RetrySchedule = []herald.Duration{} // keep "no retries"
	}
	return &c
}

func (s *Server) deleteEndpoint(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.store.DeleteEndpoint(r.Context(), c.project.ID, r.PathValue("id")); err != nil {
		if herald.IsNotFound(err) {
			return notFound("endpoint")
		}
		return err
	}
	s.engine.EndpointsChanged(c.project.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// secretView is an endpoint's signing secret.
type secretView struct {
	Secret string `json:"secret"`
	// PreviousSecretUntil: until then the previous secret signs too.
	PreviousSecretUntil *time.Time `json:"previous_secret_until,omitempty"`
}

func (s *Server) getEndpointSecret(w http.ResponseWriter, r *http.Request, c *call) error {
	ep, err := s.loadEndpoint(r, c)
	if err != nil {
		return err
	}
	view := secretView{Secret: ep.Secret}
	if ep.PreviousSecret != "" && ep.PreviousSecretUntil != nil && s.now().Before(*ep.PreviousSecretUntil) {
		view.PreviousSecretUntil = ep.PreviousSecretUntil
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

// Bounds of a secret rotation's grace period.
const (
	GracePeriodDefault = 24 * time.Hour
	GracePeriodMax     = 7 * 24 * time.Hour
)

func (s *Server) rotateEndpointSecret(w http.ResponseWriter, r *http.Request, c *call) error {
	ep, err := s.loadEndpoint(r, c)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var v herald.Validation
	secret := ""
	grace := herald.Duration(GracePeriodDefault)
	if o, ok := decodeObject(body, "body", &v, true); ok {
		o.get("secret", &secret)
		o.get("grace_period", &grace)
		o.done()
	}
	if secret != "" {
		if _, err := webhook.ParseSecret(secret); err != nil {
			v.Add("body.secret", nil, "must be \"whsec_\" followed by the base64 of %d to %d random bytes", webhook.MinSecretBytes, webhook.MaxSecretBytes)
		}
	} else {
		secret = webhook.NewSecret()
	}
	if grace.D() < 0 || grace.D() > GracePeriodMax {
		v.Add("body.grace_period", grace.String(), "must be between 0s and %s", GracePeriodMax)
	}
	if err := v.Err(); err != nil {
		return err
	}
	now := s.now().UTC()
	ep.PreviousSecret, ep.PreviousSecretUntil = "", nil
	if grace > 0 {
		until := now.Add(grace.D())
		ep.PreviousSecret, ep.PreviousSecretUntil = ep.Secret, &until
	}
	ep.Secret = secret
	ep.UpdatedAt = now
	if err := s.store.UpdateEndpoint(r.Context(), ep); err != nil {
		if herald.IsNotFound(err) {
			return notFound("endpoint")
		}
		return err
	}
	s.engine.EndpointsChanged(ep.ProjectID)
	writeJSON(w, http.StatusOK, secretView{Secret: ep.Secret, PreviousSecretUntil: ep.PreviousSecretUntil})
	return nil
}

func (s *Server) testEndpoint(w http.ResponseWriter, r *http.Request, c *call) error {
	ep, err := s.loadEndpoint(r, c)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var v herald.Validation
	eventType := ""
	if o, ok := decodeObject(body, "body", &v, true); ok {
		o.get("type", &eventType)
		o.done()
	}
	if eventType != "" && !herald.ValidEventTypeName(eventType) {
		v.Add("body.type", clip(eventType), "not an event type name")
	}
	if err := v.Err(); err != nil {
		return err
	}
	att, err := s.engine.Test(r.Context(), c.project.ID, ep.ID, eventType)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, att)
	return nil
}

func (s *Server) recoverEndpoint(w http.ResponseWriter, r *http.Request, c *call) error {
	ep, err := s.loadEndpoint(r, c)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var v herald.Validation
	var since, until time.Time
	if o, ok := decodeObject(body, "body", &v, false); ok {
		if !o.get("since", &since) && !hasError(&v, "body.since") {
			v.Add("body.since", nil, "required")
		}
		o.get("until", &until)
		o.done()
	}
	now := s.now().UTC()
	if until.IsZero() {
		until = now
	}
	if !since.IsZero() && !since.Before(until) {
		v.Add("body.since", since.UTC().Format(time.RFC3339), "must be before until (%s)", until.UTC().Format(time.RFC3339))
	}
	if err := v.Err(); err != nil {
		return err
	}
	n, err := s.engine.Recover(r.Context(), c.project.ID, ep.ID, since.UTC(), until.UTC())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"requeued": n})
	return nil
}

// StatsWindowDefault is the window of endpoint stats without ?since=.
const StatsWindowDefault = 24 * time.Hour

// endpointStats answers stats over [since, now]. since is an RFC 3339 time
// or a duration back from now ("1h"). The store's window always ends now,
// so ?until= is validated but cannot move the end: the response's "until"
// says which window it covers.
func (s *Server) endpointStats(w http.ResponseWriter, r *http.Request, c *call) error {
	ep, err := s.loadEndpoint(r, c)
	if err != nil {
		return err
	}
	var v herald.Validation
	q := newQuery(r, &v)
	now := s.now().UTC()
	since := now.Add(-StatsWindowDefault)
	if raw := q.str("since"); raw != "" {
		if d, err := time.ParseDuration(raw); err == nil && d > 0 {
			since = now.Add(-d)
		} else if t := q.time("since"); t != nil {
			since = *t
		}
	}
	q.time("until")
	if !since.Before(now) && !hasError(&v, "query.since") {
		v.Add("query.since", since.Format(time.RFC3339), "must be in the past")
	}
	if err := v.Err(); err != nil {
		return err
	}
	st, err := s.store.EndpointStats(r.Context(), c.project.ID, ep.ID, since)
	if err != nil {
		return err
	}
	if st.Deliveries == nil {
		st.Deliveries = map[string]int{}
	}
	writeJSON(w, http.StatusOK, struct {
		*store.EndpointStats
		Until time.Time `json:"until"`
	}{st, now})
	return nil
}

// subscribeURLMaxLen bounds the URL of the compatibility route.
const subscribeURLMaxLen = 500

// subscribe is the compatibility route POST
// /projects/{project}/events/{event_type}/webhooks {"url"}: it creates an
// endpoint with the defaults subscribed to that one event type, and
// answers 200 {}. The same URL subscribed again to the same type is not
// duplicated.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var v herald.Validation
	eventType := r.PathValue("event_type")
	if !herald.ValidEventTypeName(eventType) {
		v.Add("path.event_type", clip(eventType), "not an event type name")
	}
	rawURL := ""
	if o, ok := decodeObject(body, "body", &v, false); ok {
		o.get("url", &rawURL)
		o.done()
	}
	switch {
	case hasError(&v, "body.url"), hasError(&v, "body"):
	case rawURL == "":
		v.Add("body.url", nil, "required")
	case len(rawURL) > subscribeURLMaxLen:
		v.Add("body.url", nil, "at most %d characters", subscribeURLMaxLen)
	}
	if err := v.Err(); err != nil {
		return err
	}
	ctx := r.Context()
	existing, err := s.store.ProjectEndpoints(ctx, c.project.ID)
	if err != nil {
		return err
	}
	for _, ep := range existing {
		if ep.URL == rawURL && len(ep.EventTypes) == 1 && ep.EventTypes[0] == eventType {
			writeJSON(w, http.StatusOK, struct{}{})
			return nil
		}
	}
	ep := &herald.Endpoint{URL: rawURL, EventTypes: []string{eventType}, Enabled: true}
	if err := PrepareEndpoint(ep, s.guard); err != nil {
		return err
	}
	now := s.now().UTC()
	ep.ID = herald.NewID(herald.PrefixEndpoint)
	ep.ProjectID = c.project.ID
	ep.CreatedAt, ep.UpdatedAt = now, now
	if err := s.store.CreateEndpoint(ctx, ep); err != nil {
		return err
	}
	s.engine.EndpointsChanged(ep.ProjectID)
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}
