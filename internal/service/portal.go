package service

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

// The customer portal's rules. A portal session stands for one tenant of
// one project: everything it reaches goes through the methods below,
// which scope it to that tenant (another tenant's endpoint or delivery is
// ENOTFOUND, as if it did not exist), refuse changes to a read-only
// session (ErrPortalReadOnly) and keep its endpoints to the session's
// event types.

// Bounds and defaults of a portal session.
const (
	PortalExpiresInDefault = time.Hour
	PortalExpiresInMin     = time.Second
	PortalExpiresInMax     = 168 * time.Hour
	// PortalTokenPrefix starts a portal link's token.
	PortalTokenPrefix = "hpt_"
)

// PortalLocales are the portal's languages; the first is the default.
var PortalLocales = []string{"en", "fr", "ru"}

// Errors of PortalSession and of the portal's changes. Expired and unknown
// tokens are both EUNAUTHORIZED; a transport tells them apart with
// errors.Is to say which.
var (
	ErrPortalSessionExpired = herald.Errorf(herald.EUNAUTHORIZED, "the portal link has expired")
	ErrPortalSessionUnknown = herald.Errorf(herald.EUNAUTHORIZED, "unknown portal link")
	// ErrPortalReadOnly refuses a change asked by a read-only session.
	ErrPortalReadOnly = errors.New("service: this portal session is read-only")
)

// PortalSessionInput asks for a portal session.
type PortalSessionInput struct {
	TenantID string
	// ExpiresIn: nil means PortalExpiresInDefault.
	ExpiresIn *time.Duration
	ReadOnly  bool
	// EventTypes the customer may subscribe to, each in the catalog; nil
	// means the whole catalog.
	EventTypes []string
	// Locale: one of PortalLocales, or "" to follow the browser.
	Locale string
}

