package portal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
)

// Endpoints.

func (h *handler) endpointList(w http.ResponseWriter, r *http.Request, s *sess) {
	ctx := r.Context()
	eps, err := h.svc.PortalEndpoints(ctx, s.ps)
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].CreatedAt.After(eps[j].CreatedAt) })
	rows, err := h.svc.EndpointRows(ctx, eps, h.cfg.Now().Add(-service.StatsWindow))
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	for i := range rows {
		rows[i].Endpoint = service.Redact(rows[i].Endpoint)
	}
	h.render(w, r, s, http.StatusOK, "endpoints", "nav_endpoints", rows)
}

// endpointForm is the endpoint form as typed, with its errors.
type endpointForm struct {
	Endpoint *herald.Endpoint // nil when creating
	Types    []*herald.EventType
	Values   map[string]string
	Checked  []string // the event types ticked
	Errors   map[string][]string
	General  []string
	Limited  bool // the session offers only some types: one must be picked
}

func (f *endpointForm) Err(name string) []string { return f.Errors[name] }

func (h *handler) newForm(r *http.Request, s *sess, ep *herald.Endpoint) (*endpointForm, error) {
	types, err := h.svc.PortalEventTypes(r.Context(), s.ps)
	if err != nil {
		return nil, err
	}
	return &endpointForm{Endpoint: ep, Types: types, Values: map[string]string{}, Errors: map[string][]string{}, Limited: s.ps.EventTypes != nil}, nil
}

// fill shows a stored endpoint (or the defaults) in the form; stored
// credentials and header values are never written into the page.
func (f *endpointForm) fill(ep *herald.Endpoint) {
	v := f.Values
	v["url"], v["description"] = ep.URL, ep.Description
	if ep.Enabled {
		v["enabled"] = "on"
	}
	v["rate_limit"] = strconv.Itoa(ep.RateLimit)
	f.Checked = slices.Clone(ep.EventTypes)
	red := service.Redact(ep)
	lines := make([]string, 0, len(red.Headers))
	for k, val := range red.Headers {
		lines = append(lines, k+": "+val)
	}
	sort.Strings(lines)
	v["headers"] = strings.Join(lines, "\n")
	v["auth"] = "none"
	if ep.Auth != nil && ep.Auth.Basic != nil {
		v["auth"], v["basic_username"] = "basic", ep.Auth.Basic.Username
	} else if ep.Auth != nil && ep.Auth.Bearer != "" {
		v["auth"] = "bearer"
	}
}

// parse reads the posted form into ep (a copy of the stored endpoint when
// editing). Inputs that cannot be read are form errors; the values' rules
// are the service's.
func (f *endpointForm) parse(r *http.Request, tr translator, ep *herald.Endpoint) {
	for _, name := range []string{"url", "description", "enabled", "rate_limit", "headers", "auth", "basic_username", "basic_password", "bearer"} {
		f.Values[name] = r.PostFormValue(name)
	}
	v := f.Values
	f.Checked = r.PostForm["event_types"]
	ep.URL = strings.TrimSpace(v["url"])
	ep.Description = strings.TrimSpace(v["description"])
	ep.Enabled = v["enabled"] != ""
	ep.EventTypes = slices.Clone(f.Checked)
	ep.RateLimit = 0
	if n := strings.TrimSpace(v["rate_limit"]); n != "" {
		i, err := strconv.Atoi(n)
		if err != nil {
			f.Errors["rate_limit"] = append(f.Errors["rate_limit"], tr.T("bad_number"))
		}
		ep.RateLimit = i
	}
	ep.Headers = nil
	for _, line := range strings.Split(v["headers"], "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, val, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" {
			f.Errors["headers"] = append(f.Errors["headers"], tr.T("bad_header_line"))
			continue
		}
		if ep.Headers == nil {
			ep.Headers = map[string]string{}
		}
		ep.Headers[strings.TrimSpace(name)] = strings.TrimSpace(val)
	}
	old := ep.Auth
	switch v["auth"] {
	case "basic":
		pw := v["basic_password"]
		if pw == "" && old != nil && old.Basic != nil {
			pw = service.Redacted // keeps the stored password
		}
		ep.Auth = &herald.Auth{Basic: &herald.BasicAuth{Username: strings.TrimSpace(v["basic_username"]), Password: pw}}
	case "bearer":
		tok := strings.TrimSpace(v["bearer"])
		if tok == "" && old != nil && old.Bearer != "" {
			tok = service.Redacted
		}
		ep.Auth = &herald.Auth{Bearer: tok}
	default:
		ep.Auth = nil
	}
}

