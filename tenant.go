package herald

import (
	"time"
)

// TenantIDMaxLen bounds a tenant id.
const TenantIDMaxLen = 128

// TenantNameMaxLen bounds a tenant's name.
const TenantNameMaxLen = 256

// Tenant is one customer of the product inside a project: it owns
// endpoints, and events sent for it reach only its endpoints and the
// project-wide ones. The event-type catalog stays project-wide.
//
// ID is the product's own id for its customer (see ValidTenantID), unique
// within the project. Endpoints, events and deliveries refer to it by
// TenantID; an empty TenantID means project-wide (no tenant).
type Tenant struct {
	ProjectID string            `json:"project_id"`
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Metadata  map[string]string `json:"metadata"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// ValidTenantID reports whether s can be a tenant id: 1 to 128 characters
// of letters, digits, '_', '.', ':' and '-' — the product's own id for its
// customer ("acme", "org:42", "studio-7.eu").
// The alphabet and length are those of event type names.
func ValidTenantID(s string) bool {
	return len(s) <= TenantIDMaxLen && ValidEventTypeName(s)
}

// CheckTenantID adds an error at loc when id is set and not a valid tenant
// id. An empty id is valid: it means project-wide.
func CheckTenantID(v *Validation, loc, id string) {
	if id != "" && !ValidTenantID(id) {
		v.Add(loc, Clip(id), "a tenant id is 1 to %d characters of letters, digits and _ . : -", TenantIDMaxLen)
	}
}

// Validate checks the tenant's id, name and metadata. Field locations are
// "path.tenant_id" for the id and "body.<field>" for the rest.
func (t *Tenant) Validate() error {
	var v Validation
	if t.ID == "" {
		v.Add("path.tenant_id", nil, "is required")
	} else {
		CheckTenantID(&v, "path.tenant_id", t.ID)
	}
	checkText(&v, "body.name", t.Name, TenantNameMaxLen)
	validateMetadata(&v, t.Metadata)
	return v.Err()
}

// Reaches reports whether an event of tenant tenantID ("" for an event
// without tenant) may be routed to ep: ep is project-wide, or ep belongs to
// that tenant. Never another tenant's endpoint.
func (e *Endpoint) Reaches(tenantID string) bool {
	return e.TenantID == "" || e.TenantID == tenantID
}
