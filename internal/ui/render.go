package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/pages"
	"github.com/herald-dev/herald/internal/service"
)

// view is what every page template gets: the chrome (session, project,
// CSRF token, flash message) and the page's own data in D.
type view struct {
	Title    string
	Prefix   string
	Admin    bool
	LoggedIn bool
	Project  *herald.Project
	CSRF     string
	Flash    string
	Nav      string // the active section: endpoints, events, event-types, projects
	D        any
	key      *service.Principal // the session's key, for Can
}

// parseTemplates parses each page together with the layout, so that every
// page defines its own "content" block.
func (h *handler) parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"url":  h.path,
		"time": formatTime,
		"ago":  func(t time.Time) string { return ago(h.cfg.Now(), t) },
		"ptime": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return formatTime(*t)
		},
		"json":     prettyJSON,
		"percent":  func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
		"join":     strings.Join,
		"sortedKV": sortedKV,
		"badge":    badgeClass,
		"state":    func(ep *herald.Endpoint) endpointState { return stateOf(ep, h.cfg.Now()) },
		"add":      func(a, b int) int { return a + b },
		"dur":      herald.Duration.String,
	}
	out, err := pages.Parse(assets, funcs)
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	return out, nil
}

// render writes a page. It renders into a buffer first so that a template
// error becomes a clean 500 rather than half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, page, title string, data any) {
	v := view{Title: title, Prefix: h.cfg.Prefix, Project: projectFrom(r), D: data, Nav: navOf(page), key: keyOf(r)}
	if p := principalFrom(r); p != nil {
		v.LoggedIn = true
		v.Admin = p.Admin
		v.CSRF = h.csrfToken(p)
	}
	v.Flash = h.takeFlash(w, r)
	var buf bytes.Buffer
	t := h.pages[page]
	if t == nil {
		h.cfg.Logger.Error("ui: no such template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		h.cfg.Logger.Error("ui: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Pages show delivery payloads and, once, secrets: keep them out of caches.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func navOf(page string) string {
	switch {
	case strings.HasPrefix(page, "endpoint"):
		return "endpoints"
	case page == "events", page == "event", page == "delivery":
		return "events"
	case page == "event_types":
		return "event-types"
	}
	return page
}

// path builds an escaped dashboard path: path("p", id, "endpoints").
func (h *handler) path(parts ...string) string {
	var b strings.Builder
	b.WriteString(h.cfg.Prefix)
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in " + roundDur(-d)
	case d < 5*time.Second:
		return "just now"
	}
	return roundDur(d) + " ago"
}

func roundDur(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// prettyJSON indents JSON for display; text that is not JSON is shown as is.
func prettyJSON(v any) string {
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	case string:
		raw = []byte(x)
	default:
		b, err := json.MarshalIndent(x, "", "  ")
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return string(raw)
	}
	return out.String()
}

type kv struct{ K, V string }

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

// badgeClass maps a state to a badge colour.
func badgeClass(state string) string {
	switch state {
	case herald.EndpointHealthy, herald.DeliverySucceeded, "ok":
		return "badge ok"
	case herald.EndpointFailing, herald.DeliveryPending, herald.DeliveryInFlight:
		return "badge warn"
	case herald.EndpointDisabled, herald.DeliveryExhausted, "error":
		return "badge bad"
	}
	return "badge muted"
}

// endpointState is the badge of an endpoint: what an operator needs first
// about whether it receives events now.
type endpointState struct {
	Label, Class, Title string
}

// stateOf says disabled, scheduled (its validity period has not begun),
// expired (it has ended) or else its health: outside its period an
// endpoint receives nothing, however healthy it was.
func stateOf(ep *herald.Endpoint, now time.Time) endpointState {
	switch {
	case !ep.Enabled:
		return endpointState{Label: herald.EndpointDisabled, Class: "badge bad", Title: ep.DisabledReason}
	case ep.ActiveFrom != nil && now.Before(*ep.ActiveFrom):
		return endpointState{Label: "scheduled", Class: "badge muted", Title: "receives events from " + formatTime(*ep.ActiveFrom) + " UTC"}
	case ep.ActiveUntil != nil && !now.Before(*ep.ActiveUntil):
		return endpointState{Label: "expired", Class: "badge muted", Title: "received events until " + formatTime(*ep.ActiveUntil) + " UTC"}
	}
	return endpointState{Label: ep.Status, Class: badgeClass(ep.Status)}
}
