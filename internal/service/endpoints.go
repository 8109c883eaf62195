package service

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/bodytemplate"
	"github.com/herald-dev/herald/internal/filter"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/webhook"
)

// Redacted stands for a credential (a basic password, a bearer token, a
// custom header's value) in everything a transport shows. Sent back
// unchanged in an update it keeps the stored credential.
const Redacted = "********"

// DisabledByUser is the disabled_reason of an endpoint a user disabled,
// through whichever transport.
const DisabledByUser = "disabled by a user"

// Bounds of a secret rotation's grace period.
const (
	GracePeriodDefault = 24 * time.Hour
	GracePeriodMax     = 7 * 24 * time.Hour
)

// ValidateEndpoint fills an endpoint's defaults and validates it entirely:
// the root package's checks (Endpoint.Validate), then those needing other
// packages: the URL against the guard, the filter (CEL), the body template
// (jq), and the secret, which is generated when empty. The error is an
// EINVALID *herald.Error listing every bad field ("body.<field>").
func (s *Service) ValidateEndpoint(ep *herald.Endpoint) error {
	ep.SetDefaults()
	var v herald.Validation
	if err := ep.Validate(); err != nil {
		var he *herald.Error
		if !errors.As(err, &he) {
			return err
		}
		v.Fields = append(v.Fields, he.Fields...)
	}
	if !v.Has("body.url") {
		if err := s.guard.CheckURL(ep.URL); err != nil {
			v.Add("body.url", herald.Clip(ep.URL), "%s", strings.TrimPrefix(err.Error(), "url: "))
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
	} else {
		checkSecret(&v, ep.Secret)
	}
	return v.Err()
}

func checkSecret(v *herald.Validation, secret string) {
	if _, err := webhook.ParseSecret(secret); err != nil {
		v.Add("body.secret", nil, "must be \"whsec_\" followed by the base64 of %d to %d random bytes", webhook.MinSecretBytes, webhook.MaxSecretBytes)
	}
}

// Endpoint returns the project's endpoint id; ENOTFOUND "endpoint not
// found" when there is none or it is another tenant's than the caller's
// (a tenant-bound key sees no project-wide endpoint either).
func (s *Service) Endpoint(ctx context.Context, projectID, id string) (*herald.Endpoint, error) {
	ep, err := s.st.GetEndpoint(ctx, projectID, id)
	if err == nil && !visible(ctx, ep.TenantID) {
		err = herald.Errorf(herald.ENOTFOUND, "endpoint not found")
	}
	return ep, notFound(err, "endpoint")
}

// CreateEndpoint validates ep (ValidateEndpoint), gives it an id, and
// stores it in the project. An endpoint created with Enabled false is
// disabled (status disabled, DisabledByUser); the health fields the caller
// set are ignored. Its TenantID is the caller's tenant when the caller is
// bound to one (BindTenant); a tenant that does not exist is created with
// it.
func (s *Service) CreateEndpoint(ctx context.Context, projectID string, ep *herald.Endpoint) error {
	tenant, terr := BindTenant(ctx, ep.TenantID, "body.tenant_id")
	if err := s.ValidateEndpoint(ep); err != nil || terr != nil {
		return joinInvalid(terr, err)
	}
	ep.TenantID = tenant
	now := s.Now()
	ep.ID = herald.NewID(herald.PrefixEndpoint)
	ep.ProjectID = projectID
	ep.CreatedAt, ep.UpdatedAt = now, now
	ep.Status, ep.DisabledReason = herald.EndpointHealthy, ""
	ep.ConsecutiveFailures, ep.FailingSince, ep.PausedUntil = 0, nil, nil
	if !ep.Enabled {
		ep.Status, ep.DisabledReason = herald.EndpointDisabled, DisabledByUser
	}
	if err := s.st.CreateEndpoint(ctx, ep); err != nil {
		return err
	}
	s.eng.EndpointsChanged(projectID)
	return nil
}

// UpdateEndpoint replaces the configuration of old, as stored, with ep's
// (the caller edits a CloneEndpoint of old), and returns the endpoint as
// stored afterwards. Credentials sent back as Redacted keep their stored
// value; the secret is kept; a change of TenantID is an EINVALID. Turning Enabled off disables the endpoint
// (DisabledByUser) and cancels its unfinished deliveries at once; turning
// it on again after a disabling starts afresh: healthy, no failure
// history, breaker closed.
func (s *Service) UpdateEndpoint(ctx context.Context, old, ep *herald.Endpoint) (*herald.Endpoint, error) {
	ep.ID, ep.ProjectID, ep.CreatedAt = old.ID, old.ProjectID, old.CreatedAt
	ep.Secret, ep.PreviousSecret, ep.PreviousSecretUntil = old.Secret, old.PreviousSecret, old.PreviousSecretUntil
	keepRedacted(old, ep)
	var terr error
	if ep.TenantID != old.TenantID {
		terr = invalid("body.tenant_id", herald.Clip(ep.TenantID), "an endpoint's tenant cannot change (it is %q)", old.TenantID)
	}
	if err := s.ValidateEndpoint(ep); err != nil || terr != nil {
		return nil, joinInvalid(terr, err)
	}
	ep.UpdatedAt = s.Now()
	if err := s.st.UpdateEndpoint(ctx, ep); err != nil {
		return nil, notFound(err, "endpoint")
	}
	var err error
	switch {
	case ep.Enabled && old.Status == herald.EndpointDisabled:
		err = s.st.UpdateEndpointHealth(ctx, ep.ID, store.EndpointHealth{Status: herald.EndpointHealthy})
	case !ep.Enabled && old.Enabled:
		err = s.st.UpdateEndpointHealth(ctx, ep.ID, store.EndpointHealth{Status: herald.EndpointDisabled, DisabledReason: DisabledByUser})
	}
	s.eng.EndpointsChanged(ep.ProjectID)
	if err != nil {
		return nil, notFound(err, "endpoint")
	}
	if ep.Enabled && (!old.Enabled || old.Status == herald.EndpointDisabled) {
		// An operator's enable means "try now": the breaker closes.
		s.eng.EndpointResumed(ep.ID)
	}
	return s.Endpoint(ctx, ep.ProjectID, ep.ID)
}

// SetEndpointEnabled enables or disables ep, as UpdateEndpoint does.
func (s *Service) SetEndpointEnabled(ctx context.Context, ep *herald.Endpoint, on bool) (*herald.Endpoint, error) {
	edit := CloneEndpoint(ep)
	edit.Enabled = on
	return s.UpdateEndpoint(ctx, ep, edit)
}

// keepRedacted puts back the stored credentials that ep carries as
// Redacted.
func keepRedacted(old, ep *herald.Endpoint) {
	if a, o := ep.Auth, old.Auth; a != nil && o != nil {
		if a.Basic != nil && a.Basic.Password == Redacted && o.Basic != nil {
			a.Basic.Password = o.Basic.Password
		}
		if a.Bearer == Redacted && o.Bearer != "" {
			a.Bearer = o.Bearer
		}
	}
	for name, val := range ep.Headers {
		if stored, ok := old.Headers[name]; ok && val == Redacted {
			ep.Headers[name] = stored
		}
	}
}

// Redact returns a copy of ep to show: its basic password, bearer token and
// custom header values replaced by Redacted (custom headers carry API keys
// as often as auth does). The secret is not shown anyway (json:"-").
func Redact(ep *herald.Endpoint) *herald.Endpoint {
	c := *ep
	if a := ep.Auth; a != nil {
		ra := &herald.Auth{}
		if a.Basic != nil {
			ra.Basic = &herald.BasicAuth{Username: a.Basic.Username}
			if a.Basic.Password != "" {
				ra.Basic.Password = Redacted
			}
		}
		if a.Bearer != "" {
			ra.Bearer = Redacted
		}
		c.Auth = ra
	}
	if ep.Headers != nil {
		c.Headers = make(map[string]string, len(ep.Headers))
		for name := range ep.Headers {
			c.Headers[name] = Redacted
		}
	}
	return &c
}

// CloneEndpoint copies ep deeply enough that editing the copy's lists,
// maps and auth leaves ep as it was (UpdateEndpoint compares both).
func CloneEndpoint(ep *herald.Endpoint) *herald.Endpoint {
	c := *ep
	c.EventTypes = slices.Clone(ep.EventTypes)
	c.Channels = slices.Clone(ep.Channels)
	c.RetrySchedule = slices.Clone(ep.RetrySchedule)
	c.Headers = maps.Clone(ep.Headers)
	c.Metadata = maps.Clone(ep.Metadata)
	if ep.Auth != nil {
		a := *ep.Auth
		if a.Basic != nil {
			b := *a.Basic
			a.Basic = &b
		}
		c.Auth = &a
	}
	return &c
}

// DeleteEndpoint removes the endpoint; its unfinished deliveries are
// canceled at once.
func (s *Service) DeleteEndpoint(ctx context.Context, projectID, id string) error {
	if boundTenant(ctx) != "" {
		if _, err := s.Endpoint(ctx, projectID, id); err != nil {
			return err
		}
	}
	if err := s.st.DeleteEndpoint(ctx, projectID, id); err != nil {
		return notFound(err, "endpoint")
	}
	s.eng.EndpointsChanged(projectID)
	return nil
}

// Rotation asks for a new signing secret.
type Rotation struct {
	// Secret is the new secret; "" generates one.
	Secret string
	// GracePeriod is how long the old secret keeps signing too (0 to
	// GracePeriodMax); nil means GracePeriodDefault. With 0 the old secret
	// stops signing at once.
	GracePeriod *time.Duration
}

// RotateSecret gives ep a new secret, as Rotation says, and stores it;
// ep holds the new secret afterwards.
func (s *Service) RotateSecret(ctx context.Context, ep *herald.Endpoint, r Rotation) error {
	var v herald.Validation
	secret := r.Secret
	if secret != "" {
		checkSecret(&v, secret)
	} else {
		secret = webhook.NewSecret()
	}
	grace := GracePeriodDefault
	if r.GracePeriod != nil {
		grace = *r.GracePeriod
	}
	if grace < 0 || grace > GracePeriodMax {
		v.Add("body.grace_period", herald.Duration(grace).String(), "must be between 0s and %s", herald.Duration(GracePeriodMax))
	}
	if err := v.Err(); err != nil {
		return err
	}
	now := s.Now()
	ep.PreviousSecret, ep.PreviousSecretUntil = "", nil
	if grace > 0 {
		until := now.Add(grace)
		ep.PreviousSecret, ep.PreviousSecretUntil = ep.Secret, &until
	}
	ep.Secret = secret
	ep.UpdatedAt = now
	if err := s.st.UpdateEndpoint(ctx, ep); err != nil {
		return notFound(err, "endpoint")
	}
	s.eng.EndpointsChanged(ep.ProjectID)
	return nil
}

// TestEndpoint sends ep one event now: the example of eventType, or a ping
// when eventType is "". The attempt is recorded and returned.
func (s *Service) TestEndpoint(ctx context.Context, ep *herald.Endpoint, eventType string) (*herald.Attempt, error) {
	if eventType != "" && !herald.ValidEventTypeName(eventType) {
		return nil, invalid("body.type", herald.Clip(eventType), "not an event type name")
	}
	return s.eng.Test(ctx, ep.ProjectID, ep.ID, eventType)
}

// RecoverEndpoint requeues ep's deliveries that failed between since
// (required) and until (zero: now), and returns how many.
func (s *Service) RecoverEndpoint(ctx context.Context, ep *herald.Endpoint, since, until time.Time) (int, error) {
	if until.IsZero() {
		until = s.Now()
	}
	switch {
	case since.IsZero():
		return 0, invalid("body.since", nil, "required")
	case !since.Before(until):
		return 0, invalid("body.since", since.UTC().Format(time.RFC3339), "must be before until (%s)", until.UTC().Format(time.RFC3339))
	}
	return s.eng.Recover(ctx, ep.ProjectID, ep.ID, since.UTC(), until.UTC())
}

// SubscribeURLMaxLen bounds the URL of a subscription (Subscribe).
const SubscribeURLMaxLen = 500

// Subscribe creates an endpoint with the defaults for rawURL, subscribed
// to eventType alone, unless the project has one already.
func (s *Service) Subscribe(ctx context.Context, projectID, eventType, rawURL string) error {
	var v herald.Validation
	if !herald.ValidEventTypeName(eventType) {
		v.Add("path.event_type", herald.Clip(eventType), "not an event type name")
	}
	switch {
	case rawURL == "":
		v.Add("body.url", nil, "required")
	case len(rawURL) > SubscribeURLMaxLen:
		v.Add("body.url", nil, "at most %d characters", SubscribeURLMaxLen)
	}
	if err := v.Err(); err != nil {
		return err
	}
	existing, err := s.st.ProjectEndpoints(ctx, projectID)
	if err != nil {
		return err
	}
	for _, ep := range existing {
		if ep.URL == rawURL && len(ep.EventTypes) == 1 && ep.EventTypes[0] == eventType && ep.TenantID == boundTenant(ctx) {
			return nil
		}
	}
	return s.CreateEndpoint(ctx, projectID, &herald.Endpoint{URL: rawURL, EventTypes: []string{eventType}, Enabled: true})
}

// StatsWindow is how far back the pages that show an endpoint count its
// success rate.
const StatsWindow = 24 * time.Hour

// EndpointRow is an endpoint as a list page shows it: its stats and its
// latest attempt (nil before the first).
type EndpointRow struct {
	Endpoint *herald.Endpoint
	Stats    *store.EndpointStats
	Last     *herald.Attempt
}

// EndpointRows reads, for each endpoint, its stats since since and its
// latest attempt.
func (s *Service) EndpointRows(ctx context.Context, eps []*herald.Endpoint, since time.Time) ([]EndpointRow, error) {
	rows := make([]EndpointRow, len(eps))
	for i, ep := range eps {
		rows[i].Endpoint = ep
		stats, err := s.st.EndpointStats(ctx, ep.ProjectID, ep.ID, since)
		if err != nil {
			return nil, err
		}
		rows[i].Stats = stats
		last, err := s.st.ListEndpointAttempts(ctx, ep.ProjectID, ep.ID, 1)
		if err != nil {
			return nil, err
		}
		if len(last) > 0 {
			rows[i].Last = last[0]
		}
	}
	return rows, nil
}