// refused puts the service's verdict on the form: field errors next to
// their inputs, the rest on top. It returns false when err is not about
// the form (the caller answers it).
func (f *endpointForm) refused(err error) bool {
	var he *herald.Error
	if !errors.As(err, &he) || he.Code != herald.EINVALID {
		return false
	}
	for _, fe := range he.Fields {
		name := strings.TrimPrefix(fe.Location, "body.")
		if i := strings.IndexAny(name, ".["); i >= 0 {
			name = name[:i]
		}
		switch name {
		case "url", "description", "event_types", "rate_limit", "headers", "auth", "enabled":
			f.Errors[name] = append(f.Errors[name], fe.Message)
		default:
			f.General = append(f.General, fe.Location+": "+fe.Message)
		}
	}
	if len(he.Fields) == 0 {
		f.General = append(f.General, he.Message)
	}
	return true
}

func (h *handler) endpointNew(w http.ResponseWriter, r *http.Request, s *sess) {
	if s.ps.ReadOnly {
		h.errorPage(w, r, s, http.StatusForbidden, "forbidden_title", "read_only_text")
		return
	}
	f, err := h.newForm(r, s, nil)
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	f.fill(&herald.Endpoint{Enabled: true})
	h.render(w, r, s, http.StatusOK, "endpoint_form", "new_endpoint", f)
}

func (h *handler) endpointCreate(w http.ResponseWriter, r *http.Request, s *sess) {
	f, err := h.newForm(r, s, nil)
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	ep := &herald.Endpoint{}
	tr := translator{s.locale}
	f.parse(r, tr, ep)
	if len(f.Errors) == 0 {
		err = h.svc.PortalCreateEndpoint(r.Context(), s.ps, ep)
	} else {
		err = h.svc.ValidateEndpoint(ep)
	}
	if err != nil && !f.refused(err) {
		h.failed(w, r, s, err)
		return
	}
	if len(f.Errors) > 0 || len(f.General) > 0 {
		h.render(w, r, s, http.StatusUnprocessableEntity, "endpoint_form", "new_endpoint", f)
		return
	}
	h.redirect(w, r, Prefix+"/endpoints/"+ep.ID, tr.T("created"))
}

func (h *handler) endpointEdit(w http.ResponseWriter, r *http.Request, s *sess) {
	ep, err := h.svc.PortalEndpoint(r.Context(), s.ps, r.PathValue("id"))
	if err != nil {
		h.failed(w, r, s, err)
		return
	}
	if s.ps.ReadOnly {
		h.errorPage(w, r, s, http.StatusForbidden, "forbidden_title", "read_only_text")
		return
	}
	f, err := h.newForm(r, s, service.Redact(ep))
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	f.fill(ep)
	h.render(w, r, s, http.StatusOK, "endpoint_form", "edit_endpoint", f)
}

func (h *handler) endpointUpdate(w http.ResponseWriter, r *http.Request, s *sess) {
	ctx := r.Context()
	old, err := h.svc.PortalEndpoint(ctx, s.ps, r.PathValue("id"))
	if err != nil {
		h.failed(w, r, s, err)
		return
	}
	f, err := h.newForm(r, s, service.Redact(old))
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	ep := service.CloneEndpoint(old)
	tr := translator{s.locale}
	f.parse(r, tr, ep)
	if len(f.Errors) == 0 {
		_, err = h.svc.PortalUpdateEndpoint(ctx, s.ps, old, ep)
	}
	if err != nil && !f.refused(err) {
		h.failed(w, r, s, err)
		return
	}
	if len(f.Errors) > 0 || len(f.General) > 0 {
		h.render(w, r, s, http.StatusUnprocessableEntity, "endpoint_form", "edit_endpoint", f)
		return
	}
	h.redirect(w, r, Prefix+"/endpoints/"+ep.ID, tr.T("saved"))
}

type endpointDetail struct {
	Endpoint    *herald.Endpoint
	Stats       *store.EndpointStats
	Attempts    []*herald.Attempt
	Types       []*herald.EventType
	Secret      string
	RecoverFrom string
}

