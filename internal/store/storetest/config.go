package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

func (s *suite) settings(t *testing.T) {
	t.Run("SetSettingIfAbsentKeepsFirstValue", func(t *testing.T) {
		b := s.setup(t)
		v, err := b.st.SetSettingIfAbsent(b.ctx, "admin_key_hash", "first")
		require.NoError(t, err)
		require.Equal(t, "first", v)
		v, err = b.st.SetSettingIfAbsent(b.ctx, "admin_key_hash", "second")
		require.NoError(t, err)
		require.Equal(t, "first", v)
		got, err := b.st.GetSetting(b.ctx, "admin_key_hash")
		require.NoError(t, err)
		require.Equal(t, "first", got)
	})
	t.Run("SetSettingReplacesTheValue", func(t *testing.T) {
		b := s.setup(t)
		require.NoError(t, b.st.SetSetting(b.ctx, "admin_key_hash", "first"))
		require.NoError(t, b.st.SetSetting(b.ctx, "admin_key_hash", "second"))
		got, err := b.st.GetSetting(b.ctx, "admin_key_hash")
		require.NoError(t, err)
		require.Equal(t, "second", got)
	})
	t.Run("GetMissingSettingNotFound", func(t *testing.T) {
		b := s.setup(t)
		_, err := b.st.GetSetting(b.ctx, "nope")
		requireCode(t, herald.ENOTFOUND, err)
	})
}

func (s *suite) projects(t *testing.T) {
	t.Run("CreateGetUpdate", func(t *testing.T) {
		b := s.setup(t)
		got, err := b.st.GetProject(b.ctx, b.project.ID)
		require.NoError(t, err)
		equal(t, b.project, got)

		up := *b.project
		up.Name, up.StrictEventTypes, up.UpdatedAt = "renamed", true, b.now.Add(time.Second)
		require.NoError(t, b.st.UpdateProject(b.ctx, &up))
		got, err = b.st.GetProject(b.ctx, b.project.ID)
		require.NoError(t, err)
		equal(t, &up, got)
	})
	t.Run("DuplicateIDConflict", func(t *testing.T) {
		b := s.setup(t)
		dup := *b.project
		requireCode(t, herald.ECONFLICT, b.st.CreateProject(b.ctx, &dup))
	})
	t.Run("MissingNotFound", func(t *testing.T) {
		b := s.setup(t)
		_, err := b.st.GetProject(b.ctx, "prj_missing")
		requireCode(t, herald.ENOTFOUND, err)
		requireCode(t, herald.ENOTFOUND, b.st.UpdateProject(b.ctx, &herald.Project{ID: "prj_missing", Name: "x"}))
		requireCode(t, herald.ENOTFOUND, b.st.DeleteProject(b.ctx, "prj_missing"))
	})
	t.Run("DeleteCascades", func(t *testing.T) {
		b := s.setup(t)
		other := b.newProject(t, "other")
		key := &herald.APIKey{ID: herald.NewID(herald.PrefixKey), ProjectID: b.project.ID, Hash: "h1", Prefix: "hk_ab", CreatedAt: b.now}
		require.NoError(t, b.st.CreateAPIKey(b.ctx, key))
		require.NoError(t, b.st.CreateEventType(b.ctx, &herald.EventType{ProjectID: b.project.ID, Name: "user.created", CreatedAt: b.now, UpdatedAt: b.now}))
		ep := b.newEndpoint(t, nil)
		ev, ds := b.enqueue(t, b.now, ep)
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{{Attempt: newAttempt(ds[0], 1, b.now, 200, 5), Status: herald.DeliverySucceeded, Manual: true}}))

		require.NoError(t, b.st.DeleteProject(b.ctx, b.project.ID))
		_, err := b.st.GetProject(b.ctx, b.project.ID)
		requireCode(t, herald.ENOTFOUND, err)
		_, err = b.st.GetAPIKeyByHash(b.ctx, "h1")
		requireCode(t, herald.ENOTFOUND, err)
		_, err = b.st.GetEventType(b.ctx, b.project.ID, "user.created")
		requireCode(t, herald.ENOTFOUND, err)
		_, err = b.st.GetEndpointByID(b.ctx, ep.ID)
		requireCode(t, herald.ENOTFOUND, err)
		_, err = b.st.GetEvent(b.ctx, b.project.ID, ev.ID)
		requireCode(t, herald.ENOTFOUND, err)
		_, err = b.st.GetDelivery(b.ctx, b.project.ID, ds[0].ID)
		requireCode(t, herald.ENOTFOUND, err)
		atts, err := b.st.ListAttempts(b.ctx, b.project.ID, ds[0].ID)
		require.NoError(t, err)
		require.Empty(t, atts)
		qs, err := b.st.QueueStats(b.ctx)
		require.NoError(t, err)
		require.Zero(t, qs.Pending)

		_, err = b.st.GetProject(b.ctx, other.ID)
		require.NoError(t, err, "another project survives")
	})
}

