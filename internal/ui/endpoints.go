package ui

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
)

type endpointListData struct {
	Rows []service.EndpointRow
	Next string
}

func (h *handler) endpointList(w http.ResponseWriter, r *http.Request) {
	prj := projectFrom(r)
	ctx := r.Context()
	eps, next, err := h.st.ListEndpoints(ctx, prj.ID, store.EndpointFilter{TenantID: boundTenant(r)}, store.Page{Limit: 50, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		h.cursorError(w, r, err)
		return
	}
	rows, err := h.svc.EndpointRows(ctx, eps, h.cfg.Now().Add(-service.StatsWindow))
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "endpoints", "Endpoints", endpointListData{Rows: rows, Next: next})
}

// cursorError treats a store error on a list as a bad cursor when it is
// invalid input, so a mangled ?cursor= is a 4xx page.
func (h *handler) cursorError(w http.ResponseWriter, r *http.Request, err error) {
	if herald.ErrorCode(err) == herald.EINVALID {
		h.errorPage(w, r, http.StatusBadRequest, "Invalid page cursor.")
		return
	}
	h.storeError(w, r, err)
}

type endpointFormData struct {
	Endpoint *herald.Endpoint // nil when creating
	Form     *form
	HasBasic bool
	HasBear  bool
}

func (h *handler) endpointNew(w http.ResponseWriter, r *http.Request) {
	ep := &herald.Endpoint{Enabled: true}
	ep.SetDefaults()
	h.render(w, r, http.StatusOK, "endpoint_form", "New endpoint", endpointFormData{Form: endpointForm(ep)})
}

func (h *handler) endpointCreate(w http.ResponseWriter, r *http.Request) {
	prj := projectFrom(r)
	ep := &herald.Endpoint{}
	f := parseEndpointForm(r, ep)
	var err error
	if f.HasErrors() {
		// Some inputs could not be read: show the rules' verdict on the
		// rest beside them, store nothing.
		err = h.svc.ValidateEndpoint(ep)
	} else {
		err = h.svc.CreateEndpoint(r.Context(), prj.ID, ep)
	}
	if !h.refused(w, r, f, err) {
		return
	}
	if f.HasErrors() {
		h.render(w, r, http.StatusUnprocessableEntity, "endpoint_form", "New endpoint", endpointFormData{Form: f})
		return
	}
	h.flashEndpoint(w, r, ep, "Endpoint created. Reveal its signing secret below to verify deliveries.")
}

// refused adds err, the service's answer to a form, to f: field errors
// next to their inputs, other refusals on top. It returns false after an
// error page instead (a vanished resource, an internal error).
func (h *handler) refused(w http.ResponseWriter, r *http.Request, f *form, err error) bool {
	var he *herald.Error
	switch {
	case err == nil:
	case errors.As(err, &he) && he.Code == herald.EINVALID:
		f.addFieldErrors(he.Fields)
		if len(he.Fields) == 0 {
			f.General = append(f.General, he.Message)
		}
	case errors.As(err, &he) && he.Code != herald.EINTERNAL && he.Code != herald.ENOTFOUND:
		f.General = append(f.General, he.Error())
	default:
		h.storeError(w, r, err)
		return false
	}
	return true
}

// endpointOf loads the {id} endpoint of the project; false after a 404.
func (h *handler) endpointOf(w http.ResponseWriter, r *http.Request) (*herald.Endpoint, bool) {
	return loadPathID(h, w, r, h.svc.Endpoint)
}

// flashEndpoint ends a POST about ep: back to its page, which shows msg.
func (h *handler) flashEndpoint(w http.ResponseWriter, r *http.Request, ep *herald.Endpoint, msg string) {
	h.flashTo(w, r, msg, "p", ep.ProjectID, "endpoints", ep.ID)
}

func formData(ep *herald.Endpoint, f *form) endpointFormData {
	d := endpointFormData{Endpoint: ep, Form: f}
	if ep.Auth != nil {
		d.HasBasic = ep.Auth.Basic != nil && ep.Auth.Basic.Password != ""
		d.HasBear = ep.Auth.Bearer != ""
	}
	return d
}

func (h *handler) endpointEdit(w http.ResponseWriter, r *http.Request) {
	ep, ok := h.endpointOf(w, r)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "endpoint_form", "Edit endpoint", formData(ep, endpointForm(ep)))
}

func (h *handler) endpointUpdate(w http.ResponseWriter, r *http.Request) {
	old, ok := h.endpointOf(w, r)
	if !ok {
		return
	}
	ep := service.CloneEndpoint(old)
	f := parseEndpointForm(r, ep)
	var err error
	if f.HasErrors() {
		err = h.svc.ValidateEndpoint(ep)
	} else {
		_, err = h.svc.UpdateEndpoint(r.Context(), old, ep)
	}
	if !h.refused(w, r, f, err) {
		return
	}
	if f.HasErrors() {
		h.render(w, r, http.StatusUnprocessableEntity, "endpoint_form", "Edit endpoint", formData(old, f))
		return
	}
	h.flashEndpoint(w, r, ep, "Endpoint saved.")
}

type endpointDetailData struct {
	Endpoint    *herald.Endpoint
	Stats       *store.EndpointStats
	States      []stateCount
	Chart       *chart
	Attempts    []*herald.Attempt
	EventTypes  []*herald.EventType
	Secret      string // the secret, after a rotation or on request
	RecoverFrom string
}

type stateCount struct {
	State string
	N     int
}

func (h *handler) endpointDetail(w http.ResponseWriter, r *http.Request) {
	ep, ok := h.endpointOf(w, r)
	if !ok {
		return
	}
	h.renderEndpoint(w, r, ep, "")
}

