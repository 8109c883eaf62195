package service

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/herald-dev/herald"
)

// Principal is who an API key speaks for.
type Principal struct {
	Admin     bool
	ProjectID string // of a project key; "" for the admin key
	KeyID     string // of a project key; "" for the admin key (it has no row)
	// Scopes of a project key (herald.Scope…); the admin key holds every
	// scope.
	Scopes []string
	// TenantID confines a project key to one tenant: it sees and changes
	// only that tenant's endpoints, events and deliveries. "": the whole
	// project.
	TenantID string
	// ExpiresAt of a project key; nil: never.
	ExpiresAt *time.Time
}

// Allows reports whether the principal holds scope.
func (p Principal) Allows(scope string) bool {
	if p.Admin {
		return true
	}
	k := herald.APIKey{Scopes: p.Scopes}
	return k.Allows(scope)
}

// Require returns nil when the principal holds scope, else an EFORBIDDEN
// error (kind herald.KindScopeRequired) naming it.
func (p Principal) Require(scope string) error {
	if p.Allows(scope) {
		return nil
	}
	return herald.Errorf(herald.EFORBIDDEN, "this API key lacks the scope %q, which this call needs", scope).WithKind(herald.KindScopeRequired)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p: the Service's methods act within
// what p may reach (its tenant). A transport puts the authenticated caller
// there before calling the Service.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalOf returns the principal ctx carries. A context without one
// (a process's own calls, tests) acts as the admin key: no tenant bound.
func PrincipalOf(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p
	}
	return Principal{Admin: true}
}

// Authenticate resolves an API key: the admin key, or a project key. An
// empty, unknown or expired key is an EUNAUTHORIZED error.
func (s *Service) Authenticate(ctx context.Context, key string) (Principal, error) {
	if key == "" {
		return Principal{}, herald.Errorf(herald.EUNAUTHORIZED, "missing API key")
	}
	return s.AuthenticateHash(ctx, herald.HashKey(key))
}

// AuthenticateHash is Authenticate for a key already hashed
// (herald.HashKey), for callers that key other state by the hash.
func (s *Service) AuthenticateHash(ctx context.Context, hash string) (Principal, error) {
	if s.adminHash != "" && subtle.ConstantTimeCompare([]byte(hash), []byte(s.adminHash)) == 1 {
		return Principal{Admin: true}, nil
	}
	k, err := s.st.GetAPIKeyByHash(ctx, hash)
	if err != nil {
		if herald.IsNotFound(err) {
			return Principal{}, herald.Errorf(herald.EUNAUTHORIZED, "unknown API key")
		}
		return Principal{}, err
	}
	if k.ProjectID == "" {
		// An admin key row would be stored in settings, not as an APIKey;
		// a key without a project grants nothing.
		return Principal{}, herald.Errorf(herald.EUNAUTHORIZED, "unknown API key")
	}
	if k.Expired(s.Now()) {
		return Principal{}, herald.Errorf(herald.EUNAUTHORIZED, "API key expired at %s", k.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return Principal{ProjectID: k.ProjectID, KeyID: k.ID, Scopes: k.Scopes, TenantID: k.TenantID, ExpiresAt: k.ExpiresAt}, nil
}

// boundTenant returns the tenant the caller of ctx is confined to, "" for
// none.
func boundTenant(ctx context.Context) string {
	return PrincipalOf(ctx).TenantID
}

// BindTenant returns the tenant a write of the caller of ctx belongs to,
// given the tenant_id the request named (at loc): a tenant-bound caller's
// own tenant when it named none or the same, an EINVALID when it named
// another; for an unbound caller, the one named (checked for form).
func BindTenant(ctx context.Context, requested, loc string) (string, error) {
	var v herald.Validation
	herald.CheckTenantID(&v, loc, requested)
	if err := v.Err(); err != nil {
		return "", err
	}
	bound := boundTenant(ctx)
	switch {
	case bound == "":
		return requested, nil
	case requested == "" || requested == bound:
		return bound, nil
	default:
		return "", invalid(loc, herald.Clip(requested), "this API key acts only for tenant %q", bound)
	}
}

// ListTenant returns the tenant a list of the caller of ctx is filtered
// by, given the ?tenant_id= it asked for (BindTenant's rule at
// query.tenant_id): a tenant-bound caller never lists another tenant's.
func ListTenant(ctx context.Context, requested string) (string, error) {
	return BindTenant(ctx, requested, "query.tenant_id")
}

// visible reports whether the caller of ctx may see a resource of tenantID.
func visible(ctx context.Context, tenantID string) bool {
	bound := boundTenant(ctx)
	return bound == "" || bound == tenantID
}
