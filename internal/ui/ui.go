// Package ui is Herald's dashboard: server-rendered pages at /ui/ for an
// operator to manage endpoints and event types and to read the event log,
// with every attempt of every delivery.
//
// Pages are html/template, embedded with their stylesheet; there is no build
// step and no external asset, and every page works without JavaScript. A
// session is a signed cookie naming the principal (a project or the admin)
// and the id of the API key it was opened with, never the key itself; each
// request checks that the key still exists, so revoking it ends the
// session, and that the session was not logged out (a logout is recorded
// in the store, for every process). Every POST carries a CSRF token
// derived from the session.
package ui

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/api"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// PrefixDefault is where the dashboard is mounted.
const PrefixDefault = "/ui"

// SettingSessionSecret is the store setting holding the key that signs
// session cookies, shared by every process on one database.
const SettingSessionSecret = "ui_session_secret"

// Config configures the dashboard.
type Config struct {
	// Store is the database, which the pages read.
	Store store.Store
	// Service runs every change (the API's own, so that both apply the
	// same rules) and authenticates the key typed on the login page.
	Service *service.Service
	// AdminKeyHash is herald.HashKey of the admin key, as the API has it.
	// An admin session lasts only while this is the hash of the key it was
	// opened with (a new admin key ends the sessions of the old one). Empty:
	// the admin key cannot log in to the dashboard.
	AdminKeyHash string
	// Prefix is the path the handler is mounted at; default PrefixDefault.
	Prefix string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Store == nil {
		return errors.New("ui: Config.Store is required")
	}
	if c.Service == nil {
		return errors.New("ui: Config.Service is required")
	}
	if c.Prefix == "" {
		c.Prefix = PrefixDefault
	}
	c.Prefix = "/" + strings.Trim(c.Prefix, "/")
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// handler serves the dashboard.
type handler struct {
	cfg    Config
	st     store.Store
	svc    *service.Service
	secret []byte
	// adminID is adminKeyID(Config.AdminKeyHash), "" without one.
	adminID string
	logins  *loginLimiter
	pages   map[string]*template.Template
	mux     *http.ServeMux
}

// New returns the dashboard handler. It expects full request paths
// (Prefix/…), so mount it without stripping the prefix. It reads, or
// creates once, the session-signing secret in the store.
func New(cfg Config) (http.Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	random := make([]byte, 32)
	rand.Read(random)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	secret, err := cfg.Store.SetSettingIfAbsent(ctx, SettingSessionSecret, hex.EncodeToString(random))
	if err != nil {
		return nil, fmt.Errorf("ui: session secret: %w", err)
	}
	h := &handler{cfg: cfg, st: cfg.Store, svc: cfg.Service, secret: []byte(secret), logins: newLoginLimiter(cfg.Now)}
	if cfg.AdminKeyHash != "" {
		h.adminID = h.adminKeyID(cfg.AdminKeyHash)
	} else {
		cfg.Logger.Warn("ui: Config.AdminKeyHash is empty: the admin key cannot log in to the dashboard")
	}
	if h.pages, err = h.parseTemplates(); err != nil {
		return nil, err
	}
	h.routes()
	return h, nil
}

func (h *handler) routes() {
	p := h.cfg.Prefix
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	m.Handle("GET "+p+"/static/", http.StripPrefix(p+"/static/", staticHandler(static)))
	m.HandleFunc("GET "+p+"/{$}", h.home)
	m.HandleFunc("GET "+p+"/login", h.loginPage)
	m.HandleFunc("POST "+p+"/login", h.login)
	m.HandleFunc("POST "+p+"/logout", h.auth(h.logout))
	m.HandleFunc("GET "+p+"/projects", h.auth(h.projects))

	pp := p + "/p/{project}"
	m.HandleFunc("GET "+pp+"/{$}", h.project(h.projectHome))
	m.HandleFunc("GET "+pp+"/endpoints", h.project(h.endpointList))
	m.HandleFunc("GET "+pp+"/endpoints/new", h.project(h.endpointNew))
	m.HandleFunc("POST "+pp+"/endpoints/new", h.project(h.endpointCreate))
	m.HandleFunc("GET "+pp+"/endpoints/{id}", h.project(h.endpointDetail))
	m.HandleFunc("GET "+pp+"/endpoints/{id}/edit", h.project(h.endpointEdit))
	m.HandleFunc("POST "+pp+"/endpoints/{id}/edit", h.project(h.endpointUpdate))
	m.HandleFunc("POST "+pp+"/endpoints/{id}/test", h.project(h.endpointTest))
	m.HandleFunc("POST "+pp+"/endpoints/{id}/recover", h.project(h.endpointRecover))
	m.HandleFunc("POST "+pp+"/endpoints/{id}/secret", h.project(h.endpointSecret))
	m.HandleFunc("POST "+pp+"/endpoints/{id}/rotate", h.project(h.endpointRotate))
	m.HandleFunc("POST "+pp+"/endpoints/{id}/enable", h.project(h.endpointEnable))
	m.HandleFunc("POST "+pp+"/endpoints/{id}/disable", h.project(h.endpointDisable))
	m.HandleFunc("POST "+pp+"/endpoints/{id}/delete", h.project(h.endpointDelete))
	m.HandleFunc("GET "+pp+"/events", h.project(h.eventLog))
	m.HandleFunc("GET "+pp+"/events/{id}", h.project(h.eventDetail))
	m.HandleFunc("POST "+pp+"/events/{id}/replay", h.project(h.eventReplay))
	m.HandleFunc("GET "+pp+"/deliveries/{id}", h.project(h.deliveryDetail))
	m.HandleFunc("POST "+pp+"/deliveries/{id}/retry", h.project(h.deliveryRetry))
	m.HandleFunc("GET "+pp+"/event-types", h.project(h.eventTypes))
	m.HandleFunc("POST "+pp+"/event-types", h.project(h.eventTypeCreate))
	m.HandleFunc("POST "+pp+"/event-types/{name}/delete", h.project(h.eventTypeDelete))
	m.HandleFunc(p+"/", h.notFoundHandler)
	h.mux = m
}

func staticHandler(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// ServeHTTP sets the headers every page shares and routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// Only our own stylesheet and script; no framing, no form posts away.
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, formMaxBytes)
	}
	h.mux.ServeHTTP(w, r)
}

