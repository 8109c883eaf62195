package netguard_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/herald-dev/herald/internal/netguard"
	"github.com/stretchr/testify/require"
)

// refused are URLs whose host is, or stands for, a non-public address.
var refused = []string{
	"http://127.0.0.1/",
	"http://127.8.9.10:8080/hook",
	"http://10.1.2.3/",
	"http://172.16.0.1/",
	"http://172.31.255.255/",
	"http://192.168.1.1/",
	"http://169.254.169.254/latest/meta-data/",
	"http://100.64.0.1/",
	"http://100.127.255.254/",
	"http://0.0.0.0/",
	"http://224.0.0.1/",
	"http://255.255.255.255/",
	"http://[::1]/",
	"http://[::]/",
	"http://[fc00::1]/",
	"http://[fd12:3456::1]/",
	"http://[fe80::1]/",
	"http://[fe80::1%25eth0]/",
	"http://[ff02::1]/",
	"http://[::ffff:127.0.0.1]/",
	"http://[::ffff:169.254.169.254]/",
	"http://[::ffff:10.0.0.1]/",
	"http://[64:ff9b::7f00:1]/", // NAT64 of 127.0.0.1
	"http://localhost/",
	"http://LOCALHOST:3000/",
	"http://localhost./",
	"http://api.localhost/",
	"http://127.0.0.1./",
	"http://2130706433/", // 127.0.0.1 as one number
	"http://0x7f.1/",
	"http://0x7f000001/",
	"http://017700000001/",
	"http://127.1/",
	"http://127.000.000.001/",
	"http://0xa9.0xfe.0xa9.0xfe/", // 169.254.169.254
}

func TestCheckURLAllowsPublicTargets(t *testing.T) {
	t.Parallel()
	g := netguard.New(false, nil)
	for _, u := range []string{
		"https://93.184.216.34/webhooks",
		"http://93.184.216.34:8080/",
		"https://example.com/hooks?x=1",
		"https://hooks.example.com:8443/a/b#frag",
		"http://[2606:2800:220:1:248:1893:25c8:1946]/",
		"https://localhost.example.com/", // only localhost itself and *.localhost are special
		"HTTPS://EXAMPLE.COM/",
	} {
		require.NoError(t, g.CheckURL(u), u)
	}
}

func TestCheckURLRefusesNonPublicAddresses(t *testing.T) {
	t.Parallel()
	g := netguard.New(false, nil)
	for _, u := range refused {
		err := g.CheckURL(u)
		require.Error(t, err, u)
		require.True(t, netguard.IsBlocked(err), u)
		require.True(t, strings.HasPrefix(err.Error(), "url: private, loopback and link-local addresses are not allowed ("), err.Error())
	}
	require.EqualError(t, g.CheckURL("http://127.0.0.1/"), "url: private, loopback and link-local addresses are not allowed (127.0.0.1)")
	require.EqualError(t, g.CheckURL("http://0x7f.1/"), "url: private, loopback and link-local addresses are not allowed (127.0.0.1)")
}

func TestCheckURLAllowPrivateLiftsTheRefusal(t *testing.T) {
	t.Parallel()
	g := netguard.New(true, nil)
	for _, u := range refused {
		require.NoError(t, g.CheckURL(u), u)
	}
}

