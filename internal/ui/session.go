package ui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/pages"
	"github.com/herald-dev/herald/internal/service"
)

// Cookie names and the session's lifetime.
const (
	sessionCookie = "herald_session"
	flashCookie   = "herald_flash"
	sessionTTL    = 12 * time.Hour
)

// sessionClaims is the signed content of the session cookie: who, with
// which key, until when, and a random id the CSRF token derives from. The
// API key itself is never in it.
type sessionClaims struct {
	ProjectID string `json:"p,omitempty"`
	Admin     bool   `json:"a,omitempty"`
	// KeyID is the id of the project key the session was opened with, or
	// for the admin key (which has no id) adminKeyID of its hash: every
	// request checks that the key still exists.
	KeyID   string `json:"k"`
	Expires int64  `json:"e"`
	ID      string `json:"n"`
}

// errKeyRevoked: the session is signed and unexpired, but the key it was
// opened with is gone (revoked, its project deleted, the admin key
// replaced).
var errKeyRevoked = errors.New("ui: the session's API key no longer exists")

// keyRevokedMessage is what the visitor reads after errKeyRevoked.
const keyRevokedMessage = "Your session has ended: the API key you logged in with was revoked, replaced or expired, or its project deleted. Log in with a current key."

// adminKeyID stands for the admin key in a session: a MAC of its hash,
// so the cookie reveals nothing of the key and changes when the key does.
func (h *handler) adminKeyID(hash string) string {
	return "admin_" + base64.RawURLEncoding.EncodeToString(h.mac("admin-key", []byte(hash))[:16])
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

func (h *handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: h.cfg.Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: pages.Secure(r),
	})
}

func (h *handler) startSession(w http.ResponseWriter, r *http.Request, projectID string, admin bool, keyID string) {
	id := make([]byte, 16)
	rand.Read(id)
	c := sessionClaims{ProjectID: projectID, Admin: admin, KeyID: keyID, Expires: h.cfg.Now().Add(sessionTTL).Unix(),
		ID: base64.RawURLEncoding.EncodeToString(id)}
	b, _ := json.Marshal(c)
	h.setCookie(w, r, sessionCookie, h.sign("session", b), int(sessionTTL/time.Second))
}

// readSession returns the session's principal; nil and no error when
// there is no valid, unexpired session cookie (cookies from before sessions
// named their key are not valid); errKeyRevoked when the session's key no
// longer exists.
func (h *handler) readSession(r *http.Request) (*principal, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, nil
	}
	msg, ok := h.verify("session", ck.Value)
	if !ok {
		return nil, nil
	}
	var c sessionClaims
	if json.Unmarshal(msg, &c) != nil || c.ID == "" || c.KeyID == "" || (!c.Admin && c.ProjectID == "") {
		return nil, nil
	}
	exp := time.Unix(c.Expires, 0)
	if !h.cfg.Now().Before(exp) {
		return nil, nil
	}
	// A logout is recorded in the store, so that it ends the session in
	// every process at once, not only the cookie in one browser.
	if revoked, err := h.st.SessionRevoked(r.Context(), c.ID); err != nil || revoked {
		return nil, err
	}
	key, err := h.checkKey(r.Context(), &c)
	if err != nil {
		return nil, err
	}
	return &principal{ProjectID: c.ProjectID, Admin: c.Admin, SessionID: c.ID, Expires: exp, Key: key}, nil
}

// checkKey returns errKeyRevoked unless the session's key still exists
// and has not expired, and else what the key may do (its scopes and
// tenant, as they are now). A project key is looked up among its
// project's keys (ListAPIKeys is the store's only lookup by id; the API
// caps a project at 100 keys), so a deleted project, whose keys go with
// it, ends the session too.
func (h *handler) checkKey(ctx context.Context, c *sessionClaims) (service.Principal, error) {
	if c.Admin {
		if h.adminID == "" || c.KeyID != h.adminID {
			return service.Principal{}, errKeyRevoked
		}
		return service.Principal{Admin: true}, nil
	}
	keys, err := h.st.ListAPIKeys(ctx, c.ProjectID)
	if err != nil {
		return service.Principal{}, err
	}
	for _, k := range keys {
		if k.ID == c.KeyID {
			if k.Expired(h.cfg.Now()) {
				return service.Principal{}, errKeyRevoked
			}
			return service.Principal{ProjectID: k.ProjectID, KeyID: k.ID, Scopes: k.Scopes, TenantID: k.TenantID, ExpiresAt: k.ExpiresAt}, nil
		}
	}
	return service.Principal{}, errKeyRevoked
}

