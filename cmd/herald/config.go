package main

import (
	"cmp"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/delivery"
)

// Config is everything `herald serve` takes, from flags and HERALD_*
// environment variables (flags win).
type Config struct {
	Addr                 string
	Database             string
	AdminKey             string
	AllowPrivateNetworks bool
	AllowedNetworks      []netip.Prefix
	EncryptionKey        string
	Retention            time.Duration
	DisableAfter         time.Duration
	APIRateLimit         float64
	Workers              int
	DrainTimeout         time.Duration
	// ShutdownDelay is how long, after SIGTERM, the server keeps serving
	// with /readyz answering 503 before it closes its listener, so that a
	// load balancer stops sending it requests first.
	ShutdownDelay     time.Duration
	Lease             time.Duration
	ReadTimeout       time.Duration // a request, headers and body, must arrive within it; 0: ReadTimeoutDefault
	ReadHeaderTimeout time.Duration // a request's headers must arrive within it; 0: ReadHeaderTimeoutDefault
	Pprof             bool
	LogLevel          string
	LogFormat         string
	// PublicURL is the base URL of portal links; empty: the host a request
	// for a link came to.
	PublicURL string
}

// Defaults of Config.
const (
	AddrDefault     = "127.0.0.1:8080"
	DatabaseDefault = "sqlite:herald.db"
	// A client gets this long to send a request's headers, and its whole
	// request: one trickling a body (or headers) holds a connection and a
	// goroutine no longer than that.
	ReadTimeoutDefault       = 30 * time.Second
	ReadHeaderTimeoutDefault = 10 * time.Second
)

// DefaultConfig returns the configuration of a fresh `herald serve`.
func DefaultConfig() Config {
	return Config{
		Addr:         AddrDefault,
		Database:     DatabaseDefault,
		Retention:    delivery.RetentionDefault,
		DisableAfter: delivery.DisableAfterDefault,
		APIRateLimit: 1000,
		Workers:      delivery.WorkersDefault,
		DrainTimeout: delivery.DrainTimeoutDefault,
		Lease:        delivery.LeaseDefault,
		LogLevel:     "info",
		LogFormat:    "text",
	}
}

// bindFlags registers the flags on fs with the environment applied over the
// defaults, so that the flag's default shows what is in force.
func (c *Config) bindFlags(fs *flag.FlagSet, getenv func(string) string) error {
	var errs []string
	env := func(name string, apply func(string) error) {
		if v := getenv(name); v != "" {
			if err := apply(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q: %v", name, v, err))
			}
		}
	}
	env("HERALD_ADDR", func(v string) error { c.Addr = v; return nil })
	env("HERALD_DATABASE", func(v string) error { c.Database = v; return nil })
	env("HERALD_ADMIN_KEY", func(v string) error { c.AdminKey = v; return nil })
	env("HERALD_ALLOW_PRIVATE_NETWORKS", func(v string) (err error) { c.AllowPrivateNetworks, err = strconv.ParseBool(v); return })
	env("HERALD_ALLOWED_NETWORKS", func(v string) (err error) { c.AllowedNetworks, err = parsePrefixes(v); return })
	env("HERALD_ENCRYPTION_KEY", func(v string) error { c.EncryptionKey = v; return nil })
	env("HERALD_RETENTION", func(v string) (err error) { c.Retention, err = time.ParseDuration(v); return })
	env("HERALD_DISABLE_AFTER", func(v string) (err error) { c.DisableAfter, err = time.ParseDuration(v); return })
	env("HERALD_API_RATE_LIMIT", func(v string) (err error) { c.APIRateLimit, err = strconv.ParseFloat(v, 64); return })
	env("HERALD_WORKERS", func(v string) (err error) { c.Workers, err = strconv.Atoi(v); return })
	env("HERALD_SHUTDOWN_DELAY", func(v string) (err error) { c.ShutdownDelay, err = time.ParseDuration(v); return })
	env("HERALD_LEASE", func(v string) (err error) { c.Lease, err = time.ParseDuration(v); return })
	c.ReadTimeout = cmp.Or(c.ReadTimeout, ReadTimeoutDefault)
	c.ReadHeaderTimeout = cmp.Or(c.ReadHeaderTimeout, ReadHeaderTimeoutDefault)
	env("HERALD_READ_TIMEOUT", func(v string) (err error) { c.ReadTimeout, err = time.ParseDuration(v); return })
	env("HERALD_READ_HEADER_TIMEOUT", func(v string) (err error) { c.ReadHeaderTimeout, err = time.ParseDuration(v); return })
	env("HERALD_LOG_LEVEL", func(v string) error { c.LogLevel = v; return nil })
	env("HERALD_LOG_FORMAT", func(v string) error { c.LogFormat = v; return nil })
	env("HERALD_PUBLIC_URL", func(v string) error { c.PublicURL = v; return nil })
	if len(errs) > 0 {
		return fmt.Errorf("bad environment: %s", strings.Join(errs, "; "))
	}
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (HERALD_ADDR)")
	fs.StringVar(&c.Database, "database", c.Database, "sqlite:PATH or postgres://… (HERALD_DATABASE)")
	fs.BoolVar(&c.AllowPrivateNetworks, "allow-private-networks", c.AllowPrivateNetworks, "let endpoints target loopback and private addresses (HERALD_ALLOW_PRIVATE_NETWORKS)")
	fs.DurationVar(&c.Retention, "retention", c.Retention, "purge events older than this (HERALD_RETENTION)")
	fs.DurationVar(&c.DisableAfter, "disable-after", c.DisableAfter, "disable an endpoint failing for this long (HERALD_DISABLE_AFTER)")
	fs.Float64Var(&c.APIRateLimit, "api-rate-limit", c.APIRateLimit, "API requests per second per key; 0 = unlimited (HERALD_API_RATE_LIMIT)")
	fs.IntVar(&c.Workers, "workers", c.Workers, "concurrent delivery requests across all endpoints (HERALD_WORKERS)")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "on SIGTERM, how long to let in-flight attempts finish")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", c.ShutdownDelay, "on SIGTERM, how long to keep serving with /readyz at 503 before closing the listener (HERALD_SHUTDOWN_DELAY)")
	fs.DurationVar(&c.Lease, "lease", c.Lease, "how long a claimed delivery is held before another process may retry it after a crash (HERALD_LEASE)")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", c.ReadTimeout, "how long a client may take to send a whole request, body included (HERALD_READ_TIMEOUT)")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "how long a client may take to send a request's headers (HERALD_READ_HEADER_TIMEOUT)")
	fs.BoolVar(&c.Pprof, "pprof", c.Pprof, "serve /debug/pprof/ (admin key required)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (HERALD_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json (HERALD_LOG_FORMAT)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "base URL of customer portal links, e.g. https://hooks.example.com; default the http://host:port the API was called on (HERALD_PUBLIC_URL)")
	// The default shown by -h is the value in force, but a DSN's password
	// is not printed.
	fs.Lookup("database").DefValue = redactDSN(c.Database)
	return nil
}