func (h *handler) endpointDetail(w http.ResponseWriter, r *http.Request, s *sess) {
	ctx := r.Context()
	ep, err := h.svc.PortalEndpoint(ctx, s.ps, r.PathValue("id"))
	if err != nil {
		h.failed(w, r, s, err)
		return
	}
	d := endpointDetail{Endpoint: service.Redact(ep), RecoverFrom: h.cfg.Now().UTC().Add(-service.StatsWindow).Format("2006-01-02T15:04")}
	if r.URL.Query().Get("reveal") != "" {
		d.Secret = ep.Secret
	}
	if d.Stats, err = h.st.EndpointStats(ctx, ep.ProjectID, ep.ID, h.cfg.Now().Add(-service.StatsWindow)); err != nil {
		h.internal(w, r, s, err)
		return
	}
	if d.Attempts, err = h.st.ListEndpointAttempts(ctx, ep.ProjectID, ep.ID, 10); err != nil {
		h.internal(w, r, s, err)
		return
	}
	if d.Types, err = h.svc.PortalEventTypes(ctx, s.ps); err != nil {
		h.internal(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "endpoint", "nav_endpoints", d)
}

func (h *handler) endpointDelete(w http.ResponseWriter, r *http.Request, s *sess) {
	if err := h.svc.PortalDeleteEndpoint(r.Context(), s.ps, r.PathValue("id")); err != nil {
		h.failed(w, r, s, err)
		return
	}
	h.redirect(w, r, Prefix+"/endpoints", translator{s.locale}.T("deleted"))
}

func (h *handler) endpointRotate(w http.ResponseWriter, r *http.Request, s *sess) {
	ep, err := h.svc.PortalRotateSecret(r.Context(), s.ps, r.PathValue("id"))
	if err != nil {
		h.failed(w, r, s, err)
		return
	}
	// Shown at once, once: the page after the redirect reveals it.
	h.redirect(w, r, Prefix+"/endpoints/"+ep.ID+"?reveal=1", translator{s.locale}.T("rotated"))
}

func (h *handler) endpointTest(w http.ResponseWriter, r *http.Request, s *sess) {
	id := r.PathValue("id")
	att, err := h.svc.PortalTestEndpoint(r.Context(), s.ps, id, r.PostFormValue("type"))
	if err != nil {
		h.failed(w, r, s, err)
		return
	}
	tr := translator{s.locale}
	msg := tr.T("test_sent", strconv.Itoa(att.ResponseStatus))
	if !att.Succeeded() {
		why := att.Error
		if why == "" {
			why = "HTTP " + strconv.Itoa(att.ResponseStatus)
		}
		msg = tr.T("test_failed", why)
	}
	h.redirect(w, r, Prefix+"/endpoints/"+id, msg)
}

func (h *handler) endpointRecover(w http.ResponseWriter, r *http.Request, s *sess) {
	id := r.PathValue("id")
	since, err := time.Parse("2006-01-02T15:04", strings.TrimSpace(r.PostFormValue("since")))
	tr := translator{s.locale}
	if err != nil {
		h.render(w, r, s, http.StatusBadRequest, "error", "bad_request", errorData{tr.T("bad_request"), tr.T("since") + ": " + tr.T("bad_time")})
		return
	}
	n, err := h.svc.PortalRecoverEndpoint(r.Context(), s.ps, id, since)
	if err != nil {
		h.failed(w, r, s, err)
		return
	}
	h.redirect(w, r, Prefix+"/endpoints/"+id, tr.T("recovered", strconv.Itoa(n)))
}

// Catalog.

func (h *handler) catalog(w http.ResponseWriter, r *http.Request, s *sess) {
	types, err := h.svc.PortalEventTypes(r.Context(), s.ps)
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "catalog", "nav_catalog", types)
}

// Logs.

type logsData struct {
	Deliveries []*herald.Delivery
	Endpoints  []*herald.Endpoint
	URLs       map[string]string // endpoint id → URL
	Types      []*herald.EventType
	States     []string
	Status     string
	EndpointID string
	Type       string
	Next       string // the query of the next page, "" on the last
}

