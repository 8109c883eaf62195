// Package portal is Herald's customer portal: the pages at /portal/ where
// one customer of a product (a tenant) manages its own endpoints, reads the
// event catalog and its delivery logs, through a link the product mints
// (POST /v1/projects/{project}/portal-sessions).
//
// It is a transport over internal/service like the API and the dashboard:
// every rule (the tenant's scope, read-only sessions, the session's event
// types, the endpoint's own rules) is the service's; the pages decode forms
// and render answers. Pages are html/template with an embedded stylesheet,
// no script and no external asset.
//
// Opening a link (/portal/s/<token>) stores the token in an HttpOnly
// cookie limited to /portal/ and redirects to a clean URL, so the token
// does not stay in the browser's history. Every page answers with
// Cache-Control: no-store, Referrer-Policy: no-referrer and a
// Content-Security-Policy whose frame-ancestors are the project's allowed
// origins; every form carries a CSRF token derived from the session.
package portal

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/pages"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Prefix is where the portal is mounted; portal links point below it
// (service.PortalLinkPath).
const Prefix = "/portal"

// CookieName is the portal session's cookie; its value is the link's
// token, sent only to Prefix.
const CookieName = "herald_portal"

const flashCookie = "herald_portal_flash"

// Config configures the portal.
type Config struct {
	// Service runs every use case; required.
	Service *service.Service
	// Store serves the reads that apply no rule (an endpoint's stats and
	// recent attempts), always after the service has scoped the endpoint
	// to the session's tenant; required.
	Store store.Store
	// Now is the clock of the pages; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

type handler struct {
	cfg   Config
	svc   *service.Service
	st    store.Store
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New returns the portal handler; mount it at Prefix+"/" without
// stripping the prefix.
func New(cfg Config) (http.Handler, error) {
	if cfg.Service == nil || cfg.Store == nil {
		return nil, errors.New("portal: Config.Service and Config.Store are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &handler{cfg: cfg, svc: cfg.Service, st: cfg.Store}
	var err error
	if h.pages, err = parseTemplates(); err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	m.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/static/", http.FileServerFS(static)))
	m.HandleFunc("GET "+service.PortalLinkPath+"{token}", h.open)
	m.HandleFunc("GET "+Prefix+"/{$}", h.session(func(w http.ResponseWriter, r *http.Request, s *sess) {
		http.Redirect(w, r, Prefix+"/endpoints", http.StatusSeeOther)
	}))
	m.HandleFunc("GET "+Prefix+"/brand.css", h.session(h.brandCSS))
	m.HandleFunc("GET "+Prefix+"/endpoints", h.session(h.endpointList))
	m.HandleFunc("GET "+Prefix+"/endpoints/new", h.session(h.endpointNew))
	m.HandleFunc("POST "+Prefix+"/endpoints/new", h.change(h.endpointCreate))
	m.HandleFunc("GET "+Prefix+"/endpoints/{id}", h.session(h.endpointDetail))
	m.HandleFunc("GET "+Prefix+"/endpoints/{id}/edit", h.session(h.endpointEdit))
	m.HandleFunc("POST "+Prefix+"/endpoints/{id}/edit", h.change(h.endpointUpdate))
	m.HandleFunc("POST "+Prefix+"/endpoints/{id}/delete", h.change(h.endpointDelete))
	m.HandleFunc("POST "+Prefix+"/endpoints/{id}/rotate", h.change(h.endpointRotate))
	m.HandleFunc("POST "+Prefix+"/endpoints/{id}/test", h.change(h.endpointTest))
	m.HandleFunc("POST "+Prefix+"/endpoints/{id}/recover", h.change(h.endpointRecover))
	m.HandleFunc("GET "+Prefix+"/catalog", h.session(h.catalog))
	m.HandleFunc("GET "+Prefix+"/logs", h.session(h.logs))
	m.HandleFunc("GET "+Prefix+"/deliveries/{id}", h.session(h.deliveryDetail))
	m.HandleFunc("POST "+Prefix+"/deliveries/{id}/retry", h.change(h.deliveryRetry))
	h.mux = m
	return h, nil
}

// ServeHTTP sets the headers every answer carries, then routes. The
// frame-ancestors of a page of a session are set again once its project
// is known (withBrand).
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", csp(nil))
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.errorPage(w, r, nil, http.StatusNotFound, "not_found_title", "not_found_text")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// csp is the pages' Content-Security-Policy: no script at all, styles and
// images from the portal (and the project's logo), framing by the allowed
// origins only.
func csp(brand *herald.PortalSettings) string {
	ancestors := "'self'"
	img := "'self'"
	if brand != nil {
		for _, o := range brand.AllowedOrigins {
			ancestors += " " + o
		}
		if u, err := url.Parse(brand.LogoURL); err == nil && brand.LogoURL != "" {
			img += " " + u.Scheme + "://" + u.Host
		}
	}
	return "default-src 'none'; style-src 'self'; img-src " + img + "; form-action 'self'; base-uri 'none'; frame-ancestors " + ancestors
}

// sess is a request's portal session, resolved from its cookie.
type sess struct {
	ps     *herald.PortalSession
	brand  *herald.PortalSettings
	locale string
	csrf   string
}

func csrfOf(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("herald portal csrf"))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// ExpiredNotice is how long after its session's expiry the portal's
// cookie is kept, during which its pages say that the link expired.
const ExpiredNotice = 7 * 24 * time.Hour

// open takes a portal link: the token goes into the cookie and the browser
// to a clean URL.
func (h *handler) open(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	ps, err := h.svc.PortalSession(r.Context(), token)
	if err != nil {
		h.sessionError(w, r, ps, err)
		return
	}
	// The cookie outlives the session by ExpiredNotice, so that a page
	// opened after expires_at still brings the token and can say the link
	// expired (a browser that dropped it would get "not valid").
	http.SetCookie(w, cookie(r, CookieName, token, int((time.Until(ps.ExpiresAt)+ExpiredNotice).Seconds())+1))
	http.Redirect(w, r, Prefix+"/endpoints", http.StatusSeeOther)
}

// cookie is a portal cookie: the session's, or the flash message's that a
// POST leaves for the page it redirects to. Over TLS it is SameSite=None, Secure and
// Partitioned, so that the portal works in an iframe of the product's
// site; over plain HTTP (a local setup) SameSite=Lax.
func cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: Prefix + "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
	if pages.Secure(r) {
		c.Secure, c.SameSite, c.Partitioned = true, http.SameSiteNoneMode, true
	}
	return c
}

type sessionKey struct{}

// session resolves the cookie's session, or answers 401.
func (h *handler) session(next func(http.ResponseWriter, *http.Request, *sess)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(CookieName)
		if err != nil {
			h.sessionError(w, r, nil, service.ErrPortalSessionUnknown)
			return
		}
		ps, err := h.svc.PortalSession(r.Context(), c.Value)
		if err != nil {
			h.sessionError(w, r, ps, err)
			return
		}
		s := &sess{ps: ps, locale: pickLocale(ps.Locale, r.Header.Get("Accept-Language")), csrf: csrfOf(c.Value)}
		if s.brand, err = h.svc.PortalSettings(r.Context(), ps.ProjectID); err != nil {
			h.internal(w, r, s, err)
			return
		}
		w.Header().Set("Content-Security-Policy", csp(s.brand))
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)), s)
	}
}

