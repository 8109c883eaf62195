package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Cookie names and the session's lifetime.
const (
	sessionCookie = "herald_session"
	flashCookie   = "herald_flash"
	sessionTTL    = 12 * time.Hour
)

// sessionClaims is the signed content of the session cookie: who, until
// when, and a random id the CSRF token derives from. The API key is never
// in it.
type sessionClaims struct {
	ProjectID string `json:"p,omitempty"`
	Admin     bool   `json:"a,omitempty"`
	Expires   int64  `json:"e"`
	ID        string `json:"n"`
}

func (h *handler) mac(purpose string, msg []byte) []byte {
	m := hmac.New(sha256.New, h.secret)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(msg)
	return m.Sum(nil)
}

// sign returns base64(msg).base64(HMAC(purpose, msg)); the purpose keeps a
// flash cookie from passing for a session.
func (h *handler) sign(purpose string, msg []byte) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString(msg) + "." + enc.EncodeToString(h.mac(purpose, msg))
}

func (h *handler) verify(purpose, value string) ([]byte, bool) {
	enc := base64.RawURLEncoding
	body, sig, ok := strings.Cut(value, ".")
	if !ok {
		return nil, false
	}
	msg, err1 := enc.DecodeString(body)
	got, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(got, h.mac(purpose, msg)) {
		return nil, false
	}
	return msg, true
}

func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (h *handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: h.cfg.Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(r),
	})
}

func (h *handler) startSession(w http.ResponseWriter, r *http.Request, projectID string, admin bool) {
	id := make([]byte, 16)
	rand.Read(id)
	c := sessionClaims{ProjectID: projectID, Admin: admin, Expires: h.cfg.Now().Add(sessionTTL).Unix(),
		ID: base64.RawURLEncoding.EncodeToString(id)}
	b, _ := json.Marshal(c)
	h.setCookie(w, r, sessionCookie, h.sign("session", b), int(sessionTTL/time.Second))
}

// readSession returns the session's principal, or nil when there is no
// valid, unexpired session cookie.
func (h *handler) readSession(r *http.Request) *principal {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	msg, ok := h.verify("session", ck.Value)
	if !ok {
		return nil
	}
	var c sessionClaims
	if json.Unmarshal(msg, &c) != nil || c.ID == "" || (!c.Admin && c.ProjectID == "") {
		return nil
	}
	exp := time.Unix(c.Expires, 0)
	if !h.cfg.Now().Before(exp) {
		return nil
	}
	return &principal{ProjectID: c.ProjectID, Admin: c.Admin, SessionID: c.ID, Expires: exp}
}

// csrfToken is HMAC(secret, session id): it needs no storage and changes
// with every session.
func (h *handler) csrfToken(p *principal) string {
	return base64.RawURLEncoding.EncodeToString(h.mac("csrf", []byte(p.SessionID)))
}

func (h *handler) validCSRF(p *principal, token string) bool {
	got, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || token == "" {
		return false
	}
	return hmac.Equal(got, h.mac("csrf", []byte(p.SessionID)))
}

// sameOrigin refuses POSTs that a browser marks as coming from another
// site. Headers that are absent (old browsers, scripts) do not refuse: the
// CSRF token and SameSite=Strict still apply.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || o == "null" {
			return false
		}
		host := r.Host
		if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
			host = fh
		}
		if !strings.EqualFold(u.Host, host) {
			return false
		}
	}
	return true
}

// setFlash leaves a one-time message for the next page (after a redirect).
func (h *handler) setFlash(w http.ResponseWriter, r *http.Request, msg string) {
	h.setCookie(w, r, flashCookie, h.sign("flash", []byte(msg)), 60)
}

// flashTo ends a form's POST: a 303 to the page at path parts, which
// shows msg.
func (h *handler) flashTo(w http.ResponseWriter, r *http.Request, msg string, parts ...string) {
	h.setFlash(w, r, msg)
	http.Redirect(w, r, h.path(parts...), http.StatusSeeOther)
}

// takeFlash returns the pending message and clears it.
func (h *handler) takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	h.setCookie(w, r, flashCookie, "", -1)
	msg, ok := h.verify("flash", ck.Value)
	if !ok {
		return ""
	}
	return string(msg)
}

type loginData struct {
	Next  string
	Error string
}

func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if p := h.readSession(r); p != nil {
		h.home(w, r)
		return
	}
	h.render(w, r, http.StatusOK, "login", "Log in", loginData{Next: safeNext(h.cfg.Prefix, r.URL.Query().Get("next"))})
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	// No session yet, so no token: login CSRF is stopped by the origin
	// check (and a forged login only logs the victim into the attacker's
	// project, which the token-less form cannot do across sites anyway).
	if !h.parseForm(w, r) {
		return
	}
	if !sameOrigin(r) {
		h.errorPage(w, r, http.StatusForbidden, "Cross-site request refused.")
		return
	}
	key := strings.TrimSpace(r.PostFormValue("key"))
	next := safeNext(h.cfg.Prefix, r.PostFormValue("next"))
	if key == "" {
		h.render(w, r, http.StatusUnprocessableEntity, "login", "Log in", loginData{Next: next, Error: "Paste an API key."})
		return
	}
	projectID, admin, err := h.cfg.Authenticate(r.Context(), key)
	if err != nil || (!admin && projectID == "") {
		h.render(w, r, http.StatusUnauthorized, "login", "Log in", loginData{Next: next, Error: "This key is not valid."})
		return
	}
	h.startSession(w, r, projectID, admin)
	switch {
	case next != "":
		http.Redirect(w, r, next, http.StatusSeeOther)
	case admin:
		http.Redirect(w, r, h.path("projects"), http.StatusSeeOther)
	default:
		http.Redirect(w, r, h.path("p", projectID, "endpoints"), http.StatusSeeOther)
	}
}

// safeNext accepts only a path inside the dashboard, so the login page
// cannot be used to redirect elsewhere.
func safeNext(prefix, next string) string {
	if !strings.HasPrefix(next, prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return next
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	h.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, h.path("login"), http.StatusSeeOther)
}