func (h *handler) renderEndpoint(w http.ResponseWriter, r *http.Request, ep *herald.Endpoint, newSecret string) {
	ctx := r.Context()
	now := h.cfg.Now()
	stats, err := h.st.EndpointStats(ctx, ep.ProjectID, ep.ID, now.Add(-service.StatsWindow))
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	attempts, err := h.st.ListEndpointAttempts(ctx, ep.ProjectID, ep.ID, 25)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	types, _, err := h.st.ListEventTypes(ctx, ep.ProjectID, store.Page{Limit: 200})
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	d := endpointDetailData{Endpoint: service.Redact(ep), Stats: stats, Attempts: attempts, EventTypes: types,
		Secret: newSecret, Chart: newChart(stats.Buckets),
		RecoverFrom: now.Add(-service.StatsWindow).UTC().Format(datetimeLocal)}
	for _, s := range herald.DeliveryStates {
		d.States = append(d.States, stateCount{s, stats.Deliveries[s]})
	}
	title := ep.Name
	if title == "" {
		title = ep.URL
	}
	h.render(w, r, http.StatusOK, "endpoint", title, d)
}

func (h *handler) endpointTest(w http.ResponseWriter, r *http.Request) {
	ep, ok := h.endpointOf(w, r)
	if !ok {
		return
	}
	att, err := h.svc.TestEndpoint(r.Context(), ep, strings.TrimSpace(r.PostFormValue("type")))
	if err != nil {
		h.actionError(w, r, ep, err)
		return
	}
	h.flashEndpoint(w, r, ep, "Test event sent: "+attemptOutcome(att)+".")
}

// actionError reports a failed button: input errors as a flash message on
// the endpoint page, the rest as an error page.
func (h *handler) actionError(w http.ResponseWriter, r *http.Request, ep *herald.Endpoint, err error) {
	switch herald.ErrorCode(err) {
	case herald.EINVALID, herald.ECONFLICT, herald.EUNAVAILABLE:
		h.flashEndpoint(w, r, ep, "Failed: "+err.Error())
	default:
		h.storeError(w, r, err)
	}
}

func attemptOutcome(a *herald.Attempt) string {
	switch {
	case a == nil:
		return "no attempt"
	case a.ErrorClass != "" && a.ResponseStatus == 0:
		return fmt.Sprintf("%s error (%s)", a.ErrorClass, a.Error)
	case a.Succeeded():
		return fmt.Sprintf("HTTP %d in %d ms", a.ResponseStatus, a.DurationMS)
	}
	return fmt.Sprintf("failed with HTTP %d in %d ms", a.ResponseStatus, a.DurationMS)
}

func (h *handler) endpointRecover(w http.ResponseWriter, r *http.Request) {
	ep, ok := h.endpointOf(w, r)
	if !ok {
		return
	}
	f := newForm()
	f.Values["since"] = r.PostFormValue("since")
	since := parseTime(f, "since")
	if since == nil {
		h.flashEndpoint(w, r, ep, "Recover: give a start time (YYYY-MM-DDTHH:MM, UTC).")
		return
	}
	n, err := h.svc.RecoverEndpoint(r.Context(), ep, *since, time.Time{})
	if err != nil {
		h.actionError(w, r, ep, err)
		return
	}
	h.flashEndpoint(w, r, ep, fmt.Sprintf("Requeued %d failed deliveries since %s UTC.", n, formatTime(*since)))
}

// endpointRotate replaces the signing secret and answers with the page
// itself, not a redirect, so the new secret is shown exactly once.
func (h *handler) endpointRotate(w http.ResponseWriter, r *http.Request) {
	ep, ok := h.endpointOf(w, r)
	if !ok {
		return
	}
	var rot service.Rotation
	if s := strings.TrimSpace(r.PostFormValue("grace_period")); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			h.flashEndpoint(w, r, ep, "Rotate: the grace period is a duration such as 24h, or 0s to stop the old secret at once.")
			return
		}
		rot.GracePeriod = &d
	}
	if err := h.svc.RotateSecret(r.Context(), ep, rot); err != nil {
		h.actionError(w, r, ep, err)
		return
	}
	h.renderEndpoint(w, r, ep, ep.Secret)
}

// endpointSecret shows the current signing secret on request (a POST, so
// that it is never in a cached or prefetched page).
func (h *handler) endpointSecret(w http.ResponseWriter, r *http.Request) {
	ep, ok := h.endpointOf(w, r)
	if !ok {
		return
	}
	h.renderEndpoint(w, r, ep, ep.Secret)
}

func (h *handler) endpointEnable(w http.ResponseWriter, r *http.Request)  { h.setEnabled(w, r, true) }
func (h *handler) endpointDisable(w http.ResponseWriter, r *http.Request) { h.setEnabled(w, r, false) }

// setEnabled switches an endpoint on or off, as the API's PATCH of
// enabled does: off disables it and cancels its deliveries at once; on
// again starts afresh.
func (h *handler) setEnabled(w http.ResponseWriter, r *http.Request, on bool) {
	ep, ok := h.endpointOf(w, r)
	if !ok {
		return
	}
	if _, err := h.svc.SetEndpointEnabled(r.Context(), ep, on); err != nil {
		h.storeError(w, r, err)
		return
	}
	msg := "Endpoint disabled: it receives nothing until enabled again; its pending deliveries are canceled."
	if on {
		msg = "Endpoint enabled."
	}
	h.flashEndpoint(w, r, ep, msg)
}

func (h *handler) endpointDelete(w http.ResponseWriter, r *http.Request) {
	prj := projectFrom(r)
	if err := h.svc.DeleteEndpoint(r.Context(), prj.ID, r.PathValue("id")); err != nil {
		h.storeError(w, r, err)
		return
	}
	h.flashTo(w, r, "Endpoint deleted.", "p", prj.ID, "endpoints")
}