// change is session for a POST that changes something: a read-only
// session gets 403, and the form must carry the session's CSRF token.
func (h *handler) change(next func(http.ResponseWriter, *http.Request, *sess)) http.HandlerFunc {
	return h.session(func(w http.ResponseWriter, r *http.Request, s *sess) {
		r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
		if s.ps.ReadOnly {
			h.errorPage(w, r, s, http.StatusForbidden, "forbidden_title", "read_only_text")
			return
		}
		if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) {
			h.errorPage(w, r, s, http.StatusForbidden, "forbidden_title", "csrf_text")
			return
		}
		next(w, r, s)
	})
}

// sessionError answers a link or cookie that opens nothing: 401, saying
// whether the link expired.
func (h *handler) sessionError(w http.ResponseWriter, r *http.Request, ps *herald.PortalSession, err error) {
	var s *sess
	if ps != nil {
		s = &sess{ps: ps, locale: pickLocale(ps.Locale, r.Header.Get("Accept-Language"))}
		if brand, err := h.svc.PortalSettings(r.Context(), ps.ProjectID); err == nil {
			s.brand = brand
			w.Header().Set("Content-Security-Policy", csp(brand))
		}
	}
	switch {
	case errors.Is(err, service.ErrPortalSessionExpired):
		h.errorPage(w, r, s, http.StatusUnauthorized, "expired_title", "expired_text")
	case errors.Is(err, service.ErrPortalSessionUnknown):
		http.SetCookie(w, cookie(r, CookieName, "", -1))
		h.errorPage(w, r, s, http.StatusUnauthorized, "invalid_title", "invalid_text")
	default:
		h.internal(w, r, s, err)
	}
}

