package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/api"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/gcfloor"
	"github.com/herald-dev/herald/internal/hook"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/portal"
	"github.com/herald-dev/herald/internal/secret"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/postgres"
	"github.com/herald-dev/herald/internal/store/sealed"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/tracing"
	"github.com/herald-dev/herald/internal/ui"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func heraldVersion() string { return herald.Version }

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("herald serve", flag.ContinueOnError)
	if err := cfg.bindFlags(fs, lookupEnv); err != nil {
		return err
	}
	fs.Usage = func() { serveUsage(fs) }
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	slog.SetDefault(logger)
	stopGCFloor, _ := gcfloor.Start()
	defer stopGCFloor()
	a, err := newApp(ctx, cfg, logger, stdout)
	if err != nil {
		return err
	}
	defer a.store.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	banner{w: stdout, json: cfg.LogFormat == "json"}.print(
		fmt.Sprintf("Herald %s listening on http://%s (dashboard: http://%s/ui/)\n", herald.Version, ln.Addr(), ln.Addr()),
		"herald listening", "version", herald.Version, "url", "http://"+ln.Addr().String(), "dashboard", "http://"+ln.Addr().String()+"/ui/")
	logger.Info("herald serving", "addr", ln.Addr().String(), "database", redactDSN(cfg.Database))
	return a.serve(ctx, ln)
}

// app is a wired Herald: store, engine, API. `serve` and `bench` (embedded
// mode) both run one.
type app struct {
	cfg     Config
	logger  *slog.Logger
	store   store.Store
	engine  *delivery.Engine
	hooks   *hook.Runner
	handler http.Handler
	// draining is set on SIGTERM: /readyz answers 503 from then on.
	draining *atomic.Bool
	// tracer is nil when tracing is off; serve flushes it on the way out.
	tracer *tracing.Tracer
}

