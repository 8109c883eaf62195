package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/pages"
	"github.com/herald-dev/herald/internal/service"
)

// The customer portal's routes: links for a tenant, and the project's
// portal branding.

func (s *Server) createPortalSession(w http.ResponseWriter, r *http.Request, c *call) error {
	var in service.PortalSessionInput
	if err := s.decodeBody(w, r, false, func(o *object) {
		o.get("tenant_id", &in.TenantID)
		var d herald.Duration
		if o.get("expires_in", &d) {
			dd := d.D()
			in.ExpiresIn = &dd
		}
		o.get("read_only", &in.ReadOnly)
		o.get("event_types", &in.EventTypes)
		o.get("locale", &in.Locale)
	}); err != nil {
		return err
	}
	ps, token, err := s.svc.CreatePortalSession(r.Context(), c.project.ID, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}{s.publicURL(r) + service.PortalLinkPath + token, ps.ExpiresAt})
	return nil
}

// publicURL is Config.PublicURL, or the URL the request came to (https
// when pages.Secure says so, as for the portal's cookie).
func (s *Server) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if pages.Secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) getPortalSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	ps, err := s.svc.PortalSettings(r.Context(), c.project.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ps)
	return nil
}

func (s *Server) putPortalSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	ps := &herald.PortalSettings{}
	if err := s.decodeBody(w, r, false, func(o *object) {
		o.get("display_name", &ps.DisplayName)
		o.get("logo_url", &ps.LogoURL)
		o.get("accent_color", &ps.AccentColor)
		o.get("allowed_origins", &ps.AllowedOrigins)
	}); err != nil {
		return err
	}
	if err := s.svc.SetPortalSettings(r.Context(), c.project.ID, ps); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ps)
	return nil
}
