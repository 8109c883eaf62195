package api

import (
	"net/http"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
)

// endpointView is an endpoint in responses: credentials redacted
// (service.Redact), and the secret only when the endpoint is created.
type endpointView struct {
	*herald.Endpoint
	Secret string `json:"secret,omitempty"`
}

func viewEndpoint(ep *herald.Endpoint) endpointView {
	return endpointView{Endpoint: service.Redact(ep)}
}

// decodeEndpoint applies the fields present in o to ep. For a PATCH
// (patch true) ep is a copy of the stored endpoint: absent fields keep
// their value, null resets a field to its default. The caller refuses the
// fields left unread (decodeBody).
func decodeEndpoint(o *object, ep *herald.Endpoint, patch bool) {
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
	str("tenant_id", &ep.TenantID) // fixed at creation: the service refuses a change

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
	if jitter := true; o.get("retry_jitter", &jitter) || o.null("retry_jitter") {
		ep.RetryJitter = &jitter // null: the default, true
	}

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
		ep.Auth = a // a redacted credential sent back is kept by the service
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
	ep := &herald.Endpoint{Enabled: true}
	if err := s.decodeBody(w, r, false, func(o *object) {
		decodeEndpoint(o, ep, false)
	}); err != nil {
		return err
	}
	if err := s.svc.CreateEndpoint(r.Context(), c.project.ID, ep); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, createdEndpointView(ep))
	return nil
}

// createdEndpointView is the answer of an endpoint's creation: the only
// one, with GET …/secret, that shows the secret.
func createdEndpointView(ep *herald.Endpoint) endpointView {
	view := viewEndpoint(ep)
	view.Secret = ep.Secret
	return view
}

// createdEndpointAgain answers a repeat of an endpoint's creation (keyed):
// the endpoint as stored now.
func (s *Server) createdEndpointAgain(r *http.Request, c *call, id string) (any, error) {
	ep, err := s.svc.Endpoint(r.Context(), c.project.ID, id)
	if err != nil {
		return nil, err
	}
	return createdEndpointView(ep), nil
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request, c *call) error {
	var v herald.Validation
	q := newQuery(r, &v, "limit", "cursor", "tenant_id")
	page := q.page()
	f := store.EndpointFilter{TenantID: q.tenant(r)}
	if err := v.Err(); err != nil {
		return err
	}
	eps, next, err := s.store.ListEndpoints(r.Context(), c.project.ID, f, page)
	if err != nil {
		return listError(err)
	}
	views := make([]endpointView, len(eps))
	for i, ep := range eps {
		views[i] = viewEndpoint(ep)
	}
	writeJSON(w, http.StatusOK, newList(views, q.next(next)))
	return nil
}

func (s *Server) loadEndpoint(r *http.Request, c *call) (*herald.Endpoint, error) {
	return s.svc.Endpoint(r.Context(), c.project.ID, r.PathValue("id"))
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
	ep := service.CloneEndpoint(old)
	if err := s.decodeBody(w, r, false, func(o *object) { decodeEndpoint(o, ep, true) }); err != nil {
		return err
	}
	if ep, err = s.svc.UpdateEndpoint(r.Context(), old, ep); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewEndpoint(ep))
	return nil
}

func (s *Server) deleteEndpoint(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.svc.DeleteEndpoint(r.Context(), c.project.ID, r.PathValue("id")); err != nil {
		return err
	}
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

func (s *Server) rotateEndpointSecret(w http.ResponseWriter, r *http.Request, c *call) error {
	ep, err := s.loadEndpoint(r, c)
	if err != nil {
		return err
	}
	var rot service.Rotation
	if err := s.decodeBody(w, r, true, func(o *object) {
		o.get("secret", &rot.Secret)
		var grace herald.Duration
		if o.get("grace_period", &grace) {
			d := grace.D()
			rot.GracePeriod = &d
		}
	}); err != nil {
		return err
	}
	if err := s.svc.RotateSecret(r.Context(), ep, rot); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, secretView{Secret: ep.Secret, PreviousSecretUntil: ep.PreviousSecretUntil})
	return nil
}

func (s *Server) testEndpoint(w http.ResponseWriter, r *http.Request, c *call) error {
	ep, err := s.loadEndpoint(r, c)
	if err != nil {
		return err
	}
	eventType := ""
	if err := s.decodeBody(w, r, true, func(o *object) {
		o.get("type", &eventType)
	}); err != nil {
		return err
	}
	att, err := s.svc.TestEndpoint(r.Context(), ep, eventType)
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
	var since, until time.Time
	if err := s.decodeBody(w, r, false, func(o *object) {
		o.get("since", &since)
		o.get("until", &until)
	}); err != nil {
		return err
	}
	n, err := s.svc.RecoverEndpoint(r.Context(), ep, since, until)
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
	q := newQuery(r, &v, "since", "until")
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
	if !since.Before(now) && !v.Has("query.since") {
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

// subscribe is the compatibility route POST
// /projects/{project}/events/{event_type}/webhooks {"url"}: it creates an
// endpoint with the defaults subscribed to that one event type, and
// answers 200 {}. The same URL subscribed again to the same type is not
// duplicated.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request, c *call) error {
	rawURL := ""
	if err := s.decodeBody(w, r, false, func(o *object) {
		o.get("url", &rawURL)
	}); err != nil {
		return err
	}
	if err := s.svc.Subscribe(r.Context(), c.project.ID, r.PathValue("event_type"), rawURL); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}
