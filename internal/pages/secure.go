package pages

import (
	"net/http"
	"strings"
)

// Secure reports whether the browser reached r over TLS: directly, or
// through a proxy that says so in X-Forwarded-Proto. Cookies are then
// Secure, and links to the pages are https.
func Secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
