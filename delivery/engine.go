// Package delivery is Herald's engine: it validates and routes ingested
// events, commits them in groups, and dispatches their deliveries to
// endpoints — signed, with per-endpoint lanes (concurrency, rate limit,
// circuit breaker), retries on the endpoint's schedule, and attempt results
// written in batches.
//
// The hot path, top to bottom: Ingest (ingest.go) validates and routes
// (route.go), the group commit (commit.go) stores many callers' events in
// one transaction and hands the new deliveries, already leased to this
// process, to the dispatcher (dispatch.go); a lane sends them (send.go),
// the retry policy (retry.go) decides what follows, and the recorder
// (record.go) writes the results in batches. Health (health.go) watches the
// outcomes per endpoint.
package delivery

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/bodytemplate"
	"github.com/herald-dev/herald/filter"
	"github.com/herald-dev/herald/internal/oplog"
	"github.com/herald-dev/herald/netguard"
	"github.com/herald-dev/herald/store"
)

// Engine is the ingest router and the dispatcher. It is safe for concurrent
// use; Ingest, Send and the operator actions work whether or not Run is
// running (without Run, new deliveries wait in the database).
type Engine struct {
	cfg    Config
	store  store.Store
	log    *slog.Logger
	now    func() time.Time
	client *http.Client

	templates compiledCache[*bodytemplate.Template]
	filters   compiledCache[*filter.Filter]
	routes    routeCache
	types     typeCache

	commit committer
	notes  notifier
	disp   *dispatcher
	rec    *recorder // made by each Run, from recDeps
	health *healthBook
	ops    *opQueue // operational events, off the send path (opevents.go)
	m      *metrics

	recDeps recorderDeps

	failLog oplog.Limiter // of the failed-attempt log lines, per endpoint
	members members       // the cluster as the heartbeats see it (cluster.go)

	runMu sync.Mutex // one Run at a time
}

// New returns an Engine over st. Call Run to start dispatching.
func New(cfg Config, st store.Store) (*Engine, error) {
	if st == nil {
		return nil, errors.New("delivery: nil store")
	}
	cfg.setDefaults()
	e := &Engine{cfg: cfg, store: st, log: cfg.Logger, now: cfg.Now}
	guard := netguard.New(cfg.AllowPrivateNetworks, cfg.AllowedNetworks)
	tr := guard.Transport()
	// Many deliveries go to few hosts: keep enough idle connections per
	// host that a busy endpoint reuses them instead of redialling.
	tr.MaxIdleConns = max(tr.MaxIdleConns, 1024)
	tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, 64)
	// A receiver's headers are read up to a bound, and kept up to a
	// smaller one (ResponseHeadersMax).
	tr.MaxResponseHeaderBytes = responseHeaderReadMax
	if tr.IdleConnTimeout == 0 {
		tr.IdleConnTimeout = 90 * time.Second
	}
	e.client = &http.Client{
		Transport: tr,
		// Redirects are never followed: a 3xx is a failure of class redirect.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	e.routes.init(cfg.RouteCacheMax)
	e.types.init()
	e.wire()
	return e, nil
}

// wire builds the components, each given what it uses and no more: the
// store (through the narrow interface it writes with), the clock, the
// logger, metrics, and functions for what it asks of another component.
func (e *Engine) wire() {
	cfg, st := &e.cfg, e.store
	notifier, _ := st.(store.Notifier)
	e.health = newHealthBook(healthDeps{
		store: st, now: e.now, log: e.log,
		disableAfter: cfg.DisableAfter, breakerThreshold: cfg.BreakerThreshold, breakerCooldown: cfg.BreakerCooldown,
		routeChangedFunc: e.invalidate,
	})
	e.m = newMetrics(cfg.Registerer, e.health, e.now)
	e.commit.deps = committerDeps{store: st, tracer: cfg.Tracer,
		commitSeconds: e.m.commitSeconds, commitEvents: e.m.commitEvents}
	e.notes.deps = notifierDeps{notifier: notifier, log: e.log}
	e.ops = newOpQueue(opQueueDeps{ingestFunc: e.ingestOwn, log: e.log, dropped: e.m.opDropped})
	e.disp = newDispatcher(dispatcherDeps{
		store: st, notifier: notifier, now: e.now, log: e.log,
		owner: cfg.Owner, lease: cfg.Lease, pollInterval: cfg.PollInterval, workers: cfg.Workers,
		members: &e.members, health: e.health,
		endpointFunc: e.endpoint, sendFunc: e.Send, completeFunc: e.complete,
	})
	e.health.deps.releaseQueuedFunc = e.disp.releaseQueued
	e.health.deps.kickFunc = e.disp.kick
	e.health.deps.reportFunc = e.ops.add
	e.recDeps = recorderDeps{store: st, log: e.log, lease: cfg.Lease, drainTimeout: cfg.DrainTimeout,
		wakeAtFunc: e.disp.wakeAt, wakeNowFunc: e.disp.wakeNow, reportFunc: e.ops.add}
}

// setDefaults fills zero fields with the …Default constants.
func (c *Config) setDefaults() {
	if c.Owner == "" {
		c.Owner = "hrd_" + herald.NewID("")
	}
	if c.Workers <= 0 {
		c.Workers = WorkersDefault
	}
	if c.RouteCacheMax <= 0 {
		c.RouteCacheMax = RouteCacheMaxDefault
	}
	if c.Lease <= 0 {
		c.Lease = LeaseDefault
	}
	if c.PollInterval <= 0 {
		c.PollInterval = PollIntervalDefault
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = DisableAfterDefault
	}
	if c.Retention <= 0 {
		c.Retention = RetentionDefault
	}
	if c.BreakerThreshold <= 0 {
		c.BreakerThreshold = BreakerThresholdDefault
	}
	if c.BreakerCooldown <= 0 {
		c.BreakerCooldown = BreakerCooldownDefault
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DrainTimeoutDefault
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = HeartbeatDefault
	}
	if c.DeadAfter <= 0 {
		c.DeadAfter = DeadAfterDefault
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Run dispatches until ctx ends, then drains (bounded by DrainTimeout) and
// returns. Maintenance (retention, queue metrics) runs here too. Run may be
// called once at a time.
func (e *Engine) Run(ctx context.Context) error {
	if !e.runMu.TryLock() {
		return errors.New("delivery: Run is already running")
	}
	defer e.runMu.Unlock()
	return e.run(ctx)
}