// view is what every template gets.
type view struct {
	translator
	Title    string
	Brand    *herald.PortalSettings
	LoggedIn bool
	ReadOnly bool
	TenantID string
	CSRF     string
	Flash    string
	Nav      string
	D        any
}

func parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"time": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05")
		},
		"ptime": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05")
		},
		"json": prettyJSON,
		"percent": func(f float64) string {
			return strings.TrimSuffix(strings.TrimRight(strings.TrimRight(formatFloat(f*100), "0"), "."), ".") + "%"
		},
		"esc":    url.PathEscape,
		"q":      url.QueryEscape,
		"badge":  badge,
		"has":    func(list []string, s string) bool { return contains(list, s) },
		"join":   strings.Join,
		"accent": func(b *herald.PortalSettings) string { return accentOf(b) },
		"itoa":   func(n int) string { return formatInt(n) },
	}
	return pages.Parse(assets, funcs)
}

// render writes a page, with the flash message the previous POST left.
func (h *handler) render(w http.ResponseWriter, r *http.Request, s *sess, status int, page, titleKey string, data any) {
	v := view{translator: translator{"en"}, D: data, Nav: page}
	if s != nil {
		v.translator = translator{s.locale}
		v.Brand = s.brand
		if s.csrf != "" {
			v.LoggedIn, v.ReadOnly, v.TenantID, v.CSRF = true, s.ps.ReadOnly, s.ps.TenantID, s.csrf
		}
	} else {
		v.translator = translator{pickLocale("", r.Header.Get("Accept-Language"))}
	}
	if v.Brand == nil {
		v.Brand = &herald.PortalSettings{}
	}
	v.Title = v.T(titleKey)
	if c, err := r.Cookie(flashCookie); err == nil && v.LoggedIn {
		if msg, err := url.QueryUnescape(c.Value); err == nil {
			v.Flash = msg
		}
		http.SetCookie(w, cookie(r, flashCookie, "", -1))
	}
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.cfg.Logger.Error("portal: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// redirect ends a POST: to target, showing msg there.
func (h *handler) redirect(w http.ResponseWriter, r *http.Request, target, msg string) {
	if msg != "" {
		http.SetCookie(w, cookie(r, flashCookie, url.QueryEscape(msg), 0))
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

type errorData struct{ Heading, Text string }

func (h *handler) errorPage(w http.ResponseWriter, r *http.Request, s *sess, status int, titleKey, textKey string) {
	tr := translator{pickLocale("", r.Header.Get("Accept-Language"))}
	if s != nil {
		tr = translator{s.locale}
	}
	h.render(w, r, s, status, "error", titleKey, errorData{tr.T(titleKey), tr.T(textKey)})
}

func (h *handler) internal(w http.ResponseWriter, r *http.Request, s *sess, err error) {
	h.cfg.Logger.ErrorContext(r.Context(), "portal: internal error", "path", r.URL.Path, "err", err)
	h.errorPage(w, r, s, http.StatusInternalServerError, "error_title", "error_text")
}

// failed answers a service error that no form shows: 404 for what is
// missing or another tenant's, 403 for a read-only session, 400 for
// invalid input, 500 otherwise.
func (h *handler) failed(w http.ResponseWriter, r *http.Request, s *sess, err error) {
	var he *herald.Error
	switch {
	case errors.Is(err, service.ErrPortalReadOnly):
		h.errorPage(w, r, s, http.StatusForbidden, "forbidden_title", "read_only_text")
	case herald.IsNotFound(err):
		h.errorPage(w, r, s, http.StatusNotFound, "not_found_title", "not_found_text")
	case errors.As(err, &he) && he.Code == herald.EINVALID:
		h.render(w, r, s, http.StatusBadRequest, "error", "bad_request", errorData{translator{s.locale}.T("bad_request"), he.Error()})
	default:
		h.internal(w, r, s, err)
	}
}

// brandCSS is the project's accent colour as a stylesheet (the pages'
// policy allows no inline style).
func (h *handler) brandCSS(w http.ResponseWriter, r *http.Request, s *sess) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Write([]byte(":root{--accent:" + accentOf(s.brand) + "}\n"))
}
