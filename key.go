package herald

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