// formMaxBytes bounds a posted form, as the API bounds a request body.
const formMaxBytes = 1 << 20

// parseForm reads a posted form; a body over the limit is a 413 page, an
// unreadable one a 400.
func (h *handler) parseForm(w http.ResponseWriter, r *http.Request) bool {
	err := r.ParseForm()
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return true
	case errors.As(err, &tooLarge):
		h.errorPage(w, r, http.StatusRequestEntityTooLarge, "The form is too large (at most 1 MiB).")
	default:
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
	}
	return false
}

// principal is who a session belongs to.
type principal struct {
	ProjectID string // the project of a project key; "" for admin
	Admin     bool
	SessionID string
	Expires   time.Time
	// Key is what the session's key may do (its scopes and tenant), read
	// again at every request.
	Key service.Principal
}

type ctxKey int

const (
	ctxPrincipal ctxKey = iota
	ctxProject
)

func principalFrom(r *http.Request) *principal {
	p, _ := r.Context().Value(ctxPrincipal).(*principal)
	return p
}

func projectFrom(r *http.Request) *herald.Project {
	p, _ := r.Context().Value(ctxProject).(*herald.Project)
	return p
}

// auth requires a session whose key still exists; POSTs also need a valid
// CSRF token and a same-origin request.
func (h *handler) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.readSession(r)
		if p == nil {
			h.noSession(w, r, err, h.path("login")+"?next="+urlQueryEscape(r.URL.RequestURI()))
			return
		}
		if r.Method == http.MethodPost {
			if !h.parseForm(w, r) {
				return
			}
			if !sameOrigin(r) {
				h.errorPage(w, r, http.StatusForbidden, "Cross-site request refused.")
				return
			}
			if !h.validCSRF(p, r.PostFormValue("csrf")) {
				h.errorPage(w, r, http.StatusForbidden, "Missing or invalid form token. Reload the page and try again.")
				return
			}
		}
		ctx := service.WithPrincipal(context.WithValue(r.Context(), ctxPrincipal, p), p.Key)
		next(w, r.WithContext(ctx))
	}
}

// project is auth plus access to the {project} of the path: a project key
// sees only its own project, and any other is reported as not found, like
// the API does.
func (h *handler) project(next http.HandlerFunc) http.HandlerFunc {
	return h.auth(func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r)
		id := r.PathValue("project")
		if !p.Admin && id != p.ProjectID {
			h.notFound(w, r)
			return
		}
		if err := p.Key.Require(h.pageScope(r)); err != nil {
			h.storeError(w, r, err)
			return
		}
		prj, err := h.svc.Project(r.Context(), id)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxProject, prj)))
	})
}

func (h *handler) home(w http.ResponseWriter, r *http.Request) {
	p, err := h.readSession(r)
	switch {
	case p == nil:
		h.noSession(w, r, err, h.path("login"))
	case p.Admin:
		http.Redirect(w, r, h.path("projects"), http.StatusSeeOther)
	default:
		http.Redirect(w, r, h.path("p", p.ProjectID, "endpoints"), http.StatusSeeOther)
	}
}

func (h *handler) projectHome(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, h.path("p", projectFrom(r).ID, "endpoints"), http.StatusSeeOther)
}

type projectsData struct {
	Projects []*herald.Project
	Next     string
}

func (h *handler) projects(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r)
	if !p.Admin {
		http.Redirect(w, r, h.path("p", p.ProjectID, "endpoints"), http.StatusSeeOther)
		return
	}
	list, next, err := h.st.ListProjects(r.Context(), store.Page{Limit: 100, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "projects", "Projects", projectsData{Projects: list, Next: next})
}

func (h *handler) notFoundHandler(w http.ResponseWriter, r *http.Request) { h.notFound(w, r) }

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, http.StatusNotFound, "Nothing here: the page or the resource does not exist.")
}

// storeError shows a store error: not found is a 404 page, a herald
// error with another code its message, anything else an internal error
// whose details go to the log only.
func (h *handler) storeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *herald.Error
	switch {
	case herald.IsNotFound(err):
		h.notFound(w, r)
	case errors.As(err, &he) && he.Code != herald.EINTERNAL:
		h.errorPage(w, r, api.StatusOf(he.Code), he.Error())
	default:
		h.cfg.Logger.ErrorContext(r.Context(), "ui: request failed", "path", r.URL.Path, "err", err)
		h.errorPage(w, r, http.StatusInternalServerError, "Internal error.")
	}
}

// loadPathID loads the {id} resource of the request's project with get;
// false after an error page (a 404 when there is no such resource).
func loadPathID[T any](h *handler, w http.ResponseWriter, r *http.Request, get func(ctx context.Context, projectID, id string) (T, error)) (T, bool) {
	v, err := get(r.Context(), projectFrom(r).ID, r.PathValue("id"))
	if err != nil {
		h.storeError(w, r, err)
		return v, false
	}
	return v, true
}

type errorData struct {
	Status  int
	Message string
}

func (h *handler) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "error", http.StatusText(status), errorData{Status: status, Message: msg})
}