func (h *handler) logs(w http.ResponseWriter, r *http.Request, s *sess) {
	ctx := r.Context()
	q := r.URL.Query()
	d := logsData{Status: q.Get("status"), EndpointID: q.Get("endpoint"), Type: q.Get("type"),
		States: []string{herald.DeliveryPending, herald.DeliveryInFlight, herald.DeliverySucceeded, herald.DeliveryExhausted, herald.DeliveryCanceled}}
	if d.Status != "" && !slices.Contains(d.States, d.Status) {
		d.Status = ""
	}
	f := store.DeliveryFilter{Status: d.Status, EndpointID: d.EndpointID, EventType: d.Type}
	var err error
	var next string
	d.Deliveries, next, err = h.svc.PortalDeliveries(ctx, s.ps, f, store.Page{Limit: 50, Cursor: q.Get("cursor")})
	if herald.ErrorCode(err) == herald.EINVALID {
		h.render(w, r, s, http.StatusBadRequest, "error", "bad_request", errorData{translator{s.locale}.T("bad_request"), "cursor"})
		return
	}
	if err != nil {
		h.internal(w, r, s, err)
		return
	}
	if next != "" {
		nq := q
		nq.Set("cursor", next)
		d.Next = nq.Encode()
	}
	if d.Endpoints, err = h.svc.PortalEndpoints(ctx, s.ps); err != nil {
		h.internal(w, r, s, err)
		return
	}
	d.URLs = map[string]string{}
	for _, ep := range d.Endpoints {
		d.URLs[ep.ID] = ep.URL
	}
	if d.Types, err = h.svc.PortalEventTypes(ctx, s.ps); err != nil {
		h.internal(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "logs", "nav_logs", d)
}

type deliveryData struct {
	Delivery    *herald.Delivery
	EndpointURL string // "" when the endpoint is gone
	Event       *herald.Event
	Attempts    []*herald.Attempt
}

func (h *handler) deliveryDetail(w http.ResponseWriter, r *http.Request, s *sess) {
	ctx := r.Context()
	d, err := h.svc.PortalDelivery(ctx, s.ps, r.PathValue("id"))
	if err != nil {
		h.failed(w, r, s, err)
		return
	}
	data := deliveryData{Delivery: d}
	if ep, err := h.svc.PortalEndpoint(ctx, s.ps, d.EndpointID); err == nil {
		data.EndpointURL = ep.URL
	}
	if data.Event, err = h.svc.Event(ctx, d.ProjectID, d.EventID); err != nil && !herald.IsNotFound(err) {
		h.internal(w, r, s, err)
		return
	}
	if data.Attempts, _, err = h.svc.ListAttempts(ctx, d, store.Page{Limit: 100}); err != nil {
		h.internal(w, r, s, err)
		return
	}
	slices.Reverse(data.Attempts) // newest first
	h.render(w, r, s, http.StatusOK, "delivery", "nav_logs", data)
}

func (h *handler) deliveryRetry(w http.ResponseWriter, r *http.Request, s *sess) {
	id := r.PathValue("id")
	if _, err := h.svc.PortalRetryDelivery(r.Context(), s.ps, id); err != nil {
		h.failed(w, r, s, err)
		return
	}
	h.redirect(w, r, Prefix+"/deliveries/"+id, translator{s.locale}.T("retried"))
}

// Template helpers.

// prettyJSON indents JSON; other text is shown as it is.
func prettyJSON(v any) string {
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		raw = x
	case string:
		raw = []byte(x)
	default:
		b, _ := json.MarshalIndent(x, "", "  ")
		return string(b)
	}
	var out bytes.Buffer
	if json.Indent(&out, raw, "", "  ") != nil {
		return string(raw)
	}
	return out.String()
}

func formatFloat(f float64) string { return fmt.Sprintf("%.1f", f) }
func formatInt(n int) string       { return strconv.Itoa(n) }
func contains(list []string, s string) bool {
	return slices.Contains(list, s)
}

// badge is the CSS class of a state's badge.
func badge(state string) string {
	switch state {
	case herald.EndpointHealthy, herald.DeliverySucceeded:
		return "badge ok"
	case herald.EndpointFailing, herald.DeliveryPending, herald.DeliveryInFlight:
		return "badge warn"
	case herald.EndpointDisabled, herald.DeliveryExhausted:
		return "badge bad"
	}
	return "badge"
}

// accentOf is the project's accent colour, or Herald's.
func accentOf(b *herald.PortalSettings) string {
	if b != nil && b.AccentColor != "" {
		return b.AccentColor
	}
	return "#3056d3"
}
