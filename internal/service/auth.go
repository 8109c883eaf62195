package service

import (
	"context"
	"crypto/subtle"

	"github.com/herald-dev/herald"
)

// Principal is who an API key speaks for.
type Principal struct {
	Admin     bool
	ProjectID string // of a project key; "" for the admin key
	KeyID     string // of a project key; "" for the admin key (it has no row)
}

// Authenticate resolves an API key: the admin key, or a project key. An
// empty or unknown key is an EUNAUTHORIZED error.
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
	return Principal{ProjectID: k.ProjectID, KeyID: k.ID}, nil
}