func (s *suite) apiKeys(t *testing.T) {
	t.Run("ByHashListDelete", func(t *testing.T) {
		b := s.setup(t)
		k1 := &herald.APIKey{ID: herald.NewID(herald.PrefixKey), ProjectID: b.project.ID, Hash: herald.HashKey("k1"), Prefix: "hk_k1", CreatedAt: b.now}
		k2 := &herald.APIKey{ID: herald.NewID(herald.PrefixKey), ProjectID: b.project.ID, Hash: herald.HashKey("k2"), Prefix: "hk_k2", CreatedAt: b.now}
		admin := &herald.APIKey{ID: herald.NewID(herald.PrefixKey), Hash: herald.HashKey("admin"), Prefix: "hk_admin_x", CreatedAt: b.now}
		for _, k := range []*herald.APIKey{k1, k2, admin} {
			require.NoError(t, b.st.CreateAPIKey(b.ctx, k))
		}
		for _, k := range []*herald.APIKey{k1, k2, admin} {
			k.Scopes = []string{herald.ScopeAll} // a key stored without scopes reads back with "all"
		}
		got, err := b.st.GetAPIKeyByHash(b.ctx, herald.HashKey("k2"))
		require.NoError(t, err)
		equal(t, k2, got)
		got, err = b.st.GetAPIKeyByHash(b.ctx, herald.HashKey("admin"))
		require.NoError(t, err)
		equal(t, admin, got, "the admin key has no project")

		list, err := b.st.ListAPIKeys(b.ctx, b.project.ID)
		require.NoError(t, err)
		require.Len(t, list, 2)

		require.NoError(t, b.st.DeleteAPIKey(b.ctx, b.project.ID, k1.ID))
		_, err = b.st.GetAPIKeyByHash(b.ctx, herald.HashKey("k1"))
		requireCode(t, herald.ENOTFOUND, err)
		requireCode(t, herald.ENOTFOUND, b.st.DeleteAPIKey(b.ctx, b.project.ID, k1.ID))
		list, err = b.st.ListAPIKeys(b.ctx, b.project.ID)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, k2.ID, list[0].ID)
	})
	t.Run("ScopesTenantExpiry", func(t *testing.T) {
		b := s.setup(t)
		exp := b.now.Add(time.Hour)
		k := &herald.APIKey{ID: herald.NewID(herald.PrefixKey), ProjectID: b.project.ID, Hash: herald.HashKey("scoped"), Prefix: "hk_sc",
			Name: "support tool", Scopes: []string{herald.ScopeRead, herald.ScopeEventsWrite}, TenantID: "acme", ExpiresAt: &exp, CreatedAt: b.now}
		require.NoError(t, b.st.CreateAPIKey(b.ctx, k))
		got, err := b.st.GetAPIKeyByHash(b.ctx, k.Hash)
		require.NoError(t, err)
		equal(t, k, got, "name, scopes, tenant and expiry read back")
		got, err = b.st.GetAPIKeyByHash(b.ctx, k.Hash) // from the auth cache when the store has one
		require.NoError(t, err)
		equal(t, k, got, "and so from the auth cache")
		list, err := b.st.ListAPIKeys(b.ctx, b.project.ID)
		require.NoError(t, err)
		require.Len(t, list, 1)
		equal(t, k, list[0])
	})
	t.Run("DeleteOtherProjectsKeyNotFound", func(t *testing.T) {
		b := s.setup(t)
		other := b.newProject(t, "other")
		k := &herald.APIKey{ID: herald.NewID(herald.PrefixKey), ProjectID: other.ID, Hash: "h", Prefix: "hk_x", CreatedAt: b.now}
		require.NoError(t, b.st.CreateAPIKey(b.ctx, k))
		requireCode(t, herald.ENOTFOUND, b.st.DeleteAPIKey(b.ctx, b.project.ID, k.ID))
	})
}

