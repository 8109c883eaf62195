// Package sealed encrypts endpoint secrets and credentials at rest, once,
// above every backend: New wraps any store.Store so that the signing
// secrets, basic-auth passwords, bearer tokens and custom header values of
// endpoints are written encrypted (secret.Cipher, AES-256-GCM) and read back
// in plaintext. The backends store what they are given and never see a key.
//
// Values written before encryption was turned on carry no secret.Prefix and
// read as they are; they are encrypted the next time the endpoint is
// written.
package sealed

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/secret"
	"github.com/herald-dev/herald/internal/store"
)

// sealedStore is the inner store with its endpoint methods overridden.
// Every other method is the inner store's own.
type sealedStore struct {
	store.Store
	c *secret.Cipher
}

// notifierStore is a sealedStore over a backend that can wake other processes;
// it keeps the backend's store.Notifier visible to a type assertion, since
// the engine looks for it there.
type notifierStore struct {
	*sealedStore
	store.Notifier
}

// New wraps inner so that endpoint secrets are encrypted with c on the way
// in and decrypted on the way out. If inner implements store.Notifier, so
// does the result.
//
// A nil c stores plaintext but still refuses encrypted values on reads,
// with an error saying the key is missing, instead of handing ciphertext to
// the signer as if it were the secret.
func New(inner store.Store, c *secret.Cipher) store.Store {
	s := &sealedStore{Store: inner, c: c}
	if n, ok := inner.(store.Notifier); ok {
		return &notifierStore{sealedStore: s, Notifier: n}
	}
	return s
}

// CreateEndpoint stores ep with its secrets encrypted. The caller's ep
// keeps its plaintext; whatever else the backend fills in (timestamps,
// default status) is copied back, as the backend would have done itself.
func (s *sealedStore) CreateEndpoint(ctx context.Context, ep *herald.Endpoint) error {
	enc, err := s.seal(ep)
	if err != nil {
		return err
	}
	err = s.Store.CreateEndpoint(ctx, enc)
	restore(ep, enc)
	return err
}

// UpdateEndpoint replaces ep's configuration with its secrets encrypted;
// like CreateEndpoint it never leaves ciphertext in the caller's ep.
func (s *sealedStore) UpdateEndpoint(ctx context.Context, ep *herald.Endpoint) error {
	enc, err := s.seal(ep)
	if err != nil {
		return err
	}
	err = s.Store.UpdateEndpoint(ctx, enc)
	restore(ep, enc)
	return err
}

// GetEndpoint returns a project's endpoint with its secrets decrypted.
func (s *sealedStore) GetEndpoint(ctx context.Context, projectID, id string) (*herald.Endpoint, error) {
	ep, err := s.Store.GetEndpoint(ctx, projectID, id)
	if err != nil {
		return nil, err
	}
	if err := s.open(ep); err != nil {
		return nil, err
	}
	return ep, nil
}

// GetEndpointByID returns an endpoint of any project with its secrets
// decrypted.
func (s *sealedStore) GetEndpointByID(ctx context.Context, id string) (*herald.Endpoint, error) {
	ep, err := s.Store.GetEndpointByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.open(ep); err != nil {
		return nil, err
	}
	return ep, nil
}

// ListEndpoints lists a project's endpoints with their secrets decrypted.
func (s *sealedStore) ListEndpoints(ctx context.Context, projectID string, f store.EndpointFilter, page store.Page) ([]*herald.Endpoint, string, error) {
	eps, next, err := s.Store.ListEndpoints(ctx, projectID, f, page)
	if err != nil {
		return nil, "", err
	}
	if err := s.openAll(eps); err != nil {
		return nil, "", err
	}
	return eps, next, nil
}

// ProjectEndpoints returns all of a project's endpoints with their secrets
// decrypted.
func (s *sealedStore) ProjectEndpoints(ctx context.Context, projectID string) ([]*herald.Endpoint, error) {
	return s.opened(s.Store.ProjectEndpoints(ctx, projectID))
}