func newApp(ctx context.Context, cfg Config, logger *slog.Logger, stdout io.Writer) (*app, error) {
	st, err := openServeStore(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	// Always wrapped: with no key, a nil cipher stores plaintext and refuses
	// encrypted rows with a clear error instead of signing with ciphertext.
	var c *secret.Cipher
	if cfg.EncryptionKey != "" {
		if c, err = secret.NewCipher(cfg.EncryptionKey); err != nil {
			st.Close()
			return nil, fmt.Errorf("HERALD_ENCRYPTION_KEY: %w", err)
		}
	}
	inner := st
	if st, err = sealed.Open(ctx, inner, c); err != nil {
		inner.Close()
		return nil, err
	}
	a, err := wire(ctx, cfg, st, logger, stdout)
	if err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

func wire(ctx context.Context, cfg Config, st store.Store, logger *slog.Logger, stdout io.Writer) (*app, error) {
	if cfg.EncryptionKey == "" {
		logger.Warn("HERALD_ENCRYPTION_KEY is not set: endpoint secrets and credentials are stored unencrypted")
	}
	adminHash, err := resolveAdminKey(ctx, st, cfg.AdminKey, logger, banner{w: stdout, json: cfg.LogFormat == "json"})
	if err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Off (nil) unless OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT is set.
	tracer, err := tracing.FromEnv(ctx, herald.Version)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	guard := netguard.New(cfg.AllowPrivateNetworks, cfg.AllowedNetworks)
	eng, err := delivery.New(delivery.Config{
		Workers:              cfg.Workers,
		AllowPrivateNetworks: cfg.AllowPrivateNetworks,
		AllowedNetworks:      cfg.AllowedNetworks,
		DisableAfter:         cfg.DisableAfter,
		Retention:            cfg.Retention,
		DrainTimeout:         cfg.DrainTimeout,
		Lease:                cfg.Lease,
		Logger:               logger,
		Registerer:           reg,
		Address:              advertisedAddr(cfg.Addr),
		// An SQLite file is locked to this process (openServeStore): its
		// predecessors' claims are sent again at once.
		Exclusive: sqlite.Locks && strings.HasPrefix(cfg.Database, "sqlite:"),
		Tracer:    tracer,
	}, st)
	if err != nil {
		return nil, err
	}
	runner := hook.New(eng, hook.Config{Logger: logger})

	// One use-case layer under both transports: the same rules, caches
	// and clock whichever way a change comes in.
	svc, err := service.New(service.Config{Store: st, Engine: eng, Hooks: runner, Guard: guard, AdminKeyHash: adminHash})
	if err != nil {
		return nil, err
	}
	draining := new(atomic.Bool)
	dash, err := ui.New(ui.Config{
		Store:        st,
		Service:      svc,
		AdminKeyHash: adminHash,
		Logger:       logger,
	})
	if err != nil {
		return nil, err
	}
	// The customer portal: a third transport over the same use cases.
	cust, err := portal.New(portal.Config{Service: svc, Store: st, Logger: logger})
	if err != nil {
		return nil, err
	}
	srv, err := api.New(api.Config{
		Store:        st,
		Engine:       eng,
		Service:      svc,
		AdminKeyHash: adminHash,
		RateLimit:    rateLimit(cfg.APIRateLimit),
		Hooks: func(ctx context.Context, p *herald.Project, eventType string, body []byte) (any, error) {
			ctx, span := tracer.StartHook(ctx, p.ID, eventType)
			res, err := svc.RunHook(ctx, p, eventType, body)
			if res != nil {
				span.HookResult(res.EventID, res.Allowed, res.DeniedBy)
			}
			span.End(err)
			return res, err
		},
		UI:         dash,
		Portal:     cust,
		PublicURL:  publicURL(cfg),
		Registerer: reg,
		Gatherer:   reg,
		Logger:     logger,
		Ready: func(ctx context.Context) error {
			if draining.Load() {
				return errDraining
			}
			return st.Ping(ctx)
		},
	})
	if err != nil {
		return nil, err
	}
	var handler http.Handler = srv
	if cfg.Pprof {
		handler = withPprof(srv, adminHash)
	}
	handler = tracer.Middleware(handler)
	return &app{cfg: cfg, logger: logger, store: st, engine: eng, hooks: runner, handler: handler, draining: draining, tracer: tracer}, nil
}

// serve runs the API on ln and the engine until ctx ends, then shuts down:
// first the listener (nothing new is accepted), then the engine, which
// finishes or hands back its in-flight attempts.
func (a *app) serve(ctx context.Context, ln net.Listener) error {
	// Very last: the spans of the final attempts and hook runs are exported.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.tracer.Shutdown(ctx); err != nil {
			a.logger.Warn("exporting the last spans failed", "error", err)
		}
	}()
	// Last: the records of hook runs answered before the stop may still be
	// queued; they are stored before the database closes.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.hooks.Close(ctx); err != nil {
			a.logger.Error("hook run records not all stored on shutdown", "error", err)
		}
	}()
	httpSrv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: cmp.Or(a.cfg.ReadHeaderTimeout, ReadHeaderTimeoutDefault),
		ReadTimeout:       cmp.Or(a.cfg.ReadTimeout, ReadTimeoutDefault), // the API and the dashboard (its login) alike
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	engCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	engDone := make(chan error, 1)
	go func() { engDone <- a.engine.Run(engCtx) }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- httpSrv.Serve(ln) }()

	select {
	case <-ctx.Done():
		a.draining.Store(true)
		if d := a.cfg.ShutdownDelay; d > 0 {
			a.logger.Info("shutting down: /readyz answers 503, still serving", "for", d)
			time.Sleep(d)
		}
		a.logger.Info("shutting down: no new requests, draining deliveries")
	case err := <-srvDone:
		stopEngine()
		<-engDone
		return err
	case err := <-engDone:
		shutdownHTTP(httpSrv)
		if err != nil {
			return fmt.Errorf("delivery engine stopped: %w", err)
		}
		return errors.New("delivery engine stopped")
	}
	shutdownHTTP(httpSrv)
	stopEngine()
	if err := <-engDone; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	a.logger.Info("stopped")
	return nil
}

// errDraining is the readiness error of a server that is stopping.
var errDraining = errors.New("draining: the server is stopping")

func shutdownHTTP(s *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
}

func rateLimit(v float64) float64 {
	if v == 0 {
		return -1 // unlimited
	}
	return v
}

// openStore opens the database named by a --database value.
func openStore(ctx context.Context, dsn string) (store.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("--database sqlite: needs a path, e.g. sqlite:herald.db")
		}
		return sqlite.Open(ctx, path, sqlite.Options{})
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn, postgres.Options{})
	}
	return nil, fmt.Errorf("--database %q: use sqlite:PATH or postgres://…", dsn)
}

// openServeStore opens the database for a serving process: an SQLite file
// is locked to it (a second `herald serve` on the file refuses to start).
func openServeStore(ctx context.Context, dsn string) (store.Store, error) {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok && path != "" {
		return sqlite.OpenLocked(ctx, path, sqlite.Options{})
	}
	return openStore(ctx, dsn)
}

// advertisedAddr is the listen address as other processes should read it:
// with the host name when it listens on every interface.
func advertisedAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || (host != "" && host != "0.0.0.0" && host != "::") {
		return addr
	}
	if h, err := os.Hostname(); err == nil {
		return net.JoinHostPort(h, port)
	}
	return addr
}

func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 && strings.Contains(dsn, "://") {
		j := strings.Index(dsn, "://") + 3
		return dsn[:j] + "…" + dsn[i:]
	}
	return dsn
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// withPprof serves the runtime profiles to the admin key only.
func withPprof(next http.Handler, adminHash string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/debug/pprof/") {
			next.ServeHTTP(w, r)
			return
		}
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if key == "" || herald.HashKey(key) != adminHash {
			http.Error(w, "admin key required", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}