func (s *suite) eventTypes(t *testing.T) {
	t.Run("CRUD", func(t *testing.T) {
		b := s.setup(t)
		et := &herald.EventType{
			ProjectID: b.project.ID, Name: "user.created", Description: "a user signed up",
			Schema:    json.RawMessage(`{"type":"object","required":["user_id"]}`),
			Example:   json.RawMessage(`{"user_id":"u_1"}`),
			CreatedAt: b.now, UpdatedAt: b.now,
		}
		require.NoError(t, b.st.CreateEventType(b.ctx, et))
		got, err := b.st.GetEventType(b.ctx, b.project.ID, "user.created")
		require.NoError(t, err)
		equal(t, et, got)

		up := *et
		up.Description, up.Schema, up.Example, up.UpdatedAt = "changed", nil, nil, b.now.Add(time.Minute)
		require.NoError(t, b.st.UpdateEventType(b.ctx, &up))
		got, err = b.st.GetEventType(b.ctx, b.project.ID, "user.created")
		require.NoError(t, err)
		require.Equal(t, "changed", got.Description)
		require.Empty(t, got.Schema)
		require.Empty(t, got.Example)
		require.True(t, up.UpdatedAt.Equal(got.UpdatedAt))

		require.NoError(t, b.st.DeleteEventType(b.ctx, b.project.ID, "user.created"))
		_, err = b.st.GetEventType(b.ctx, b.project.ID, "user.created")
		requireCode(t, herald.ENOTFOUND, err)
		requireCode(t, herald.ENOTFOUND, b.st.DeleteEventType(b.ctx, b.project.ID, "user.created"))
		requireCode(t, herald.ENOTFOUND, b.st.UpdateEventType(b.ctx, &up))
	})
	t.Run("DuplicateNameConflictPerProject", func(t *testing.T) {
		b := s.setup(t)
		et := &herald.EventType{ProjectID: b.project.ID, Name: "order.paid", CreatedAt: b.now, UpdatedAt: b.now}
		require.NoError(t, b.st.CreateEventType(b.ctx, et))
		requireCode(t, herald.ECONFLICT, b.st.CreateEventType(b.ctx, et))
		other := b.newProject(t, "other")
		require.NoError(t, b.st.CreateEventType(b.ctx, &herald.EventType{ProjectID: other.ID, Name: "order.paid", CreatedAt: b.now, UpdatedAt: b.now}),
			"the same name in another project")
	})
}