// TenantEndpoints returns one tenant's endpoints (or the project-wide
// ones) with their secrets decrypted.
func (s *sealedStore) TenantEndpoints(ctx context.Context, projectID, tenantID string) ([]*herald.Endpoint, error) {
	return s.opened(s.Store.TenantEndpoints(ctx, projectID, tenantID))
}

// opened decrypts the secrets of a read's endpoints.
func (s *sealedStore) opened(eps []*herald.Endpoint, err error) ([]*herald.Endpoint, error) {
	if err != nil {
		return nil, err
	}
	if err := s.openAll(eps); err != nil {
		return nil, err
	}
	return eps, nil
}

// seal returns a copy of ep with every secret field encrypted. The copy
// shares nothing secret with ep: Auth and Headers are new values, so the
// caller's endpoint (often cached by the engine) never holds ciphertext.
func (s *sealedStore) seal(ep *herald.Endpoint) (*herald.Endpoint, error) {
	cp := *ep
	if ep.Auth != nil {
		a := *ep.Auth
		if a.Basic != nil {
			b := *a.Basic
			a.Basic = &b
		}
		cp.Auth = &a
	}
	cp.Headers = maps.Clone(ep.Headers)
	err := forEachSecret(&cp, func(v *string) error {
		// An empty value stays empty: it hides nothing, and "no previous
		// secret" must still read as "".
		if *v == "" {
			return nil
		}
		e, err := s.c.Encrypt(*v)
		if err != nil {
			return fmt.Errorf("encrypt secrets of endpoint %s: %w", ep.ID, err)
		}
		*v = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &cp, nil
}

// open decrypts ep's secret fields in place (ep is the backend's fresh
// value, owned by no one else yet).
func (s *sealedStore) open(ep *herald.Endpoint) error {
	return forEachSecret(ep, func(v *string) error {
		p, err := s.c.Decrypt(*v)
		if err != nil {
			return decryptError(ep.ID, err)
		}
		*v = p
		return nil
	})
}

func (s *sealedStore) openAll(eps []*herald.Endpoint) error {
	for _, ep := range eps {
		if err := s.open(ep); err != nil {
			return err
		}
	}
	return nil
}

// decryptError says which endpoint could not be read and the likely cause;
// it wraps secret's error so callers can still test for it.
func decryptError(id string, err error) error {
	if errors.Is(err, secret.ErrNoKey) {
		return fmt.Errorf("cannot decrypt endpoint %s: its secrets are encrypted but HERALD_ENCRYPTION_KEY is not set: %w", id, err)
	}
	return fmt.Errorf("cannot decrypt endpoint %s: wrong HERALD_ENCRYPTION_KEY? (%w)", id, err)
}

// forEachSecret calls fn on every field of ep that holds a secret or a
// credential, stopping at the first error. It is the one list of what is
// encrypted, so seal and open cannot disagree.
func forEachSecret(ep *herald.Endpoint, fn func(*string) error) error {
	fields := []*string{&ep.Secret, &ep.PreviousSecret}
	if ep.Auth != nil {
		if ep.Auth.Basic != nil {
			fields = append(fields, &ep.Auth.Basic.Password)
		}
		fields = append(fields, &ep.Auth.Bearer)
	}
	for _, f := range fields {
		if err := fn(f); err != nil {
			return err
		}
	}
	for k, v := range ep.Headers {
		if err := fn(&v); err != nil {
			return err
		}
		ep.Headers[k] = v
	}
	return nil
}

// restore copies into ep what the backend changed on enc, its encrypted
// copy, except the secret fields, which keep ep's plaintext.
func restore(ep, enc *herald.Endpoint) {
	out := *enc
	out.Secret, out.PreviousSecret, out.Auth, out.Headers = ep.Secret, ep.PreviousSecret, ep.Auth, ep.Headers
	*ep = out
}