// envOnlySettings are the settings of `serve` that have no flag, because
// they are secrets or lists better kept out of a command line: -h names
// them, never their values.
var envOnlySettings = []struct{ name, usage string }{
	{"HERALD_ADMIN_KEY", "the admin key; when unset, one is generated on first start, stored in the database and printed once (replace it with herald admin-key)"},
	{"HERALD_ENCRYPTION_KEY", "encrypts endpoint secrets and credentials at rest: a long random string, kept as safe as the database"},
	{"HERALD_ALLOWED_NETWORKS", "comma-separated CIDRs endpoints may target even when private networks are refused"},
}

// serveUsage is the help of `herald serve`.
func serveUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, "Usage: herald serve [flags]\n\nRun the server: API, dispatcher, dashboard. Flags win over the environment;\na flag's default is the value in force.\n\nFlags:\n")
	fs.PrintDefaults()
	fmt.Fprint(w, "\nSet only in the environment:\n")
	for _, s := range envOnlySettings {
		state := "not set"
		if lookupEnv(s.name) != "" {
			state = "set"
		}
		fmt.Fprintf(w, "  %s (%s)\n    \t%s\n", s.name, state, s.usage)
	}
}

// Validate reports the first configuration error.
func (c *Config) Validate() error {
	if c.Addr == "" {
		return fmt.Errorf("--addr is empty")
	}
	if !strings.HasPrefix(c.Database, "sqlite:") && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		return fmt.Errorf("--database %q: use sqlite:PATH or postgres://…", c.Database)
	}
	if c.Retention < time.Hour {
		return fmt.Errorf("retention %s: at least 1h", c.Retention)
	}
	if c.DisableAfter <= 0 {
		return fmt.Errorf("disable-after must be positive")
	}
	if c.Workers < 1 {
		return fmt.Errorf("workers must be at least 1")
	}
	if c.Lease < 2*time.Second {
		return fmt.Errorf("lease %s: at least 2s", c.Lease)
	}
	if c.ReadTimeout < 0 || c.ReadHeaderTimeout < 0 {
		return fmt.Errorf("read-timeout and read-header-timeout must be positive")
	}
	if c.APIRateLimit < 0 {
		return fmt.Errorf("api-rate-limit must be 0 (unlimited) or positive")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log-level %q: use debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log-format %q: use text or json", c.LogFormat)
	}
	return nil
}

func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func versionString() string { return "herald " + heraldVersion() }

func lookupEnv(name string) string { return os.Getenv(name) }

// publicURL is the base of portal links: --public-url; empty, the API
// uses the scheme and host each request came to (http://<addr> when the
// product's backend calls Herald directly).
func publicURL(c Config) string { return strings.TrimRight(c.PublicURL, "/") }