func TestCheckURLAllowedPrefixesLiftOnlyTheirRanges(t *testing.T) {
	t.Parallel()
	g := netguard.New(false, []netip.Prefix{
		netip.MustParsePrefix("10.20.0.0/16"),
		netip.MustParsePrefix("fd00:1::/32"),
		netip.MustParsePrefix("::ffff:192.168.7.0/120"), // mapped form counts as 192.168.7.0/24
	})
	for _, u := range []string{"http://10.20.3.4/", "http://[fd00:1::5]/", "http://192.168.7.9/", "http://[::ffff:10.20.0.1]/"} {
		require.NoError(t, g.CheckURL(u), u)
	}
	for _, u := range []string{"http://10.21.0.1/", "http://[fd00:2::5]/", "http://192.168.8.1/", "http://127.0.0.1/", "http://localhost/"} {
		require.True(t, netguard.IsBlocked(g.CheckURL(u)), u)
	}

	loop := netguard.New(false, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	require.NoError(t, loop.CheckURL("http://localhost:8080/"))
	require.NoError(t, loop.CheckURL("http://127.0.0.1:8080/"))
	require.True(t, netguard.IsBlocked(loop.CheckURL("http://[::1]:8080/")))
}

func TestCheckURLRefusesMalformedURLs(t *testing.T) {
	t.Parallel()
	g := netguard.New(true, nil)
	cases := map[string]string{
		"":                                     "url: required",
		"ftp://example.com/":                   "url: scheme must be http or https",
		"file:///etc/passwd":                   "url: scheme must be http or https",
		"gopher://127.0.0.1:6379/":             "url: scheme must be http or https",
		"example.com/hook":                     "url: scheme must be http or https",
		"http://":                              "url: host is missing",
		"http:///path":                         "url: host is missing",
		"http:example.com":                     "url: host is missing",
		"http://:8080/":                        "url: host is missing",
		"http://user:pw@example.com/":          "url: credentials in the URL are not allowed; use the endpoint's auth",
		"http://example.com:99999/":            `url: invalid port "99999"`,
		"http://example.com:0/":                `url: invalid port "0"`,
		"http://exa mple.com/":                 "url: not a valid URL: invalid character \" \" in host name",
		"http://example.com/\x7f":              "url: not a valid URL: net/url: invalid control character in URL",
		"https://" + strings.Repeat("a", 2048): "url: longer than 2048 characters",
	}
	for raw, want := range cases {
		require.EqualError(t, g.CheckURL(raw), want, raw)
	}
}

// get sends one request through the guard's transport to target, with the
// test server's port.
func get(t *testing.T, g *netguard.Guard, target string) (int, error) {
	t.Helper()
	c := &http.Client{Transport: g.Transport()}
	defer c.CloseIdleConnections()
	resp, err := c.Get(target)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func server(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTransportRefusesLoopbackAtDialTime(t *testing.T) {
	t.Parallel()
	srv := server(t)
	_, err := get(t, netguard.New(false, nil), srv.URL)
	require.Error(t, err)
	require.True(t, netguard.IsBlocked(err), "%v", err)
}

func TestTransportRefusesNamesResolvingToLoopback(t *testing.T) {
	t.Parallel()
	srv := server(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// The name is not an IP literal: only the dial-time check can see
	// where it leads.
	_, err := get(t, netguard.New(false, nil), "http://localhost:"+port+"/")
	require.Error(t, err)
	require.True(t, netguard.IsBlocked(err), "%v", err)
}

func TestTransportAllowPrivateReachesLoopback(t *testing.T) {
	t.Parallel()
	srv := server(t)
	status, err := get(t, netguard.New(true, nil), srv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
}

func TestTransportAllowedPrefixReachesLoopback(t *testing.T) {
	t.Parallel()
	srv := server(t)
	status, err := get(t, netguard.New(false, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}), srv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)

	_, err = get(t, netguard.New(false, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}), srv.URL)
	require.True(t, netguard.IsBlocked(err), "%v", err)
}

func TestTransportRefusesOverTLSToo(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(srv.Close)
	_, err := get(t, netguard.New(false, nil), srv.URL)
	require.True(t, netguard.IsBlocked(err), "%v", err)

	// Allowed, it speaks HTTP/2 with a receiver that offers it.
	srv2 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Proto)
	}))
	srv2.EnableHTTP2 = true
	srv2.StartTLS()
	t.Cleanup(srv2.Close)
	tr := netguard.New(true, nil).Transport()
	tr.TLSClientConfig.RootCAs = srv2.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c := &http.Client{Transport: tr}
	resp, err := c.Get(srv2.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, "HTTP/2.0", string(body))
}

func TestTransportIgnoresProxyEnvironment(t *testing.T) {
	// Not parallel: t.Setenv changes the process environment.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	proxy := "http://" + closed.Addr().String()
	require.NoError(t, closed.Close())
	t.Setenv("HTTP_PROXY", proxy)
	t.Setenv("HTTPS_PROXY", proxy)
	t.Setenv("NO_PROXY", "")

	srv := server(t)
	g := netguard.New(true, nil)
	// The transport must not consult the environment at all (the standard
	// library also skips proxies for loopback targets, so the field is
	// what proves it for public targets).
	require.Nil(t, g.Transport().Proxy)
	status, err := get(t, g, srv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
}

// FuzzCheckURL feeds arbitrary strings to CheckURL: it must not panic, and
// what it accepts must be an http(s) URL with a host that is not a blocked
// IP literal.
func FuzzCheckURL(f *testing.F) {
	for _, s := range append([]string{"https://example.com/hook", "http://93.184.216.34:8080/"}, refused[:8]...) {
		f.Add(s)
	}
	g := netguard.New(false, nil)
	f.Fuzz(func(t *testing.T, raw string) {
		err := g.CheckURL(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "url: ") {
				t.Fatalf("%q: error without the url prefix: %v", raw, err)
			}
			return
		}
		if !strings.HasPrefix(strings.ToLower(raw), "http://") && !strings.HasPrefix(strings.ToLower(raw), "https://") {
			t.Fatalf("%q accepted without an http(s) scheme", raw)
		}
		for _, r := range refused {
			if raw == r {
				t.Fatalf("%q accepted", raw)
			}
		}
	})
}