// CreatePortalSession opens a portal session for a tenant of the project,
// creating the tenant when it does not exist yet, and returns it with its
// token in clear (only its hash is stored).
func (s *Service) CreatePortalSession(ctx context.Context, projectID string, in PortalSessionInput) (*herald.PortalSession, string, error) {
	if in.TenantID != "" {
		// A tenant-bound key opens its own tenant's portal only.
		if err := tenantOf(ctx, in.TenantID); err != nil {
			return nil, "", err
		}
	}
	var v herald.Validation
	if in.TenantID == "" {
		v.Add("body.tenant_id", nil, "required")
	} else {
		herald.CheckTenantID(&v, "body.tenant_id", in.TenantID)
	}
	ttl := PortalExpiresInDefault
	if in.ExpiresIn != nil {
		ttl = *in.ExpiresIn
		if ttl < PortalExpiresInMin || ttl > PortalExpiresInMax {
			v.Add("body.expires_in", herald.Duration(ttl).String(), "must be between %s and %s", herald.Duration(PortalExpiresInMin), herald.Duration(PortalExpiresInMax))
		}
	}
	if in.Locale != "" && !slices.Contains(PortalLocales, in.Locale) {
		v.Add("body.locale", herald.Clip(in.Locale), "must be one of %s", strings.Join(PortalLocales, ", "))
	}
	var types []string
	if in.EventTypes != nil {
		catalog, err := s.catalog(ctx, projectID)
		if err != nil {
			return nil, "", err
		}
		types = []string{}
		for _, t := range in.EventTypes {
			if !slices.ContainsFunc(catalog, func(et *herald.EventType) bool { return et.Name == t }) {
				v.Add("body.event_types", herald.Clip(t), "not an event type of the project's catalog")
			} else if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	now := s.Now()
	if _, err := s.st.GetTenant(ctx, projectID, in.TenantID); herald.IsNotFound(err) {
		t := &herald.Tenant{ProjectID: projectID, ID: in.TenantID, CreatedAt: now, UpdatedAt: now}
		if _, err := s.st.PutTenant(ctx, t); err != nil {
			return nil, "", err
		}
	} else if err != nil {
		return nil, "", err
	}
	token := herald.NewKey(PortalTokenPrefix)
	ps := &herald.PortalSession{
		ID:         herald.NewID(herald.PrefixPortalSession),
		ProjectID:  projectID,
		TenantID:   in.TenantID,
		TokenHash:  herald.HashKey(token),
		ReadOnly:   in.ReadOnly,
		EventTypes: types,
		Locale:     in.Locale,
		ExpiresAt:  now.Add(ttl),
		CreatedAt:  now,
	}
	if err := s.st.CreatePortalSession(ctx, ps); err != nil {
		return nil, "", err
	}
	return ps, token, nil
}

// PortalSession resolves a portal link's token: ErrPortalSessionUnknown
// when no session has it, or when its tenant is gone;
// ErrPortalSessionExpired (with the session) after its ExpiresAt.
func (s *Service) PortalSession(ctx context.Context, token string) (*herald.PortalSession, error) {
	if !strings.HasPrefix(token, PortalTokenPrefix) {
		return nil, ErrPortalSessionUnknown
	}
	ps, err := s.st.GetPortalSessionByHash(ctx, herald.HashKey(token))
	if herald.IsNotFound(err) {
		return nil, ErrPortalSessionUnknown
	}
	if err != nil {
		return nil, err
	}
	if !s.Now().Before(ps.ExpiresAt) {
		return ps, ErrPortalSessionExpired
	}
	// The store deletes a tenant's sessions with it; this check holds
	// even for a session read just before.
	if _, err := s.st.GetTenant(ctx, ps.ProjectID, ps.TenantID); herald.IsNotFound(err) {
		return nil, ErrPortalSessionUnknown
	} else if err != nil {
		return nil, err
	}
	return ps, nil
}

// catalog returns every event type of the project.
func (s *Service) catalog(ctx context.Context, projectID string) ([]*herald.EventType, error) {
	var all []*herald.EventType
	page := store.Page{Limit: 1000}
	for {
		ets, next, err := s.st.ListEventTypes(ctx, projectID, page)
		if err != nil {
			return nil, err
		}
		all = append(all, ets...)
		if next == "" {
			return all, nil
		}
		page.Cursor = next
	}
}

// PortalEventTypes returns the catalog as the session sees it: the types it
// may subscribe to, in the catalog's order.
func (s *Service) PortalEventTypes(ctx context.Context, ps *herald.PortalSession) ([]*herald.EventType, error) {
	all, err := s.catalog(ctx, ps.ProjectID)
	if err != nil || ps.EventTypes == nil {
		return all, err
	}
	return slices.DeleteFunc(all, func(et *herald.EventType) bool { return !slices.Contains(ps.EventTypes, et.Name) }), nil
}

// PortalEndpoints returns the tenant's endpoints.
func (s *Service) PortalEndpoints(ctx context.Context, ps *herald.PortalSession) ([]*herald.Endpoint, error) {
	return s.st.TenantEndpoints(ctx, ps.ProjectID, ps.TenantID)
}

// PortalEndpoint returns an endpoint of the session's tenant; any other is
// ENOTFOUND.
func (s *Service) PortalEndpoint(ctx context.Context, ps *herald.PortalSession, id string) (*herald.Endpoint, error) {
	ep, err := s.Endpoint(ctx, ps.ProjectID, id)
	if err != nil {
		return nil, err
	}
	if ep.TenantID != ps.TenantID {
		return nil, herald.Errorf(herald.ENOTFOUND, "endpoint not found")
	}
	return ep, nil
}

// PortalDelivery returns a delivery to an endpoint of the session's
// tenant; any other is ENOTFOUND.
func (s *Service) PortalDelivery(ctx context.Context, ps *herald.PortalSession, id string) (*herald.Delivery, error) {
	d, err := s.Delivery(ctx, ps.ProjectID, id)
	if err != nil {
		return nil, err
	}
	if d.TenantID != ps.TenantID {
		return nil, herald.Errorf(herald.ENOTFOUND, "delivery not found")
	}
	return d, nil
}

// PortalDeliveries lists the tenant's deliveries, newest first; f's
// TenantID is the session's whatever the caller set.
func (s *Service) PortalDeliveries(ctx context.Context, ps *herald.PortalSession, f store.DeliveryFilter, page store.Page) ([]*herald.Delivery, string, error) {
	f.TenantID = ps.TenantID
	return s.st.ListDeliveries(ctx, ps.ProjectID, f, page)
}

func portalWritable(ps *herald.PortalSession) error {
	if ps.ReadOnly {
		return ErrPortalReadOnly
	}
	return nil
}

// checkPortalTypes keeps an endpoint's event types to those the session
// may subscribe to. A session limited to some types must name at least
// one: no types would mean every type.
func (s *Service) checkPortalTypes(ctx context.Context, ps *herald.PortalSession, ep *herald.Endpoint) error {
	allowed, err := s.PortalEventTypes(ctx, ps)
	if err != nil {
		return err
	}
	var v herald.Validation
	if len(ep.EventTypes) == 0 && ps.EventTypes != nil {
		v.Add("body.event_types", nil, "choose at least one event type")
	}
	for _, t := range ep.EventTypes {
		if !slices.ContainsFunc(allowed, func(et *herald.EventType) bool { return et.Name == t }) {
			v.Add("body.event_types", herald.Clip(t), "not an event type this portal offers")
		}
	}
	return v.Err()
}

// PortalCreateEndpoint creates ep as an endpoint of the session's tenant
// (CreateEndpoint's rules, and the session's event types).
func (s *Service) PortalCreateEndpoint(ctx context.Context, ps *herald.PortalSession, ep *herald.Endpoint) error {
	if err := portalWritable(ps); err != nil {
		return err
	}
	ep.TenantID = ps.TenantID
	if err := s.checkPortalTypes(ctx, ps, ep); err != nil {
		return err
	}
	return s.CreateEndpoint(ctx, ps.ProjectID, ep)
}

// PortalUpdateEndpoint is UpdateEndpoint for an endpoint of the session's
// tenant (old comes from PortalEndpoint).
func (s *Service) PortalUpdateEndpoint(ctx context.Context, ps *herald.PortalSession, old, ep *herald.Endpoint) (*herald.Endpoint, error) {
	if err := portalWritable(ps); err != nil {
		return nil, err
	}
	if old.ProjectID != ps.ProjectID || old.TenantID != ps.TenantID {
		return nil, herald.Errorf(herald.ENOTFOUND, "endpoint not found")
	}
	if err := s.checkPortalTypes(ctx, ps, ep); err != nil {
		return nil, err
	}
	return s.UpdateEndpoint(ctx, old, ep)
}

// PortalDeleteEndpoint deletes an endpoint of the session's tenant.
func (s *Service) PortalDeleteEndpoint(ctx context.Context, ps *herald.PortalSession, id string) error {
	if err := portalWritable(ps); err != nil {
		return err
	}
	if _, err := s.PortalEndpoint(ctx, ps, id); err != nil {
		return err
	}
	return s.DeleteEndpoint(ctx, ps.ProjectID, id)
}

// PortalRotateSecret gives an endpoint of the tenant a new generated
// secret (the default grace period) and returns the endpoint.
func (s *Service) PortalRotateSecret(ctx context.Context, ps *herald.PortalSession, id string) (*herald.Endpoint, error) {
	if err := portalWritable(ps); err != nil {
		return nil, err
	}
	ep, err := s.PortalEndpoint(ctx, ps, id)
	if err != nil {
		return nil, err
	}
	return ep, s.RotateSecret(ctx, ep, Rotation{})
}

// PortalTestEndpoint sends an endpoint of the tenant a test event: the
// example of eventType (one the session offers), or a ping when "".
func (s *Service) PortalTestEndpoint(ctx context.Context, ps *herald.PortalSession, id, eventType string) (*herald.Attempt, error) {
	if err := portalWritable(ps); err != nil {
		return nil, err
	}
	ep, err := s.PortalEndpoint(ctx, ps, id)
	if err != nil {
		return nil, err
	}
	if eventType != "" {
		probe := &herald.Endpoint{EventTypes: []string{eventType}}
		if err := s.checkPortalTypes(ctx, ps, probe); err != nil {
			return nil, Locate(err, "body.type")
		}
	}
	return s.TestEndpoint(ctx, ep, eventType)
}

// PortalRecoverEndpoint requeues the failed deliveries of an endpoint of
// the tenant since a time.
func (s *Service) PortalRecoverEndpoint(ctx context.Context, ps *herald.PortalSession, id string, since time.Time) (int, error) {
	if err := portalWritable(ps); err != nil {
		return 0, err
	}
	ep, err := s.PortalEndpoint(ctx, ps, id)
	if err != nil {
		return 0, err
	}
	return s.RecoverEndpoint(ctx, ep, since, time.Time{})
}

// PortalRetryDelivery sends a delivery of the tenant again now.
func (s *Service) PortalRetryDelivery(ctx context.Context, ps *herald.PortalSession, id string) (*herald.Attempt, error) {
	if err := portalWritable(ps); err != nil {
		return nil, err
	}
	d, err := s.PortalDelivery(ctx, ps, id)
	if err != nil {
		return nil, err
	}
	return s.RetryDelivery(ctx, d)
}

// settingPortal is the store setting holding a project's portal settings.
func settingPortal(projectID string) string { return "portal_settings:" + projectID }

// Bounds of PortalSettings.
const (
	PortalDisplayNameMaxLen = 100
	PortalLogoURLMaxLen     = 2048
	PortalOriginsMax        = 20
)

var accentColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// PortalSettings returns the project's portal branding; a project that
// set none has the zero value.
func (s *Service) PortalSettings(ctx context.Context, projectID string) (*herald.PortalSettings, error) {
	raw, err := s.st.GetSetting(ctx, settingPortal(projectID))
	if herald.IsNotFound(err) {
		return &herald.PortalSettings{AllowedOrigins: []string{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var ps herald.PortalSettings
	if err := json.Unmarshal([]byte(raw), &ps); err != nil {
		return nil, err
	}
	if ps.AllowedOrigins == nil {
		ps.AllowedOrigins = []string{}
	}
	return &ps, nil
}

// SetPortalSettings validates and stores the project's portal branding;
// allowed origins are normalised to scheme://host[:port].
func (s *Service) SetPortalSettings(ctx context.Context, projectID string, ps *herald.PortalSettings) error {
	var v herald.Validation
	ps.DisplayName = strings.TrimSpace(ps.DisplayName)
	if len([]rune(ps.DisplayName)) > PortalDisplayNameMaxLen || strings.ContainsAny(ps.DisplayName, "\x00\r\n") {
		v.Add("body.display_name", herald.Clip(ps.DisplayName), "at most %d characters on one line", PortalDisplayNameMaxLen)
	}
	if ps.LogoURL != "" {
		u, err := url.Parse(ps.LogoURL)
		if err != nil || len(ps.LogoURL) > PortalLogoURLMaxLen || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.Add("body.logo_url", herald.Clip(ps.LogoURL), "an http or https URL of at most %d characters", PortalLogoURLMaxLen)
		}
	}
	if ps.AccentColor != "" && !accentColor.MatchString(ps.AccentColor) {
		v.Add("body.accent_color", herald.Clip(ps.AccentColor), "a colour as #rrggbb")
	}
	if len(ps.AllowedOrigins) > PortalOriginsMax {
		v.Add("body.allowed_origins", nil, "at most %d origins", PortalOriginsMax)
	}
	origins := []string{}
	for _, o := range ps.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") != "" ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ContainsAny(u.Host, " ;,'\"*") {
			v.Add("body.allowed_origins", herald.Clip(o), "an origin: http(s)://host[:port], nothing after")
			continue
		}
		origins = append(origins, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	if err := v.Err(); err != nil {
		return err
	}
	if _, err := s.Project(ctx, projectID); err != nil {
		return err
	}
	ps.AllowedOrigins = origins
	b, err := json.Marshal(ps)
	if err != nil {
		return err
	}
	return s.st.SetSetting(ctx, settingPortal(projectID), string(b))
}

// PortalLinkPath is where a portal link points, followed by its token:
// <public base URL>PortalLinkPath<token>.
const PortalLinkPath = "/portal/s/"
