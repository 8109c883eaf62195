package service

import (
	"context"
	"errors"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/hook"
	"github.com/herald-dev/herald/internal/store"
)

// Ingest validates, routes and stores events of p (delivery.Engine.Ingest,
// which holds the event rules: it is the hot path). The layer adds the
// caller's tenant binding: a tenant-bound key's events carry its tenant,
// and one naming another tenant is refused (its result's Err, the others
// go on).
func (s *Service) Ingest(ctx context.Context, p *herald.Project, in []delivery.EventInput) ([]delivery.IngestResult, error) {
	if boundTenant(ctx) == "" {
		return s.eng.Ingest(ctx, p, in)
	}
	out := make([]delivery.IngestResult, len(in))
	var (
		pass  []delivery.EventInput
		index []int // pass position → in position
	)
	for i := range in {
		t, err := BindTenant(ctx, in[i].TenantID, "tenant_id")
		if err != nil {
			out[i].Err = err
			continue
		}
		in[i].TenantID = t
		pass = append(pass, in[i])
		index = append(index, i)
	}
	if len(pass) == 0 {
		return out, nil
	}
	res, err := s.eng.Ingest(ctx, p, pass)
	if err != nil {
		return nil, err
	}
	for j := range res {
		out[index[j]] = res[j]
	}
	return out, nil
}

// Event returns the project's event id; ENOTFOUND "event not found" when
// there is none or it is another tenant's than the caller's.
func (s *Service) Event(ctx context.Context, projectID, id string) (*herald.Event, error) {
	ev, err := s.st.GetEvent(ctx, projectID, id)
	if err == nil && !visible(ctx, ev.TenantID) {
		err = herald.Errorf(herald.ENOTFOUND, "event not found")
	}
	return ev, notFound(err, "event")
}

// ReplayEvent delivers ev again: to endpointID alone, or to every endpoint
// it routes to now when endpointID is "". It returns the number of new
// deliveries.
func (s *Service) ReplayEvent(ctx context.Context, ev *herald.Event, endpointID string) (int, error) {
	if endpointID != "" {
		ep, err := s.st.GetEndpoint(ctx, ev.ProjectID, endpointID)
		switch {
		case herald.IsNotFound(err):
			return 0, invalid("body.endpoint_id", herald.Clip(endpointID), "no such endpoint in this project")
		case err != nil:
			return 0, err
		case !visible(ctx, ep.TenantID):
			return 0, invalid("body.endpoint_id", herald.Clip(endpointID), "no such endpoint in this project")
		case !ep.Enabled || ep.Status == herald.EndpointDisabled:
			return 0, &herald.Error{Code: herald.EINVALID, Message: "the endpoint is disabled",
				Fields: []herald.FieldError{{Location: "body.endpoint_id", Message: "is disabled", Value: endpointID}}}
		}
	}
	// A tenant-bound caller replays to its tenant's endpoints, never to
	// the project's own, which it cannot see.
	n, err := s.eng.Replay(ctx, ev.ProjectID, ev.ID, endpointID, PrincipalOf(ctx).TenantID != "")
	return n, Locate(err, "body")
}

// Locate prefixes the field locations of an engine error, which are
// relative to the event object ("data.email"), with where the event is
// ("body", "body.events[3]").
func Locate(err error, loc string) error {
	var he *herald.Error
	if !errors.As(err, &he) || len(he.Fields) == 0 {
		return err
	}
	out := &herald.Error{Code: he.Code, Message: he.Message, Fields: make([]herald.FieldError, len(he.Fields))}
	for i, f := range he.Fields {
		f.Location = loc + "." + f.Location
		out.Fields[i] = f
	}
	return out
}

// Delivery returns the project's delivery id; ENOTFOUND "delivery not
// found" when there is none or it is another tenant's than the caller's
// (a delivery to a project-wide endpoint is no tenant's).
func (s *Service) Delivery(ctx context.Context, projectID, id string) (*herald.Delivery, error) {
	d, err := s.st.GetDelivery(ctx, projectID, id)
	if err == nil && !visible(ctx, d.TenantID) {
		err = herald.Errorf(herald.ENOTFOUND, "delivery not found")
	}
	return d, notFound(err, "delivery")
}

// RetryDelivery attempts d once more now, whatever its state, and returns
// the attempt.
func (s *Service) RetryDelivery(ctx context.Context, d *herald.Delivery) (*herald.Attempt, error) {
	return s.eng.Retry(ctx, d.ProjectID, d.ID)
}

// ListAttempts returns a page of d's attempts, oldest first; the cursor is
// the id of the last attempt of the previous page.
func (s *Service) ListAttempts(ctx context.Context, d *herald.Delivery, page store.Page) ([]*herald.Attempt, string, error) {
	atts, err := s.st.ListAttempts(ctx, d.ProjectID, d.ID)
	if err != nil {
		return nil, "", err
	}
	return pageOf(atts, page, func(a *herald.Attempt) string { return a.ID })
}

// RunHook runs the synchronous hooks of eventType in p with a request body
// {"data", "metadata"?, "timeout"?, "tenant_id"?} and returns the verdict.
// A tenant-bound caller runs them for its own tenant (BindTenant).
func (s *Service) RunHook(ctx context.Context, p *herald.Project, eventType string, body []byte) (*hook.Result, error) {
	if s.hooks == nil {
		return nil, herald.Errorf(herald.EUNAVAILABLE, "synchronous hooks are not enabled on this server")
	}
	req, err := s.hooks.Decode(body)
	if err != nil {
		return nil, err
	}
	if req.TenantID, err = BindTenant(ctx, req.TenantID, "body.tenant_id"); err != nil {
		return nil, err
	}
	return s.hooks.Run(ctx, p, eventType, req)
}