func (s *suite) endpoints(t *testing.T) {
	t.Run("EveryFieldRoundTrips", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, func(ep *herald.Endpoint) {
			ep.Ordered = true
			ep.PreviousSecret = "whsec_b2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xk"
			ep.PreviousSecretUntil = ptr(b.now.Add(24 * time.Hour))
			ep.Status = herald.EndpointFailing
			ep.ConsecutiveFailures = 4
			ep.FailingSince = ptr(b.now.Add(-time.Hour))
			ep.PausedUntil = ptr(b.now.Add(time.Minute))
		})
		got, err := b.st.GetEndpoint(b.ctx, b.project.ID, ep.ID)
		require.NoError(t, err)
		equal(t, ep, got)
		got, err = b.st.GetEndpointByID(b.ctx, ep.ID)
		require.NoError(t, err)
		equal(t, ep, got)

		bearer := b.newEndpoint(t, func(ep *herald.Endpoint) {
			ep.Auth = &herald.Auth{Bearer: "tok"}
			ep.ActiveFrom, ep.ActiveUntil = nil, nil
		})
		got, err = b.st.GetEndpoint(b.ctx, b.project.ID, bearer.ID)
		require.NoError(t, err)
		equal(t, bearer, got)

		none := b.newEndpoint(t, func(ep *herald.Endpoint) { ep.Auth = nil })
		got, err = b.st.GetEndpoint(b.ctx, b.project.ID, none.ID)
		require.NoError(t, err)
		require.Nil(t, got.Auth)
	})
	t.Run("DuplicateIDConflict", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		requireCode(t, herald.ECONFLICT, b.st.CreateEndpoint(b.ctx, ep))
	})
	t.Run("OtherProjectNotFound", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		other := b.newProject(t, "other")
		_, err := b.st.GetEndpoint(b.ctx, other.ID, ep.ID)
		requireCode(t, herald.ENOTFOUND, err)
		requireCode(t, herald.ENOTFOUND, b.st.DeleteEndpoint(b.ctx, other.ID, ep.ID))
		_, err = b.st.GetEndpointByID(b.ctx, "ep_missing")
		requireCode(t, herald.ENOTFOUND, err)
	})
	t.Run("ProjectEndpointsReturnsAll", func(t *testing.T) {
		b := s.setup(t)
		var want []string
		for range 5 {
			want = append(want, b.newEndpoint(t, nil).ID)
		}
		other := b.newProject(t, "other")
		b2 := *b
		b2.project = other
		b2.newEndpoint(t, nil)
		eps, err := b.st.ProjectEndpoints(b.ctx, b.project.ID)
		require.NoError(t, err)
		var got []string
		for _, ep := range eps {
			got = append(got, ep.ID)
		}
		require.ElementsMatch(t, want, got)
	})
	t.Run("UpdateEndpointLeavesHealth", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		h := store.EndpointHealth{Status: herald.EndpointFailing, ConsecutiveFailures: 3, FailingSince: ptr(b.now.Add(-time.Hour)), PausedUntil: ptr(b.now.Add(time.Minute))}
		require.NoError(t, b.st.UpdateEndpointHealth(b.ctx, ep.ID, h))

		up := *ep
		up.URL, up.EventTypes, up.Headers, up.Secret = "https://example.org/new", []string{"a.b"}, map[string]string{"X-New": "1"}, "whsec_bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3"
		up.Status, up.ConsecutiveFailures, up.FailingSince, up.PausedUntil = herald.EndpointHealthy, 0, nil, nil
		up.UpdatedAt = b.now.Add(time.Second)
		require.NoError(t, b.st.UpdateEndpoint(b.ctx, &up))

		got, err := b.st.GetEndpoint(b.ctx, b.project.ID, ep.ID)
		require.NoError(t, err)
		want := up
		want.Status, want.ConsecutiveFailures, want.FailingSince, want.PausedUntil = h.Status, h.ConsecutiveFailures, h.FailingSince, h.PausedUntil
		equal(t, &want, got)

		missing := up
		missing.ID = "ep_missing"
		requireCode(t, herald.ENOTFOUND, b.st.UpdateEndpoint(b.ctx, &missing))
	})
	t.Run("UpdateEndpointHealthFailingKeepsDeliveries", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		_, ds := b.enqueue(t, b.now, ep)
		require.NoError(t, b.st.UpdateEndpointHealth(b.ctx, ep.ID, store.EndpointHealth{Status: herald.EndpointFailing, ConsecutiveFailures: 1, FailingSince: &b.now}))
		got, err := b.st.GetEndpointByID(b.ctx, ep.ID)
		require.NoError(t, err)
		require.True(t, got.Enabled)
		require.Equal(t, herald.EndpointFailing, got.Status)
		require.Equal(t, herald.DeliveryPending, b.delivery(t, ds[0].ID).Status)
		requireCode(t, herald.ENOTFOUND, b.st.UpdateEndpointHealth(b.ctx, "ep_missing", store.EndpointHealth{Status: herald.EndpointHealthy}))
	})
	t.Run("UpdateEndpointHealthDisabledCancelsPending", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		keep := b.newEndpoint(t, nil)
		_, ds := b.enqueue(t, b.now, ep, keep)
		_, done := b.enqueue(t, b.now, ep)
		require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{{Attempt: newAttempt(done[0], 1, b.now, 200, 1), Status: herald.DeliverySucceeded, Manual: true}}))

		require.NoError(t, b.st.UpdateEndpointHealth(b.ctx, ep.ID, store.EndpointHealth{Status: herald.EndpointDisabled, DisabledReason: "410 Gone"}))
		got, err := b.st.GetEndpointByID(b.ctx, ep.ID)
		require.NoError(t, err)
		require.False(t, got.Enabled)
		require.Equal(t, herald.EndpointDisabled, got.Status)
		require.Equal(t, "410 Gone", got.DisabledReason)
		require.Equal(t, herald.DeliveryCanceled, b.delivery(t, ds[0].ID).Status)
		require.Equal(t, herald.DeliveryPending, b.delivery(t, ds[1].ID).Status, "another endpoint's delivery")
		require.Equal(t, herald.DeliverySucceeded, b.delivery(t, done[0].ID).Status, "a finished delivery")
	})
	t.Run("DeleteEndpointCancelsPending", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		keep := b.newEndpoint(t, nil)
		_, ds := b.enqueue(t, b.now, ep, keep)
		require.NoError(t, b.st.DeleteEndpoint(b.ctx, b.project.ID, ep.ID))
		_, err := b.st.GetEndpoint(b.ctx, b.project.ID, ep.ID)
		requireCode(t, herald.ENOTFOUND, err)
		require.Equal(t, herald.DeliveryCanceled, b.delivery(t, ds[0].ID).Status)
		require.Equal(t, herald.DeliveryPending, b.delivery(t, ds[1].ID).Status)
		requireCode(t, herald.ENOTFOUND, b.st.DeleteEndpoint(b.ctx, b.project.ID, ep.ID))
	})
}

