package service

import (
	"context"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/store"
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
	key := herald.NewKey(herald.ProjectKeyPrefix)
	k := &herald.APIKey{
		ID:        herald.NewID(herald.PrefixKey),
		ProjectID: projectID,
		Hash:      herald.HashKey(key),
		Prefix:    key[:keyPrefixLen],
		CreatedAt: now,
	}
	if err := s.st.CreateAPIKey(ctx, k); err != nil {
		return nil, "", err
	}
	return k, key, nil
}

// CreateAPIKey creates a key of the project and returns it with the key in
// clear, which cannot be recovered later. A project with APIKeysMax keys
// gets an ECONFLICT (concurrent creates may overshoot by a few).
func (s *Service) CreateAPIKey(ctx context.Context, projectID string) (*herald.APIKey, string, error) {
	keys, err := s.st.ListAPIKeys(ctx, projectID)
	if err != nil {
		return nil, "", err
	}
	if len(keys) >= APIKeysMax {
		return nil, "", herald.Errorf(herald.ECONFLICT, "the project has %d API keys, the most allowed; revoke one first", len(keys)).WithKind(herald.KindAPIKeyLimit)
	}
	return s.newAPIKey(ctx, projectID, s.Now())
}

// ListAPIKeys returns a page of the project's keys, in the store's order,
// and the cursor of the next page ("" on the last). The cursor is the id of
// the last key shown; one that is not a key of the project is an EINVALID
// at query.cursor.
func (s *Service) ListAPIKeys(ctx context.Context, projectID string, page store.Page) ([]*herald.APIKey, string, error) {
	keys, err := s.st.ListAPIKeys(ctx, projectID)
	if err != nil {
		return nil, "", err
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
// and dashboard sessions opened with it end.
func (s *Service) RevokeAPIKey(ctx context.Context, projectID, id string) error {
	return notFound(s.st.DeleteAPIKey(ctx, projectID, id), "API key")
}
