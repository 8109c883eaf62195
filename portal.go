package herald

import "time"

// PortalSession is a customer's access to the portal: one tenant of one
// project, until ExpiresAt. Only the hash of its token (HashKey) is kept.
type PortalSession struct {
	ID        string
	ProjectID string
	TenantID  string
	TokenHash string
	// ReadOnly sessions see everything and change nothing.
	ReadOnly bool
	// EventTypes are the types the customer may subscribe to; nil means
	// every type of the catalog, as it is when a page is shown.
	EventTypes []string
	Locale     string
	ExpiresAt  time.Time
	CreatedAt  time.Time
}

// PrefixPortalSession starts a portal session's id.
const PrefixPortalSession = "ps_"

// PortalSettings brand a project's customer portal.
type PortalSettings struct {
	DisplayName    string   `json:"display_name"`
	LogoURL        string   `json:"logo_url"`
	AccentColor    string   `json:"accent_color"`
	AllowedOrigins []string `json:"allowed_origins"`
}