// pagination: every list is newest first and its cursor walks it with no
// duplicate and no gap.
func (s *suite) pagination(t *testing.T) {
	const n = 10
	t.Run("Projects", func(t *testing.T) {
		b := s.setup(t)
		want := []string{b.project.ID}
		for i := range n - 1 {
			want = append(want, b.newProject(t, fmt.Sprint("p", i)).ID)
		}
		got := pages(t, func(p store.Page) ([]*herald.Project, string, error) { return b.st.ListProjects(b.ctx, p) },
			func(p *herald.Project) string { return p.ID })
		require.Equal(t, reversed(want), got)
	})
	t.Run("Endpoints", func(t *testing.T) {
		b := s.setup(t)
		var want []string
		for range n {
			want = append(want, b.newEndpoint(t, nil).ID)
		}
		got := pages(t, func(p store.Page) ([]*herald.Endpoint, string, error) {
			return b.st.ListEndpoints(b.ctx, b.project.ID, store.EndpointFilter{}, p)
		},
			func(e *herald.Endpoint) string { return e.ID })
		require.Equal(t, reversed(want), got)
	})
	t.Run("EventTypes", func(t *testing.T) {
		b := s.setup(t)
		var want []string
		for i := range n {
			name := fmt.Sprintf("type.%c", 'z'-i) // names not in creation order
			at := b.now.Add(time.Duration(i/2) * time.Second)
			require.NoError(t, b.st.CreateEventType(b.ctx, &herald.EventType{ProjectID: b.project.ID, Name: name, CreatedAt: at, UpdatedAt: at}))
			want = append(want, name)
		}
		got := pages(t, func(p store.Page) ([]*herald.EventType, string, error) {
			return b.st.ListEventTypes(b.ctx, b.project.ID, p)
		},
			func(e *herald.EventType) string { return e.Name })
		require.ElementsMatch(t, want, got)
		// newest first: created_at never increases along the list
		all, _, err := b.st.ListEventTypes(b.ctx, b.project.ID, store.Page{Limit: 100})
		require.NoError(t, err)
		for i := 1; i < len(all); i++ {
			require.False(t, all[i].CreatedAt.After(all[i-1].CreatedAt))
		}
	})
	t.Run("EventsAndDeliveries", func(t *testing.T) {
		b := s.setup(t)
		ep := b.newEndpoint(t, nil)
		var evs, dls []string
		for range n {
			ev, ds := b.enqueue(t, b.now, ep)
			evs, dls = append(evs, ev.ID), append(dls, ds[0].ID)
		}
		got := pages(t, func(p store.Page) ([]*herald.Event, string, error) {
			return b.st.ListEvents(b.ctx, b.project.ID, store.EventFilter{}, p)
		}, func(e *herald.Event) string { return e.ID })
		require.Equal(t, reversed(evs), got)
		got = pages(t, func(p store.Page) ([]*herald.Delivery, string, error) {
			return b.st.ListDeliveries(b.ctx, b.project.ID, store.DeliveryFilter{}, p)
		}, func(d *herald.Delivery) string { return d.ID })
		require.Equal(t, reversed(dls), got)
	})
}
