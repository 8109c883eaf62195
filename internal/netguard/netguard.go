// Package netguard keeps deliveries from reaching the server's own network
// (SSRF protection). It checks endpoint URLs when they are saved, and it
// refuses loopback, private, link-local and other non-public addresses again
// at connect time, after DNS resolution, so that a public-looking name that
// resolves to 127.0.0.1 is refused too. The connect-time check is the one
// that matters; the save-time check gives the user an early, clear answer.
//
// Which addresses are non-public comes from code.dny.dev/ssrf: the IANA
// special-purpose registries for IPv4, and everything outside global
// unicast (plus its special-purpose blocks) for IPv6.
package netguard

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// ErrBlocked is the refusal of an address. Errors of CheckURL and of the
// Transport's dials wrap it; test with IsBlocked.
var ErrBlocked = errors.New("private, loopback and link-local addresses are not allowed")

// URLMaxLen is the longest URL CheckURL accepts.
const URLMaxLen = 2048

// Transport settings.
const (
	DialTimeout         = 10 * time.Second
	TLSHandshakeTimeout = 10 * time.Second
	IdleConnTimeout     = 90 * time.Second
	// MaxIdleConnsPerHost is high because one busy endpoint may take a
	// whole worker pool's worth of concurrent deliveries.
	MaxIdleConnsPerHost = 256
	// MaxResponseHeaderBytes bounds what a hostile receiver can make us read
	// before the body (whose size the engine bounds).
	MaxResponseHeaderBytes = 256 << 10
)

// Guard decides which addresses deliveries may reach. It is safe for
// concurrent use.
type Guard struct {
	allowPrivate bool
	allowed      []netip.Prefix
	deny         *ssrf.Guardian
}

// New returns a Guard. allowPrivate lifts every refusal (local development
// and tests); allowed lists ranges exempt from the refusal (IPv4-mapped IPv6
// prefixes count as their IPv4 equivalents).
func New(allowPrivate bool, allowed []netip.Prefix) *Guard {
	g := &Guard{
		allowPrivate: allowPrivate,
		// Ports and networks are not ours to restrict: receivers listen
		// on any port. Only the address matters.
		deny: ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork()),
	}
	for _, p := range allowed {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		g.allowed = append(g.allowed, p.Masked())
	}
	return g
}

// check returns a wrapped ErrBlocked when deliveries may not reach ip.
func (g *Guard) check(ip netip.Addr) error {
	if g.allowPrivate {
		return nil
	}
	// ::ffff:127.0.0.1 is 127.0.0.1 on the wire: judge it as IPv4.
	ip = ip.WithZone("").Unmap()
	for _, p := range g.allowed {
		if p.Contains(ip) {
			return nil
		}
	}
	if g.deny.SafeAddr(ip) != nil {
		return fmt.Errorf("%w (%s)", ErrBlocked, ip)
	}
	return nil
}

// CheckURL validates an endpoint URL when it is created or changed. Its
// errors are messages meant for the user, prefixed with "url: ". Host names
// are not resolved here (DNS can change); the Transport checks the address
// it actually connects to.
func (g *Guard) CheckURL(raw string) error {
	if len(raw) > URLMaxLen {
		return fmt.Errorf("url: longer than %d characters", URLMaxLen)
	}
	if raw == "" {
		return errors.New("url: required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("url: not a valid URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("url: scheme must be http or https")
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return errors.New("url: host is missing")
	}
	if u.User != nil {
		return errors.New("url: credentials in the URL are not allowed; use the endpoint's auth")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("url: invalid port %q", p)
		}
	}
	return g.checkHost(u.Hostname())
}

// checkHost refuses hosts that are, or stand for, blocked addresses.
func (g *Guard) checkHost(host string) error {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		// RFC 6761: localhost names always resolve to loopback.
		if g.check(netip.IPv6Loopback()) != nil && g.check(netip.AddrFrom4([4]byte{127, 0, 0, 1})) != nil {
			return fmt.Errorf("url: %w (%s)", ErrBlocked, host)
		}
		return nil
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		// Resolvers that follow inet_aton read 2130706433, 0x7f.1 and
		// 017700000001 as 127.0.0.1: judge such hosts by that reading.
		var ok bool
		if ip, ok = parseLegacyIPv4(h); !ok {
			return nil
		}
	}
	if err := g.check(ip); err != nil {
		return fmt.Errorf("url: %w", err)
	}
	return nil
}

// parseLegacyIPv4 parses the inet_aton forms of an IPv4 address: one to
// four dot-separated parts, each decimal, octal (leading 0) or hex (0x),
// the last part filling the remaining bytes.
func parseLegacyIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, p := range parts {
		base := 10
		switch {
		case p == "":
			return netip.Addr{}, false
		case strings.HasPrefix(p, "0x"):
			base, p = 16, p[2:]
			if p == "" {
				p = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals = append(vals, v)
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// control is the dialer's Control: it runs after DNS resolution, before
// connect, for every address tried.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w (unparsable address %q)", ErrBlocked, address)
	}
	return g.check(ap.Addr())
}

// Transport returns a new HTTP transport for deliveries: no proxy, and a
// dialer that refuses blocked addresses at connect time, for plain HTTP and
// TLS alike. HTTP/2 is used with https receivers that offer it. Redirects
// are the client's business (deliveries do not follow them).
func (g *Guard) Transport() *http.Transport {
	d := &net.Dialer{
		Timeout:   DialTimeout,
		KeepAlive: 30 * time.Second,
		Control:   g.control,
	}
	return &http.Transport{
		// Explicitly nil: an HTTP_PROXY in the server's environment would
		// otherwise carry requests past the dialer's check.
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    TLSHandshakeTimeout,
		MaxIdleConns:           4096,
		MaxIdleConnsPerHost:    MaxIdleConnsPerHost,
		IdleConnTimeout:        IdleConnTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
	}
}

// IsBlocked reports whether err is, or wraps, a refusal by a Guard.
func IsBlocked(err error) bool { return errors.Is(err, ErrBlocked) }
