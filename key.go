package herald

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// SettingAdminKeyHash is the setting that holds the admin key's hash.
const SettingAdminKeyHash = "admin_key_hash"

// Key prefixes, so a leaked key is recognisable.
const (
	AdminKeyPrefix   = "hk_admin_"
	ProjectKeyPrefix = "hk_"
)

// NewKey returns a new random API key with the prefix.
func NewKey(prefix string) string {
	b := make([]byte, 24)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashKey returns the stored form of an API key (SHA-256, hex). Keys are
// random and long, so a fast hash is enough.
func HashKey(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:])
}

// API key scopes: what a project key may do. A key holds one or more.
const (
	ScopeAll             = "all"               // everything a project key can do
	ScopeRead            = "read"              // every GET of the project
	ScopeEventsWrite     = "events:write"      // send events
	ScopeHooksRun        = "hooks:run"         // run synchronous hooks
	ScopeEndpointsWrite  = "endpoints:write"   // change endpoints, their secrets, deliveries' retries, replays
	ScopeEventTypesWrite = "event_types:write" // change the event-type catalog
	ScopeTenantsWrite    = "tenants:write"     // change tenants
	ScopePortalWrite     = "portal:write"      // open portal sessions
	ScopeKeysWrite       = "keys:write"        // create and revoke API keys, within its own powers
)

// Scopes lists every scope, ScopeAll first.
var Scopes = []string{ScopeAll, ScopeRead, ScopeEventsWrite, ScopeHooksRun, ScopeEndpointsWrite,
	ScopeEventTypesWrite, ScopeTenantsWrite, ScopePortalWrite, ScopeKeysWrite}

// APIKeyNameMaxLen bounds an API key's name.
const APIKeyNameMaxLen = 256

// ValidScope reports whether s names a scope.
func ValidScope(s string) bool {
	for _, sc := range Scopes {
		if s == sc {
			return true
		}
	}
	return false
}

// Allows reports whether the key holds scope (ScopeAll holds every one; a
// key without scopes is a key made before scopes, with every power).
func (k *APIKey) Allows(scope string) bool {
	if len(k.Scopes) == 0 {
		return true
	}
	for _, s := range k.Scopes {
		if s == ScopeAll || s == scope {
			return true
		}
	}
	return false
}

// Expired reports whether the key has expired at now.
func (k *APIKey) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}
