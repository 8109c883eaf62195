package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

// Project returns the project id; ENOTFOUND "project not found" when there
// is none.
func (s *Service) Project(ctx context.Context, id string) (*herald.Project, error) {
	p, err := s.st.GetProject(ctx, id)
	return p, notFound(err, "project")
}

func checkProject(v *herald.Validation, p *herald.Project) {
	switch {
	case p.Name == "":
		v.Add("body.name", nil, "required")
	case len(p.Name) > herald.ProjectNameMaxLen:
		v.Add("body.name", nil, "at most %d characters", herald.ProjectNameMaxLen)
	}
}

// CreateProject validates and stores p (its id generated when empty) and
// creates its first API key, returned in clear: it cannot be recovered
// later.
func (s *Service) CreateProject(ctx context.Context, p *herald.Project) (key string, err error) {
	var v herald.Validation
	checkProject(&v, p)
	if p.ID != "" && !herald.ValidProjectID(p.ID) {
		v.Add("body.id", herald.Clip(p.ID), "1 to 63 lowercase letters, digits, '_' or '-', starting with a letter or digit")
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	if p.ID == "" {
		p.ID = herald.NewID(herald.PrefixProject)
	}
	now := s.Now()
	p.CreatedAt, p.UpdatedAt = now, now
	if err := s.st.CreateProject(ctx, p); err != nil {
		if herald.ErrorCode(err) == herald.ECONFLICT {
			return "", herald.Errorf(herald.ECONFLICT, "a project with id %q exists", p.ID).WithKind(herald.KindProjectExists)
		}
		return "", err
	}
	_, key, err = s.newAPIKey(ctx, p.ID, now)
	if err != nil {
		// A project nobody can reach with a project key is useless: undo.
		_ = s.st.DeleteProject(context.WithoutCancel(ctx), p.ID)
		return "", err
	}
	return key, nil
}

// UpdateProject validates p, an edited stored project, and stores it.
func (s *Service) UpdateProject(ctx context.Context, p *herald.Project) error {
	var v herald.Validation
	checkProject(&v, p)
	if err := v.Err(); err != nil {
		return err
	}
	p.UpdatedAt = s.Now()
	if err := s.st.UpdateProject(ctx, p); err != nil {
		return notFound(err, "project")
	}
	s.eng.EventTypesChanged(p.ID) // strict_event_types is part of ingest validation
	return nil
}

// DeleteProject removes the project and everything it owns.
func (s *Service) DeleteProject(ctx context.Context, id string) error {
	if err := s.st.DeleteProject(ctx, id); err != nil {
		return notFound(err, "project")
	}
	s.eng.EndpointsChanged(id)
	s.eng.EventTypesChanged(id)
	return nil
}

// APIKeysMax is the most API keys a project may have at once: keys are
// few by nature, and each may hold a rate-limit bucket.
const APIKeysMax = 100

// keyPrefixLen is how much of a key its Prefix keeps: the "hk_" and a few
// random characters, enough to tell keys apart in a list, far too few to
// guess the rest.
const keyPrefixLen = len(herald.ProjectKeyPrefix) + 6

func (s *Service) newAPIKey(ctx context.Context, projectID string, now time.Time) (*herald.APIKey, string, error) {
	return s.storeAPIKey(ctx, &herald.APIKey{ProjectID: projectID, Scopes: []string{herald.ScopeAll}, CreatedAt: now})
}

// storeAPIKey gives k an id, a new key and its hash, and stores it.
func (s *Service) storeAPIKey(ctx context.Context, k *herald.APIKey) (*herald.APIKey, string, error) {
	key := herald.NewKey(herald.ProjectKeyPrefix)
	k.ID = herald.NewID(herald.PrefixKey)
	k.Hash = herald.HashKey(key)
	k.Prefix = key[:keyPrefixLen]
	if err := s.st.CreateAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	return k, key, nil
}

// APIKeyInput asks for a new API key.
type APIKeyInput struct {
	Name string
	// Scopes: herald.Scope… names; none means the caller's own (herald.ScopeAll
	// for the admin key and an unscoped key).
	Scopes []string
	// TenantID confines the key to a tenant; a tenant-bound caller's keys
	// are bound to its tenant.
	TenantID string
	// ExpiresAt, when set, is in the future; a caller that expires makes
	// no key that outlives it (none set: the caller's expiry).
	ExpiresAt *time.Time
}

// CreateAPIKey creates a key of the project and returns it with the key in
// clear, which cannot be recovered later. A key never gets more power than
// the caller of ctx: scopes it lacks are an EFORBIDDEN naming the scope,
// its tenant binding and expiry carry over. A project with APIKeysMax keys
// gets an ECONFLICT (concurrent creates may overshoot by a few).
func (s *Service) CreateAPIKey(ctx context.Context, projectID string, in APIKeyInput) (*herald.APIKey, string, error) {
	who := PrincipalOf(ctx)
	now := s.Now()
	k := &herald.APIKey{ProjectID: projectID, Name: in.Name, CreatedAt: now}
	var v herald.Validation
	if len(in.Name) > herald.APIKeyNameMaxLen {
		v.Add("body.name", nil, "at most %d characters", herald.APIKeyNameMaxLen)
	}
	if in.Scopes != nil && len(in.Scopes) == 0 {
		// Left out, the caller's own scopes are meant; an empty list
		// would be a key that can do nothing, or read as one that can
		// do everything.
		v.Add("body.scopes", []string{}, "name at least one scope, or leave scopes out for this key's own")
	}
	seen := map[string]bool{}
	for i, sc := range in.Scopes {
		switch {
		case !herald.ValidScope(sc):
			v.Add(fmt.Sprintf("body.scopes[%d]", i), herald.Clip(sc), "not a scope; one of %s", strings.Join(herald.Scopes, ", "))
		case !seen[sc]:
			seen[sc] = true
			k.Scopes = append(k.Scopes, sc)
		}
	}
	if seen[herald.ScopeAll] {
		k.Scopes = []string{herald.ScopeAll}
	}
	tenant, err := BindTenant(ctx, in.TenantID, "body.tenant_id")
	if err != nil {
		return nil, "", joinInvalid(v.Err(), err)
	}
	k.TenantID = tenant
	k.ExpiresAt = in.ExpiresAt
	switch {
	case in.ExpiresAt != nil && !in.ExpiresAt.After(now):
		v.Add("body.expires_at", in.ExpiresAt.UTC().Format(time.RFC3339), "must be in the future")
	case who.ExpiresAt != nil && in.ExpiresAt == nil:
		k.ExpiresAt = who.ExpiresAt
	case who.ExpiresAt != nil && in.ExpiresAt.After(*who.ExpiresAt):
		v.Add("body.expires_at", in.ExpiresAt.UTC().Format(time.RFC3339), "this API key expires at %s; the keys it makes cannot outlive it", who.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	if k.ExpiresAt != nil {
		t := k.ExpiresAt.UTC()
		k.ExpiresAt = &t
	}
	if len(k.Scopes) == 0 {
		k.Scopes = append([]string(nil), who.Scopes...)
		if who.Admin || len(k.Scopes) == 0 {
			k.Scopes = []string{herald.ScopeAll}
		}
	}
	for _, sc := range k.Scopes {
		if !who.Allows(sc) {
			return nil, "", herald.Errorf(herald.EFORBIDDEN, "this API key cannot grant the scope %q, which it does not hold", sc).WithKind(herald.KindScopeRequired)
		}
	}
	keys, err := s.st.ListAPIKeys(ctx, projectID)
	if err != nil {
		return nil, "", err
	}
	if len(keys) >= APIKeysMax {
		return nil, "", herald.Errorf(herald.ECONFLICT, "the project has %d API keys, the most allowed; revoke one first", len(keys)).WithKind(herald.KindAPIKeyLimit)
	}
	return s.storeAPIKey(ctx, k)
}

// ListAPIKeys returns a page of the project's keys, in the store's order,
// and the cursor of the next page ("" on the last). The cursor is the id of
// the last key shown; one that is not a key of the project is an EINVALID
// at query.cursor. A tenant-bound caller sees only its tenant's keys.
func (s *Service) ListAPIKeys(ctx context.Context, projectID string, page store.Page) ([]*herald.APIKey, string, error) {
	keys, err := s.st.ListAPIKeys(ctx, projectID)
	if err != nil {
		return nil, "", err
	}
	if bound := boundTenant(ctx); bound != "" {
		keys = slices.DeleteFunc(keys, func(k *herald.APIKey) bool { return k.TenantID != bound })
	}
	return pageOf(keys, page, func(k *herald.APIKey) string { return k.ID })
}

// pageOf cuts one page out of a whole list whose items are named by id;
// the cursor is the id of the last item of the previous page.
func pageOf[T any](items []T, page store.Page, id func(T) string) ([]T, string, error) {
	start := 0
	if page.Cursor != "" {
		start = -1
		for i, it := range items {
			if id(it) == page.Cursor {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, "", invalid("query.cursor", nil, "not a cursor of this list")
		}
	}
	items = items[start:]
	limit := herald.PageLimit(page.Limit)
	if len(items) > limit {
		items = items[:limit]
		return items, id(items[len(items)-1]), nil
	}
	return items, "", nil
}

// RevokeAPIKey deletes the project's key id: it stops working at once,
// and dashboard sessions opened with it end. A tenant-bound caller
// revokes only its tenant's keys (others are not found).
func (s *Service) RevokeAPIKey(ctx context.Context, projectID, id string) error {
	if bound := boundTenant(ctx); bound != "" {
		keys, err := s.st.ListAPIKeys(ctx, projectID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(keys, func(k *herald.APIKey) bool { return k.ID == id && k.TenantID == bound }) {
			return herald.Errorf(herald.ENOTFOUND, "API key not found")
		}
	}
	return notFound(s.st.DeleteAPIKey(ctx, projectID, id), "API key")
}