// noSession answers a request that needs a session and has none, or one
// whose key is gone: GETs go to loginURL (with the reason when the key is
// gone), other methods get a 401 page. A store error is an error page.
func (h *handler) noSession(w http.ResponseWriter, r *http.Request, err error, loginURL string) {
	msg := "Your session has ended. Log in again."
	switch {
	case errors.Is(err, errKeyRevoked):
		h.setCookie(w, r, sessionCookie, "", -1)
		msg = keyRevokedMessage
	case err != nil:
		h.storeError(w, r, err)
		return
	}
	if r.Method != http.MethodGet {
		h.errorPage(w, r, http.StatusUnauthorized, msg)
		return
	}
	if err != nil {
		h.setFlash(w, r, msg)
	}
	http.Redirect(w, r, loginURL, http.StatusSeeOther)
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
	p, err := h.readSession(r)
	if err != nil {
		// Back here, without the cookie, to show why.
		h.noSession(w, r, err, r.URL.RequestURI())
		return
	}
	if p != nil {
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
	// Failed attempts are limited per client network (loginLimiter).
	done, wait := h.logins.begin(r.RemoteAddr)
	if done == nil {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.render(w, r, http.StatusTooManyRequests, "login", "Log in", loginData{Next: next,
			Error: fmt.Sprintf("Too many failed logins from your address. Try again in %d s.", secs)})
		return
	}
	projectID, admin, keyID, err := h.authenticate(r.Context(), key)
	done(errors.Is(err, errKeyUnknown))
	switch {
	case errors.Is(err, errKeyUnknown):
		h.render(w, r, http.StatusUnauthorized, "login", "Log in", loginData{Next: next, Error: "This key is not valid."})
		return
	case errors.Is(err, errAdminUnchecked):
		h.cfg.Logger.ErrorContext(r.Context(), "ui: admin login refused: Config.AdminKeyHash is not the admin key's hash")
		h.render(w, r, http.StatusForbidden, "login", "Log in", loginData{Next: next, Error: "The admin key cannot open a dashboard session on this server: the dashboard is not configured with it."})
		return
	case err != nil:
		h.storeError(w, r, err)
		return
	}
	h.startSession(w, r, projectID, admin, keyID)
	switch {
	case next != "":
		http.Redirect(w, r, next, http.StatusSeeOther)
	case admin:
		http.Redirect(w, r, h.path("projects"), http.StatusSeeOther)
	default:
		http.Redirect(w, r, h.path("p", projectID, "endpoints"), http.StatusSeeOther)
	}
}

// errKeyUnknown: the service refused the key (unknown, revoked, or of no
// project).
var errKeyUnknown = errors.New("ui: unknown API key")

// errAdminUnchecked: the admin key authenticated, but it is not the key of
// Config.AdminKeyHash, so the dashboard could not tell when it is replaced;
// it opens no session rather than one that would outlive the key.
var errAdminUnchecked = errors.New("ui: admin key not in Config.AdminKeyHash")

// authenticate resolves a key typed on the login page into a session's
// principal and what the session names the key by (see
// sessionClaims.KeyID). Other errors than errKeyUnknown and
// errAdminUnchecked come from the store.
func (h *handler) authenticate(ctx context.Context, key string) (projectID string, admin bool, keyID string, err error) {
	hash := herald.HashKey(key)
	who, err := h.svc.AuthenticateHash(ctx, hash)
	switch {
	case herald.ErrorCode(err) == herald.EUNAUTHORIZED:
		return "", false, "", errKeyUnknown
	case err != nil:
		return "", false, "", err
	case who.Admin && (h.adminID == "" || h.adminKeyID(hash) != h.adminID):
		return "", false, "", errAdminUnchecked
	case who.Admin:
		return "", true, h.adminID, nil
	}
	return who.ProjectID, false, who.KeyID, nil
}

// safeNext accepts only a path inside the dashboard, so the login page
// cannot be used to redirect elsewhere.
func safeNext(prefix, next string) string {
	if !strings.HasPrefix(next, prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return next
}

// logout ends the session for good: its id is recorded as revoked until
// the cookie would have expired, so that a copy of the cookie opens no page
// and passes no CSRF check from now on.
func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r)
	if err := h.st.RevokeSession(r.Context(), p.SessionID, p.Expires); err != nil {
		h.storeError(w, r, err)
		return
	}
	h.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, h.path("login"), http.StatusSeeOther)
}
